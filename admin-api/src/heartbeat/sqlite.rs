//! Heartbeat state on SQLite: one table in the admin store's file (its own connection,
//! WAL), keyed by (org, endpoint), the token hash unique.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use scoville_core::{EndpointId, OrgId};

use super::store::{Beat, Heard, HeartbeatStore, Result};
use crate::store::StoreError;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA busy_timeout = 5000;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS heartbeats (
    org_id TEXT NOT NULL, endpoint_id TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
    last_ping_ms INTEGER, last_ok INTEGER, last_start_ms INTEGER, reported_ms INTEGER,
    PRIMARY KEY (org_id, endpoint_id)) WITHOUT ROWID;
";

const COLUMNS: &str = "org_id, endpoint_id, last_ping_ms, last_ok, last_start_ms, reported_ms";

/// The SQLite heartbeat store.
#[derive(Debug, Clone)]
pub struct SqliteHeartbeats {
    conn: Arc<Mutex<Connection>>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

type Row = (
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn beat_of((org, id, ping, ok, start, reported): Row) -> Result<Beat> {
    Ok(Beat {
        org_id: OrgId::parse(org).map_err(unavailable)?,
        endpoint_id: EndpointId::parse(id).map_err(unavailable)?,
        last_ping_ms: ping,
        last_ok: ok.map(|v| v != 0),
        last_start_ms: start,
        reported_ms: reported,
    })
}

impl SqliteHeartbeats {
    /// Opens (creating) the table in `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(unavailable)?;
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        crate::store::sqlite::on_blocking_pool(&self.conn, move |c| f(c).map_err(unavailable)).await
    }
}

#[async_trait]
impl HeartbeatStore for SqliteHeartbeats {
    async fn set_token(&self, org: &OrgId, id: &EndpointId, token_hash: &str) -> Result<()> {
        let (org, id, hash) = (org.to_string(), id.to_string(), token_hash.to_string());
        self.run(move |c| {
            c.execute(
                "INSERT INTO heartbeats (org_id, endpoint_id, token_hash) VALUES (?1, ?2, ?3)
                 ON CONFLICT (org_id, endpoint_id) DO UPDATE SET token_hash = excluded.token_hash",
                params![org, id, hash],
            )
            .map(|_| ())
        })
        .await
    }

    async fn by_token(&self, token_hash: &str) -> Result<Option<Beat>> {
        let hash = token_hash.to_string();
        let found = self
            .run(move |c| {
                c.query_row(
                    &format!("SELECT {COLUMNS} FROM heartbeats WHERE token_hash = ?1"),
                    params![hash],
                    row,
                )
                .optional()
            })
            .await?;
        found.map(beat_of).transpose()
    }

    async fn beat(&self, org: &OrgId, id: &EndpointId) -> Result<Option<Beat>> {
        let (org, id) = (org.to_string(), id.to_string());
        let found = self
            .run(move |c| {
                c.query_row(
                    &format!(
                        "SELECT {COLUMNS} FROM heartbeats WHERE org_id = ?1 AND endpoint_id = ?2"
                    ),
                    params![org, id],
                    row,
                )
                .optional()
            })
            .await?;
        found.map(beat_of).transpose()
    }

    async fn record(&self, org: &OrgId, id: &EndpointId, heard: Heard) -> Result<()> {
        let (org, id) = (org.to_string(), id.to_string());
        self.run(move |c| {
            let (sql, a, b): (&str, i64, Option<i64>) = match heard {
                Heard::Start(at) => (
                    "UPDATE heartbeats SET last_start_ms = ?3
                     WHERE org_id = ?1 AND endpoint_id = ?2
                       AND (last_start_ms IS NULL OR last_start_ms < ?3)",
                    at,
                    None,
                ),
                Heard::Finish { at_ms, ok } => (
                    "UPDATE heartbeats SET last_ping_ms = ?3, last_ok = ?4
                     WHERE org_id = ?1 AND endpoint_id = ?2
                       AND (last_ping_ms IS NULL OR last_ping_ms <= ?3)",
                    at_ms,
                    Some(i64::from(ok)),
                ),
                Heard::Reported(deadline) => (
                    "UPDATE heartbeats SET reported_ms = ?3
                     WHERE org_id = ?1 AND endpoint_id = ?2
                       AND (reported_ms IS NULL OR reported_ms < ?3)",
                    deadline,
                    None,
                ),
            };
            match b {
                Some(b) => c.execute(sql, params![org, id, a, b]),
                None => c.execute(sql, params![org, id, a]),
            }
            .map(|_| ())
        })
        .await
    }

    async fn all(&self, limit: usize) -> Result<Vec<Beat>> {
        let rows = self
            .run(move |c| {
                let mut stmt = c.prepare(&format!(
                    "SELECT {COLUMNS} FROM heartbeats ORDER BY org_id, endpoint_id LIMIT ?1"
                ))?;
                let rows = stmt.query_map(params![limit as i64], row)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        rows.into_iter().map(beat_of).collect()
    }

    async fn remove(&self, org: &OrgId, id: &EndpointId) -> Result<()> {
        let (org, id) = (org.to_string(), id.to_string());
        self.run(move |c| {
            c.execute(
                "DELETE FROM heartbeats WHERE org_id = ?1 AND endpoint_id = ?2",
                params![org, id],
            )
            .map(|_| ())
        })
        .await
    }
}
