//! Adaptive backoff: an endpoint down for long is checked less often, and at its normal
//! interval again as soon as it shows a sign of life.
//!
//! Decisions:
//! - **Off by default.** An endpoint opts in with `backoff: {}` (the defaults below) or
//!   its own values; without it nothing changes. Turning it on silently for every
//!   endpoint would change what existing users see.
//! - **Growing steps.** Once its open incident was confirmed at least `after_s` ago, the
//!   endpoint is checked every `interval × factor^k` where `k = ⌊down for / after_s⌋`
//!   (so 2×, then 4×, ... with the defaults), capped at `max_interval_s` rounded down to
//!   a whole number of intervals. Defaults: `after_s` 600, `factor` 2,
//!   `max_interval_s` 900 (an endpoint checked every minute goes to 2, 4, 8 minutes,
//!   then 15 minutes from 40 minutes down).
//! - **Deterministic.** The step depends only on the round's time and the incident's
//!   confirmation time (from the incident log), so every region agrees on which rounds
//!   are checked; a backed-off endpoint is due in the minutes where
//!   `minute % m == fnv1a64(id) % m` (`m` the backed-off interval in minutes), a subset of
//!   its normal due minutes, so every check still lands in a round of its own. The step
//!   onto the cap (not a multiple of the previous step) may leave one gap of up to the
//!   previous step plus the cap.
//! - **Recovery.** The endpoint is due at its normal interval again as soon as its
//!   incident closes or the latest result of any region since the confirmation is a
//!   success (read from the history store): the next rounds are then consecutive and the
//!   incident machine can count `recovery_threshold` good rounds. If the latest results
//!   fail again, backoff resumes. Without a history store (or when it does not answer)
//!   nothing is backed off: a success could not be seen, and an endpoint checked
//!   sparsely could never recover.
//! - **No extra notifications.** Skipped rounds are not results: the incident machine
//!   counts only rounds it receives, so a backed-off endpoint stays down quietly.

use serde::{Deserialize, Serialize};

use crate::model::Invalid;

/// The longest backed-off interval allowed, in seconds (one day).
pub const MAX_INTERVAL_S: u32 = 86_400;
/// The longest `after_s` allowed, in seconds (one week).
pub const MAX_AFTER_S: u32 = 7 * 86_400;

/// How an endpoint down for long is checked less often.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    /// Seconds the incident must have been open (since its confirmation) before checks
    /// slow down, and the length of each further step.
    #[serde(default = "default_after")]
    #[schema(minimum = 60, maximum = 604_800, default = 600)]
    pub after_s: u32,
    /// Each step multiplies the interval by this.
    #[serde(default = "default_factor")]
    #[schema(minimum = 2, maximum = 10, default = 2)]
    pub factor: u32,
    /// The longest interval, seconds: more than `interval_s`, at most 86400 (rounded down
    /// to a whole number of intervals).
    #[serde(default = "default_max")]
    #[schema(minimum = 60, maximum = 86_400, default = 900)]
    pub max_interval_s: u32,
}

fn default_after() -> u32 {
    600
}
fn default_factor() -> u32 {
    2
}
fn default_max() -> u32 {
    900
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            after_s: default_after(),
            factor: default_factor(),
            max_interval_s: default_max(),
        }
    }
}

impl Backoff {
    /// Checks the values against the endpoint's `interval_s`; the error names the field
    /// (`backoff.max_interval_s`, ...).
    pub fn check(&self, interval_s: u32) -> Result<(), Invalid> {
        if !(60..=MAX_AFTER_S).contains(&self.after_s) {
            return Err(Invalid::new(
                "backoff.after_s",
                format!("must be between 60 and {MAX_AFTER_S}"),
            ));
        }
        if !(2..=10).contains(&self.factor) {
            return Err(Invalid::new("backoff.factor", "must be between 2 and 10"));
        }
        if self.max_interval_s <= interval_s || self.max_interval_s > MAX_INTERVAL_S {
            return Err(Invalid::new(
                "backoff.max_interval_s",
                format!("must be more than interval_s ({interval_s}) and at most {MAX_INTERVAL_S}"),
            ));
        }
        Ok(())
    }

    /// The interval in minutes of an endpoint normally checked every `base_minutes`
    /// whose incident was confirmed `down_for_ms` before the round: `base_minutes` until
    /// `after_s` has passed, then growing by `factor` every `after_s`, capped.
    pub fn minutes(&self, base_minutes: u64, down_for_ms: i64) -> u64 {
        let base = base_minutes.max(1);
        let after_ms = i64::from(self.after_s.max(1)) * 1000;
        if down_for_ms < after_ms {
            return base;
        }
        let cap = (u64::from(self.max_interval_s) / 60 / base).max(1);
        let steps = u32::try_from(down_for_ms / after_ms).unwrap_or(u32::MAX);
        let mut times: u64 = 1;
        for _ in 0..steps {
            times = times.saturating_mul(u64::from(self.factor));
            if times >= cap {
                times = cap;
                break;
            }
        }
        base * times
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_grow_with_time_down_and_stop_at_the_cap() {
        let b = Backoff::default();
        let minute = 60_000;
        let at = |m: i64| b.minutes(1, m * minute);
        assert_eq!(
            [
                at(-5),
                at(0),
                at(9),
                at(10),
                at(19),
                at(20),
                at(30),
                at(40),
                at(600)
            ],
            [1, 1, 1, 2, 2, 4, 8, 15, 15]
        );
        // The cap is a whole number of intervals: 5-minute checks capped at 17 minutes
        // go to 10, then 15.
        let b = Backoff {
            max_interval_s: 17 * 60,
            ..Backoff::default()
        };
        assert_eq!(b.minutes(5, 10 * minute), 10);
        assert_eq!(b.minutes(5, 20 * minute), 15);
        assert_eq!(b.minutes(5, i64::MAX), 15);
    }

    #[test]
    fn values_are_checked_naming_the_field() {
        let ok = Backoff::default();
        assert_eq!(ok.check(60), Ok(()));
        let field = |b: Backoff, interval: u32| b.check(interval).map_err(|e| e.field);
        let bad_max = Backoff {
            max_interval_s: 60,
            ..ok
        };
        assert_eq!(field(bad_max, 60), Err("backoff.max_interval_s".into()));
        assert_eq!(field(ok, 900), Err("backoff.max_interval_s".into()));
        let bad_factor = Backoff { factor: 1, ..ok };
        assert_eq!(field(bad_factor, 60), Err("backoff.factor".into()));
        let bad_after = Backoff { after_s: 59, ..ok };
        assert_eq!(field(bad_after, 60), Err("backoff.after_s".into()));
    }
}
