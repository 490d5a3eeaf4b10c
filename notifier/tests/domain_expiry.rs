//! A `domain_expiring` notice through every HTTP channel against the recording server:
//! each sends it, says what it is, and PagerDuty triggers it as a warning under the
//! notice's own dedup key (like an expiring certificate).

#![allow(clippy::unwrap_used)]

mod support;

use scoville_core::notice::{NoticeKind, NotificationJob};
use scoville_notifier::channel::{Channel, ChannelConfig, Message};
use serde_json::json;
use support::{Recorder, ctx, notice};

#[tokio::test]
async fn every_channel_sends_a_domain_expiring_notice() {
    let rec = Recorder::start().await;
    let channels = [
        json!({"type": "slack", "webhook_url": rec.url("/slack")}),
        json!({"type": "discord", "webhook_url": rec.url("/discord")}),
        json!({"type": "teams", "webhook_url": rec.url("/teams")}),
        json!({"type": "webhook", "url": rec.url("/webhook"), "secret": "k"}),
        json!({"type": "matrix", "homeserver": rec.url(""), "room_id": "!r:x", "access_token": "t"}),
        json!({"type": "telegram", "bot_token": "1:a", "chat_id": "1", "api_base": rec.url("/tg")}),
        json!({"type": "pagerduty", "routing_key": "k", "events_url": rec.url("/pd")}),
    ];
    let mut n = notice(1, "Shop", NoticeKind::DomainExpiring);
    n.incident_id = "ep-1/domain/1786593600000".into();
    n.error = None;
    n.detail = Some("the domain registration expires on 2026-08-13, in 19 days".into());
    for c in channels {
        let ch = ChannelConfig::parse_value(c).unwrap();
        let job = NotificationJob {
            channel_id: ch.kind().into(),
            notice: n.clone(),
        };
        ch.send(&ctx(), &Message::single(&job)).await.unwrap();
    }
    let reqs = rec.requests();
    assert_eq!(reqs.len(), 7);
    for r in &reqs {
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            body.contains("domain expires soon") || body.contains("Domain expiring"),
            "{}: {body}",
            r.path
        );
        assert!(body.contains("in 19 days"), "{}: {body}", r.path);
    }
    let pd = reqs.iter().find(|r| r.path == "/pd").unwrap().json();
    assert_eq!(pd["event_action"], "trigger");
    assert_eq!(pd["payload"]["severity"], "warning");
    assert_eq!(pd["payload"]["class"], "domain_expiring");
    assert_eq!(pd["dedup_key"], "ep-1/domain/1786593600000");
    assert_eq!(pd["payload"]["summary"], "Shop: domain expires soon");
    let hook = reqs.iter().find(|r| r.path == "/webhook").unwrap().json();
    assert_eq!(hook["kind"], "domain_expiring");
    assert_eq!(hook["headline"], "Shop: domain expires soon");
}
