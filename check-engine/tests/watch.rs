//! Change alerts against a real local server whose content changes: the watched value's
//! hash and excerpt follow the content (body, JSON path, regex capture), stay put while
//! only unwatched parts change, and a missing value is a value, not a failure.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};

use scoville_core::check_spec::CheckSpec;
use scoville_core::parse::from_json;
use scoville_core::{CheckReport, DownReason, Outcome};
use support::{RawServer, private_engine, response};
use tokio::io::AsyncWriteExt;

/// A server answering with whatever body `content` holds at the time.
async fn server(content: Arc<Mutex<String>>) -> RawServer {
    RawServer::start(move |_, mut s| {
        let body = content.lock().unwrap().clone();
        async move {
            let resp = response(
                "200 OK",
                &[("content-type", "application/json")],
                body.as_bytes(),
            );
            let _ = s.write_all(&resp).await;
        }
    })
    .await
}

async fn check(server: &RawServer, watch: serde_json::Value) -> CheckReport {
    let spec: CheckSpec = from_json(
        serde_json::json!({"type": "http", "url": server.url("/status"), "watch": watch})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    private_engine().check(&spec).await
}

fn seen(r: &CheckReport) -> (String, String) {
    (
        r.body_hash.clone().expect("a hash"),
        r.watch_excerpt.clone().expect("an excerpt"),
    )
}

#[tokio::test]
async fn watched_values_follow_the_content() {
    let content = Arc::new(Mutex::new(r#"{"version":"1.4.2","uptime":1}"#.to_string()));
    let server = server(content.clone()).await;
    let json_path = serde_json::json!({"type": "json_path", "path": "$.version"});
    let regex = serde_json::json!({"type": "regex", "pattern": "\"version\":\"(\\d+)\\."});
    let body = serde_json::json!({"type": "body"});

    let first = check(&server, json_path.clone()).await;
    assert_eq!(first.outcome, Outcome::Up, "{first:?}");
    let (hash_1, excerpt_1) = seen(&first);
    assert_eq!(excerpt_1, "1.4.2");
    assert_eq!(seen(&check(&server, regex.clone()).await).1, "1");
    let body_1 = seen(&check(&server, body.clone()).await);
    assert!(body_1.1.starts_with("30 bytes, sha256 "), "{}", body_1.1);

    // Only an unwatched field changes: the JSON path's value stays, the body's does not.
    *content.lock().unwrap() = r#"{"version":"1.4.2","uptime":2}"#.into();
    assert_eq!(seen(&check(&server, json_path.clone()).await).0, hash_1);
    assert_ne!(seen(&check(&server, body.clone()).await).0, body_1.0);

    // A deploy: every watch sees it.
    *content.lock().unwrap() = r#"{"version":"1.5.0","uptime":3}"#.into();
    let (hash_2, excerpt_2) = seen(&check(&server, json_path.clone()).await);
    assert_ne!(hash_2, hash_1);
    assert_eq!(excerpt_2, "1.5.0");

    // The field disappears: a value of its own, and the check is still up.
    *content.lock().unwrap() = r#"{"uptime":4}"#.into();
    let gone = check(&server, json_path.clone()).await;
    assert_eq!(gone.outcome, Outcome::Up, "{gone:?}");
    assert_eq!(seen(&gone).1, "(missing)");
    let no_match = check(&server, regex).await;
    assert_eq!(
        (no_match.outcome, seen(&no_match).1.as_str()),
        (Outcome::Up, "(missing)")
    );
}

#[tokio::test]
async fn unwatched_checks_report_nothing_and_failures_still_fail() {
    let content = Arc::new(Mutex::new(r#"{"version":"1"}"#.to_string()));
    let server = server(content).await;
    let spec: CheckSpec = from_json(
        serde_json::json!({"type": "http", "url": server.url("/")})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let r = private_engine().check(&spec).await;
    assert_eq!((r.body_hash, r.watch_excerpt), (None, None));
    // A watch does not turn a failed assertion into a pass.
    let spec: CheckSpec = from_json(
        serde_json::json!({"type": "http", "url": server.url("/"),
            "assertions": [{"type": "body_contains", "value": "green"}],
            "watch": {"type": "json_path", "path": "$.version"}})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let r = private_engine().check(&spec).await;
    assert_eq!(r.outcome, Outcome::Down(DownReason::Assertion));
}
