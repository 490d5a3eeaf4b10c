//! Shared by the failure service's tests: a job sink that records (and can be told to
//! fail), app state over a given store, and result batches.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;
use scoville_core::incident::IncidentPolicy;
use scoville_core::notice::NotificationJob;
use scoville_failure_service::AppState;
use scoville_failure_service::config::Limits;
use scoville_failure_service::directory::ConfigDirectory;
use scoville_failure_service::engine::{Engine, EngineSettings, JobSink};
use scoville_failure_service::metrics::Metrics;
use scoville_failure_service::store::IncidentStore;
use scoville_service_kit::auth::{TokenHash, TokenSet};

pub const TOKEN: &str = "probe-token-0123456789";
pub const MIN: i64 = 60_000;
pub const T0: i64 = 1_790_000_000_000 / MIN * MIN;

/// Records the jobs it is given; fails while `failing` is set.
#[derive(Debug, Default)]
pub struct RecordingSink {
    pub jobs: Mutex<Vec<NotificationJob>>,
    pub failing: AtomicBool,
}

impl RecordingSink {
    pub fn jobs(&self) -> Vec<NotificationJob> {
        self.jobs.lock().unwrap().clone()
    }

    /// Distinct dedup keys (what the notifier would send).
    pub fn distinct(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.jobs().iter().map(|j| j.dedup_key()).collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

impl JobSink for RecordingSink {
    fn send<'a>(&'a self, jobs: &'a [NotificationJob]) -> BoxFuture<'a, Result<(), String>> {
        let outcome = if self.failing.load(Ordering::SeqCst) {
            Err("queue unavailable".to_string())
        } else {
            self.jobs.lock().unwrap().extend_from_slice(jobs);
            Ok(())
        };
        futures::future::ready(outcome).boxed()
    }
}

pub fn state(
    store: Arc<dyn IncidentStore>,
    sink: Arc<RecordingSink>,
    channels: &[&str],
) -> AppState {
    let metrics = Arc::new(Metrics::default());
    let directory = ConfigDirectory::new(
        "https://scoville.example",
        IncidentPolicy::default(),
        channels.iter().map(|c| c.to_string()).collect(),
        Vec::new(),
    );
    AppState {
        engine: Engine::new(
            store,
            Arc::new(directory),
            sink,
            EngineSettings::default(),
            metrics.clone(),
        ),
        tokens: Arc::new(TokenSet::new(vec![TokenHash::of(TOKEN)])),
        limits: Limits {
            max_body_bytes: 64 * 1024,
            max_batch: 100,
        },
        metrics,
    }
}

/// A result of `endpoint` in `region` for round `round`.
pub fn result(endpoint: &str, region: &str, round: i64, up: bool) -> serde_json::Value {
    let at = T0 + round * MIN + 5_000;
    serde_json::json!({
        "endpoint_id": endpoint, "org_id": "org-1", "region": region, "run_id": format!("r{round}"),
        "scheduled_at_ms": at, "started_at_ms": at + 20,
        "outcome": if up { "up" } else { "down" }, "reason": if up { serde_json::Value::Null } else { "connect".into() },
        "message": if up { "" } else { "connection refused" },
        "status": if up { serde_json::json!(200) } else { serde_json::Value::Null },
        "timings": {"total_ms": 12.5}
    })
}

pub fn batch(results: Vec<serde_json::Value>) -> serde_json::Value {
    serde_json::json!({ "results": results })
}
