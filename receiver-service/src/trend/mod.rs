//! Apdex trend analysis and Pyng's mean-run-time rule, run by the worker on every minute
//! once it has settled.
//!
//! After a rollup pass has recomputed a run of settled minutes, the worker hands their
//! checks ([`crate::store::ResultStore::checks`]) to [`TrendAnalyzer::analyze`]. Per
//! endpoint, [`EndpointTrend`] holds one detector per region, one over all regions
//! (`scoville_core::trend`) and the mean-run-time rule; a minute is taken once (minutes
//! at or before the last one taken are skipped, so a minute re-dirtied by a straggler or
//! seen by two lanes is not counted twice). The new states and the reports they raised
//! are committed together ([`TrendState::commit`]) into an outbox, from which
//! [`sender::DegradationSender`] posts them to the failure service until it accepts
//! them. A report's key names its episode, so a report sent twice is one report.
//!
//! Decided here: a result that arrives after its minute was analysed counts in history
//! and rollups but not in the detectors; the state lives beside the queue (Redis, or in
//! memory for the embedded mode) at about 2 KB per endpoint.

pub mod redis_state;
pub mod sender;
pub mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

use scoville_core::degradation::{DegradationReport, DegradationSignal};
use scoville_core::trend::{MeanRuntimeRule, Sample, TrendDetector, TrendSettings};
use scoville_core::{EndpointId, OrgId, Region};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::queue::QueueError;
use crate::store::CheckPoint;
pub use state::{MemoryTrendState, TrendState};

/// Minutes over which the mean-run-time rule averages.
pub const MEAN_WINDOW_MINUTES: usize = 5;

/// Most regions one endpoint's detectors keep apart.
const MAX_REGIONS: usize = 32;

/// The detectors of one endpoint, as stored between minutes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointTrend {
    /// Regions in order of first appearance (their index is their group in `pooled`).
    regions: Vec<String>,
    /// One detector per region, aligned with `regions`.
    per_region: Vec<TrendDetector>,
    /// One detector over all regions.
    pooled: TrendDetector,
    /// Pyng's rule.
    mean_rule: MeanRuntimeRule,
    /// Last minute taken (Unix ms).
    last_minute_ms: i64,
}

impl Default for EndpointTrend {
    fn default() -> Self {
        Self {
            regions: Vec::new(),
            per_region: Vec::new(),
            pooled: TrendDetector::default(),
            mean_rule: MeanRuntimeRule::default(),
            last_minute_ms: i64::MIN,
        }
    }
}

impl EndpointTrend {
    /// The last minute taken.
    pub fn last_minute_ms(&self) -> i64 {
        self.last_minute_ms
    }

    /// Takes one minute's checks of the endpoint; returns the reports it raises.
    fn observe(
        &mut self,
        settings: &Settings,
        minute_ms: i64,
        checks: &[&CheckPoint],
    ) -> Vec<DegradationReport> {
        let mut reports = Vec::new();
        if minute_ms <= self.last_minute_ms || checks.is_empty() {
            return reports;
        }
        self.last_minute_ms = minute_ms;
        let (Ok(endpoint_id), Ok(org_id)) = (
            EndpointId::parse(checks[0].endpoint_id.clone()),
            OrgId::parse(checks[0].org_id.clone()),
        ) else {
            return reports;
        };
        let report = |region: Option<Region>, started_at_ms: i64, signal| DegradationReport {
            endpoint_id: endpoint_id.clone(),
            org_id: org_id.clone(),
            region,
            started_at_ms,
            detected_at_ms: minute_ms,
            signal,
        };
        let mut pooled = Vec::with_capacity(checks.len());
        let mut by_region: BTreeMap<usize, Vec<Sample>> = BTreeMap::new();
        for c in checks {
            let index = match self.regions.iter().position(|r| *r == c.region) {
                Some(i) => i,
                None if self.regions.len() < MAX_REGIONS => {
                    self.regions.push(c.region.clone());
                    self.per_region.push(TrendDetector::default());
                    self.regions.len() - 1
                }
                None => continue,
            };
            let sample = Sample {
                group: index as u8,
                total_ms: c.total_ms,
                class: c.class,
            };
            pooled.push(sample);
            by_region
                .entry(index)
                .or_default()
                .push(Sample { group: 0, ..sample });
        }
        for (index, samples) in by_region {
            if let Some(d) =
                self.per_region[index].observe(&settings.per_region, minute_ms, &samples)
            {
                let region = Region::parse(self.regions[index].clone()).ok();
                reports.push(report(region, d.started_at_ms, apdex(&d)));
            }
        }
        if let Some(d) = self.pooled.observe(&settings.pooled, minute_ms, &pooled) {
            reports.push(report(None, d.started_at_ms, apdex(&d)));
        }
        if let Some(limit) = checks.iter().rev().find_map(|c| c.mean_limit_ms) {
            let mean = checks.iter().map(|c| c.total_ms).sum::<f64>() / checks.len() as f64;
            if let Some(mean_ms) =
                self.mean_rule
                    .observe(mean, MEAN_WINDOW_MINUTES, f64::from(limit))
            {
                let started = minute_ms - (MEAN_WINDOW_MINUTES as i64 - 1) * 60_000;
                let signal = DegradationSignal::MeanRuntime {
                    limit_ms: f64::from(limit),
                    mean_ms,
                };
                reports.push(report(None, started, signal));
            }
        }
        reports
    }
}

fn apdex(d: &scoville_core::trend::Degradation) -> DegradationSignal {
    DegradationSignal::ApdexTrend {
        baseline: d.baseline,
        current: d.current,
    }
}

/// The detectors' tuning.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Of the detector over all of an endpoint's regions.
    pub pooled: TrendSettings,
    /// Of each region's own detector.
    pub per_region: TrendSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            pooled: TrendSettings::pooled(),
            per_region: TrendSettings::per_region(),
        }
    }
}

/// Runs the detectors over settled minutes and commits their state and reports.
#[derive(Debug)]
pub struct TrendAnalyzer {
    state: Arc<dyn TrendState>,
    settings: Settings,
    /// One analysis at a time in this process (lanes share the analyzer).
    running: Mutex<()>,
}

impl TrendAnalyzer {
    /// An analyzer keeping its state in `state`.
    pub fn new(state: Arc<dyn TrendState>, settings: Settings) -> Self {
        Self {
            state,
            settings,
            running: Mutex::new(()),
        }
    }

    /// The state store (for the sender and tests).
    pub fn state(&self) -> &Arc<dyn TrendState> {
        &self.state
    }

    /// Takes the checks of whole minutes, in any order; returns the reports raised (also
    /// committed to the outbox).
    pub async fn analyze(
        &self,
        checks: &[CheckPoint],
    ) -> Result<Vec<DegradationReport>, QueueError> {
        if checks.is_empty() {
            return Ok(Vec::new());
        }
        let _one_at_a_time = self.running.lock().await;
        let mut by_endpoint: BTreeMap<&str, BTreeMap<i64, Vec<&CheckPoint>>> = BTreeMap::new();
        for c in checks {
            by_endpoint
                .entry(c.endpoint_id.as_str())
                .or_default()
                .entry(c.started_at_ms.div_euclid(60_000) * 60_000)
                .or_default()
                .push(c);
        }
        let keys: Vec<String> = by_endpoint.keys().map(|k| (*k).to_string()).collect();
        let loaded = self.state.load(&keys).await?;
        let mut states = Vec::with_capacity(keys.len());
        let mut reports = Vec::new();
        for ((key, minutes), stored) in keys.into_iter().zip(by_endpoint.values()).zip(loaded) {
            let mut trend = stored.unwrap_or_default();
            for (minute, checks) in minutes {
                reports.extend(trend.observe(&self.settings, *minute, checks));
            }
            states.push((key, trend));
        }
        self.state.commit(&states, &reports).await?;
        for r in &reports {
            tracing::info!(endpoint = %r.endpoint_id, kind = r.signal.kind(), started_at_ms = r.started_at_ms, "degradation detected");
        }
        Ok(reports)
    }
}
