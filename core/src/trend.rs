//! Apdex trend analysis: is an endpoint's Apdex significantly below its own baseline?
//! One [`TrendDetector`] per endpoint and region, plus one per endpoint that pools its
//! regions' evidence (each region against its own baseline, so a global slowdown is seen
//! three times as fast), take each minute's checks and report a [`Degradation`] once per
//! episode, with its size and start.
//!
//! The method is a one-sided CUSUM against a baseline the endpoint learns itself (an
//! exponentially weighted mean and variance with a one-day memory, frozen while a drift
//! is building or an episode is open). Why CUSUM: it is the optimal sequential test for a
//! step change in a mean (Page, 1954), it accumulates evidence from many slightly-bad
//! minutes that no single-window test would call significant, its false-alarm rate is set
//! by one threshold, and it tells where the drift began (the last minute the statistic
//! was at zero).
//!
//! The evidence is each check's log latency, standardised against the baseline, with a
//! failed check counting as the cap; what is reported is the Apdex drop since the drift
//! began. Why not the Apdex classes themselves: at one check a minute a minute's Apdex is
//! 0, ½ or 1, and the simulation harness (`bench/src/bin/apdex-sim.rs`) showed a CUSUM on
//! those scores needs about two hours to see a 0.1 drop at one false alarm a month; the
//! latency behind the classes carries the same drift with several times the signal.
//!
//! With `k` the allowance and `h` the decision threshold, both in standard deviations of
//! a minute's score: S ← max(0, S + min((μ − x)/σₘ, c) − k); an episode opens when S > h
//! and closes when S falls back to 0. The cap `c` makes the test robust to short bursts
//! of failures or of slowness in one region, which are outages for the failure service,
//! not drifts; for the same reason the baseline learns each minute clamped at 2.5 σ.
//! No alarm is raised in the first three days, while the daily profile is learned.
//! Tuning and its limits (one check a minute in 3 regions cannot show a 0.1 drop much
//! faster than ~17 minutes at one false alarm a month): BENCHMARKS.md.

use serde::{Deserialize, Serialize};

use crate::{ApdexClass, ApdexCounts};

/// Tuning of the detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendSettings {
    /// Allowance per minute, in standard deviations (half the smallest drift worth
    /// catching).
    pub k: f64,
    /// Decision threshold, in standard deviations.
    pub h: f64,
    /// Weight of a new minute in the baseline (1/1440: about a day's memory).
    pub baseline_weight: f64,
    /// Minutes of history before any alarm.
    pub warmup_minutes: u32,
    /// Floor on the variance of a check's log latency.
    pub min_variance: f64,
    /// Smallest drop (in Apdex) worth reporting.
    pub min_drop: f64,
    /// Most evidence one minute can add, in standard deviations: a short burst of failed
    /// checks (an outage, the failure service's business) must not pass for a drift, which
    /// is many modestly low minutes.
    pub z_cap: f64,
}

impl Default for TrendSettings {
    fn default() -> Self {
        Self::pooled()
    }
}

impl TrendSettings {
    /// For an endpoint's detector over all its regions, the one that sees an
    /// endpoint-wide drift first. Tuned with bench/src/bin/apdex-sim.rs: under one false
    /// alarm per endpoint-month together with [`TrendSettings::per_region`] (figures in
    /// BENCHMARKS.md).
    pub fn pooled() -> Self {
        Self {
            k: 0.35,
            h: 7.25,
            baseline_weight: 1.0 / 1440.0,
            // Three days: the daily profile must be learned before any alarm.
            warmup_minutes: 3 * 1440,
            min_variance: 0.02,
            min_drop: 0.02,
            z_cap: 1.1,
        }
    }

    /// For one region's detector: it is there for a drift in one region only, and one
    /// region's checks are noisier evidence, so it asks for much more of it.
    pub fn per_region() -> Self {
        Self {
            h: 18.0,
            ..Self::pooled()
        }
    }
}

/// A degradation episode, reported once when it is detected.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Degradation {
    /// First minute of the drift (Unix ms).
    pub started_at_ms: i64,
    /// Minute it was detected (Unix ms).
    pub detected_at_ms: i64,
    /// The endpoint's baseline Apdex.
    pub baseline: f64,
    /// Apdex since the drift began.
    pub current: f64,
}

impl Degradation {
    /// The drop in Apdex.
    pub fn size(&self) -> f64 {
        self.baseline - self.current
    }
}

/// One check as the detector sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Which baseline the check is measured against: 0 for a region's own detector, the
    /// region's index for an endpoint's pooled detector.
    pub group: u8,
    /// The check's total time.
    pub total_ms: f64,
    /// Its Apdex class (failed checks are frustrated).
    pub class: ApdexClass,
}

/// What one group (region) of checks normally looks like: a level and spread of log
/// latency with a day's memory, and a daily profile (the offset of each hour of the day
/// from the level, each with a few days' memory), so that the evening rush is not a drift.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Baseline {
    log_mean: f64,
    log_var: f64,
    hourly: Vec<f64>,
    /// Minutes seen in each hour of the day (the first days learn the profile as a plain
    /// average, then with [`HOURLY_WEIGHT`]).
    #[serde(default)]
    hourly_seen: Vec<u32>,
    minutes: u32,
}

/// Weight of a new minute in its hour-of-day offset: about three days' memory.
const HOURLY_WEIGHT: f64 = 1.0 / 180.0;

/// How far from the expected level (in standard deviations) a minute still teaches the
/// baseline at full strength; further out it is clamped.
const LEARN_CLAMP: f64 = 2.5;

fn hour_of_day(minute_ms: i64) -> usize {
    (minute_ms.div_euclid(3_600_000).rem_euclid(24)) as usize
}

impl Baseline {
    fn expected(&self, minute_ms: i64) -> f64 {
        self.log_mean
            + self
                .hourly
                .get(hour_of_day(minute_ms))
                .copied()
                .unwrap_or(0.0)
    }

    fn learn(&mut self, s: &TrendSettings, minute_ms: i64, logs: &[f64]) {
        if logs.is_empty() {
            return;
        }
        if self.hourly.len() != 24 || self.hourly_seen.len() != 24 {
            self.hourly = vec![0.0; 24];
            self.hourly_seen = vec![0; 24];
        }
        let avg = logs.iter().sum::<f64>() / logs.len() as f64;
        self.minutes = self.minutes.saturating_add(1);
        if self.minutes == 1 {
            self.log_mean = avg;
        }
        let w = if self.minutes <= 60 {
            1.0 / f64::from(self.minutes)
        } else {
            s.baseline_weight
        };
        let mut d = avg - self.expected(minute_ms);
        if self.minutes > 60 {
            // A burst (a few minutes at several times the latency) is an outage's business,
            // not the baseline's: it would inflate the spread and hide real drifts.
            let limit = LEARN_CLAMP * (self.log_var.max(s.min_variance) / logs.len() as f64).sqrt();
            d = d.clamp(-limit, limit);
        }
        self.log_mean += w * d;
        self.log_var += w * (d * d * logs.len() as f64 - self.log_var);
        let h = hour_of_day(minute_ms);
        self.hourly_seen[h] = self.hourly_seen[h].saturating_add(1);
        let hw = (1.0 / f64::from(self.hourly_seen[h])).max(HOURLY_WEIGHT);
        self.hourly[h] += hw * (avg - self.log_mean - self.hourly[h]);
    }

    /// A check's evidence of slowness, in standard deviations, capped.
    fn z(&self, s: &TrendSettings, minute_ms: i64, sample: &Sample, log: f64) -> f64 {
        if sample.class == ApdexClass::Frustrated {
            return s.z_cap;
        }
        ((log - self.expected(minute_ms)) / self.log_var.max(s.min_variance).sqrt()).min(s.z_cap)
    }
}

/// The detector of one endpoint in one region (all samples in group 0), or of one
/// endpoint over all its regions (one group per region, pooled evidence).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendDetector {
    baselines: Vec<Baseline>,
    /// Baseline Apdex, for the size of a report.
    apdex: f64,
    minutes: u32,
    cusum: f64,
    last_zero_ms: i64,
    since_zero: ApdexCounts,
    in_episode: bool,
}

impl Default for TrendDetector {
    fn default() -> Self {
        Self {
            baselines: Vec::new(),
            apdex: 1.0,
            minutes: 0,
            cusum: 0.0,
            last_zero_ms: 0,
            since_zero: ApdexCounts::default(),
            in_episode: false,
        }
    }
}

impl TrendDetector {
    /// Takes one minute's checks; returns a degradation when an episode opens.
    pub fn observe(
        &mut self,
        s: &TrendSettings,
        minute_ms: i64,
        samples: &[Sample],
    ) -> Option<Degradation> {
        if samples.is_empty() {
            return None;
        }
        let mut counts = ApdexCounts::default();
        for x in samples {
            counts.add(x.class);
        }
        let apdex = counts.score()?;
        let logs: Vec<f64> = samples.iter().map(|x| x.total_ms.max(0.01).ln()).collect();
        let groups = samples
            .iter()
            .map(|x| usize::from(x.group) + 1)
            .max()
            .unwrap_or(1);
        if self.baselines.len() < groups {
            self.baselines.resize(groups, Baseline::default());
        }
        if self.minutes == 0 {
            self.apdex = apdex;
            self.last_zero_ms = minute_ms;
        }
        self.minutes = self.minutes.saturating_add(1);
        let mut z = 0.0;
        let mut n = 0usize;
        for (x, l) in samples.iter().zip(&logs) {
            let b = &self.baselines[usize::from(x.group)];
            if b.minutes > 0 {
                z += b.z(s, minute_ms, x, *l);
                n += 1;
            }
        }
        let z = if n > 0 { z / (n as f64).sqrt() } else { 0.0 };
        self.cusum = (self.cusum + z - s.k).max(0.0);
        if self.cusum == 0.0 {
            self.last_zero_ms = minute_ms;
            self.since_zero = ApdexCounts::default();
            self.in_episode = false;
        } else {
            self.since_zero.satisfied += counts.satisfied;
            self.since_zero.tolerating += counts.tolerating;
            self.since_zero.frustrated += counts.frustrated;
        }
        // The baselines learn only while no drift is building.
        if self.cusum < s.h / 2.0 || self.minutes <= s.warmup_minutes {
            for (g, b) in self.baselines.iter_mut().enumerate() {
                let group_logs: Vec<f64> = samples
                    .iter()
                    .zip(&logs)
                    .filter(|(x, _)| usize::from(x.group) == g)
                    .map(|(_, l)| *l)
                    .collect();
                b.learn(s, minute_ms, &group_logs);
            }
            let w = if self.minutes <= 60 {
                1.0 / f64::from(self.minutes)
            } else {
                s.baseline_weight
            };
            self.apdex += w * (apdex - self.apdex);
        }
        if self.in_episode || self.minutes <= s.warmup_minutes || self.cusum <= s.h {
            return None;
        }
        let current = self.since_zero.score().unwrap_or(apdex);
        if self.apdex - current < s.min_drop {
            return None;
        }
        self.in_episode = true;
        Some(Degradation {
            started_at_ms: self.last_zero_ms + 60_000,
            detected_at_ms: minute_ms,
            baseline: self.apdex,
            current,
        })
    }

    /// Whether a degradation episode is open.
    pub fn in_episode(&self) -> bool {
        self.in_episode
    }
}

/// Pyng's simpler rule: the mean run time over `window` minutes is above a threshold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MeanRuntimeRule {
    recent: std::collections::VecDeque<f64>,
    over: bool,
}

impl MeanRuntimeRule {
    /// Adds one check's total time; returns the mean when it first goes above
    /// `threshold_ms` (once until it is back below).
    pub fn observe(&mut self, total_ms: f64, window: usize, threshold_ms: f64) -> Option<f64> {
        self.recent.push_back(total_ms);
        while self.recent.len() > window.max(1) {
            self.recent.pop_front();
        }
        let mean = self.recent.iter().sum::<f64>() / self.recent.len() as f64;
        let now_over = self.recent.len() == window.max(1) && mean > threshold_ms;
        let fired = now_over && !self.over;
        self.over = now_over;
        fired.then_some(mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ApdexT;

    fn sample(total_ms: f64, t_ms: f64) -> Sample {
        let class = ApdexT::new(t_ms as u32)
            .unwrap()
            .classify(crate::Outcome::Up, total_ms);
        Sample {
            group: 0,
            total_ms,
            class,
        }
    }

    #[test]
    fn a_steady_endpoint_stays_quiet_and_a_slowdown_is_reported_once() {
        let s = TrendSettings::default();
        let mut d = TrendDetector::default();
        // Latencies wobble between 40 and 160 ms around 80 (T = 200 ms).
        let wobble = |m: i64| 80.0 * (1.0 + 0.5 * ((m * 7919) % 13 - 6) as f64 / 6.0);
        for m in 0..5000 {
            assert_eq!(
                d.observe(&s, m * 60_000, &[sample(wobble(m), 200.0)]),
                None,
                "minute {m}"
            );
        }
        // Now three times slower: most checks tolerate.
        let mut reports = Vec::new();
        for m in 5000..5200 {
            reports.extend(d.observe(&s, m * 60_000, &[sample(3.0 * wobble(m), 200.0)]));
        }
        assert_eq!(reports.len(), 1, "{reports:?}");
        let r = reports[0];
        assert!(r.detected_at_ms < 5030 * 60_000, "detected late: {r:?}");
        assert!(
            (r.started_at_ms - 5000 * 60_000).abs() <= 3 * 60_000,
            "start {r:?}"
        );
        assert!(r.size() > 0.1, "size {r:?}");
    }

    #[test]
    fn the_mean_runtime_rule_fires_once_per_excursion() {
        let mut r = MeanRuntimeRule::default();
        let fired: Vec<_> = [
            100.0, 100.0, 900.0, 900.0, 900.0, 100.0, 100.0, 100.0, 900.0, 900.0, 900.0,
        ]
        .iter()
        .filter_map(|t| r.observe(*t, 3, 500.0))
        .collect();
        assert_eq!(fired.len(), 2);
    }
}
