//! The rule certificate and domain expiry notices share: each expiry is announced once
//! when it comes within the warning days and once more within the critical days; one
//! first seen already within the critical days gets the critical notice only; a new
//! expiry (a renewal) starts over. [`announce`] builds the notice both kinds send.

use super::{NoticeContext, Observation, notice};
use crate::notice::{Notice, NoticeKind};

/// One day, ms.
pub(super) const DAY_MS: i64 = 86_400_000;

/// Which threshold the expiry `expires` (seen at `at_ms`) newly crossed, marking it told:
/// `Some(true)` critical, `Some(false)` warning, none when there is nothing new to say.
pub(super) fn crossed(
    expires: i64,
    at_ms: i64,
    warn_days: u32,
    critical_days: u32,
    told: &mut Option<i64>,
    told_critical: &mut Option<i64>,
) -> Option<bool> {
    let left = expires - at_ms;
    let critical = left <= i64::from(critical_days) * DAY_MS;
    let warn = left <= i64::from(warn_days) * DAY_MS;
    if critical && *told_critical != Some(expires) {
        *told_critical = Some(expires);
        *told = Some(expires);
        Some(true)
    } else if warn && !critical && *told != Some(expires) {
        *told = Some(expires);
        Some(false)
    } else {
        None
    }
}

/// An expiry notice to send: the notice (its detail still to write) and the whole days
/// left (negative once expired).
pub(super) struct Expiring {
    pub(super) notice: Notice,
    pub(super) days: i64,
    pub(super) critical: bool,
}

/// The notice of kind `kind` when `expires` (seen by `o`) newly crossed a threshold
/// (see [`crossed`]): its id is `{endpoint}/{what}/{expires}`, with `/critical` for the
/// second, and it names the observing region.
pub(super) fn announce(
    ctx: &NoticeContext,
    o: &Observation,
    kind: NoticeKind,
    what: &str,
    expires: i64,
    (warn_days, critical_days): (u32, u32),
    (told, told_critical): (&mut Option<i64>, &mut Option<i64>),
) -> Option<Expiring> {
    let critical = crossed(
        expires,
        o.started_at_ms,
        warn_days,
        critical_days,
        told,
        told_critical,
    )?;
    let endpoint = ctx.endpoint_id.as_str();
    let mut n = notice(ctx, kind, o.started_at_ms, o.started_at_ms);
    n.incident_id = if critical {
        format!("{endpoint}/{what}/{expires}/critical")
    } else {
        format!("{endpoint}/{what}/{expires}")
    };
    n.regions = vec![o.region.clone()];
    Some(Expiring {
        notice: n,
        days: (expires - o.started_at_ms).div_euclid(DAY_MS),
        critical,
    })
}
