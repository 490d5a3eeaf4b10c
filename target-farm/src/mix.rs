//! The deterministic delay mix: each target's behaviour is a pure function of the seed
//! and its index, so a benchmark can be repeated and a test can pick targets by kind.

/// How one target behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    /// How long the target holds a request before answering, in ms.
    pub delay_ms: f64,
    /// The status it answers with.
    pub status: u16,
    /// It never answers within any sane timeout.
    pub hang: bool,
}

/// Fraction of targets that hang.
pub const HANG_FRACTION: f64 = 0.005;
/// Fraction of targets that answer 500.
pub const ERROR_FRACTION: f64 = 0.01;
const MEDIAN_MS: f64 = 50.0;
/// ln(10) / z(0.99): puts p99 at ten times the median.
const SIGMA: f64 = 0.989_9;

/// The behaviour of target `index` under `seed`.
pub fn profile(seed: u64, index: u64) -> Profile {
    let u_kind = unit(mix(seed ^ 0x9e37_79b9_7f4a_7c15, index));
    let u1 = unit(mix(seed ^ 0x5851_f42d_4c95_7f2d, index)).max(1e-12);
    let u2 = unit(mix(seed ^ 0x1405_7b7e_f767_814f, index));
    // Box-Muller: a standard normal from two uniforms.
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    let delay_ms = (MEDIAN_MS * (SIGMA * z).exp()).min(3_000.0);
    if u_kind < HANG_FRACTION {
        Profile {
            delay_ms: f64::INFINITY,
            status: 200,
            hang: true,
        }
    } else if u_kind < HANG_FRACTION + ERROR_FRACTION {
        Profile {
            delay_ms,
            status: 500,
            hang: false,
        }
    } else {
        Profile {
            delay_ms,
            status: 200,
            hang: false,
        }
    }
}

fn mix(seed: u64, index: u64) -> u64 {
    // splitmix64
    let mut z = seed.wrapping_add(index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_has_the_promised_shape() {
        let n = 100_000;
        let profiles: Vec<Profile> = (0..n).map(|i| profile(7, i)).collect();
        let hangs = profiles.iter().filter(|p| p.hang).count() as f64 / n as f64;
        let errors = profiles.iter().filter(|p| p.status == 500).count() as f64 / n as f64;
        assert!((0.004..0.006).contains(&hangs), "{hangs}");
        assert!((0.008..0.012).contains(&errors), "{errors}");
        let mut delays: Vec<f64> = profiles
            .iter()
            .filter(|p| !p.hang)
            .map(|p| p.delay_ms)
            .collect();
        delays.sort_by(f64::total_cmp);
        let q = |p: f64| delays[(p * (delays.len() - 1) as f64) as usize];
        assert!((47.0..53.0).contains(&q(0.5)), "median {}", q(0.5));
        assert!((450.0..550.0).contains(&q(0.99)), "p99 {}", q(0.99));
        assert_eq!(profile(7, 42), profile(7, 42));
    }
}
