//! Where the detectors' state and the outbox of unsent reports live, as a port:
//! [`MemoryTrendState`] for the embedded mode and tests, and
//! [`super::redis_state::RedisTrendState`] beside the Redis queue.
//!
//! `commit` stores new endpoint states and queues reports in one step, so a worker that
//! dies after it never loses a report, and one that dies before it recomputes the same
//! minutes (their dirty marks are cleared only after the commit) and raises the same
//! reports under the same keys.

use std::collections::{BTreeMap, HashMap};

use futures::FutureExt;
use futures::future::BoxFuture;
use scoville_core::degradation::DegradationReport;

use super::EndpointTrend;
use crate::queue::QueueError;

/// The detectors' state and the outbox.
pub trait TrendState: Send + Sync + std::fmt::Debug {
    /// The stored states of `endpoints`, aligned with them.
    fn load<'a>(
        &'a self,
        endpoints: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Option<EndpointTrend>>, QueueError>>;

    /// Stores the states (an older state never replaces a newer one) and queues the
    /// reports, in one step.
    fn commit<'a>(
        &'a self,
        states: &'a [(String, EndpointTrend)],
        reports: &'a [DegradationReport],
    ) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Up to `limit` unsent reports.
    fn outbox(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DegradationReport>, QueueError>>;

    /// Removes sent reports from the outbox; with `refused`, keeps them aside as dead
    /// letters with the reason.
    fn settle<'a>(
        &'a self,
        keys: &'a [String],
        refused: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), QueueError>>;
}

/// In-process state.
#[derive(Debug, Default)]
pub struct MemoryTrendState {
    inner: std::sync::Mutex<Memory>,
}

#[derive(Debug, Default)]
struct Memory {
    states: HashMap<String, EndpointTrend>,
    outbox: BTreeMap<String, DegradationReport>,
    dead: Vec<(DegradationReport, String)>,
}

impl MemoryTrendState {
    fn with<T>(&self, f: impl FnOnce(&mut Memory) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Reports refused by the failure service, with the reason.
    pub fn dead_letters(&self) -> Vec<(DegradationReport, String)> {
        self.with(|m| m.dead.clone())
    }
}

impl TrendState for MemoryTrendState {
    fn load<'a>(
        &'a self,
        endpoints: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Option<EndpointTrend>>, QueueError>> {
        let found = self.with(|m| endpoints.iter().map(|e| m.states.get(e).cloned()).collect());
        futures::future::ready(Ok(found)).boxed()
    }

    fn commit<'a>(
        &'a self,
        states: &'a [(String, EndpointTrend)],
        reports: &'a [DegradationReport],
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        self.with(|m| {
            for (key, state) in states {
                let newer = m
                    .states
                    .get(key)
                    .is_none_or(|old| old.last_minute_ms() < state.last_minute_ms());
                if newer {
                    m.states.insert(key.clone(), state.clone());
                }
            }
            for r in reports {
                m.outbox.insert(r.key(), r.clone());
            }
        });
        futures::future::ready(Ok(())).boxed()
    }

    fn outbox(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DegradationReport>, QueueError>> {
        let out = self.with(|m| m.outbox.values().take(limit).cloned().collect());
        futures::future::ready(Ok(out)).boxed()
    }

    fn settle<'a>(
        &'a self,
        keys: &'a [String],
        refused: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        self.with(|m| {
            for k in keys {
                if let Some(r) = m.outbox.remove(k)
                    && let Some(reason) = refused
                {
                    m.dead.push((r, reason.to_string()));
                }
            }
        });
        futures::future::ready(Ok(())).boxed()
    }
}
