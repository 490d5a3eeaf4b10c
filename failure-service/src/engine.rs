//! From events to notification jobs. Events are grouped by endpoint (`org/endpoint`) and
//! applied in time order to the endpoint's stored state; endpoints are handled side by
//! side, at most `concurrency` at once.
//!
//! Per endpoint: read the record, apply the events, append one job per notice and alert
//! channel to the record's outbox, and save with the version read (a conflict means
//! another instance saved first: read again and re-apply, up to `max_attempts` times).
//! Only then are the outbox's jobs handed to the queue, and the outbox cleared. A crash
//! or a queue failure in between leaves them in the record: the caller answers 503, the
//! probe sends the batch again, and the next save carries them to the queue. A job may
//! so reach the queue twice; its dedup key makes the notifier send it once.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use scoville_core::incident::{Event, NoticeContext};
use scoville_core::notice::NotificationJob;
use scoville_core::{EndpointId, OrgId};

use crate::directory::Directory;
use crate::metrics::Metrics;
use crate::store::{IncidentStore, StoreError};

/// Where jobs go: the notification queue.
pub trait JobSink: Send + Sync + std::fmt::Debug {
    /// Queues the jobs; returns once the queue has them.
    fn send<'a>(&'a self, jobs: &'a [NotificationJob]) -> BoxFuture<'a, Result<(), String>>;
}

/// One event for one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyed {
    /// Organization.
    pub org_id: OrgId,
    /// Endpoint.
    pub endpoint_id: EndpointId,
    /// When it happened (orders an endpoint's events; decides maintenance muting).
    pub at_ms: i64,
    /// What happened.
    pub event: Event,
}

/// Why events could not be handled (answer 503; nothing accepted is lost).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The state store or the queue failed.
    #[error("{0}")]
    Unavailable(String),
}

/// Tuning.
#[derive(Debug, Clone, Copy)]
pub struct EngineSettings {
    /// Endpoints handled at once.
    pub concurrency: usize,
    /// Attempts per endpoint when other writers keep winning.
    pub max_attempts: u32,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            concurrency: 32,
            max_attempts: 10,
        }
    }
}

/// The engine.
#[derive(Debug, Clone)]
pub struct Engine {
    store: Arc<dyn IncidentStore>,
    directory: Arc<dyn Directory>,
    sink: Arc<dyn JobSink>,
    settings: EngineSettings,
    metrics: Arc<Metrics>,
}

impl Engine {
    /// An engine over these ports.
    pub fn new(
        store: Arc<dyn IncidentStore>,
        directory: Arc<dyn Directory>,
        sink: Arc<dyn JobSink>,
        settings: EngineSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store,
            directory,
            sink,
            settings,
            metrics,
        }
    }

    /// The state store (readiness).
    pub fn store(&self) -> &Arc<dyn IncidentStore> {
        &self.store
    }

    /// Handles events; returns how many jobs were queued.
    pub async fn handle(&self, events: Vec<Keyed>) -> Result<usize, EngineError> {
        let mut by_endpoint: BTreeMap<String, Vec<Keyed>> = BTreeMap::new();
        for e in events {
            let key = format!("{}/{}", e.org_id.as_str(), e.endpoint_id.as_str());
            by_endpoint.entry(key).or_default().push(e);
        }
        let results: Vec<Result<usize, EngineError>> = futures::stream::iter(by_endpoint)
            .map(|(key, mut events)| async move {
                events.sort_by_key(|e| e.at_ms);
                self.endpoint(&key, &events).await
            })
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;
        let mut queued = 0;
        let mut first_error = None;
        for r in results {
            match r {
                Ok(n) => queued += n,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(queued),
        }
    }

    async fn endpoint(&self, key: &str, events: &[Keyed]) -> Result<usize, EngineError> {
        let (org, id) = (&events[0].org_id, &events[0].endpoint_id);
        let info = self.directory.endpoint(org, id).await;
        let ctx = NoticeContext {
            org_id: org.clone(),
            endpoint_id: id.clone(),
            name: info.name.clone(),
            target: info.target.clone(),
            link: info.link.clone(),
        };
        let unavailable = |e: StoreError| EngineError::Unavailable(e.to_string());
        let mut attempt = 0;
        let mut kinds = Vec::new();
        let mut record = loop {
            attempt += 1;
            kinds.clear();
            let mut record = self.store.load(key).await.map_err(unavailable)?;
            for e in events {
                for notice in
                    record
                        .state
                        .apply(&info.policy, &ctx, &e.event, info.muted_at(e.at_ms))
                {
                    kinds.push(notice.kind);
                    for channel in &info.channels {
                        record.outbox.push(NotificationJob {
                            channel_id: channel.clone(),
                            notice: notice.clone(),
                        });
                    }
                }
            }
            match self.store.save(key, &record).await {
                Ok(version) => {
                    record.version = version;
                    break record;
                }
                Err(StoreError::Conflict) if attempt < self.settings.max_attempts => {
                    self.metrics.conflict();
                    tracing::debug!(key, attempt, "another writer saved first; re-applying");
                }
                Err(e) => return Err(unavailable(e)),
            }
        };
        self.metrics.events(events.len());
        for kind in kinds {
            self.metrics.notice(kind);
        }
        if record.outbox.is_empty() {
            return Ok(0);
        }
        self.sink
            .send(&record.outbox)
            .await
            .map_err(EngineError::Unavailable)?;
        let queued = record.outbox.len();
        record.outbox.clear();
        match self.store.save(key, &record).await {
            // A conflict: another writer saved a record holding these jobs and will queue
            // them again; their dedup keys make that harmless.
            Ok(_) | Err(StoreError::Conflict) => {}
            Err(e) => {
                tracing::warn!(key, error = %e, "clearing the outbox failed; jobs may be queued twice")
            }
        }
        Ok(queued)
    }
}
