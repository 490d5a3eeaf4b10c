//! Domain expiry through the real failure service (router in process, SQLite store,
//! in-memory queue): up results carrying `domain_expires_at_ms`, as the probe sends them
//! about once a day, become exactly one `domain_expiring` job per channel within the warn
//! days, one more (critical) within the critical days, and nothing else.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use scoville_core::notice::NoticeKind;
use scoville_failure_service::router;
use scoville_failure_service::store::sqlite::SqliteStore;
use support::*;
use tower::ServiceExt;

const DAY: i64 = 86_400_000;

async fn post(app: &axum::Router, body: serde_json::Value) -> StatusCode {
    let req = Request::post("/v1/failures")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    app.clone().oneshot(req).await.unwrap().status()
}

/// An up result of `region` on `day`, whose domain expires at `expires`.
fn looked_up(region: &str, day: i64, expires: Option<i64>) -> serde_json::Value {
    let mut r = result("ep-1", region, day * 1440, true);
    r["domain_expires_at_ms"] = expires.into();
    r
}

#[tokio::test]
async fn a_near_domain_expiry_is_one_job_per_channel_per_threshold() {
    let queue = Queue::new(1000);
    let store = Arc::new(SqliteStore::open(std::path::Path::new(":memory:")).unwrap());
    let app = router(state(store, memory_log(), &queue, &["ops-slack", "pager"]));
    let expires = T0 + 20 * DAY;
    // Far: nothing (the default policy warns 30 days ahead).
    assert_eq!(
        post(
            &app,
            batch(vec![looked_up("eu-west-1", -20, Some(expires))])
        )
        .await,
        StatusCode::ACCEPTED
    );
    assert!(queue.jobs().is_empty());
    // Within 30 days, seen by two regions the same day and again on later days.
    for day in 0..5 {
        let both = ["eu-west-1", "us-east-1"].map(|r| looked_up(r, day, Some(expires)));
        assert_eq!(post(&app, batch(both.to_vec())).await, StatusCode::ACCEPTED);
    }
    let jobs = queue.jobs();
    assert_eq!(jobs.len(), 2, "one per channel: {jobs:#?}");
    for (job, channel) in jobs.iter().zip(["ops-slack", "pager"]) {
        assert_eq!(job.channel_id, channel);
        assert_eq!(job.notice.kind, NoticeKind::DomainExpiring);
        assert_eq!(job.notice.headline(), "ep-1: domain expires soon");
        let detail = job.notice.detail.as_deref().unwrap();
        assert!(
            detail.starts_with("the domain registration expires on ")
                && detail.ends_with(" in 19 days"),
            "{detail}"
        );
    }
    // Results without a lookup (the other rounds) change nothing.
    post(&app, batch(vec![looked_up("eu-west-1", 6, None)])).await;
    assert_eq!(queue.jobs().len(), 2);
    // Within 7 days: the critical notice, once per channel, its own id.
    for day in 14..18 {
        post(
            &app,
            batch(vec![looked_up("eu-west-1", day, Some(expires))]),
        )
        .await;
    }
    let jobs = queue.jobs();
    assert_eq!(jobs.len(), 4, "{jobs:#?}");
    assert!(jobs[2..].iter().all(|j| {
        j.notice.kind == NoticeKind::DomainExpiring
            && j.notice.incident_id.ends_with("/critical")
            && j.notice
                .detail
                .as_deref()
                .unwrap()
                .starts_with("critical: ")
    }));
    assert_eq!(queue.distinct().len(), 4);
}
