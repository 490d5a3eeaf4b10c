//! From events to notification jobs. Events are grouped by endpoint (`org/endpoint`) and
//! applied in time order to the endpoint's stored state; endpoints whose save lost a
//! race are redone side by side, at most `concurrency` at once.
//!
//! Per endpoint: read the record, apply the events, append one job per notice and alert
//! channel to the record's outbox, and save with the version read (a conflict means
//! another instance saved first: read again and re-apply, up to `max_attempts` times).
//! Endpoints are read and saved in chunks (one SQLite transaction per chunk).
//! The record also carries the incident log's writes (an incident confirmed, a notice
//! sent, a resolution: [`scoville_incident_log::writes_for`]).
//! Only then are the log's writes applied, the outbox's jobs handed to the queue, and
//! both cleared. A crash
//! or a queue failure in between leaves them in the record: the caller answers 503, the
//! probe sends the batch again, and the next save carries them to the queue. A job may
//! so reach the queue twice; its dedup key makes the notifier send it once.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use scoville_core::incident::{Event, NoticeContext};
use scoville_core::notice::{NoticeKind, NotificationJob};
use scoville_core::{EndpointId, OrgId};

use scoville_incident_log::IncidentLog;
use scoville_notifier::queue::JobQueue;

use crate::directory::Directory;
use crate::metrics::Metrics;
use crate::store::{IncidentStore, Record, StoreError};

/// Endpoints read and saved together.
const CHUNK: usize = 256;

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
    log: Arc<dyn IncidentLog>,
    directory: Arc<dyn Directory>,
    queue: Arc<dyn JobQueue>,
    settings: EngineSettings,
    metrics: Arc<Metrics>,
}

impl Engine {
    /// An engine over these ports.
    pub fn new(
        store: Arc<dyn IncidentStore>,
        log: Arc<dyn IncidentLog>,
        directory: Arc<dyn Directory>,
        queue: Arc<dyn JobQueue>,
        settings: EngineSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store,
            log,
            directory,
            queue,
            settings,
            metrics,
        }
    }

    /// The state store (readiness).
    pub fn store(&self) -> &Arc<dyn IncidentStore> {
        &self.store
    }

    /// Handles events; returns how many jobs were queued.
    ///
    /// Endpoints go through in chunks: their records are read together, the events
    /// applied, and the records saved together (one transaction on SQLite); an endpoint
    /// whose save lost to another writer is done again on its own, with retries.
    pub async fn handle(&self, events: Vec<Keyed>) -> Result<usize, EngineError> {
        let mut by_endpoint: BTreeMap<String, Vec<Keyed>> = BTreeMap::new();
        for e in events {
            let key = format!("{}/{}", e.org_id.as_str(), e.endpoint_id.as_str());
            by_endpoint.entry(key).or_default().push(e);
        }
        let mut groups: Vec<(String, Vec<Keyed>)> = by_endpoint.into_iter().collect();
        for (_, events) in &mut groups {
            events.sort_by_key(|e| e.at_ms);
        }
        let mut queued = 0;
        for chunk in groups.chunks(CHUNK) {
            queued += self.chunk(chunk).await?;
        }
        Ok(queued)
    }

    async fn chunk(&self, chunk: &[(String, Vec<Keyed>)]) -> Result<usize, EngineError> {
        let unavailable = |e: StoreError| EngineError::Unavailable(e.to_string());
        let keys: Vec<String> = chunk.iter().map(|(k, _)| k.clone()).collect();
        let loaded = self.store.load_many(&keys).await.map_err(unavailable)?;
        let mut applied = Vec::with_capacity(chunk.len());
        let mut kinds = Vec::with_capacity(chunk.len());
        for ((key, events), mut record) in chunk.iter().zip(loaded) {
            kinds.push(self.apply(&mut record, events).await?);
            applied.push((key.clone(), record));
        }
        let outcomes = self.store.save_many(&applied).await.map_err(unavailable)?;
        let mut saved = Vec::new();
        let mut retry = Vec::new();
        for (((key, mut record), outcome), (events, kinds)) in applied
            .into_iter()
            .zip(outcomes)
            .zip(chunk.iter().map(|(_, e)| e).zip(kinds))
        {
            match outcome {
                Ok(version) => {
                    record.version = version;
                    self.saved(events.len(), kinds);
                    saved.push((key, record));
                }
                Err(StoreError::Conflict) => {
                    self.metrics.conflict();
                    retry.push((key, events));
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
        let mut queued = self.flush(saved).await?;
        let redo: Vec<_> = retry
            .iter()
            .map(|(key, events)| self.endpoint(key, events))
            .collect();
        let retried = futures::stream::iter(redo)
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
        for r in retried {
            queued += r?;
        }
        Ok(queued)
    }

    /// Applies `events` to `record`, appending jobs to its outbox; returns the notices'
    /// kinds.
    async fn apply(
        &self,
        record: &mut Record,
        events: &[Keyed],
    ) -> Result<Vec<NoticeKind>, EngineError> {
        let (org, id) = (&events[0].org_id, &events[0].endpoint_id);
        let info = self
            .directory
            .endpoint(org, id)
            .await
            .map_err(|e| EngineError::Unavailable(e.to_string()))?;
        let ctx = NoticeContext {
            org_id: org.clone(),
            endpoint_id: id.clone(),
            name: info.name.clone(),
            target: info.target.clone(),
            link: info.link.clone(),
        };
        let mut kinds = Vec::new();
        for e in events {
            let before = record.state.incident().cloned();
            let muted = info.muted_at(e.at_ms);
            let notices = record.state.apply(&info.policy, &ctx, &e.event, muted);
            record.log.extend(scoville_incident_log::writes_for(
                org,
                id,
                before.as_ref(),
                &record.state,
                &notices,
                e.at_ms,
                muted,
            ));
            for notice in notices {
                kinds.push(notice.kind);
                for channel in &info.channels {
                    record.outbox.push(NotificationJob {
                        channel_id: channel.clone(),
                        notice: notice.clone(),
                    });
                }
            }
        }
        Ok(kinds)
    }

    fn saved(&self, events: usize, kinds: Vec<NoticeKind>) {
        self.metrics.events(events);
        for kind in kinds {
            self.metrics.notice(kind);
        }
    }

    /// Applies the saved records' log writes, hands their outboxes to the queue, then
    /// clears both.
    async fn flush(&self, saved: Vec<(String, Record)>) -> Result<usize, EngineError> {
        let mut with_jobs: Vec<(String, Record)> = saved
            .into_iter()
            .filter(|(_, r)| !r.outbox.is_empty() || !r.log.is_empty())
            .collect();
        if with_jobs.is_empty() {
            return Ok(0);
        }
        let writes: Vec<_> = with_jobs
            .iter()
            .flat_map(|(_, r)| r.log.iter().cloned())
            .collect();
        self.log
            .append(&writes)
            .await
            .map_err(|e| EngineError::Unavailable(e.to_string()))?;
        let jobs: Vec<NotificationJob> = with_jobs
            .iter()
            .flat_map(|(_, r)| r.outbox.iter().cloned())
            .collect();
        if !jobs.is_empty() {
            self.queue
                .send(&jobs)
                .await
                .map_err(|e| EngineError::Unavailable(e.to_string()))?;
        }
        for (_, r) in &mut with_jobs {
            r.outbox.clear();
            r.log.clear();
        }
        // A conflict here: another writer saved a record holding these jobs and will
        // queue them again; their dedup keys make that harmless.
        if let Err(e) = self.store.save_many(&with_jobs).await {
            tracing::warn!(error = %e, "clearing outboxes failed; jobs may be queued twice");
        }
        Ok(jobs.len())
    }

    /// One endpoint on its own, re-read and re-applied while other writers win.
    async fn endpoint(&self, key: &str, events: &[Keyed]) -> Result<usize, EngineError> {
        let unavailable = |e: StoreError| EngineError::Unavailable(e.to_string());
        let mut attempt = 1;
        loop {
            attempt += 1;
            let mut record = self.store.load(key).await.map_err(unavailable)?;
            let kinds = self.apply(&mut record, events).await?;
            match self.store.save(key, &record).await {
                Ok(version) => {
                    record.version = version;
                    self.saved(events.len(), kinds);
                    return self.flush(vec![(key.to_string(), record)]).await;
                }
                Err(StoreError::Conflict) if attempt < self.settings.max_attempts => {
                    self.metrics.conflict();
                    tracing::debug!(key, attempt, "another writer saved first; re-applying");
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
    }
}
