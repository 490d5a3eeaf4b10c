//! How the system suites talk to a started [`System`]: failing with every service's
//! log, polling until something holds, the admin API's public calls, Prometheus
//! counters, and one `probe run --once` round. Shared here because every suite needs
//! them next to the launcher; what a suite asks of the system stays in the suite.

use std::future::Future;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::System;
use crate::procs::{self, bin, child_env};

/// A counter's or gauge's value in a Prometheus text page, summed over the lines whose
/// name and labels start with `name`.
pub fn metric_in(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

impl System {
    /// The tail of every service's log.
    pub fn logs(&self) -> String {
        procs::tails(&self.dir, self.log_lines)
    }

    /// Fails the test with `message` and every service's log.
    pub fn fail(&self, message: impl std::fmt::Display) -> ! {
        self.dumped.store(true, Ordering::Relaxed);
        panic!("{message}\n{}", self.logs());
    }

    /// Asserts `cond`, failing with the logs.
    pub fn check(&self, cond: bool, message: impl FnOnce() -> String) {
        if !cond {
            self.fail(message());
        }
    }

    /// Polls `f` until it answers `Ok` (at the plan's pace, up to `patience`); fails
    /// with its last complaint and the logs.
    pub async fn eventually<T, F, Fut>(&self, what: &str, patience: Duration, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, String>>,
    {
        let started = Instant::now();
        loop {
            match f().await {
                Ok(v) => return v,
                Err(last) if started.elapsed() > patience => self.fail(format!(
                    "timed out after {patience:?} waiting for {what}; last: {last}"
                )),
                Err(_) => tokio::time::sleep(self.poll).await,
            }
        }
    }

    /// A call to the admin API: `auth` is a bearer token, `cookie:<cookie>` or empty;
    /// the answer's JSON (or its text as a JSON string).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        auth: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.admin_url));
        if let Some(cookie) = auth.strip_prefix("cookie:") {
            req = req.header("cookie", cookie);
        } else if !auth.is_empty() {
            req = req.bearer_auth(auth);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => self.fail(format!("{method} {path}: {e}")),
        };
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Signs up through the public API (`email`, organization `org_name`), makes a
    /// read-write API key named `key_name` with the session and keeps it as
    /// [`System::key`]; returns the organization's id. Fails unless the sign-up answers
    /// 201 with a session cookie and the key 201.
    pub async fn sign_up(&mut self, email: &str, org_name: &str, key_name: &str) -> String {
        let body =
            json!({"email": email, "password": "correct horse battery", "org_name": org_name});
        let url = format!("{}/v1/signup", self.admin_url);
        let resp = match self.http.post(url).json(&body).send().await {
            Ok(r) => r,
            Err(e) => self.fail(format!("sign-up: {e}")),
        };
        let status = resp.status();
        let cookie = resp
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok()?.split(';').next().map(str::to_string));
        let text = resp.text().await.unwrap_or_default();
        let account: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let Some(cookie) = cookie.filter(|_| status == 201) else {
            self.fail(format!(
                "sign-up (a session cookie expected): {status} {account}"
            ))
        };
        let (status, key) = self
            .call(
                reqwest::Method::POST,
                "/v1/api-keys",
                &format!("cookie:{cookie}"),
                Some(json!({"name": key_name, "scope": "read_write"})),
            )
            .await;
        self.check(status == 201, || format!("API key: {status} {key}"));
        self.key = key["key"].as_str().unwrap_or_default().to_string();
        account["org"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// A call with the API key ([`System::key`]) that must answer `expect`.
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        expect: u16,
    ) -> Value {
        let (status, answer) = self.call(method.clone(), path, &self.key, body).await;
        self.check(status == expect, || {
            format!("{method} {path}: expected {expect}, got {status}: {answer}")
        });
        answer
    }

    /// `{base}/metrics`.
    pub async fn metrics_text(&self, base: &str) -> Result<String, String> {
        self.http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())
    }

    /// A counter at `{base}/metrics` (see [`metric_in`]).
    pub async fn metric(&self, base: &str, name: &str) -> Result<u64, String> {
        Ok(metric_in(&self.metrics_text(base).await?, name))
    }

    /// InfluxQL query `q` on the `scoville` database (`/query`): the answer's first
    /// result (its `series`), or its error.
    pub async fn influx_query(&self, q: &str) -> Result<Value, String> {
        let mut answer: Value = self
            .http
            .get(format!("{}/query", self.influx().url()))
            .query(&[("db", "scoville"), ("q", q)])
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let result = answer["results"][0].take();
        match result["error"].as_str() {
            Some(e) => Err(e.to_string()),
            None => Ok(result),
        }
    }

    /// The notices the failure service decided and the ones the notifier sent
    /// (`scoville_failure_notices_total`, `scoville_notifier_jobs_total{outcome="sent"}`).
    pub async fn notices_decided_and_sent(&self) -> Result<(u64, u64), String> {
        let decided = self
            .metric(&self.failure_url, "scoville_failure_notices_total")
            .await?;
        let sent = self
            .metric(
                &self.notifier_url,
                "scoville_notifier_jobs_total{outcome=\"sent\"}",
            )
            .await?;
        Ok((decided, sent))
    }

    /// One `probe run --once --at <at_ms>` on the plan's probe configuration (in
    /// `region` when given, through `SCOVILLE_PROBE__REGION`), over `patience` at most;
    /// returns its summary after checking that it checked `endpoints` endpoints and
    /// delivered every result. `what` names the round in failures.
    pub async fn probe_once(
        &self,
        what: &str,
        at_ms: i64,
        region: Option<&str>,
        endpoints: u64,
        patience: Duration,
    ) -> Value {
        let mut cmd = tokio::process::Command::new(bin("probe"));
        cmd.args(["run", "--once", "--at", &at_ms.to_string(), "--config"])
            .arg(&self.probe_config)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        child_env(cmd.as_std_mut());
        if let Some(region) = region {
            cmd.env("SCOVILLE_PROBE__REGION", region);
        }
        let out = match tokio::time::timeout(patience, cmd.output()).await {
            Ok(Ok(out)) => out,
            Ok(Err(e)) => self.fail(format!("running the probe: {e}")),
            Err(_) => self.fail(format!("{what} ran over {patience:?}")),
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let summary: Option<Value> = stdout
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok());
        let Some(summary) = summary.filter(|_| out.status.success()) else {
            self.fail(format!(
                "{what} failed ({}):\n{stdout}\n{stderr}",
                out.status
            ))
        };
        let d = &summary["delivery"];
        self.check(
            summary["endpoints"] == endpoints
                && d["results_delivered"] == endpoints
                && d["carried_over"] == 0
                && d["dropped"] == 0,
            || format!("{what}: not everything checked and delivered: {summary}\n{stderr}"),
        );
        summary
    }
}
