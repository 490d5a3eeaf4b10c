//! The admin API's configuration: defaults, then the TOML file given with `--config`,
//! then `SCOVILLE_<SECTION>__<KEY>` variables. Invalid values stop the program at start
//! with a message naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// Where history is read.
    pub history: HistorySection,
    /// Logging.
    pub log: LogSection,
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

/// `[admin]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSection {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where people reach the API and UI (https there marks cookies `Secure`).
    pub public_url: String,
    /// The SQLite file.
    pub sqlite_path: PathBuf,
    /// Session lifetime, hours.
    pub session_ttl_hours: u32,
    /// Let test notifications reach loopback and private addresses (self-hosting).
    pub allow_private_channels: bool,
    /// SHA-256 hashes of platform probe tokens (`sha256:<64 hex>`): they list every
    /// organization's endpoints.
    pub probe_token_hashes: Vec<String>,
}

impl Default for AdminSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".parse().expect("literal address"),
            public_url: "http://127.0.0.1:8080".into(),
            sqlite_path: "scoville-admin.db".into(),
            session_ttl_hours: 24 * 14,
            allow_private_channels: false,
            probe_token_hashes: Vec::new(),
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

    /// The store.
    pub fn store(&self) -> Result<Arc<dyn AdminStore>, ConfigError> {
        if self.admin.session_ttl_hours == 0 || self.admin.session_ttl_hours > 24 * 90 {
            return Err(err("admin.session_ttl_hours", "must be between 1 and 2160"));
        }
        Ok(Arc::new(
            crate::store::sqlite::SqliteAdmin::open(&self.admin.sqlite_path)
                .map_err(|e| err("admin.sqlite_path", e.to_string()))?,
        ))
    }
}
