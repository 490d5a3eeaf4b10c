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
//! orgs), and every statement also filters by it (or the row is checked after the read).
//!
//! The latest results (the live status of every endpoint: [`HistoryStore::latest_many`])
//! walk the regions backwards instead: one key seek (`region < ?` ... `ORDER BY region
//! DESC, started_at_ms DESC LIMIT 1`) finds the next region and its newest result at
//! once, so one region costs two seeks instead of three; all of them run in one read
//! transaction on statements prepared once. The connections have the query planner
//! stability guarantee on: SQLite would otherwise re-prepare (parse and plan again) a
//! cached statement on every use, since rusqlite clears its bindings when it goes back to
//! the cache and SQLite marks statements with `LIMIT ?` or an equality on a parameter
//! outside the key as "re-prepare when rebound". The plans do not depend on the values.

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

/// The newest result of endpoint `?1` in its last region (by name), and that region and
/// org: the first step of the backward walk over regions.
pub(crate) const LAST_REGION_LATEST: &str = "SELECT started_at_ms, total_ms, dns_ms, connect_ms, tls_ms, ttfb_ms, up, satisfied, tolerating, \
     outcome, reason, status, message, bytes, run_id, region, org_id FROM check_result \
     WHERE endpoint_id = ?1 ORDER BY region DESC, started_at_ms DESC LIMIT 1";
/// The newest result of endpoint `?1` in the last region before `?2`, and that region and
/// org: the next steps.
pub(crate) const PREV_REGION_LATEST: &str = "SELECT started_at_ms, total_ms, dns_ms, connect_ms, tls_ms, ttfb_ms, up, satisfied, tolerating, \
     outcome, reason, status, message, bytes, run_id, region, org_id FROM check_result \
     WHERE endpoint_id = ?1 AND region < ?2 ORDER BY region DESC, started_at_ms DESC LIMIT 1";

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
    // Statements are prepared once per connection and kept (`prepare_cached`): without
    // the planner stability guarantee SQLite re-prepares most of them on every use (see
    // the module's header), which was most of the live status's time.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
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

/// A result from the first 15 columns of [`RESULT_RANGE`] (or its like).
fn result_row(r: &rusqlite::Row<'_>, region: String) -> rusqlite::Result<ResultRow> {
    let satisfied: i64 = r.get(7)?;
    let tolerating: i64 = r.get(8)?;
    Ok(ResultRow {
        started_at_ms: r.get(0)?,
        region,
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
}

/// The statements of [`latest_walk`], prepared once for many endpoints.
struct LatestStatements<'c> {
    last: rusqlite::CachedStatement<'c>,
    prev: rusqlite::CachedStatement<'c>,
}

impl<'c> LatestStatements<'c> {
    fn prepare(c: &'c Connection) -> Result<Self, HistoryError> {
        Ok(Self {
            last: c.prepare_cached(LAST_REGION_LATEST).map_err(sql_error)?,
            prev: c.prepare_cached(PREV_REGION_LATEST).map_err(sql_error)?,
        })
    }
}

/// What [`latest_rows`] answers, read by walking the regions backwards: each step is one
/// key seek that finds the next region down and its newest result. The few cases where
/// that row is not the answer as it stands fall back to [`latest_rows`]'s own reads: a
/// newest row of another org (the org is in no key) or at `i64::MAX` (past its range),
/// and more than [`MAX_REGIONS`] regions (it reads the first ones by name).
fn latest_walk(
    c: &Connection,
    stmts: &mut LatestStatements<'_>,
    org: &str,
    endpoint: &str,
    since_ms: i64,
) -> Result<Vec<ResultRow>, HistoryError> {
    let mut out: Vec<ResultRow> = Vec::new();
    let mut seen = 0usize;
    let mut before: Option<String> = None;
    loop {
        let map = |r: &rusqlite::Row<'_>| {
            let region: String = r.get(15)?;
            let row_org: String = r.get(16)?;
            Ok((result_row(r, region)?, row_org))
        };
        let found = match &before {
            None => stmts.last.query_row(params![endpoint], map),
            Some(b) => stmts.prev.query_row(params![endpoint, b], map),
        };
        let (row, row_org) = match found {
            Ok(found) => found,
            Err(rusqlite::Error::QueryReturnedNoRows) => break,
            Err(e) => return Err(sql_error(e)),
        };
        seen += 1;
        if seen > MAX_REGIONS {
            return latest_rows(c, org, endpoint, since_ms);
        }
        let region = Region::parse(row.region.clone()).map_err(HistoryError::Query)?;
        if row_org != org || row.started_at_ms == i64::MAX {
            out.extend(read_results(
                c,
                org,
                endpoint,
                Some(&region),
                since_ms,
                i64::MAX,
                1,
            )?);
        } else if row.started_at_ms >= since_ms {
            out.push(row);
        }
        before = Some(region.as_str().to_string());
    }
    out.reverse();
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
                |r| result_row(r, region.clone()),
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
        // One trip to the blocking pool and one read transaction for all of them (one
        // snapshot of the file, one lock): the per-endpoint reads are primary-key seeks.
        self.with_conn(move |c| {
            let tx = c.unchecked_transaction().map_err(sql_error)?;
            let mut stmts = LatestStatements::prepare(c)?;
            let out = asks
                .iter()
                .map(|(endpoint, since_ms)| latest_walk(c, &mut stmts, &org, endpoint, *since_ms))
                .collect::<Result<Vec<_>, _>>()?;
            drop(stmts);
            tx.commit().map_err(sql_error)?;
            Ok(out)
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scoville_core::{CheckReport, CheckResult, DownReason, Outcome, RunId};
    use scoville_receiver_service::store::ResultStore;
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
            (LAST_REGION_LATEST, 1, "(endpoint_id=?)"),
            (PREV_REGION_LATEST, 2, "(endpoint_id=? AND region<?)"),
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

    fn result(org: &OrgId, endpoint: &EndpointId, region: &str, at: i64, up: bool) -> CheckResult {
        CheckResult {
            endpoint_id: endpoint.clone(),
            org_id: org.clone(),
            region: Region::parse(region).unwrap(),
            run_id: RunId::parse(format!("run-{at}")).unwrap(),
            scheduled_at_ms: at,
            started_at_ms: at,
            apdex_t_ms: Some(200),
            mean_limit_ms: None,
            report: CheckReport {
                outcome: if up {
                    Outcome::Up
                } else {
                    Outcome::Down(DownReason::Status)
                },
                message: format!("{region} at {at}"),
                status: Some(if up { 200 } else { 503 }),
                timings: Timings {
                    dns_ms: Some(1.0),
                    connect_ms: None,
                    tls_ms: Some(3.0),
                    ttfb_ms: Some(4.0),
                    total_ms: (at % 1_000) as f64,
                },
                bytes: 10,
                truncated: false,
                cert_expires_at_ms: None,
                domain_expires_at_ms: None,
                body_hash: None,
                watch_excerpt: None,
                ip: None,
                redirects: 0,
            },
        }
    }

    /// The bulk read (the backward walk over regions, one transaction) answers exactly
    /// what the plain per-endpoint read does, and what a `GROUP BY` over the table says:
    /// stale regions left out, another org's newer row skipped, more than
    /// [`MAX_REGIONS`] regions, an endpoint without results.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn latest_many_answers_what_latest_and_a_plain_query_answer() {
        let dir = std::env::temp_dir().join(format!(
            "scoville-history-latest-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.db");
        let writer = SqliteStore::open(&path).unwrap();
        let org = OrgId::parse("org_latest").unwrap();
        let other = OrgId::parse("org_other").unwrap();
        let ep = |i: usize| EndpointId::parse(format!("ep_{i:03}")).unwrap();
        let now = 1_800_000_000_000_i64;
        let regions = ["ap-south-1", "eu-west-1", "local", "us-east-1"];
        let mut rows = Vec::new();
        for i in 0..40 {
            let id = ep(i);
            if i % 10 == 0 {
                continue; // no results at all
            }
            for (k, region) in regions.iter().enumerate() {
                if (i + k) % 3 == 0 {
                    continue; // not checked from this region
                }
                // Some regions only have results older than the asks' `since`.
                let stale = (i * 7 + k) % 5 == 0;
                for round in 0..4_i64 {
                    let at = now
                        - round * 60_000
                        - (k as i64) * 1_000
                        - if stale { 3_600_000 } else { 0 };
                    rows.push(result(
                        &org,
                        &id,
                        region,
                        at,
                        (i + k + round as usize) % 4 != 0,
                    ));
                }
            }
        }
        // Another org's row, newer than this org's, under the same endpoint id and region.
        rows.push(result(&other, &ep(3), "eu-west-1", now + 5_000, true));
        rows.push(result(&other, &ep(4), "zz-last", now + 5_000, true));
        // More regions than the reader reads.
        for r in 0..MAX_REGIONS + 20 {
            rows.push(result(
                &org,
                &ep(41),
                &format!("r-{r:04}"),
                now - r as i64,
                r % 2 == 0,
            ));
        }
        writer.write(&rows).await.unwrap();
        let history = SqliteHistory::open(&path).unwrap();
        let asks: Vec<(EndpointId, i64)> = (0..42)
            .map(|i| (ep(i), now - if i % 2 == 0 { 180_000 } else { 600_000 }))
            .collect();
        let many = history.latest_many(&org, &asks).await.unwrap();
        assert_eq!(many.len(), asks.len());
        let plain = Connection::open(&path).unwrap();
        for ((id, since), got) in asks.iter().zip(&many) {
            let one = history.latest(&org, id, *since).await.unwrap();
            assert_eq!(got, &one, "{id}");
            let mut q = plain
                .prepare(
                    "SELECT region, MAX(started_at_ms) FROM check_result \
                     WHERE endpoint_id = ?1 AND org_id = ?2 AND started_at_ms >= ?3 \
                     GROUP BY region ORDER BY region",
                )
                .unwrap();
            let mut expected: Vec<(String, i64)> = q
                .query_map(params![id.as_str(), org.as_str(), since], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            expected.truncate(MAX_REGIONS);
            let found: Vec<(String, i64)> = got
                .iter()
                .map(|r| (r.region.clone(), r.started_at_ms))
                .collect();
            assert_eq!(found, expected, "{id}");
        }
        // The cases meant to be covered are.
        assert!(many[0].is_empty());
        assert_eq!(many[41].len(), MAX_REGIONS);
        assert!(many.iter().any(|r| r.len() >= 2));
        assert!(many[3].iter().all(|r| r.started_at_ms <= now));
        drop(plain);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
