//! The in-process notification queue (the all-in-one mode, tests): bounded, with SQS's
//! visibility semantics (see [`crate::queue`]) and a bounded dead-letter list that can be
//! read back. Receivers waiting on an empty queue wake when a job is sent or made
//! visible.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;
use scoville_core::hook::QueuedJob;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{JobQueue, QueueError, ReceiptHandle, ReceivedJob};

/// Bounds and timings of a [`MemoryJobQueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryQueueSettings {
    /// Most jobs held (visible or not); sends beyond are refused with
    /// [`QueueError::Full`].
    pub capacity: usize,
    /// How long a received job stays invisible unless deleted or retried.
    pub visibility_timeout: Duration,
    /// Receives after which a job is dead-lettered instead of received again.
    pub max_receives: u32,
    /// Most dead letters kept (the oldest are dropped, with an error log).
    pub dead_letter_capacity: usize,
}

impl Default for MemoryQueueSettings {
    fn default() -> Self {
        Self {
            capacity: 100_000,
            visibility_timeout: Duration::from_secs(60),
            max_receives: 5,
            dead_letter_capacity: 10_000,
        }
    }
}

/// A job moved aside, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The job.
    pub job: QueuedJob,
    /// Why.
    pub reason: String,
    /// Receives it had.
    pub receive_count: u32,
}

/// The in-process queue.
#[derive(Debug)]
pub struct MemoryJobQueue {
    settings: MemoryQueueSettings,
    state: Mutex<State>,
    notify: Notify,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    /// By id, so oldest first.
    messages: BTreeMap<u64, Held>,
    dead: VecDeque<DeadLetter>,
}

#[derive(Debug)]
struct Held {
    job: QueuedJob,
    visible_at: Instant,
    receive_count: u32,
    /// Bumped on every receive; part of the receipt handle.
    generation: u64,
}

impl MemoryJobQueue {
    /// An empty queue.
    pub fn new(settings: MemoryQueueSettings) -> Self {
        Self {
            settings: MemoryQueueSettings {
                capacity: settings.capacity.max(1),
                max_receives: settings.max_receives.max(1),
                ..settings
            },
            state: Mutex::new(State::default()),
            notify: Notify::new(),
        }
    }

    /// Jobs held, visible or not.
    pub fn len(&self) -> usize {
        self.lock().messages.len()
    }

    /// Whether no job is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dead letters, oldest first.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.lock().dead.iter().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every critical section leaves the state consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push_dead(&self, state: &mut State, letter: DeadLetter) {
        tracing::warn!(
            channel_id = %letter.job.channel_id(),
            dedup_key = %letter.job.dedup_key(),
            receive_count = letter.receive_count,
            reason = %letter.reason,
            "notification job dead-lettered"
        );
        if state.dead.len() >= self.settings.dead_letter_capacity.max(1) {
            if let Some(old) = state.dead.pop_front() {
                tracing::error!(
                    dedup_key = %old.job.dedup_key(),
                    "dead-letter list full: oldest dead letter dropped"
                );
            }
        }
        state.dead.push_back(letter);
    }

    /// Takes up to `max` visible jobs now; `Err(next)` with the next time one becomes
    /// visible when there are none.
    fn take(&self, max: usize) -> Result<Vec<ReceivedJob>, Option<Instant>> {
        let now = Instant::now();
        let mut state = self.lock();
        let mut out = Vec::new();
        let mut expired = Vec::new();
        let mut next: Option<Instant> = None;
        for (id, held) in state.messages.iter_mut() {
            if held.visible_at > now {
                next = Some(next.map_or(held.visible_at, |n| n.min(held.visible_at)));
                continue;
            }
            if out.len() >= max {
                break;
            }
            if held.receive_count >= self.settings.max_receives {
                expired.push(*id);
                continue;
            }
            held.receive_count += 1;
            held.generation += 1;
            held.visible_at = now + self.settings.visibility_timeout;
            out.push(ReceivedJob {
                handle: ReceiptHandle(format!("{id}:{}", held.generation)),
                job: held.job.clone(),
                receive_count: held.receive_count,
            });
        }
        for id in expired {
            if let Some(held) = state.messages.remove(&id) {
                let letter = DeadLetter {
                    reason: format!("received {} times without success", held.receive_count),
                    job: held.job,
                    receive_count: held.receive_count,
                };
                self.push_dead(&mut state, letter);
            }
        }
        if out.is_empty() { Err(next) } else { Ok(out) }
    }

    /// The held message a handle names, if the handle is current.
    fn with_current<T>(
        &self,
        handle: &ReceiptHandle,
        f: impl FnOnce(&mut State, u64) -> T,
    ) -> Result<T, QueueError> {
        let (id, generation) = handle
            .0
            .split_once(':')
            .and_then(|(i, g)| Some((i.parse::<u64>().ok()?, g.parse::<u64>().ok()?)))
            .ok_or(QueueError::StaleHandle)?;
        let mut state = self.lock();
        match state.messages.get(&id) {
            Some(h) if h.generation == generation => Ok(f(&mut state, id)),
            _ => Err(QueueError::StaleHandle),
        }
    }
}

impl Default for MemoryJobQueue {
    fn default() -> Self {
        Self::new(MemoryQueueSettings::default())
    }
}

impl JobQueue for MemoryJobQueue {
    fn send_jobs<'a>(&'a self, jobs: &'a [QueuedJob]) -> BoxFuture<'a, Result<(), QueueError>> {
        let result = {
            let mut state = self.lock();
            if state.messages.len() + jobs.len() > self.settings.capacity {
                Err(QueueError::Full {
                    capacity: self.settings.capacity,
                })
            } else {
                let now = Instant::now();
                for job in jobs {
                    let id = state.next_id;
                    state.next_id += 1;
                    state.messages.insert(
                        id,
                        Held {
                            job: job.clone(),
                            visible_at: now,
                            receive_count: 0,
                            generation: 0,
                        },
                    );
                }
                Ok(())
            }
        };
        if result.is_ok() {
            self.notify.notify_waiters();
        }
        Box::pin(async move { result })
    }

    fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> BoxFuture<'_, Result<Vec<ReceivedJob>, QueueError>> {
        Box::pin(async move {
            let deadline = Instant::now() + wait;
            let max = max.max(1);
            loop {
                let notified = self.notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let next = match self.take(max) {
                    Ok(jobs) => return Ok(jobs),
                    Err(next) => next,
                };
                let now = Instant::now();
                if now >= deadline {
                    return Ok(Vec::new());
                }
                let until = next.map_or(deadline, |n| n.min(deadline));
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep_until(until) => {}
                }
            }
        })
    }

    fn delete<'a>(&'a self, handle: &'a ReceiptHandle) -> BoxFuture<'a, Result<(), QueueError>> {
        let r = self.with_current(handle, |state, id| {
            state.messages.remove(&id);
        });
        Box::pin(async move { r })
    }

    fn retry_later<'a>(
        &'a self,
        handle: &'a ReceiptHandle,
        delay: Duration,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        let r = self.with_current(handle, |state, id| {
            if let Some(h) = state.messages.get_mut(&id) {
                h.visible_at = Instant::now() + delay.min(super::MAX_VISIBILITY);
            }
        });
        if r.is_ok() {
            self.notify.notify_waiters();
        }
        Box::pin(async move { r })
    }

    fn dead_letter<'a>(
        &'a self,
        job: &'a ReceivedJob,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        let r = self.with_current(&job.handle, |state, id| {
            if let Some(held) = state.messages.remove(&id) {
                let letter = DeadLetter {
                    job: held.job,
                    reason: reason.to_string(),
                    receive_count: held.receive_count,
                };
                self.push_dead(state, letter);
            }
        });
        Box::pin(async move { r })
    }

    fn max_receives(&self) -> u32 {
        self.settings.max_receives
    }

    fn depth(&self) -> BoxFuture<'_, Result<Option<u64>, QueueError>> {
        let n = self.len() as u64;
        Box::pin(async move { Ok(Some(n)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::render::tests::notice;
    use scoville_core::notice::{NoticeKind, NotificationJob};

    fn job(i: usize) -> NotificationJob {
        let mut n = notice(&format!("ep {i}"), NoticeKind::Down);
        n.incident_id = format!("inc-{i}");
        NotificationJob {
            channel_id: "ch".into(),
            notice: n,
        }
    }

    fn queue(visibility_ms: u64, max_receives: u32) -> MemoryJobQueue {
        MemoryJobQueue::new(MemoryQueueSettings {
            capacity: 10,
            visibility_timeout: Duration::from_millis(visibility_ms),
            max_receives,
            dead_letter_capacity: 10,
        })
    }

    #[tokio::test]
    async fn visibility_timeout_and_retry_later() {
        let q = queue(200, 5);
        q.send(&[job(1), job(2)]).await.unwrap();
        let got = q.receive(10, Duration::ZERO).await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].job, job(1));
        assert_eq!(got[0].receive_count, 1);
        // Invisible until the timeout.
        assert!(
            q.receive(10, Duration::from_millis(50))
                .await
                .unwrap()
                .is_empty()
        );
        q.delete(&got[1].handle).await.unwrap();
        // Job 1 was not deleted: it comes back after the visibility timeout, counted.
        let again = q.receive(10, Duration::from_millis(500)).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].job, job(1));
        assert_eq!(again[0].receive_count, 2);
        // The old handle is stale now.
        assert_eq!(q.delete(&got[0].handle).await, Err(QueueError::StaleHandle));
        // retry_later(0) makes it visible at once.
        q.retry_later(&again[0].handle, Duration::ZERO)
            .await
            .unwrap();
        let third = q.receive(10, Duration::ZERO).await.unwrap();
        assert_eq!(third[0].receive_count, 3);
        q.delete(&third[0].handle).await.unwrap();
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn dead_letter_on_request() {
        let q = queue(10_000, 5);
        q.send(&[job(1), job(2)]).await.unwrap();
        let got = q.receive(10, Duration::ZERO).await.unwrap();
        q.dead_letter(&got[1], "HTTP 400: bad").await.unwrap();
        q.retry_later(&got[0].handle, Duration::ZERO).await.unwrap();
        let again = q.receive(10, Duration::ZERO).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].job, job(1));
        let dead = q.dead_letters();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].job, job(2));
        assert_eq!(dead[0].reason, "HTTP 400: bad");
        assert_eq!(
            q.dead_letter(&got[1], "again").await,
            Err(QueueError::StaleHandle)
        );
    }

    #[tokio::test]
    async fn redrive_after_max_receives() {
        let q = queue(10_000, 2);
        q.send(&[job(1)]).await.unwrap();
        let a = q.receive(10, Duration::ZERO).await.unwrap();
        q.retry_later(&a[0].handle, Duration::ZERO).await.unwrap();
        let b = q.receive(10, Duration::ZERO).await.unwrap();
        assert_eq!(b[0].receive_count, 2);
        q.retry_later(&b[0].handle, Duration::ZERO).await.unwrap();
        assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());
        let dead = q.dead_letters();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].job, job(1));
        assert_eq!(dead[0].receive_count, 2);
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn bounded_and_wakes_waiting_receivers() {
        let q = std::sync::Arc::new(queue(1000, 5));
        let jobs: Vec<_> = (0..11).map(job).collect();
        assert_eq!(q.send(&jobs).await, Err(QueueError::Full { capacity: 10 }));
        assert!(q.is_empty());
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.receive(5, Duration::from_secs(5)).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        q.send(&[job(1)]).await.unwrap();
        let got = waiter.await.unwrap().unwrap();
        assert_eq!(got.len(), 1);
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
