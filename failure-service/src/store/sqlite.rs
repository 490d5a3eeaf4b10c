//! The embedded state store: one SQLite table `incident_state (key, record, version)`;
//! a save is an `INSERT` for a new record or an `UPDATE ... WHERE version = ?`, so a
//! stale writer gets [`StoreError::Conflict`]. Calls run on tokio's blocking pool, one
//! connection behind a mutex (WAL, `synchronous = NORMAL`).

use std::path::Path;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;
use rusqlite::{Connection, OptionalExtension, params};

use super::{IncidentStore, Record, StoreError, decode, encode};

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA busy_timeout = 5000;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS incident_state (
    key TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    version INTEGER NOT NULL
) WITHOUT ROWID;
";

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl SqliteStore {
    /// Opens (creating) the database at `path`; `:memory:` for tests.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(unavailable)?;
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || f(&mut conn.lock().unwrap_or_else(|p| p.into_inner())))
            .await
            .map_err(unavailable)?
    }
}

/// One conditional save: the outer error is the database's, the inner the conflict.
fn save_one(
    c: &Connection,
    key: &str,
    expected: u64,
    json: &str,
) -> Result<Result<u64, StoreError>, StoreError> {
    let next = expected + 1;
    let changed = if expected == 0 {
        c.prepare_cached(
            "INSERT OR IGNORE INTO incident_state (key, record, version) VALUES (?1, ?2, ?3)",
        )
        .map_err(unavailable)?
        .execute(params![key, json, next as i64])
    } else {
        c.prepare_cached(
            "UPDATE incident_state SET record = ?2, version = ?3 WHERE key = ?1 AND version = ?4",
        )
        .map_err(unavailable)?
        .execute(params![key, json, next as i64, expected as i64])
    }
    .map_err(unavailable)?;
    Ok(if changed == 1 {
        Ok(next)
    } else {
        Err(StoreError::Conflict)
    })
}

impl IncidentStore for SqliteStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Record, StoreError>> {
        let key = key.to_string();
        self.blocking(move |c| {
            let row: Option<(String, i64)> = c
                .prepare_cached("SELECT record, version FROM incident_state WHERE key = ?1")
                .map_err(unavailable)?
                .query_row(params![key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(unavailable)?;
            match row {
                Some((json, version)) => decode(&json, version as u64),
                None => Ok(Record::default()),
            }
        })
        .boxed()
    }

    fn save<'a>(
        &'a self,
        key: &'a str,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        let key = key.to_string();
        let expected = record.version;
        let json = encode(record);
        self.blocking(move |c| save_one(c, &key, expected, &json?)?)
            .boxed()
    }

    fn load_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Record>, StoreError>> {
        let keys = keys.to_vec();
        self.blocking(move |c| {
            let mut q = c
                .prepare_cached("SELECT record, version FROM incident_state WHERE key = ?1")
                .map_err(unavailable)?;
            keys.iter()
                .map(|key| {
                    let row: Option<(String, i64)> = q
                        .query_row(params![key], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()
                        .map_err(unavailable)?;
                    match row {
                        Some((json, version)) => decode(&json, version as u64),
                        None => Ok(Record::default()),
                    }
                })
                .collect()
        })
        .boxed()
    }

    fn save_many<'a>(
        &'a self,
        records: &'a [(String, Record)],
    ) -> BoxFuture<'a, Result<Vec<Result<u64, StoreError>>, StoreError>> {
        let encoded: Vec<(String, u64, Result<String, StoreError>)> = records
            .iter()
            .map(|(k, r)| (k.clone(), r.version, encode(r)))
            .collect();
        self.blocking(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            let mut out = Vec::with_capacity(encoded.len());
            for (key, expected, json) in encoded {
                out.push(match json {
                    Ok(json) => save_one(&tx, &key, expected, &json)?,
                    Err(e) => Err(e),
                });
            }
            tx.commit().map_err(unavailable)?;
            Ok(out)
        })
        .boxed()
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.blocking(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(unavailable))
            .boxed()
    }
}
