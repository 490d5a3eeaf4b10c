//! Each HTTP channel against the recording server: the exact request it makes (method,
//! path, headers, body), how it reads error answers, and that hostile user text comes out
//! escaped or inert in every format.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use hmac::{Hmac, Mac};
use scoville_core::notice::{NoticeKind, NotificationJob};
use scoville_notifier::channel::{Channel, ChannelConfig, Item, Message, SendError};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{NASTY_ERROR, NASTY_NAME, Recorder, Reply, ctx, notice};

fn config(v: Value) -> ChannelConfig {
    ChannelConfig::parse_value(v).unwrap()
}

fn message(channel: &str, kind: NoticeKind) -> (NotificationJob, Message) {
    let job = NotificationJob {
        channel_id: channel.into(),
        notice: notice(1, "Checkout API", kind),
    };
    let msg = Message::single(&job);
    (job, msg)
}

fn nasty_message(channel: &str) -> Message {
    let mut n = notice(1, NASTY_NAME, NoticeKind::Down);
    n.error = Some(NASTY_ERROR.into());
    n.target = "https://x.example.com/<b>?a=1&b=`2`".into();
    Message::single(&NotificationJob {
        channel_id: channel.into(),
        notice: n,
    })
}

const LINK: &str = "https://scoville.example.com/endpoints/ep-1";

#[tokio::test]
async fn slack_sends_blocks_with_a_text_fallback() {
    let rec = Recorder::start().await;
    let ch = config(json!({"type": "slack", "webhook_url": rec.url("/services/T000/B000/XXXX")}));
    let (_, msg) = message("slack", NoticeKind::Down);
    ch.send(&ctx(), &msg).await.unwrap();
    let reqs = rec.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/services/T000/B000/XXXX");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({
            "text": format!("Checkout API is down (eu-west-1, us-east-1, since 2024-05-01 12:00:00 UTC) <{LINK}|open>"),
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "Checkout API is down", "emoji": false}},
                {"type": "section", "fields": [
                    {"type": "mrkdwn", "text": "*What*\nDown"},
                    {"type": "mrkdwn", "text": "*Since*\n2024-05-01 12:00:00 UTC"},
                    {"type": "mrkdwn", "text": "*Where*\n`https://api1.example.com/health`"},
                    {"type": "mrkdwn", "text": "*Regions*\neu-west-1, us-east-1"},
                ]},
                {"type": "section", "text": {"type": "mrkdwn", "text": "*Error*\n```HTTP 503 Service Unavailable```"}},
                {"type": "context", "elements": [
                    {"type": "mrkdwn", "text": format!("<{LINK}|Open in Scoville> · incident inc-1")}
                ]},
            ]
        })
    );
}

#[tokio::test]
async fn slack_digest_lists_every_notice() {
    let rec = Recorder::start().await;
    let ch = config(json!({"type": "slack", "webhook_url": rec.url("/hook")}));
    let items: Vec<Item> = (0..12)
        .map(|i| {
            Item::of(&NotificationJob {
                channel_id: "s".into(),
                notice: notice(
                    i,
                    &format!("Service {i}"),
                    if i % 3 == 0 {
                        NoticeKind::Recovered
                    } else {
                        NoticeKind::Down
                    },
                ),
            })
        })
        .collect();
    ch.send(&ctx(), &Message::of_items(items)).await.unwrap();
    let body = rec.requests()[0].json();
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 12 + 2);
    assert_eq!(
        blocks[0]["text"]["text"],
        "Scoville: 12 notices (8 down, 4 recovered)"
    );
    for i in 0..12 {
        let text = blocks[1 + i]["text"]["text"].as_str().unwrap();
        assert!(
            text.starts_with(&format!(
                "*<https://scoville.example.com/endpoints/ep-{i}|Service {i}>*: "
            )),
            "{text}"
        );
    }
    assert_eq!(body["text"], "Scoville: 12 notices (8 down, 4 recovered)");
}

#[tokio::test]
async fn discord_sends_one_embed_and_no_mentions() {
    let rec = Recorder::start().await;
    let ch = config(json!({"type": "discord", "webhook_url": rec.url("/api/webhooks/1/tok")}));
    let (_, msg) = message("discord", NoticeKind::Down);
    ch.send(&ctx(), &msg).await.unwrap();
    let r = &rec.requests()[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/api/webhooks/1/tok")
    );
    assert_eq!(
        r.json(),
        json!({
            "username": "Scoville",
            "allowed_mentions": {"parse": []},
            "embeds": [{
                "title": "Checkout API is down",
                "url": LINK,
                "description": "`https://api1.example.com/health`",
                "color": 0xD9_30_25,
                "timestamp": "2024-05-01T12:01:00.001Z",
                "fields": [
                    {"name": "What", "value": "Down", "inline": true},
                    {"name": "Since", "value": "2024-05-01 12:00:00 UTC", "inline": true},
                    {"name": "Regions", "value": "eu-west-1, us-east-1", "inline": true},
                    {"name": "Error", "value": "```\nHTTP 503 Service Unavailable\n```", "inline": false},
                ],
                "footer": {"text": "Scoville · incident inc-1"},
            }]
        })
    );
    // A recovery is green.
    let (_, msg) = message("discord", NoticeKind::Recovered);
    ch.send(&ctx(), &msg).await.unwrap();
    assert_eq!(rec.requests()[1].json()["embeds"][0]["color"], 0x1E_8E_3E);
}

#[tokio::test]
async fn teams_sends_an_adaptive_card() {
    let rec = Recorder::start().await;
    let ch = config(json!({"type": "teams", "webhook_url": rec.url("/webhookb2/abc")}));
    let (_, msg) = message("teams", NoticeKind::Down);
    ch.send(&ctx(), &msg).await.unwrap();
    let r = &rec.requests()[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/webhookb2/abc")
    );
    assert_eq!(
        r.json(),
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "msteams": {"width": "Full"},
                    "body": [
                        {"type": "TextBlock", "text": "Checkout API is down", "weight": "Bolder", "size": "Large", "wrap": true, "color": "Attention"},
                        {"type": "FactSet", "facts": [
                            {"title": "What", "value": "Down"},
                            {"title": "Where", "value": "https://api1.example.com/health"},
                            {"title": "Since", "value": "2024-05-01 12:00:00 UTC"},
                            {"title": "Regions", "value": "eu-west-1, us-east-1"},
                        ]},
                        {"type": "TextBlock", "text": "HTTP 503 Service Unavailable", "wrap": true, "fontType": "Monospace", "color": "Attention"},
                    ],
                    "actions": [{"type": "Action.OpenUrl", "title": "Open in Scoville", "url": LINK}],
                }
            }]
        })
    );
}

type HmacSha256 = Hmac<Sha256>;

#[tokio::test]
async fn webhook_posts_the_notice_signed() {
    let rec = Recorder::start().await;
    let secret = "s3cr3t-signing-key";
    let ch = config(json!({"type": "webhook", "url": rec.url("/in?token=abc"), "secret": secret}));
    let (job, msg) = message("hook", NoticeKind::Down);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    ch.send(&ctx(), &msg).await.unwrap();
    let r = &rec.requests()[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/in?token=abc")
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    // The signature is HMAC-SHA256 over the raw body with the secret.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&r.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(r.header("x-scoville-signature"), Some(expected.as_str()));
    // A tampered body would not verify.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&r.body[1..]);
    assert_ne!(
        format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
        expected
    );
    let body = r.json();
    let sent_at = body["sent_at"].as_u64().unwrap();
    assert!(sent_at >= before && sent_at <= before + 60);
    assert_eq!(
        r.header("x-scoville-timestamp"),
        Some(sent_at.to_string().as_str())
    );
    assert_eq!(r.header("x-scoville-event"), Some("down"));
    assert_eq!(
        r.header("x-scoville-delivery"),
        Some(job.dedup_key().as_str())
    );
    assert_eq!(
        body,
        json!({
            "schema": "scoville.notice.v1",
            "kind": "down",
            "dedup_key": "inc-1/down/1714564800000/hook",
            "test": false,
            "sent_at": sent_at,
            "headline": "Checkout API is down",
            "org_id": "org-1",
            "endpoint_id": "ep-1",
            "endpoint_name": "Checkout API",
            "target": "https://api1.example.com/health",
            "incident_id": "inc-1",
            "since_ms": 1_714_564_800_000_i64,
            "at_ms": 1_714_564_860_001_i64,
            "regions": ["eu-west-1", "us-east-1"],
            "error": "HTTP 503 Service Unavailable",
            "detail": null,
            "link": LINK,
        })
    );

    // Without a secret, no signature.
    let unsigned = config(json!({"type": "webhook", "url": rec.url("/plain")}));
    unsigned.send(&ctx(), &msg).await.unwrap();
    assert_eq!(rec.requests()[1].header("x-scoville-signature"), None);
}

fn txn_id(key: &str) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..16])
}

#[tokio::test]
async fn matrix_puts_an_idempotent_notice() {
    let rec = Recorder::with_script(vec![Reply::status(429).with_body(
        r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":1500}"#,
    )])
    .await;
    let ch = config(json!({
        "type": "matrix",
        "homeserver": rec.url("/"),
        "room_id": "!room:example.org",
        "access_token": "syt_secret_token",
    }));
    let (job, msg) = message("mx", NoticeKind::Down);
    // First attempt: rate limited, with the delay from the body.
    let err = ch.send(&ctx(), &msg).await.unwrap_err();
    assert_eq!(
        err,
        SendError::Retryable {
            retry_after: Some(Duration::from_millis(1500)),
            reason: r#"HTTP 429: {"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":1500}"#.into(),
        }
    );
    ch.send(&ctx(), &msg).await.unwrap();
    let reqs = rec.requests();
    let path = format!(
        "/_matrix/client/v3/rooms/!room:example.org/send/m.room.message/{}",
        txn_id(&job.dedup_key())
    );
    for r in &reqs {
        // The retry is the same transaction.
        assert_eq!((r.method.as_str(), r.path.as_str()), ("PUT", path.as_str()));
        assert_eq!(r.header("authorization"), Some("Bearer syt_secret_token"));
    }
    assert_eq!(
        reqs[1].json(),
        json!({
            "msgtype": "m.notice",
            "body": format!("Checkout API is down\nWhat: Down\nWhere: https://api1.example.com/health\nSince: 2024-05-01 12:00:00 UTC\nRegions: eu-west-1, us-east-1\nError: HTTP 503 Service Unavailable\nOpen in Scoville: {LINK}"),
            "format": "org.matrix.custom.html",
            "formatted_body": format!("<p><strong>Checkout API is down</strong></p><ul><li><strong>What:</strong> Down</li><li><strong>Where:</strong> https://api1.example.com/health</li><li><strong>Since:</strong> 2024-05-01 12:00:00 UTC</li><li><strong>Regions:</strong> eu-west-1, us-east-1</li></ul><p><strong>Error:</strong></p><pre><code>HTTP 503 Service Unavailable</code></pre><p><a href=\"{LINK}\">Open in Scoville</a></p>"),
        })
    );
}

#[tokio::test]
async fn telegram_sends_html_and_reads_its_retry_after() {
    let rec = Recorder::with_script(vec![
        Reply::status(429).with_body(r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#),
        Reply::status(200).with_body(r#"{"ok":true}"#),
        Reply::status(400).with_body(r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#),
    ])
    .await;
    let ch = config(json!({
        "type": "telegram",
        "bot_token": "123456:ABC-def",
        "chat_id": "-1001234",
        "api_base": rec.url(""),
    }));
    let (_, msg) = message("tg", NoticeKind::Down);
    match ch.send(&ctx(), &msg).await.unwrap_err() {
        SendError::Retryable { retry_after, .. } => {
            assert_eq!(retry_after, Some(Duration::from_secs(3)))
        }
        other => panic!("{other:?}"),
    }
    ch.send(&ctx(), &msg).await.unwrap();
    let err = ch.send(&ctx(), &msg).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent(r) if r.contains("chat not found")),
        "{err:?}"
    );
    let r = &rec.requests()[1];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/bot123456:ABC-def/sendMessage")
    );
    assert_eq!(
        r.json(),
        json!({
            "chat_id": "-1001234",
            "text": format!("<b>Checkout API is down</b>\n<b>What:</b> Down\n<b>Where:</b> https://api1.example.com/health\n<b>Since:</b> 2024-05-01 12:00:00 UTC\n<b>Regions:</b> eu-west-1, us-east-1\n<b>Error:</b>\n<pre>HTTP 503 Service Unavailable</pre>\n<a href=\"{LINK}\">Open in Scoville</a>"),
            "parse_mode": "HTML",
            "disable_web_page_preview": true,
        })
    );
    // The token is in the URL: it must not leak into the error text.
    assert!(!err.to_string().contains("ABC-def"));
}

#[tokio::test]
async fn pagerduty_triggers_and_resolves_by_incident() {
    let rec = Recorder::with_script(vec![
        Reply::status(202).with_body(r#"{"status":"success","dedup_key":"inc-1"}"#),
        Reply::status(202).with_body(r#"{"status":"success","dedup_key":"inc-1"}"#),
        Reply::status(400)
            .with_body(r#"{"status":"invalid event","errors":["'routing_key' is invalid"]}"#),
    ])
    .await;
    let ch = config(
        json!({"type": "pagerduty", "routing_key": "R0UT1NGKEY", "events_url": rec.url("/v2/enqueue")}),
    );
    let (_, down) = message("pd", NoticeKind::Down);
    ch.send(&ctx(), &down).await.unwrap();
    let (_, up) = message("pd", NoticeKind::Recovered);
    ch.send(&ctx(), &up).await.unwrap();
    let err = ch.send(&ctx(), &down).await.unwrap_err();
    assert!(!err.is_retryable());
    let reqs = rec.requests();
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("POST", "/v2/enqueue")
    );
    assert_eq!(
        reqs[0].json(),
        json!({
            "routing_key": "R0UT1NGKEY",
            "event_action": "trigger",
            "dedup_key": "inc-1",
            "payload": {
                "summary": "Checkout API is down",
                "source": "https://api1.example.com/health",
                "severity": "critical",
                "timestamp": "2024-05-01T12:01:00.001Z",
                "component": "Checkout API",
                "class": "down",
                "custom_details": {
                    "what": "Down",
                    "endpoint_id": "ep-1",
                    "where": "https://api1.example.com/health",
                    "since": "2024-05-01 12:00:00 UTC",
                    "regions": ["eu-west-1", "us-east-1"],
                    "error": "HTTP 503 Service Unavailable",
                    "detail": null,
                    "test": false,
                },
            },
            "client": "Scoville",
            "client_url": LINK,
            "links": [{"href": LINK, "text": "Open in Scoville"}],
        })
    );
    let resolve = reqs[1].json();
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(resolve["dedup_key"], "inc-1");
}

#[tokio::test]
async fn answers_map_to_retryable_or_permanent() {
    let rec = Recorder::with_script(vec![
        Reply::status(500),
        Reply::status(503).with_header("retry-after", "2"),
        Reply::status(408),
        Reply::status(429).with_header("retry-after", "1"),
        Reply::status(400).with_body("invalid_payload"),
        Reply::status(404).with_body("no_service"),
        Reply::status(302).with_header("location", "http://elsewhere.example/"),
    ])
    .await;
    let ch = config(json!({"type": "slack", "webhook_url": rec.url("/h")}));
    let (_, msg) = message("s", NoticeKind::Down);
    let mut results = Vec::new();
    for _ in 0..7 {
        results.push(ch.send(&ctx(), &msg).await.unwrap_err());
    }
    let retry_after: Vec<Option<Option<Duration>>> = results
        .iter()
        .map(|e| match e {
            SendError::Retryable { retry_after, .. } => Some(*retry_after),
            SendError::Permanent(_) => None,
        })
        .collect();
    assert_eq!(
        retry_after,
        vec![
            Some(None),
            Some(Some(Duration::from_secs(2))),
            Some(None),
            Some(Some(Duration::from_secs(1))),
            None,
            None,
            None
        ]
    );
    assert_eq!(
        results[4],
        SendError::Permanent("HTTP 400: invalid_payload".into())
    );
    // The redirect was not followed.
    assert_eq!(rec.count(), 7);
}

#[tokio::test]
async fn hostile_text_is_escaped_or_inert_everywhere() {
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
    for c in channels {
        let ch = config(c);
        ch.send(&ctx(), &nasty_message(ch.kind())).await.unwrap();
    }
    let reqs = rec.requests();
    let by = |prefix: &str| {
        reqs.iter()
            .find(|r| r.path.starts_with(prefix))
            .unwrap()
            .json()
    };

    // Slack: the header is plain_text (never formatted); every mrkdwn text has no markup
    // but ours: no raw angle brackets outside our own links, no bold pair, no code
    // fence broken by a backtick.
    let slack = by("/slack");
    assert_eq!(slack["blocks"][0]["text"]["type"], "plain_text");
    let mut mrkdwn = vec![slack["text"].as_str().unwrap().to_string()];
    for b in slack["blocks"].as_array().unwrap() {
        for t in b["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(b["elements"].as_array().into_iter().flatten())
        {
            mrkdwn.push(t["text"].as_str().unwrap().to_string());
        }
        if b["type"] == "section" && b["text"]["type"] == "mrkdwn" {
            mrkdwn.push(b["text"]["text"].as_str().unwrap().to_string());
        }
    }
    for t in &mrkdwn {
        let without_links = t
            .replace(&format!("<{LINK}|open>"), "")
            .replace(&format!("<{LINK}|Open in Scoville>"), "");
        assert!(
            !without_links.contains('<') && !without_links.contains('>'),
            "{t}"
        );
        assert!(!t.contains("*bold*"), "{t}");
    }
    assert!(mrkdwn[0].contains("&lt;script&gt;"));
    let error_block = &slack["blocks"][2]["text"]["text"];
    assert_eq!(
        error_block,
        "*Error*\n```&lt;b&gt;boom&lt;/b&gt; \u{02CB}code\u{02CB} _it_ [link](http://evil.example) {{DATE(2017-02-14T06:08:39Z, SHORT)}}```"
    );
    assert!(
        slack["blocks"][1]["fields"][2]["text"]
            .as_str()
            .unwrap()
            .contains("`https://x.example.com/&lt;b&gt;?a=1&amp;b=\u{02CB}2\u{02CB}`")
    );

    // Discord: markdown escaped, mentions off, the error only inside a code block.
    let discord = by("/discord");
    let embed = &discord["embeds"][0];
    assert_eq!(discord["allowed_mentions"]["parse"], json!([]));
    assert_eq!(
        embed["title"],
        "\\<script\\>alert\\(1\\)\\</script\\> \\*bold\\* & {{ x }} ${x} @everyone is down"
    );
    assert_eq!(
        embed["fields"][3]["value"],
        "```\n<b>boom</b> \u{02CB}code\u{02CB} _it_ [link](http://evil.example) {{DATE(2017-02-14T06:08:39Z, SHORT)}}\n```"
    );

    // Teams: markdown escaped, no template or date-function syntax left anywhere.
    let teams = by("/teams").to_string();
    assert!(!teams.contains("{{") && !teams.contains("${"), "{teams}");
    assert!(teams.contains("\\\\*bold\\\\*"), "{teams}");

    // Webhook: the notice as data, byte for byte.
    let hook = by("/webhook");
    assert_eq!(hook["endpoint_name"], NASTY_NAME);
    assert_eq!(hook["error"], NASTY_ERROR);

    // Matrix and Telegram: HTML-escaped; only our own tags remain.
    let matrix = by("/_matrix");
    let html = matrix["formatted_body"].as_str().unwrap();
    assert!(
        html.contains(
            "&lt;script&gt;alert(1)&lt;/script&gt; *bold* &amp; {{ x }} ${x} @everyone is down"
        ),
        "{html}"
    );
    assert!(
        html.contains("<pre><code>&lt;b&gt;boom&lt;/b&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>") && !html.contains("<b>"));
    assert!(
        matrix["body"].as_str().unwrap().contains(NASTY_NAME),
        "the plain body is plain"
    );
    let tg = by("/tg");
    let text = tg["text"].as_str().unwrap();
    assert!(text.starts_with("<b>&lt;script&gt;alert(1)&lt;/script&gt; *bold* &amp; {{ x }} ${x} @everyone is down</b>"), "{text}");
    assert!(text.contains("<pre>&lt;b&gt;boom&lt;/b&gt;"), "{text}");
    assert!(!text.contains("<script>"));

    // PagerDuty: plain text fields, as given (PagerDuty renders them as text).
    let pd = by("/pd");
    assert_eq!(pd["payload"]["summary"], format!("{NASTY_NAME} is down"));
    assert_eq!(pd["payload"]["custom_details"]["error"], NASTY_ERROR);
}

#[tokio::test]
async fn the_address_guard_refuses_loopback_without_permission() {
    let rec = Recorder::start().await;
    let strict = scoville_notifier::http::SendContext::new(
        scoville_core::AddressPolicy::global_only(),
        Duration::from_secs(2),
    )
    .unwrap();
    let ch = config(json!({"type": "slack", "webhook_url": rec.url("/h")}));
    let (_, msg) = message("s", NoticeKind::Down);
    let err = ch.send(&strict, &msg).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent(r) if r.contains("loopback")),
        "{err:?}"
    );
    assert_eq!(rec.count(), 0);
}
