//! The incident log on SQLite: `incident_log` (one row per incident) and
//! `incident_timeline` (one row per entry, keyed by incident and [`TimelineEntry::key`]).
//! It can live in the failure service's own file: the admin API opens the same file
//! (WAL lets one process write while another reads). Calls run on tokio's blocking pool,
//! one connection behind a mutex.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, Row, params};
use scoville_core::{EndpointId, OrgId};

use crate::{Incident, IncidentLog, IncidentQuery, LogWrite, Result, TimelineEntry, unavailable};

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA busy_timeout = 5000;
CREATE TABLE IF NOT EXISTS incident_log (
    org_id TEXT NOT NULL,
    id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    started_at_ms INTEGER NOT NULL,
    confirmed_at_ms INTEGER NOT NULL,
    resolved_at_ms INTEGER,
    regions TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS incident_log_by_time ON incident_log (org_id, confirmed_at_ms);
CREATE INDEX IF NOT EXISTS incident_log_open ON incident_log (org_id, endpoint_id)
    WHERE resolved_at_ms IS NULL;
CREATE TABLE IF NOT EXISTS incident_timeline (
    org_id TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    entry_key TEXT NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (org_id, incident_id, entry_key)
) WITHOUT ROWID;
";

/// The SQLite incident log.
#[derive(Debug, Clone)]
pub struct SqliteLog {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteLog {
    /// Opens (creating its tables in) the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(unavailable)?;
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || f(&mut conn.lock().unwrap_or_else(|p| p.into_inner())))
            .await
            .map_err(unavailable)?
    }
}

fn incident(r: &Row<'_>) -> rusqlite::Result<Incident> {
    let org: String = r.get(0)?;
    let endpoint: String = r.get(2)?;
    let regions: String = r.get(6)?;
    let bad = |e: String| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    };
    Ok(Incident {
        org_id: OrgId::parse(org).map_err(bad)?,
        id: r.get(1)?,
        endpoint_id: EndpointId::parse(endpoint).map_err(bad)?,
        started_at_ms: r.get(3)?,
        confirmed_at_ms: r.get(4)?,
        resolved_at_ms: r.get(5)?,
        regions: serde_json::from_str(&regions).map_err(|e| bad(e.to_string()))?,
        error: r.get(7)?,
    })
}

const COLUMNS: &str = "org_id, id, endpoint_id, started_at_ms, confirmed_at_ms, resolved_at_ms, \
                       regions, error";

#[async_trait::async_trait]
impl IncidentLog for SqliteLog {
    async fn append(&self, writes: &[LogWrite]) -> Result<()> {
        let rows: Vec<(LogWrite, String, String)> = writes
            .iter()
            .map(|w| {
                let regions = serde_json::to_string(&w.incident.regions).map_err(unavailable)?;
                let entry = serde_json::to_string(&w.entry).map_err(unavailable)?;
                Ok((w.clone(), regions, entry))
            })
            .collect::<Result<_>>()?;
        self.blocking(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            for (w, regions, entry) in rows {
                let i = &w.incident;
                tx.prepare_cached(
                    "INSERT INTO incident_log (org_id, id, endpoint_id, started_at_ms, \
                     confirmed_at_ms, resolved_at_ms, regions, error) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                     ON CONFLICT (org_id, id) DO UPDATE SET resolved_at_ms = \
                     COALESCE(incident_log.resolved_at_ms, excluded.resolved_at_ms)",
                )
                .map_err(unavailable)?
                .execute(params![
                    i.org_id.as_str(),
                    i.id,
                    i.endpoint_id.as_str(),
                    i.started_at_ms,
                    i.confirmed_at_ms,
                    i.resolved_at_ms,
                    regions,
                    i.error
                ])
                .map_err(unavailable)?;
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO incident_timeline (org_id, incident_id, entry_key, \
                     entry) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(unavailable)?
                .execute(params![i.org_id.as_str(), i.id, w.entry.key(), entry])
                .map_err(unavailable)?;
            }
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn open_endpoints(&self) -> Result<Vec<(OrgId, EndpointId)>> {
        self.blocking(|c| {
            let mut q = c
                .prepare_cached(
                    "SELECT DISTINCT org_id, endpoint_id FROM incident_log \
                     WHERE resolved_at_ms IS NULL",
                )
                .map_err(unavailable)?;
            let rows = q
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(unavailable)?;
            rows.map(|r| {
                let (org, endpoint) = r.map_err(unavailable)?;
                Ok((
                    OrgId::parse(org).map_err(unavailable)?,
                    EndpointId::parse(endpoint).map_err(unavailable)?,
                ))
            })
            .collect()
        })
        .await
    }

    async fn open_endpoints_since(&self) -> Result<Vec<(OrgId, EndpointId, Option<i64>)>> {
        self.blocking(|c| {
            let mut q = c
                .prepare_cached(
                    "SELECT org_id, endpoint_id, MAX(confirmed_at_ms) FROM incident_log \
                     WHERE resolved_at_ms IS NULL GROUP BY org_id, endpoint_id",
                )
                .map_err(unavailable)?;
            let rows = q
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .map_err(unavailable)?;
            rows.map(|r| {
                let (org, endpoint, confirmed) = r.map_err(unavailable)?;
                Ok((
                    OrgId::parse(org).map_err(unavailable)?,
                    EndpointId::parse(endpoint).map_err(unavailable)?,
                    Some(confirmed),
                ))
            })
            .collect()
        })
        .await
    }

    async fn incidents(&self, org: &OrgId, query: &IncidentQuery) -> Result<Vec<Incident>> {
        let org = org.as_str().to_string();
        let query = query.clone();
        self.blocking(move |c| {
            let sql = format!(
                "SELECT {COLUMNS} FROM incident_log WHERE org_id = ?1 \
                 AND (?2 IS NULL OR endpoint_id = ?2) \
                 AND (?3 IS NULL OR (resolved_at_ms IS NULL) = ?3) \
                 AND (?4 IS NULL OR confirmed_at_ms < ?4 OR (confirmed_at_ms = ?4 AND id < ?6)) \
                 ORDER BY confirmed_at_ms DESC, id DESC LIMIT ?5"
            );
            let mut q = c.prepare_cached(&sql).map_err(unavailable)?;
            let rows = q
                .query_map(
                    params![
                        org,
                        query.endpoint_id.as_ref().map(|e| e.as_str().to_string()),
                        query.open,
                        query.after.as_ref().map(|a| a.0),
                        query.limit as i64,
                        query.after.as_ref().map(|a| a.1.clone())
                    ],
                    incident,
                )
                .map_err(unavailable)?;
            rows.map(|r| r.map_err(unavailable)).collect()
        })
        .await
    }

    async fn incident(
        &self,
        org: &OrgId,
        id: &str,
    ) -> Result<Option<(Incident, Vec<TimelineEntry>)>> {
        let (org, id) = (org.as_str().to_string(), id.to_string());
        self.blocking(move |c| {
            let sql = format!("SELECT {COLUMNS} FROM incident_log WHERE org_id = ?1 AND id = ?2");
            let Some(found) = c
                .prepare_cached(&sql)
                .map_err(unavailable)?
                .query_row(params![org, id], incident)
                .optional()
                .map_err(unavailable)?
            else {
                return Ok(None);
            };
            let mut q = c
                .prepare_cached(
                    "SELECT entry FROM incident_timeline WHERE org_id = ?1 AND incident_id = ?2 \
                     ORDER BY entry_key",
                )
                .map_err(unavailable)?;
            let entries = q
                .query_map(params![org, id], |r| r.get::<_, String>(0))
                .map_err(unavailable)?
                .map(|r| {
                    serde_json::from_str::<TimelineEntry>(&r.map_err(unavailable)?)
                        .map_err(unavailable)
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Some((found, entries)))
        })
        .await
    }
}
