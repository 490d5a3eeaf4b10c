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
//! - Rollups: a step marks the minutes and hours it touched as dirty, durably (in Redis,
//!   before it acknowledges), and a rollup pass every `rollup_every` recomputes each dirty
//!   minute once it has settled (ended `settle` ago), each dirty hour once it has closed
//!   and, while it is open, at most every `hour_refresh`. Recomputing a period reads all
//!   of its raw points, so late and repeated results come out right, and each period is
//!   recomputed about once rather than once per batch.
//! - Trends: with an analyzer ([`Worker::with_trend`]), each run of settled minutes is
//!   read back and handed to it after its rollups and before its dirty marks are
//!   cleared, so a worker killed in between analyses those minutes again (the analyzer
//!   skips minutes it has taken).
//! - Result hooks: with a publisher ([`Worker::with_hooks`]), each entry's results are
//!   queued for the org's `all` hooks after they are stored and before the entries are
//!   acknowledged, retried like the store (see [`crate::hooks`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use scoville_core::CheckResult;
use scoville_core::wire::ResultBatch;
use tokio::sync::Mutex;

use crate::hooks::ResultHooks;
use crate::queue::{DirtyMark, Period, QueueConsumer, QueueError};
use crate::store::{ResultStore, StoreError};
use crate::trend::TrendAnalyzer;

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
    /// How often dirty rollups are looked at.
    pub rollup_every: Duration,
    /// How long after a period's end its rollup waits for stragglers.
    pub settle: Duration,
    /// How often an open hour's rollup is refreshed.
    pub hour_refresh: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            batch_entries: 50,
            block: Duration::from_millis(250),
            max_deliveries: 5,
            max_backoff: Duration::from_secs(10),
            rollup_every: Duration::from_secs(10),
            settle: Duration::from_secs(10),
            hour_refresh: Duration::from_secs(600),
        }
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
    trend: Option<Arc<TrendAnalyzer>>,
    hooks: Option<Arc<ResultHooks>>,
}

const HOUR: i64 = 3_600_000;
/// How long a rollup pass may hold the lock before another may start: a pass normally
/// takes well under a second; a crashed holder's lock frees by this (or at once when the
/// same consumer comes back).
const ROLLUP_LOCK_TTL: Duration = Duration::from_secs(60);

impl Worker {
    /// A worker draining `queue` into `store`.
    pub fn new(
        queue: Arc<dyn QueueConsumer>,
        store: Arc<dyn ResultStore>,
        settings: WorkerSettings,
    ) -> Self {
        Self {
            queue,
            store,
            settings,
            hours_done: Mutex::default(),
            trend: None,
            hooks: None,
        }
    }

    /// Queues every result for the org's `all` result hooks through `hooks`.
    pub fn with_hooks(mut self, hooks: Arc<ResultHooks>) -> Self {
        self.hooks = Some(hooks);
        self
    }

    /// Runs `trend` over every minute once its rollup is recomputed (lanes of one process
    /// share one analyzer).
    pub fn with_trend(mut self, trend: Arc<TrendAnalyzer>) -> Self {
        self.trend = Some(trend);
        self
    }

    /// Runs steps, and rollup passes every `rollup_every`, until `shutdown` completes;
    /// then one last pass over every dirty period, settled or not (an in-process queue
    /// keeps its dirty marks in memory: without it a restart would leave the last
    /// minutes without rollups; a minute rolled up early is recomputed from the stored
    /// results when more of them arrive).
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        self.run_inner(shutdown, None).await;
    }

    /// [`run`](Self::run), but on shutdown it first stores what the queue still holds,
    /// for at most `within`: an in-process queue (`scoville up`) would lose it with the
    /// process. Start the shutdown once nothing is added to the queue any more.
    pub async fn run_then_drain(&self, shutdown: impl Future<Output = ()>, within: Duration) {
        self.run_inner(shutdown, Some(within)).await;
    }

    async fn run_inner(&self, shutdown: impl Future<Output = ()>, drain: Option<Duration>) {
        tokio::pin!(shutdown);
        let mut last_pass = Instant::now();
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => {
                    if let Some(within) = drain {
                        let drained = self.drain(within).await;
                        tracing::info!(entries = drained, "queue drained on shutdown");
                    }
                    self.rollup_pass(true).await;
                    return;
                }
                stats = self.step() => {
                    if stats.entries > 0 {
                        tracing::debug!(entries = stats.entries, results = stats.results, dead = stats.dead_lettered, "drained");
                    }
                }
            }
            if last_pass.elapsed() >= self.settings.rollup_every {
                self.rollup_pass(false).await;
                last_pass = Instant::now();
            }
        }
    }

    /// Steps until a step finds the queue empty or `within` has passed; returns the
    /// entries stored.
    pub async fn drain(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        let mut entries = 0;
        while Instant::now() < deadline {
            let stats = self.step().await;
            if stats.entries == 0 {
                break;
            }
            entries += stats.entries;
        }
        entries
    }

    /// One step: take, write, roll up, acknowledge. Retries (with backoff) until the
    /// entries it took are stored and acknowledged.
    pub async fn step(&self) -> StepStats {
        let taken = self
            .retry("take", || {
                self.queue
                    .take(self.settings.batch_entries, self.settings.block)
            })
            .await;
        if taken.is_empty() {
            return StepStats::default();
        }
        let mut stats = StepStats {
            entries: taken.len(),
            ..StepStats::default()
        };
        let mut results: Vec<CheckResult> = Vec::new();
        // Each entry's results, as a range of `results`, for the result hooks.
        let mut per_entry: Vec<std::ops::Range<usize>> = Vec::new();
        for entry in &taken {
            let reason = if entry.deliveries > self.settings.max_deliveries {
                Some(format!(
                    "delivered {} times without being stored",
                    entry.deliveries
                ))
            } else {
                match scoville_core::parse::from_json::<ResultBatch>(&entry.body) {
                    Ok(batch) => {
                        let start = results.len();
                        results.extend(batch.results);
                        per_entry.push(start..results.len());
                        None
                    }
                    Err(e) => Some(format!("unparseable batch: {e}")),
                }
            };
            if let Some(reason) = reason {
                tracing::warn!(entry = %entry.id, reason, "entry dead-lettered");
                self.retry("dead-letter", || {
                    self.queue.dead_letter(&entry.body, &reason)
                })
                .await;
                stats.dead_lettered += 1;
            }
        }
        stats.dead_lettered += self.store_all(&results).await;
        stats.results = results.len();
        if let Some(hooks) = &self.hooks {
            let entries: Vec<&[CheckResult]> =
                per_entry.iter().map(|r| &results[r.clone()]).collect();
            self.retry_hooks(hooks, &entries).await;
        }
        for period in [Period::Minute, Period::Hour] {
            let mut starts: Vec<i64> = results
                .iter()
                .map(|r| r.started_at_ms.div_euclid(period.ms()) * period.ms())
                .collect();
            starts.sort_unstable();
            starts.dedup();
            self.retry("mark dirty", || self.queue.mark_dirty(period, &starts))
                .await;
        }
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
                    self.retry("dead-letter", || self.queue.dead_letter(&payload, &reason))
                        .await;
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

    /// Recomputes the rollups of dirty periods that are due; with `force`, of every dirty
    /// period (tests, and a worker's last pass before stopping).
    pub async fn rollup_pass(&self, force: bool) {
        // One pass at a time across lanes and workers (see `lock_rollups`); a lane that
        // finds it taken leaves the marks to the pass under way.
        match self.queue.lock_rollups(ROLLUP_LOCK_TTL).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(error = %e, "rollup lock unavailable; pass skipped");
                return;
            }
        }
        self.rollup_pass_locked(force).await;
        if let Err(e) = self.queue.unlock_rollups().await {
            tracing::warn!(error = %e, "rollup lock not released; it expires");
        }
    }

    async fn rollup_pass_locked(&self, force: bool) {
        let now = now_ms();
        let settle = self.settings.settle.as_millis() as i64;
        let horizon = if force {
            i64::MAX
        } else {
            now - Period::Minute.ms() - settle
        };
        let minutes = self
            .retry("dirty minutes", || {
                self.queue.dirty(Period::Minute, horizon)
            })
            .await;
        for run in contiguous(&minutes, Period::Minute.ms()) {
            let (from, to) = (run[0].start, run[run.len() - 1].start + Period::Minute.ms());
            if self
                .retry_store(|| self.store.rollup_minutes(from, to))
                .await
                .is_ok()
            {
                if let Some(trend) = &self.trend
                    && let Ok(checks) = self.retry_store(|| self.store.checks(from, to)).await
                {
                    self.retry("trend", || trend.analyze(&checks)).await;
                }
                self.retry("clear dirty", || {
                    self.queue.clear_dirty(Period::Minute, run)
                })
                .await;
            }
        }
        let hours = self
            .retry("dirty hours", || self.queue.dirty(Period::Hour, i64::MAX))
            .await;
        let mut refreshed = self.hours_done.lock().await;
        for mark in hours {
            let hour = mark.start;
            let closed = force || now >= hour + HOUR + settle;
            let fresh = refreshed
                .get(&hour)
                .is_some_and(|t| t.elapsed() < self.settings.hour_refresh);
            if !closed && fresh {
                continue;
            }
            if self
                .retry_store(|| self.store.rollup_hours(hour, hour + HOUR))
                .await
                .is_ok()
            {
                refreshed.insert(hour, Instant::now());
                if closed {
                    self.retry("clear dirty", || {
                        self.queue
                            .clear_dirty(Period::Hour, std::slice::from_ref(&mark))
                    })
                    .await;
                }
            }
        }
        refreshed.retain(|h, _| *h + 2 * HOUR >= now);
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

    /// Queues results for the result hooks, retrying until the queue has them.
    async fn retry_hooks(&self, hooks: &ResultHooks, entries: &[&[CheckResult]]) {
        let mut pause = Duration::from_millis(100);
        loop {
            match hooks.publish(entries).await {
                Ok(jobs) => {
                    if jobs > 0 {
                        tracing::debug!(jobs, "results queued for result hooks");
                    }
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, pause_ms = pause.as_millis() as u64, "result hooks unavailable; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(self.settings.max_backoff);
                }
            }
        }
    }

    /// Retries a store call while the store is unavailable; a refusal is returned.
    async fn retry_store<T, F, Fut>(&self, mut f: F) -> Result<T, String>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut pause = Duration::from_millis(100);
        loop {
            match f().await {
                Ok(v) => return Ok(v),
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

/// Splits sorted period starts into runs of consecutive periods.
fn contiguous(starts: &[DirtyMark], period: i64) -> Vec<&[DirtyMark]> {
    let mut runs = Vec::new();
    let mut begin = 0;
    for i in 1..=starts.len() {
        if i == starts.len() || starts[i].start != starts[i - 1].start + period {
            if begin < i {
                runs.push(&starts[begin..i]);
            }
            begin = i;
        }
    }
    runs
}
