//! The embedded queue: a bounded in-process FIFO of batches, for `scoville up`. It lives
//! and dies with the process, which the all-in-one mode accepts; servers use Redis.

use std::collections::VecDeque;
use std::sync::Mutex;

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{QueueError, QueuedBatch, ResultQueue};

/// A bounded in-process queue.
#[derive(Debug)]
pub struct MemoryQueue {
    max_backlog: u64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    batches: VecDeque<QueuedBatch>,
    backlog: u64,
}

impl MemoryQueue {
    /// A queue refusing batches past `max_backlog` waiting results.
    pub fn new(max_backlog: u64) -> Self {
        Self {
            max_backlog,
            state: Mutex::default(),
        }
    }

    /// Takes up to `max` batches off the front (the worker's side).
    pub fn take(&self, max: usize) -> Vec<QueuedBatch> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let n = max.min(state.batches.len());
        let taken: Vec<QueuedBatch> = state.batches.drain(..n).collect();
        state.backlog -= taken.iter().map(|b| u64::from(b.count)).sum::<u64>();
        taken
    }
}

impl ResultQueue for MemoryQueue {
    fn push(&self, batch: QueuedBatch) -> BoxFuture<'_, Result<(), QueueError>> {
        let result = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if state.backlog + u64::from(batch.count) > self.max_backlog {
                Err(QueueError::Full {
                    backlog: state.backlog,
                })
            } else {
                state.backlog += u64::from(batch.count);
                state.batches.push_back(batch);
                Ok(())
            }
        };
        async move { result }.boxed()
    }

    fn backlog(&self) -> BoxFuture<'_, Result<u64, QueueError>> {
        let backlog = self.state.lock().unwrap_or_else(|p| p.into_inner()).backlog;
        async move { Ok(backlog) }.boxed()
    }
}
