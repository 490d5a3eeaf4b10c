//! `apdex-sim`: the simulation harness of the Apdex trend detection.
//!
//! Synthetic endpoints, each checked once a minute from 3 regions: log-normal latencies
//! (per-endpoint median 40-200 ms and spread σ 0.35-0.6, regions 1.0×, 1.3× and 1.8×
//! slower), a ±15 % daily rhythm, short regional bursts (0.3 % of minutes start a 1-5
//! minute burst at 4× latency), 0.1 % failed checks, and Apdex T at 1.6-2.5× the median.
//! Controls run unchanged for the detector's warm-up and then 30 days, watched; degraded endpoints run 3 days, then their latency is
//! scaled so that their expected Apdex drops by 0.05, 0.1 or 0.2, for 24 hours.
//!
//! It prints, for Scoville's detectors (`scoville_core::trend`: one per region and one
//! pooled per endpoint; an endpoint counts as detected at the first alarm of any) and for the naive rule
//! (a region's Apdex below 0.85 for 5 minutes in a row), the detection delay (median,
//! p90, from the drop to the first alarm in any region), the share detected within 24 h,
//! and false alarms per endpoint-month on the controls.

use clap::Parser;
use scoville_core::ApdexCounts;
use scoville_core::trend::{Sample, TrendDetector, TrendSettings};

/// Simulate Apdex drops and measure detection.
#[derive(Debug, Parser)]
struct Args {
    /// Endpoints per scenario.
    #[arg(long, default_value_t = 200)]
    endpoints: u64,
    /// CUSUM threshold of the pooled detector (defaults to the detector's).
    #[arg(long)]
    h: Option<f64>,
    /// CUSUM allowance (defaults to the detector's).
    #[arg(long)]
    k: Option<f64>,
    /// Cap on one minute's evidence (defaults to the detector's).
    #[arg(long)]
    cap: Option<f64>,
    /// Baseline memory in minutes (defaults to the detector's).
    #[arg(long)]
    memory: Option<f64>,
    /// CUSUM threshold of the per-region detectors (defaults to the detector's).
    #[arg(long)]
    h_region: Option<f64>,
    /// Warm-up in minutes (defaults to the detector's).
    #[arg(long)]
    warmup: Option<u32>,
    /// Minutes the naive rule's Apdex must stay below 0.85 (5 is the usual rule; larger
    /// values calibrate it to fewer false alarms for a like-for-like comparison).
    #[arg(long, default_value_t = 5)]
    naive_minutes: u32,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.next().max(1e-12), self.next());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
    fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.next()
    }
}

const REGIONS: [f64; 3] = [1.0, 1.3, 1.8];
const DAY: u64 = 1440;

struct Endpoint {
    median: f64,
    sigma: f64,
    t: f64,
}

/// Standard normal CDF (Abramowitz-Stegun 7.1.26).
fn phi(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs() / std::f64::consts::SQRT_2);
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-(x * x) / 2.0).exp();
    if x >= 0.0 {
        0.5 * (1.0 + y)
    } else {
        0.5 * (1.0 - y)
    }
}

/// Expected Apdex of one region with latency scaled by `f`.
fn expected_apdex(e: &Endpoint, region: f64, f: f64) -> f64 {
    let m = (e.median * region * f).ln();
    let sat = phi((e.t.ln() - m) / e.sigma);
    let tol = phi(((4.0 * e.t).ln() - m) / e.sigma) - sat;
    sat + tol / 2.0
}

/// The latency factor that lowers the endpoint's expected Apdex (averaged over regions)
/// by `drop`.
fn factor_for(e: &Endpoint, drop: f64) -> f64 {
    let avg = |f: f64| {
        REGIONS
            .iter()
            .map(|r| expected_apdex(e, *r, f))
            .sum::<f64>()
            / 3.0
    };
    let target = avg(1.0) - drop;
    let (mut lo, mut hi) = (1.0, 50.0);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if avg(mid) > target {
            lo = mid
        } else {
            hi = mid
        }
    }
    lo
}

#[derive(Default)]
struct Naive {
    minutes: u32,
    low_run: u32,
    alarmed: bool,
}

impl Naive {
    fn observe(&mut self, apdex: f64) -> bool {
        if apdex < 0.85 {
            self.low_run += 1;
        } else {
            self.low_run = 0;
            self.alarmed = false;
        }
        if self.low_run >= self.minutes && !self.alarmed {
            self.alarmed = true;
            return true;
        }
        false
    }
}

/// Runs one endpoint; returns (alarm minutes of the detector, of the naive rule).
fn run(
    e: &Endpoint,
    rng: &mut Rng,
    minutes: u64,
    drop_at: Option<(u64, f64)>,
    s: &TrendSettings,
    rs: &TrendSettings,
    naive_minutes: u32,
) -> (Vec<u64>, Vec<u64>) {
    let mut det: Vec<TrendDetector> = REGIONS.iter().map(|_| TrendDetector::default()).collect();
    let mut pooled = TrendDetector::default();
    let mut naive: Vec<Naive> = REGIONS
        .iter()
        .map(|_| Naive {
            minutes: naive_minutes,
            ..Naive::default()
        })
        .collect();
    let mut burst = [0u32; 3];
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for m in 0..minutes {
        let daily = 1.0 + 0.15 * (2.0 * std::f64::consts::PI * (m % DAY) as f64 / DAY as f64).sin();
        let f = match drop_at {
            Some((at, f)) if m >= at => f,
            _ => 1.0,
        };
        let mut minute = Vec::with_capacity(3);
        for (r, region) in REGIONS.iter().enumerate() {
            if burst[r] == 0 && rng.next() < 0.003 {
                burst[r] = 1 + (rng.next() * 5.0) as u32;
            }
            let b = if burst[r] > 0 {
                burst[r] -= 1;
                4.0
            } else {
                1.0
            };
            let latency = e.median * region * daily * f * b * (e.sigma * rng.normal()).exp();
            let failed = rng.next() < 0.001;
            let class = if failed || latency > 4.0 * e.t {
                scoville_core::ApdexClass::Frustrated
            } else if latency > e.t {
                scoville_core::ApdexClass::Tolerating
            } else {
                scoville_core::ApdexClass::Satisfied
            };
            let mut c = ApdexCounts::default();
            c.add(class);
            minute.push(Sample {
                group: r as u8,
                total_ms: latency,
                class,
            });
            if det[r]
                .observe(
                    rs,
                    (m * 60_000) as i64,
                    &[Sample {
                        group: 0,
                        total_ms: latency,
                        class,
                    }],
                )
                .is_some()
            {
                ours.push(m);
            }
            if naive[r].observe(c.score().unwrap_or(1.0)) {
                theirs.push(m);
            }
        }
        if pooled.observe(s, (m * 60_000) as i64, &minute).is_some() {
            ours.push(m);
        }
    }
    (ours, theirs)
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let args = Args::parse();
    let mut s = TrendSettings::default();
    if let Some(h) = args.h {
        s.h = h;
    }
    if let Some(k) = args.k {
        s.k = k;
    }
    if let Some(m) = args.memory {
        s.baseline_weight = 1.0 / m;
    }
    if let Some(w) = args.warmup {
        s.warmup_minutes = w;
    }
    if let Some(c) = args.cap {
        s.z_cap = c;
    }
    let rs = TrendSettings {
        h: args.h_region.unwrap_or(TrendSettings::per_region().h),
        ..s
    };
    let mut rng = Rng(args.seed);
    let endpoint = |rng: &mut Rng| {
        let median = rng.range(40.0, 200.0);
        Endpoint {
            median,
            sigma: rng.range(0.35, 0.6),
            t: median * rng.range(1.6, 2.5),
        }
    };
    println!(
        "detector: CUSUM k = {}, h = {} (per region {}), cap = {}, warm-up {} min; naive: a region's Apdex < 0.85 for {} minutes",
        s.k, s.h, rs.h, s.z_cap, s.warmup_minutes, args.naive_minutes
    );
    let (mut ours_fa, mut naive_fa) = (0usize, 0usize);
    for _ in 0..args.endpoints {
        let e = endpoint(&mut rng);
        // Both rules are watched for 30 days after the detector's warm-up.
        let watched = u64::from(s.warmup_minutes);
        let (o, n) = run(
            &e,
            &mut rng,
            watched + 30 * DAY,
            None,
            &s,
            &rs,
            args.naive_minutes,
        );
        ours_fa += o.iter().filter(|m| **m >= watched).count();
        naive_fa += n.iter().filter(|m| **m >= watched).count();
    }
    let months = args.endpoints as f64;
    println!(
        "controls: {} endpoints x 30 days x 3 regions: false alarms per endpoint-month: scoville {:.3}, naive {:.3}",
        args.endpoints,
        ours_fa as f64 / months,
        naive_fa as f64 / months
    );
    println!(
        "{:>6} {:>30} {:>30}",
        "drop", "scoville: delay p50 / p90, found", "naive: delay p50 / p90, found"
    );
    for drop in [0.05, 0.1, 0.2] {
        let at = 3 * DAY;
        let (mut ours, mut naive) = (Vec::new(), Vec::new());
        for _ in 0..args.endpoints {
            let e = endpoint(&mut rng);
            let f = factor_for(&e, drop);
            let (o, n) = run(
                &e,
                &mut rng,
                at + DAY,
                Some((at, f)),
                &s,
                &rs,
                args.naive_minutes,
            );
            if let Some(first) = o.iter().find(|m| **m >= at) {
                ours.push((first - at) as f64);
            }
            if let Some(first) = n.iter().find(|m| **m >= at) {
                naive.push((first - at) as f64);
            }
        }
        let (found_o, found_n) = (ours.len() as f64 / months, naive.len() as f64 / months);
        println!(
            "{drop:>6.2} {:>14.0} / {:>5.0} min, {:>5.1}% {:>14.0} / {:>5.0} min, {:>5.1}%",
            quantile(&mut ours, 0.5),
            quantile(&mut ours, 0.9),
            found_o * 100.0,
            quantile(&mut naive, 0.5),
            quantile(&mut naive, 0.9),
            found_n * 100.0
        );
    }
}
