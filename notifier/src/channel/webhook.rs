//! A generic webhook: `POST` of one notice as JSON in a stable schema
//! ([`WebhookPayload`], `"schema": "scoville.notice.v1"`), one request per notice (no
//! digests: a program on the other side wants one event per transition).
//!
//! Headers:
//! - `X-Scoville-Signature: sha256=<hex>`: HMAC-SHA256 of the **raw body** keyed with the
//!   channel's `secret` (when one is configured). Verify it over the exact bytes received,
//!   in constant time, before parsing.
//! - `X-Scoville-Timestamp: <unix seconds>`: when this attempt was sent. The same value is
//!   the body's `sent_at`, which the signature covers, so a receiver can refuse replays
//!   of old deliveries (say, older than five minutes) without a separate signed header.
//! - `X-Scoville-Event: <kind>` and `X-Scoville-Delivery: <dedup_key>`: the event kind,
//!   and an id that stays the same across retries (deduplicate on it).
//!
//! Result hooks (`scoville_core::hook`) are webhooks too: their state changes are the
//! notices above, and their batches of results go out through [`WebhookConfig::send_results`]
//! as [`ResultsPayload`] (`"schema": "scoville.results.v1"`, event `results`, the results
//! in the receiver's `CheckResult` form), signed and timestamped the same way.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use scoville_core::CheckResult;
use scoville_core::hook::ResultsJob;
use scoville_core::notice::NoticeKind;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{
    Channel, ChannelConfigError, Item, Message, Pace, Secret, SendError, check_http_url,
    check_secret, parsed_url,
};
use crate::http::SendContext;

/// `{"type": "webhook", "url": "https://...", "secret": "..."}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to post (a secret: such URLs often carry a token).
    pub url: Secret,
    /// Signing secret for `X-Scoville-Signature`; without it requests are unsigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
}

/// Signature header.
pub const SIGNATURE_HEADER: &str = "X-Scoville-Signature";
/// Timestamp header.
pub const TIMESTAMP_HEADER: &str = "X-Scoville-Timestamp";
/// Event kind header.
pub const EVENT_HEADER: &str = "X-Scoville-Event";
/// Delivery id header (the dedup key).
pub const DELIVERY_HEADER: &str = "X-Scoville-Delivery";
/// The schema name in every body.
pub const SCHEMA: &str = "scoville.notice.v1";

/// The body of a webhook request. Fields are only ever added to this schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookPayload {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// What happened.
    pub kind: NoticeKind,
    /// Identity of this notice for this channel: the same across retries and redeliveries.
    pub dedup_key: String,
    /// True for a test notification.
    pub test: bool,
    /// When this attempt was sent, Unix seconds (equals `X-Scoville-Timestamp`).
    pub sent_at: u64,
    /// The headline.
    pub headline: String,
    /// The organization.
    pub org_id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// Its display name.
    pub endpoint_name: String,
    /// What is checked.
    pub target: String,
    /// The incident (or episode).
    pub incident_id: String,
    /// Since when, Unix ms.
    pub since_ms: i64,
    /// When decided, Unix ms.
    pub at_ms: i64,
    /// Regions involved.
    pub regions: Vec<String>,
    /// The error, if any.
    pub error: Option<String>,
    /// More detail, if any.
    pub detail: Option<String>,
    /// The endpoint's page.
    pub link: String,
}

impl WebhookPayload {
    /// The payload for one item, sent at `sent_at`.
    pub fn new(item: &Item, test: bool, sent_at: u64) -> Self {
        let n = &item.notice;
        Self {
            schema: SCHEMA.into(),
            kind: n.kind,
            dedup_key: item.dedup_key.clone(),
            test,
            sent_at,
            headline: n.headline(),
            org_id: n.org_id.to_string(),
            endpoint_id: n.endpoint_id.to_string(),
            endpoint_name: n.endpoint_name.clone(),
            target: n.target.clone(),
            incident_id: n.incident_id.clone(),
            since_ms: n.since_ms,
            at_ms: n.at_ms,
            regions: n.regions.iter().map(|r| r.to_string()).collect(),
            error: n.error.clone(),
            detail: n.detail.clone(),
            link: n.link.clone(),
        }
    }
}

/// The schema name of a results batch.
pub const RESULTS_SCHEMA: &str = "scoville.results.v1";

/// The body of a results batch to a result hook. Fields are only ever added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsPayload {
    /// Always [`RESULTS_SCHEMA`].
    pub schema: String,
    /// Identity of this batch for this hook: the same across retries and redeliveries.
    pub dedup_key: String,
    /// When this attempt was sent, Unix seconds (equals `X-Scoville-Timestamp`).
    pub sent_at: u64,
    /// The organization.
    pub org_id: String,
    /// The results, as the probes sent them.
    pub results: Vec<CheckResult>,
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl WebhookConfig {
    /// Makes one attempt to post a batch of results (see the module docs).
    pub async fn send_results(&self, ctx: &SendContext, job: &ResultsJob) -> Result<(), SendError> {
        let url = parsed_url(self.url.expose())?;
        let sent_at = now_s();
        let dedup_key = job.dedup_key();
        let payload = ResultsPayload {
            schema: RESULTS_SCHEMA.into(),
            dedup_key: dedup_key.clone(),
            sent_at,
            org_id: job.org_id.to_string(),
            results: job.results.clone(),
        };
        let body = serde_json::to_vec(&payload)
            .map_err(|e| SendError::Permanent(format!("encoding the payload: {e}")))?;
        let mut req = ctx
            .http()
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, sent_at.to_string())
            .header(EVENT_HEADER, "results")
            .header(DELIVERY_HEADER, header_safe(&dedup_key));
        if let Some(secret) = &self.secret {
            req = req.header(
                SIGNATURE_HEADER,
                signature(secret.expose().as_bytes(), &body),
            );
        }
        ctx.execute(&url, req.body(body)).await.map(|_| ())
    }
}

/// `sha256=<hex of HMAC-SHA256(secret, body)>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl Channel for WebhookConfig {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn digest_max(&self) -> Option<usize> {
        None
    }

    fn default_pace(&self) -> Pace {
        Pace::new(10.0, 20)
    }

    fn validate(&self) -> Result<(), ChannelConfigError> {
        check_http_url("url", self.url.expose())?;
        if let Some(secret) = &self.secret {
            check_secret("secret", secret)?;
        }
        Ok(())
    }

    async fn send(&self, ctx: &SendContext, msg: &Message) -> Result<(), SendError> {
        let url = parsed_url(self.url.expose())?;
        // One request per notice; a message is a single notice unless misused.
        for item in &msg.items {
            let sent_at = now_s();
            let body = serde_json::to_vec(&WebhookPayload::new(item, msg.test, sent_at))
                .map_err(|e| SendError::Permanent(format!("encoding the payload: {e}")))?;
            let mut req = ctx
                .http()
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(TIMESTAMP_HEADER, sent_at.to_string())
                .header(EVENT_HEADER, item.notice.kind.as_str())
                .header(DELIVERY_HEADER, header_safe(&item.dedup_key));
            if let Some(secret) = &self.secret {
                req = req.header(
                    SIGNATURE_HEADER,
                    signature(secret.expose().as_bytes(), &body),
                );
            }
            ctx.execute(&url, req.body(body)).await?;
        }
        Ok(())
    }
}

/// Header values must be visible ASCII; the dedup key is built from ids, but a free-form
/// incident id could hold anything, so anything else is percent-encoded.
fn header_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x21..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn header_values_stay_ascii() {
        assert_eq!(header_safe("inc-1/down/5/ch"), "inc-1/down/5/ch");
        assert_eq!(header_safe("a b%é"), "a%20b%25%C3%A9");
    }
}
