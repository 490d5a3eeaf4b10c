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
use crate::history::api::{self as history_api, BadgeKind};
use crate::history::{History, HistoryStore, ResultRow};
use crate::model::Endpoint;

/// The JSON answer of `GET /v1/endpoints/{id}/results`, as
/// [`crate::history::render::results_json`] writes it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ResultsAnswer {
    /// Raw results, newest first.
    pub results: Vec<ResultRow>,
}

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
#[utoipa::path(
    get,
    path = "/v1/endpoints/{id}/history",
    operation_id = "endpoint_history",
    tag = "history",
    security(("session" = []), ("api_key" = [])),
    params(
        ("id" = String, Path, description = "The endpoint's id."),
        ("from" = Option<String>, Query, description = "Start: Unix ms or RFC 3339; 24 hours before `to` by default. Widened to whole steps."),
        ("to" = Option<String>, Query, description = "End: Unix ms or RFC 3339; now by default. Widened to whole steps; at most 400 days after `from` (7 days for steps under 1h)."),
        ("step" = Option<String>, Query, pattern = "^\\s*(1m|5m|10m|15m|30m|1h|2h|3h|6h|12h|1d)?\\s*$", description = "The step (empty: the default, the smallest with at most 500 steps). At most 2000 steps."),
        ("region" = Option<String>, Query, pattern = "^\\s*([a-z0-9-]{1,32})?\\s*$", description = "Only this region's checks (empty: all regions)."),
        ("format" = Option<String>, Query, pattern = "^\\s*([Jj][Ss][Oo][Nn]|[Cc][Ss][Vv])?\\s*$", description = "`json` or `csv`, any case (empty: the `Accept` header's choice, else JSON)."),
    ),
    responses(
        (status = 200, description = "Every step of the range (empty ones with a count of 0) and a summary.",
            content((History = "application/json"), (String = "text/csv"))),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::Unprocessable),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
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
#[utoipa::path(
    get,
    path = "/v1/endpoints/{id}/results",
    operation_id = "endpoint_results",
    tag = "history",
    security(("session" = []), ("api_key" = [])),
    params(
        ("id" = String, Path, description = "The endpoint's id."),
        ("from" = Option<String>, Query, description = "Start: Unix ms or RFC 3339; an hour before `to` by default."),
        ("to" = Option<String>, Query, description = "End (exclusive): Unix ms or RFC 3339; now by default. At most 31 days after `from`."),
        ("region" = Option<String>, Query, pattern = "^\\s*([a-z0-9-]{1,32})?\\s*$", description = "Only this region's results (empty: all regions)."),
        ("limit" = Option<String>, Query, pattern = "^\\s*(\\+?[0-9]+)?\\s*$", example = "100", description = "At most this many, newest first: a whole number from 1 to 1000 (empty: 100)."),
        ("format" = Option<String>, Query, pattern = "^\\s*([Jj][Ss][Oo][Nn]|[Cc][Ss][Vv])?\\s*$", description = "`json` or `csv`, any case (empty: the `Accept` header's choice, else JSON)."),
    ),
    responses(
        (status = 200, description = "Raw results with their timing breakdown, newest first.",
            content((ResultsAnswer = "application/json"), (String = "text/csv"))),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::Unprocessable),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
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
#[utoipa::path(
    get,
    path = "/v1/endpoints/{id}/badge/status",
    operation_id = "status_badge",
    tag = "history",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The endpoint's id.")),
    responses(
        (status = 200, description = "An SVG badge: up, degraded, down or unknown.", content_type = "image/svg+xml", body = String),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
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
#[utoipa::path(
    get,
    path = "/v1/endpoints/{id}/badge/uptime",
    operation_id = "uptime_badge",
    tag = "history",
    security(("session" = []), ("api_key" = [])),
    params(
        ("id" = String, Path, description = "The endpoint's id."),
        ("window" = Option<String>, Query, pattern = "^\\s*(24h|7d|30d|90d)?\\s*$", description = "The window: 24h, 7d, 30d or 90d (empty: 30d)."),
    ),
    responses(
        (status = 200, description = "An SVG badge of the uptime over the window.", content_type = "image/svg+xml", body = String),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::Unprocessable),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn uptime_badge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    window_badge(&state, &caller, &id, BadgeKind::Uptime, &params).await
}

/// `GET /v1/endpoints/{id}/badge/response-time?window=`.
#[utoipa::path(
    get,
    path = "/v1/endpoints/{id}/badge/response-time",
    operation_id = "response_time_badge",
    tag = "history",
    security(("session" = []), ("api_key" = [])),
    params(
        ("id" = String, Path, description = "The endpoint's id."),
        ("window" = Option<String>, Query, pattern = "^\\s*(24h|7d|30d|90d)?\\s*$", description = "The window: 24h, 7d, 30d or 90d (empty: 30d)."),
    ),
    responses(
        (status = 200, description = "An SVG badge of the mean response time of up checks over the window.", content_type = "image/svg+xml", body = String),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::Unprocessable),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn response_time_badge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    window_badge(&state, &caller, &id, BadgeKind::ResponseTime, &params).await
}
