//! The embedded store of the all-in-one mode: SQLite (rusqlite, bundled), with the same
//! contract as InfluxDB's. Raw results are keyed by (endpoint, region, start in ms), so a
//! result written twice is one row; rollups per minute and hour are recomputed from the
//! raw rows of a period, with the same fields and the same nearest-rank percentiles as
//! InfluxDB's `percentile()`.
//!
//! SQLite is synchronous: calls run on tokio's blocking pool, one connection behind a
//! mutex (WAL mode, so readers are not blocked by the writer).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;
use rusqlite::{Connection, params};
use scoville_core::{ApdexClass, CheckResult};

use super::{CheckPoint, ResultStore, StoreError, align, class_of};

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA busy_timeout = 5000;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS check_result (
    endpoint_id TEXT NOT NULL,
    region TEXT NOT NULL,
    started_at_ms INTEGER NOT NULL,
    org_id TEXT NOT NULL,
    total_ms REAL NOT NULL,
    dns_ms REAL, connect_ms REAL, tls_ms REAL, ttfb_ms REAL,
    up INTEGER NOT NULL,
    satisfied INTEGER NOT NULL,
    tolerating INTEGER NOT NULL,
    frustrated INTEGER NOT NULL,
    status INTEGER,
    outcome TEXT NOT NULL,
    reason TEXT,
    message TEXT NOT NULL,
    run_id TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    mean_limit_ms INTEGER,
    PRIMARY KEY (endpoint_id, region, started_at_ms)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS check_result_time ON check_result (started_at_ms);
CREATE TABLE IF NOT EXISTS rollup (
    period TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    endpoint_id TEXT NOT NULL,
    region TEXT NOT NULL,
    org_id TEXT NOT NULL,
    count INTEGER NOT NULL,
    up INTEGER NOT NULL,
    satisfied INTEGER NOT NULL,
    tolerating INTEGER NOT NULL,
    frustrated INTEGER NOT NULL,
    p50 REAL, p95 REAL, p99 REAL, mean REAL,
    PRIMARY KEY (period, endpoint_id, region, start_ms)
) WITHOUT ROWID;
";

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

/// One rollup row, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupRow {
    /// Period start, Unix ms.
    pub start_ms: i64,
    /// Endpoint.
    pub endpoint_id: String,
    /// Region.
    pub region: String,
    /// Checks.
    pub count: u64,
    /// Up checks.
    pub up: u64,
    /// Apdex counts.
    pub satisfied: u64,
    /// Apdex counts.
    pub tolerating: u64,
    /// Apdex counts.
    pub frustrated: u64,
    /// Latency of up checks: p50, p95, p99, mean.
    pub p50: Option<f64>,
    /// p95.
    pub p95: Option<f64>,
    /// p99.
    pub p99: Option<f64>,
    /// Mean.
    pub mean: Option<f64>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`; `:memory:` for tests.
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
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(unavailable)?
    }

    /// Number of raw results stored.
    pub async fn count(&self) -> Result<u64, StoreError> {
        self.blocking(|c| {
            c.query_row("SELECT count(*) FROM check_result", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(unavailable)
            .map(|n| n as u64)
        })
        .await
    }

    /// Rollup rows of `period` (`1m` or `1h`) for an endpoint, oldest first.
    pub async fn rollups(
        &self,
        period: &'static str,
        endpoint_id: &str,
    ) -> Result<Vec<RollupRow>, StoreError> {
        let endpoint_id = endpoint_id.to_string();
        self.blocking(move |c| {
            let mut stmt = c
                .prepare(
                    "SELECT start_ms, endpoint_id, region, count, up, satisfied, tolerating, frustrated, p50, p95, p99, mean \
                     FROM rollup WHERE period = ?1 AND endpoint_id = ?2 ORDER BY start_ms, region",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![period, endpoint_id], |r| {
                    Ok(RollupRow {
                        start_ms: r.get(0)?,
                        endpoint_id: r.get(1)?,
                        region: r.get(2)?,
                        count: r.get::<_, i64>(3)? as u64,
                        up: r.get::<_, i64>(4)? as u64,
                        satisfied: r.get::<_, i64>(5)? as u64,
                        tolerating: r.get::<_, i64>(6)? as u64,
                        frustrated: r.get::<_, i64>(7)? as u64,
                        p50: r.get(8)?,
                        p95: r.get(9)?,
                        p99: r.get(10)?,
                        mean: r.get(11)?,
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
        })
        .await
    }

    async fn rollup(
        &self,
        period: &'static str,
        length: i64,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(), StoreError> {
        let (from, to) = align(from_ms, to_ms, length);
        self.blocking(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            {
                let mut groups: BTreeMap<(String, String, i64), Group> = BTreeMap::new();
                let mut stmt = tx
                    .prepare(
                        "SELECT endpoint_id, region, org_id, started_at_ms, total_ms, up, satisfied, tolerating, frustrated \
                         FROM check_result WHERE started_at_ms >= ?1 AND started_at_ms < ?2",
                    )
                    .map_err(unavailable)?;
                let mut rows = stmt.query(params![from, to]).map_err(unavailable)?;
                while let Some(r) = rows.next().map_err(unavailable)? {
                    let started: i64 = r.get(3).map_err(unavailable)?;
                    let key = (r.get(0).map_err(unavailable)?, r.get(1).map_err(unavailable)?, started.div_euclid(length) * length);
                    let g = groups.entry(key).or_default();
                    g.org_id = r.get(2).map_err(unavailable)?;
                    g.count += 1;
                    let up: i64 = r.get(5).map_err(unavailable)?;
                    g.up += up;
                    g.satisfied += r.get::<_, i64>(6).map_err(unavailable)?;
                    g.tolerating += r.get::<_, i64>(7).map_err(unavailable)?;
                    g.frustrated += r.get::<_, i64>(8).map_err(unavailable)?;
                    if up == 1 {
                        g.latencies.push(r.get(4).map_err(unavailable)?);
                    }
                }
                let mut insert = tx
                    .prepare(
                        "INSERT OR REPLACE INTO rollup (period, start_ms, endpoint_id, region, org_id, count, up, satisfied, \
                         tolerating, frustrated, p50, p95, p99, mean) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                    )
                    .map_err(unavailable)?;
                for ((endpoint, region, start), mut g) in groups {
                    g.latencies.sort_by(f64::total_cmp);
                    let mean = (!g.latencies.is_empty()).then(|| g.latencies.iter().sum::<f64>() / g.latencies.len() as f64);
                    insert
                        .execute(params![
                            period,
                            start,
                            endpoint,
                            region,
                            g.org_id,
                            g.count,
                            g.up,
                            g.satisfied,
                            g.tolerating,
                            g.frustrated,
                            percentile(&g.latencies, 50.0),
                            percentile(&g.latencies, 95.0),
                            percentile(&g.latencies, 99.0),
                            mean
                        ])
                        .map_err(unavailable)?;
                }
            }
            tx.commit().map_err(unavailable)
        })
        .await
    }
}

#[derive(Debug, Default)]
struct Group {
    org_id: String,
    count: i64,
    up: i64,
    satisfied: i64,
    tolerating: i64,
    frustrated: i64,
    latencies: Vec<f64>,
}

/// Nearest-rank percentile of sorted values, as InfluxDB's `percentile()` computes it.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((sorted.len() as f64 * p / 100.0 + 0.5) as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

impl ResultStore for SqliteStore {
    fn write<'a>(&'a self, results: &'a [CheckResult]) -> BoxFuture<'a, Result<(), StoreError>> {
        let results = results.to_vec();
        async move {
            self.blocking(move |c| {
                let tx = c.transaction().map_err(unavailable)?;
                {
                    let mut insert = tx
                        .prepare_cached(
                            "INSERT OR REPLACE INTO check_result (endpoint_id, region, started_at_ms, org_id, total_ms, dns_ms, \
                             connect_ms, tls_ms, ttfb_ms, up, satisfied, tolerating, frustrated, status, outcome, reason, message, \
                             run_id, bytes, mean_limit_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
                        )
                        .map_err(unavailable)?;
                    for r in &results {
                        let rep = &r.report;
                        let t = &rep.timings;
                        let class = r.apdex_class();
                        insert
                            .execute(params![
                                r.endpoint_id.as_str(),
                                r.region.as_str(),
                                r.started_at_ms,
                                r.org_id.as_str(),
                                t.total_ms,
                                t.dns_ms,
                                t.connect_ms,
                                t.tls_ms,
                                t.ttfb_ms,
                                rep.outcome.is_up(),
                                class == ApdexClass::Satisfied,
                                class == ApdexClass::Tolerating,
                                class == ApdexClass::Frustrated,
                                rep.status,
                                rep.outcome.kind(),
                                rep.outcome.reason(),
                                rep.message,
                                r.run_id.as_str(),
                                rep.bytes as i64,
                                r.mean_limit_ms,
                            ])
                            .map_err(unavailable)?;
                    }
                }
                tx.commit().map_err(unavailable)
            })
            .await
        }
        .boxed()
    }

    fn rollup_minutes(&self, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<(), StoreError>> {
        self.rollup("1m", 60_000, from_ms, to_ms).boxed()
    }

    fn rollup_hours(&self, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<(), StoreError>> {
        self.rollup("1h", 3_600_000, from_ms, to_ms).boxed()
    }

    fn checks(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<CheckPoint>, StoreError>> {
        self.blocking(move |c| {
            let mut q = c
                .prepare_cached(
                    "SELECT org_id, endpoint_id, region, started_at_ms, total_ms, satisfied, tolerating, mean_limit_ms \
                     FROM check_result WHERE started_at_ms >= ?1 AND started_at_ms < ?2 ORDER BY started_at_ms",
                )
                .map_err(unavailable)?;
            let rows = q
                .query_map(params![from_ms, to_ms], |r| {
                    Ok(CheckPoint {
                        org_id: r.get(0)?,
                        endpoint_id: r.get(1)?,
                        region: r.get(2)?,
                        started_at_ms: r.get(3)?,
                        total_ms: r.get(4)?,
                        class: class_of(r.get(5)?, r.get(6)?),
                        mean_limit_ms: r.get(7)?,
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v = [10.0, 20.0, 30.0, 40.0];
        assert_eq!(percentile(&v, 50.0), Some(20.0));
        assert_eq!(percentile(&v, 99.0), Some(40.0));
        assert_eq!(
            percentile(&[10.0, 30.0], 50.0),
            Some(10.0),
            "as InfluxDB answers"
        );
        assert_eq!(percentile(&[], 50.0), None);
    }
}
