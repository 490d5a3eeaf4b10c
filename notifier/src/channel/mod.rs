//! Alert channels: one file per channel, all behind the [`Channel`] trait, all registered
//! in the [`ChannelConfig`] tagged enum (`{"type": "slack", ...}`) whose exhaustive match
//! is the only place that knows the list.
//!
//! A channel turns a [`Message`] (one notice, or a digest of several) into its own request
//! and makes **one attempt** to send it; retries, backoff, dedup and pacing live in
//! [`crate::delivery`] and [`crate::dispatch`], the same for every channel. An attempt
//! ends in `Ok(())` or a [`SendError`] saying whether trying again can help:
//!
//! | answer | meaning |
//! | --- | --- |
//! | 2xx | sent |
//! | 408, 429, 5xx, connect errors, timeouts | [`SendError::Retryable`], with the server's `Retry-After` |
//! | other 4xx, 3xx (redirects are not followed), a refused address | [`SendError::Permanent`] |
//!
//! What every message says (what, where, since when, which regions, the error, a link
//! to the endpoint's page) is assembled once in [`render`]; each channel escapes that
//! plain text for its own markup with [`crate::escape`] and never uses it as a template.
//!
//! Secrets in configurations (webhook URLs, tokens, routing keys, passwords) are
//! [`Secret`]s: they never appear in `Debug` output or logs.

pub mod discord;
pub mod email;
pub mod matrix;
pub mod pagerduty;
pub mod render;
pub mod slack;
pub mod teams;
pub mod telegram;
pub mod webhook;

use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use scoville_core::notice::{Notice, NotificationJob};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::escape;
use crate::http::SendContext;
pub use crate::secret::Secret;

/// What one request carries: one notice, or a digest of several for the same channel
/// (in the order they happened), and whether it is a test.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The notices, at least one.
    pub items: Vec<Item>,
    /// A test notification from the admin API: every channel marks it as such.
    pub test: bool,
}

/// One notice in a message, with its job's dedup key.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The notice.
    pub notice: Notice,
    /// [`NotificationJob::dedup_key`] of the job it came from.
    pub dedup_key: String,
}

impl Item {
    /// The item for a job.
    pub fn of(job: &NotificationJob) -> Self {
        Self {
            notice: job.notice.clone(),
            dedup_key: job.dedup_key(),
        }
    }
}

impl Message {
    /// A message for one job.
    pub fn single(job: &NotificationJob) -> Self {
        Self {
            items: vec![Item::of(job)],
            test: false,
        }
    }

    /// A message carrying several items (a digest when more than one).
    pub fn of_items(items: Vec<Item>) -> Self {
        Self { items, test: false }
    }

    /// Whether it carries more than one notice.
    pub fn is_digest(&self) -> bool {
        self.items.len() > 1
    }

    /// The first (for a single message, the only) item.
    ///
    /// # Panics
    /// Never for messages built by this crate, which hold at least one item.
    pub fn first(&self) -> &Item {
        &self.items[0]
    }

    /// A stable identity for this exact message, for channels that deduplicate on their
    /// side too (Matrix transaction ids): the dedup key for one notice, a hash of all
    /// keys for a digest. A retried attempt carries the same key.
    pub fn idempotency_key(&self) -> String {
        if let [one] = self.items.as_slice() {
            return one.dedup_key.clone();
        }
        let mut h = Sha256::new();
        for item in &self.items {
            h.update(item.dedup_key.as_bytes());
            h.update(b"\n");
        }
        format!("digest:{}", hex::encode(&h.finalize()[..16]))
    }
}

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Trying again later may succeed (408, 429, 5xx, network trouble).
    #[error("retryable: {reason}")]
    Retryable {
        /// The server's `Retry-After` (or its equivalent in the body), if it gave one.
        retry_after: Option<Duration>,
        /// What happened (never holds a secret).
        reason: String,
    },
    /// Trying again cannot help (bad request, revoked webhook, refused address, ...).
    #[error("permanent: {0}")]
    Permanent(String),
}

impl SendError {
    /// A retryable error without a server-given delay.
    pub fn retryable(reason: impl Into<String>) -> Self {
        Self::Retryable {
            retry_after: None,
            reason: reason.into(),
        }
    }

    /// Whether trying again may help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }

    /// The reason text.
    pub fn reason(&self) -> &str {
        match self {
            Self::Retryable { reason, .. } | Self::Permanent(reason) => reason,
        }
    }
}

/// Classifies an HTTP answer: 2xx is sent; 408, 429 and 5xx are retryable (honouring
/// `Retry-After`, in seconds or as an HTTP date); everything else is permanent.
pub fn classify(status: StatusCode, headers: &HeaderMap, body: &str) -> Result<(), SendError> {
    if status.is_success() {
        return Ok(());
    }
    let snippet = escape::truncate(&escape::one_line(body.trim()), 300);
    let reason = if snippet.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {snippet}", status.as_u16())
    };
    let retryable = status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error();
    if retryable {
        Err(SendError::Retryable {
            retry_after: retry_after(headers),
            reason,
        })
    } else if status.is_redirection() {
        Err(SendError::Permanent(format!(
            "{reason} (redirects are not followed; configure the final URL)"
        )))
    } else {
        Err(SendError::Permanent(reason))
    }
}

/// `Retry-After` as a delay: delta-seconds (fractions accepted) or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// How fast one destination may be sent to: a token bucket of `burst` tokens refilled at
/// `per_second`. Each channel kind has a default close to its service's published limit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pace {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests that may go at once after a quiet spell.
    pub burst: u32,
}

impl Pace {
    /// A pace of `per_second` with `burst`.
    pub const fn new(per_second: f64, burst: u32) -> Self {
        Self { per_second, burst }
    }
}

/// One kind of alert channel.
pub trait Channel {
    /// Stable lower-case name (the `type` tag).
    fn kind(&self) -> &'static str;

    /// Most notices one digest message may carry within the service's size limits, or
    /// `None` when every notice must be its own request (PagerDuty events, webhooks).
    fn digest_max(&self) -> Option<usize>;

    /// The default pace for one destination of this kind.
    fn default_pace(&self) -> Pace;

    /// Checks the configuration; the error names the field.
    fn validate(&self) -> Result<(), ChannelConfigError>;

    /// Makes one attempt to send `msg`.
    fn send(
        &self,
        ctx: &SendContext,
        msg: &Message,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// A channel's configuration, tagged by `type`. Deserialize untrusted input with
/// [`ChannelConfig::parse_value`], which names the bad field and validates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChannelConfig {
    /// Slack incoming webhook.
    Slack(slack::SlackConfig),
    /// Discord webhook.
    Discord(discord::DiscordConfig),
    /// Microsoft Teams incoming webhook (or Workflows webhook) with an Adaptive Card.
    Teams(teams::TeamsConfig),
    /// Generic JSON webhook, HMAC-SHA256 signed.
    Webhook(webhook::WebhookConfig),
    /// Email over SMTP.
    Email(email::EmailConfig),
    /// Matrix room, through the client-server API.
    Matrix(matrix::MatrixConfig),
    /// Telegram chat, through the Bot API.
    Telegram(telegram::TelegramConfig),
    /// PagerDuty Events API v2.
    Pagerduty(pagerduty::PagerDutyConfig),
}

/// Every `type` tag, for error messages.
pub const CHANNEL_TYPES: &[&str] = &[
    "slack",
    "discord",
    "teams",
    "webhook",
    "email",
    "matrix",
    "telegram",
    "pagerduty",
];

impl ChannelConfig {
    /// Parses and validates a JSON (or TOML-derived) value; the error names the field,
    /// e.g. `webhook_url: must be an http or https URL`.
    pub fn parse_value(value: serde_json::Value) -> Result<Self, ChannelConfigError> {
        let serde_json::Value::Object(mut map) = value else {
            return Err(ChannelConfigError::new(
                ".",
                "must be an object with a `type`",
            ));
        };
        let kind = match map.remove("type") {
            Some(serde_json::Value::String(k)) => k,
            Some(_) => return Err(ChannelConfigError::new("type", "must be a string")),
            None => {
                return Err(ChannelConfigError::new(
                    "type",
                    format!("missing; one of {}", CHANNEL_TYPES.join(", ")),
                ));
            }
        };
        let rest = serde_json::Value::Object(map);
        let config = match kind.as_str() {
            "slack" => Self::Slack(fields(rest)?),
            "discord" => Self::Discord(fields(rest)?),
            "teams" => Self::Teams(fields(rest)?),
            "webhook" => Self::Webhook(fields(rest)?),
            "email" => Self::Email(fields(rest)?),
            "matrix" => Self::Matrix(fields(rest)?),
            "telegram" => Self::Telegram(fields(rest)?),
            "pagerduty" => Self::Pagerduty(fields(rest)?),
            other => {
                return Err(ChannelConfigError::new(
                    "type",
                    format!(
                        "unknown channel type {other:?}; one of {}",
                        CHANNEL_TYPES.join(", ")
                    ),
                ));
            }
        };
        config.validate()?;
        Ok(config)
    }

    /// Parses and validates JSON text.
    pub fn parse_json(text: &str) -> Result<Self, ChannelConfigError> {
        let value = serde_json::from_str(text)
            .map_err(|e| ChannelConfigError::new(".", format!("not JSON: {e}")))?;
        Self::parse_value(value)
    }
}

fn fields<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, ChannelConfigError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        // Serde reports missing and unknown fields at the enclosing object; name the
        // field itself.
        let named = ["missing field `", "unknown field `"]
            .iter()
            .find_map(|p| message.strip_prefix(p))
            .and_then(|rest| rest.split('`').next());
        match named {
            Some(field) if path == "." => ChannelConfigError::new(field, message.clone()),
            Some(field) => ChannelConfigError::new(&format!("{path}.{field}"), message.clone()),
            None => ChannelConfigError::new(&path, message),
        }
    })
}

impl Channel for ChannelConfig {
    fn kind(&self) -> &'static str {
        match self {
            Self::Slack(c) => c.kind(),
            Self::Discord(c) => c.kind(),
            Self::Teams(c) => c.kind(),
            Self::Webhook(c) => c.kind(),
            Self::Email(c) => c.kind(),
            Self::Matrix(c) => c.kind(),
            Self::Telegram(c) => c.kind(),
            Self::Pagerduty(c) => c.kind(),
        }
    }

    fn digest_max(&self) -> Option<usize> {
        match self {
            Self::Slack(c) => c.digest_max(),
            Self::Discord(c) => c.digest_max(),
            Self::Teams(c) => c.digest_max(),
            Self::Webhook(c) => c.digest_max(),
            Self::Email(c) => c.digest_max(),
            Self::Matrix(c) => c.digest_max(),
            Self::Telegram(c) => c.digest_max(),
            Self::Pagerduty(c) => c.digest_max(),
        }
    }

    fn default_pace(&self) -> Pace {
        match self {
            Self::Slack(c) => c.default_pace(),
            Self::Discord(c) => c.default_pace(),
            Self::Teams(c) => c.default_pace(),
            Self::Webhook(c) => c.default_pace(),
            Self::Email(c) => c.default_pace(),
            Self::Matrix(c) => c.default_pace(),
            Self::Telegram(c) => c.default_pace(),
            Self::Pagerduty(c) => c.default_pace(),
        }
    }

    fn validate(&self) -> Result<(), ChannelConfigError> {
        match self {
            Self::Slack(c) => c.validate(),
            Self::Discord(c) => c.validate(),
            Self::Teams(c) => c.validate(),
            Self::Webhook(c) => c.validate(),
            Self::Email(c) => c.validate(),
            Self::Matrix(c) => c.validate(),
            Self::Telegram(c) => c.validate(),
            Self::Pagerduty(c) => c.validate(),
        }
    }

    async fn send(&self, ctx: &SendContext, msg: &Message) -> Result<(), SendError> {
        match self {
            Self::Slack(c) => c.send(ctx, msg).await,
            Self::Discord(c) => c.send(ctx, msg).await,
            Self::Teams(c) => c.send(ctx, msg).await,
            Self::Webhook(c) => c.send(ctx, msg).await,
            Self::Email(c) => c.send(ctx, msg).await,
            Self::Matrix(c) => c.send(ctx, msg).await,
            Self::Telegram(c) => c.send(ctx, msg).await,
            Self::Pagerduty(c) => c.send(ctx, msg).await,
        }
    }
}

/// A channel configuration is invalid; `field` names the offending key (relative to the
/// channel: `webhook_url`, `to[1]`, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ChannelConfigError {
    /// The field, e.g. `webhook_url`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl ChannelConfigError {
    /// An error about `field`.
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// The same error with `prefix.` in front of the field (`channels.ops.webhook_url`).
    pub fn within(self, prefix: &str) -> Self {
        let field = if self.field == "." {
            prefix.to_string()
        } else {
            format!("{prefix}.{}", self.field)
        };
        Self { field, ..self }
    }
}

/// Checks that `value` is an absolute http(s) URL with a host, naming `field` otherwise
/// and never echoing the value (it may hold a token).
pub(crate) fn check_http_url(field: &str, value: &str) -> Result<url::Url, ChannelConfigError> {
    let url = url::Url::parse(value.trim())
        .map_err(|e| ChannelConfigError::new(field, format!("not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ChannelConfigError::new(
            field,
            "must be an http or https URL",
        ));
    }
    if url.host().is_none() {
        return Err(ChannelConfigError::new(field, "must name a host"));
    }
    Ok(url)
}

/// Checks a secret is present.
pub(crate) fn check_secret(field: &str, value: &Secret) -> Result<(), ChannelConfigError> {
    if value.is_empty() {
        Err(ChannelConfigError::new(field, "must not be empty"))
    } else {
        Ok(())
    }
}

/// A URL from a configuration already validated; a failure here is permanent.
pub(crate) fn parsed_url(value: &str) -> Result<url::Url, SendError> {
    url::Url::parse(value.trim())
        .map_err(|_| SendError::Permanent("invalid URL in channel configuration".into()))
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_digest() {
            write!(f, "digest of {} notices", self.items.len())
        } else {
            write!(f, "{}", self.first().dedup_key)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn status_classes() {
        let h = HeaderMap::new();
        assert_eq!(classify(StatusCode::OK, &h, ""), Ok(()));
        assert_eq!(classify(StatusCode::NO_CONTENT, &h, ""), Ok(()));
        for s in [408, 429, 500, 502, 503, 504] {
            let e = classify(StatusCode::from_u16(s).unwrap(), &h, "x").unwrap_err();
            assert!(e.is_retryable(), "{s}");
        }
        for s in [301, 400, 401, 403, 404, 410, 413, 422] {
            let e = classify(StatusCode::from_u16(s).unwrap(), &h, "invalid_token").unwrap_err();
            assert!(!e.is_retryable(), "{s}");
        }
        let e = classify(StatusCode::FORBIDDEN, &h, "invalid_token\n").unwrap_err();
        assert_eq!(e, SendError::Permanent("HTTP 403: invalid_token".into()));
    }

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("0.5"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(500)));
        let at = SystemTime::now() + Duration::from_secs(30);
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_str(&httpdate::fmt_http_date(at)).unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(27) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("-1"));
        assert_eq!(retry_after(&h), None);
        let e = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &{
                let mut h = HeaderMap::new();
                h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
                h
            },
            "",
        )
        .unwrap_err();
        assert!(
            matches!(e, SendError::Retryable { retry_after: Some(d), .. } if d == Duration::from_secs(7))
        );
    }

    #[test]
    fn parse_names_the_field() {
        let e = ChannelConfig::parse_json(r#"{"type":"slack"}"#).unwrap_err();
        assert_eq!(e.field, "webhook_url", "{e}");
        let e =
            ChannelConfig::parse_json(r#"{"type":"slack","webhook_url":"ftp://x/y"}"#).unwrap_err();
        assert_eq!(e.to_string(), "webhook_url: must be an http or https URL");
        let e = ChannelConfig::parse_json(r#"{"type":"sms"}"#).unwrap_err();
        assert_eq!(e.field, "type");
        assert!(e.message.contains("pagerduty"));
        let e = ChannelConfig::parse_json(
            r#"{"type":"slack","webhook_url":"https://hooks.slack.com/x","colour":1}"#,
        )
        .unwrap_err();
        assert!(e.message.contains("colour"), "{e}");
        let e = ChannelConfig::parse_json(
            r#"{"type":"email","smtp_host":"mail.example.com","from":"a@example.com","to":["ok@example.com","not an address"]}"#,
        )
        .unwrap_err();
        assert_eq!(e.field, "to[1]", "{e}");
        assert_eq!(e.clone().within("channels.ops").field, "channels.ops.to[1]");
        let ok = ChannelConfig::parse_json(
            r#"{"type":"slack","webhook_url":"https://hooks.slack.com/services/T/B/x"}"#,
        )
        .unwrap();
        assert_eq!(ok.kind(), "slack");
        // Serde's own tagged form round-trips.
        let json = serde_json::to_value(&ok).unwrap();
        assert_eq!(json["type"], "slack");
        assert_eq!(serde_json::from_value::<ChannelConfig>(json).unwrap(), ok);
    }

    #[test]
    fn debug_output_hides_every_secret() {
        let configs = [
            r#"{"type":"slack","webhook_url":"https://hooks.slack.com/services/SECRET1"}"#,
            r#"{"type":"discord","webhook_url":"https://discord.com/api/webhooks/1/SECRET1"}"#,
            r#"{"type":"teams","webhook_url":"https://x.webhook.office.com/SECRET1"}"#,
            r#"{"type":"webhook","url":"https://hooks.example.com/in","secret":"SECRET1"}"#,
            r#"{"type":"email","smtp_host":"mail.example.com","username":"u","password":"SECRET1","from":"a@example.com","to":["b@example.com"]}"#,
            r#"{"type":"matrix","homeserver":"https://matrix.example.com","room_id":"!r:example.com","access_token":"SECRET1"}"#,
            r#"{"type":"telegram","bot_token":"123:SECRET1","chat_id":"-100"}"#,
            r#"{"type":"pagerduty","routing_key":"SECRET1"}"#,
        ];
        for c in configs {
            let parsed = ChannelConfig::parse_json(c).unwrap_or_else(|e| panic!("{c}: {e}"));
            let dbg = format!("{parsed:?}");
            assert!(!dbg.contains("SECRET1"), "{dbg}");
        }
    }

    #[test]
    fn digest_keys_are_stable_and_distinct() {
        let n = render::tests::notice("a", scoville_core::notice::NoticeKind::Down);
        let job = |ch: &str| NotificationJob {
            channel_id: ch.into(),
            notice: n.clone(),
        };
        let one = Message::single(&job("c1"));
        assert_eq!(one.idempotency_key(), job("c1").dedup_key());
        let two = Message::of_items(vec![Item::of(&job("c1")), Item::of(&job("c2"))]);
        let two_again = Message::of_items(vec![Item::of(&job("c1")), Item::of(&job("c2"))]);
        let other = Message::of_items(vec![Item::of(&job("c2")), Item::of(&job("c3"))]);
        assert_eq!(two.idempotency_key(), two_again.idempotency_key());
        assert_ne!(two.idempotency_key(), other.idempotency_key());
        assert!(two.idempotency_key().starts_with("digest:"));
    }
}
