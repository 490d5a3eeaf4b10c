//! What every message says, assembled once in plain text so that all channels say the
//! same thing: the headline (marked `[TEST]` for a test), what happened, where (the
//! checked target), since when (UTC), which regions, the error, one line of detail, and
//! the link to the endpoint's page. Digests get a title counting the notices by kind and
//! one line per notice.
//!
//! Everything here is plain text with control characters removed and lengths bounded;
//! channels escape it for their markup ([`crate::escape`]) after any cut.

use std::collections::BTreeMap;

use scoville_core::notice::{Notice, NoticeKind};

use crate::escape::{one_line, text_block, truncate};

/// The plain-text facts of one notice.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// The headline, one line, `[TEST] ` in front for a test.
    pub title: String,
    /// What happened, e.g. `Down`.
    pub what: &'static str,
    /// The endpoint's display name (or its id), one line.
    pub name: String,
    /// What is checked, one line.
    pub target: String,
    /// Since when, `2024-05-01 12:00:00 UTC`.
    pub since: String,
    /// The regions, comma-separated, or `-`.
    pub regions: String,
    /// The error, if any (line breaks kept).
    pub error: Option<String>,
    /// One more line of detail, if any.
    pub detail: Option<String>,
    /// The endpoint's page.
    pub link: String,
}

/// Longest name, target or region list kept, in characters.
const MAX_LINE: usize = 200;
/// Longest error or detail kept, in characters.
const MAX_BLOCK: usize = 1000;

/// The facts of `notice`.
pub fn facts(notice: &Notice, test: bool) -> Facts {
    let headline = truncate(&one_line(&notice.headline()), MAX_LINE);
    let title = if test {
        format!("[TEST] {headline}")
    } else {
        headline
    };
    Facts {
        title,
        what: what(notice.kind),
        name: truncate(&one_line(display_name(notice)), MAX_LINE),
        target: truncate(&one_line(&notice.target), MAX_LINE),
        since: utc(notice.since_ms),
        regions: regions(notice),
        error: notice
            .error
            .as_deref()
            .map(|e| truncate(&text_block(e.trim()), MAX_BLOCK))
            .filter(|e| !e.is_empty()),
        detail: notice
            .detail
            .as_deref()
            .map(|d| truncate(&text_block(d.trim()), MAX_BLOCK))
            .filter(|d| !d.is_empty()),
        link: one_line(&notice.link),
    }
}

/// The endpoint's name, or its id when the name is empty.
pub fn display_name(notice: &Notice) -> &str {
    if notice.endpoint_name.trim().is_empty() {
        notice.endpoint_id.as_str()
    } else {
        &notice.endpoint_name
    }
}

/// Regions as `eu-west-1, us-east-1`, or `-` when none.
pub fn regions(notice: &Notice) -> String {
    if notice.regions.is_empty() {
        "-".into()
    } else {
        let all: Vec<&str> = notice.regions.iter().map(|r| r.as_str()).collect();
        truncate(&all.join(", "), MAX_LINE)
    }
}

/// What happened, for people.
pub fn what(kind: NoticeKind) -> &'static str {
    match kind {
        NoticeKind::Down => "Down",
        NoticeKind::Recovered => "Recovered",
        NoticeKind::Flapping => "Flapping",
        NoticeKind::Settled => "Stopped flapping",
        NoticeKind::Degraded => "Degraded",
        NoticeKind::CertificateExpiring => "Certificate expiring",
        NoticeKind::DomainExpiring => "Domain expiring",
        NoticeKind::Changed => "Content changed",
    }
}

/// A colour per kind (RGB), for Discord embeds and Teams accents.
pub fn color(kind: NoticeKind) -> u32 {
    match kind {
        NoticeKind::Down => 0xD9_30_25,
        NoticeKind::Recovered => 0x1E_8E_3E,
        NoticeKind::Flapping => 0xF2_99_00,
        NoticeKind::Settled => 0x1A_73_E8,
        NoticeKind::Degraded => 0xF9_AB_00,
        NoticeKind::CertificateExpiring => 0x93_34_E6,
        NoticeKind::DomainExpiring => 0xB0_3A_8C,
        NoticeKind::Changed => 0x5F_63_68,
    }
}

/// Whether `url` is an http(s) URL, the only links any channel renders as links.
pub fn is_http(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// Whether the kind is good news (for colour choices).
pub fn is_good_news(kind: NoticeKind) -> bool {
    matches!(kind, NoticeKind::Recovered | NoticeKind::Settled)
}

/// A digest's title: `Scoville: 25 notices (20 down, 5 recovered)`.
pub fn digest_title(notices: &[&Notice], test: bool) -> String {
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for n in notices {
        *counts.entry(n.kind.as_str()).or_default() += 1;
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(k, c)| format!("{c} {}", k.replace('_', " ")))
        .collect();
    format!(
        "{}Scoville: {} notices ({})",
        if test { "[TEST] " } else { "" },
        notices.len(),
        parts.join(", ")
    )
}

/// One digest line in plain text: `name: down since 2024-05-01 12:00:00 UTC (eu-west-1)`;
/// the name is cut to `max_name` characters.
pub fn digest_line(notice: &Notice, max_name: usize) -> (String, String) {
    let name = truncate(&one_line(display_name(notice)), max_name);
    let rest = format!(
        "{} since {} ({})",
        what(notice.kind).to_lowercase(),
        utc(notice.since_ms),
        regions(notice)
    );
    (name, rest)
}

/// Unix ms as `2024-05-01 12:00:00 UTC`.
pub fn utc(ms: i64) -> String {
    let (y, mo, d, h, mi, s, _) = civil(ms);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

/// Unix ms as RFC 3339, `2024-05-01T12:00:00.000Z`.
pub fn rfc3339(ms: i64) -> String {
    let (y, mo, d, h, mi, s, milli) = civil(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// Splits Unix ms into UTC calendar fields (proleptic Gregorian; Howard Hinnant's
/// `civil_from_days`).
fn civil(ms: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, sod / 3600, sod % 3600 / 60, sod % 60, milli)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use scoville_core::{EndpointId, OrgId, Region};

    /// A notice for unit tests.
    pub(crate) fn notice(name: &str, kind: NoticeKind) -> Notice {
        Notice {
            kind,
            org_id: OrgId::parse("org-1").unwrap(),
            endpoint_id: EndpointId::parse("ep-1").unwrap(),
            endpoint_name: name.into(),
            target: "https://api.example.com/health".into(),
            incident_id: "inc-1".into(),
            since_ms: 1_714_564_800_000,
            at_ms: 1_714_564_860_000,
            regions: vec![
                Region::parse("eu-west-1").unwrap(),
                Region::parse("us-east-1").unwrap(),
            ],
            error: Some("HTTP 503\nService Unavailable".into()),
            detail: None,
            link: "https://scoville.example.com/endpoints/ep-1".into(),
        }
    }

    #[test]
    fn calendar_conversion() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_714_564_800_000), "2024-05-01 12:00:00 UTC");
        assert_eq!(rfc3339(1_714_564_800_123), "2024-05-01T12:00:00.123Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(-1), "1969-12-31 23:59:59 UTC");
        assert_eq!(utc(4_102_444_799_000), "2099-12-31 23:59:59 UTC");
    }

    #[test]
    fn facts_are_plain_one_line_and_marked_for_tests() {
        let mut n = notice("API\r\nX", NoticeKind::Down);
        n.error = Some("  \n ".into());
        let f = facts(&n, true);
        assert_eq!(f.title, "[TEST] API  X is down");
        assert_eq!(f.what, "Down");
        assert_eq!(f.since, "2024-05-01 12:00:00 UTC");
        assert_eq!(f.regions, "eu-west-1, us-east-1");
        assert_eq!(f.error, None);
        n.endpoint_name = String::new();
        assert_eq!(facts(&n, false).name, "ep-1");
    }

    #[test]
    fn digest_title_counts_kinds() {
        let a = notice("a", NoticeKind::Down);
        let b = notice("b", NoticeKind::Down);
        let c = notice("c", NoticeKind::Recovered);
        assert_eq!(
            digest_title(&[&a, &b, &c], false),
            "Scoville: 3 notices (2 down, 1 recovered)"
        );
        let (name, rest) = digest_line(&a, 10);
        assert_eq!(name, "a");
        assert_eq!(
            rest,
            "down since 2024-05-01 12:00:00 UTC (eu-west-1, us-east-1)"
        );
    }
}
