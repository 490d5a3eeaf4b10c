//! When the probe looks a domain's registration up over RDAP (for checks that opted into
//! `domain_expiry`), so that RDAP servers, which rate-limit, are asked rarely whatever
//! the number of probes, regions and rounds.
//!
//! **The rule.** A day is cut into `86_400 s / interval` round slots; each endpoint owns
//! one, a stable hash of its id, and is looked up only in the round whose start falls in
//! its slot: once a day per endpoint and region, spread over the day. This needs no state
//! between rounds, so it holds on Lambda too. In a long-running probe (`probe run`,
//! `scoville up`) the [`Rdap`] client also keeps each domain's answer for 24 h (failures
//! for 1 h) and asks at most `rdap.max_concurrent` at once, so many endpoints of one
//! domain cost one request a day per process.
//!
//! Only results that carry a domain expiry go to the failure service for it (about once
//! a day per endpoint), where the incident machine announces it once per threshold. A
//! round that starts late may skip or repeat a slot now and then; a repeat is harmless
//! (the cache answers and the machine announces once), a skip delays the notice by a day,
//! well inside the warn days.

use std::sync::Arc;
use std::time::Duration;

use scoville_check_engine::rdap::Rdap;
use scoville_core::{EndpointId, ProbeEndpoint};

const DAY_MS: i64 = 86_400_000;

/// RDAP lookups under the once-a-day rule.
#[derive(Debug, Clone)]
pub struct DomainLookups {
    rdap: Arc<Rdap>,
    round_ms: i64,
}

impl DomainLookups {
    /// Lookups for rounds every `interval`.
    pub fn new(rdap: Rdap, interval: Duration) -> Self {
        Self {
            rdap: Arc::new(rdap),
            round_ms: (interval.as_millis() as i64).clamp(1000, DAY_MS),
        }
    }

    /// Whether `id` is looked up in the round that started at `round_start_ms`.
    pub fn due(&self, id: &EndpointId, round_start_ms: i64) -> bool {
        let slots = (DAY_MS / self.round_ms).max(1) as u64;
        let slot = (round_start_ms.rem_euclid(DAY_MS) / self.round_ms) as u64;
        slot == slot_of(id, slots)
    }

    /// The endpoint's domain expiry, if it opted in, is due this round, has a
    /// registrable domain and RDAP knows it.
    pub async fn expiry_for(&self, endpoint: &ProbeEndpoint, round_start_ms: i64) -> Option<i64> {
        endpoint.check.domain_expiry()?;
        if !self.due(&endpoint.id, round_start_ms) {
            return None;
        }
        let host = endpoint.check.domain_host()?;
        self.rdap.domain_expiry(&host).await
    }
}

/// The endpoint's slot of the day (FNV-1a of the id, salted so that it does not follow
/// the check's offset within the round).
fn slot_of(id: &EndpointId, slots: u64) -> u64 {
    let h = b"rdap:"
        .iter()
        .chain(id.as_str().as_bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
    h % slots
}

#[cfg(test)]
mod tests {
    use super::*;
    use scoville_check_engine::rdap::RdapConfig;

    fn lookups(interval_s: u64) -> DomainLookups {
        let rdap = Rdap::new(RdapConfig::default()).unwrap();
        DomainLookups::new(rdap, Duration::from_secs(interval_s))
    }

    #[test]
    fn each_endpoint_is_due_in_exactly_one_round_a_day() {
        for interval_s in [60, 300, 420, 3600] {
            let l = lookups(interval_s);
            let round = interval_s as i64 * 1000;
            let day0 = 1_790_000_000_000_i64 / DAY_MS * DAY_MS + 12_345;
            let mut per_slot = std::collections::BTreeMap::<i64, usize>::new();
            for i in 0..200 {
                let id = EndpointId::parse(format!("ep-{i}")).unwrap();
                let due: Vec<i64> = (0..DAY_MS / round)
                    .map(|k| day0 + k * round)
                    .filter(|t| l.due(&id, *t))
                    .collect();
                assert_eq!(due.len(), 1, "{id:?} every {interval_s} s: {due:?}");
                // The next day, the same time of day.
                assert!(l.due(&id, due[0] + DAY_MS));
                *per_slot.entry(due[0]).or_default() += 1;
            }
            if interval_s == 60 {
                assert!(per_slot.values().all(|n| *n <= 3), "spread: {per_slot:?}");
            }
        }
    }
}
