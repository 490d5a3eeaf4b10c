//! Judging a response: the accepted status set first, then each assertion in order; the
//! first that fails names the problem in the check's message.

use http::HeaderMap;
use scoville_core::DownReason;
use scoville_core::check_spec::{Assertion, HeaderCheck, HttpCheck};
use serde_json::Value;

use crate::trace::Failure;

/// How much of a value is quoted in a failure message.
const QUOTE: usize = 80;

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
    let mut json: Option<Result<Value, String>> = None;
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
    json: &mut Option<Result<Value, String>>,
) -> Result<(), String> {
    match assertion {
        Assertion::BodyContains { value } => {
            if find(body, value.as_bytes()) {
                Ok(())
            } else {
                Err(format!("body lacks {:?}", clip(value)))
            }
        }
        Assertion::BodyNotContains { value } => {
            if find(body, value.as_bytes()) {
                Err(format!("body contains {:?}", clip(value)))
            } else {
                Ok(())
            }
        }
        Assertion::BodyRegex { pattern } => {
            let text = String::from_utf8_lossy(body);
            if pattern.regex().is_match(&text) {
                Ok(())
            } else {
                Err(format!("body does not match /{pattern}/"))
            }
        }
        Assertion::JsonPath(a) => {
            let doc = json.get_or_insert_with(|| {
                serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))
            });
            match doc {
                Ok(doc) => a.judge(doc),
                Err(e) => Err(e.clone()),
            }
        }
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
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

fn clip(s: &str) -> String {
    if s.len() <= QUOTE {
        return s.to_string();
    }
    let mut end = QUOTE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
