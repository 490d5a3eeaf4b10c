//! History routes: `GET /v1/endpoints/{id}/history`, `/results` and the badges
//! (`/badge/status`, `/badge/uptime`, `/badge/response-time`). Each first checks that the
//! endpoint is the caller's organization's (404 otherwise), then reads through
//! [`crate::history::api`]. Badges need credentials like the rest (public badges belong
//! with status pages).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use scoville_core::EndpointId;

use crate::app::{AppState, now_ms};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::history::HistoryStore;
use crate::history::api::{self as history_api, BadgeKind};
use crate::model::Endpoint;

async fn owned(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(Endpoint, std::sync::Arc<dyn HistoryStore>), ApiError> {
    let id = EndpointId::parse(id).map_err(|_| ApiError::NotFound)?;
    let endpoint = state
        .store
        .endpoint(&caller.org_id, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let store = state
        .history
        .clone()
        .ok_or_else(|| ApiError::Unavailable("no history store is configured".into()))?;
    Ok((endpoint, store))
}

fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())
}

/// `GET /v1/endpoints/{id}/history?from=&to=&step=&region=&format=`.
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (e, store) = owned(&state, &caller, &id).await?;
    Ok(history_api::history(
        store.as_ref(),
        &e.org_id,
        &e.id,
        &params,
        accept(&headers),
        now_ms(),
    )
    .await
    .into_response())
}

/// `GET /v1/endpoints/{id}/results?from=&to=&region=&limit=&format=`.
pub async fn results(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (e, store) = owned(&state, &caller, &id).await?;
    Ok(history_api::results(
        store.as_ref(),
        &e.org_id,
        &e.id,
        &params,
        accept(&headers),
        now_ms(),
    )
    .await
    .into_response())
}

/// `GET /v1/endpoints/{id}/badge/status`: from the latest results of the last three
/// intervals.
pub async fn status_badge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (e, store) = owned(&state, &caller, &id).await?;
    let since = now_ms() - 3 * i64::from(e.interval_s) * 1000;
    Ok(
        history_api::status_badge(store.as_ref(), &e.org_id, &e.id, since)
            .await
            .into_response(),
    )
}

async fn window_badge(
    state: &AppState,
    caller: &Caller,
    id: &str,
    kind: BadgeKind,
    params: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let (e, store) = owned(state, caller, id).await?;
    Ok(
        history_api::window_badge(store.as_ref(), &e.org_id, &e.id, kind, params, now_ms())
            .await
            .into_response(),
    )
}

/// `GET /v1/endpoints/{id}/badge/uptime?window=`.
pub async fn uptime_badge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    window_badge(&state, &caller, &id, BadgeKind::Uptime, &params).await
}

/// `GET /v1/endpoints/{id}/badge/response-time?window=`.
pub async fn response_time_badge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    window_badge(&state, &caller, &id, BadgeKind::ResponseTime, &params).await
}
