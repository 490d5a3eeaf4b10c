//! The worker's side of the Redis stream: a consumer group (`workers`), each worker a
//! named consumer.
//!
//! `take` reads, in this order: entries this consumer took and did not acknowledge (a
//! restart under the same name picks them up at once), entries other consumers left
//! pending longer than `claim_idle` (XAUTOCLAIM: a worker that died), then new entries
//! (XREADGROUP `>`; when there are none it waits `block` and returns). `ack` acknowledges, deletes and lowers the backlog
//! counter in one script, only for entries that were still pending, so an entry acked
//! twice is counted once. Poisoned payloads go to `<stream>:dead` (capped at 100,000
//! entries, oldest trimmed) with the reason.

use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use redis::Value;

use super::redis::{RedisConn, RedisEndpoint, backlog_key};
use super::{DirtyMark, Period, QueueConsumer, QueueError, Taken};

const GROUP: &str = "workers";

const ACK: &str = r"
local total = 0
for i = 1, #ARGV, 2 do
  if redis.call('XACK', KEYS[1], KEYS[3], ARGV[i]) == 1 then
    redis.call('XDEL', KEYS[1], ARGV[i])
    total = total + tonumber(ARGV[i + 1])
  end
end
if total > 0 then
  redis.call('DECRBY', KEYS[2], total)
end
return total
";

/// Marks periods dirty: each start joins the sorted set (score and member) and its
/// version in the hash is bumped.
const MARK: &str = r"
for i = 1, #ARGV do
  redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i])
  redis.call('HINCRBY', KEYS[2], ARGV[i], 1)
end
return #ARGV
";

/// Dirty periods up to ARGV[1] (at most 1,000), oldest first, as start, version pairs
/// (a mark from before versions existed reads as version 0).
const DIRTY: &str = r"
local starts = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1000)
local out = {}
for i = 1, #starts do
  out[#out + 1] = starts[i]
  out[#out + 1] = redis.call('HGET', KEYS[2], starts[i]) or '0'
end
return out
";

/// Clears the marks given as start, version pairs whose version is still the one read.
const CLEAR: &str = r"
local cleared = 0
for i = 1, #ARGV, 2 do
  local version = redis.call('HGET', KEYS[2], ARGV[i]) or '0'
  if version == ARGV[i + 1] then
    redis.call('ZREM', KEYS[1], ARGV[i])
    redis.call('HDEL', KEYS[2], ARGV[i])
    cleared = cleared + 1
  end
end
return cleared
";

/// Takes the rollup lock KEYS[1] for ARGV[1] (the consumer) for ARGV[2] ms when it is
/// free or already ARGV[1]'s (a consumer restarted after a crash takes back its own lock
/// instead of waiting for it to expire).
const LOCK: &str = r"
local holder = redis.call('GET', KEYS[1])
if (not holder) or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

/// Releases the rollup lock KEYS[1] if ARGV[1] holds it.
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// A worker's consumer of the results stream.
pub struct RedisConsumer {
    redis: RedisConn,
    stream: String,
    consumer: String,
    claim_idle: Duration,
    ack: redis::Script,
    mark: redis::Script,
    dirty: redis::Script,
    clear: redis::Script,
    lock: redis::Script,
    unlock: redis::Script,
    /// Whether the consumer group is known to exist: set once created, unset when a read
    /// answers NOGROUP (Redis came back empty), so the next take creates it again.
    group_ready: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for RedisConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConsumer")
            .field("stream", &self.stream)
            .field("consumer", &self.consumer)
            .finish()
    }
}

impl RedisConsumer {
    /// Consumer `consumer` of `stream` at `url`.
    pub fn new(
        at: impl Into<RedisEndpoint>,
        stream: &str,
        consumer: &str,
        claim_idle: Duration,
        timeout: Duration,
    ) -> Result<Self, QueueError> {
        Ok(Self {
            redis: RedisConn::new(at.into(), timeout)?,
            stream: stream.to_string(),
            consumer: consumer.to_string(),
            claim_idle,
            ack: redis::Script::new(ACK),
            mark: redis::Script::new(MARK),
            dirty: redis::Script::new(DIRTY),
            clear: redis::Script::new(CLEAR),
            lock: redis::Script::new(LOCK),
            unlock: redis::Script::new(UNLOCK),
            group_ready: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn dirty_key(&self, period: Period) -> String {
        format!("{}:dirty:{}", self.stream, period.name())
    }

    /// The rollup lock's key (its value: the holding consumer's name).
    fn rollup_lock_key(&self) -> String {
        format!("{}:rollup-lock", self.stream)
    }

    /// The hash of the dirty marks' versions.
    fn dirty_versions_key(&self, period: Period) -> String {
        format!("{}:dirty:{}:v", self.stream, period.name())
    }

    /// The dead-letter stream's key.
    pub fn dead_letter_stream(&self) -> String {
        format!("{}:dead", self.stream)
    }

    async fn ensure_group(&self) -> Result<(), QueueError> {
        use std::sync::atomic::Ordering;
        if self.group_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut conn = self.redis.connection().await?;
        let created: Result<String, QueueError> = self
            .redis
            .timed(
                redis::cmd("XGROUP")
                    .arg("CREATE")
                    .arg(&self.stream)
                    .arg(GROUP)
                    .arg("0")
                    .arg("MKSTREAM")
                    .query_async(&mut conn),
            )
            .await;
        match created {
            Ok(_) => {}
            Err(QueueError::Unavailable(e)) if e.contains("BUSYGROUP") => {}
            Err(e) => return Err(e),
        }
        self.group_ready.store(true, Ordering::Release);
        Ok(())
    }

    /// Forgets that the group exists when `result` says it does not (NOGROUP: Redis
    /// restarted without its data), so the next take creates it again.
    fn watch_group<T>(&self, result: Result<T, QueueError>) -> Result<T, QueueError> {
        if let Err(QueueError::Unavailable(e)) = &result
            && e.contains("NOGROUP")
        {
            tracing::warn!("the consumer group is gone (Redis lost its data?); creating it again");
            self.group_ready
                .store(false, std::sync::atomic::Ordering::Release);
        }
        result
    }

    async fn read_group(
        &self,
        id: &str,
        count: usize,
        block: Option<Duration>,
    ) -> Result<Vec<Taken>, QueueError> {
        // `block` is kept for a dedicated connection; the worker polls (see `take`).
        let mut conn = self.redis.connection().await?;
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(count);
        if let Some(b) = block {
            cmd.arg("BLOCK").arg(b.as_millis() as u64);
        }
        cmd.arg("STREAMS").arg(&self.stream).arg(id);
        let limit = self.redis.timeout + block.unwrap_or_default();
        let reply: Value = self
            .redis
            .timed_for(limit, cmd.query_async(&mut conn))
            .await?;
        // [[stream, [[id, [field, value, ...]], ...]]] or nil
        let mut out = Vec::new();
        for stream in as_array(&reply) {
            let parts = as_array(stream);
            if let Some(entries) = parts.get(1) {
                out.extend(as_array(entries).iter().filter_map(parse_entry));
            }
        }
        Ok(out)
    }

    async fn autoclaim(&self, count: usize) -> Result<Vec<Taken>, QueueError> {
        let mut conn = self.redis.connection().await?;
        let reply: Value = self
            .redis
            .timed(
                redis::cmd("XAUTOCLAIM")
                    .arg(&self.stream)
                    .arg(GROUP)
                    .arg(&self.consumer)
                    .arg(self.claim_idle.as_millis() as u64)
                    .arg("0-0")
                    .arg("COUNT")
                    .arg(count)
                    .query_async(&mut conn),
            )
            .await?;
        let parts = as_array(&reply);
        let mut claimed: Vec<Taken> = parts
            .get(1)
            .map(|e| as_array(e).iter().filter_map(parse_entry).collect())
            .unwrap_or_default();
        for t in &mut claimed {
            t.deliveries = self.deliveries(&t.id).await.unwrap_or(2);
        }
        Ok(claimed)
    }

    async fn deliveries(&self, id: &str) -> Result<u64, QueueError> {
        let mut conn = self.redis.connection().await?;
        let reply: Value = self
            .redis
            .timed(
                redis::cmd("XPENDING")
                    .arg(&self.stream)
                    .arg(GROUP)
                    .arg(id)
                    .arg(id)
                    .arg(1)
                    .query_async(&mut conn),
            )
            .await?;
        Ok(as_array(&reply)
            .first()
            .and_then(|row| as_array(row).get(3).and_then(as_u64))
            .unwrap_or(1))
    }
}

fn as_array(v: &Value) -> &[Value] {
    match v {
        Value::Array(items) => items,
        _ => &[],
    }
}

fn as_bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) => u64::try_from(*i).ok(),
        other => std::str::from_utf8(as_bytes(other)?).ok()?.parse().ok(),
    }
}

/// `[id, [field, value, ...]]` into a taken entry (deliveries 1 until known better).
fn parse_entry(entry: &Value) -> Option<Taken> {
    let parts = as_array(entry);
    let id = String::from_utf8(as_bytes(parts.first()?)?.to_vec()).ok()?;
    let fields = as_array(parts.get(1)?);
    let (mut count, mut body) = (0u32, Bytes::new());
    for pair in fields.chunks(2) {
        match (pair.first().and_then(as_bytes), pair.get(1)) {
            (Some(b"n"), Some(v)) => count = as_u64(v).unwrap_or(0) as u32,
            (Some(b"b"), Some(v)) => body = Bytes::copy_from_slice(as_bytes(v).unwrap_or_default()),
            _ => {}
        }
    }
    Some(Taken {
        id,
        count,
        body,
        deliveries: 1,
    })
}

impl QueueConsumer for RedisConsumer {
    fn take(&self, max: usize, block: Duration) -> BoxFuture<'_, Result<Vec<Taken>, QueueError>> {
        async move {
            self.ensure_group().await?;
            let mut taken = self.watch_group(self.read_group("0", max, None).await)?;
            for t in &mut taken {
                t.deliveries = self.deliveries(&t.id).await.unwrap_or(2);
            }
            if taken.len() < max {
                taken.extend(self.watch_group(self.autoclaim(max - taken.len()).await)?);
            }
            if taken.is_empty() {
                taken = self.watch_group(self.read_group(">", max, None).await)?;
            }
            if taken.is_empty() {
                // Polling rather than XREADGROUP BLOCK: a blocked call would hold the
                // multiplexed connection and trip the client's response timeout.
                tokio::time::sleep(block).await;
            }
            Ok(taken)
        }
        .boxed()
    }

    fn ack<'a>(&'a self, entries: &'a [Taken]) -> BoxFuture<'a, Result<(), QueueError>> {
        async move {
            if entries.is_empty() {
                return Ok(());
            }
            let mut conn = self.redis.connection().await?;
            let mut invocation = self.ack.key(&self.stream);
            invocation.key(backlog_key(&self.stream)).key(GROUP);
            for t in entries {
                invocation.arg(&t.id).arg(t.count);
            }
            let _: i64 = self.redis.timed(invocation.invoke_async(&mut conn)).await?;
            Ok(())
        }
        .boxed()
    }

    fn dead_letter<'a>(
        &'a self,
        payload: &'a [u8],
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        async move {
            let mut conn = self.redis.connection().await?;
            let _: String = self
                .redis
                .timed(
                    redis::cmd("XADD")
                        .arg(self.dead_letter_stream())
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(100_000)
                        .arg("*")
                        .arg("reason")
                        .arg(reason)
                        .arg("payload")
                        .arg(payload)
                        .query_async(&mut conn),
                )
                .await?;
            Ok(())
        }
        .boxed()
    }

    fn mark_dirty<'a>(
        &'a self,
        period: Period,
        starts: &'a [i64],
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        async move {
            if starts.is_empty() {
                return Ok(());
            }
            let mut conn = self.redis.connection().await?;
            let mut invocation = self.mark.key(self.dirty_key(period));
            invocation.key(self.dirty_versions_key(period));
            for s in starts {
                invocation.arg(*s);
            }
            let _: i64 = self.redis.timed(invocation.invoke_async(&mut conn)).await?;
            Ok(())
        }
        .boxed()
    }

    fn dirty(
        &self,
        period: Period,
        up_to_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<DirtyMark>, QueueError>> {
        async move {
            let mut conn = self.redis.connection().await?;
            let mut invocation = self.dirty.key(self.dirty_key(period));
            invocation
                .key(self.dirty_versions_key(period))
                .arg(up_to_ms);
            let pairs: Vec<i64> = self.redis.timed(invocation.invoke_async(&mut conn)).await?;
            Ok(pairs
                .chunks_exact(2)
                .map(|p| DirtyMark {
                    start: p[0],
                    version: u64::try_from(p[1]).unwrap_or(0),
                })
                .collect())
        }
        .boxed()
    }

    fn lock_rollups(&self, ttl: Duration) -> BoxFuture<'_, Result<bool, QueueError>> {
        async move {
            let mut conn = self.redis.connection().await?;
            let mut invocation = self.lock.key(self.rollup_lock_key());
            invocation
                .arg(&self.consumer)
                .arg(ttl.as_millis().max(1) as u64);
            let taken: i64 = self.redis.timed(invocation.invoke_async(&mut conn)).await?;
            Ok(taken == 1)
        }
        .boxed()
    }

    fn unlock_rollups(&self) -> BoxFuture<'_, Result<(), QueueError>> {
        async move {
            let mut conn = self.redis.connection().await?;
            let mut invocation = self.unlock.key(self.rollup_lock_key());
            invocation.arg(&self.consumer);
            let _: i64 = self.redis.timed(invocation.invoke_async(&mut conn)).await?;
            Ok(())
        }
        .boxed()
    }

    fn clear_dirty<'a>(
        &'a self,
        period: Period,
        marks: &'a [DirtyMark],
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        async move {
            if marks.is_empty() {
                return Ok(());
            }
            let mut conn = self.redis.connection().await?;
            let mut invocation = self.clear.key(self.dirty_key(period));
            invocation.key(self.dirty_versions_key(period));
            for m in marks {
                invocation.arg(m.start).arg(m.version);
            }
            let _: i64 = self.redis.timed(invocation.invoke_async(&mut conn)).await?;
            Ok(())
        }
        .boxed()
    }
}
