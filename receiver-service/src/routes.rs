//! The handlers: `POST /v1/results`, `GET /healthz`, `GET /readyz`, `GET /metrics`.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use scoville_core::wire::{BatchAccepted, ResultBatch};

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
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    if !state.tokens.accepts(token.trim()) {
        return Err(ApiError::Unauthorized);
    }
    let limit = state.limits.max_body_bytes;
    let too_large = || ApiError::TooLarge(format!("the body is larger than {limit} bytes"));
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|len| len > limit)
    {
        return Err(too_large());
    }
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large()),
        Err(e) => {
            return Err(ApiError::BadRequest(format!(
                "the body could not be read: {e}"
            )));
        }
    };
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
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(backlog),
    )
}
