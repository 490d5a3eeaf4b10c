//! Rollup rows into steps and a summary; pure, shared by both stores.
//!
//! Counts add up. The mean latency is the up-weighted mean of the rows' means (exact).
//! Percentiles of several rows are merged: each row's latency distribution is modelled
//! from its p50, p95 and p99 as piecewise log-normal (the normal score Φ⁻¹(F) is
//! piecewise linear in ln(latency) through the three known points, extended beyond them
//! at the neighbouring slope), which is exact for a log-normal row, the usual shape of
//! latencies; the rows are mixed weighted by their up counts, and the mixture's quantile
//! is found by bisection, at the probability less half a check so that rows of single
//! checks (minute rollups of once-a-minute checks) merge to exactly InfluxDB's nearest
//! rank. Each model passes through its row's own quantile, so the result lies between
//! the smallest and the largest of the rows' values, equals them when they agree, and is
//! exactly the row's value when there is one row.
//!
//! Three quantiles do not describe every shape. Measured against the pooled truth on the
//! tests' data (log-normal per region, 2 % outliers at 4×, regions of medians 40, 90 and
//! 220 ms, hours of 60 checks): p50 within 7 %, p95 within 18 %, p99 from −57 % to +12 %
//! (a row's p99 is one check's latency). On a harder, bimodal mix (8 % outliers at 4×):
//! p50 within 18 %, p95 up to +71 %. A count-weighted mean of percentiles did worse on
//! p50 and p95 in both (up to +36 % and −42 %), and the maximum is only an upper bound.

use scoville_core::EndpointId;

use super::{History, HistoryQuery, RollupRow, Step, Summary};

/// The probabilities of the stored percentiles.
const QUANTILES: [f64; 3] = [0.50, 0.95, 0.99];

/// Builds the answer to `q` from the rollup rows of its range (rows outside the range are
/// ignored; several rows for one period and region are all counted).
pub fn history(
    endpoint_id: &EndpointId,
    q: &HistoryQuery,
    rows: impl IntoIterator<Item = RollupRow>,
) -> History {
    let n = q.step_count();
    let step_ms = q.step.ms();
    let mut steps: Vec<Acc> = (0..n).map(|_| Acc::default()).collect();
    let mut total = Acc::default();
    for row in rows {
        if row.start_ms < q.from_ms || row.start_ms >= q.to_ms || row.count == 0 {
            continue;
        }
        let i = ((row.start_ms - q.from_ms) / step_ms) as usize;
        if let Some(acc) = steps.get_mut(i) {
            acc.add(&row);
            total.add(&row);
        }
    }
    let steps = steps
        .into_iter()
        .enumerate()
        .map(|(i, acc)| acc.step(q.from_ms + i as i64 * step_ms))
        .collect();
    History {
        endpoint_id: endpoint_id.clone(),
        region: q.region.clone(),
        from_ms: q.from_ms,
        to_ms: q.to_ms,
        step: q.step.label(),
        step_ms,
        source: q.rollup(),
        steps,
        summary: total.summary(),
    }
}

/// Sums of one step (or of the range).
#[derive(Debug, Default)]
struct Acc {
    count: u64,
    up: u64,
    satisfied: u64,
    tolerating: u64,
    frustrated: u64,
    mean_sum: f64,
    mean_weight: u64,
    parts: Vec<Part>,
}

impl Acc {
    fn add(&mut self, r: &RollupRow) {
        self.count += r.count;
        self.up += r.up;
        self.satisfied += r.satisfied;
        self.tolerating += r.tolerating;
        self.frustrated += r.frustrated;
        if r.up > 0 {
            if let Some(m) = r.mean.filter(|m| m.is_finite()) {
                self.mean_sum += m * r.up as f64;
                self.mean_weight += r.up;
            }
            if let Some(part) = Part::new(r.up as f64, [r.p50, r.p95, r.p99]) {
                self.parts.push(part);
            }
        }
    }

    fn ratios(&self) -> (Option<f64>, Option<f64>) {
        if self.count == 0 {
            return (None, None);
        }
        let c = self.count as f64;
        (
            Some(self.up as f64 / c),
            Some((self.satisfied as f64 + self.tolerating as f64 / 2.0) / c),
        )
    }

    fn mean(&self) -> Option<f64> {
        (self.mean_weight > 0).then(|| round_ms(self.mean_sum / self.mean_weight as f64))
    }

    fn quantiles(&self) -> [Option<f64>; 3] {
        [0, 1, 2].map(|i| merged_quantile(&self.parts, i).map(round_ms))
    }

    fn step(self, start_ms: i64) -> Step {
        let (uptime, apdex) = self.ratios();
        let [p50_ms, p95_ms, p99_ms] = self.quantiles();
        Step {
            start_ms,
            count: self.count,
            up: self.up,
            uptime,
            apdex,
            satisfied: self.satisfied,
            tolerating: self.tolerating,
            frustrated: self.frustrated,
            p50_ms,
            p95_ms,
            p99_ms,
            mean_ms: self.mean(),
            percentiles_exact: self.parts.len() <= 1,
        }
    }

    fn summary(self) -> Summary {
        let (uptime, apdex) = self.ratios();
        let [p50_ms, p95_ms, p99_ms] = self.quantiles();
        Summary {
            count: self.count,
            up: self.up,
            uptime,
            apdex,
            satisfied: self.satisfied,
            tolerating: self.tolerating,
            frustrated: self.frustrated,
            p50_ms,
            p95_ms,
            p99_ms,
            mean_ms: self.mean(),
            percentiles_exact: self.parts.len() <= 1,
        }
    }
}

/// Rounds a latency to the microsecond (stored values have at most that precision).
fn round_ms(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// One rollup row's latency distribution, as its known quantiles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Part {
    weight: f64,
    /// p50, p95, p99 as given (sorted).
    q: [f64; 3],
    /// Their natural logarithms (latencies floored at 1 µs).
    u: [f64; 3],
}

/// The standard normal scores of the stored quantiles: Φ⁻¹(0.50), Φ⁻¹(0.95), Φ⁻¹(0.99).
const Z: [f64; 3] = [0.0, 1.644_853_626_951_472_2, 2.326_347_874_040_840_8];

/// The smallest latency taken into account, for the logarithm.
const MIN_MS: f64 = 1e-3;

impl Part {
    /// A row with `weight` up checks and its p50, p95, p99; `None` when a percentile is
    /// missing or not finite. Values out of order are sorted (they never are from a store).
    pub fn new(weight: f64, q: [Option<f64>; 3]) -> Option<Self> {
        let [Some(a), Some(b), Some(c)] = q else {
            return None;
        };
        if !(a.is_finite() && b.is_finite() && c.is_finite()) || weight.is_nan() || weight <= 0.0 {
            return None;
        }
        let mut q = [a, b, c];
        q.sort_by(f64::total_cmp);
        let u = q.map(|v| v.max(MIN_MS).ln());
        Some(Self { weight, q, u })
    }

    /// The approximate CDF at latency e^`x`, and its derivative in `x`: the normal score
    /// is piecewise linear in ln(latency) through the three known quantiles, extended
    /// beyond them at the neighbouring segment's slope (exact for a log-normal row);
    /// zero-width segments are jumps.
    fn cdf_ln(&self, x: f64) -> (f64, f64) {
        let [u50, u95, u99] = self.u;
        let (z, slope) = if x >= u99 {
            if x == u99 && u50 == u99 {
                // A row whose checks all took the same time is a point mass.
                return (1.0, 0.0);
            }
            if x == u99 {
                (Z[2], 0.0)
            } else if u99 > u95 {
                let k = (Z[2] - Z[1]) / (u99 - u95);
                (Z[2] + k * (x - u99), k)
            } else if u99 > u50 {
                let k = Z[2] / (u99 - u50);
                (Z[2] + k * (x - u99), k)
            } else {
                return (1.0, 0.0);
            }
        } else if x >= u95 {
            // u95 <= x < u99
            let k = (Z[2] - Z[1]) / (u99 - u95);
            (Z[1] + k * (x - u95), k)
        } else if x >= u50 {
            // u50 <= x < u95
            let k = Z[1] / (u95 - u50);
            (k * (x - u50), k)
        } else if u95 > u50 {
            let k = Z[1] / (u95 - u50);
            (k * (x - u50), k)
        } else if u99 > u50 {
            let k = Z[2] / (u99 - u50);
            (k * (x - u50), k)
        } else {
            return (0.0, 0.0);
        };
        if z.abs() >= 9.0 {
            return (if z > 0.0 { 1.0 } else { 0.0 }, 0.0);
        }
        let density = (-0.5 * z * z).exp() * (1.0 / (2.0 * std::f64::consts::PI).sqrt());
        (normal_cdf(z), density * slope)
    }
}

/// Φ(z), from the complementary error function (Numerical Recipes' `erfcc`, fractional
/// error under 1.2e-7).
fn normal_cdf(z: f64) -> f64 {
    // Beyond ±9 the answer is 0 or 1 to double precision.
    if z <= -9.0 {
        return 0.0;
    }
    if z >= 9.0 {
        return 1.0;
    }
    let x = -z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    let erfc = if x >= 0.0 { erfc } else { 2.0 - erfc };
    0.5 * erfc
}

/// The merged `QUANTILES[i]` of `parts`, or `None` without parts: the smallest value
/// where the weighted mixture of their CDFs reaches the probability less half a check
/// (so that rows of single checks merge to exactly the nearest rank InfluxDB would give).
pub fn merged_quantile(parts: &[Part], i: usize) -> Option<f64> {
    let lo = parts.iter().map(|s| s.q[i]).min_by(f64::total_cmp)?;
    let hi = parts.iter().map(|s| s.q[i]).max_by(f64::total_cmp)?;
    if parts.len() == 1 || hi <= lo {
        return Some(lo);
    }
    let total: f64 = parts.iter().map(|s| s.weight).sum();
    let p = QUANTILES[i] - (0.5 - 1e-9) / total;
    // The mixture's CDF at latency e^x and its derivative; the search runs on
    // ln(latency), where the models are linear.
    let mix = |x: f64| {
        let (mut f, mut d) = (0.0, 0.0);
        for s in parts {
            let (fi, di) = s.cdf_ln(x);
            f += s.weight * fi;
            d += s.weight * di;
        }
        (f / total, d / total)
    };
    let (mut a, mut b) = (lo.max(MIN_MS).ln(), hi.max(MIN_MS).ln());
    // f(a) < 0 <= f(b): mix(b) >= p, since every CDF reaches its own probability at its
    // quantile <= hi.
    let fa = mix(a).0 - p;
    if fa >= 0.0 {
        return Some(lo);
    }
    // Newton's method kept inside the bracket, bisecting whenever a Newton step would
    // leave it or shrink too slowly (the mixture has jumps where rows are point masses,
    // and no slope there); down to 1e-7 in ln(latency), a relative error of 1e-7 (answers
    // are rounded to the microsecond).
    const TOLERANCE: f64 = 1e-7;
    let mut x = a + (b - a) / 2.0;
    let (mut step, mut step_before) = (b - a, b - a);
    let mut answer = None;
    for _ in 0..200 {
        let (g, d) = mix(x);
        let f = g - p;
        if f >= 0.0 {
            b = x;
        } else {
            a = x;
        }
        if b - a <= TOLERANCE {
            answer = Some(b);
            break;
        }
        let newton = x - f / d;
        if d > 0.0 && newton > a && newton < b && (2.0 * f).abs() <= (step_before * d).abs() {
            step_before = step;
            step = newton - x;
            x = newton;
            if step.abs() <= TOLERANCE {
                answer = Some(x);
                break;
            }
        } else {
            step_before = step;
            step = (b - a) / 2.0;
            x = a + step;
        }
    }
    let answer = answer.unwrap_or(b).exp();
    // Snap to a part's own value when the answer is one (rows of single checks, where
    // the search ends on a jump).
    let (from, to) = (answer * (1.0 - 2e-7), answer * (1.0 + 2e-7));
    Some(
        parts
            .iter()
            .map(|s| s.q[i])
            .find(|&v| v >= from && v <= to)
            .unwrap_or(answer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(w: f64, q: [f64; 3]) -> Part {
        Part::new(w, q.map(Some)).unwrap()
    }

    #[test]
    fn one_part_is_exact() {
        let p = [part(10.0, [100.0, 180.0, 240.0])];
        assert_eq!(merged_quantile(&p, 0), Some(100.0));
        assert_eq!(merged_quantile(&p, 1), Some(180.0));
        assert_eq!(merged_quantile(&p, 2), Some(240.0));
        assert_eq!(merged_quantile(&[], 1), None);
    }

    #[test]
    fn agreeing_parts_give_their_value() {
        let p = [
            part(10.0, [50.0, 90.0, 99.0]),
            part(3.0, [50.0, 90.0, 99.0]),
        ];
        for i in 0..3 {
            let v = merged_quantile(&p, i).unwrap();
            assert!((v - p[0].q[i]).abs() < 1e-3, "{i}: {v}");
        }
    }

    #[test]
    fn merged_lies_between_and_follows_weight() {
        let fast = [50.0, 60.0, 70.0];
        let slow = [500.0, 600.0, 700.0];
        for i in 0..3 {
            let even = merged_quantile(&[part(1.0, fast), part(1.0, slow)], i).unwrap();
            assert!((fast[i]..=slow[i]).contains(&even), "{i}: {even}");
        }
        // 1 % slow checks: the median stays with the fast ones, p99 lands among the slow.
        let few_slow = [part(99.0, fast), part(1.0, slow)];
        assert!(merged_quantile(&few_slow, 0).unwrap() < 60.0);
        assert!(merged_quantile(&few_slow, 2).unwrap() > 70.0);
        // Half slow: the p95 is the slow part's territory.
        let half = [part(100.0, fast), part(100.0, slow)];
        assert!(merged_quantile(&half, 1).unwrap() > 500.0);
        // Degenerate parts (all checks the same latency) are steps, not divisions by 0.
        let flat = [part(1.0, [10.0, 10.0, 10.0]), part(1.0, [20.0, 20.0, 20.0])];
        let m = merged_quantile(&flat, 0).unwrap();
        assert!((10.0..=20.0).contains(&m), "{m}");
        assert!(Part::new(1.0, [Some(1.0), None, Some(2.0)]).is_none());
    }

    #[test]
    fn single_checks_merge_to_the_nearest_rank() {
        // 15 rows of one check each: InfluxDB's nearest rank of the 15 values.
        let values: Vec<f64> = (1..=15).map(|i| f64::from(i) * 10.0).collect();
        let parts: Vec<Part> = values.iter().map(|&v| part(1.0, [v, v, v])).collect();
        for (i, p) in [50.0, 95.0, 99.0].into_iter().enumerate() {
            let rank = ((15.0 * p / 100.0 + 0.5) as usize).clamp(1, 15);
            assert_eq!(merged_quantile(&parts, i), Some(values[rank - 1]), "p{p}");
        }
    }

    #[test]
    fn log_normal_rows_merge_well() {
        // Two log-normal rows (σ = 0.4) of medians 50 and 200 ms, equal weight: the pooled
        // median is their geometric mean, 100 ms.
        let row = |m: f64| [m, m * (0.4 * Z[1]).exp(), m * (0.4 * Z[2]).exp()];
        let parts = [part(1000.0, row(50.0)), part(1000.0, row(200.0))];
        let m = merged_quantile(&parts, 0).unwrap();
        assert!((m - 100.0).abs() < 0.5, "{m}");
    }
}
