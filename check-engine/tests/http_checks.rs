//! HTTP checks against real local servers: every assertion kind passing and failing,
//! statuses, redirects and their limit, bodies and their limit, TLS and timings.

#![allow(clippy::unwrap_used)]

mod support;

use scoville_core::check_spec::CheckSpec;
use scoville_core::parse::from_json;
use scoville_core::{DownReason, Outcome, WarningReason};
use support::{RawServer, TestPki, engine_with, private_engine, response};
use tokio::io::AsyncWriteExt;

fn spec(json: serde_json::Value) -> CheckSpec {
    from_json(json.to_string().as_bytes()).unwrap()
}

async fn json_server() -> RawServer {
    let body = br#"{"status":"green","queue":42,"items":[{"id":7}]}"#;
    let resp = response(
        "200 OK",
        &[("content-type", "application/json"), ("x-version", "v2.3")],
        body,
    );
    RawServer::start(move |_, mut s| {
        let resp = resp.clone();
        async move {
            let _ = s.write_all(&resp).await;
        }
    })
    .await
}

#[tokio::test]
async fn every_assertion_kind_passes_and_fails() {
    let server = json_server().await;
    let engine = private_engine();
    let passing = [
        serde_json::json!({"type":"body_contains","value":"green"}),
        serde_json::json!({"type":"body_not_contains","value":"red"}),
        serde_json::json!({"type":"body_regex","pattern":"\"queue\":\\d+"}),
        serde_json::json!({"type":"json_path","path":"$.status","equals":"green"}),
        serde_json::json!({"type":"json_path","path":"$.items[0].id","exists":true}),
        serde_json::json!({"type":"json_path","path":"$.missing","exists":false}),
        serde_json::json!({"type":"json_path","path":"$.queue","gt":10,"le":42}),
        serde_json::json!({"type":"header","name":"Content-Type","equals":"application/json"}),
        serde_json::json!({"type":"header","name":"x-version","matches":"^v2\\."}),
        serde_json::json!({"type":"max_latency_ms","value":5000}),
    ];
    let failing = [
        (
            serde_json::json!({"type":"body_contains","value":"red"}),
            "body lacks \"red\"",
        ),
        (
            serde_json::json!({"type":"body_not_contains","value":"green"}),
            "body contains",
        ),
        (
            serde_json::json!({"type":"body_regex","pattern":"^nope"}),
            "does not match",
        ),
        (
            serde_json::json!({"type":"json_path","path":"$.status","equals":"red"}),
            "$.status is \"green\"",
        ),
        (
            serde_json::json!({"type":"json_path","path":"$.nothing"}),
            "selects nothing",
        ),
        (
            serde_json::json!({"type":"json_path","path":"$.status","exists":false}),
            "exists",
        ),
        (
            serde_json::json!({"type":"json_path","path":"$.queue","lt":10}),
            "expected < 10",
        ),
        (
            serde_json::json!({"type":"json_path","path":"$.status","gt":1}),
            "not a number",
        ),
        (
            serde_json::json!({"type":"header","name":"content-type","equals":"text/html"}),
            "header content-type",
        ),
        (
            serde_json::json!({"type":"header","name":"x-version","matches":"^v3"}),
            "does not match",
        ),
        (
            serde_json::json!({"type":"header","name":"x-absent","equals":"1"}),
            "missing",
        ),
        (
            serde_json::json!({"type":"max_latency_ms","value":0}),
            "more than 0 ms",
        ),
    ];
    for assertion in passing {
        let s = spec(
            serde_json::json!({"type":"http","url":server.url("/"),"assertions":[assertion.clone()]}),
        );
        let r = engine.check(&s).await;
        assert_eq!(r.outcome, Outcome::Up, "{assertion}: {}", r.message);
    }
    for (assertion, message) in failing {
        let s = spec(
            serde_json::json!({"type":"http","url":server.url("/"),"assertions":[assertion.clone()]}),
        );
        let r = engine.check(&s).await;
        assert_eq!(
            r.outcome,
            Outcome::Down(DownReason::Assertion),
            "{assertion}"
        );
        assert!(
            r.message.contains(message),
            "{assertion}: {:?} lacks {message:?}",
            r.message
        );
    }
}

#[tokio::test]
async fn status_sets_accept_lists_and_ranges() {
    let engine = private_engine();
    let teapot = RawServer::fixed(b"HTTP/1.1 418 I'm a teapot\r\ncontent-length: 0\r\n\r\n").await;
    let r = engine
        .check(&spec(
            serde_json::json!({"type":"http","url":teapot.url("/")}),
        ))
        .await;
    assert_eq!(r.outcome, Outcome::Down(DownReason::Status));
    assert_eq!(r.status, Some(418));
    assert!(
        r.message.contains("HTTP 418") && r.message.contains("expected 200-299"),
        "{}",
        r.message
    );
    for accepted in [
        serde_json::json!([418]),
        serde_json::json!("400-499"),
        serde_json::json!([200, "410-420"]),
    ] {
        let s =
            spec(serde_json::json!({"type":"http","url":teapot.url("/"),"expect_status":accepted}));
        assert_eq!(engine.check(&s).await.outcome, Outcome::Up, "{accepted}");
    }
}

#[tokio::test]
async fn sends_method_headers_and_body() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let server = RawServer::start(move |head, mut s| {
        let tx = tx.clone();
        async move {
            let mut body = vec![0u8; 11];
            let _ = tokio::io::AsyncReadExt::read_exact(&mut s, &mut body).await;
            let _ = tx.send(format!("{head}{}", String::from_utf8_lossy(&body)));
            let _ = s.write_all(&response("201 Created", &[], b"")).await;
        }
    })
    .await;
    let s = spec(
        serde_json::json!({"type":"http","url":server.url("/v1/ping?x=1"),"method":"PUT",
        "headers":{"X-Api-Key":"k123"},"body":"hello there","expect_status":[201]}),
    );
    let r = private_engine().check(&s).await;
    assert_eq!(r.outcome, Outcome::Up, "{}", r.message);
    let seen = rx.recv().await.unwrap().to_ascii_lowercase();
    assert!(seen.starts_with("put /v1/ping?x=1 http/1.1\r\n"), "{seen}");
    assert!(seen.contains("x-api-key: k123"), "{seen}");
    assert!(seen.contains("content-length: 11"), "{seen}");
    assert!(seen.contains(&format!("host: {}", server.addr)), "{seen}");
    assert!(seen.ends_with("hello there"), "{seen}");
}

/// A chain of servers: /hop/N redirects to /hop/N-1 until /hop/0 answers 200.
async fn redirect_chain() -> RawServer {
    RawServer::start(|head, mut s| async move {
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let n: u32 = path.trim_start_matches("/hop/").parse().unwrap_or(0);
        let resp = if n == 0 {
            response("200 OK", &[], b"arrived")
        } else {
            response(
                "302 Found",
                &[("location", &format!("/hop/{}", n - 1))],
                b"",
            )
        };
        let _ = s.write_all(&resp).await;
    })
    .await
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let server = redirect_chain().await;
    let engine = private_engine();
    let ok = spec(
        serde_json::json!({"type":"http","url":server.url("/hop/3"),"max_redirects":3,
        "assertions":[{"type":"body_contains","value":"arrived"}]}),
    );
    let r = engine.check(&ok).await;
    assert_eq!(r.outcome, Outcome::Up, "{}", r.message);
    assert_eq!(r.redirects, 3);
    let too_many =
        spec(serde_json::json!({"type":"http","url":server.url("/hop/4"),"max_redirects":3}));
    let r = engine.check(&too_many).await;
    assert_eq!(
        r.outcome,
        Outcome::Down(DownReason::TooManyRedirects),
        "{}",
        r.message
    );
    let not_followed = spec(serde_json::json!({"type":"http","url":server.url("/hop/1"),
        "follow_redirects":false,"expect_status":[302]}));
    let r = engine.check(&not_followed).await;
    assert_eq!(
        (r.outcome, r.status, r.redirects),
        (Outcome::Up, Some(302), 0)
    );
}

#[tokio::test]
async fn body_limit_truncates_or_fails() {
    let body = vec![b'a'; 5000];
    let resp = response("200 OK", &[], &body);
    let server = RawServer::start(move |_, mut s| {
        let resp = resp.clone();
        async move {
            let _ = s.write_all(&resp).await;
        }
    })
    .await;
    let engine = private_engine();
    let r = engine
        .check(&spec(serde_json::json!({"type":"http","url":server.url("/"),"body_limit":{"max_bytes":1000}})))
        .await;
    assert_eq!(r.outcome, Outcome::Up);
    assert!(r.truncated && r.bytes == 1000, "{r:?}");
    let r = engine
        .check(&spec(
            serde_json::json!({"type":"http","url":server.url("/"),
            "body_limit":{"max_bytes":1000,"on_exceed":"fail"}}),
        ))
        .await;
    assert_eq!(r.outcome, Outcome::Down(DownReason::BodyTooLarge));
    let r = engine
        .check(&spec(
            serde_json::json!({"type":"http","url":server.url("/"),"hash_body":true}),
        ))
        .await;
    assert_eq!((r.bytes, r.truncated), (5000, false));
    assert_eq!(r.body_hash.as_deref().map(str::len), Some(64));
}

#[tokio::test]
async fn gzip_bodies_are_decoded_for_assertions() {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b"compressed hello").unwrap();
    let resp = response(
        "200 OK",
        &[("content-encoding", "gzip")],
        &e.finish().unwrap(),
    );
    let server = RawServer::start(move |_, mut s| {
        let resp = resp.clone();
        async move {
            let _ = s.write_all(&resp).await;
        }
    })
    .await;
    let r = private_engine()
        .check(&spec(
            serde_json::json!({"type":"http","url":server.url("/"),
            "assertions":[{"type":"body_contains","value":"compressed hello"}]}),
        ))
        .await;
    assert_eq!(r.outcome, Outcome::Up, "{}", r.message);
    assert_eq!(r.bytes, 16);
}

#[tokio::test]
async fn https_with_a_trusted_ca_reports_phases_and_expiry() {
    let pki = TestPki::new(90, false);
    let addr = pki.serve().await;
    let engine = engine_with(
        scoville_core::AddressPolicy::allow_private(),
        vec![pki.ca_file.clone()],
        &[],
    );
    let url = format!("https://localhost:{}/", addr.port());
    let r = engine
        .check(&spec(serde_json::json!({"type":"http","url":url})))
        .await;
    assert_eq!(r.outcome, Outcome::Up, "{}", r.message);
    let t = r.timings;
    for (phase, v) in [
        ("dns", t.dns_ms),
        ("connect", t.connect_ms),
        ("tls", t.tls_ms),
        ("ttfb", t.ttfb_ms),
    ] {
        let v = v.unwrap_or_else(|| panic!("{phase} missing"));
        assert!(
            v >= 0.0 && v <= t.total_ms,
            "{phase} {v} vs total {}",
            t.total_ms
        );
    }
    let sum: f64 = [t.dns_ms, t.connect_ms, t.tls_ms, t.ttfb_ms]
        .iter()
        .flatten()
        .sum();
    assert!(
        sum <= t.total_ms + 0.01,
        "phases {sum} exceed total {}",
        t.total_ms
    );
    let days = (r.cert_expires_at_ms.unwrap() - now_ms()) as f64 / 86_400_000.0;
    assert!((89.0..=90.1).contains(&days), "{days}");
}

#[tokio::test]
async fn certificate_expiry_turns_into_warnings() {
    for (days, warning) in [
        (10, WarningReason::CertExpiryWarn),
        (2, WarningReason::CertExpiryCritical),
    ] {
        let pki = TestPki::new(days, false);
        let addr = pki.serve().await;
        let engine = engine_with(
            scoville_core::AddressPolicy::allow_private(),
            vec![pki.ca_file.clone()],
            &[],
        );
        let url = format!("https://127.0.0.1:{}/", addr.port());
        let r = engine
            .check(&spec(serde_json::json!({"type":"http","url":url})))
            .await;
        assert_eq!(r.outcome, Outcome::Warning(warning), "{}", r.message);
        assert!(r.outcome.is_up());
        assert!(
            r.message.contains("certificate expires in"),
            "{}",
            r.message
        );
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
