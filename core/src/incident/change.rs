//! Content changes (`Event::Change`): which reports of a watched value are news.
//!
//! Probes send the watched value of every successful watched check, so the same value
//! arrives once per region and round; this state turns that stream into one notice per
//! real change, with a before / after line (`before: 1.4.2 → after: 1.5.0`).
//!
//! **Per region.** Each region's last value is kept, and a change is a region seeing a
//! value different from the one *it* saw before. Regions served different content (a
//! CDN edge lagging behind, geo-specific pages) therefore never alternate: region A
//! seeing X and region B seeing Y, round after round, is no change at all. The first
//! value a region reports is its baseline, silently.
//!
//! **Once across regions.** When a deploy reaches every region, each of them sees the
//! change; only the first is news. The last announced value is kept, and a region
//! changing to it is silent. (So a region that moves to the value another region already
//! had and was announced is silent too: the content people were told about did not
//! change.)
//!
//! **Order.** A report older than the region's last one (a carried-over batch) is
//! ignored, so a late report cannot announce a change back to an old value.
//!
//! **Alternation.** One region switching back and forth between two values (a load
//! balancer over backends that serve different content) is announced twice: the first
//! change and the first switch back (which may be a rollback, and is news). Further
//! switches between the same two values, each within [`ALTERNATION_WINDOW_MS`] of the
//! last, are silent; a third value, or a switch after a quiet hour (a redeploy after a
//! rollback), is announced again. To be told about neither, watch something both
//! backends serve alike (a JSON path).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Region;

/// Regions remembered; past it the least recently heard one is forgotten.
const MAX_REGIONS: usize = 64;

/// A switch back to a region's value before last counts as alternation when it comes
/// within this long of the region's previous switch.
pub(super) const ALTERNATION_WINDOW_MS: i64 = 3_600_000;

/// One region's last report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    at_ms: i64,
    /// The region's value before its last switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    before: Option<String>,
    /// When the region last switched value.
    #[serde(default)]
    switched_ms: i64,
    /// Switches back and forth between `before` and `hash` in a row, each within the
    /// window of the one before.
    #[serde(default)]
    flips: u32,
}

/// What is known of an endpoint's watched content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Content {
    /// Each region's last report.
    #[serde(default)]
    regions: BTreeMap<Region, Seen>,
    /// The value last announced (or the first baseline).
    #[serde(default)]
    current: Option<String>,
}

/// A change worth a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Change {
    /// `before: ... → after: ...`.
    pub(super) detail: String,
}

impl Content {
    /// Takes one report; returns the change to announce, if it is one.
    pub(super) fn observe(
        &mut self,
        region: &Region,
        at_ms: i64,
        hash: &str,
        value: Option<&str>,
    ) -> Option<Change> {
        if self.regions.get(region).is_some_and(|s| s.at_ms > at_ms) {
            return None;
        }
        let prior = self.regions.get(region);
        let (before, switched_ms, flips) = match prior {
            None => (None, at_ms, 0),
            Some(p) if p.hash == hash => (p.before.clone(), p.switched_ms, p.flips),
            Some(p) => {
                let back = p.before.as_deref() == Some(hash)
                    && at_ms - p.switched_ms <= ALTERNATION_WINDOW_MS;
                (
                    Some(p.hash.clone()),
                    at_ms,
                    if back { p.flips + 1 } else { 0 },
                )
            }
        };
        let seen = Seen {
            hash: hash.to_string(),
            value: value.map(str::to_string),
            at_ms,
            before,
            switched_ms,
            flips,
        };
        let previous = self.regions.insert(region.clone(), seen);
        self.forget_old_regions();
        let Some(previous) = previous else {
            self.current.get_or_insert_with(|| hash.to_string());
            return None;
        };
        if previous.hash == hash || self.current.as_deref() == Some(hash) {
            return None;
        }
        // Back and forth between two values: the first change and the first switch
        // back were news, the rest is a load balancer's doing.
        if flips >= 2 {
            return None;
        }
        self.current = Some(hash.to_string());
        Some(Change {
            detail: format!(
                "before: {} → after: {}",
                shown(previous.value.as_deref(), &previous.hash),
                shown(value, hash)
            ),
        })
    }

    fn forget_old_regions(&mut self) {
        while self.regions.len() > MAX_REGIONS {
            let oldest = self
                .regions
                .iter()
                .min_by_key(|(_, s)| s.at_ms)
                .map(|(r, _)| r.clone());
            match oldest {
                Some(r) => self.regions.remove(&r),
                None => break,
            };
        }
    }
}

/// The excerpt, else the start of the hash (reports from probes that send none).
fn shown(value: Option<&str>, hash: &str) -> String {
    match value {
        Some(v) => v.to_string(),
        None => format!("content hash {}", hash.get(..16).unwrap_or(hash)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str) -> Region {
        Region::parse(name).unwrap()
    }

    fn see(c: &mut Content, region: &str, at: i64, v: &str) -> Option<String> {
        c.observe(&r(region), at, &format!("h-{v}"), Some(v))
            .map(|c| c.detail)
    }

    #[test]
    fn one_notice_per_change_with_before_and_after() {
        let mut c = Content::default();
        assert_eq!(see(&mut c, "eu", 1, "1.4.2"), None, "a baseline");
        assert_eq!(see(&mut c, "us", 1, "1.4.2"), None);
        assert_eq!(see(&mut c, "eu", 2, "1.4.2"), None, "a repeat");
        assert_eq!(
            see(&mut c, "eu", 3, "1.5.0").as_deref(),
            Some("before: 1.4.2 → after: 1.5.0")
        );
        assert_eq!(see(&mut c, "us", 3, "1.5.0"), None, "already announced");
        assert_eq!(see(&mut c, "eu", 4, "1.5.0"), None);
        assert_eq!(
            see(&mut c, "us", 5, "1.4.2").as_deref(),
            Some("before: 1.5.0 → after: 1.4.2"),
            "a rollback is news"
        );
    }

    #[test]
    fn regions_serving_different_content_do_not_alternate() {
        let mut c = Content::default();
        for at in 0..10 {
            assert_eq!(see(&mut c, "eu", at, "A"), None);
            assert_eq!(see(&mut c, "us", at, "B"), None);
        }
        assert_eq!(
            see(&mut c, "us", 10, "C").as_deref(),
            Some("before: B → after: C")
        );
    }

    /// Through the machine: the notice names the change, maintenance mutes it and the
    /// state moves on (the value seen during maintenance is the new baseline), and the
    /// state survives a save.
    #[test]
    fn the_machine_notifies_outside_maintenance_only() {
        use super::super::{EndpointIncidents, Event, IncidentPolicy, NoticeContext};
        use crate::notice::NoticeKind;
        let ctx = NoticeContext {
            org_id: crate::OrgId::parse("org-1").unwrap(),
            endpoint_id: crate::EndpointId::parse("ep-1").unwrap(),
            name: "API".into(),
            target: "https://api.example/version".into(),
            link: "https://scoville.example/endpoints/ep-1".into(),
        };
        let policy = IncidentPolicy::default();
        let event = |at: i64, v: &str| Event::Change {
            region: r("eu-west-1"),
            at_ms: at,
            body_hash: format!("h-{v}"),
            value: Some(v.into()),
        };
        let mut m = EndpointIncidents::default();
        assert!(m.apply(&policy, &ctx, &event(1, "1.4.2"), false).is_empty());
        assert!(
            m.apply(&policy, &ctx, &event(2, "1.5.0"), true).is_empty(),
            "muted"
        );
        let mut m: EndpointIncidents =
            serde_json::from_value(serde_json::to_value(&m).unwrap()).unwrap();
        assert!(m.apply(&policy, &ctx, &event(3, "1.5.0"), false).is_empty());
        let n = m.apply(&policy, &ctx, &event(4, "1.6.0"), false);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].kind, NoticeKind::Changed);
        assert_eq!(n[0].detail.as_deref(), Some("before: 1.5.0 → after: 1.6.0"));
        assert_eq!(n[0].incident_id, "ep-1/change/h-1.6.0");
        assert_eq!(n[0].headline(), "API changed");
    }

    #[test]
    fn a_region_alternating_between_two_values_is_announced_twice() {
        let mut c = Content::default();
        let minute = 60_000;
        see(&mut c, "eu", 0, "A");
        let mut notices = Vec::new();
        // Strict alternation, then with repeats (a balancer choosing at random).
        let seq = ["B", "A", "B", "A", "B", "B", "A", "A", "B", "A", "B"];
        for (i, v) in seq.iter().enumerate() {
            notices.extend(see(&mut c, "eu", (i as i64 + 1) * minute, v));
        }
        assert_eq!(
            notices,
            ["before: A → after: B", "before: B → after: A"],
            "the change and the switch back only"
        );
        // A third value is news at once.
        assert_eq!(
            see(&mut c, "eu", 20 * minute, "C").as_deref(),
            Some("before: B → after: C")
        );
    }

    #[test]
    fn a_redeploy_after_a_quiet_hour_is_news_again() {
        let mut c = Content::default();
        let minute = 60_000;
        see(&mut c, "eu", 0, "1.4");
        assert!(see(&mut c, "eu", minute, "1.5").is_some(), "a deploy");
        assert!(see(&mut c, "eu", 2 * minute, "1.4").is_some(), "a rollback");
        for m in 3..200 {
            assert_eq!(see(&mut c, "eu", m * minute, "1.4"), None);
        }
        assert_eq!(
            see(&mut c, "eu", 200 * minute, "1.5").as_deref(),
            Some("before: 1.4 → after: 1.5"),
            "the fixed release, hours later"
        );
        // State saved before these fields existed still reads.
        let old: Content = serde_json::from_value(serde_json::json!({
            "regions": {"eu": {"hash": "h-A", "value": "A", "at_ms": 1}},
            "current": "h-A"
        }))
        .unwrap();
        let mut old = old;
        assert!(see(&mut old, "eu", 2, "B").is_some());
    }

    #[test]
    fn late_reports_are_ignored_and_old_probes_show_hashes() {
        let mut c = Content::default();
        see(&mut c, "eu", 10, "A");
        assert!(see(&mut c, "eu", 12, "B").is_some());
        assert_eq!(
            see(&mut c, "eu", 11, "A"),
            None,
            "older than the last report"
        );
        assert_eq!(see(&mut c, "eu", 13, "B"), None);
        let mut c = Content::default();
        c.observe(&r("eu"), 1, "aaaa", None);
        let d = c.observe(&r("eu"), 2, "bbbb", None).unwrap().detail;
        assert_eq!(d, "before: content hash aaaa → after: content hash bbbb");
    }
}
