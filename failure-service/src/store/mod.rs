//! Where each endpoint's incident state lives, as a port with two adapters:
//! [`dynamodb::DynamoStore`] (servers and Lambda) and [`sqlite::SqliteStore`] (the
//! embedded default). A record holds the machine's state, an outbox of notification jobs
//! not yet handed to the queue and of incident log writes not yet applied, and a version: a save names the version it read and fails
//! with [`StoreError::Conflict`] when another writer saved first, so two instances
//! handling results of one endpoint at once never both open an incident; the loser reads
//! again and re-applies its events.

pub mod dynamodb;
pub mod sqlite;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use scoville_core::incident::EndpointIncidents;
use scoville_core::notice::NotificationJob;
use serde::{Deserialize, Serialize};

/// One endpoint's stored record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The machine's state.
    pub state: EndpointIncidents,
    /// Jobs decided but not yet on the notification queue.
    pub outbox: Vec<NotificationJob>,
    /// Incident log writes not yet applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<scoville_incident_log::LogWrite>,
    /// 0 for a record never saved.
    #[serde(skip)]
    pub version: u64,
}

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Another writer saved since this record was read.
    #[error("the record changed since it was read")]
    Conflict,
    /// The store could not be reached or answered badly; retry later.
    #[error("state store unavailable: {0}")]
    Unavailable(String),
}

/// The state store.
pub trait IncidentStore: Send + Sync + std::fmt::Debug {
    /// The record of `key` (a default record with version 0 when there is none).
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Record, StoreError>>;

    /// Saves `record` if the stored version is still `record.version`; returns the new
    /// version.
    fn save<'a>(
        &'a self,
        key: &'a str,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// Readiness: the store answers.
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>>;

    /// The records of `keys`, in order (by default 32 single loads at a time; SQLite
    /// reads them in one go).
    fn load_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Record>, StoreError>> {
        async move {
            let loads: Vec<_> = keys.iter().map(|k| self.load(k)).collect();
            futures::stream::iter(loads)
                .buffered(32)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect()
        }
        .boxed()
    }

    /// Saves each record as [`IncidentStore::save`] would, returning each outcome in
    /// order (by default 32 single saves at a time; SQLite saves them in one
    /// transaction).
    fn save_many<'a>(
        &'a self,
        records: &'a [(String, Record)],
    ) -> BoxFuture<'a, Result<Vec<Result<u64, StoreError>>, StoreError>> {
        async move {
            let saves: Vec<_> = records.iter().map(|(k, r)| self.save(k, r)).collect();
            Ok(futures::stream::iter(saves)
                .buffered(32)
                .collect::<Vec<_>>()
                .await)
        }
        .boxed()
    }
}

pub(crate) fn encode(record: &Record) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|e| StoreError::Unavailable(e.to_string()))
}

pub(crate) fn decode(json: &str, version: u64) -> Result<Record, StoreError> {
    let mut r: Record = serde_json::from_str(json)
        .map_err(|e| StoreError::Unavailable(format!("unreadable record: {e}")))?;
    r.version = version;
    Ok(r)
}
