//! The handlers: `POST /v1/failures`, `/v1/degradations`, `/v1/changes` (probe or
//! service token; 202 with the count once every event is applied and its notices are on
//! the queue), `GET /healthz`, `/readyz`, `/metrics`.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use bytes::Bytes;
use scoville_core::check_spec::watch::{MAX_EXCERPT_CHARS, is_excerpt};
use scoville_core::degradation::DegradationBatch;
use scoville_core::incident::{Event, Observation};
use scoville_core::wire::{BatchAccepted, ChangeBatch, ResultBatch};
use scoville_core::{CheckResult, Outcome};
use scoville_service_kit::http::{BodyError, bearer, read_body};
use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::engine::{EngineError, Keyed};
use crate::error::ApiError;
use crate::metrics::Refusal;

type Accepted = (StatusCode, Json<BatchAccepted>);

/// `POST /v1/failures`: down results, and every result of endpoints with an open
/// incident.
pub async fn post_failures(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Accepted, ApiError> {
    counted(&state, async {
        let batch: ResultBatch =
            read(&state, &headers, body, |b: &ResultBatch| b.results.len()).await?;
        let events = batch.results.into_iter().map(check_event).collect();
        handle(&state, events).await
    })
    .await
}

/// `POST /v1/degradations`: the receiver worker's degradation reports.
pub async fn post_degradations(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Accepted, ApiError> {
    counted(&state, async {
        let batch: DegradationBatch = read(&state, &headers, body, |b: &DegradationBatch| {
            b.degradations.len()
        })
        .await?;
        let events = batch
            .degradations
            .into_iter()
            .map(|d| Keyed {
                org_id: d.org_id.clone(),
                endpoint_id: d.endpoint_id.clone(),
                at_ms: d.detected_at_ms,
                event: Event::Degradation(d),
            })
            .collect();
        handle(&state, events).await
    })
    .await
}

/// `POST /v1/changes`: watched values seen by probes (every successful watched check;
/// the incident machine decides which are changes). `value`, the excerpt shown in the
/// notice's before / after line, is optional and at most one line of 200 characters.
pub async fn post_changes(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Accepted, ApiError> {
    counted(&state, async {
        let batch: ChangeBatch =
            read(&state, &headers, body, |b: &ChangeBatch| b.changes.len()).await?;
        if let Some(i) = batch.changes.iter().position(|c| {
            c.body_hash.is_empty()
                || c.body_hash.len() > 128
                || !c
                    .body_hash
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'-')
        }) {
            return Err(ApiError::BadRequest(format!(
                "changes[{i}].body_hash: must be 1-128 letters, digits, ':' or '-'"
            )));
        }
        if let Some(i) = batch
            .changes
            .iter()
            .position(|c| c.value.as_deref().is_some_and(|v| !is_excerpt(v)))
        {
            return Err(ApiError::BadRequest(format!(
                "changes[{i}].value: must be one line of at most {MAX_EXCERPT_CHARS} characters"
            )));
        }
        let events = batch
            .changes
            .into_iter()
            .map(|c| Keyed {
                org_id: c.org_id,
                endpoint_id: c.endpoint_id,
                at_ms: c.at_ms,
                event: Event::Change {
                    region: c.region,
                    at_ms: c.at_ms,
                    body_hash: c.body_hash,
                    value: c.value,
                },
            })
            .collect();
        handle(&state, events).await
    })
    .await
}

fn check_event(r: CheckResult) -> Keyed {
    let rep = &r.report;
    let error = match rep.outcome {
        Outcome::Down(reason) => Some(if rep.message.is_empty() {
            reason.as_str().to_string()
        } else {
            format!("{}: {}", reason.as_str(), rep.message)
        }),
        _ => None,
    };
    Keyed {
        org_id: r.org_id.clone(),
        endpoint_id: r.endpoint_id.clone(),
        at_ms: r.started_at_ms,
        event: Event::Check(Observation {
            region: r.region.clone(),
            scheduled_at_ms: r.scheduled_at_ms,
            started_at_ms: r.started_at_ms,
            ok: rep.outcome.is_up(),
            error,
            cert_expires_at_ms: rep.cert_expires_at_ms,
            domain_expires_at_ms: rep.domain_expires_at_ms,
        }),
    }
}

async fn counted(
    state: &AppState,
    f: impl Future<Output = Result<Accepted, ApiError>>,
) -> Result<Accepted, ApiError> {
    let outcome = f.await;
    if let Err(e) = &outcome {
        state.metrics.refused(match e {
            ApiError::Unauthorized => Refusal::Unauthorized,
            ApiError::TooLarge(_) => Refusal::TooLarge,
            ApiError::BadRequest(_) => Refusal::Invalid,
            ApiError::Unavailable(_) => Refusal::Unavailable,
        });
    }
    outcome
}

/// Authenticates, reads within the body limit, parses (errors name the item and field)
/// and checks the batch length.
async fn read<T: DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    len: impl Fn(&T) -> usize,
) -> Result<T, ApiError> {
    let token = bearer(headers).ok_or(ApiError::Unauthorized)?;
    if !state.tokens.accepts(token) {
        return Err(ApiError::Unauthorized);
    }
    let bytes: Bytes = read_body(headers, body, state.limits.max_body_bytes)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge(_) => ApiError::TooLarge(e.to_string()),
            BodyError::Unreadable(_) => ApiError::BadRequest(e.to_string()),
        })?;
    let batch: T =
        scoville_core::parse::from_json(&bytes).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let n = len(&batch);
    if n > state.limits.max_batch {
        return Err(ApiError::TooLarge(format!(
            "the batch has {n} items; the limit is {}",
            state.limits.max_batch
        )));
    }
    Ok(batch)
}

async fn handle(state: &AppState, events: Vec<Keyed>) -> Result<Accepted, ApiError> {
    let n = events.len();
    state.engine.handle(events).await.map_err(|e| match e {
        EngineError::Unavailable(detail) => ApiError::Unavailable(detail),
    })?;
    Ok((StatusCode::ACCEPTED, Json(BatchAccepted { queued: n })))
}

/// `GET /healthz`: the process is alive.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: the state store answers.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.engine.store().ping().await {
        Ok(()) => (StatusCode::OK, "ready\n"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "state store unavailable\n"),
    }
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    scoville_service_kit::metrics::response(state.metrics.render())
}
