//! The receiver's configuration: defaults, then the TOML file given with `--config`, then
//! `SCOVILLE_<SECTION>__<KEY>` variables. Invalid values stop the program at start with a
//! message naming the key.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::auth::TokenSet;
use crate::queue::ResultQueue;
use crate::queue::memory::MemoryQueue;
use crate::queue::redis::RedisQueue;
use scoville_service_kit::config::err;
pub use scoville_service_kit::config::{ConfigError, LogSection};

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The HTTP side.
    pub receiver: ReceiverSection,
    /// The queue.
    pub queue: QueueSection,
    /// The worker.
    pub worker: WorkerSection,
    /// The InfluxDB store the worker writes to.
    pub influx: InfluxSection,
    /// The worker's trend analysis and where its reports go.
    pub trend: TrendSection,
    /// Result hooks: where the worker finds them and queues their results.
    pub hooks: crate::hooks::config::HooksSection,
    /// Logging.
    pub log: LogSection,
}

/// `[receiver]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReceiverSection {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Largest request body, bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Most results in one batch (413 beyond).
    pub max_batch: usize,
    /// SHA-256 hashes of the accepted probe tokens, `sha256:<64 hex>`; `receiver
    /// hash-token` prints one.
    pub probe_token_hashes: Vec<String>,
}

impl Default for ReceiverSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8081".parse().expect("literal address"),
            max_body_bytes: 8 * 1024 * 1024,
            max_batch: 5000,
            probe_token_hashes: Vec::new(),
        }
    }
}

/// Which queue adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueKind {
    /// Redis Streams (servers, Lambda).
    #[default]
    Redis,
    /// In-process (the all-in-one mode).
    Memory,
}

/// `[queue]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSection {
    /// `redis` or `memory`.
    pub kind: QueueKind,
    /// Redis URL (`redis://[:password@]host:port/db`, `rediss://` for TLS, trusting the
    /// system's roots unless `redis_ca_file` is set).
    pub redis_url: String,
    /// With `rediss://`: a PEM file of the CA(s) to trust instead of the system's roots
    /// (a self-hosted Redis with its own CA).
    pub redis_ca_file: Option<std::path::PathBuf>,
    /// Stream key.
    pub stream: String,
    /// Most results waiting before the receiver answers 503.
    pub max_backlog: u64,
    /// Timeout of each Redis call, ms.
    pub timeout_ms: u64,
}

impl Default for QueueSection {
    fn default() -> Self {
        Self {
            kind: QueueKind::Redis,
            redis_url: "redis://127.0.0.1:6379/".into(),
            redis_ca_file: None,
            stream: "scoville:results".into(),
            max_backlog: 5_000_000,
            timeout_ms: 2000,
        }
    }
}

/// `[worker]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSection {
    /// This worker's consumer name; keep it stable across restarts so a restarted worker
    /// takes back at once what it held.
    pub consumer: String,
    /// Queue entries (batches) per step.
    pub batch_entries: usize,
    /// How long a take waits for new entries, ms.
    pub block_ms: u64,
    /// Entries another consumer left pending this long are taken over, ms.
    pub claim_idle_ms: u64,
    /// Deliveries after which an entry is dead-lettered.
    pub max_deliveries: u64,
    /// How often dirty rollups are recomputed, ms.
    pub rollup_every_ms: u64,
    /// Steps run side by side, each a consumer of its own (`<consumer>-<lane>`), so one
    /// lane's write to InfluxDB overlaps another's take and parse.
    pub lanes: usize,
    /// How long after a period ends its rollup waits for late results, ms.
    pub settle_ms: u64,
}

impl Default for WorkerSection {
    fn default() -> Self {
        Self {
            consumer: "worker-1".into(),
            batch_entries: 50,
            block_ms: 250,
            claim_idle_ms: 30_000,
            max_deliveries: 5,
            rollup_every_ms: 10_000,
            settle_ms: 10_000,
            lanes: 2,
        }
    }
}

/// `[trend]`: Apdex trend detection and the mean-run-time rule, run by the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrendSection {
    /// Run the detectors at all.
    pub enabled: bool,
    /// The failure service's base URL; reports wait in the outbox until it is set.
    pub failure_url: Option<String>,
    /// A service token the failure service accepts.
    pub service_token: Option<String>,
    /// Timeout of each post, ms.
    pub timeout_ms: u64,
    /// Longest pause between retries, ms.
    pub max_backoff_ms: u64,
}

impl Default for TrendSection {
    fn default() -> Self {
        Self {
            enabled: true,
            failure_url: None,
            service_token: None,
            timeout_ms: 10_000,
            max_backoff_ms: 60_000,
        }
    }
}

/// `[influx]`: InfluxDB's v1 HTTP API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InfluxSection {
    /// Base URL.
    pub url: String,
    /// Database (a bucket mapped through the compatibility API on 2.x).
    pub database: String,
    /// Retention policy; the database's default if empty.
    pub retention_policy: String,
    /// Token (InfluxDB 2.x / 3.x).
    pub token: Option<String>,
    /// User (InfluxDB 1.x).
    pub username: Option<String>,
    /// Password (InfluxDB 1.x).
    pub password: Option<String>,
    /// Timeout of each call, ms.
    pub timeout_ms: u64,
    /// Create the database at start if it does not exist (1.x).
    pub create_database: bool,
}

impl Default for InfluxSection {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8086".into(),
            database: "scoville".into(),
            retention_policy: String::new(),
            token: None,
            username: None,
            password: None,
            timeout_ms: 10_000,
            create_database: true,
        }
    }
}

pub use scoville_service_kit::http::Limits;

impl Config {
    /// Defaults, then `file`, then `SCOVILLE_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        scoville_service_kit::config::load(file)
    }

    /// The limits, checked.
    pub fn limits(&self) -> Result<Limits, ConfigError> {
        let r = &self.receiver;
        Limits::checked("receiver", r.max_body_bytes, 256 * 1024 * 1024, r.max_batch)
    }

    /// The accepted tokens, checked.
    pub fn tokens(&self) -> Result<TokenSet, ConfigError> {
        TokenSet::from_config(
            &self.receiver.probe_token_hashes,
            "receiver.probe_token_hashes",
        )
    }

    /// The worker's settings, checked.
    pub fn worker_settings(&self) -> Result<crate::worker::WorkerSettings, ConfigError> {
        let w = &self.worker;
        if w.batch_entries == 0 || w.batch_entries > 10_000 {
            return Err(err("worker.batch_entries", "must be between 1 and 10000"));
        }
        if w.max_deliveries == 0 {
            return Err(err("worker.max_deliveries", "must be at least 1"));
        }
        if w.consumer.is_empty() {
            return Err(err("worker.consumer", "must not be empty"));
        }
        Ok(crate::worker::WorkerSettings {
            batch_entries: w.batch_entries,
            block: Duration::from_millis(w.block_ms.clamp(1, 60_000)),
            max_deliveries: w.max_deliveries,
            rollup_every: Duration::from_millis(w.rollup_every_ms.max(10)),
            settle: Duration::from_millis(w.settle_ms),
            ..crate::worker::WorkerSettings::default()
        })
    }

    /// The queue consumer of worker lane `lane` (Redis only: the in-process queue is
    /// drained inside the all-in-one process).
    pub fn consumer(
        &self,
        lane: usize,
    ) -> Result<crate::queue::redis_consumer::RedisConsumer, ConfigError> {
        let q = &self.queue;
        if self.worker.lanes == 0 || self.worker.lanes > 64 {
            return Err(err("worker.lanes", "must be between 1 and 64"));
        }
        crate::queue::redis_consumer::RedisConsumer::new(
            self.redis_endpoint()?,
            &q.stream,
            &format!("{}-{lane}", self.worker.consumer),
            Duration::from_millis(self.worker.claim_idle_ms),
            Duration::from_millis(q.timeout_ms.max(1)),
        )
        .map_err(|e| err("queue.redis_url", e.to_string()))
    }

    /// The trend state (beside the Redis queue), or none when trends are off.
    pub fn trend_state(&self) -> Result<Option<Arc<dyn crate::trend::TrendState>>, ConfigError> {
        if !self.trend.enabled {
            return Ok(None);
        }
        let q = &self.queue;
        Ok(Some(match q.kind {
            QueueKind::Memory => Arc::new(crate::trend::MemoryTrendState::default()),
            QueueKind::Redis => Arc::new(
                crate::trend::redis_state::RedisTrendState::new(
                    self.redis_endpoint()?,
                    &q.stream,
                    Duration::from_millis(q.timeout_ms.max(1)),
                )
                .map_err(|e| err("queue.redis_url", e.to_string()))?,
            ),
        }))
    }

    /// The sender of degradation reports, when a failure service is configured.
    pub fn trend_sender(
        &self,
        state: Arc<dyn crate::trend::TrendState>,
    ) -> Result<Option<crate::trend::sender::DegradationSender>, ConfigError> {
        use crate::trend::sender::{DegradationSender, SenderSettings};
        let t = &self.trend;
        let Some(url) = &t.failure_url else {
            return Ok(None);
        };
        let failure_url = reqwest::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| err("trend.failure_url", "must be an http(s) URL"))?;
        let token = t
            .service_token
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| err("trend.service_token", "is needed with trend.failure_url"))?;
        if t.timeout_ms == 0 || t.timeout_ms > 120_000 {
            return Err(err("trend.timeout_ms", "must be between 1 and 120000"));
        }
        let settings = SenderSettings {
            failure_url,
            token,
            timeout: Duration::from_millis(t.timeout_ms),
            batch: 100,
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_millis(t.max_backoff_ms.max(500)),
            idle: Duration::from_secs(2),
        };
        DegradationSender::new(state, settings)
            .map(Some)
            .map_err(|m| err("trend.failure_url", m))
    }

    /// The InfluxDB store.
    pub fn influx(&self) -> Result<crate::store::influx::InfluxStore, ConfigError> {
        use crate::store::influx::{InfluxAuth, InfluxSettings, InfluxStore};
        let i = &self.influx;
        let auth = match (&i.token, &i.username, &i.password) {
            (Some(t), None, None) => InfluxAuth::Token(t.clone()),
            (None, Some(u), Some(p)) => InfluxAuth::Basic {
                user: u.clone(),
                password: p.clone(),
            },
            (None, None, None) => InfluxAuth::None,
            _ => {
                return Err(err(
                    "influx.token",
                    "set either token, or username and password",
                ));
            }
        };
        if i.timeout_ms == 0 {
            return Err(err("influx.timeout_ms", "must be greater than 0"));
        }
        let rp = (!i.retention_policy.is_empty()).then(|| i.retention_policy.clone());
        InfluxStore::new(InfluxSettings {
            url: i.url.clone(),
            database: i.database.clone(),
            retention_policy: rp,
            auth,
            timeout: Duration::from_millis(i.timeout_ms),
        })
        .map_err(|m| err("influx", m))
    }

    /// Where Redis is: `queue.redis_url` and, when set, the CA in `queue.redis_ca_file`.
    pub fn redis_endpoint(&self) -> Result<crate::queue::redis::RedisEndpoint, ConfigError> {
        let q = &self.queue;
        let at = crate::queue::redis::RedisEndpoint::new(q.redis_url.as_str());
        let Some(path) = &q.redis_ca_file else {
            return Ok(at);
        };
        if !q.redis_url.starts_with("rediss://") {
            return Err(err("queue.redis_ca_file", "needs a rediss:// redis_url"));
        }
        let pem = std::fs::read(path).map_err(|e| {
            err(
                "queue.redis_ca_file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        Ok(at.with_ca_pem(pem))
    }

    /// The queue adapter, built.
    pub fn queue(&self) -> Result<Arc<dyn ResultQueue>, ConfigError> {
        let q = &self.queue;
        if q.max_backlog == 0 {
            return Err(err("queue.max_backlog", "must be greater than 0"));
        }
        if q.timeout_ms == 0 || q.timeout_ms > 60_000 {
            return Err(err("queue.timeout_ms", "must be between 1 and 60000"));
        }
        Ok(match q.kind {
            QueueKind::Memory => Arc::new(MemoryQueue::new(q.max_backlog)),
            QueueKind::Redis => {
                if q.stream.is_empty() {
                    return Err(err("queue.stream", "must not be empty"));
                }
                let timeout = Duration::from_millis(q.timeout_ms);
                Arc::new(
                    RedisQueue::new(self.redis_endpoint()?, &q.stream, q.max_backlog, timeout)
                        .map_err(|e| err("queue.redis_url", e.to_string()))?,
                )
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_service_needs_an_http_url_and_a_token() {
        let mut c = Config::default();
        let state: Arc<dyn crate::trend::TrendState> =
            Arc::new(crate::trend::MemoryTrendState::default());
        assert!(c.trend_sender(state.clone()).unwrap().is_none());
        c.trend.failure_url = Some("ftp://failures".into());
        let e = c.trend_sender(state.clone()).unwrap_err().to_string();
        assert!(e.contains("trend.failure_url"), "{e}");
        c.trend.failure_url = Some("http://127.0.0.1:8082".into());
        let e = c.trend_sender(state.clone()).unwrap_err().to_string();
        assert!(e.contains("trend.service_token"), "{e}");
        c.trend.service_token = Some("t".into());
        assert!(c.trend_sender(state).unwrap().is_some());
        c.trend.enabled = false;
        assert!(c.trend_state().unwrap().is_none());
    }
}
