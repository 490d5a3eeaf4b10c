//! The notifier binaries' configuration: defaults, then the TOML file given with
//! `--config` (or `SCOVILLE_CONFIG` for the Lambda), then `SCOVILLE_<SECTION>__<KEY>`
//! variables (scoville-service-kit). Everything is checked at start; an error names its
//! key (`delivery.max_attempts: must be between 1 and 20`,
//! `channels.ops-slack.webhook_url: must be an http or https URL`).
//!
//! ```toml
//! [notifier]
//! listen = "127.0.0.1:8083"     # /healthz, /readyz, /metrics
//! allow_private = false          # let channels reach private/loopback addresses
//!
//! [queue]
//! url = "https://sqs.eu-west-1.amazonaws.com/123456789012/scoville-notifications"
//! dead_letter_url = "https://sqs.eu-west-1.amazonaws.com/123456789012/scoville-notifications-dlq"
//! max_receives = 10              # the queue's redrive maxReceiveCount
//!
//! [dedup]
//! kind = "dynamodb"              # or "memory" for a single worker
//! table = "scoville-notification-dedup"
//!
//! [channels.ops-slack]
//! type = "slack"
//! webhook_url = "https://hooks.slack.com/services/..."
//! ```

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use scoville_core::AddressPolicy;
use scoville_service_kit::config::err;
pub use scoville_service_kit::config::{ConfigError, LogSection};
use serde::{Deserialize, Serialize};

use crate::channel::Pace;
use crate::dedup::{DedupSettings, DedupStore, DynamoDedup, MemoryDedup};
use crate::delivery::DeliveryPolicy;
use crate::directory::MemoryDirectory;
use crate::dispatch::Grouping;
use crate::http::SendContext;
use crate::queue::sqs::SqsSettings;
use crate::worker::WorkerSettings;

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The process: listening, address policy, batching, grouping.
    pub notifier: NotifierSection,
    /// Retries.
    pub delivery: DeliverySection,
    /// The SQS queue.
    pub queue: QueueSection,
    /// The dedup store.
    pub dedup: DedupSection,
    /// Channels by id (`[channels.<id>]` with a `type`), for self-hosted setups.
    pub channels: BTreeMap<String, serde_json::Value>,
    /// Channels read from the admin API instead.
    pub directory: DirectorySection,
    /// Logging.
    pub log: LogSection,
}

/// `[directory]`: read alert channels from the admin API (where people create them)
/// instead of `[channels]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DirectorySection {
    /// The admin API's base URL; unset: `[channels]`.
    pub admin_url: Option<String>,
    /// A service token it accepts (its `admin.service_token_hashes`).
    pub admin_token: Option<String>,
    /// How long a channel's configuration is kept, seconds.
    pub cache_ttl_s: u64,
}

impl Default for DirectorySection {
    fn default() -> Self {
        Self {
            admin_url: None,
            admin_token: None,
            cache_ttl_s: 30,
        }
    }
}

/// `[notifier]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifierSection {
    /// Where `/healthz`, `/readyz` and `/metrics` are served; port 0 picks one.
    pub listen: SocketAddr,
    /// Let channels reach loopback, private and link-local addresses (self-hosted).
    pub allow_private: bool,
    /// Single addresses let through whatever their range.
    pub allow_ips: Vec<IpAddr>,
    /// Timeout of each request (and SMTP command), ms.
    pub timeout_ms: u64,
    /// Most jobs per cycle.
    pub batch_max: usize,
    /// Long-poll wait for the first job, ms.
    pub wait_ms: u64,
    /// How long to keep gathering after the first job, ms.
    pub gather_ms: u64,
    /// Channels delivered at once.
    pub concurrency: usize,
    /// More jobs than this for one channel in a cycle become digests.
    pub digest_threshold: usize,
    /// Most notices per digest.
    pub digest_max: usize,
    /// One pace for all channels (requests per second); each kind's default if unset.
    pub pace_per_second: Option<f64>,
    /// Burst for `pace_per_second`.
    pub pace_burst: u32,
    /// Longest total wait for one channel's pace within a cycle before its remaining
    /// jobs go back to the queue, ms.
    pub max_pace_wait_ms: u64,
}

impl Default for NotifierSection {
    fn default() -> Self {
        let g = Grouping::default();
        let w = WorkerSettings::default();
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8083)),
            allow_private: false,
            allow_ips: Vec::new(),
            timeout_ms: 10_000,
            batch_max: w.batch_max,
            wait_ms: w.wait.as_millis() as u64,
            gather_ms: w.gather.as_millis() as u64,
            concurrency: g.concurrency,
            digest_threshold: g.digest_threshold,
            digest_max: g.digest_max,
            pace_per_second: None,
            pace_burst: 5,
            max_pace_wait_ms: g.max_pace_wait.as_millis() as u64,
        }
    }
}

/// `[delivery]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySection {
    /// Attempts per delivery.
    pub max_attempts: u32,
    /// First backoff ceiling, ms.
    pub base_backoff_ms: u64,
    /// Largest backoff ceiling, ms.
    pub max_backoff_ms: u64,
    /// Longest `Retry-After` waited in process, ms.
    pub max_retry_after_ms: u64,
    /// Largest delay before a failed job is received again, ms.
    pub requeue_max_ms: u64,
}

impl Default for DeliverySection {
    fn default() -> Self {
        let p = DeliveryPolicy::default();
        Self {
            max_attempts: p.max_attempts,
            base_backoff_ms: p.base_backoff.as_millis() as u64,
            max_backoff_ms: p.max_backoff.as_millis() as u64,
            max_retry_after_ms: p.max_retry_after.as_millis() as u64,
            requeue_max_ms: p.requeue_max.as_millis() as u64,
        }
    }
}

/// `[queue]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSection {
    /// The SQS queue's URL.
    pub url: String,
    /// The dead-letter queue's URL.
    pub dead_letter_url: Option<String>,
    /// The redrive policy's `maxReceiveCount`.
    pub max_receives: u32,
    /// An SQS-compatible endpoint instead of AWS's (LocalStack, moto).
    pub endpoint_url: Option<String>,
}

impl Default for QueueSection {
    fn default() -> Self {
        Self {
            url: String::new(),
            dead_letter_url: None,
            max_receives: 10,
            endpoint_url: None,
        }
    }
}

/// Which dedup store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DedupKind {
    /// DynamoDB (shared by every notifier).
    #[default]
    Dynamodb,
    /// In process (a single worker only).
    Memory,
}

/// `[dedup]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DedupSection {
    /// `dynamodb` or `memory`.
    pub kind: DedupKind,
    /// DynamoDB table (partition key `pk`, TTL attribute `expires_at`).
    pub table: String,
    /// Create the table at start if missing.
    pub create_table: bool,
    /// How long a claim holds, ms.
    pub lease_ms: u64,
    /// How long a sent key is remembered, hours.
    pub ttl_hours: u64,
    /// A DynamoDB-compatible endpoint instead of AWS's.
    pub endpoint_url: Option<String>,
}

impl Default for DedupSection {
    fn default() -> Self {
        let d = DedupSettings::default();
        Self {
            kind: DedupKind::Dynamodb,
            table: "scoville-notification-dedup".into(),
            create_table: false,
            lease_ms: d.lease.as_millis() as u64,
            ttl_hours: d.ttl.as_secs() / 3600,
            endpoint_url: None,
        }
    }
}

impl Config {
    /// Defaults, then `file`, then `SCOVILLE_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        scoville_service_kit::config::load(file)
    }

    /// Checks everything that can be checked without the network.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.delivery_policy()?;
        self.grouping()?;
        self.worker_settings()?;
        self.directory()?;
        self.dedup_settings()?;
        let n = &self.notifier;
        if n.timeout_ms < 100 || n.timeout_ms > 120_000 {
            return Err(err("notifier.timeout_ms", "must be between 100 and 120000"));
        }
        if self.queue.max_receives == 0 || self.queue.max_receives > 1000 {
            return Err(err("queue.max_receives", "must be between 1 and 1000"));
        }
        for (key, url) in [
            ("queue.url", Some(&self.queue.url).filter(|u| !u.is_empty())),
            ("queue.dead_letter_url", self.queue.dead_letter_url.as_ref()),
            ("queue.endpoint_url", self.queue.endpoint_url.as_ref()),
            ("dedup.endpoint_url", self.dedup.endpoint_url.as_ref()),
        ] {
            if let Some(url) = url {
                crate::channel::check_http_url("x", url).map_err(|e| err(key, e.message))?;
            }
        }
        Ok(())
    }

    /// The address policy channels obey.
    pub fn address_policy(&self) -> AddressPolicy {
        let base = if self.notifier.allow_private {
            AddressPolicy::allow_private()
        } else {
            AddressPolicy::global_only()
        };
        base.allowing(self.notifier.allow_ips.iter().copied())
    }

    /// The shared send context.
    pub fn send_context(&self) -> Result<SendContext, ConfigError> {
        SendContext::new(
            self.address_policy(),
            Duration::from_millis(self.notifier.timeout_ms),
        )
        .map_err(|e| err("notifier", e.to_string()))
    }

    /// The delivery policy, checked.
    pub fn delivery_policy(&self) -> Result<DeliveryPolicy, ConfigError> {
        let d = &self.delivery;
        let p = DeliveryPolicy {
            max_attempts: d.max_attempts,
            base_backoff: Duration::from_millis(d.base_backoff_ms),
            max_backoff: Duration::from_millis(d.max_backoff_ms),
            max_retry_after: Duration::from_millis(d.max_retry_after_ms),
            requeue_max: Duration::from_millis(d.requeue_max_ms),
        };
        p.validate()
            .map_err(|(field, message)| err(&format!("delivery.{field}"), message))?;
        Ok(p)
    }

    /// Grouping and pacing, checked.
    pub fn grouping(&self) -> Result<Grouping, ConfigError> {
        let n = &self.notifier;
        let g = Grouping {
            digest_threshold: n.digest_threshold,
            digest_max: n.digest_max,
            concurrency: n.concurrency,
            pace: n.pace_per_second.map(|r| Pace::new(r, n.pace_burst)),
            max_pace_wait: Duration::from_millis(n.max_pace_wait_ms),
        };
        g.validate().map_err(|(field, message)| {
            let key = if field == "pace" {
                "pace_per_second"
            } else {
                field
            };
            err(&format!("notifier.{key}"), message)
        })?;
        Ok(g)
    }

    /// Worker settings, checked.
    pub fn worker_settings(&self) -> Result<WorkerSettings, ConfigError> {
        let n = &self.notifier;
        if n.batch_max == 0 || n.batch_max > 10_000 {
            return Err(err("notifier.batch_max", "must be between 1 and 10000"));
        }
        if n.wait_ms > 20_000 {
            return Err(err(
                "notifier.wait_ms",
                "must be at most 20000 (SQS's long-poll limit)",
            ));
        }
        Ok(WorkerSettings {
            batch_max: n.batch_max,
            wait: Duration::from_millis(n.wait_ms),
            gather: Duration::from_millis(n.gather_ms),
        })
    }

    /// The channels of `[channels]`, validated.
    pub fn memory_directory(&self) -> Result<MemoryDirectory, ConfigError> {
        MemoryDirectory::from_values(self.channels.clone(), "channels")
            .map_err(|e| err(&e.field, e.message))
    }

    /// Where channels are looked up: the admin API when `directory.admin_url` is set,
    /// else `[channels]`.
    pub fn directory(&self) -> Result<Arc<dyn crate::directory::Directory>, ConfigError> {
        let d = &self.directory;
        let Some(url) = d.admin_url.as_deref().filter(|u| !u.trim().is_empty()) else {
            return Ok(Arc::new(self.memory_directory()?));
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(err("directory.admin_url", "must be an http(s) URL"));
        }
        let token = d
            .admin_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                err(
                    "directory.admin_token",
                    "must be set with directory.admin_url",
                )
            })?;
        if d.cache_ttl_s > 3600 {
            return Err(err("directory.cache_ttl_s", "must be at most 3600"));
        }
        Ok(Arc::new(
            crate::admin_directory::AdminChannelDirectory::new(
                url,
                token,
                Duration::from_millis(self.notifier.timeout_ms.clamp(100, 120_000)),
                Duration::from_secs(d.cache_ttl_s),
            )
            .map_err(|e| err("directory.admin_url", e.to_string()))?,
        ))
    }

    /// Dedup lease and TTL, checked.
    pub fn dedup_settings(&self) -> Result<DedupSettings, ConfigError> {
        let d = &self.dedup;
        if d.lease_ms < 1000 {
            return Err(err("dedup.lease_ms", "must be at least 1000"));
        }
        if d.ttl_hours == 0 {
            return Err(err("dedup.ttl_hours", "must be at least 1"));
        }
        if d.kind == DedupKind::Dynamodb && d.table.trim().is_empty() {
            return Err(err("dedup.table", "must name the DynamoDB table"));
        }
        Ok(DedupSettings {
            lease: Duration::from_millis(d.lease_ms),
            ttl: Duration::from_secs(d.ttl_hours * 3600),
        })
    }

    /// The SQS settings; `queue.url` must be set.
    pub fn sqs_settings(&self) -> Result<SqsSettings, ConfigError> {
        if self.queue.url.trim().is_empty() {
            return Err(err("queue.url", "must be set to the SQS queue's URL"));
        }
        Ok(SqsSettings {
            queue_url: self.queue.url.trim().to_string(),
            dead_letter_url: self.queue.dead_letter_url.clone(),
            max_receives: self.queue.max_receives,
        })
    }

    /// The dedup store (creating the DynamoDB table when asked).
    pub async fn dedup_store(
        &self,
        aws: &aws_config::SdkConfig,
    ) -> Result<Arc<dyn DedupStore>, ConfigError> {
        let settings = self.dedup_settings()?;
        Ok(match self.dedup.kind {
            DedupKind::Memory => Arc::new(MemoryDedup::new(settings, 1_000_000)),
            DedupKind::Dynamodb => {
                let mut b = aws_sdk_dynamodb::config::Builder::from(aws);
                if let Some(url) = &self.dedup.endpoint_url {
                    b = b.endpoint_url(url);
                }
                let client = aws_sdk_dynamodb::Client::from_conf(b.build());
                if self.dedup.create_table {
                    DynamoDedup::create_table(&client, &self.dedup.table)
                        .await
                        .map_err(|e| err("dedup.table", e.to_string()))?;
                }
                Arc::new(DynamoDedup::new(client, self.dedup.table.clone(), settings))
            }
        })
    }

    /// A worker draining `queue` into this configuration's channels.
    pub fn worker(
        &self,
        queue: Arc<dyn crate::queue::JobQueue>,
        dedup: Arc<dyn DedupStore>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Result<crate::worker::Worker, ConfigError> {
        let dispatcher = crate::dispatch::Dispatcher::new(
            self.directory()?,
            dedup,
            self.send_context()?,
            self.delivery_policy()?,
            self.grouping()?,
        )
        .with_metrics(metrics);
        Ok(crate::worker::Worker::new(
            queue,
            Arc::new(dispatcher),
            self.worker_settings()?,
        ))
    }

    /// The SQS queue of the queue section.
    pub fn sqs_queue(
        &self,
        aws: &aws_config::SdkConfig,
    ) -> Result<crate::queue::SqsJobQueue, ConfigError> {
        Ok(crate::queue::SqsJobQueue::connect(
            aws,
            self.queue.endpoint_url.as_deref(),
            self.sqs_settings()?,
        ))
    }
}

/// The AWS SDK configuration from the environment, with timeouts above SQS's 20-second
/// long poll.
pub async fn aws_config() -> aws_config::SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(25))
        .operation_timeout(Duration::from_secs(60))
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_valid_and_errors_name_the_key() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.sqs_settings().unwrap_err().key, "queue.url");
        let mut bad = Config::default();
        bad.delivery.max_attempts = 0;
        assert_eq!(bad.validate().unwrap_err().key, "delivery.max_attempts");
        let mut bad = Config::default();
        bad.notifier.pace_per_second = Some(-1.0);
        assert_eq!(bad.validate().unwrap_err().key, "notifier.pace_per_second");
        let mut bad = Config::default();
        bad.channels.insert(
            "ops".into(),
            json!({"type": "telegram", "bot_token": "1:abc", "chat_id": "general"}),
        );
        let e = bad.validate().unwrap_err();
        assert_eq!(e.key, "channels.ops.chat_id");
        assert!(e.to_string().contains("numeric chat id"), "{e}");
    }

    #[test]
    fn loads_toml_with_channels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.toml");
        std::fs::write(
            &path,
            r#"
[notifier]
allow_private = true
[queue]
url = "http://127.0.0.1:5000/123456789012/q"
[dedup]
kind = "memory"
[channels.ops]
type = "slack"
webhook_url = "https://hooks.slack.com/services/T/B/x"
[channels.pd]
type = "pagerduty"
routing_key = "abc"
"#,
        )
        .unwrap();
        let c = Config::load(Some(&path)).unwrap();
        c.validate().unwrap();
        assert_eq!(c.memory_directory().unwrap().ids(), vec!["ops", "pd"]);
        assert_eq!(c.dedup.kind, DedupKind::Memory);
        assert!(c.address_policy().allows_private());
        std::fs::write(&path, "[notifier]\nbatch_mx = 3\n").unwrap();
        let e = Config::load(Some(&path)).unwrap_err();
        assert!(e.to_string().contains("batch_mx"), "{e}");
    }
}
