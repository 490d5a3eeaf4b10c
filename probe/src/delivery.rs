//! Delivering results: every result to the receiver (`POST /v1/results`), and failures,
//! warnings and every result of an endpoint listed as down to the failure service
//! (`POST /v1/failures`), in batches, as the round produces them. The watched value of
//! every successful check that watches something (change alerts) goes to the failure
//! service's `POST /v1/changes` as a `ChangeReport`, through the same batches, retries
//! and carry-over, as a third destination.
//!
//! Every watched observation is sent, not only those that differ from the endpoint's
//! `last_body_hash` (which the admin API does not fill): watching is opt-in, one report
//! per watched endpoint, region and round is the same load as a down endpoint's
//! failures, and the failure service keeps each region's last value, so repeats are
//! silent there. A failed check sends no value: it says nothing about the content.
//!
//! - A batch is sent when it is full or `flush_ms` after its first result.
//! - Each POST has a timeout; a failed one is retried up to `attempts` times with
//!   exponential backoff and full jitter, honouring `Retry-After`.
//! - 413 splits the batch in halves; 400 and 422 mean the batch itself is bad: it is
//!   dropped with an error log line and the `rejected` counter, never retried.
//! - What still cannot be delivered is kept in a bounded carry-over buffer and sent
//!   first in the next round. Past `buffer_max` the oldest results are dropped, with a
//!   warning and the `dropped` counter: never silently.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use scoville_core::CheckResult;
use scoville_core::wire::{ChangeBatch, ChangeReport};
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::config::{Config, DeliverySection, ServiceSection};
use crate::metrics::Metrics;

/// The two services results go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The receiver: every result.
    Receiver = 0,
    /// The failure service: failures and results of endpoints that are down.
    Failures = 1,
    /// The failure service's `/v1/changes`: watched values of successful checks.
    Changes = 2,
}

impl Service {
    /// All three, in index order.
    pub const ALL: [Service; 3] = [Service::Receiver, Service::Failures, Service::Changes];

    /// Label value.
    pub fn name(self) -> &'static str {
        match self {
            Service::Receiver => "receiver",
            Service::Failures => "failure_service",
            Service::Changes => "changes",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Service::Receiver => "v1/results",
            Service::Failures => "v1/failures",
            Service::Changes => "v1/changes",
        }
    }
}

/// Something that sees every result of a round as it completes (the CLI prints them).
pub type ResultHook = Box<dyn Fn(&CheckResult) + Send>;

/// A result and whether the failure service must see it too.
#[derive(Debug)]
pub struct Routed {
    /// The result.
    pub result: CheckResult,
    /// Also send it to the failure service.
    pub to_failures: bool,
}

/// What one round's delivery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryStats {
    /// Results the receiver accepted (this round's and carried-over ones).
    pub results_delivered: u64,
    /// Results the failure service accepted.
    pub failures_delivered: u64,
    /// Watched values the failure service accepted (`/v1/changes`).
    pub changes_delivered: u64,
    /// Results waiting for the next round, for every destination.
    pub carried_over: u64,
    /// Results dropped this round (buffer full, or refused as invalid).
    pub dropped: u64,
}

#[derive(Debug)]
struct Destination {
    url: url::Url,
    token: Option<String>,
}

/// Sends results; shared by all rounds of a probe.
#[derive(Debug)]
pub struct Delivery {
    client: reqwest::Client,
    destinations: [Option<Destination>; 3],
    settings: DeliverySection,
    carry: [Mutex<VecDeque<CheckResult>>; 3],
    posts: [Semaphore; 3],
    metrics: Arc<Metrics>,
}

/// The delivery could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("delivery: {0}")]
pub struct DeliveryError(String);

#[derive(Serialize)]
struct BatchRef<'a> {
    results: &'a [CheckResult],
}

/// Whether a result carries a watched value for `/v1/changes`: a successful check
/// (up or warning) whose spec watches something.
fn is_watched(r: &CheckResult) -> bool {
    r.report.outcome.is_up() && r.report.body_hash.is_some()
}

/// The `/v1/changes` body of a batch of watched results.
fn change_batch(batch: &[CheckResult]) -> ChangeBatch {
    let changes = batch
        .iter()
        .filter_map(|r| {
            Some(ChangeReport {
                endpoint_id: r.endpoint_id.clone(),
                org_id: r.org_id.clone(),
                region: r.region.clone(),
                at_ms: r.started_at_ms,
                body_hash: r.report.body_hash.clone()?,
                value: r.report.watch_excerpt.clone(),
            })
        })
        .collect();
    ChangeBatch { changes }
}

enum PostError {
    /// Worth trying again (after the given pause, if the server named one).
    Retry(String, Option<Duration>),
    /// Too large: split.
    TooLarge,
    /// Invalid: drop.
    Rejected(String),
}

impl Delivery {
    /// Builds the delivery from the configuration.
    pub fn new(config: &Config, metrics: Arc<Metrics>) -> Result<Self, DeliveryError> {
        let destination = |s: &ServiceSection| -> Result<Option<Destination>, DeliveryError> {
            let Some(u) = &s.url else { return Ok(None) };
            let mut url = url::Url::parse(u).map_err(|e| DeliveryError(e.to_string()))?;
            if !url.path().ends_with('/') {
                url.set_path(&format!("{}/", url.path()));
            }
            Ok(Some(Destination {
                url,
                token: s.token.clone(),
            }))
        };
        let timeout = Duration::from_millis(
            config
                .receiver
                .timeout_ms
                .max(config.failure_service.timeout_ms),
        );
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(config.delivery.max_concurrent_posts)
            .user_agent(concat!("Scoville-Probe/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DeliveryError(e.to_string()))?;
        let posts = config.delivery.max_concurrent_posts;
        Ok(Self {
            client,
            destinations: [
                destination(&config.receiver)?,
                destination(&config.failure_service)?,
                destination(&config.failure_service)?,
            ],
            settings: config.delivery.clone(),
            carry: Default::default(),
            posts: [
                Semaphore::new(posts),
                Semaphore::new(posts),
                Semaphore::new(posts),
            ],
            metrics,
        })
    }

    /// Whether results for `s` go anywhere.
    pub fn sends_to(&self, s: Service) -> bool {
        self.destinations[s as usize].is_some()
    }

    /// Results waiting for the next round.
    pub fn carried_over(&self, s: Service) -> usize {
        self.lock_carry(s).len()
    }

    fn lock_carry(&self, s: Service) -> std::sync::MutexGuard<'_, VecDeque<CheckResult>> {
        self.carry[s as usize]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Starts delivering one round: push results into the sender, drop it when the round
    /// is over, and await the handle for the stats.
    pub fn start_round(
        self: &Arc<Self>,
        on_result: Option<ResultHook>,
    ) -> (mpsc::Sender<Routed>, tokio::task::JoinHandle<DeliveryStats>) {
        let (tx, rx) = mpsc::channel(self.settings.batch_size * 2);
        let this = self.clone();
        let handle = tokio::spawn(async move { this.deliver_round(rx, on_result).await });
        (tx, handle)
    }

    async fn deliver_round(
        self: Arc<Self>,
        mut rx: mpsc::Receiver<Routed>,
        on_result: Option<ResultHook>,
    ) -> DeliveryStats {
        let batch_size = self.settings.batch_size;
        let mut pending: [Vec<CheckResult>; 3] = Default::default();
        for s in Service::ALL {
            pending[s as usize].extend(self.lock_carry(s).drain(..));
        }
        let mut posts: JoinSet<(Service, u64, u64)> = JoinSet::new();
        let mut stats = DeliveryStats::default();
        let mut flush =
            tokio::time::interval(Duration::from_millis(self.settings.flush_ms.max(10)));
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Send every full batch.
            for s in Service::ALL {
                while pending[s as usize].len() >= batch_size {
                    let batch: Vec<CheckResult> = pending[s as usize].drain(..batch_size).collect();
                    self.spawn_post(&mut posts, s, batch);
                }
            }
            tokio::select! {
                routed = rx.recv() => match routed {
                    Some(Routed { result, to_failures }) => {
                        if let Some(f) = &on_result {
                            f(&result);
                        }
                        if to_failures && self.sends_to(Service::Failures) {
                            pending[Service::Failures as usize].push(result.clone());
                        }
                        if is_watched(&result) && self.sends_to(Service::Changes) {
                            pending[Service::Changes as usize].push(result.clone());
                        }
                        if self.sends_to(Service::Receiver) {
                            pending[Service::Receiver as usize].push(result);
                        }
                    }
                    None => break,
                },
                _ = flush.tick() => {
                    for s in Service::ALL {
                        if !pending[s as usize].is_empty() {
                            let batch = std::mem::take(&mut pending[s as usize]);
                            self.spawn_post(&mut posts, s, batch);
                        }
                    }
                }
                Some(done) = posts.join_next(), if !posts.is_empty() => account(&mut stats, done),
            }
        }
        for s in Service::ALL {
            for batch in std::mem::take(&mut pending[s as usize]).chunks(batch_size) {
                self.spawn_post(&mut posts, s, batch.to_vec());
            }
        }
        while let Some(done) = posts.join_next().await {
            account(&mut stats, done);
        }
        for s in Service::ALL {
            let n = self.carried_over(s);
            self.metrics.set_buffered(s, n);
            stats.carried_over += n as u64;
        }
        stats
    }

    fn spawn_post(
        self: &Arc<Self>,
        posts: &mut JoinSet<(Service, u64, u64)>,
        s: Service,
        batch: Vec<CheckResult>,
    ) {
        let this = self.clone();
        posts.spawn(async move {
            let _permit = this.posts[s as usize].acquire().await;
            let (delivered, dropped) = this.post_batch(s, batch).await;
            (s, delivered, dropped)
        });
    }

    /// Posts one batch with retries and splitting; keeps what fails for the next round.
    /// Returns (delivered, dropped).
    async fn post_batch(&self, s: Service, batch: Vec<CheckResult>) -> (u64, u64) {
        let mut stack = vec![batch];
        let (mut delivered, mut dropped) = (0u64, 0u64);
        while let Some(batch) = stack.pop() {
            match self.post_with_retries(s, &batch).await {
                Ok(()) => {
                    delivered += batch.len() as u64;
                    self.metrics.delivered(s, batch.len());
                }
                Err(PostError::TooLarge) if batch.len() > 1 => {
                    let mut first = batch;
                    let second = first.split_off(first.len() / 2);
                    stack.push(second);
                    stack.push(first);
                }
                Err(PostError::TooLarge) => {
                    tracing::error!(
                        service = s.name(),
                        "a single result is too large for the service; dropped"
                    );
                    self.metrics.rejected(s, 1);
                    dropped += 1;
                }
                Err(PostError::Rejected(why)) => {
                    tracing::error!(
                        service = s.name(),
                        results = batch.len(),
                        why,
                        "batch refused as invalid; dropped"
                    );
                    self.metrics.rejected(s, batch.len());
                    dropped += batch.len() as u64;
                }
                Err(PostError::Retry(why, _)) => {
                    tracing::warn!(
                        service = s.name(),
                        results = batch.len(),
                        why,
                        "batch not delivered; kept for the next round"
                    );
                    dropped += self.keep(s, batch);
                }
            }
        }
        (delivered, dropped)
    }

    /// Puts results in the carry-over buffer, dropping the oldest past its bound.
    fn keep(&self, s: Service, batch: Vec<CheckResult>) -> u64 {
        let mut carry = self.lock_carry(s);
        carry.extend(batch);
        let excess = carry.len().saturating_sub(self.settings.buffer_max);
        if excess > 0 {
            carry.drain(..excess);
            tracing::warn!(
                service = s.name(),
                dropped = excess,
                "carry-over buffer full; oldest results dropped"
            );
            self.metrics.dropped(s, excess);
        }
        excess as u64
    }

    async fn post_with_retries(&self, s: Service, batch: &[CheckResult]) -> Result<(), PostError> {
        let Some(dest) = &self.destinations[s as usize] else {
            return Ok(());
        };
        let body = match s {
            Service::Changes => serde_json::to_vec(&change_batch(batch)),
            _ => serde_json::to_vec(&BatchRef { results: batch }),
        }
        .map_err(|e| PostError::Rejected(e.to_string()))?;
        let url = dest
            .url
            .join(s.path())
            .map_err(|e| PostError::Rejected(e.to_string()))?;
        let attempts = self.settings.attempts;
        let mut last = PostError::Retry("no attempt".into(), None);
        for attempt in 0..attempts {
            let mut req = self
                .client
                .post(url.clone())
                .header("content-type", "application/json")
                .body(body.clone());
            if let Some(t) = &dest.token {
                req = req.bearer_auth(t);
            }
            last = match req.send().await {
                Ok(resp) if resp.status().is_success() => return Ok(()),
                Ok(resp) => classify(resp).await,
                Err(e) => PostError::Retry(e.to_string(), None),
            };
            let PostError::Retry(_, retry_after) = &last else {
                return Err(last);
            };
            if attempt + 1 < attempts {
                tokio::time::sleep(retry_after.unwrap_or_else(|| backoff(attempt))).await;
            }
        }
        Err(last)
    }
}

fn account(stats: &mut DeliveryStats, done: Result<(Service, u64, u64), tokio::task::JoinError>) {
    match done {
        Ok((Service::Receiver, delivered, dropped)) => {
            stats.results_delivered += delivered;
            stats.dropped += dropped;
        }
        Ok((Service::Failures, delivered, dropped)) => {
            stats.failures_delivered += delivered;
            stats.dropped += dropped;
        }
        Ok((Service::Changes, delivered, dropped)) => {
            stats.changes_delivered += delivered;
            stats.dropped += dropped;
        }
        Err(e) => tracing::error!(error = %e, "delivery task failed"),
    }
}

async fn classify(resp: reqwest::Response) -> PostError {
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|secs| Duration::from_secs(secs.min(10)));
    let text = resp.text().await.unwrap_or_default();
    let why = format!(
        "HTTP {status}: {}",
        text.chars().take(200).collect::<String>()
    );
    match status {
        413 => PostError::TooLarge,
        400 | 422 => PostError::Rejected(why),
        _ => PostError::Retry(why, retry_after),
    }
}

/// Exponential backoff with full jitter: uniform in [0, 200 ms × 2^attempt], capped at 5 s.
fn backoff(attempt: u32) -> Duration {
    let cap = (200u64 << attempt.min(10)).min(5_000);
    Duration::from_millis(rand::rng().random_range(0..=cap))
}
