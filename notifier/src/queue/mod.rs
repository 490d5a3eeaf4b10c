//! The notification queue between the failure service (which sends jobs) and the
//! notifiers (which receive, deliver and delete them), as a port with two adapters:
//! [`sqs::SqsJobQueue`] (Amazon SQS with a dead-letter queue) for AWS and servers, and
//! [`memory::MemoryJobQueue`] (bounded, in-process) for the all-in-one mode and tests.
//!
//! Both follow SQS's semantics so that code tested on one behaves the same on the other:
//!
//! - a received job is invisible for the queue's visibility timeout and comes back if it
//!   is not deleted by then (a crashed worker loses nothing);
//! - [`JobQueue::retry_later`] sets that invisibility explicitly (SQS
//!   `ChangeMessageVisibility`): the worker's backoff between deliveries;
//! - each receive counts; past the queue's maximum (SQS's redrive policy
//!   `maxReceiveCount`) the job moves to the dead-letter queue instead of being received;
//! - [`JobQueue::dead_letter`] moves a job there at once (a permanent failure);
//! - a receipt handle is only good for the receive that produced it.
//!
//! Delivery is at least once; [`crate::dedup`] makes it effectively once.
//!
//! The queue carries [`QueuedJob`]s: notification jobs (encoded as they always were) and
//! batches of results for result hooks (`scoville_core::hook`).

pub mod memory;
pub mod sqs;

use std::time::Duration;

use futures::future::BoxFuture;
use scoville_core::hook::QueuedJob;
use scoville_core::notice::NotificationJob;

pub use memory::MemoryJobQueue;
pub use sqs::SqsJobQueue;

/// Why a queue operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The queue is at its bound (in-process queue); the sender retries later.
    #[error("notification queue is full ({capacity} jobs)")]
    Full {
        /// The bound.
        capacity: usize,
    },
    /// One job is too large for a queue message.
    #[error("notification job is {bytes} bytes, over the {limit}-byte message limit")]
    TooLarge {
        /// Its encoded size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The receipt handle is unknown or stale (the job was received again since).
    #[error("receipt handle is stale or unknown")]
    StaleHandle,
    /// The queue could not be reached or refused the call.
    #[error("notification queue unavailable: {0}")]
    Unavailable(String),
}

/// Identifies one receive of one job, for delete, retry and dead-letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReceiptHandle(pub String);

/// A job as received.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedJob {
    /// This receive's handle.
    pub handle: ReceiptHandle,
    /// The job: a notification, or a batch of results for a hook.
    pub job: QueuedJob,
    /// How many times it has been received, this time included (1 the first time).
    pub receive_count: u32,
}

/// The notification queue.
pub trait JobQueue: Send + Sync + std::fmt::Debug {
    /// Queues jobs; returns once the queue has stored all of them. On error some may have
    /// been stored: sending them again is safe (dedup).
    fn send_jobs<'a>(&'a self, jobs: &'a [QueuedJob]) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Queues notification jobs, as [`Self::send_jobs`].
    fn send<'a>(&'a self, jobs: &'a [NotificationJob]) -> BoxFuture<'a, Result<(), QueueError>> {
        let queued: Vec<QueuedJob> = jobs.iter().cloned().map(QueuedJob::from).collect();
        Box::pin(async move { self.send_jobs(&queued).await })
    }

    /// Up to `max` visible jobs, waiting up to `wait` for the first one.
    fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> BoxFuture<'_, Result<Vec<ReceivedJob>, QueueError>>;

    /// Deletes a delivered (or duplicate) job.
    fn delete<'a>(&'a self, handle: &'a ReceiptHandle) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Makes a received job visible again after `delay` (0 = at once).
    fn retry_later<'a>(
        &'a self,
        handle: &'a ReceiptHandle,
        delay: Duration,
    ) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Moves a received job to the dead-letter queue, with the reason.
    fn dead_letter<'a>(
        &'a self,
        job: &'a ReceivedJob,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Receives after which the queue dead-letters a job by itself.
    fn max_receives(&self) -> u32;

    /// Jobs the queue holds (waiting, delayed or being delivered), for `/metrics`;
    /// approximate where the queue only knows approximately (SQS); `None` when this
    /// queue cannot tell.
    fn depth(&self) -> BoxFuture<'_, Result<Option<u64>, QueueError>> {
        Box::pin(async { Ok(None) })
    }
}

/// Longest delay SQS accepts for a message's visibility (12 hours).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);
