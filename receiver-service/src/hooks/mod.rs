//! Every result to the organization's `all` result hooks (issue 9; see
//! `scoville_core::hook`): the worker, once it has stored what it took and before it
//! acknowledges, hands each queue entry's results to [`ResultHooks::publish`], which
//! looks up each org's `all` hooks ([`HookDirectory`]: the admin API, cached) and puts one
//! [`ResultsJob`] per (hook, up to [`RESULTS_PER_JOB`] results) on the notification
//! queue, where the notifier delivers it with the notifications' guarantees (dedup,
//! retries with backoff, dead letter).
//!
//! Decisions:
//! - Jobs are cut **per queue entry** (one probe POST), by org, in the entry's order: the
//!   same entry always gives the same jobs, hence the same dedup keys. An entry taken
//!   again after a crash (stored again, overwriting) is queued again and delivered once.
//! - Nothing is acknowledged before its jobs are queued; while the queue or the directory
//!   cannot answer the worker holds on and retries, as it does for its store. The
//!   directory answers from its cache past the TTL when the admin API is unreachable, so
//!   only an org never seen before waits for it (and with the admin API down the probes
//!   get no endpoint list either).
//! - Orgs without hooks are cached too (one admin call per org per TTL per process).
//! - A job holds at most [`RESULTS_PER_JOB`] results and [`MAX_JOB_RESULT_BYTES`] of their
//!   JSON, so it fits an SQS message (256 KiB); a single result larger than that (it
//!   would never fit) is left out of the hooks with a warning, never blocking the worker.

pub mod config;
pub mod directory;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use scoville_core::hook::{QueuedJob, RESULTS_PER_JOB, ResultsJob};
use scoville_core::{CheckResult, OrgId};
use scoville_notifier::queue::JobQueue;

pub use directory::{AdminHookDirectory, HookDirectory, StaticHookDirectory};

/// Most bytes of results' JSON in one job (SQS takes 256 KiB per message; the rest is
/// room for the envelope).
pub const MAX_JOB_RESULT_BYTES: usize = 200 * 1024;

/// Why results could not be handed to the hooks' queue; the worker retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// The hook directory could not answer.
    #[error("result hooks directory: {0}")]
    Directory(String),
    /// The notification queue refused.
    #[error("result hooks queue: {0}")]
    Queue(String),
}

/// The publisher of results to result hooks.
#[derive(Debug, Clone)]
pub struct ResultHooks {
    directory: Arc<dyn HookDirectory>,
    queue: Arc<dyn JobQueue>,
}

impl ResultHooks {
    /// Publishes through `queue` to the hooks `directory` names.
    pub fn new(directory: Arc<dyn HookDirectory>, queue: Arc<dyn JobQueue>) -> Self {
        Self { directory, queue }
    }

    /// The jobs for one queue entry's results (see the module docs).
    pub async fn jobs_for(&self, results: &[CheckResult]) -> Result<Vec<ResultsJob>, HookError> {
        let mut by_org: BTreeMap<&OrgId, Vec<&CheckResult>> = BTreeMap::new();
        for r in results {
            by_org.entry(&r.org_id).or_default().push(r);
        }
        let at_ms = now_ms();
        let mut jobs = Vec::new();
        for (org, rs) in by_org {
            let hooks = self.directory.all_hooks(org).await?;
            if hooks.is_empty() {
                continue;
            }
            for chunk in chunks(&rs) {
                for hook in hooks.iter() {
                    jobs.push(ResultsJob::new(hook, org.clone(), at_ms, chunk.clone()));
                }
            }
        }
        Ok(jobs)
    }

    /// Queues the jobs of every entry's results; returns how many jobs were queued.
    pub fn publish<'a>(
        &'a self,
        entries: &'a [&'a [CheckResult]],
    ) -> BoxFuture<'a, Result<usize, HookError>> {
        Box::pin(async move {
            let mut jobs: Vec<QueuedJob> = Vec::new();
            for results in entries {
                jobs.extend(
                    self.jobs_for(results)
                        .await?
                        .into_iter()
                        .map(QueuedJob::from),
                );
            }
            if jobs.is_empty() {
                return Ok(0);
            }
            self.queue
                .send_jobs(&jobs)
                .await
                .map_err(|e| HookError::Queue(e.to_string()))?;
            Ok(jobs.len())
        })
    }
}

/// Cuts results into jobs' worth, in order: at most [`RESULTS_PER_JOB`] results and
/// [`MAX_JOB_RESULT_BYTES`] of JSON each (depends only on the results: the same results
/// give the same cut).
fn chunks(results: &[&CheckResult]) -> Vec<Vec<CheckResult>> {
    let mut out: Vec<Vec<CheckResult>> = Vec::new();
    let mut current: Vec<CheckResult> = Vec::new();
    let mut bytes = 0;
    for r in results {
        let size = serde_json::to_vec(r).map(|v| v.len()).unwrap_or(usize::MAX);
        if size > MAX_JOB_RESULT_BYTES {
            tracing::warn!(endpoint = %r.endpoint_id, size, "result too large for a hook delivery: left out");
            continue;
        }
        if current.len() == RESULTS_PER_JOB || bytes + size > MAX_JOB_RESULT_BYTES {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size + 1;
        current.push((*r).clone());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(i: usize, message: &str) -> CheckResult {
        serde_json::from_value(serde_json::json!({
            "endpoint_id": format!("e{i}"), "org_id": "org-1", "region": "eu-west-1", "run_id": "r1",
            "scheduled_at_ms": 1_700_000_000_000i64, "started_at_ms": 1_700_000_000_000i64,
            "outcome": "down", "reason": "status", "message": message, "status": 503,
            "timings": {"total_ms": 13.0}
        }))
        .unwrap()
    }

    #[test]
    fn jobs_hold_at_most_100_results_and_fit_a_queue_message() {
        let small: Vec<CheckResult> = (0..250).map(|i| result(i, "HTTP 503")).collect();
        let refs: Vec<&CheckResult> = small.iter().collect();
        let cut = chunks(&refs);
        assert_eq!(cut.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 50]);
        // Messages of control characters encode six times larger: the byte bound cuts.
        let noisy = "\u{1}".repeat(1000);
        let big: Vec<CheckResult> = (0..100).map(|i| result(i, &noisy)).collect();
        let refs: Vec<&CheckResult> = big.iter().collect();
        let cut = chunks(&refs);
        assert!(cut.len() > 1, "{}", cut.len());
        assert_eq!(cut.iter().map(Vec::len).sum::<usize>(), 100);
        for c in &cut {
            assert!(serde_json::to_vec(c).unwrap().len() <= MAX_JOB_RESULT_BYTES);
        }
        // The same results cut the same way.
        assert_eq!(chunks(&refs), cut);
    }
}
