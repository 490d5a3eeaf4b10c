//! `POST /v1/results` through the router (no socket) on the in-process queue: tokens,
//! limits, validation naming the field, 201 with the count, metrics.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use scoville_receiver_service::auth::{TokenHash, TokenSet};
use scoville_receiver_service::config::Limits;
use scoville_receiver_service::metrics::Metrics;
use scoville_receiver_service::queue::memory::MemoryQueue;
use scoville_receiver_service::queue::{QueueConsumer, ResultQueue};
use scoville_receiver_service::{AppState, router};
use tower::ServiceExt;

const TOKEN: &str = "probe-token-0123456789";

fn state(queue: Arc<MemoryQueue>) -> AppState {
    AppState {
        queue,
        tokens: Arc::new(TokenSet::new(vec![TokenHash::of(TOKEN)])),
        limits: Limits {
            max_body_bytes: 64 * 1024,
            max_batch: 50,
        },
        metrics: Arc::new(Metrics::default()),
    }
}

async fn post(
    state: &AppState,
    token: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::post("/v1/results").header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = router(state.clone())
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn a_valid_batch_is_queued_and_counted() {
    let queue = Arc::new(MemoryQueue::new(1000));
    let state = state(queue.clone());
    let (status, body) = post(
        &state,
        Some(TOKEN),
        support::batch(20).to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["queued"], 20);
    let taken = QueueConsumer::take(&*queue, 10, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].count, 20);
    let stored: scoville_core::wire::ResultBatch = serde_json::from_slice(&taken[0].body).unwrap();
    assert_eq!(stored.results.len(), 20);
    assert_eq!(
        queue.backlog().await.unwrap(),
        20,
        "taken but not acknowledged still counts"
    );
    queue.ack(&taken).await.unwrap();
    assert_eq!(queue.backlog().await.unwrap(), 0);
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let state = state(Arc::new(MemoryQueue::new(1000)));
    let body = support::batch(1).to_string().into_bytes();
    assert_eq!(
        post(&state, None, body.clone()).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(&state, Some("wrong"), body.clone()).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(post(&state, Some(TOKEN), body).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn bad_batches_are_refused_naming_item_and_field() {
    let queue = Arc::new(MemoryQueue::new(1000));
    let state = state(queue.clone());
    let mut bad = support::batch(3);
    bad["results"][1]["timings"]["total_ms"] = serde_json::json!(-5.0);
    let (status, body) = post(&state, Some(TOKEN), bad.to_string().into_bytes()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().starts_with("results[1]"),
        "{body}"
    );

    let mut bad = support::batch(3);
    bad["results"][2]["region"] = serde_json::json!("Not A Region");
    let (status, body) = post(&state, Some(TOKEN), bad.to_string().into_bytes()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("results[2].region"),
        "{body}"
    );

    let (status, _) = post(&state, Some(TOKEN), b"{not json".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        queue.backlog().await.unwrap(),
        0,
        "nothing of a bad batch is queued"
    );
}

#[tokio::test]
async fn oversized_bodies_and_batches_get_413() {
    let state = state(Arc::new(MemoryQueue::new(1000)));
    let (status, body) = post(
        &state,
        Some(TOKEN),
        support::batch(51).to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        body["error"].as_str().unwrap().contains("limit is 50"),
        "{body}"
    );
    let huge = vec![b' '; 65 * 1024];
    let (status, body) = post(&state, Some(TOKEN), huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        body["error"].as_str().unwrap().contains("65536 bytes"),
        "{body}"
    );
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after_and_keeps_what_it_has() {
    let queue = Arc::new(MemoryQueue::new(25));
    let state = state(queue.clone());
    assert_eq!(
        post(
            &state,
            Some(TOKEN),
            support::batch(20).to_string().into_bytes()
        )
        .await
        .0,
        StatusCode::CREATED
    );
    let req = Request::post("/v1/results")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::from(support::batch(10).to_string()))
        .unwrap();
    let resp = router(state.clone()).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()["retry-after"], "5");
    assert_eq!(queue.backlog().await.unwrap(), 20);
    let metrics = router(state)
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = String::from_utf8(
        metrics
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains("scoville_receiver_results_queued_total 20"),
        "{text}"
    );
    assert!(
        text.contains("scoville_receiver_batches_refused_total{reason=\"queue_full\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("scoville_receiver_queue_backlog 20"),
        "{text}"
    );
    // The whole answer is a valid exposition, with the requests by route and class.
    let parsed = scoville_service_kit::metrics::check::parse(&text)
        .unwrap_or_else(|e| panic!("/metrics is not a valid exposition: {e}\n{text}"));
    for (class, n) in [("2xx", 1.0), ("5xx", 1.0)] {
        let labels = [
            ("route", "/v1/results"),
            ("method", "POST"),
            ("status", class),
        ];
        assert_eq!(
            parsed.value("scoville_http_requests_total", &labels),
            Some(n),
            "{text}"
        );
    }
    assert_eq!(
        parsed.value(
            "scoville_http_request_duration_seconds_count",
            &[("route", "/v1/results"), ("method", "POST")]
        ),
        Some(2.0),
        "{text}"
    );
}
