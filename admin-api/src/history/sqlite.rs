//! History from the embedded store's SQLite file (the receiver's `SqliteStore` writes it:
//! tables `check_result` and `rollup`), read on this reader's own connections
//! (`query_only`, WAL, so the writer never blocks them), on tokio's blocking pool.
//!
//! Both tables are `WITHOUT ROWID`, clustered on their primary keys: `rollup` on
//! (period, endpoint_id, region, start_ms), `check_result` on (endpoint_id, region,
//! started_at_ms). A range read of one endpoint across regions would scan every row of
//! the endpoint (the region comes before the time in the key), so the reader first finds
//! the endpoint's regions by seeking the key (`region > ?` ... `LIMIT 1`, one b-tree
//! search per region: a loose index scan), then reads each region's range as one
//! contiguous stretch of the primary key. No index is added to the receiver's file; the
//! tests check the plans. `org_id` is not in the keys (endpoint ids are unique across
//! orgs), and every statement also filters by it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use rusqlite::{Connection, ErrorCode, OpenFlags, params};
use scoville_core::{ApdexClass, EndpointId, OrgId, Region, Timings};

use super::{
    DayCount, History, HistoryError, HistoryQuery, HistoryStore, ResultRow, ResultsQuery, Rollup,
    RollupRow, aggregate, day_query, sum_days,
};

/// The next region (after `?3`) with rollups of period `?1` for endpoint `?2`.
pub(crate) const NEXT_ROLLUP_REGION: &str = "SELECT region FROM rollup WHERE period = ?1 AND endpoint_id = ?2 AND region > ?3 \
     ORDER BY region LIMIT 1";
/// One region's rollups in a range.
pub(crate) const ROLLUP_RANGE: &str = "SELECT start_ms, count, up, satisfied, tolerating, frustrated, p50, p95, p99, mean FROM rollup \
     WHERE period = ?1 AND endpoint_id = ?2 AND region = ?3 AND start_ms >= ?4 AND start_ms < ?5 AND org_id = ?6 \
     ORDER BY start_ms";
/// The next region (after `?2`) with raw results of endpoint `?1`.
pub(crate) const NEXT_RESULT_REGION: &str = "SELECT region FROM check_result WHERE endpoint_id = ?1 AND region > ?2 ORDER BY region LIMIT 1";
/// One region's raw results in a range, newest first.
pub(crate) const RESULT_RANGE: &str = "SELECT started_at_ms, total_ms, dns_ms, connect_ms, tls_ms, ttfb_ms, up, satisfied, tolerating, \
     outcome, reason, status, message, bytes, run_id FROM check_result \
     WHERE endpoint_id = ?1 AND region = ?2 AND started_at_ms >= ?3 AND started_at_ms < ?4 AND org_id = ?5 \
     ORDER BY started_at_ms DESC LIMIT ?6";

/// At most this many idle read connections are kept.
const MAX_IDLE: usize = 4;
/// At most this many regions per endpoint are read (a guard, far above any real count).
const MAX_REGIONS: usize = 256;

/// The SQLite reader.
#[derive(Debug, Clone)]
pub struct SqliteHistory {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

fn sql_error(e: rusqlite::Error) -> HistoryError {
    let unavailable = match &e {
        rusqlite::Error::SqliteFailure(f, msg) => {
            matches!(
                f.code,
                ErrorCode::DatabaseBusy
                    | ErrorCode::DatabaseLocked
                    | ErrorCode::CannotOpen
                    | ErrorCode::SystemIoFailure
                    | ErrorCode::OutOfMemory
                    | ErrorCode::NotADatabase
            ) || msg.as_deref().is_some_and(|m| m.contains("no such table"))
        }
        _ => false,
    };
    if unavailable {
        HistoryError::Unavailable(format!("SQLite: {e}"))
    } else {
        HistoryError::Query(format!("SQLite: {e}"))
    }
}

fn open_connection(path: &Path) -> Result<Connection, HistoryError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(sql_error)?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(sql_error)?;
    // Reads seek all over a file that grows by every result: a larger page cache and
    // memory-mapped reads keep the live status of 10,000 endpoints (30,000 seeks) from
    // slowing down as the file outgrows SQLite's 2 MB default cache.
    conn.execute_batch(
        "PRAGMA query_only = ON; PRAGMA cache_size = -32768; PRAGMA mmap_size = 1073741824;",
    )
    .map_err(sql_error)?;
    Ok(conn)
}

impl SqliteHistory {
    /// Opens the receiver's SQLite file at `path` for reading (it must exist; the tables
    /// may appear later: until then reads answer [`HistoryError::Unavailable`]).
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, HistoryError> {
        let path = path.into();
        let first = open_connection(&path)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                idle: Mutex::new(vec![first]),
            }),
        })
    }

    /// Runs `f` on an idle connection (or a new one) on the blocking pool.
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, HistoryError> + Send + 'static,
    ) -> Result<T, HistoryError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let taken = inner.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let conn = match taken {
                Some(c) => c,
                None => open_connection(&inner.path)?,
            };
            let out = f(&conn);
            let mut idle = inner.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
            out
        })
        .await
        .map_err(|e| HistoryError::Unavailable(format!("SQLite task: {e}")))?
    }
}

/// The endpoint's regions in `next_sql` order: one key seek per region.
fn regions(
    c: &Connection,
    next_sql: &str,
    bind: impl Fn(&str) -> Vec<rusqlite::types::Value>,
) -> Result<Vec<String>, HistoryError> {
    let mut stmt = c.prepare_cached(next_sql).map_err(sql_error)?;
    let mut out: Vec<String> = Vec::new();
    loop {
        let after = out.last().map(String::as_str).unwrap_or("");
        let next: Option<String> = stmt
            .query_row(rusqlite::params_from_iter(bind(after)), |r| r.get(0))
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(sql_error)?;
        match next {
            Some(r) if out.len() < MAX_REGIONS => out.push(r),
            _ => return Ok(out),
        }
    }
}

fn period(rollup: Rollup) -> &'static str {
    match rollup {
        Rollup::Minute => "1m",
        Rollup::Hour => "1h",
    }
}

fn read_rollups(
    c: &Connection,
    org_id: &str,
    endpoint_id: &str,
    q: &HistoryQuery,
) -> Result<Vec<RollupRow>, HistoryError> {
    let period = period(q.rollup());
    let regions = match &q.region {
        Some(r) => vec![r.as_str().to_string()],
        None => regions(c, NEXT_ROLLUP_REGION, |after| {
            vec![
                period.to_string().into(),
                endpoint_id.to_string().into(),
                after.to_string().into(),
            ]
        })?,
    };
    let mut stmt = c.prepare_cached(ROLLUP_RANGE).map_err(sql_error)?;
    let mut out = Vec::new();
    for region in regions {
        let rows = stmt
            .query_map(
                params![period, endpoint_id, region, q.from_ms, q.to_ms, org_id],
                |r| {
                    Ok(RollupRow {
                        start_ms: r.get(0)?,
                        region: region.clone(),
                        count: r.get::<_, i64>(1)?.max(0) as u64,
                        up: r.get::<_, i64>(2)?.max(0) as u64,
                        satisfied: r.get::<_, i64>(3)?.max(0) as u64,
                        tolerating: r.get::<_, i64>(4)?.max(0) as u64,
                        frustrated: r.get::<_, i64>(5)?.max(0) as u64,
                        p50: r.get(6)?,
                        p95: r.get(7)?,
                        p99: r.get(8)?,
                        mean: r.get(9)?,
                    })
                },
            )
            .map_err(sql_error)?;
        for row in rows {
            out.push(row.map_err(sql_error)?);
        }
    }
    Ok(out)
}

/// The latest result of each region of an endpoint started at or after `since_ms`,
/// by region.
fn latest_rows(
    c: &Connection,
    org: &str,
    endpoint: &str,
    since_ms: i64,
) -> Result<Vec<ResultRow>, HistoryError> {
    let regions = regions(c, NEXT_RESULT_REGION, |after| {
        vec![endpoint.to_string().into(), after.to_string().into()]
    })?;
    let mut out = Vec::new();
    for region in regions {
        let region = Region::parse(region).map_err(HistoryError::Query)?;
        out.extend(read_results(
            c,
            org,
            endpoint,
            Some(&region),
            since_ms,
            i64::MAX,
            1,
        )?);
    }
    out.sort_by(|a, b| a.region.cmp(&b.region));
    Ok(out)
}

fn read_results(
    c: &Connection,
    org_id: &str,
    endpoint_id: &str,
    region: Option<&Region>,
    from_ms: i64,
    to_ms: i64,
    limit: u32,
) -> Result<Vec<ResultRow>, HistoryError> {
    let regions = match region {
        Some(r) => vec![r.as_str().to_string()],
        None => regions(c, NEXT_RESULT_REGION, |after| {
            vec![endpoint_id.to_string().into(), after.to_string().into()]
        })?,
    };
    let mut stmt = c.prepare_cached(RESULT_RANGE).map_err(sql_error)?;
    let mut out = Vec::new();
    for region in regions {
        let rows = stmt
            .query_map(
                params![endpoint_id, region, from_ms, to_ms, org_id, limit],
                |r| {
                    let satisfied: i64 = r.get(7)?;
                    let tolerating: i64 = r.get(8)?;
                    Ok(ResultRow {
                        started_at_ms: r.get(0)?,
                        region: region.clone(),
                        timings: Timings {
                            total_ms: r.get(1)?,
                            dns_ms: r.get(2)?,
                            connect_ms: r.get(3)?,
                            tls_ms: r.get(4)?,
                            ttfb_ms: r.get(5)?,
                        },
                        up: r.get::<_, i64>(6)? != 0,
                        apdex: if satisfied != 0 {
                            ApdexClass::Satisfied
                        } else if tolerating != 0 {
                            ApdexClass::Tolerating
                        } else {
                            ApdexClass::Frustrated
                        },
                        outcome: r.get(9)?,
                        reason: r.get(10)?,
                        status: r
                            .get::<_, Option<i64>>(11)?
                            .and_then(|s| u16::try_from(s).ok()),
                        message: r.get(12)?,
                        bytes: r.get::<_, i64>(13)?.max(0) as u64,
                        run_id: r.get(14)?,
                    })
                },
            )
            .map_err(sql_error)?;
        for row in rows {
            out.push(row.map_err(sql_error)?);
        }
    }
    out.sort_by(|a, b| {
        b.started_at_ms
            .cmp(&a.started_at_ms)
            .then_with(|| a.region.cmp(&b.region))
    });
    out.truncate(limit as usize);
    Ok(out)
}

impl HistoryStore for SqliteHistory {
    fn history<'a>(
        &'a self,
        org_id: &'a OrgId,
        endpoint_id: &'a EndpointId,
        q: &'a HistoryQuery,
    ) -> BoxFuture<'a, Result<History, HistoryError>> {
        let (org, endpoint, query) = (org_id.to_string(), endpoint_id.to_string(), q.clone());
        async move {
            let rows = self
                .with_conn(move |c| read_rollups(c, &org, &endpoint, &query))
                .await?;
            Ok(aggregate::history(endpoint_id, q, rows))
        }
        .boxed()
    }

    fn history_many<'a>(
        &'a self,
        org_id: &'a OrgId,
        endpoints: &'a [EndpointId],
        q: &'a HistoryQuery,
    ) -> BoxFuture<'a, Result<Vec<History>, HistoryError>> {
        let org = org_id.to_string();
        let ids: Vec<String> = endpoints.iter().map(|e| e.to_string()).collect();
        let query = q.clone();
        async move {
            // One trip to the blocking pool: the reads are primary-key range scans.
            let rows = self
                .with_conn(move |c| {
                    ids.iter()
                        .map(|endpoint| read_rollups(c, &org, endpoint, &query))
                        .collect::<Result<Vec<_>, _>>()
                })
                .await?;
            Ok(endpoints
                .iter()
                .zip(rows)
                .map(|(endpoint, rows)| aggregate::history(endpoint, q, rows))
                .collect())
        }
        .boxed()
    }

    fn daily_counts<'a>(
        &'a self,
        org_id: &'a OrgId,
        endpoint_id: &'a EndpointId,
        from_ms: i64,
        days: usize,
    ) -> BoxFuture<'a, Result<Vec<DayCount>, HistoryError>> {
        let (org, endpoint) = (org_id.to_string(), endpoint_id.to_string());
        async move {
            // The hour rollups' primary-key ranges, summed here: no percentiles merged.
            let q = day_query(from_ms, days)?;
            let range = q.clone();
            let rows = self
                .with_conn(move |c| read_rollups(c, &org, &endpoint, &q))
                .await?;
            Ok(sum_days(
                &range,
                rows.iter().map(|r| (r.start_ms, r.count, r.up)),
            ))
        }
        .boxed()
    }

    fn results<'a>(
        &'a self,
        org_id: &'a OrgId,
        endpoint_id: &'a EndpointId,
        q: &'a ResultsQuery,
    ) -> BoxFuture<'a, Result<Vec<ResultRow>, HistoryError>> {
        let (org, endpoint, q) = (org_id.to_string(), endpoint_id.to_string(), q.clone());
        self.with_conn(move |c| {
            read_results(
                c,
                &org,
                &endpoint,
                q.region.as_ref(),
                q.from_ms,
                q.to_ms,
                q.limit,
            )
        })
        .boxed()
    }

    fn latest<'a>(
        &'a self,
        org_id: &'a OrgId,
        endpoint_id: &'a EndpointId,
        since_ms: i64,
    ) -> BoxFuture<'a, Result<Vec<ResultRow>, HistoryError>> {
        let (org, endpoint) = (org_id.to_string(), endpoint_id.to_string());
        self.with_conn(move |c| latest_rows(c, &org, &endpoint, since_ms))
            .boxed()
    }

    fn latest_many<'a>(
        &'a self,
        org_id: &'a OrgId,
        asks: &'a [(EndpointId, i64)],
    ) -> BoxFuture<'a, Result<Vec<Vec<ResultRow>>, HistoryError>> {
        let org = org_id.to_string();
        let asks: Vec<(String, i64)> = asks
            .iter()
            .map(|(e, since)| (e.to_string(), *since))
            .collect();
        // One trip to the blocking pool for all of them: the per-endpoint reads are
        // primary-key seeks, the trip is what costs.
        self.with_conn(move |c| {
            asks.iter()
                .map(|(endpoint, since_ms)| latest_rows(c, &org, endpoint, *since_ms))
                .collect()
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scoville_receiver_service::store::sqlite::SqliteStore;

    /// Every statement is served by a primary-key search, never a scan or a sort.
    #[test]
    fn plans_use_the_primary_keys() {
        let dir = std::env::temp_dir().join(format!(
            "scoville-history-plan-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.db");
        let _writer = SqliteStore::open(&path).unwrap();
        let c = open_connection(&path).unwrap();
        let plan = |sql: &str, n: usize| -> String {
            let args: Vec<rusqlite::types::Value> =
                (0..n).map(|_| rusqlite::types::Value::Integer(1)).collect();
            let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = stmt
                .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
                .unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        let cases = [
            (
                NEXT_ROLLUP_REGION,
                3,
                "(period=? AND endpoint_id=? AND region>?)",
            ),
            (
                ROLLUP_RANGE,
                6,
                "(period=? AND endpoint_id=? AND region=? AND start_ms>? AND start_ms<?)",
            ),
            (NEXT_RESULT_REGION, 2, "(endpoint_id=? AND region>?)"),
            (
                RESULT_RANGE,
                6,
                "(endpoint_id=? AND region=? AND started_at_ms>? AND started_at_ms<?)",
            ),
        ];
        for (sql, n, key) in cases {
            let p = plan(sql, n);
            assert!(p.contains("USING PRIMARY KEY"), "{sql}: {p}");
            assert!(p.contains(key), "{sql}: {p}");
            assert!(!p.contains("TEMP B-TREE"), "{sql}: {p}");
        }
        drop(c);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
