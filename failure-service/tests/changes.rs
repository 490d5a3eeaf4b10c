//! Change alerts through the failure service's router: watched values posted to
//! `/v1/changes` round after round become exactly one "changed" job per real change,
//! with a before / after line; the first value and repeats are silent, and excerpts are
//! validated.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use scoville_core::notice::NoticeKind;
use scoville_failure_service::router;
use scoville_failure_service::store::sqlite::SqliteStore;
use sha2::{Digest, Sha256};
use support::*;
use tower::ServiceExt;

async fn post(app: &axum::Router, body: serde_json::Value) -> (StatusCode, String) {
    let req = Request::post("/v1/changes")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn change(region: &str, round: i64, value: &str) -> serde_json::Value {
    serde_json::json!({"changes": [{
        "endpoint_id": "ep-1", "org_id": "org-1", "region": region,
        "at_ms": T0 + round * MIN, "body_hash": hex::encode(Sha256::digest(value)),
        "value": value
    }]})
}

#[tokio::test]
async fn one_changed_notice_per_change_with_before_and_after() {
    let queue = Queue::new(10_000);
    let store = Arc::new(SqliteStore::open(std::path::Path::new(":memory:")).unwrap());
    let app = router(state(store, memory_log(), &queue, &["ops"]));
    let accepted = |r: (StatusCode, String)| assert_eq!(r.0, StatusCode::ACCEPTED, "{}", r.1);

    // Baselines in two regions, then repeats: silent.
    for round in 0..3 {
        accepted(post(&app, change("eu-west-1", round, "1.4.2")).await);
        accepted(post(&app, change("us-east-1", round, "1.4.2")).await);
    }
    assert!(queue.jobs().is_empty(), "first values are baselines");

    // The deploy reaches one region, then the other, then stays.
    accepted(post(&app, change("eu-west-1", 3, "1.5.0")).await);
    accepted(post(&app, change("us-east-1", 3, "1.5.0")).await);
    for round in 4..6 {
        accepted(post(&app, change("eu-west-1", round, "1.5.0")).await);
        accepted(post(&app, change("us-east-1", round, "1.5.0")).await);
    }
    let jobs = queue.jobs();
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    let n = &jobs[0].notice;
    assert_eq!(n.kind, NoticeKind::Changed);
    assert_eq!(n.detail.as_deref(), Some("before: 1.4.2 → after: 1.5.0"));
    assert_eq!(n.regions[0].as_str(), "eu-west-1");
    assert_eq!(n.at_ms, T0 + 3 * MIN);

    // A batch sent twice (a probe retry) is still one notice.
    let rollback = change("eu-west-1", 6, "1.4.2");
    accepted(post(&app, rollback.clone()).await);
    accepted(post(&app, rollback).await);
    let jobs = queue.jobs();
    assert_eq!(jobs.len(), 2);
    assert_eq!(
        jobs[1].notice.detail.as_deref(),
        Some("before: 1.5.0 → after: 1.4.2")
    );
}

#[tokio::test]
async fn excerpts_are_validated_and_optional() {
    let queue = Queue::new(10_000);
    let store = Arc::new(SqliteStore::open(std::path::Path::new(":memory:")).unwrap());
    let app = router(state(store, memory_log(), &queue, &["ops"]));
    for bad in ["two\nlines", &"x".repeat(201)] {
        let (status, body) = post(&app, change("eu-west-1", 0, bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.contains("changes[0].value"), "{body}");
    }
    // Without a value (an older probe), the notice shows the hashes.
    let bare = |round: i64, hash: &str| {
        serde_json::json!({"changes": [{"endpoint_id": "ep-1", "org_id": "org-1",
            "region": "eu-west-1", "at_ms": T0 + round * MIN, "body_hash": hash}]})
    };
    assert_eq!(post(&app, bare(0, "aaaa")).await.0, StatusCode::ACCEPTED);
    assert_eq!(post(&app, bare(1, "bbbb")).await.0, StatusCode::ACCEPTED);
    let jobs = queue.jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].notice.detail.as_deref(),
        Some("before: content hash aaaa → after: content hash bbbb")
    );
}
