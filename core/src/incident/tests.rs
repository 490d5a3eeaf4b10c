//! Table tests for thresholds, quorum, recovery, flapping and maintenance, and property
//! tests for the machine's promises.

use proptest::prelude::*;

use super::*;

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
    Region::parse(["eu-west-1", "us-east-1", "ap-south-1", "sa-east-1"][i]).unwrap()
}

fn obs(r: usize, round: i64, ok: bool) -> Observation {
    Observation {
        region: region(r),
        scheduled_at_ms: T0 + round * MIN + 7_000,
        started_at_ms: T0 + round * MIN + 7_000 + r as i64 * 100,
        ok,
        error: (!ok).then(|| "timeout: no answer within 10 s".to_string()),
        cert_expires_at_ms: None,
        domain_expires_at_ms: None,
    }
}

/// The defaults, but two failed rounds to confirm.
fn two() -> IncidentPolicy {
    IncidentPolicy {
        failure_threshold: 2,
        ..IncidentPolicy::default()
    }
}

struct Sim {
    policy: IncidentPolicy,
    m: EndpointIncidents,
    seen: Vec<(i64, Notice)>,
}

impl Sim {
    fn new(policy: IncidentPolicy) -> Self {
        Self {
            policy,
            m: EndpointIncidents::default(),
            seen: Vec::new(),
        }
    }

    /// One round: `results[r]` is region r's outcome, `None` when nothing is sent.
    fn round(&mut self, round: i64, results: &[Option<bool>], muted: bool) -> Vec<Notice> {
        let mut out = Vec::new();
        for (r, res) in results.iter().enumerate() {
            if let Some(ok) = res {
                out.extend(self.m.apply(
                    &self.policy,
                    &ctx(),
                    &Event::Check(obs(r, round, *ok)),
                    muted,
                ));
            }
        }
        self.seen.extend(out.iter().map(|n| (round, n.clone())));
        out
    }

    fn kinds(&self) -> Vec<(i64, NoticeKind)> {
        self.seen.iter().map(|(r, n)| (*r, n.kind)).collect()
    }
}

const F: Option<bool> = Some(false);
const S: Option<bool> = Some(true);
const N: Option<bool> = None;

#[test]
fn two_regions_confirm_after_two_rounds_and_recover_after_two_more() {
    let mut s = Sim::new(two());
    assert!(
        s.round(0, &[F, F, N], false).is_empty(),
        "one failed round is not enough"
    );
    let down = s.round(1, &[F, F, N], false);
    assert_eq!(down.len(), 1);
    let d = &down[0];
    assert_eq!(d.kind, NoticeKind::Down);
    assert_eq!(d.regions, vec![region(0), region(1)]);
    assert_eq!(d.since_ms, T0 + 7_000, "since the first failure");
    assert_eq!(d.error.as_deref(), Some("timeout: no answer within 10 s"));
    assert_eq!(d.link, "https://scoville.example/endpoints/ep-1");
    assert!(
        s.round(2, &[S, S, S], false).is_empty(),
        "one good round is not enough"
    );
    let up = s.round(3, &[S, S, S], false);
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].kind, NoticeKind::Recovered);
    assert_eq!(up[0].incident_id, d.incident_id);
    assert_eq!(up[0].detail.as_deref(), Some("down for 3 min"));
}

#[test]
fn one_region_alone_never_opens_an_incident() {
    let mut s = Sim::new(IncidentPolicy::default());
    for round in 0..30 {
        assert!(s.round(round, &[F, N, N], false).is_empty());
    }
    assert!(s.m.incident().is_none());
    // With confirm_regions = 1 the same opens one.
    let mut one = Sim::new(IncidentPolicy {
        confirm_regions: 1,
        ..two()
    });
    one.round(0, &[F, N, N], false);
    assert_eq!(one.round(1, &[F, N, N], false)[0].kind, NoticeKind::Down);
}

#[test]
fn thresholds_count_consecutive_rounds_only() {
    let policy = IncidentPolicy {
        failure_threshold: 3,
        ..IncidentPolicy::default()
    };
    let mut s = Sim::new(policy);
    s.round(0, &[F, F, N], false);
    s.round(1, &[F, F, N], false);
    // Round 2 sent nothing: both regions succeeded (up endpoints send only failures).
    s.round(3, &[F, F, N], false);
    assert!(
        s.round(4, &[F, F, N], false).is_empty(),
        "the gap broke the run"
    );
    assert_eq!(s.round(5, &[F, F, N], false)[0].kind, NoticeKind::Down);
}

#[test]
fn failures_must_fall_inside_the_window() {
    let mut s = Sim::new(two());
    s.round(0, &[F, N, N], false);
    s.round(1, &[F, N, N], false);
    // Region 1 fails twice, 10 minutes later: region 0's run ended outside the window.
    s.round(10, &[N, F, N], false);
    assert!(s.round(11, &[N, F, N], false).is_empty());
    assert!(s.m.incident().is_none());
}

#[test]
fn a_broken_region_does_not_hold_an_incident_open() {
    let mut s = Sim::new(IncidentPolicy::default());
    s.round(0, &[F, F, F], false);
    s.round(1, &[F, F, F], false);
    s.round(2, &[F, S, S], false);
    let up = s.round(3, &[F, S, S], false);
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].kind, NoticeKind::Recovered);
}

#[test]
fn fifty_failures_make_one_notification() {
    let mut s = Sim::new(two());
    for round in 0..50 {
        s.round(round, &[F, F, F], false);
    }
    assert_eq!(s.kinds(), vec![(1, NoticeKind::Down)]);
}

#[test]
fn a_flapping_endpoint_gets_one_notice_then_quiet_until_it_settles() {
    let policy = IncidentPolicy {
        failure_threshold: 1,
        recovery_threshold: 1,
        flap_limit: 4,
        ..IncidentPolicy::default()
    };
    let mut s = Sim::new(policy);
    // Down and up every round for 20 rounds.
    for round in 0..20 {
        let r = if round % 2 == 0 { [F, F, S] } else { [S, S, S] };
        s.round(round, &r, false);
    }
    let kinds: Vec<NoticeKind> = s.kinds().into_iter().map(|(_, k)| k).collect();
    assert_eq!(
        kinds,
        vec![
            NoticeKind::Down,
            NoticeKind::Recovered,
            NoticeKind::Down,
            NoticeKind::Recovered,
            NoticeKind::Flapping
        ]
    );
    // It ends up, in round 19; after 30 quiet minutes it has settled, up, as people
    // were last told: a "settled" notice.
    for round in 20..49 {
        assert!(
            s.round(round, &[S, S, S], false).is_empty(),
            "round {round}"
        );
    }
    let settled = s.round(49, &[S, S, S], false);
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].kind, NoticeKind::Settled);
    assert_eq!(settled[0].detail.as_deref(), Some("settled: up"));
    // And it is watched as usual again.
    s.round(50, &[F, F, F], false);
    assert_eq!(s.round(50, &[F, F, F], false).len(), 0);
    assert!(s.m.incident().is_some());
}

#[test]
fn a_flapping_endpoint_that_settles_down_is_reported_down() {
    let policy = IncidentPolicy {
        failure_threshold: 1,
        recovery_threshold: 1,
        flap_limit: 2,
        ..IncidentPolicy::default()
    };
    let mut s = Sim::new(policy);
    s.round(0, &[F, F, F], false); // down (notified)
    s.round(1, &[S, S, S], false); // recovered (notified)
    s.round(2, &[F, F, F], false); // down: third transition, flapping
    s.round(3, &[S, S, S], false); // up, silent
    s.round(4, &[F, F, F], false); // down, silent; stays down
    for round in 5..35 {
        s.round(round, &[F, F, F], false);
    }
    let kinds: Vec<NoticeKind> = s.kinds().into_iter().map(|(_, k)| k).collect();
    assert_eq!(
        kinds,
        vec![
            NoticeKind::Down,
            NoticeKind::Recovered,
            NoticeKind::Flapping,
            NoticeKind::Down
        ]
    );
    assert_eq!(s.seen[3].1.detail.as_deref(), Some("after flapping"));
}

#[test]
fn maintenance_mutes_notices_and_keeps_the_state() {
    let mut s = Sim::new(IncidentPolicy::default());
    s.round(0, &[F, F, F], true);
    assert!(s.round(1, &[F, F, F], true).is_empty());
    assert!(s.m.incident().is_some(), "the state moved");
    // Maintenance over, still down: one "down".
    let down = s.round(2, &[F, F, F], false);
    assert_eq!(down.len(), 1);
    assert_eq!(down[0].kind, NoticeKind::Down);
    assert_eq!(down[0].since_ms, T0 + 7_000);
    // Recovering during maintenance says nothing; the next round after it does.
    s.round(3, &[S, S, S], true);
    assert!(s.round(4, &[S, S, S], true).is_empty());
    assert_eq!(s.round(5, &[S, S, S], false)[0].kind, NoticeKind::Recovered);
    // Down and up inside maintenance: nothing at all.
    let mut quiet = Sim::new(IncidentPolicy::default());
    for round in 0..6 {
        let r = if round < 3 { [F, F, F] } else { [S, S, S] };
        quiet.round(round, &r, true);
    }
    quiet.round(6, &[S, S, S], false);
    assert!(quiet.seen.is_empty());
}

#[test]
fn degradations_certificates_and_changes_are_their_own_notices_once_each() {
    let policy = IncidentPolicy::default();
    let mut m = EndpointIncidents::default();
    let report: DegradationReport = serde_json::from_value(serde_json::json!({
        "endpoint_id": "ep-1", "org_id": "org-1", "started_at_ms": T0, "detected_at_ms": T0 + 17 * MIN,
        "kind": "apdex_trend", "baseline": 0.94, "current": 0.81
    }))
    .unwrap();
    let d1 = m.apply(&policy, &ctx(), &Event::Degradation(report.clone()), false);
    assert_eq!(d1.len(), 1);
    assert_eq!(d1[0].kind, NoticeKind::Degraded);
    assert_eq!(
        d1[0].detail.as_deref(),
        Some("Apdex fell from 0.94 to 0.81")
    );
    assert!(
        m.apply(&policy, &ctx(), &Event::Degradation(report), false)
            .is_empty()
    );

    let mut o = obs(0, 0, true);
    o.cert_expires_at_ms = Some(o.started_at_ms + 5 * 86_400_000 + 1000);
    let c = m.apply(&policy, &ctx(), &Event::Check(o.clone()), false);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].kind, NoticeKind::CertificateExpiring);
    assert_eq!(
        c[0].detail.as_deref(),
        Some("the certificate expires in 5 days")
    );
    o.scheduled_at_ms += MIN;
    assert!(
        m.apply(&policy, &ctx(), &Event::Check(o.clone()), false)
            .is_empty()
    );
    // Two days later it is within the critical days: one more notice, marked, with its
    // own id (so the notifier does not take it for the first); then nothing.
    o.started_at_ms += 2 * 86_400_000 + 2000;
    o.scheduled_at_ms += 2 * 86_400_000;
    let c = m.apply(&policy, &ctx(), &Event::Check(o.clone()), false);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(
        c[0].detail.as_deref(),
        Some("critical: the certificate expires in 2 days")
    );
    assert!(c[0].incident_id.ends_with("/critical"));
    o.scheduled_at_ms += MIN;
    assert!(
        m.apply(&policy, &ctx(), &Event::Check(o.clone()), false)
            .is_empty()
    );
    // A renewed certificate that expires in 4 days (within warn, not critical): its own
    // warning.
    o.cert_expires_at_ms = Some(o.started_at_ms + 4 * 86_400_000 + 1000);
    o.scheduled_at_ms += MIN;
    let c = m.apply(&policy, &ctx(), &Event::Check(o.clone()), false);
    assert_eq!(c.len(), 1);
    assert_eq!(
        c[0].detail.as_deref(),
        Some("the certificate expires in 4 days")
    );
    // One first seen within the critical days gets the critical notice only.
    let mut fresh = EndpointIncidents::default();
    let mut late = obs(0, 0, true);
    late.cert_expires_at_ms = Some(late.started_at_ms + 86_400_000 + 1000);
    let c = fresh.apply(&policy, &ctx(), &Event::Check(late.clone()), false);
    assert_eq!(c.len(), 1);
    assert!(c[0].detail.as_deref().unwrap().starts_with("critical"));
    late.scheduled_at_ms += MIN;
    assert!(
        fresh
            .apply(&policy, &ctx(), &Event::Check(late), false)
            .is_empty()
    );

    let change = |hash: &str| Event::Change {
        region: region(0),
        at_ms: T0,
        body_hash: hash.into(),
        value: None,
    };
    assert!(
        m.apply(&policy, &ctx(), &change("a"), false).is_empty(),
        "the first hash is a baseline"
    );
    assert!(m.apply(&policy, &ctx(), &change("a"), false).is_empty());
    assert_eq!(
        m.apply(&policy, &ctx(), &change("b"), false)[0].kind,
        NoticeKind::Changed
    );
}

#[test]
fn an_outage_is_notified_within_two_minutes_of_its_start() {
    // Checks every minute at a stable offset within the minute; the outage starts at
    // every second of a minute in turn; 2-of-3 regions, 2 failures.
    let policy = IncidentPolicy::default();
    let mut worst = 0;
    for offset_s in [0i64, 13, 29, 44, 59] {
        for start_s in 0..60i64 {
            let outage_at = T0 + 10 * MIN + start_s * 1000;
            let mut m = EndpointIncidents::default();
            let mut notified = None;
            'rounds: for round in 0..20i64 {
                for r in 0..3usize {
                    let at = T0 + round * MIN + offset_s * 1000 + r as i64 * 300;
                    let ok = at < outage_at;
                    if ok {
                        continue; // up endpoints send only failures
                    }
                    let o = Observation {
                        region: region(r),
                        scheduled_at_ms: T0 + round * MIN + offset_s * 1000,
                        started_at_ms: at,
                        ok,
                        error: Some("connect: refused".into()),
                        cert_expires_at_ms: None,
                        domain_expires_at_ms: None,
                    };
                    // A check takes up to 10 s, delivery up to 1 s more.
                    let decided_at = at + 11_000;
                    if m.apply(&policy, &ctx(), &Event::Check(o), false)
                        .iter()
                        .any(|n| n.kind == NoticeKind::Down)
                    {
                        notified = Some(decided_at);
                        break 'rounds;
                    }
                }
            }
            let delay = notified.expect("notified") - outage_at;
            worst = worst.max(delay);
        }
    }
    assert!(worst <= 2 * MIN, "worst delay {} s", worst / 1000);
}

fn arb_round(regions: usize) -> impl Strategy<Value = (Vec<Option<bool>>, bool)> {
    (
        prop::collection::vec(
            prop_oneof![Just(None), Just(Some(true)), Just(Some(false))],
            regions,
        ),
        prop::bool::weighted(0.1),
    )
}

fn arb_policy() -> impl Strategy<Value = IncidentPolicy> {
    (1u32..4, 1u32..4, 1u32..4, 1u32..6).prop_map(|(f, r, c, flap)| IncidentPolicy {
        failure_threshold: f,
        recovery_threshold: r,
        confirm_regions: c,
        flap_limit: flap,
        settle_ms: 10 * MIN,
        ..IncidentPolicy::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn never_two_downs_without_a_recovered_between(
        policy in arb_policy(),
        rounds in prop::collection::vec(arb_round(3), 1..80),
        skips in prop::collection::vec(0i64..3, 80),
    ) {
        let mut s = Sim::new(policy);
        let mut round = 0;
        for (i, (results, muted)) in rounds.iter().enumerate() {
            s.round(round, results, *muted);
            round += 1 + skips[i];
        }
        let mut down = false;
        for (_, n) in &s.seen {
            match n.kind {
                NoticeKind::Down => { prop_assert!(!down, "two downs: {:?}", s.kinds()); down = true; }
                NoticeKind::Recovered => { prop_assert!(down, "recovered without down: {:?}", s.kinds()); down = false; }
                _ => {}
            }
        }
    }

    #[test]
    fn one_region_alone_never_opens_an_incident_when_two_must_confirm(
        policy in arb_policy(),
        failing in 0usize..3,
        rounds in prop::collection::vec(prop::collection::vec(prop::bool::ANY, 3), 1..80),
    ) {
        let policy = IncidentPolicy { confirm_regions: policy.confirm_regions.max(2), ..policy };
        let mut s = Sim::new(policy);
        for (round, coin) in rounds.iter().enumerate() {
            // The failing region fails or succeeds at random; the others only succeed.
            let results: Vec<Option<bool>> = (0..3)
                .map(|r| if r == failing { Some(coin[r]) } else { coin[r].then_some(true) })
                .collect();
            s.round(round as i64, &results, false);
            prop_assert!(s.m.incident().is_none());
        }
        prop_assert!(s.seen.iter().all(|(_, n)| n.kind != NoticeKind::Down));
    }

    #[test]
    fn the_order_of_a_rounds_results_does_not_change_the_decision(
        policy in arb_policy(),
        rounds in prop::collection::vec((arb_round(4), prop::collection::vec(any::<prop::sample::Index>(), 4)), 1..60),
    ) {
        let mut a = EndpointIncidents::default();
        let mut b = EndpointIncidents::default();
        for (round, ((results, muted), shuffle)) in rounds.iter().enumerate() {
            let events: Vec<Event> = results
                .iter()
                .enumerate()
                .filter_map(|(r, res)| res.map(|ok| Event::Check(obs(r, round as i64, ok))))
                .collect();
            let mut permuted = events.clone();
            for (i, idx) in shuffle.iter().enumerate().take(permuted.len()) {
                let j = idx.index(permuted.len());
                permuted.swap(i, j);
            }
            let mut na: Vec<_> = events.iter().flat_map(|e| a.apply(&policy, &ctx(), e, *muted)).map(|n| (n.kind.as_str(), n.incident_id)).collect();
            let mut nb: Vec<_> = permuted.iter().flat_map(|e| b.apply(&policy, &ctx(), e, *muted)).map(|n| (n.kind.as_str(), n.incident_id)).collect();
            na.sort();
            nb.sort();
            prop_assert_eq!(na, nb, "round {}", round);
            prop_assert_eq!(a.incident().map(|i| i.id.clone()), b.incident().map(|i| i.id.clone()));
            prop_assert_eq!(a.is_flapping(), b.is_flapping());
        }
    }
}
