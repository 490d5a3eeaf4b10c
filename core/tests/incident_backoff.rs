//! The incident machine under adaptive backoff (the admin API's probe list checks an
//! endpoint down for long only every few rounds): rounds that are skipped are not
//! results, so sparse failing rounds send nothing new, and once a check succeeds and the
//! endpoint is checked every round again it recovers with exactly one "recovered".

#![allow(clippy::unwrap_used)]

use scoville_core::incident::{
    EndpointIncidents, Event, IncidentPolicy, NoticeContext, Observation,
};
use scoville_core::notice::NoticeKind;
use scoville_core::{EndpointId, OrgId, Region};

const MIN: i64 = 60_000;
const T0: i64 = 1_790_000_000_000 / MIN * MIN;

fn ctx() -> NoticeContext {
    NoticeContext {
        org_id: OrgId::parse("org-1").unwrap(),
        endpoint_id: EndpointId::parse("ep-1").unwrap(),
        name: "Shop".into(),
        target: "https://shop.example/".into(),
        link: "https://scoville.example/endpoints/ep-1".into(),
    }
}

fn region(i: usize) -> Region {
    Region::parse(["eu-west-1", "us-east-1"][i]).unwrap()
}

/// The machine fed round by round; every notice with its round.
struct Sim {
    policy: IncidentPolicy,
    m: EndpointIncidents,
    seen: Vec<(i64, NoticeKind)>,
}

impl Sim {
    fn new() -> Self {
        Self {
            policy: IncidentPolicy::default(),
            m: EndpointIncidents::default(),
            seen: Vec::new(),
        }
    }

    /// Round `round` checked in both regions with these outcomes.
    fn round(&mut self, round: i64, ok: [bool; 2]) {
        for (r, ok) in ok.into_iter().enumerate() {
            let at = T0 + round * MIN + 5_000;
            let o = Observation {
                region: region(r),
                scheduled_at_ms: T0 + round * MIN,
                started_at_ms: at + r as i64 * 100,
                ok,
                error: (!ok).then(|| "connect: refused".to_string()),
                cert_expires_at_ms: None,
                domain_expires_at_ms: None,
            };
            for n in self.m.apply(&self.policy, &ctx(), &Event::Check(o), false) {
                self.seen.push((round, n.kind));
            }
        }
    }

    /// Down at round 0, failing every round up to round 10, then failing only in the
    /// backed-off rounds (2, 4, 8, then 15 rounds apart) up to `until`.
    fn down_for_long(until: i64) -> (Self, i64) {
        let mut sim = Self::new();
        for round in 0..=10 {
            sim.round(round, [false, false]);
        }
        let mut round = 10;
        let mut step = 2;
        while round + step <= until {
            round += step;
            sim.round(round, [false, false]);
            step = (step * 2).min(15);
        }
        (sim, round)
    }
}

#[test]
fn sparse_failing_rounds_send_nothing_new() {
    let (sim, last) = Sim::down_for_long(24 * 60);
    assert!(last > 24 * 60 - 15, "{last}");
    assert_eq!(sim.seen, vec![(0, NoticeKind::Down)]);
    assert!(sim.m.incident().is_some());
}

#[test]
fn a_success_then_every_round_recovers_once() {
    let (mut sim, last) = Sim::down_for_long(6 * 60);
    // The first success comes in a backed-off round; the list then lists the endpoint
    // every round and the next good round recovers it.
    sim.round(last + 15, [true, true]);
    assert!(sim.m.incident().is_some(), "one good round is not recovery");
    sim.round(last + 16, [true, true]);
    sim.round(last + 17, [true, true]);
    sim.round(last + 18, [true, true]);
    assert_eq!(
        sim.seen,
        vec![(0, NoticeKind::Down), (last + 16, NoticeKind::Recovered)]
    );
    assert!(sim.m.incident().is_none());
}

#[test]
fn a_round_missed_while_the_list_catches_up_only_delays_recovery() {
    let (mut sim, last) = Sim::down_for_long(6 * 60);
    sim.round(last + 15, [true, true]);
    // The list had not seen the success yet: round last + 16 was not checked.
    sim.round(last + 17, [true, true]);
    assert!(sim.m.incident().is_some(), "a gap breaks the run");
    sim.round(last + 18, [true, true]);
    sim.round(last + 19, [true, true]);
    assert_eq!(
        sim.seen,
        vec![(0, NoticeKind::Down), (last + 18, NoticeKind::Recovered)]
    );
}

#[test]
fn a_blip_of_success_then_failures_again_stays_down_quietly() {
    let (mut sim, last) = Sim::down_for_long(6 * 60);
    sim.round(last + 15, [true, false]);
    sim.round(last + 16, [false, false]);
    sim.round(last + 17, [false, false]);
    // Backed off again.
    sim.round(last + 32, [false, false]);
    sim.round(last + 47, [false, false]);
    assert_eq!(sim.seen, vec![(0, NoticeKind::Down)]);
    assert!(sim.m.incident().is_some());
}
