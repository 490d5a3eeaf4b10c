//! Bounds on pings: a ping URL is public, so one token may ping at most
//! [`PER_MINUTE`] times a minute (429 with `Retry-After` past it; a job pings a few
//! times per run), and at most [`IN_FLIGHT`] pings are handed on at once (503 past it,
//! which the job's retry absorbs). The table of tokens is bounded too: past
//! [`MAX_TOKENS`] entries the stale minutes are dropped, and if all are fresh the table
//! starts over (a burst of distinct tokens can only loosen the limit, never refuse).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// Pings one token may send in a minute.
pub const PER_MINUTE: u32 = 30;
/// Pings handed on at once.
pub const IN_FLIGHT: usize = 64;
/// Tokens remembered.
const MAX_TOKENS: usize = 10_000;

/// The ping limits of one admin API instance.
#[derive(Debug)]
pub struct PingLimits {
    minutes: Mutex<HashMap<String, (i64, u32)>>,
    in_flight: Arc<Semaphore>,
}

impl Default for PingLimits {
    fn default() -> Self {
        Self {
            minutes: Mutex::default(),
            in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
        }
    }
}

impl PingLimits {
    /// Counts a ping of `token_hash` at `now_ms`; refused past [`PER_MINUTE`].
    pub fn count(&self, token_hash: &str, now_ms: i64) -> Result<(), ApiError> {
        let minute = now_ms.div_euclid(60_000);
        let mut map = self.minutes.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_TOKENS && !map.contains_key(token_hash) {
            map.retain(|_, (m, _)| *m == minute);
            if map.len() >= MAX_TOKENS {
                map.clear();
            }
        }
        let entry = map.entry(token_hash.to_string()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        if entry.1 >= PER_MINUTE {
            let wait = 60 - now_ms.rem_euclid(60_000) / 1000;
            return Err(ApiError::TooManyRequests(wait.max(1) as u64));
        }
        entry.1 += 1;
        Ok(())
    }

    /// A slot to hand a ping on, or 503 when [`IN_FLIGHT`] are under way.
    pub fn slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.in_flight
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::Unavailable("too many pings at once".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_pings_at_most_thirty_times_a_minute() {
        let limits = PingLimits::default();
        for _ in 0..PER_MINUTE {
            assert!(limits.count("a", 60_000).is_ok());
        }
        match limits.count("a", 90_000) {
            Err(ApiError::TooManyRequests(wait)) => assert_eq!(wait, 30),
            other => panic!("{other:?}"),
        }
        // Another token, and the next minute, are not limited.
        assert!(limits.count("b", 90_000).is_ok());
        assert!(limits.count("a", 120_000).is_ok());
    }

    #[test]
    fn pings_in_flight_are_bounded() {
        let limits = PingLimits::default();
        let held: Vec<_> = (0..IN_FLIGHT)
            .map(|_| limits.slot().expect("a slot"))
            .collect();
        assert!(limits.slot().is_err());
        drop(held);
        assert!(limits.slot().is_ok());
    }
}
