//! `GET /v1/sparklines`: every endpoint of the caller's organization with its recent
//! response times (one value per step) and uptime, in one answer: what the dashboard's
//! rows draw. One request and one store read for the whole list (the dashboard used to
//! ask `/history` once per row: 1,000 requests for 1,000 endpoints, which outlived the
//! page that asked).
//!
//! The query is `/history`'s (`from`, `to`, `step`, `region`; the same 422s), with two
//! differences: the step defaults to `1h` (24 values for the default 24 hours) and a range
//! may hold at most [`MAX_SPARKLINE_STEPS`] steps, since every endpoint carries them all.
//! Each value is the step's p50 (its mean when no percentile is known), exactly what
//! `/history` answers for that step; `null` for a step without checks. Without a history
//! store configured, every endpoint is listed without data (where `/history` answers 503):
//! the dashboard still draws its rows.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::app::{AppState, now_ms};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::history::api::HistoryApiError;
use crate::history::{FieldError, History, HistoryQuery};

/// At most this many steps per endpoint in one answer.
pub const MAX_SPARKLINE_STEPS: usize = 200;

/// One endpoint's sparkline.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Sparkline {
    /// The endpoint's id.
    pub id: String,
    /// Checks in the range.
    pub count: u64,
    /// Up checks / checks over the range; `null` without checks.
    pub uptime: Option<f64>,
    /// The range's median response time (ms); `null` without up checks.
    pub p50_ms: Option<f64>,
    /// Per step, oldest first: its p50 (or mean) in ms; `null` for a step without data.
    pub values: Vec<Option<f64>>,
}

/// The answer of `GET /v1/sparklines`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Sparklines {
    /// Start of the first step, Unix ms.
    pub from_ms: i64,
    /// End of the last step, exclusive.
    pub to_ms: i64,
    /// The step, e.g. `1h`.
    pub step: String,
    /// Every endpoint of the organization, in the order of `GET /v1/endpoints`.
    pub endpoints: Vec<Sparkline>,
}

impl Sparkline {
    fn of(h: History) -> Self {
        Self {
            id: h.endpoint_id.as_str().to_string(),
            count: h.summary.count,
            uptime: h.summary.uptime,
            p50_ms: h.summary.p50_ms,
            values: h.steps.iter().map(|s| s.p50_ms.or(s.mean_ms)).collect(),
        }
    }
}

/// `GET /v1/sparklines?from=&to=&step=&region=`.
#[utoipa::path(
    get,
    path = "/v1/sparklines",
    operation_id = "sparklines",
    tag = "history",
    security(("session" = []), ("api_key" = [])),
    params(
        ("from" = Option<String>, Query, description = "Start: Unix ms or RFC 3339; 24 hours before `to` by default. Widened to whole steps."),
        ("to" = Option<String>, Query, description = "End: Unix ms or RFC 3339; now by default. Widened to whole steps."),
        ("step" = Option<String>, Query, pattern = "^\\s*(1m|5m|10m|15m|30m|1h|2h|3h|6h|12h|1d)?\\s*$", description = "The step (empty: 1h). At most 200 steps."),
        ("region" = Option<String>, Query, pattern = "^\\s*([a-z0-9-]{1,32})?\\s*$", description = "Only this region's checks (empty: all regions)."),
    ),
    responses(
        (status = 200, description = "Every endpoint of the organization with a value per step.", body = Sparklines),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::Unprocessable),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn sparklines(
    State(state): State<AppState>,
    caller: Caller,
    Query(mut params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if params.get("step").is_none_or(|s| s.trim().is_empty()) {
        params.insert("step".into(), "1h".into());
    }
    let q = match HistoryQuery::parse(&params, now_ms()) {
        Ok(q) if q.step_count() > MAX_SPARKLINE_STEPS => {
            let e = FieldError::new(
                "step",
                format!(
                    "the range holds {} steps; sparklines take at most {MAX_SPARKLINE_STEPS}: \
                     use a longer step or a shorter range",
                    q.step_count()
                ),
            );
            return Ok(HistoryApiError::Invalid(e).into_response());
        }
        Ok(q) => q,
        Err(e) => return Ok(HistoryApiError::Invalid(e).into_response()),
    };
    let ids: Vec<_> = state
        .store
        .endpoints(&caller.org_id)
        .await?
        .into_iter()
        .map(|e| e.id)
        .collect();
    let answers = match &state.history {
        Some(history) => match history.history_many(&caller.org_id, &ids, &q).await {
            Ok(a) => a,
            Err(e) => return Ok(HistoryApiError::Store(e).into_response()),
        },
        // No history store configured: every endpoint, without data.
        None => ids
            .iter()
            .map(|id| crate::history::aggregate::history(id, &q, Vec::new()))
            .collect(),
    };
    Ok(Json(Sparklines {
        from_ms: q.from_ms,
        to_ms: q.to_ms,
        step: q.step.label().to_string(),
        endpoints: answers.into_iter().map(Sparkline::of).collect(),
    })
    .into_response())
}
