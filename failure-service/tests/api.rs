//! The failure service's HTTP contract, through the router without a socket: tokens,
//! limits and validation; failures confirmed across regions become one "down" job per
//! channel and one "recovered"; degradations and changes; a queue outage answers 503
//! and loses nothing.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use scoville_core::notice::{NoticeKind, NotificationJob};
use scoville_failure_service::router;
use scoville_failure_service::store::sqlite::SqliteStore;
use scoville_incident_log::{EntryKind, IncidentLog, IncidentQuery};
use scoville_notifier::queue::JobQueue;
use support::*;
use tower::ServiceExt;

async fn post(
    app: &axum::Router,
    path: &str,
    token: Option<&str>,
    body: String,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::post(path).header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

fn app(channels: &[&str]) -> (axum::Router, Arc<Queue>) {
    let (app, queue, _) = app_with_log(channels);
    (app, queue)
}

fn app_with_log(channels: &[&str]) -> (axum::Router, Arc<Queue>, Arc<dyn IncidentLog>) {
    let queue = Queue::new(10_000);
    let store = Arc::new(SqliteStore::open(std::path::Path::new(":memory:")).unwrap());
    let log = memory_log();
    (
        router(state(store, log.clone(), &queue, channels)),
        queue,
        log,
    )
}

#[tokio::test]
async fn tokens_limits_and_validation_are_enforced_with_clear_errors() {
    let (app, sink) = app(&["ops"]);
    let body = batch(vec![result("ep-1", "eu-west-1", 0, false)]).to_string();
    assert_eq!(
        post(&app, "/v1/failures", None, body.clone()).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(&app, "/v1/failures", Some("wrong"), body.clone())
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    let big = batch(
        (0..101)
            .map(|i| result(&format!("ep-{i}"), "eu-west-1", 0, false))
            .collect(),
    );
    let (status, answer) = post(&app, "/v1/failures", Some(TOKEN), big.to_string()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        answer["error"].as_str().unwrap().contains("limit is 100"),
        "{answer}"
    );
    let huge = "x".repeat(70 * 1024);
    assert_eq!(
        post(&app, "/v1/failures", Some(TOKEN), huge).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    let mut bad = batch(vec![
        result("ep-1", "eu-west-1", 0, false),
        result("ep-2", "eu-west-1", 0, false),
    ]);
    bad["results"][1]["timings"]["total_ms"] = serde_json::json!(-3);
    let (status, answer) = post(&app, "/v1/failures", Some(TOKEN), bad.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["error"].as_str().unwrap().contains("results[1]"),
        "{answer}"
    );

    let bad_change = serde_json::json!({"changes": [{"endpoint_id": "ep-1", "org_id": "org-1", "region": "eu-west-1", "at_ms": T0, "body_hash": "<b>"}]});
    let (status, answer) = post(&app, "/v1/changes", Some(TOKEN), bad_change.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("changes[0].body_hash"),
        "{answer}"
    );

    let bad_degradation = serde_json::json!({"degradations": [{"endpoint_id": "ep-1", "org_id": "org-1", "started_at_ms": 1, "detected_at_ms": 2, "kind": "apdex_trend", "baseline": "high"}]});
    let (status, answer) = post(
        &app,
        "/v1/degradations",
        Some(TOKEN),
        bad_degradation.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(sink.jobs().is_empty(), "nothing refused was applied");
}

#[tokio::test]
async fn an_outage_in_two_regions_is_one_down_per_channel_and_one_recovered() {
    let (app, sink, log) = app_with_log(&["ops-slack", "pager"]);
    let org = scoville_core::OrgId::parse("org-1").unwrap();
    // Round 0: one region blips: nothing.
    let (status, answer) = post(
        &app,
        "/v1/failures",
        Some(TOKEN),
        batch(vec![result("ep-1", "eu-west-1", 0, false)]).to_string(),
    )
    .await;
    assert_eq!(
        (status, answer["queued"].as_u64()),
        (StatusCode::ACCEPTED, Some(1))
    );
    assert!(sink.jobs().is_empty());
    // Rounds 1-50: two of three regions fail, each region's results in its own batch.
    for round in 1..=50 {
        for region in ["eu-west-1", "us-east-1"] {
            let (status, _) = post(
                &app,
                "/v1/failures",
                Some(TOKEN),
                batch(vec![result("ep-1", region, round, false)]).to_string(),
            )
            .await;
            assert_eq!(status, StatusCode::ACCEPTED);
        }
    }
    let jobs = sink.jobs();
    assert_eq!(jobs.len(), 2, "one down per channel: {jobs:#?}");
    let down = &jobs[0].notice;
    assert_eq!(down.kind, NoticeKind::Down);
    assert_eq!(down.regions.len(), 2);
    assert_eq!(down.error.as_deref(), Some("connect: connection refused"));
    assert_eq!(down.link, "https://scoville.example/endpoints/ep-1");
    assert_eq!(
        jobs.iter()
            .map(|j| j.channel_id.as_str())
            .collect::<Vec<_>>(),
        vec!["ops-slack", "pager"]
    );
    // The incident log has it open (the probe's list flags the endpoint).
    let open = log.open_endpoints().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].1.as_str(), "ep-1");
    // Back: the endpoint is listed as down, so every region's successes come.
    for round in 51..=52 {
        let all = ["eu-west-1", "us-east-1", "ap-south-1"].map(|r| result("ep-1", r, round, true));
        post(
            &app,
            "/v1/failures",
            Some(TOKEN),
            batch(all.to_vec()).to_string(),
        )
        .await;
    }
    let jobs = sink.jobs();
    assert_eq!(jobs.len(), 4);
    assert!(
        jobs[2..]
            .iter()
            .all(|j| j.notice.kind == NoticeKind::Recovered)
    );
    assert_eq!(jobs[2].notice.incident_id, down.incident_id);
    // The log: one incident, resolved, with its timeline in order.
    assert!(log.open_endpoints().await.unwrap().is_empty());
    let all = IncidentQuery {
        limit: 10,
        ..IncidentQuery::default()
    };
    let incidents = log.incidents(&org, &all).await.unwrap();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].id, down.incident_id);
    assert_eq!(incidents[0].started_at_ms, down.since_ms);
    assert_eq!(incidents[0].regions.len(), 2);
    let (incident, timeline) = log
        .incident(&org, &down.incident_id)
        .await
        .unwrap()
        .unwrap();
    assert!(incident.resolved_at_ms.unwrap() > incident.confirmed_at_ms);
    let kinds: Vec<_> = timeline.iter().map(|e| (e.kind, e.notice)).collect();
    assert_eq!(
        kinds,
        vec![
            (EntryKind::Confirmed, None),
            (EntryKind::Notified, Some(NoticeKind::Down)),
            (EntryKind::Resolved, None),
            (EntryKind::Notified, Some(NoticeKind::Recovered)),
        ]
    );
    assert_eq!(
        timeline[0].detail.as_deref(),
        Some("connect: connection refused")
    );
}

#[tokio::test]
async fn degradations_and_changes_become_notices_once() {
    let (app, sink) = app(&["ops"]);
    let report = serde_json::json!({"degradations": [{
        "endpoint_id": "ep-1", "org_id": "org-1", "started_at_ms": T0, "detected_at_ms": T0 + 17 * MIN,
        "kind": "mean_runtime", "limit_ms": 500.0, "mean_ms": 812.0
    }]});
    for _ in 0..3 {
        assert_eq!(
            post(&app, "/v1/degradations", Some(TOKEN), report.to_string())
                .await
                .0,
            StatusCode::ACCEPTED
        );
    }
    let change = |hash: &str| {
        serde_json::json!({"changes": [{"endpoint_id": "ep-1", "org_id": "org-1", "region": "eu-west-1", "at_ms": T0, "body_hash": hash}]}).to_string()
    };
    post(&app, "/v1/changes", Some(TOKEN), change("sha256:aa")).await;
    post(&app, "/v1/changes", Some(TOKEN), change("sha256:aa")).await;
    post(&app, "/v1/changes", Some(TOKEN), change("sha256:bb")).await;
    let kinds: Vec<NoticeKind> = sink.jobs().iter().map(|j| j.notice.kind).collect();
    assert_eq!(kinds, vec![NoticeKind::Degraded, NoticeKind::Changed]);
    assert_eq!(
        sink.jobs()[0].notice.detail.as_deref(),
        Some("mean run time 812 ms is above the limit of 500 ms")
    );
}

#[tokio::test]
async fn a_full_queue_answers_503_and_the_retry_delivers_the_notice() {
    // A queue with room for one job, holding one already.
    let queue = Queue::new(1);
    let filler = NotificationJob {
        channel_id: "other".into(),
        notice: scoville_notifier::test_notification::test_notice(
            &scoville_core::OrgId::parse("org-9").unwrap(),
            "https://x/",
        ),
    };
    queue
        .queue
        .send(std::slice::from_ref(&filler))
        .await
        .unwrap();
    let store = Arc::new(SqliteStore::open(std::path::Path::new(":memory:")).unwrap());
    let app = router(state(store, memory_log(), &queue, &["ops"]));
    let round = |r: i64| {
        batch(vec![
            result("ep-1", "eu-west-1", r, false),
            result("ep-1", "us-east-1", r, false),
        ])
        .to_string()
    };
    let resp = app
        .clone()
        .oneshot(
            Request::post("/v1/failures")
                .header("authorization", format!("Bearer {TOKEN}"))
                .body(Body::from(round(0)))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()["retry-after"], "2");
    // A notifier takes the queued job, so there is room again; the probe sends the
    // same batch again.
    assert_eq!(queue.jobs(), vec![filler]);
    assert_eq!(
        post(&app, "/v1/failures", Some(TOKEN), round(0)).await.0,
        StatusCode::ACCEPTED
    );
    let jobs = queue.jobs();
    assert_eq!(jobs.len(), 2, "{jobs:#?}");
    assert_eq!(jobs[1].notice.kind, NoticeKind::Down);
    // And it is not queued again.
    post(&app, "/v1/failures", Some(TOKEN), round(1)).await;
    assert_eq!(queue.jobs().len(), 2);
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let (app, _) = app(&["ops"]);
    post(
        &app,
        "/v1/failures",
        Some(TOKEN),
        batch(vec![
            result("ep-1", "eu-west-1", 0, false),
            result("ep-1", "us-east-1", 0, false),
        ])
        .to_string(),
    )
    .await;
    for path in ["/healthz", "/readyz"] {
        let resp = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
    }
    let resp = app
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = String::from_utf8(
        axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(text.contains("scoville_failure_events_total 2"), "{text}");
    assert!(
        text.contains("scoville_failure_notices_total{kind=\"down\"} 1"),
        "{text}"
    ); // The whole answer is a valid exposition, with the requests by route and class.
    let parsed = scoville_service_kit::metrics::check::parse(&text)
        .unwrap_or_else(|e| panic!("/metrics is not a valid exposition: {e}\n{text}"));
    let labels = [
        ("route", "/v1/failures"),
        ("method", "POST"),
        ("status", "2xx"),
    ];
    assert_eq!(
        parsed.value("scoville_http_requests_total", &labels),
        Some(1.0),
        "{text}"
    );
    for path in ["/healthz", "/readyz"] {
        let labels = [("route", path), ("method", "GET")];
        assert_eq!(
            parsed.value("scoville_http_request_duration_seconds_count", &labels),
            Some(1.0),
            "{text}"
        );
    }
}
