//! The handlers: `POST /v1/results`, `GET /healthz`, `GET /readyz`, `GET /metrics`.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use scoville_core::wire::{BatchAccepted, ResultBatch};
use scoville_service_kit::http::{BodyError, bearer, read_body};

use crate::app::AppState;
use crate::error::ApiError;
use crate::metrics::Refusal;
use crate::queue::{QueueError, QueuedBatch};

/// `POST /v1/results`: 201 with the count once queued.
pub async fn post_results(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<BatchAccepted>), ApiError> {
    let outcome = accept(&state, &headers, body).await;
    if let Err(e) = &outcome {
        state.metrics.refused(match e {
            ApiError::Unauthorized => Refusal::Unauthorized,
            ApiError::TooLarge(_) => Refusal::TooLarge,
            ApiError::BadRequest(_) => Refusal::Invalid,
            ApiError::QueueFull { .. } => Refusal::QueueFull,
            ApiError::QueueUnavailable(_) => Refusal::QueueUnavailable,
        });
    }
    outcome
}

async fn accept(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<BatchAccepted>), ApiError> {
    let token = bearer(headers).ok_or(ApiError::Unauthorized)?;
    if !state.tokens.accepts(token) {
        return Err(ApiError::Unauthorized);
    }
    let bytes = read_body(headers, body, state.limits.max_body_bytes)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge(_) => ApiError::TooLarge(e.to_string()),
            BodyError::Unreadable(_) => ApiError::BadRequest(e.to_string()),
        })?;
    let batch: ResultBatch =
        scoville_core::parse::from_json(&bytes).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let count = batch.results.len();
    if count > state.limits.max_batch {
        return Err(ApiError::TooLarge(format!(
            "the batch has {count} results; the limit is {}",
            state.limits.max_batch
        )));
    }
    if count > 0 {
        let queued = QueuedBatch {
            count: count as u32,
            body: bytes,
        };
        state.queue.push(queued).await.map_err(|e| match e {
            QueueError::Full { .. } => ApiError::QueueFull { retry_after: 5 },
            QueueError::Unavailable(detail) => ApiError::QueueUnavailable(detail),
        })?;
    }
    state.metrics.accepted(count);
    Ok((StatusCode::CREATED, Json(BatchAccepted { queued: count })))
}

/// `GET /healthz`: the process is alive.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: the queue answers.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.queue.backlog().await {
        Ok(_) => (StatusCode::OK, "ready\n"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "queue unavailable\n"),
    }
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let backlog = state.queue.backlog().await.ok();
    scoville_service_kit::metrics::response(state.metrics.render(backlog))
}
