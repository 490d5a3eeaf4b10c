//! The server worker loop: receive a batch from the queue, let the [`Dispatcher`] deliver
//! it (grouped per channel, deduplicated, paced, with retries), then settle every job
//! with the queue: delete the sent and the duplicates, send the retryable back for their
//! backoff delay, dead-letter the permanent failures and the jobs that used up their
//! receives.
//!
//! **Gathering.** A receive returns what is there; during an outage the failure service
//! queues jobs over a few seconds and SQS hands out at most 10 per call. So after the
//! first job of a cycle arrives the worker keeps receiving for up to `gather` (or until
//! `batch_max` jobs) before dispatching, which is what lets a storm become a few digests
//! instead of hundreds of messages. A lone alert waits at most `gather` longer.
//!
//! **Cycles overlap.** While a cycle delivers (a slow channel can hold its cycle for its
//! attempts, timeouts and backoff: 40 s for a webhook answering after 30 s), the worker
//! keeps receiving, and up to [`CYCLES_IN_FLIGHT`] cycles are delivered at once: a slow
//! channel holds up its own jobs, never the next alerts of the other channels.
//!
//! The queue's visibility timeout must exceed one cycle (`gather` plus the longest
//! delivery: attempts, backoff and pace waits), or jobs come back while still being
//! handled; dedup keeps that from sending twice, but it wastes receives.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use tokio::time::Instant;

use crate::dispatch::{Dispatcher, Incoming, Outcome};
use crate::queue::{JobQueue, QueueError, ReceivedJob};

/// At most this many received batches are delivered at once by [`Worker::run`].
pub const CYCLES_IN_FLIGHT: usize = 4;

/// Worker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerSettings {
    /// Most jobs per cycle.
    pub batch_max: usize,
    /// Long-poll wait for the first job of a cycle.
    pub wait: Duration,
    /// How long to keep gathering jobs after the first arrived.
    pub gather: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            batch_max: 500,
            wait: Duration::from_secs(20),
            gather: Duration::from_secs(2),
        }
    }
}

/// What one cycle did, by job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CycleReport {
    /// Jobs received.
    pub received: usize,
    /// Sent and deleted.
    pub sent: usize,
    /// Duplicates deleted.
    pub duplicates: usize,
    /// Sent back to the queue for later.
    pub retried: usize,
    /// Dead-lettered.
    pub dead_lettered: usize,
}

/// The worker.
#[derive(Debug, Clone)]
pub struct Worker {
    queue: Arc<dyn JobQueue>,
    dispatcher: Arc<Dispatcher>,
    settings: WorkerSettings,
}

impl Worker {
    /// A worker draining `queue` through `dispatcher`.
    pub fn new(
        queue: Arc<dyn JobQueue>,
        dispatcher: Arc<Dispatcher>,
        settings: WorkerSettings,
    ) -> Self {
        Self {
            queue,
            dispatcher,
            settings,
        }
    }

    /// One cycle: receive (gathering), dispatch, settle. Returns an empty report when no
    /// job arrived within `wait`.
    pub async fn run_cycle(&self) -> Result<CycleReport, QueueError> {
        let received = self.receive_batch().await?;
        Ok(self.process(received).await)
    }

    /// Receives a batch: waits up to `wait` for a first job, then gathers for `gather`.
    async fn receive_batch(&self) -> Result<Vec<ReceivedJob>, QueueError> {
        let s = &self.settings;
        let max = s.batch_max.max(1);
        let mut received = self.queue.receive(max, s.wait).await?;
        self.dispatcher.metrics().queue_ok();
        if received.is_empty() {
            return Ok(received);
        }
        let deadline = Instant::now() + s.gather;
        while received.len() < max {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let more = match self.queue.receive(max - received.len(), left).await {
                Ok(more) => more,
                Err(e) => {
                    // Deliver what we have; the queue is retried next cycle.
                    tracing::warn!(error = %e, "receive failed while gathering");
                    break;
                }
            };
            if more.is_empty() {
                // SQS long-polls in whole seconds: under a second left means an
                // immediate answer, so pause briefly before asking again.
                tokio::time::sleep(left.min(Duration::from_millis(100))).await;
            }
            received.extend(more);
        }
        Ok(received)
    }

    /// Dispatches a received batch and settles every job with the queue.
    async fn process(&self, received: Vec<ReceivedJob>) -> CycleReport {
        if received.is_empty() {
            return CycleReport::default();
        }
        let incoming: Vec<Incoming> = received
            .iter()
            .map(|r| Incoming {
                job: r.job.clone(),
                receive_count: r.receive_count,
            })
            .collect();
        let outcomes = self.dispatcher.dispatch(&incoming).await;
        let mut report = CycleReport {
            received: received.len(),
            ..CycleReport::default()
        };
        for (r, outcome) in received.iter().zip(outcomes) {
            self.settle(r, outcome, &mut report).await;
        }
        tracing::info!(
            received = report.received,
            sent = report.sent,
            duplicates = report.duplicates,
            retried = report.retried,
            dead_lettered = report.dead_lettered,
            "notification cycle"
        );
        report
    }

    async fn settle(&self, r: &ReceivedJob, outcome: Outcome, report: &mut CycleReport) {
        let result = match outcome {
            Outcome::Sent => {
                report.sent += 1;
                self.queue.delete(&r.handle).await
            }
            Outcome::Duplicate => {
                report.duplicates += 1;
                self.queue.delete(&r.handle).await
            }
            Outcome::Retry { reason, .. } if r.receive_count >= self.queue.max_receives() => {
                report.dead_lettered += 1;
                // The dispatcher counted this last try as a retry; the job ends here.
                crate::metrics::Metrics::add(&self.dispatcher.metrics().jobs_dead_lettered, 1);
                let reason = format!("gave up after {} deliveries: {reason}", r.receive_count);
                self.queue.dead_letter(r, &reason).await
            }
            Outcome::Retry { after, .. } | Outcome::Deferred { after, .. } => {
                report.retried += 1;
                self.queue.retry_later(&r.handle, after).await
            }
            Outcome::DeadLetter { reason } => {
                report.dead_lettered += 1;
                self.queue.dead_letter(r, &reason).await
            }
        };
        match result {
            Ok(()) => {}
            Err(QueueError::StaleHandle) => tracing::warn!(
                dedup_key = %r.job.dedup_key(),
                "job's visibility ran out during the cycle: it will be received again (dedup holds)"
            ),
            Err(e) => tracing::error!(
                dedup_key = %r.job.dedup_key(),
                error = %e,
                "could not settle a job with the queue: it will be received again"
            ),
        }
    }

    /// Runs cycles until `stop` completes, up to [`CYCLES_IN_FLIGHT`] batches delivered
    /// at once while the next is received. Stopping interrupts a receive, never a
    /// delivery: every batch once received is delivered and settled first. Queue errors
    /// are logged and retried with backoff up to 30 s.
    pub async fn run(&self, stop: impl Future<Output = ()>) {
        type Receiving<'a> =
            Pin<Box<dyn Future<Output = Result<Vec<ReceivedJob>, QueueError>> + 'a>>;
        tokio::pin!(stop);
        let mut pause = Duration::from_millis(500);
        let mut delivering = FuturesUnordered::new();
        // A receive in progress is kept across loop turns (never dropped half-way, which
        // would leave its jobs invisible until their visibility timeout).
        let mut receiving: Option<Receiving<'_>> = None;
        let mut stopping = false;
        loop {
            if receiving.is_none() && !stopping && delivering.len() < CYCLES_IN_FLIGHT {
                receiving = Some(Box::pin(self.receive_batch()));
            }
            if stopping && delivering.is_empty() {
                return;
            }
            tokio::select! {
                biased;
                _ = &mut stop, if !stopping => {
                    stopping = true;
                    receiving = None;
                }
                Some(_) = delivering.next(), if !delivering.is_empty() => {}
                received = async {
                    match receiving.as_mut() {
                        Some(r) => r.await,
                        None => std::future::pending().await,
                    }
                }, if receiving.is_some() => {
                    receiving = None;
                    match received {
                        Ok(batch) => {
                            pause = Duration::from_millis(500);
                            if !batch.is_empty() {
                                delivering.push(self.process(batch));
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, pause_ms = pause.as_millis() as u64, "notification queue unavailable");
                            let wait = pause;
                            pause = (pause * 2).min(Duration::from_secs(30));
                            receiving = Some(Box::pin(async move {
                                tokio::time::sleep(wait).await;
                                Ok(Vec::new())
                            }));
                        }
                    }
                }
            }
        }
    }
}
