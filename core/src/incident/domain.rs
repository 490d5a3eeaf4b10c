//! Domain expiry notices, the same way as certificate ones: a result that carries the
//! registration's expiry (`domain_expires_at_ms`, looked up by the probe over RDAP about
//! once a day, only for checks that opted in) is announced once when it comes within
//! `domain_warn_days` and once more, with its own notice id (`.../critical`), within
//! `domain_critical_days`. A registration first seen already within the critical days
//! gets the critical notice only; a renewal (a new expiry) starts over. Muted during
//! maintenance, like certificates: the next daily lookup after it brings the notice.
//!
//! Nothing here affects up or down: the result is counted like any other.

use super::expiry::{DAY_MS, Expiring, announce};
use super::{EndpointIncidents, IncidentPolicy, NoticeContext, Observation};
use crate::notice::{Notice, NoticeKind};

impl EndpointIncidents {
    pub(super) fn domain(
        &mut self,
        policy: &IncidentPolicy,
        ctx: &NoticeContext,
        o: &Observation,
        muted: bool,
        out: &mut Vec<Notice>,
    ) {
        let Some(expires) = o.domain_expires_at_ms else {
            return;
        };
        if muted {
            return;
        }
        let Some(Expiring {
            notice: mut n,
            days,
            critical,
        }) = announce(
            ctx,
            o,
            NoticeKind::DomainExpiring,
            "domain",
            expires,
            (policy.domain_warn_days, policy.domain_critical_days),
            (
                &mut self.domain_notified,
                &mut self.domain_critical_notified,
            ),
        )
        else {
            return;
        };
        let date = date(expires);
        n.detail = Some(match (days < 0, critical) {
            (true, _) => format!("the domain registration expired on {date}"),
            (false, true) => {
                format!("critical: the domain registration expires on {date}, in {days} days")
            }
            (false, false) => {
                format!("the domain registration expires on {date}, in {days} days")
            }
        });
        out.push(n);
    }
}

/// `YYYY-MM-DD` (UTC) of a Unix time in ms (Howard Hinnant's `civil_from_days`).
fn date(ms: i64) -> String {
    let z = ms.div_euclid(DAY_MS) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EndpointId, OrgId, Region};

    const T0: i64 = 1_790_000_000_000 / 60_000 * 60_000;

    fn ctx() -> NoticeContext {
        NoticeContext {
            org_id: OrgId::parse("org-1").unwrap(),
            endpoint_id: EndpointId::parse("ep-1").unwrap(),
            name: "Shop".into(),
            target: "https://shop.example/".into(),
            link: "https://scoville.example/endpoints/ep-1".into(),
        }
    }

    /// A successful result of `day` days after T0 whose domain expires `left_ms` later.
    fn obs(day: i64, expires: Option<i64>) -> Observation {
        let at = T0 + day * DAY_MS;
        Observation {
            region: Region::parse("eu-west-1").unwrap(),
            scheduled_at_ms: at,
            started_at_ms: at + 500,
            ok: true,
            error: None,
            cert_expires_at_ms: None,
            domain_expires_at_ms: expires,
        }
    }

    fn apply(m: &mut EndpointIncidents, p: &IncidentPolicy, o: Observation) -> Vec<Notice> {
        m.apply(p, &ctx(), &super::super::Event::Check(o), false)
    }

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400_000), "2000-02-29");
        assert_eq!(date(1_786_608_000_000 + 3_600_000), "2026-08-13");
    }

    #[test]
    fn warns_then_critical_once_each() {
        let p = IncidentPolicy::default();
        assert_eq!((p.domain_warn_days, p.domain_critical_days), (30, 7));
        let mut m = EndpointIncidents::default();
        let expires = T0 + 20 * DAY_MS + 3_600_000;
        // Far away: nothing.
        assert!(apply(&mut m, &p, obs(-30, Some(expires))).is_empty());
        // Within 30 days: one warning, then nothing on the next days' lookups.
        let w = apply(&mut m, &p, obs(0, Some(expires)));
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].kind, NoticeKind::DomainExpiring);
        assert_eq!(w[0].headline(), "Shop: domain expires soon");
        assert_eq!(w[0].incident_id, format!("ep-1/domain/{expires}"));
        assert_eq!(
            w[0].detail.as_deref(),
            Some(
                format!(
                    "the domain registration expires on {}, in 20 days",
                    date(expires)
                )
                .as_str()
            )
        );
        for day in 1..13 {
            assert!(apply(&mut m, &p, obs(day, Some(expires))).is_empty());
        }
        // Within 7 days: the critical notice, its own id, once.
        let c = apply(&mut m, &p, obs(14, Some(expires)));
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(c[0].incident_id.ends_with("/critical"));
        assert!(c[0].detail.as_deref().unwrap().starts_with("critical: "));
        assert!(c[0].detail.as_deref().unwrap().ends_with("in 6 days"));
        for day in 15..25 {
            assert!(apply(&mut m, &p, obs(day, Some(expires))).is_empty());
        }
        // Results without a lookup change nothing.
        assert!(apply(&mut m, &p, obs(26, None)).is_empty());
        // Renewed for a year: quiet; a year later the new expiry has its own notices.
        let renewed = expires + 365 * DAY_MS;
        assert!(apply(&mut m, &p, obs(27, Some(renewed))).is_empty());
        assert_eq!(apply(&mut m, &p, obs(360, Some(renewed))).len(), 1);
    }

    #[test]
    fn first_seen_within_critical_gets_critical_only_and_policy_applies() {
        let p = IncidentPolicy {
            domain_warn_days: 60,
            domain_critical_days: 10,
            ..IncidentPolicy::default()
        };
        let mut m = EndpointIncidents::default();
        let expires = T0 + 2 * DAY_MS;
        let c = apply(&mut m, &p, obs(0, Some(expires)));
        assert_eq!(c.len(), 1);
        assert!(c[0].incident_id.ends_with("/critical"));
        assert!(apply(&mut m, &p, obs(1, Some(expires))).is_empty());
        // 50 days ahead is far under the defaults, near under this policy.
        let mut other = EndpointIncidents::default();
        let far = Some(T0 + 50 * DAY_MS);
        assert!(apply(&mut other, &IncidentPolicy::default(), obs(0, far)).is_empty());
        assert_eq!(apply(&mut other, &p, obs(1, far)).len(), 1);
        // Muted (maintenance): nothing, and the next lookup after it announces.
        let mut muted = EndpointIncidents::default();
        let o = obs(0, Some(expires));
        assert!(
            muted
                .apply(&p, &ctx(), &super::super::Event::Check(o), true)
                .is_empty()
        );
        assert_eq!(apply(&mut muted, &p, obs(1, Some(expires))).len(), 1);
    }

    #[test]
    fn old_state_without_domain_fields_still_reads() {
        let m = EndpointIncidents::default();
        let mut json = serde_json::to_value(&m).unwrap();
        let obj = json.as_object_mut().unwrap();
        obj.remove("domain_notified");
        obj.remove("domain_critical_notified");
        let back: EndpointIncidents = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
        let mut policy = serde_json::to_value(IncidentPolicy::default()).unwrap();
        let obj = policy.as_object_mut().unwrap();
        obj.remove("domain_warn_days");
        obj.remove("domain_critical_days");
        let p: IncidentPolicy = serde_json::from_value(policy).unwrap();
        assert_eq!(p.domain_warn_days, 30);
    }
}
