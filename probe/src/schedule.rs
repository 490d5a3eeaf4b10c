//! When each check of a round starts. Start times are spread over a window (a fraction of
//! the interval) so that thousands of checks do not leave at the same instant, as
//! pyngpong does; each endpoint's offset is a stable hash of its id, so it is checked at
//! the same second of every round and its interval stays regular.

use std::time::Duration;

use scoville_core::EndpointId;

/// The offset of `id`'s check within a window of `window`.
pub fn offset(id: &EndpointId, window: Duration) -> Duration {
    if window.is_zero() {
        return Duration::ZERO;
    }
    let h = fnv1a(id.as_str().as_bytes());
    let micros = window.as_micros().max(1) as u64;
    Duration::from_micros(h % micros)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_stable_bounded_and_spread() {
        let window = Duration::from_secs(30);
        let ids: Vec<EndpointId> = (0..1000)
            .map(|i| EndpointId::parse(format!("e{i}")).unwrap())
            .collect();
        let offsets: Vec<Duration> = ids.iter().map(|id| offset(id, window)).collect();
        assert!(offsets.iter().all(|o| *o < window));
        assert_eq!(offset(&ids[3], window), offsets[3]);
        let first_half = offsets.iter().filter(|o| **o < window / 2).count();
        assert!((400..600).contains(&first_half), "{first_half}");
        assert_eq!(offset(&ids[0], Duration::ZERO), Duration::ZERO);
    }
}
