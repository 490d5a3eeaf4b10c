//! The worker: drains the queue into the store, crash-safe.
//!
//! One step takes up to `batch_entries` entries, parses them, writes every result, brings
//! the rollups of the periods it touched up to date, and only then acknowledges the
//! entries. A worker killed at any point leaves its entries pending; they are taken again
//! (by the same consumer after a restart, or by another after `claim_idle`) and written
//! again, which overwrites the same points: nothing is lost and nothing doubles.
//!
//! - An entry that does not parse, or that has been delivered more than `max_deliveries`
//!   times, goes to the dead-letter stream and is acknowledged; the rest keeps flowing.
//! - Results the store refuses (InfluxDB's 400) are isolated by halving the batch and go
//!   to the dead-letter stream one by one.
//! - While the store or the queue is unavailable the worker backs off (exponentially, up
//!   to `max_backoff`) and tries the same entries again, holding on to them.
//! - Minute rollups are recomputed on every step; hour rollups at most once a minute per
//!   open hour, and at once for hours already closed (late results).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use scoville_core::CheckResult;
use scoville_core::wire::ResultBatch;
use tokio::sync::Mutex;

use crate::queue::{QueueConsumer, QueueError};
use crate::store::{ResultStore, StoreError};

/// How the worker works.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Entries (batches) taken per step.
    pub batch_entries: usize,
    /// How long a take waits for new entries.
    pub block: Duration,
    /// Deliveries after which an entry is dead-lettered.
    pub max_deliveries: u64,
    /// Longest pause between retries.
    pub max_backoff: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self { batch_entries: 50, block: Duration::from_secs(1), max_deliveries: 5, max_backoff: Duration::from_secs(10) }
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepStats {
    /// Entries acknowledged.
    pub entries: usize,
    /// Results written.
    pub results: usize,
    /// Entries or results dead-lettered.
    pub dead_lettered: usize,
}

/// The worker.
#[derive(Debug)]
pub struct Worker {
    queue: Arc<dyn QueueConsumer>,
    store: Arc<dyn ResultStore>,
    settings: WorkerSettings,
    hours_done: Mutex<HashMap<i64, Instant>>,
}

const HOUR: i64 = 3_600_000;

impl Worker {
    /// A worker draining `queue` into `store`.
    pub fn new(queue: Arc<dyn QueueConsumer>, store: Arc<dyn ResultStore>, settings: WorkerSettings) -> Self {
        Self { queue, store, settings, hours_done: Mutex::default() }
    }

    /// Runs steps until `shutdown` completes; a step in progress is finished first.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => return,
                stats = self.step() => {
                    if stats.entries > 0 {
                        tracing::debug!(entries = stats.entries, results = stats.results, dead = stats.dead_lettered, "drained");
                    }
                }
            }
        }
    }

    /// One step: take, write, roll up, acknowledge. Retries (with backoff) until the
    /// entries it took are stored and acknowledged.
    pub async fn step(&self) -> StepStats {
        let taken = self.retry("take", || self.queue.take(self.settings.batch_entries, self.settings.block)).await;
        if taken.is_empty() {
            return StepStats::default();
        }
        let mut stats = StepStats { entries: taken.len(), ..StepStats::default() };
        let mut results: Vec<CheckResult> = Vec::new();
        for entry in &taken {
            let reason = if entry.deliveries > self.settings.max_deliveries {
                Some(format!("delivered {} times without being stored", entry.deliveries))
            } else {
                match scoville_core::parse::from_json::<ResultBatch>(&entry.body) {
                    Ok(batch) => {
                        results.extend(batch.results);
                        None
                    }
                    Err(e) => Some(format!("unparseable batch: {e}")),
                }
            };
            if let Some(reason) = reason {
                tracing::warn!(entry = %entry.id, reason, "entry dead-lettered");
                self.retry("dead-letter", || self.queue.dead_letter(&entry.body, &reason)).await;
                stats.dead_lettered += 1;
            }
        }
        stats.dead_lettered += self.store_all(&results).await;
        stats.results = results.len();
        self.roll_up(&results).await;
        self.retry("ack", || self.queue.ack(&taken)).await;
        stats
    }

    /// Writes all results, isolating and dead-lettering any the store refuses; returns
    /// how many were dead-lettered.
    async fn store_all(&self, results: &[CheckResult]) -> usize {
        let mut dead = 0;
        let mut stack: Vec<&[CheckResult]> = vec![results];
        while let Some(part) = stack.pop() {
            if part.is_empty() {
                continue;
            }
            match self.retry_store(|| self.store.write(part)).await {
                Ok(()) => {}
                Err(reason) if part.len() == 1 => {
                    let payload = serde_json::to_vec(&part[0]).unwrap_or_default();
                    let reason = format!("refused by the store: {reason}");
                    tracing::warn!(endpoint = %part[0].endpoint_id, reason, "result dead-lettered");
                    self.retry("dead-letter", || self.queue.dead_letter(&payload, &reason)).await;
                    dead += 1;
                }
                Err(_) => {
                    let (a, b) = part.split_at(part.len() / 2);
                    stack.push(b);
                    stack.push(a);
                }
            }
        }
        dead
    }

    async fn roll_up(&self, results: &[CheckResult]) {
        let Some(from) = results.iter().map(|r| r.started_at_ms).min() else { return };
        let to = results.iter().map(|r| r.started_at_ms).max().unwrap_or(from) + 1;
        let _ = self.retry_store(|| self.store.rollup_minutes(from, to)).await;
        let now_hour = now_ms().div_euclid(HOUR);
        let mut hours_done = self.hours_done.lock().await;
        for hour in from.div_euclid(HOUR)..=(to - 1).div_euclid(HOUR) {
            let open = hour >= now_hour;
            let recent = hours_done.get(&hour).is_some_and(|t| t.elapsed() < Duration::from_secs(60));
            if open && recent {
                continue;
            }
            let _ = self.retry_store(|| self.store.rollup_hours(hour * HOUR, (hour + 1) * HOUR)).await;
            hours_done.insert(hour, Instant::now());
        }
        hours_done.retain(|h, _| *h >= now_hour - 2);
    }

    /// Retries a queue call until it succeeds.
    async fn retry<T, F, Fut>(&self, what: &str, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, QueueError>>,
    {
        let mut pause = Duration::from_millis(100);
        loop {
            match f().await {
                Ok(v) => return v,
                Err(e) => {
                    tracing::warn!(what, error = %e, pause_ms = pause.as_millis() as u64, "queue call failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(self.settings.max_backoff);
                }
            }
        }
    }

    /// Retries a store call while the store is unavailable; a refusal is returned.
    async fn retry_store<F, Fut>(&self, mut f: F) -> Result<(), String>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), StoreError>>,
    {
        let mut pause = Duration::from_millis(100);
        loop {
            match f().await {
                Ok(()) => return Ok(()),
                Err(StoreError::Rejected(reason)) => return Err(reason),
                Err(StoreError::Unavailable(e)) => {
                    tracing::warn!(error = %e, pause_ms = pause.as_millis() as u64, "store unavailable; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(self.settings.max_backoff);
                }
            }
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
