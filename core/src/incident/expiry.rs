//! The rule certificate and domain expiry notices share: each expiry is announced once
//! when it comes within the warning days and once more within the critical days; one
//! first seen already within the critical days gets the critical notice only; a new
//! expiry (a renewal) starts over.

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
