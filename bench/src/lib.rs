//! What the benchmark binaries share: measuring a process from `/proc`, owning child
//! processes, and quantiles.

use std::process::Child;

pub mod procstat;

/// A child process killed (and reaped) when dropped.
#[derive(Debug)]
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `q` quantile of `v` (sorted in place), nearest rank; NaN when empty.
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}
