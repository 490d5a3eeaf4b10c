//! Shared by the failure service's tests: the in-process notification queue with what
//! was sent, app state over a given store, and result batches.

#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use scoville_core::incident::IncidentPolicy;
use scoville_core::notice::NotificationJob;
use scoville_failure_service::AppState;
use scoville_failure_service::config::Limits;
use scoville_failure_service::directory::ConfigDirectory;
use scoville_failure_service::engine::{Engine, EngineSettings};
use scoville_failure_service::metrics::Metrics;
use scoville_failure_service::store::IncidentStore;
use scoville_incident_log::IncidentLog;
use scoville_notifier::queue::{JobQueue, MemoryJobQueue, memory::MemoryQueueSettings};
use scoville_service_kit::auth::{TokenHash, TokenSet};

pub const TOKEN: &str = "probe-token-0123456789";
pub const MIN: i64 = 60_000;
pub const T0: i64 = 1_790_000_000_000 / MIN * MIN;

/// The in-process notification queue, with what was sent kept for assertions.
#[derive(Debug)]
pub struct Queue {
    pub queue: Arc<MemoryJobQueue>,
    seen: Mutex<Vec<NotificationJob>>,
}

impl Queue {
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            queue: Arc::new(MemoryJobQueue::new(MemoryQueueSettings {
                capacity,
                ..MemoryQueueSettings::default()
            })),
            seen: Mutex::new(Vec::new()),
        })
    }

    /// Every job sent so far (received from the queue and deleted, as a notifier would).
    pub fn jobs(&self) -> Vec<NotificationJob> {
        let got = futures::executor::block_on(self.queue.receive(100_000, Duration::ZERO)).unwrap();
        for r in &got {
            futures::executor::block_on(self.queue.delete(&r.handle)).unwrap();
        }
        let mut seen = self.seen.lock().unwrap();
        seen.extend(got.into_iter().filter_map(|r| r.job.into_notification()));
        seen.clone()
    }

    /// Distinct dedup keys (what the notifier would send).
    pub fn distinct(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.jobs().iter().map(|j| j.dedup_key()).collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

/// An incident log of its own (a private in-memory SQLite database).
pub fn memory_log() -> Arc<dyn IncidentLog> {
    Arc::new(
        scoville_incident_log::sqlite::SqliteLog::open(std::path::Path::new(":memory:")).unwrap(),
    )
}

pub fn state(
    store: Arc<dyn IncidentStore>,
    log: Arc<dyn IncidentLog>,
    queue: &Queue,
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
            log,
            Arc::new(directory),
            queue.queue.clone(),
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
