//! Heartbeat (push) checks, as Healthchecks.io and Pyng have them: nothing is probed;
//! the monitored job calls its ping URL (`/v1/ping/{token}`, with `/start` and `/fail`
//! variants) at least every `period_s`, and a ping that has not come `grace_s` after it
//! was due is a failure. An optional payload assertion judges what the job posts (a
//! report, a JSON summary): a ping whose payload fails it counts as a failed run.
//!
//! Only body assertions apply to a payload (`body_contains`, `body_not_contains`,
//! `body_regex`, `json_path`); headers and latency are the probe's business.

use serde::{Deserialize, Serialize};

use super::Assertion;

/// The longest period: 35 days (monthly jobs with some slack).
pub const MAX_PERIOD_S: u32 = 35 * 24 * 3600;
/// The longest grace time: 7 days.
pub const MAX_GRACE_S: u32 = 7 * 24 * 3600;
/// The most payload assertions.
pub const MAX_PAYLOAD_ASSERTIONS: usize = 20;

/// A push check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "HeartbeatRepr", into = "HeartbeatRepr")]
pub struct HeartbeatCheck {
    period_s: u32,
    grace_s: u32,
    payload: Vec<Assertion>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeartbeatRepr {
    period_s: u32,
    #[serde(default = "default_grace")]
    grace_s: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    payload: Vec<Assertion>,
}

fn default_grace() -> u32 {
    60
}

impl HeartbeatCheck {
    /// A check expecting a ping every `period_s`, `grace_s` late at most, payload
    /// assertions `payload`. Errors name the field.
    pub fn new(period_s: u32, grace_s: u32, payload: Vec<Assertion>) -> Result<Self, String> {
        if !(30..=MAX_PERIOD_S).contains(&period_s) {
            return Err(format!(
                "period_s: must be between 30 and {MAX_PERIOD_S} seconds"
            ));
        }
        if grace_s > MAX_GRACE_S {
            return Err(format!("grace_s: must be at most {MAX_GRACE_S} seconds"));
        }
        if payload.len() > MAX_PAYLOAD_ASSERTIONS {
            return Err(format!(
                "payload: at most {MAX_PAYLOAD_ASSERTIONS} assertions"
            ));
        }
        if let Some(i) = payload.iter().position(|a| !a.needs_body()) {
            return Err(format!(
                "payload[{i}]: only body_contains, body_not_contains, body_regex and json_path apply to a payload"
            ));
        }
        Ok(Self {
            period_s,
            grace_s,
            payload,
        })
    }

    /// How often the job pings, in seconds.
    pub fn period_s(&self) -> u32 {
        self.period_s
    }

    /// How late a ping may be, in seconds.
    pub fn grace_s(&self) -> u32 {
        self.grace_s
    }

    /// The payload assertions.
    pub fn payload(&self) -> &[Assertion] {
        &self.payload
    }

    /// When a job last heard from at `last_ms` is overdue (Unix ms).
    pub fn deadline_after(&self, last_ms: i64) -> i64 {
        last_ms + (i64::from(self.period_s) + i64::from(self.grace_s)) * 1000
    }

    /// Judges a posted payload; the error says which assertion failed. A ping without a
    /// body is judged as an empty payload.
    pub fn judge_payload(&self, body: &[u8]) -> Result<(), String> {
        let mut json = None;
        for a in &self.payload {
            // Only body assertions are accepted when parsed.
            if let Some(verdict) = a.judge_body("payload", body, &mut json) {
                verdict?;
            }
        }
        Ok(())
    }
}

impl TryFrom<HeartbeatRepr> for HeartbeatCheck {
    type Error = String;
    fn try_from(r: HeartbeatRepr) -> Result<Self, String> {
        Self::new(r.period_s, r.grace_s, r.payload)
    }
}

impl From<HeartbeatCheck> for HeartbeatRepr {
    fn from(c: HeartbeatCheck) -> Self {
        Self {
            period_s: c.period_s,
            grace_s: c.grace_s,
            payload: c.payload,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: serde_json::Value) -> Result<HeartbeatCheck, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_with_a_default_grace_and_names_bad_fields() {
        let c = check(serde_json::json!({"period_s": 3600})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.period_s(), c.grace_s()), (3600, 60));
        assert_eq!(c.deadline_after(1_000), 1_000 + 3_660_000);
        let e = check(serde_json::json!({"period_s": 10})).unwrap_err();
        assert!(e.contains("period_s"), "{e}");
        let e = check(serde_json::json!({"period_s": 60, "grace_s": 9_999_999})).unwrap_err();
        assert!(e.contains("grace_s"), "{e}");
        let e = check(serde_json::json!({"period_s": 60, "payload": [
            {"type": "max_latency_ms", "value": 5}]}))
        .unwrap_err();
        assert!(e.contains("payload[0]"), "{e}");
        let e = check(serde_json::json!({"period_s": 60, "every": 5})).unwrap_err();
        assert!(e.contains("every"), "{e}");
    }

    #[test]
    fn judges_payloads() {
        let c = check(serde_json::json!({"period_s": 60, "payload": [
            {"type": "body_contains", "value": "backup"},
            {"type": "body_not_contains", "value": "ERROR"},
            {"type": "json_path", "path": "$.failed", "equals": 0},
        ]}))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.judge_payload(br#"{"job":"backup","failed":0}"#), Ok(()));
        let e = c
            .judge_payload(br#"{"job":"backup","failed":3}"#)
            .unwrap_err();
        assert!(e.contains("$.failed is 3"), "{e}");
        let e = c.judge_payload(b"backup ERROR").unwrap_err();
        assert!(e.contains("ERROR"), "{e}");
        let e = c.judge_payload(b"").unwrap_err();
        assert!(e.contains("lacks"), "{e}");
        let e = c.judge_payload(b"backup done").unwrap_err();
        assert!(e.contains("not JSON"), "{e}");
        let r = check(serde_json::json!({"period_s": 60, "payload": [
            {"type": "body_regex", "pattern": "^ok \\d+ files$"}]}))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.judge_payload(b"ok 12 files"), Ok(()));
        assert!(r.judge_payload(b"ok many files").is_err());
    }
}
