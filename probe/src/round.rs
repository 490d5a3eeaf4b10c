//! One round of checks. The [`Probe`] fetches the endpoints of its region and shard,
//! starts each check at its offset in the spread window, bounds the checks in flight
//! with a semaphore (each holds at most one socket), and streams the results into the
//! delivery as they complete.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use scoville_check_engine::rdap::{Rdap, RdapError};
use scoville_check_engine::{Engine, EngineError};
use scoville_core::wire::ProbeScope;
use scoville_core::{CheckResult, Outcome, ProbeEndpoint, RunId};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::config::{Config, ConfigError};
use crate::delivery::{Delivery, DeliveryError, DeliveryStats, ResultHook, Routed};
use crate::domains::DomainLookups;
use crate::metrics::Metrics;
use crate::schedule;
use crate::source::api::ApiSource;
use crate::source::file::FileSource;
use crate::source::{EndpointSource, SourceError};

/// A probe: engine, endpoint source, delivery and counters.
#[derive(Debug, Clone)]
pub struct Probe {
    engine: Engine,
    source: Arc<dyn EndpointSource>,
    delivery: Arc<Delivery>,
    metrics: Arc<Metrics>,
    max_in_flight: usize,
    domains: Option<DomainLookups>,
}

/// The probe could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The engine could not be built.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The source could not be built.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The delivery could not be built.
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// The RDAP client could not be built.
    #[error(transparent)]
    Rdap(#[from] RdapError),
}

/// What a round did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundSummary {
    /// The round's id, shared by its results.
    pub run_id: String,
    /// Region.
    pub region: String,
    /// Shard index.
    pub shard: u32,
    /// Shard count.
    pub shards: u32,
    /// Endpoints checked.
    pub endpoints: usize,
    /// Checks by outcome: `up`, `warning`, `down`.
    pub by_outcome: BTreeMap<String, usize>,
    /// Down and warning checks by reason.
    pub by_reason: BTreeMap<String, usize>,
    /// From fetching the list to the last delivery.
    pub duration_ms: u64,
    /// What the delivery did.
    pub delivery: DeliveryStats,
}

impl Probe {
    /// Builds a probe from a validated configuration.
    pub fn from_config(
        config: &Config,
        icmp: Option<scoville_check_engine::IcmpMode>,
    ) -> Result<Self, SetupError> {
        let settings = config.settings()?;
        let mut engine_config = settings.engine;
        if let Some(icmp) = icmp {
            engine_config.icmp = icmp;
        }
        let engine = Engine::new(engine_config)?;
        let e = &config.endpoints;
        let source: Arc<dyn EndpointSource> = match (&e.file, &e.api_url) {
            (Some(file), None) => Arc::new(FileSource::new(file)),
            (None, Some(url)) => Arc::new(ApiSource::new(
                url,
                e.token.clone(),
                Duration::from_millis(e.timeout_ms.max(1)),
                e.max_pages.max(1),
            )?),
            _ => {
                return Err(ConfigError {
                    key: "endpoints".into(),
                    message: "set exactly one of endpoints.file and endpoints.api_url".into(),
                }
                .into());
            }
        };
        let metrics = Arc::new(Metrics::default());
        let delivery = Arc::new(Delivery::new(config, metrics.clone())?);
        let probe = Self::new(engine, source, delivery, metrics, settings.max_in_flight);
        Ok(match settings.rdap {
            Some(rdap) => {
                probe.with_domain_lookups(DomainLookups::new(Rdap::new(rdap)?, settings.interval))
            }
            None => probe,
        })
    }

    /// Looks domains up over RDAP for checks with `domain_expiry`, under the once-a-day
    /// rule of [`crate::domains`] (without this, no result carries a domain expiry).
    pub fn with_domain_lookups(mut self, domains: DomainLookups) -> Self {
        self.domains = Some(domains);
        self
    }

    /// Assembles a probe from its parts.
    pub fn new(
        engine: Engine,
        source: Arc<dyn EndpointSource>,
        delivery: Arc<Delivery>,
        metrics: Arc<Metrics>,
        max_in_flight: usize,
    ) -> Self {
        Self {
            engine,
            source,
            delivery,
            metrics,
            max_in_flight: max_in_flight.max(1),
            domains: None,
        }
    }

    /// The probe's counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The delivery, for its carry-over figures.
    pub fn delivery(&self) -> &Arc<Delivery> {
        &self.delivery
    }

    /// Runs one round: fetch, check everything with starts spread over `window`,
    /// deliver. `on_result` sees every result as it completes (the CLI prints them).
    pub async fn run_round(
        &self,
        scope: &ProbeScope,
        window: Duration,
        on_result: Option<ResultHook>,
    ) -> Result<RoundSummary, SourceError> {
        self.run_round_at(scope, window, on_result, None).await
    }

    /// [`Probe::run_round`] as if the round started at `at_ms` (Unix ms): the list is
    /// the one due then, and the results carry times shifted by the difference (replays
    /// and end-to-end tests that walk simulated minutes; the checks themselves run now).
    pub async fn run_round_at(
        &self,
        scope: &ProbeScope,
        window: Duration,
        on_result: Option<ResultHook>,
        at_ms: Option<i64>,
    ) -> Result<RoundSummary, SourceError> {
        let began = Instant::now();
        let endpoints = match self.source.fetch_at(scope, at_ms).await {
            Ok(e) => e,
            Err(e) => {
                self.metrics
                    .round(false, began.elapsed().as_millis() as u64);
                return Err(e);
            }
        };
        let real_start = unix_ms();
        let wall_start = at_ms.unwrap_or(real_start);
        let shift = wall_start - real_start;
        let run_id = RunId::parse(format!(
            "{}-{}-{}",
            scope.region,
            scope.shard.index(),
            wall_start
        ))
        .unwrap_or_else(|_| RunId::parse("run").expect("literal id"));
        let (tx, delivery) = self.delivery.start_round(on_result);
        let permits = Arc::new(Semaphore::new(self.max_in_flight));
        let start = tokio::time::Instant::now();
        let count = endpoints.len();
        // Checks are started in schedule order, and a task exists only once its check
        // holds a permit: at most `max_in_flight` check futures are alive at a time, so
        // memory stays flat however many endpoints the round has.
        let mut due: Vec<(Duration, ProbeEndpoint)> = endpoints
            .into_iter()
            .map(|e| (schedule::offset(&e.id, window), e))
            .collect();
        due.sort_by_key(|(offset, _)| *offset);
        let mut tally = Tally::default();
        let mut checks = JoinSet::new();
        for (offset, endpoint) in due {
            if !offset.is_zero() {
                tokio::time::sleep_until(start + offset).await;
            }
            let permit = match permits.clone().acquire_owned().await {
                Ok(p) => p,
                Err(_) => break,
            };
            while let Some(done) = checks.try_join_next() {
                tally.add(done);
            }
            let (engine, tx) = (self.engine.clone(), tx.clone());
            let (region, run_id, metrics) =
                (scope.region.clone(), run_id.clone(), self.metrics.clone());
            let domains = self.domains.clone();
            let scheduled_at_ms = wall_start + offset.as_millis() as i64;
            checks.spawn(async move {
                let started_at_ms = unix_ms() + shift;
                let mut report = engine.check(&endpoint.check).await;
                drop(permit);
                if let Some(d) = &domains {
                    report.domain_expires_at_ms = d.expiry_for(&endpoint, wall_start).await;
                }
                let outcome = report.outcome;
                metrics.check(outcome);
                let result = CheckResult {
                    endpoint_id: endpoint.id,
                    org_id: endpoint.org_id,
                    region,
                    run_id,
                    scheduled_at_ms,
                    started_at_ms,
                    apdex_t_ms: Some(endpoint.apdex_t_ms.as_millis()),
                    mean_limit_ms: endpoint.mean_limit_ms,
                    report,
                };
                // A domain expiry (about once a day per endpoint) is for the failure
                // service's notices, like a certificate warning.
                let to_failures = outcome != Outcome::Up
                    || endpoint.open_incident
                    || result.report.domain_expires_at_ms.is_some();
                let _ = tx
                    .send(Routed {
                        result,
                        to_failures,
                    })
                    .await;
                outcome
            });
        }
        drop(tx);
        while let Some(done) = checks.join_next().await {
            tally.add(done);
        }
        let Tally {
            by_outcome,
            by_reason,
        } = tally;
        let delivery = delivery.await.unwrap_or_default();
        let duration_ms = began.elapsed().as_millis() as u64;
        self.metrics.round(true, duration_ms);
        let summary = RoundSummary {
            run_id: run_id.to_string(),
            region: scope.region.to_string(),
            shard: scope.shard.index(),
            shards: scope.shard.count(),
            endpoints: count,
            by_outcome,
            by_reason,
            duration_ms,
            delivery,
        };
        tracing::info!(
            run_id = %summary.run_id,
            endpoints = summary.endpoints,
            up = summary.by_outcome.get("up").copied().unwrap_or(0),
            down = summary.by_outcome.get("down").copied().unwrap_or(0),
            duration_ms,
            delivered = delivery.results_delivered,
            carried_over = delivery.carried_over,
            "round done"
        );
        Ok(summary)
    }
}

/// Outcome counts of a round.
#[derive(Debug, Default)]
struct Tally {
    by_outcome: BTreeMap<String, usize>,
    by_reason: BTreeMap<String, usize>,
}

impl Tally {
    fn add(&mut self, done: Result<Outcome, tokio::task::JoinError>) {
        match done {
            Ok(outcome) => {
                *self
                    .by_outcome
                    .entry(outcome.kind().to_string())
                    .or_insert(0) += 1;
                if let Some(reason) = outcome.reason() {
                    *self.by_reason.entry(reason.to_string()).or_insert(0) += 1;
                }
            }
            Err(e) => tracing::error!(error = %e, "a check task failed"),
        }
    }
}

/// Wall-clock Unix time in ms.
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
