//! Posts the outbox of degradation reports to the failure service's
//! `POST /v1/degradations` until it accepts them (any 2xx). While the failure service is
//! down, slow, or answers 408, 429 or 5xx, the reports stay in the outbox and the sender
//! backs off (exponentially with full jitter, from `min_backoff` to `max_backoff`,
//! honouring `Retry-After`). A report the failure service refuses outright (another 4xx)
//! would be refused forever: it is set aside as a dead letter with the answer, and logged.

use std::sync::Arc;
use std::time::Duration;

use scoville_core::degradation::DegradationBatch;

use super::TrendState;

/// Where and how reports are sent.
#[derive(Debug, Clone)]
pub struct SenderSettings {
    /// The failure service's base URL (`.../v1/degradations` is appended).
    pub failure_url: reqwest::Url,
    /// A service token for it.
    pub token: String,
    /// Timeout of each request.
    pub timeout: Duration,
    /// Reports per request.
    pub batch: usize,
    /// First pause after a failure.
    pub min_backoff: Duration,
    /// Longest pause.
    pub max_backoff: Duration,
    /// Pause between looks at an empty outbox.
    pub idle: Duration,
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flush {
    /// Nothing to send.
    Empty,
    /// This many reports were accepted.
    Sent(usize),
    /// This many were refused for good and set aside.
    Refused(usize),
    /// Try again after (at least) this long.
    RetryAfter(Option<Duration>),
}

/// The sender.
#[derive(Debug)]
pub struct DegradationSender {
    state: Arc<dyn TrendState>,
    settings: SenderSettings,
    client: reqwest::Client,
    url: reqwest::Url,
}

impl DegradationSender {
    /// A sender draining `state`'s outbox.
    pub fn new(state: Arc<dyn TrendState>, settings: SenderSettings) -> Result<Self, String> {
        let url = settings
            .failure_url
            .join("v1/degradations")
            .map_err(|e| e.to_string())?;
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            state,
            settings,
            client,
            url,
        })
    }

    /// One attempt at one batch of the outbox.
    pub async fn flush_once(&self) -> Flush {
        let reports = match self.state.outbox(self.settings.batch.max(1)).await {
            Ok(r) if r.is_empty() => return Flush::Empty,
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "reading the degradation outbox failed");
                return Flush::RetryAfter(None);
            }
        };
        let keys: Vec<String> = reports.iter().map(|r| r.key()).collect();
        let body = DegradationBatch {
            degradations: reports,
        };
        let answer = self
            .client
            .post(self.url.clone())
            .bearer_auth(&self.settings.token)
            .json(&body)
            .send()
            .await;
        let resp = match answer {
            Ok(resp) => resp,
            Err(e) => {
                tracing::warn!(error = %e, "failure service unreachable; degradations kept");
                return Flush::RetryAfter(None);
            }
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        if status.is_success() {
            if let Err(e) = self.state.settle(&keys, None).await {
                tracing::warn!(error = %e, "clearing sent degradations failed; they will be sent again");
            }
            return Flush::Sent(keys.len());
        }
        let permanent = status.is_client_error() && status != 408 && status != 429;
        if !permanent {
            tracing::warn!(%status, "failure service did not take the degradations; kept");
            return Flush::RetryAfter(retry_after);
        }
        let text: String = resp
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(500)
            .collect();
        let reason = format!("{status}: {text}");
        tracing::error!(
            reason,
            count = keys.len(),
            "failure service refused degradations; set aside"
        );
        match self.state.settle(&keys, Some(&reason)).await {
            Ok(()) => Flush::Refused(keys.len()),
            Err(_) => Flush::RetryAfter(None),
        }
    }

    /// Sends until `shutdown` completes.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut failures: u32 = 0;
        loop {
            let pause = match self.flush_once().await {
                Flush::Sent(_) | Flush::Refused(_) => {
                    failures = 0;
                    Duration::ZERO
                }
                Flush::Empty => {
                    failures = 0;
                    self.settings.idle
                }
                Flush::RetryAfter(hint) => {
                    failures = failures.saturating_add(1);
                    let backoff = full_jitter(
                        self.settings.min_backoff,
                        self.settings.max_backoff,
                        failures,
                    );
                    hint.map_or(backoff, |h| h.min(self.settings.max_backoff).max(backoff))
                }
            };
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}

/// Exponential backoff with full jitter: a random pause in `[min, min·2^(n-1)]`, capped.
fn full_jitter(min: Duration, max: Duration, failures: u32) -> Duration {
    let ceiling = min
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(max);
    let spread = ceiling.saturating_sub(min).as_millis() as u64;
    let jitter = if spread == 0 {
        0
    } else {
        rand::random::<u64>() % (spread + 1)
    };
    min + Duration::from_millis(jitter)
}
