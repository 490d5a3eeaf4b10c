//! PagerDuty, through the Events API v2: `POST {events_url}` (default
//! `https://events.pagerduty.com/v2/enqueue`) with the integration's `routing_key`.
//!
//! The event's `dedup_key` is the **incident id**, so PagerDuty folds every event of one
//! incident into one alert and a `resolve` closes the alert the `trigger` opened:
//!
//! | notice | `event_action` | `severity` |
//! | --- | --- | --- |
//! | down | trigger | critical |
//! | flapping, degraded, certificate expiring | trigger | warning |
//! | changed | trigger | info |
//! | recovered | resolve | - |
//! | settled (stopped flapping) | resolve when it settled up (no error), trigger (warning) when it settled down (error set) |
//!
//! `payload` carries `summary` (the headline, at most 1024 characters), `source` (the
//! target), `severity`, `timestamp`, `component`, `class` and `custom_details` (what,
//! where, since, regions, error, detail); `links` points at the endpoint's page. One
//! event per notice (no digests): PagerDuty groups alerts itself. PagerDuty accepts
//! about 120 events a minute per integration.

use scoville_core::notice::{Notice, NoticeKind};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::render;
use super::{
    Channel, ChannelConfigError, Message, Pace, Secret, SendError, check_http_url, check_secret,
    parsed_url,
};
use crate::escape::truncate;
use crate::http::SendContext;

/// PagerDuty's Events API v2 endpoint.
pub const DEFAULT_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// `{"type": "pagerduty", "routing_key": "..."}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyConfig {
    /// The Events API v2 integration key of the service.
    pub routing_key: Secret,
    /// The events endpoint (EU accounts: `https://events.eu.pagerduty.com/v2/enqueue`).
    #[serde(default = "default_events_url")]
    pub events_url: String,
}

fn default_events_url() -> String {
    DEFAULT_EVENTS_URL.into()
}

impl Channel for PagerDutyConfig {
    fn kind(&self) -> &'static str {
        "pagerduty"
    }

    fn digest_max(&self) -> Option<usize> {
        None
    }

    fn default_pace(&self) -> Pace {
        Pace::new(2.0, 10)
    }

    fn validate(&self) -> Result<(), ChannelConfigError> {
        check_secret("routing_key", &self.routing_key)?;
        check_http_url("events_url", &self.events_url).map(|_| ())
    }

    async fn send(&self, ctx: &SendContext, msg: &Message) -> Result<(), SendError> {
        let url = parsed_url(&self.events_url)?;
        for item in &msg.items {
            let event = event(self.routing_key.expose(), &item.notice, msg.test);
            ctx.execute(&url, ctx.http().post(url.clone()).json(&event))
                .await?;
        }
        Ok(())
    }
}

/// `trigger` or `resolve`, and the severity of a trigger.
pub fn action(notice: &Notice) -> (&'static str, &'static str) {
    match notice.kind {
        NoticeKind::Down => ("trigger", "critical"),
        NoticeKind::Flapping
        | NoticeKind::Degraded
        | NoticeKind::CertificateExpiring
        | NoticeKind::DomainExpiring => ("trigger", "warning"),
        NoticeKind::Changed => ("trigger", "info"),
        NoticeKind::Recovered => ("resolve", "info"),
        NoticeKind::Settled if notice.error.is_some() => ("trigger", "warning"),
        NoticeKind::Settled => ("resolve", "info"),
    }
}

/// The event for one notice.
pub(crate) fn event(routing_key: &str, n: &Notice, test: bool) -> Value {
    let (event_action, severity) = action(n);
    let f = render::facts(n, test);
    let mut event = json!({
        "routing_key": routing_key,
        "event_action": event_action,
        "dedup_key": truncate(&n.incident_id, 255),
        "payload": {
            "summary": truncate(&f.title, 1024),
            "source": truncate(&f.target, 255),
            "severity": severity,
            "timestamp": render::rfc3339(n.at_ms),
            "component": truncate(&f.name, 255),
            "class": n.kind.as_str(),
            "custom_details": {
                "what": f.what,
                "endpoint_id": n.endpoint_id.as_str(),
                "where": f.target,
                "since": f.since,
                "regions": n.regions.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                "error": f.error,
                "detail": f.detail,
                "test": test,
            },
        },
        "client": "Scoville",
    });
    if render::is_http(&f.link) {
        event["client_url"] = json!(f.link);
        event["links"] = json!([{ "href": f.link, "text": "Open in Scoville" }]);
    }
    event
}
