//! The failure service's configuration: defaults, then the TOML file given with
//! `--config`, then `SCOVILLE_<SECTION>__<KEY>` variables. Invalid values stop the
//! program at start with a message naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use scoville_core::incident::IncidentPolicy;
use scoville_service_kit::auth::TokenSet;
use scoville_service_kit::config::err;
pub use scoville_service_kit::config::{ConfigError, LogSection};
use serde::{Deserialize, Serialize};

use crate::directory::{ConfigDirectory, EndpointEntry};
use crate::store::IncidentStore;
use scoville_incident_log::IncidentLog;

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The HTTP side.
    pub failure: FailureSection,
    /// Where incident state lives.
    pub store: StoreSection,
    /// The notification queue.
    pub queue: QueueSection,
    /// Endpoint defaults and overrides.
    pub directory: DirectorySection,
    /// Logging.
    pub log: LogSection,
}

/// `[failure]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailureSection {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Largest request body, bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Most items in one batch (413 beyond).
    pub max_batch: usize,
    /// SHA-256 hashes of the accepted probe and service tokens (`sha256:<64 hex>`).
    pub token_hashes: Vec<String>,
    /// Endpoints handled at once per request.
    pub concurrency: usize,
}

impl Default for FailureSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8082".parse().expect("literal address"),
            max_body_bytes: 4 * 1024 * 1024,
            max_batch: 5000,
            token_hashes: Vec::new(),
            concurrency: 32,
        }
    }
}

/// Which state store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    /// SQLite (the embedded default).
    #[default]
    Sqlite,
    /// DynamoDB.
    Dynamodb,
}

/// `[store]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    /// `sqlite` or `dynamodb`.
    pub kind: StoreKind,
    /// SQLite file.
    pub sqlite_path: PathBuf,
    /// DynamoDB table.
    pub dynamodb_table: String,
    /// DynamoDB table of the incident log (on SQLite the log shares `sqlite_path`).
    pub dynamodb_log_table: String,
    /// An AWS endpoint URL (an emulator's); the SDK's default when absent.
    pub aws_endpoint_url: Option<String>,
    /// Create the table if missing (first runs, emulators).
    pub create_table: bool,
    /// Timeout of each store call, ms.
    pub timeout_ms: u64,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self {
            kind: StoreKind::Sqlite,
            sqlite_path: "scoville-incidents.db".into(),
            dynamodb_table: "scoville-incidents".into(),
            dynamodb_log_table: "scoville-incident-log".into(),
            aws_endpoint_url: None,
            create_table: false,
            timeout_ms: 5000,
        }
    }
}

/// Which notification queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueKind {
    /// In-process (the embedded default; a notifier in the same process drains it).
    #[default]
    Memory,
    /// Amazon SQS.
    Sqs,
}

/// `[queue]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSection {
    /// `memory` or `sqs`.
    pub kind: QueueKind,
    /// The SQS queue URL.
    pub sqs_queue_url: Option<String>,
    /// An AWS endpoint URL (an emulator's); the SDK's default when absent.
    pub aws_endpoint_url: Option<String>,
    /// Most jobs the in-process queue holds.
    pub capacity: usize,
}

impl Default for QueueSection {
    fn default() -> Self {
        Self {
            kind: QueueKind::Memory,
            sqs_queue_url: None,
            aws_endpoint_url: None,
            capacity: 100_000,
        }
    }
}

/// `[directory]`: what the service knows of endpoints until the admin API tells it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DirectorySection {
    /// Base URL of the web UI, for links to endpoint pages.
    pub public_url: String,
    /// Alert channels every endpoint's notices go to unless it names its own.
    pub channels: Vec<String>,
    /// The default incident policy.
    pub policy: IncidentPolicy,
    /// Per-endpoint overrides.
    pub endpoints: Vec<EndpointEntry>,
    /// The admin API's base URL: when set, endpoints are read from there (with
    /// `admin_token`), and the settings above are not used.
    pub admin_url: Option<String>,
    /// A service token the admin API accepts (`admin.service_token_hashes` there).
    pub admin_token: Option<String>,
    /// How long an answer of the admin API is kept, seconds.
    pub cache_ttl_s: u64,
}

impl Default for DirectorySection {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            channels: Vec::new(),
            policy: IncidentPolicy::default(),
            endpoints: Vec::new(),
            admin_url: None,
            admin_token: None,
            cache_ttl_s: 30,
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
        let f = &self.failure;
        if f.concurrency == 0 || f.concurrency > 1024 {
            return Err(err("failure.concurrency", "must be between 1 and 1024"));
        }
        Limits::checked("failure", f.max_body_bytes, 64 * 1024 * 1024, f.max_batch)
    }

    /// The accepted tokens, checked.
    pub fn tokens(&self) -> Result<TokenSet, ConfigError> {
        TokenSet::from_config(&self.failure.token_hashes, "failure.token_hashes")
    }

    /// The directory: the admin API's when `directory.admin_url` is set, else the
    /// configuration's.
    pub fn directory(&self) -> Result<Arc<dyn crate::directory::Directory>, ConfigError> {
        let d = &self.directory;
        let Some(url) = d.admin_url.as_deref().filter(|u| !u.trim().is_empty()) else {
            return Ok(Arc::new(self.config_directory()?));
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
            crate::admin_directory::AdminDirectory::new(
                url,
                token,
                Duration::from_secs(5),
                Duration::from_secs(d.cache_ttl_s),
            )
            .map_err(|e| err("directory.admin_url", e.to_string()))?,
        ))
    }

    /// The directory from the configuration, checked.
    pub fn config_directory(&self) -> Result<ConfigDirectory, ConfigError> {
        let d = &self.directory;
        d.policy
            .validate()
            .map_err(|m| err("directory.policy", m))?;
        for (i, e) in d.endpoints.iter().enumerate() {
            if let Some(p) = &e.policy {
                p.validate()
                    .map_err(|m| err(&format!("directory.endpoints[{i}].policy"), m))?;
            }
        }
        Ok(ConfigDirectory::new(
            &d.public_url,
            d.policy,
            d.channels.clone(),
            d.endpoints.clone(),
        ))
    }

    /// An AWS SDK configuration, pointed at `endpoint_url` when given.
    pub async fn aws(endpoint_url: Option<&str>) -> aws_config::SdkConfig {
        // Every AWS call is bounded: an endpoint that accepts the connection and stays
        // silent must not hold a request (the SDK's defaults have no overall timeout;
        // the fault suite found `POST /v1/failures` waiting on a silent SQS).
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(std::time::Duration::from_secs(3))
            .operation_attempt_timeout(std::time::Duration::from_secs(5))
            .operation_timeout(std::time::Duration::from_secs(15))
            .build();
        let mut loader =
            aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(timeouts);
        if let Some(url) = endpoint_url {
            loader = loader.endpoint_url(url);
        }
        loader.load().await
    }

    /// The notification queue: SQS, or the in-process queue (drained by a notifier in
    /// the same process).
    pub async fn queue(&self) -> Result<Arc<dyn scoville_notifier::queue::JobQueue>, ConfigError> {
        use scoville_notifier::queue::memory::{MemoryJobQueue, MemoryQueueSettings};
        use scoville_notifier::queue::{SqsJobQueue, sqs::SqsSettings};
        let q = &self.queue;
        Ok(match q.kind {
            QueueKind::Memory => {
                if q.capacity == 0 || q.capacity > 10_000_000 {
                    return Err(err("queue.capacity", "must be between 1 and 10000000"));
                }
                Arc::new(MemoryJobQueue::new(MemoryQueueSettings {
                    capacity: q.capacity,
                    ..MemoryQueueSettings::default()
                }))
            }
            QueueKind::Sqs => {
                let url = q
                    .sqs_queue_url
                    .clone()
                    .filter(|u| !u.trim().is_empty())
                    .ok_or_else(|| {
                        err("queue.sqs_queue_url", "must be set when queue.kind = sqs")
                    })?;
                let sdk = Self::aws(None).await;
                Arc::new(SqsJobQueue::connect(
                    &sdk,
                    q.aws_endpoint_url.as_deref(),
                    SqsSettings {
                        queue_url: url,
                        dead_letter_url: None,
                        max_receives: 10,
                    },
                ))
            }
        })
    }

    /// The incident log: in the state store's SQLite file, or its own DynamoDB table.
    pub async fn log(&self) -> Result<Arc<dyn IncidentLog>, ConfigError> {
        let s = &self.store;
        Ok(match s.kind {
            StoreKind::Sqlite => Arc::new(
                scoville_incident_log::sqlite::SqliteLog::open(&s.sqlite_path)
                    .map_err(|e| err("store.sqlite_path", e.to_string()))?,
            ),
            StoreKind::Dynamodb => {
                if s.dynamodb_log_table.is_empty() {
                    return Err(err("store.dynamodb_log_table", "must not be empty"));
                }
                let sdk = Self::aws(s.aws_endpoint_url.as_deref()).await;
                let log = scoville_incident_log::dynamodb::DynamoLog::new(
                    &sdk,
                    &s.dynamodb_log_table,
                    Duration::from_millis(s.timeout_ms),
                );
                if s.create_table {
                    log.ensure_table()
                        .await
                        .map_err(|e| err("store.dynamodb_log_table", e.to_string()))?;
                }
                Arc::new(log)
            }
        })
    }

    /// The state store.
    pub async fn store(&self) -> Result<Arc<dyn IncidentStore>, ConfigError> {
        let s = &self.store;
        if s.timeout_ms == 0 || s.timeout_ms > 60_000 {
            return Err(err("store.timeout_ms", "must be between 1 and 60000"));
        }
        Ok(match s.kind {
            StoreKind::Sqlite => Arc::new(
                crate::store::sqlite::SqliteStore::open(&s.sqlite_path)
                    .map_err(|e| err("store.sqlite_path", e.to_string()))?,
            ),
            StoreKind::Dynamodb => {
                if s.dynamodb_table.is_empty() {
                    return Err(err("store.dynamodb_table", "must not be empty"));
                }
                let sdk = Self::aws(s.aws_endpoint_url.as_deref()).await;
                let store = crate::store::dynamodb::DynamoStore::new(
                    &sdk,
                    &s.dynamodb_table,
                    Duration::from_millis(s.timeout_ms),
                );
                if s.create_table {
                    store
                        .ensure_table()
                        .await
                        .map_err(|e| err("store.dynamodb_table", e.to_string()))?;
                }
                Arc::new(store)
            }
        })
    }
}
