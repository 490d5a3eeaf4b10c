//! The detectors' state and the report outbox in Redis, beside the queue: hashes
//! `<prefix>:trend` (endpoint → JSON state), `<prefix>:trend:minute` (endpoint → last
//! minute taken), `<prefix>:trend:outbox` (report key → JSON report) and
//! `<prefix>:trend:dead` (refused reports with the reason). A commit is one Lua script,
//! so states and reports land together, and a state only replaces an older one.

use futures::FutureExt;
use futures::future::BoxFuture;
use scoville_core::degradation::DegradationReport;

use super::{EndpointTrend, TrendState};
use crate::queue::QueueError;
use crate::queue::redis::{RedisConn, RedisEndpoint};

const COMMIT: &str = r"
local n = tonumber(ARGV[1])
local i = 2
for _ = 1, n do
  local endpoint, minute, state = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local old = tonumber(redis.call('HGET', KEYS[2], endpoint) or '-1')
  if old < minute then
    redis.call('HSET', KEYS[1], endpoint, state)
    redis.call('HSET', KEYS[2], endpoint, minute)
  end
  i = i + 3
end
while i <= #ARGV do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
return n
";

const SETTLE: &str = r"
for i = 1, #ARGV - 1 do
  local report = redis.call('HGET', KEYS[1], ARGV[i])
  if report and ARGV[#ARGV] ~= '' then
    redis.call('HSET', KEYS[2], ARGV[i], cjson.encode({report = cjson.decode(report), reason = ARGV[#ARGV]}))
  end
  redis.call('HDEL', KEYS[1], ARGV[i])
end
return 1
";

/// Trend state in Redis.
pub struct RedisTrendState {
    redis: RedisConn,
    keys: [String; 4],
    commit: redis::Script,
    settle: redis::Script,
}

impl std::fmt::Debug for RedisTrendState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTrendState")
            .field("prefix", &self.keys[0])
            .finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable(e.to_string())
}

impl RedisTrendState {
    /// State under `<prefix>:trend*` in the Redis at `url`.
    pub fn new(
        at: impl Into<RedisEndpoint>,
        prefix: &str,
        timeout: std::time::Duration,
    ) -> Result<Self, QueueError> {
        let base = format!("{prefix}:trend");
        Ok(Self {
            redis: RedisConn::new(at.into(), timeout)?,
            keys: [
                base.clone(),
                format!("{base}:minute"),
                format!("{base}:outbox"),
                format!("{base}:dead"),
            ],
            commit: redis::Script::new(COMMIT),
            settle: redis::Script::new(SETTLE),
        })
    }

    /// Refused reports with their reasons (for tests and operators).
    pub async fn dead_letters(&self) -> Result<Vec<(DegradationReport, String)>, QueueError> {
        let mut conn = self.redis.connection().await?;
        let raw: Vec<String> = self
            .redis
            .timed(
                redis::cmd("HVALS")
                    .arg(&self.keys[3])
                    .query_async(&mut conn),
            )
            .await?;
        let mut out = Vec::new();
        for r in raw {
            let v: serde_json::Value = serde_json::from_str(&r).map_err(unavailable)?;
            let report = serde_json::from_value(v["report"].clone()).map_err(unavailable)?;
            out.push((report, v["reason"].as_str().unwrap_or_default().to_string()));
        }
        Ok(out)
    }
}

impl TrendState for RedisTrendState {
    fn load<'a>(
        &'a self,
        endpoints: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Option<EndpointTrend>>, QueueError>> {
        async move {
            if endpoints.is_empty() {
                return Ok(Vec::new());
            }
            let mut conn = self.redis.connection().await?;
            let raw: Vec<Option<String>> = self
                .redis
                .timed(
                    redis::cmd("HMGET")
                        .arg(&self.keys[0])
                        .arg(endpoints)
                        .query_async(&mut conn),
                )
                .await?;
            // A state that no longer parses (an older format) starts afresh.
            Ok(raw
                .into_iter()
                .map(|s| s.and_then(|s| serde_json::from_str(&s).ok()))
                .collect())
        }
        .boxed()
    }

    fn commit<'a>(
        &'a self,
        states: &'a [(String, EndpointTrend)],
        reports: &'a [DegradationReport],
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        async move {
            let mut conn = self.redis.connection().await?;
            let mut invocation = self.commit.key(&self.keys[0]);
            invocation
                .key(&self.keys[1])
                .key(&self.keys[2])
                .arg(states.len());
            for (endpoint, state) in states {
                invocation
                    .arg(endpoint)
                    .arg(state.last_minute_ms())
                    .arg(serde_json::to_string(state).map_err(unavailable)?);
            }
            for r in reports {
                invocation
                    .arg(r.key())
                    .arg(serde_json::to_string(r).map_err(unavailable)?);
            }
            let _: i64 = self.redis.timed(invocation.invoke_async(&mut conn)).await?;
            Ok(())
        }
        .boxed()
    }

    fn outbox(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DegradationReport>, QueueError>> {
        async move {
            let mut conn = self.redis.connection().await?;
            let (_, flat): (String, Vec<String>) = self
                .redis
                .timed(
                    redis::cmd("HSCAN")
                        .arg(&self.keys[2])
                        .arg(0)
                        .arg("COUNT")
                        .arg(limit.max(1))
                        .query_async(&mut conn),
                )
                .await?;
            let mut out = Vec::new();
            for pair in flat.chunks(2).take(limit) {
                if let [key, json] = pair {
                    match serde_json::from_str(json) {
                        Ok(r) => out.push(r),
                        Err(e) => {
                            tracing::error!(key, error = %e, "unreadable report in the outbox; dropped");
                            self.settle(std::slice::from_ref(key), Some("unreadable")).await?;
                        }
                    }
                }
            }
            Ok(out)
        }
        .boxed()
    }

    fn settle<'a>(
        &'a self,
        keys: &'a [String],
        refused: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        async move {
            if keys.is_empty() {
                return Ok(());
            }
            let mut conn = self.redis.connection().await?;
            let mut invocation = self.settle.key(&self.keys[2]);
            invocation.key(&self.keys[3]);
            for k in keys {
                invocation.arg(k);
            }
            invocation.arg(refused.unwrap_or(""));
            let _: i64 = self.redis.timed(invocation.invoke_async(&mut conn)).await?;
            Ok(())
        }
        .boxed()
    }
}
