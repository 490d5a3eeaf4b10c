//! InfluxDB through its v1 HTTP API, which InfluxDB 1.x, 2.x (compatibility endpoints)
//! and 3.x all serve: line protocol to `/write?db=&rp=&precision=ms`, InfluxQL to
//! `/query` with bound parameters. Identifiers in queries come only from this file's
//! constants and the configured database and retention policy, which are checked to be
//! plain names. Every call has a timeout.

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use scoville_core::CheckResult;

use super::{CheckPoint, class_of};

use super::line_protocol::{MEASUREMENT, encode};
use super::{ResultStore, StoreError, align};

/// How to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InfluxAuth {
    /// No credentials.
    None,
    /// `Authorization: Token ...` (InfluxDB 2.x and 3.x compatibility API).
    Token(String),
    /// User and password (InfluxDB 1.x), sent as basic auth.
    Basic {
        /// User.
        user: String,
        /// Password.
        password: String,
    },
}

/// Settings of the InfluxDB store.
#[derive(Debug, Clone)]
pub struct InfluxSettings {
    /// Base URL, e.g. `http://127.0.0.1:8086`.
    pub url: String,
    /// Database (bucket, through the compatibility API).
    pub database: String,
    /// Retention policy; the database's default if unset.
    pub retention_policy: Option<String>,
    /// Credentials.
    pub auth: InfluxAuth,
    /// Timeout of each call.
    pub timeout: Duration,
}

/// The store.
#[derive(Debug, Clone)]
pub struct InfluxStore {
    client: reqwest::Client,
    settings: InfluxSettings,
    write_url: reqwest::Url,
    query_url: reqwest::Url,
}

/// Checks a database or retention policy name: letters, digits, `_` and `-`.
pub fn check_identifier(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!("{name:?} must be 1-64 letters, digits, '_' or '-'"));
    }
    Ok(())
}

impl InfluxStore {
    /// Builds the store (no connection is made until the first call).
    pub fn new(settings: InfluxSettings) -> Result<Self, String> {
        check_identifier(&settings.database)?;
        if let Some(rp) = &settings.retention_policy {
            check_identifier(rp)?;
        }
        let base =
            reqwest::Url::parse(&settings.url).map_err(|e| format!("{:?}: {e}", settings.url))?;
        let mut write_url = base.join("write").map_err(|e| e.to_string())?;
        {
            let mut q = write_url.query_pairs_mut();
            q.append_pair("db", &settings.database);
            if let Some(rp) = &settings.retention_policy {
                q.append_pair("rp", rp);
            }
            q.append_pair("precision", "ms");
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
            write_url,
            query_url,
        })
    }

    fn authed(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.settings.auth {
            InfluxAuth::None => req,
            InfluxAuth::Token(t) => req.header("authorization", format!("Token {t}")),
            InfluxAuth::Basic { user, password } => req.basic_auth(user, Some(password)),
        }
    }

    /// `"db"."rp"."measurement"` (or `"db".."measurement"` for the default policy).
    fn qualified(&self, measurement: &str) -> String {
        let rp = self.settings.retention_policy.as_deref().unwrap_or("");
        let rp = if rp.is_empty() {
            String::new()
        } else {
            format!("\"{rp}\"")
        };
        format!("\"{}\".{rp}.\"{measurement}\"", self.settings.database)
    }

    /// Runs InfluxQL with bound parameters; returns the JSON answer.
    pub async fn query(
        &self,
        q: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, StoreError> {
        let form = [
            ("db", self.settings.database.clone()),
            ("q", q.to_string()),
            ("params", params.to_string()),
            ("epoch", "ms".to_string()),
        ];
        let resp = self
            .authed(self.client.post(self.query_url.clone()).form(&form))
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let status = resp.status();
        let body: serde_json::Value = resp
            .json()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        if !status.is_success() {
            return Err(StoreError::Unavailable(format!(
                "query answered {status}: {body}"
            )));
        }
        if let Some(err) = body["results"]
            .as_array()
            .and_then(|r| r.iter().find_map(|s| s["error"].as_str()))
        {
            return Err(StoreError::Rejected(err.to_string()));
        }
        Ok(body)
    }

    /// Creates the database if it does not exist (for tests and first runs).
    pub async fn ensure_database(&self) -> Result<(), StoreError> {
        let q = format!("CREATE DATABASE \"{}\"", self.settings.database);
        self.query(&q, serde_json::json!({})).await.map(|_| ())
    }

    async fn write_lines(&self, body: String) -> Result<(), StoreError> {
        let resp = self
            .authed(self.client.post(self.write_url.clone()).body(body))
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let status = resp.status().as_u16();
        if status == 204 {
            return Ok(());
        }
        let text = resp.text().await.unwrap_or_default();
        match status {
            400 => Err(StoreError::Rejected(text)),
            _ => Err(StoreError::Unavailable(format!(
                "write answered {status}: {text}"
            ))),
        }
    }

    async fn rollup_into(
        &self,
        measurement: &str,
        every: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(), StoreError> {
        let into = self.qualified(measurement);
        let from = self.qualified(MEASUREMENT);
        let group = format!("GROUP BY time({every}), \"org_id\", \"endpoint_id\", \"region\"");
        let counts = format!(
            "SELECT count(\"total_ms\") AS \"count\", sum(\"up\") AS \"up\", sum(\"satisfied\") AS \"satisfied\", \
             sum(\"tolerating\") AS \"tolerating\", sum(\"frustrated\") AS \"frustrated\" INTO {into} FROM {from} \
             WHERE time >= $from AND time < $to {group}"
        );
        let latency = format!(
            "SELECT percentile(\"total_ms\", 50) AS \"p50\", percentile(\"total_ms\", 95) AS \"p95\", \
             percentile(\"total_ms\", 99) AS \"p99\", mean(\"total_ms\") AS \"mean\" INTO {into} FROM {from} \
             WHERE time >= $from AND time < $to AND \"up\" = 1 {group}"
        );
        let params = serde_json::json!({ "from": from_ms * 1_000_000, "to": to_ms * 1_000_000 });
        self.query(&counts, params.clone()).await?;
        self.query(&latency, params).await?;
        Ok(())
    }
}

/// Rollup measurements.
pub const ROLLUP_MINUTE: &str = "rollup_1m";
/// Hourly rollups.
pub const ROLLUP_HOUR: &str = "rollup_1h";

impl ResultStore for InfluxStore {
    fn write<'a>(&'a self, results: &'a [CheckResult]) -> BoxFuture<'a, Result<(), StoreError>> {
        async move {
            let mut body = String::with_capacity(results.len() * 320);
            for r in results {
                encode(r, &mut body);
            }
            self.write_lines(body).await
        }
        .boxed()
    }

    fn rollup_minutes(&self, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<(), StoreError>> {
        async move {
            let (a, b) = align(from_ms, to_ms, 60_000);
            self.rollup_into(ROLLUP_MINUTE, "1m", a, b).await
        }
        .boxed()
    }

    fn rollup_hours(&self, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<(), StoreError>> {
        async move {
            let (a, b) = align(from_ms, to_ms, 3_600_000);
            self.rollup_into(ROLLUP_HOUR, "1h", a, b).await
        }
        .boxed()
    }

    fn checks(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<CheckPoint>, StoreError>> {
        async move {
            let q = format!(
                "SELECT \"total_ms\", \"satisfied\", \"tolerating\", \"mean_limit_ms\" FROM {} \
                 WHERE time >= $from AND time < $to GROUP BY \"org_id\", \"endpoint_id\", \"region\"",
                self.qualified(MEASUREMENT)
            );
            let params = serde_json::json!({ "from": from_ms * 1_000_000, "to": to_ms * 1_000_000 });
            let body = self.query(&q, params).await?;
            Ok(check_points(&body))
        }
        .boxed()
    }
}

/// The points of a `checks` query's answer (columns: time, total_ms, satisfied,
/// tolerating, mean_limit_ms; one series per org, endpoint and region).
fn check_points(body: &serde_json::Value) -> Vec<CheckPoint> {
    let mut out = Vec::new();
    let series = body["results"][0]["series"].as_array();
    for s in series.into_iter().flatten() {
        let tag = |k: &str| s["tags"][k].as_str().unwrap_or_default().to_string();
        let (org_id, endpoint_id, region) = (tag("org_id"), tag("endpoint_id"), tag("region"));
        for row in s["values"].as_array().into_iter().flatten() {
            let (Some(at), Some(total)) = (row[0].as_i64(), row[1].as_f64()) else {
                continue;
            };
            out.push(CheckPoint {
                org_id: org_id.clone(),
                endpoint_id: endpoint_id.clone(),
                region: region.clone(),
                started_at_ms: at,
                total_ms: total,
                class: class_of(row[2].as_i64().unwrap_or(0), row[3].as_i64().unwrap_or(0)),
                mean_limit_ms: row[4].as_u64().and_then(|v| u32::try_from(v).ok()),
            });
        }
    }
    out.sort_by_key(|p| p.started_at_ms);
    out
}
