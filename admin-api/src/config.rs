//! The admin API's configuration: defaults, then the TOML file given with `--config`,
//! then `SCOVILLE_<SECTION>__<KEY>` variables. Invalid values stop the program at start
//! with a message naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use scoville_service_kit::auth::TokenSet;
use scoville_service_kit::config::err;
pub use scoville_service_kit::config::{ConfigError, LogSection};
use serde::{Deserialize, Serialize};

use crate::store::AdminStore;

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The HTTP side.
    pub admin: AdminSection,
    /// Where the admin data lives.
    pub store: StoreSection,
    /// Where history is read.
    pub history: HistorySection,
    /// Where incidents are read (the log the failure service writes).
    pub incidents: IncidentsSection,
    /// Heartbeat (push) checks: where their results go.
    pub heartbeat: HeartbeatSection,
    /// Logging.
    pub log: LogSection,
}

/// `[heartbeat]`: where heartbeat results go (as a probe's do). Without `receiver_url`,
/// `failure_url` and `token`, pings answer 503 and nothing is swept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeartbeatSection {
    /// The receiver's base URL.
    pub receiver_url: Option<String>,
    /// The failure service's base URL.
    pub failure_url: Option<String>,
    /// A probe token both accept (`SCOVILLE_HEARTBEAT__TOKEN`).
    pub token: Option<String>,
    /// Seconds between sweeps in a long-running server; 0: none (AWS calls
    /// `POST /v1/service/heartbeats/sweep` on a schedule instead).
    pub sweep_every_s: u64,
    /// Timeout of each hand-over, ms.
    pub timeout_ms: u64,
}

impl Default for HeartbeatSection {
    fn default() -> Self {
        Self {
            receiver_url: None,
            failure_url: None,
            token: None,
            sweep_every_s: 60,
            timeout_ms: 10_000,
        }
    }
}

/// Which history store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryKind {
    /// The receiver's SQLite file (the embedded default).
    #[default]
    Sqlite,
    /// InfluxDB's v1 HTTP API.
    Influx,
}

/// `[history]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistorySection {
    /// `sqlite` or `influx`.
    pub kind: HistoryKind,
    /// The receiver's SQLite file.
    pub sqlite_path: PathBuf,
    /// InfluxDB's base URL.
    pub influx_url: String,
    /// InfluxDB database.
    pub influx_database: String,
}

impl Default for HistorySection {
    fn default() -> Self {
        Self {
            kind: HistoryKind::Sqlite,
            sqlite_path: "scoville-results.db".into(),
            influx_url: "http://127.0.0.1:8086".into(),
            influx_database: "scoville".into(),
        }
    }
}

/// Which incident log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentsKind {
    /// The failure service's SQLite file (the embedded default).
    #[default]
    Sqlite,
    /// The failure service's DynamoDB incident log table.
    Dynamodb,
}

/// `[incidents]`: the failure service's incident log, read for `/v1/incidents` and the
/// probe's open-incident flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncidentsSection {
    /// `sqlite` or `dynamodb`.
    pub kind: IncidentsKind,
    /// The failure service's SQLite file (its `store.sqlite_path`).
    pub sqlite_path: PathBuf,
    /// The DynamoDB table (the failure service's `store.dynamodb_log_table`).
    pub table: String,
    /// An AWS endpoint URL (an emulator's); `store.endpoint_url` when absent.
    pub endpoint_url: Option<String>,
    /// Create the table if missing (first runs, emulators).
    pub create_table: bool,
}

impl Default for IncidentsSection {
    fn default() -> Self {
        Self {
            kind: IncidentsKind::Sqlite,
            sqlite_path: "scoville-incidents.db".into(),
            table: "scoville-incident-log".into(),
            endpoint_url: None,
            create_table: false,
        }
    }
}

/// Which admin store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    /// SQLite at `admin.sqlite_path` (the embedded default).
    #[default]
    Sqlite,
    /// One DynamoDB table.
    Dynamodb,
}

/// `[store]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    /// `sqlite` (the file is `admin.sqlite_path`) or `dynamodb`.
    pub kind: StoreKind,
    /// The DynamoDB table.
    pub table: String,
    /// An AWS endpoint URL (an emulator's); the SDK's default when absent.
    pub endpoint_url: Option<String>,
    /// The AWS region; the SDK's default chain (`AWS_REGION`, profile) when absent.
    pub region: Option<String>,
    /// Create the table if missing (first runs, emulators).
    pub create_table: bool,
    /// Timeout of each store call, ms.
    pub timeout_ms: u64,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self {
            kind: StoreKind::Sqlite,
            table: "scoville-admin".into(),
            endpoint_url: None,
            region: None,
            create_table: false,
            timeout_ms: 5000,
        }
    }
}

/// `[admin]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSection {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where people reach the API and UI (https there marks cookies `Secure`).
    pub public_url: String,
    /// The SQLite file (with `store.kind = sqlite`).
    pub sqlite_path: PathBuf,
    /// Session lifetime, hours.
    pub session_ttl_hours: u32,
    /// Let test notifications reach loopback and private addresses (self-hosting).
    pub allow_private_channels: bool,
    /// Anyone may sign up. When false, `POST /v1/signup` needs an invitation for the
    /// email being signed up (or a service token: the operator's own tooling).
    pub open_signup: bool,
    /// SHA-256 hashes of platform probe tokens (`sha256:<64 hex>`): they list every
    /// organization's endpoints.
    pub probe_token_hashes: Vec<String>,
    /// SHA-256 hashes of Scoville's own service tokens (`sha256:<64 hex>`): the failure
    /// service and notifiers read endpoints' directory entries and channel
    /// configurations with them.
    pub service_token_hashes: Vec<String>,
}

impl Default for AdminSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".parse().expect("literal address"),
            public_url: "http://127.0.0.1:8080".into(),
            sqlite_path: "scoville-admin.db".into(),
            session_ttl_hours: 24 * 14,
            allow_private_channels: false,
            open_signup: true,
            probe_token_hashes: Vec::new(),
            service_token_hashes: Vec::new(),
        }
    }
}

impl Config {
    /// Defaults, then `file`, then `SCOVILLE_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        scoville_service_kit::config::load(file)
    }

    /// The platform probe tokens.
    pub fn tokens(&self) -> Result<TokenSet, ConfigError> {
        TokenSet::from_config(&self.admin.probe_token_hashes, "admin.probe_token_hashes")
    }

    /// The accepted service tokens.
    pub fn service_tokens(&self) -> Result<TokenSet, ConfigError> {
        TokenSet::from_config(
            &self.admin.service_token_hashes,
            "admin.service_token_hashes",
        )
    }

    /// The history store.
    pub fn history(&self) -> Result<Arc<dyn crate::history::HistoryStore>, ConfigError> {
        use crate::history::influx::{InfluxHistory, InfluxHistorySettings};
        use crate::history::sqlite::SqliteHistory;
        let h = &self.history;
        Ok(match h.kind {
            HistoryKind::Sqlite => Arc::new(
                SqliteHistory::open(h.sqlite_path.clone())
                    .map_err(|e| err("history.sqlite_path", e.to_string()))?,
            ),
            HistoryKind::Influx => Arc::new(
                InfluxHistory::new(InfluxHistorySettings::new(
                    h.influx_url.clone(),
                    h.influx_database.clone(),
                ))
                .map_err(|e| err("history.influx_url", e))?,
            ),
        })
    }

    /// The incident log.
    pub async fn incidents(
        &self,
    ) -> Result<Arc<dyn scoville_incident_log::IncidentLog>, ConfigError> {
        let i = &self.incidents;
        Ok(match i.kind {
            IncidentsKind::Sqlite => Arc::new(
                scoville_incident_log::sqlite::SqliteLog::open(&i.sqlite_path)
                    .map_err(|e| err("incidents.sqlite_path", e.to_string()))?,
            ),
            IncidentsKind::Dynamodb => {
                if i.table.trim().is_empty() {
                    return Err(err("incidents.table", "must not be empty"));
                }
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
                let url = i
                    .endpoint_url
                    .as_deref()
                    .or(self.store.endpoint_url.as_deref());
                if let Some(url) = url.filter(|u| !u.trim().is_empty()) {
                    loader = loader.endpoint_url(url);
                }
                if let Some(region) = self
                    .store
                    .region
                    .as_deref()
                    .filter(|r| !r.trim().is_empty())
                {
                    loader = loader.region(aws_config::Region::new(region.to_string()));
                }
                let log = scoville_incident_log::dynamodb::DynamoLog::new(
                    &loader.load().await,
                    &i.table,
                    Duration::from_millis(self.store.timeout_ms.clamp(1, 60_000)),
                );
                if i.create_table {
                    log.ensure_table()
                        .await
                        .map_err(|e| err("incidents.table", e.to_string()))?;
                }
                Arc::new(log)
            }
        })
    }

    /// Heartbeats: their store (beside the admin store: the same SQLite file or
    /// DynamoDB table) and where their results go.
    pub async fn heartbeats(&self) -> Result<crate::heartbeat::Heartbeats, ConfigError> {
        use crate::heartbeat::forward::Forwarder;
        use crate::heartbeat::store::HeartbeatStore;
        let h = &self.heartbeat;
        if h.timeout_ms == 0 || h.timeout_ms > 60_000 {
            return Err(err("heartbeat.timeout_ms", "must be between 1 and 60000"));
        }
        let set = |v: &Option<String>| {
            v.as_deref()
                .filter(|v| !v.trim().is_empty())
                .map(str::to_string)
        };
        let forward = match (set(&h.receiver_url), set(&h.failure_url), set(&h.token)) {
            (Some(r), Some(f), Some(t)) => Some(
                Forwarder::new(&r, &f, &t, Duration::from_millis(h.timeout_ms))
                    .map_err(|e| err("heartbeat.receiver_url", e.to_string()))?,
            ),
            (None, None, None) => None,
            _ => {
                return Err(err(
                    "heartbeat",
                    "receiver_url, failure_url and token go together",
                ));
            }
        };
        let store: Arc<dyn HeartbeatStore> = match self.store.kind {
            StoreKind::Sqlite => Arc::new(
                crate::heartbeat::sqlite::SqliteHeartbeats::open(&self.admin.sqlite_path)
                    .map_err(|e| err("admin.sqlite_path", e.to_string()))?,
            ),
            StoreKind::Dynamodb => Arc::new(crate::heartbeat::dynamodb::DynamoHeartbeats::new(
                self.dynamodb_client().await,
                self.store.table.clone(),
                Duration::from_millis(self.store.timeout_ms),
            )),
        };
        Ok(crate::heartbeat::Heartbeats::new(store, forward))
    }

    /// The store: SQLite, or DynamoDB (the table created first with
    /// `store.create_table`).
    pub async fn store(&self) -> Result<Arc<dyn AdminStore>, ConfigError> {
        if self.admin.session_ttl_hours == 0 || self.admin.session_ttl_hours > 24 * 90 {
            return Err(err("admin.session_ttl_hours", "must be between 1 and 2160"));
        }
        let s = &self.store;
        Ok(match s.kind {
            StoreKind::Sqlite => Arc::new(
                crate::store::sqlite::SqliteAdmin::open(&self.admin.sqlite_path)
                    .map_err(|e| err("admin.sqlite_path", e.to_string()))?,
            ),
            StoreKind::Dynamodb => {
                use crate::store::dynamodb::DynamoAdmin;
                if s.timeout_ms == 0 || s.timeout_ms > 60_000 {
                    return Err(err("store.timeout_ms", "must be between 1 and 60000"));
                }
                if s.table.trim().is_empty() {
                    return Err(err("store.table", "must not be empty"));
                }
                let client = self.dynamodb_client().await;
                if s.create_table {
                    DynamoAdmin::create_table(&client, &s.table)
                        .await
                        .map_err(|e| err("store.table", e.to_string()))?;
                }
                Arc::new(
                    DynamoAdmin::new(client, s.table.clone())
                        .with_timeout(Duration::from_millis(s.timeout_ms)),
                )
            }
        })
    }

    /// A DynamoDB client from the SDK's default chain (credentials, region), with
    /// `store.region` and `store.endpoint_url` when set and `store.timeout_ms` on every
    /// operation.
    pub async fn dynamodb_client(&self) -> aws_sdk_dynamodb::Client {
        let s = &self.store;
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(url) = s.endpoint_url.as_deref().filter(|u| !u.trim().is_empty()) {
            loader = loader.endpoint_url(url);
        }
        if let Some(region) = s.region.as_deref().filter(|r| !r.trim().is_empty()) {
            loader = loader.region(aws_config::Region::new(region.to_string()));
        }
        let sdk = loader.load().await;
        let timeout = Duration::from_millis(s.timeout_ms);
        let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_timeout(timeout)
                    .connect_timeout(timeout)
                    .build(),
            )
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }
}
