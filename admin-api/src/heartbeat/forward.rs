//! Where heartbeat results go: like a probe's, to the receiver (`POST /v1/results`:
//! history, uptime, Apdex) and to the failure service (`POST /v1/failures`: incidents).
//! Every heartbeat result goes to both — pings are few, and a success is what closes an
//! incident. A ping is answered 200 only once both took it; otherwise 503 and the job's
//! retry (`curl --retry`) sends it again, which overwrites itself (same timestamp).

use std::time::Duration;

use scoville_core::CheckResult;
use scoville_core::wire::ResultBatch;

/// Why results could not be handed over.
#[derive(Debug, thiserror::Error)]
#[error("{target} did not take the result: {detail}")]
pub struct ForwardError {
    /// `receiver` or `failure service`.
    pub target: &'static str,
    /// What happened.
    pub detail: String,
}

/// Posts heartbeat results onwards.
#[derive(Debug, Clone)]
pub struct Forwarder {
    http: reqwest::Client,
    receiver_url: String,
    failure_url: String,
    token: String,
}

impl Forwarder {
    /// Posts to these base URLs with `token` (a probe token both accept).
    pub fn new(
        receiver_url: &str,
        failure_url: &str,
        token: &str,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(5)))
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            receiver_url: receiver_url.trim_end_matches('/').to_string(),
            failure_url: failure_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
        })
    }

    /// Hands `results` to the receiver, then the failure service.
    pub async fn send(&self, results: Vec<CheckResult>) -> Result<(), ForwardError> {
        if results.is_empty() {
            return Ok(());
        }
        let batch = ResultBatch { results };
        self.post(
            "receiver",
            &format!("{}/v1/results", self.receiver_url),
            &batch,
        )
        .await?;
        self.post(
            "failure service",
            &format!("{}/v1/failures", self.failure_url),
            &batch,
        )
        .await
    }

    async fn post(
        &self,
        target: &'static str,
        url: &str,
        batch: &ResultBatch,
    ) -> Result<(), ForwardError> {
        let err = |detail: String| ForwardError { target, detail };
        let answer = self
            .http
            .post(url)
            .bearer_auth(&self.token)
            .json(batch)
            .send()
            .await
            .map_err(|e| err(e.to_string()))?;
        if answer.status().is_success() {
            Ok(())
        } else {
            Err(err(format!("HTTP {}", answer.status())))
        }
    }
}
