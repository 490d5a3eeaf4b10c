//! The queue between the receiver and the worker, as a port with two adapters:
//! [`redis::RedisQueue`] (Redis Streams with a consumer group) for servers and Lambda, and
//! [`memory::MemoryQueue`] (bounded, in-process) for the embedded all-in-one mode.
//!
//! A batch is queued as one entry holding the request body exactly as validated, with its
//! result count. Both adapters bound the backlog in results and refuse past it
//! ([`QueueError::Full`]) rather than grow without limit.

pub mod memory;
pub mod redis;
pub mod redis_consumer;

use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;

/// Why a batch was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The backlog is at its limit; try again later.
    #[error("queue backlog is full ({backlog} results waiting)")]
    Full {
        /// Results waiting.
        backlog: u64,
    },
    /// The queue's store could not be reached or did not answer in time.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

/// A validated batch ready to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedBatch {
    /// Number of results in it.
    pub count: u32,
    /// The `{"results": [...]}` JSON document.
    pub body: Bytes,
}

/// The receiving side of the queue.
pub trait ResultQueue: Send + Sync + std::fmt::Debug {
    /// Queues a batch; returns once the store has acknowledged it.
    fn push(&self, batch: QueuedBatch) -> BoxFuture<'_, Result<(), QueueError>>;

    /// Results waiting, for `/metrics` and `/readyz`.
    fn backlog(&self) -> BoxFuture<'_, Result<u64, QueueError>>;
}

/// An entry taken from the queue by the worker; acknowledge it once stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    /// The entry's id in the queue.
    pub id: String,
    /// Results in it.
    pub count: u32,
    /// The batch document.
    pub body: Bytes,
    /// How many times it has been handed to a worker, this time included.
    pub deliveries: u64,
}

/// The worker's side of the queue.
pub trait QueueConsumer: Send + Sync + std::fmt::Debug {
    /// Up to `max` entries: first those this consumer or a dead one left unacknowledged,
    /// then new ones, waiting up to `block` when there are none.
    fn take(&self, max: usize, block: Duration) -> BoxFuture<'_, Result<Vec<Taken>, QueueError>>;

    /// Acknowledges and deletes stored entries, lowering the backlog.
    fn ack<'a>(&'a self, entries: &'a [Taken]) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Keeps a poisoned payload (an entry, or one result of it) aside with the reason.
    fn dead_letter<'a>(
        &'a self,
        payload: &'a [u8],
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Remembers, durably, that these periods' rollups need recomputing.
    fn mark_dirty<'a>(
        &'a self,
        period: Period,
        starts: &'a [i64],
    ) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Dirty periods starting at or before `up_to_ms`, oldest first, with the version of
    /// their marks.
    fn dirty(
        &self,
        period: Period,
        up_to_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<DirtyMark>, QueueError>>;

    /// Forgets dirty periods whose rollups are recomputed, each only if it was not marked
    /// again since [`dirty`](Self::dirty) read it: a lane that stored results in a
    /// period while another lane recomputed it keeps its mark, so its results are rolled
    /// up at the next pass (without the version, the second lane's mark was cleared with
    /// the first's and its results never reached a rollup).
    fn clear_dirty<'a>(
        &'a self,
        period: Period,
        marks: &'a [DirtyMark],
    ) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Takes the rollup lock for at most `ttl`: one rollup pass at a time across the
    /// lanes and workers of a queue (two passes recomputing one period at once could
    /// write a stale rollup over a fresh one, and the fresh pass would then clear the
    /// mark). False when another pass holds it.
    fn lock_rollups(&self, ttl: Duration) -> BoxFuture<'_, Result<bool, QueueError>>;

    /// Releases the rollup lock if this consumer holds it.
    fn unlock_rollups(&self) -> BoxFuture<'_, Result<(), QueueError>>;
}

/// A dirty period's start and the version of its mark (bumped by every mark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirtyMark {
    /// The period's start, Unix ms.
    pub start: i64,
    /// How many times it was marked.
    pub version: u64,
}

/// A rollup period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// One minute.
    Minute,
    /// One hour.
    Hour,
}

impl Period {
    /// Length in ms.
    pub fn ms(self) -> i64 {
        match self {
            Period::Minute => 60_000,
            Period::Hour => 3_600_000,
        }
    }

    /// Short name, for keys.
    pub fn name(self) -> &'static str {
        match self {
            Period::Minute => "1m",
            Period::Hour => "1h",
        }
    }
}
