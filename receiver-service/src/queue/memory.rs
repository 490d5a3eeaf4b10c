//! The embedded queue: a bounded in-process FIFO of batches, for `scoville up`, with the
//! worker's side too. It lives and dies with the process, which the all-in-one mode
//! accepts (its store is SQLite; a result is at risk only between its 201 and the next
//! drain); servers use Redis.
//!
//! Entries taken and not yet acknowledged still count in the backlog, as with Redis;
//! within one process the worker holds on to what it took until it is stored, so nothing
//! needs redelivery. Dead letters are kept in memory, the newest 10,000.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::Notify;

use super::{DirtyMark, Period, QueueConsumer, QueueError, QueuedBatch, ResultQueue, Taken};

const MAX_DEAD: usize = 10_000;

/// A bounded in-process queue.
#[derive(Debug)]
pub struct MemoryQueue {
    max_backlog: u64,
    state: Mutex<State>,
    arrived: Notify,
}

#[derive(Debug, Default)]
struct State {
    batches: VecDeque<(u64, QueuedBatch)>,
    next_id: u64,
    in_flight: Vec<(u64, u32)>,
    backlog: u64,
    dead: VecDeque<(String, Bytes)>,
    /// Until when the rollup lock is held, if it is.
    rollup_lock_until: Option<std::time::Instant>,
    /// Dirty period start -> its mark's version.
    dirty_minutes: BTreeMap<i64, u64>,
    dirty_hours: BTreeMap<i64, u64>,
}

impl MemoryQueue {
    /// A queue refusing batches past `max_backlog` waiting results.
    pub fn new(max_backlog: u64) -> Self {
        Self {
            max_backlog,
            state: Mutex::default(),
            arrived: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Dead letters kept, oldest first: (reason, payload).
    pub fn dead_letters(&self) -> Vec<(String, Bytes)> {
        self.lock().dead.iter().cloned().collect()
    }
}

impl State {
    fn dirty(&mut self, period: Period) -> &mut BTreeMap<i64, u64> {
        match period {
            Period::Minute => &mut self.dirty_minutes,
            Period::Hour => &mut self.dirty_hours,
        }
    }
}

impl ResultQueue for MemoryQueue {
    fn push(&self, batch: QueuedBatch) -> BoxFuture<'_, Result<(), QueueError>> {
        let result = {
            let mut state = self.lock();
            if state.backlog + u64::from(batch.count) > self.max_backlog {
                Err(QueueError::Full {
                    backlog: state.backlog,
                })
            } else {
                state.backlog += u64::from(batch.count);
                state.next_id += 1;
                let id = state.next_id;
                state.batches.push_back((id, batch));
                Ok(())
            }
        };
        if result.is_ok() {
            self.arrived.notify_one();
        }
        async move { result }.boxed()
    }

    fn backlog(&self) -> BoxFuture<'_, Result<u64, QueueError>> {
        let backlog = self.lock().backlog;
        async move { Ok(backlog) }.boxed()
    }
}

impl QueueConsumer for MemoryQueue {
    fn take(&self, max: usize, block: Duration) -> BoxFuture<'_, Result<Vec<Taken>, QueueError>> {
        async move {
            for attempt in 0..2 {
                let taken: Vec<Taken> = {
                    let mut state = self.lock();
                    let n = max.min(state.batches.len());
                    let batches: Vec<(u64, QueuedBatch)> = state.batches.drain(..n).collect();
                    state
                        .in_flight
                        .extend(batches.iter().map(|(id, b)| (*id, b.count)));
                    batches
                        .into_iter()
                        .map(|(id, b)| Taken {
                            id: id.to_string(),
                            count: b.count,
                            body: b.body,
                            deliveries: 1,
                        })
                        .collect()
                };
                if !taken.is_empty() || attempt == 1 {
                    return Ok(taken);
                }
                let _ = tokio::time::timeout(block, self.arrived.notified()).await;
            }
            Ok(Vec::new())
        }
        .boxed()
    }

    fn ack<'a>(&'a self, entries: &'a [Taken]) -> BoxFuture<'a, Result<(), QueueError>> {
        let mut state = self.lock();
        for e in entries {
            let Ok(id) = e.id.parse::<u64>() else {
                continue;
            };
            if let Some(i) = state.in_flight.iter().position(|(x, _)| *x == id) {
                let (_, count) = state.in_flight.swap_remove(i);
                state.backlog -= u64::from(count);
            }
        }
        async { Ok(()) }.boxed()
    }

    fn dead_letter<'a>(
        &'a self,
        payload: &'a [u8],
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        let mut state = self.lock();
        state
            .dead
            .push_back((reason.to_string(), Bytes::copy_from_slice(payload)));
        while state.dead.len() > MAX_DEAD {
            state.dead.pop_front();
        }
        async { Ok(()) }.boxed()
    }

    fn mark_dirty<'a>(
        &'a self,
        period: Period,
        starts: &'a [i64],
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        let mut state = self.lock();
        let marks = state.dirty(period);
        for s in starts {
            *marks.entry(*s).or_insert(0) += 1;
        }
        async { Ok(()) }.boxed()
    }

    fn dirty(
        &self,
        period: Period,
        up_to_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<DirtyMark>, QueueError>> {
        let marks: Vec<DirtyMark> = self
            .lock()
            .dirty(period)
            .range(..=up_to_ms)
            .take(1000)
            .map(|(start, version)| DirtyMark {
                start: *start,
                version: *version,
            })
            .collect();
        async move { Ok(marks) }.boxed()
    }

    fn lock_rollups(&self, ttl: Duration) -> BoxFuture<'_, Result<bool, QueueError>> {
        let now = std::time::Instant::now();
        let mut state = self.lock();
        let free = state.rollup_lock_until.is_none_or(|until| until <= now);
        if free {
            state.rollup_lock_until = Some(now + ttl);
        }
        async move { Ok(free) }.boxed()
    }

    fn unlock_rollups(&self) -> BoxFuture<'_, Result<(), QueueError>> {
        self.lock().rollup_lock_until = None;
        async { Ok(()) }.boxed()
    }

    fn clear_dirty<'a>(
        &'a self,
        period: Period,
        marks: &'a [DirtyMark],
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        let mut state = self.lock();
        let set = state.dirty(period);
        for m in marks {
            if set.get(&m.start) == Some(&m.version) {
                set.remove(&m.start);
            }
        }
        async { Ok(()) }.boxed()
    }
}
