//! Judging a response: the accepted status set first, then each assertion in order; the
//! first that fails names the problem in the check's message.

use http::HeaderMap;
use scoville_core::DownReason;
use scoville_core::check_spec::{Assertion, HeaderCheck, HttpCheck, JsonCache, clip};

use crate::trace::Failure;

pub(crate) fn judge(
    spec: &HttpCheck,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    total_ms: f64,
) -> Result<(), Failure> {
    if !spec.expect_status.contains(status) {
        let reason = http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason());
        return Err(Failure::new(
            DownReason::Status,
            format!(
                "HTTP {status}{} (expected {})",
                reason.map(|r| format!(" {r}")).unwrap_or_default(),
                spec.expect_status
            ),
        ));
    }
    let mut json = None;
    for assertion in &spec.assertions {
        check_one(assertion, headers, body, total_ms, &mut json)
            .map_err(|msg| Failure::new(DownReason::Assertion, msg))?;
    }
    Ok(())
}

fn check_one(
    assertion: &Assertion,
    headers: &HeaderMap,
    body: &[u8],
    total_ms: f64,
    json: &mut JsonCache,
) -> Result<(), String> {
    if let Some(verdict) = assertion.judge_body("body", body, json) {
        return verdict;
    }
    match assertion {
        Assertion::Header(h) => {
            let Some(value) = headers.get(h.name()) else {
                return Err(format!("header {} is missing", h.name()));
            };
            let value = String::from_utf8_lossy(value.as_bytes());
            match h.check() {
                HeaderCheck::Equals(want) if value == want.as_str() => Ok(()),
                HeaderCheck::Equals(want) => Err(format!(
                    "header {} is {:?}, not {:?}",
                    h.name(),
                    clip(&value),
                    clip(want)
                )),
                HeaderCheck::Matches(p) if p.regex().is_match(&value) => Ok(()),
                HeaderCheck::Matches(p) => Err(format!(
                    "header {} is {:?}, which does not match /{p}/",
                    h.name(),
                    clip(&value)
                )),
            }
        }
        Assertion::MaxLatencyMs { value } => {
            if total_ms <= f64::from(*value) {
                Ok(())
            } else {
                Err(format!("took {total_ms:.1} ms, more than {value} ms"))
            }
        }
        // Judged above.
        Assertion::BodyContains { .. }
        | Assertion::BodyNotContains { .. }
        | Assertion::BodyRegex { .. }
        | Assertion::JsonPath(_) => Ok(()),
    }
}
