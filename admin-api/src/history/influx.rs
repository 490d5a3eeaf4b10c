//! History from InfluxDB through its v1 HTTP API (InfluxDB 1.x, and the compatibility
//! API of 2.x and 3.x): InfluxQL to `/query` with `epoch=ms`.
//!
//! Every value (org id, endpoint id, region, times) is a bound parameter (`$org`, ...).
//! Identifiers are never taken from input: measurement names, tag and field keys are this
//! file's constants, and the database and retention policy come from the configuration,
//! checked at construction to be plain names. The only number formatted into a query is
//! the raw results' `LIMIT`, a `u32` already bounded by [`super::ResultsQuery`]. Every
//! call has a timeout.

use std::collections::HashMap;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use scoville_core::{ApdexClass, EndpointId, OrgId, Timings};
use serde::Deserialize;

use super::{
    DayCount, History, HistoryError, HistoryQuery, HistoryStore, ResultRow, ResultsQuery, Rollup,
    RollupRow, aggregate, day_query, sum_days,
};

/// The raw measurement the receiver writes.
const RAW: &str = "check_result";
/// The minute rollups.
const ROLLUP_MINUTE: &str = "rollup_1m";
/// The hour rollups.
const ROLLUP_HOUR: &str = "rollup_1h";
/// Fields of a rollup row, in the order [`rollup_rows`] reads them.
const ROLLUP_FIELDS: &str = "\"count\", \"up\", \"satisfied\", \"tolerating\", \"frustrated\", \"p50\", \"p95\", \"p99\", \"mean\"";
/// Fields of a raw result, in the order [`result_rows`] reads them.
const RAW_FIELDS: &str = "\"total_ms\", \"dns_ms\", \"connect_ms\", \"tls_ms\", \"ttfb_ms\", \"up\", \"satisfied\", \
                          \"tolerating\", \"outcome\", \"reason\", \"status\", \"message\", \"bytes\", \"run_id\"";

/// How to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InfluxAuth {
    /// No credentials.
    None,
    /// `Authorization: Token ...` (InfluxDB 2.x and 3.x compatibility API).
    Token(String),
    /// User and password (InfluxDB 1.x), as basic auth.
    Basic {
        /// User.
        user: String,
        /// Password.
        password: String,
    },
}

/// Where the history lives.
#[derive(Debug, Clone)]
pub struct InfluxHistorySettings {
    /// Base URL, e.g. `http://127.0.0.1:8086`.
    pub url: String,
    /// Database (bucket, through the compatibility API).
    pub database: String,
    /// Retention policy; the database's default if unset.
    pub retention_policy: Option<String>,
    /// Credentials.
    pub auth: InfluxAuth,
    /// Timeout of each query (connect included).
    pub timeout: Duration,
}

impl InfluxHistorySettings {
    /// Settings for `url` and `database`, no credentials, a 5 s timeout.
    pub fn new(url: impl Into<String>, database: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            database: database.into(),
            retention_policy: None,
            auth: InfluxAuth::None,
            timeout: Duration::from_secs(5),
        }
    }
}

/// The InfluxDB reader.
#[derive(Debug, Clone)]
pub struct InfluxHistory {
    client: reqwest::Client,
    settings: InfluxHistorySettings,
    query_url: reqwest::Url,
}

/// Checks a database or retention policy name: 1-64 letters, digits, `_` or `-`.
fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "{what} {name:?} must be 1-64 letters, digits, '_' or '-'"
        ));
    }
    Ok(())
}

impl InfluxHistory {
    /// Builds the reader (no connection is made until the first query).
    pub fn new(settings: InfluxHistorySettings) -> Result<Self, String> {
        check_name("database", &settings.database)?;
        if let Some(rp) = &settings.retention_policy {
            check_name("retention policy", rp)?;
        }
        let base =
            reqwest::Url::parse(&settings.url).map_err(|e| format!("{:?}: {e}", settings.url))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(format!(
                "{:?}: InfluxDB is reached over http or https",
                settings.url
            ));
        }
        let query_url = base.join("query").map_err(|e| e.to_string())?;
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            settings,
            query_url,
        })
    }

    /// `"db"."rp"."measurement"`, or `"db".."measurement"` for the default policy; the
    /// measurement is one of this file's constants.
    fn qualified(&self, measurement: &'static str) -> String {
        let rp = match &self.settings.retention_policy {
            Some(rp) => format!("\"{rp}\""),
            None => String::new(),
        };
        format!("\"{}\".{rp}.\"{measurement}\"", self.settings.database)
    }

    /// Runs one InfluxQL statement with bound parameters.
    async fn query(
        &self,
        q: &str,
        params: serde_json::Value,
    ) -> Result<StatementResult, HistoryError> {
        let form = [
            ("db", self.settings.database.as_str()),
            ("q", q),
            ("params", &params.to_string()),
            ("epoch", "ms"),
        ];
        let mut req = self.client.post(self.query_url.clone()).form(&form);
        req = match &self.settings.auth {
            InfluxAuth::None => req,
            InfluxAuth::Token(t) => req.header("authorization", format!("Token {t}")),
            InfluxAuth::Basic { user, password } => req.basic_auth(user, Some(password)),
        };
        let resp = req
            .send()
            .await
            .map_err(|e| HistoryError::Unavailable(format!("InfluxDB: {e}")))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| HistoryError::Unavailable(format!("InfluxDB: {e}")))?;
        if status.is_server_error() || status.as_u16() == 401 || status.as_u16() == 403 {
            return Err(HistoryError::Unavailable(format!(
                "InfluxDB answered {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            )));
        }
        let body: QueryResponse = serde_json::from_slice(&bytes).map_err(|e| {
            HistoryError::Query(format!(
                "InfluxDB answered {status} with unreadable JSON: {e}"
            ))
        })?;
        if let Some(err) = body.error {
            return Err(HistoryError::Query(err));
        }
        let result = body.results.into_iter().next().unwrap_or_default();
        if let Some(err) = result.error {
            // A database that does not exist yet has no history; anything else is a bug.
            if err.starts_with("database not found") {
                return Ok(StatementResult::default());
            }
            return Err(HistoryError::Query(err));
        }
        if !status.is_success() {
            return Err(HistoryError::Query(format!("InfluxDB answered {status}")));
        }
        Ok(result)
    }

    /// The `WHERE` conditions on org, endpoint and, when asked, region; and their params.
    fn scope(
        org_id: &OrgId,
        endpoint_id: &EndpointId,
        region: Option<&scoville_core::Region>,
    ) -> (&'static str, serde_json::Map<String, serde_json::Value>) {
        let mut params = serde_json::Map::new();
        params.insert("org".into(), org_id.as_str().into());
        params.insert("endpoint".into(), endpoint_id.as_str().into());
        let cond = match region {
            Some(r) => {
                params.insert("region".into(), r.as_str().into());
                "\"org_id\" = $org AND \"endpoint_id\" = $endpoint AND \"region\" = $region"
            }
            None => "\"org_id\" = $org AND \"endpoint_id\" = $endpoint",
        };
        (cond, params)
    }

    async fn raw(
        &self,
        org_id: &OrgId,
        endpoint_id: &EndpointId,
        region: Option<&scoville_core::Region>,
        from_ms: i64,
        to_ms: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ResultRow>, HistoryError> {
        let (cond, mut params) = Self::scope(org_id, endpoint_id, region);
        params.insert("from".into(), (from_ms * 1_000_000).into());
        let until = match to_ms {
            Some(to) => {
                params.insert("to".into(), (to * 1_000_000).into());
                " AND time < $to"
            }
            None => "",
        };
        let q = format!(
            "SELECT {RAW_FIELDS} FROM {} WHERE {cond} AND time >= $from{until} GROUP BY \"region\" \
             ORDER BY time DESC LIMIT {limit}",
            self.qualified(RAW)
        );
        let result = self.query(&q, params.into()).await?;
        let mut rows = result_rows(&result)?;
        rows.sort_by(|a, b| {
            b.started_at_ms
                .cmp(&a.started_at_ms)
                .then_with(|| a.region.cmp(&b.region))
        });
        Ok(rows)
    }
}

impl HistoryStore for InfluxHistory {
    fn history<'a>(
        &'a self,
        org_id: &'a OrgId,
        endpoint_id: &'a EndpointId,
        q: &'a HistoryQuery,
    ) -> BoxFuture<'a, Result<History, HistoryError>> {
        async move {
            let measurement = match q.rollup() {
                Rollup::Minute => ROLLUP_MINUTE,
                Rollup::Hour => ROLLUP_HOUR,
            };
            let (cond, mut params) = Self::scope(org_id, endpoint_id, q.region.as_ref());
            params.insert("from".into(), (q.from_ms * 1_000_000).into());
            params.insert("to".into(), (q.to_ms * 1_000_000).into());
            let sql = format!(
                "SELECT {ROLLUP_FIELDS} FROM {} WHERE {cond} AND time >= $from AND time < $to GROUP BY \"region\"",
                self.qualified(measurement)
            );
            let result = self.query(&sql, params.into()).await?;
            let rows = rollup_rows(&result)?;
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
        async move {
            if endpoints.is_empty() {
                return Ok(Vec::new());
            }
            let measurement = match q.rollup() {
                Rollup::Minute => ROLLUP_MINUTE,
                Rollup::Hour => ROLLUP_HOUR,
            };
            // One statement for the whole org, a series per (endpoint, region); each
            // endpoint asked then gets its own rows.
            let mut params = serde_json::Map::new();
            params.insert("org".into(), org_id.as_str().into());
            params.insert("from".into(), (q.from_ms * 1_000_000).into());
            params.insert("to".into(), (q.to_ms * 1_000_000).into());
            let region = match &q.region {
                Some(r) => {
                    params.insert("region".into(), r.as_str().into());
                    " AND \"region\" = $region"
                }
                None => "",
            };
            let sql = format!(
                "SELECT {ROLLUP_FIELDS} FROM {} WHERE \"org_id\" = $org{region} AND time >= $from \
                 AND time < $to GROUP BY \"endpoint_id\", \"region\"",
                self.qualified(measurement)
            );
            let result = self.query(&sql, params.into()).await?;
            let mut by_endpoint: HashMap<&str, Vec<RollupRow>> = HashMap::new();
            for series in &result.series {
                let Some(endpoint) = series.tags.get("endpoint_id") else {
                    continue;
                };
                series_rollups(series, by_endpoint.entry(endpoint.as_str()).or_default())?;
            }
            Ok(endpoints
                .iter()
                .map(|endpoint| {
                    let rows = by_endpoint
                        .get(endpoint.as_str())
                        .cloned()
                        .unwrap_or_default();
                    aggregate::history(endpoint, q, rows)
                })
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
        async move {
            // Summed by InfluxDB per UTC day (its time buckets start at the epoch): one
            // row a day, whatever the number of regions.
            let q = day_query(from_ms, days)?;
            let (cond, mut params) = Self::scope(org_id, endpoint_id, None);
            params.insert("from".into(), (q.from_ms * 1_000_000).into());
            params.insert("to".into(), (q.to_ms * 1_000_000).into());
            let sql = format!(
                "SELECT sum(\"count\") AS \"count\", sum(\"up\") AS \"up\" FROM {} WHERE {cond} \
                 AND time >= $from AND time < $to GROUP BY time(1d)",
                self.qualified(ROLLUP_HOUR)
            );
            let result = self.query(&sql, params.into()).await?;
            let mut rows = Vec::new();
            for s in &result.series {
                let [t, c, up] = s.columns(["time", "count", "up"])?;
                for v in &s.values {
                    let Some(start_ms) = v.get(t).and_then(int) else {
                        continue;
                    };
                    let get = |i: usize| v.get(i).unwrap_or(&serde_json::Value::Null);
                    rows.push((start_ms, count(get(c)), count(get(up))));
                }
            }
            Ok(sum_days(&q, rows))
        }
        .boxed()
    }

    fn results<'a>(
        &'a self,
        org_id: &'a OrgId,
        endpoint_id: &'a EndpointId,
        q: &'a ResultsQuery,
    ) -> BoxFuture<'a, Result<Vec<ResultRow>, HistoryError>> {
        async move {
            let mut rows = self
                .raw(
                    org_id,
                    endpoint_id,
                    q.region.as_ref(),
                    q.from_ms,
                    Some(q.to_ms),
                    q.limit,
                )
                .await?;
            rows.truncate(q.limit as usize);
            Ok(rows)
        }
        .boxed()
    }

    fn latest<'a>(
        &'a self,
        org_id: &'a OrgId,
        endpoint_id: &'a EndpointId,
        since_ms: i64,
    ) -> BoxFuture<'a, Result<Vec<ResultRow>, HistoryError>> {
        async move {
            let mut rows = self
                .raw(org_id, endpoint_id, None, since_ms, None, 1)
                .await?;
            rows.sort_by(|a, b| a.region.cmp(&b.region));
            Ok(rows)
        }
        .boxed()
    }

    fn latest_many<'a>(
        &'a self,
        org_id: &'a OrgId,
        asks: &'a [(EndpointId, i64)],
    ) -> BoxFuture<'a, Result<Vec<Vec<ResultRow>>, HistoryError>> {
        async move {
            let Some(from) = asks.iter().map(|(_, since)| *since).min() else {
                return Ok(Vec::new());
            };
            // One statement: the newest point of every (endpoint, region) series of the
            // org since the earliest `since` asked; each endpoint then keeps its own window.
            let mut params = serde_json::Map::new();
            params.insert("org".into(), org_id.as_str().into());
            params.insert("from".into(), (from * 1_000_000).into());
            let q = format!(
                "SELECT {RAW_FIELDS} FROM {} WHERE \"org_id\" = $org AND time >= $from \
                 GROUP BY \"endpoint_id\", \"region\" ORDER BY time DESC LIMIT 1",
                self.qualified(RAW)
            );
            let result = self.query(&q, params.into()).await?;
            let mut by_endpoint: HashMap<&str, Vec<ResultRow>> = HashMap::new();
            for series in &result.series {
                let Some(endpoint) = series.tags.get("endpoint_id") else {
                    continue;
                };
                series_rows(series, by_endpoint.entry(endpoint.as_str()).or_default())?;
            }
            Ok(asks
                .iter()
                .map(|(endpoint, since)| {
                    let mut rows: Vec<ResultRow> = by_endpoint
                        .get(endpoint.as_str())
                        .map(|rows| {
                            rows.iter()
                                .filter(|r| r.started_at_ms >= *since)
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default();
                    rows.sort_by(|a, b| a.region.cmp(&b.region));
                    rows
                })
                .collect())
        }
        .boxed()
    }
}

/// The answer to `/query`.
#[derive(Debug, Deserialize)]
struct QueryResponse {
    #[serde(default)]
    results: Vec<StatementResult>,
    #[serde(default)]
    error: Option<String>,
}

/// One statement's answer.
#[derive(Debug, Default, Deserialize)]
struct StatementResult {
    #[serde(default)]
    series: Vec<Series>,
    #[serde(default)]
    error: Option<String>,
}

/// One series: its tags, its columns (`time` first) and its rows.
#[derive(Debug, Deserialize)]
struct Series {
    #[serde(default)]
    tags: std::collections::HashMap<String, String>,
    columns: Vec<String>,
    #[serde(default)]
    values: Vec<Vec<serde_json::Value>>,
}

impl Series {
    /// The column indexes of `names`, in order; an error names a missing one.
    fn columns<const N: usize>(&self, names: [&str; N]) -> Result<[usize; N], HistoryError> {
        let mut out = [0; N];
        for (slot, name) in out.iter_mut().zip(names) {
            *slot = self.columns.iter().position(|c| c == name).ok_or_else(|| {
                HistoryError::Query(format!("InfluxDB answered without column {name:?}"))
            })?;
        }
        Ok(out)
    }

    fn region(&self) -> String {
        self.tags.get("region").cloned().unwrap_or_default()
    }
}

fn int(v: &serde_json::Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
}

fn count(v: &serde_json::Value) -> u64 {
    int(v).and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

fn float(v: &serde_json::Value) -> Option<f64> {
    v.as_f64().filter(|f| f.is_finite())
}

fn text(v: &serde_json::Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// Rollup rows of a history query's answer (one series per region).
fn rollup_rows(result: &StatementResult) -> Result<Vec<RollupRow>, HistoryError> {
    let mut out = Vec::new();
    for s in &result.series {
        series_rollups(s, &mut out)?;
    }
    Ok(out)
}

/// Rollup rows of one series (one region, or one endpoint's region), appended to `out`.
fn series_rollups(s: &Series, out: &mut Vec<RollupRow>) -> Result<(), HistoryError> {
    {
        let region = s.region();
        let [t, c, up, sat, tol, fru, p50, p95, p99, mean] = s.columns([
            "time",
            "count",
            "up",
            "satisfied",
            "tolerating",
            "frustrated",
            "p50",
            "p95",
            "p99",
            "mean",
        ])?;
        out.reserve(s.values.len());
        for v in &s.values {
            let Some(start_ms) = v.get(t).and_then(int) else {
                continue;
            };
            let get = |i: usize| v.get(i).unwrap_or(&serde_json::Value::Null);
            out.push(RollupRow {
                start_ms,
                region: region.clone(),
                count: count(get(c)),
                up: count(get(up)),
                satisfied: count(get(sat)),
                tolerating: count(get(tol)),
                frustrated: count(get(fru)),
                p50: float(get(p50)),
                p95: float(get(p95)),
                p99: float(get(p99)),
                mean: float(get(mean)),
            });
        }
    }
    Ok(())
}

/// Raw results of a results query's answer (one series per region).
fn result_rows(result: &StatementResult) -> Result<Vec<ResultRow>, HistoryError> {
    let mut out = Vec::new();
    for s in &result.series {
        series_rows(s, &mut out)?;
    }
    Ok(out)
}

/// One series' raw results, appended to `out`.
fn series_rows(s: &Series, out: &mut Vec<ResultRow>) -> Result<(), HistoryError> {
    {
        let region = s.region();
        let [
            t,
            total,
            dns,
            connect,
            tls,
            ttfb,
            up,
            sat,
            tol,
            outcome,
            reason,
            status,
            message,
            bytes,
            run_id,
        ] = s.columns([
            "time",
            "total_ms",
            "dns_ms",
            "connect_ms",
            "tls_ms",
            "ttfb_ms",
            "up",
            "satisfied",
            "tolerating",
            "outcome",
            "reason",
            "status",
            "message",
            "bytes",
            "run_id",
        ])?;
        for v in &s.values {
            let get = |i: usize| v.get(i).unwrap_or(&serde_json::Value::Null);
            let Some(started_at_ms) = int(get(t)) else {
                continue;
            };
            let apdex = if count(get(sat)) > 0 {
                ApdexClass::Satisfied
            } else if count(get(tol)) > 0 {
                ApdexClass::Tolerating
            } else {
                ApdexClass::Frustrated
            };
            out.push(ResultRow {
                started_at_ms,
                region: region.clone(),
                up: count(get(up)) > 0,
                outcome: text(get(outcome)).unwrap_or_default(),
                reason: text(get(reason)),
                status: int(get(status)).and_then(|s| u16::try_from(s).ok()),
                message: text(get(message)).unwrap_or_default(),
                timings: Timings {
                    dns_ms: float(get(dns)),
                    connect_ms: float(get(connect)),
                    tls_ms: float(get(tls)),
                    ttfb_ms: float(get(ttfb)),
                    total_ms: float(get(total)).unwrap_or(0.0),
                },
                bytes: count(get(bytes)),
                apdex,
                run_id: text(get(run_id)).unwrap_or_default(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_quoted() {
        assert!(
            InfluxHistory::new(InfluxHistorySettings::new("http://127.0.0.1:8086", "a\"b"))
                .is_err()
        );
        let mut s = InfluxHistorySettings::new("http://127.0.0.1:8086", "scoville");
        s.retention_policy = Some("x; DROP".into());
        assert!(InfluxHistory::new(s).is_err());
        assert!(InfluxHistory::new(InfluxHistorySettings::new("file:///etc", "scoville")).is_err());
        let h = InfluxHistory::new(InfluxHistorySettings::new(
            "http://127.0.0.1:8086",
            "scoville",
        ))
        .unwrap();
        assert_eq!(h.qualified(ROLLUP_HOUR), "\"scoville\"..\"rollup_1h\"");
    }

    #[test]
    fn reads_series_by_column_name() {
        let body: QueryResponse = serde_json::from_str(
            r#"{"results":[{"statement_id":0,"series":[{"name":"rollup_1h","tags":{"region":"eu-west-1"},
            "columns":["time","count","up","satisfied","tolerating","frustrated","p50","p95","p99","mean"],
            "values":[[3600000,60,59,50,5,5,12.5,40,80.25,15.5],[7200000,3,0,0,0,3,null,null,null,null]]}]}]}"#,
        )
        .unwrap();
        let rows = rollup_rows(&body.results[0]).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].region, "eu-west-1");
        assert_eq!(
            (rows[0].count, rows[0].up, rows[0].p99),
            (60, 59, Some(80.25))
        );
        assert_eq!((rows[1].count, rows[1].p50), (3, None));
    }
}
