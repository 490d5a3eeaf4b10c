//! The server binary's small HTTP side: `GET /healthz` (alive), `GET /readyz` (the queue
//! answered within the last two minutes: a worker long-polls at least every 20 s) and
//! `GET /metrics` (Prometheus text, with the queue's depth asked at scrape time).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::metrics::Metrics;
use crate::queue::JobQueue;

/// How recent the queue's last answer must be for `/readyz`.
pub const READY_WITHIN: Duration = Duration::from_secs(120);

/// How long `/metrics` waits for the queue's depth before answering without it.
pub const DEPTH_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
struct ServerState {
    metrics: Arc<Metrics>,
    queue: Arc<dyn JobQueue>,
}

/// The router: `metrics` are the worker's counters, `queue` the queue it drains.
pub fn router(metrics: Arc<Metrics>, queue: Arc<dyn JobQueue>) -> Router {
    let http = metrics.http.clone();
    let routes = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text));
    http.instrument(routes)
        .with_state(ServerState { metrics, queue })
}

async fn readyz(State(ServerState { metrics: m, .. }): State<ServerState>) -> impl IntoResponse {
    let last = m.queue_ok_at_ms.load(Ordering::Relaxed);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    if last > 0 && now.saturating_sub(last) <= READY_WITHIN.as_millis() as u64 {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "queue has not answered recently\n",
        )
    }
}

async fn metrics_text(State(s): State<ServerState>) -> impl IntoResponse {
    let depth = tokio::time::timeout(DEPTH_TIMEOUT, s.queue.depth())
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    scoville_service_kit::metrics::response(s.metrics.render_with_depth(depth))
}
