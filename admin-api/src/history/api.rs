//! The history endpoints' work between the route (which has authenticated the caller,
//! resolved the org and checked that the endpoint is the org's: 404 otherwise) and the
//! store: parse the query string, read, render. Each function answers a [`Rendered`] or a
//! [`HistoryApiError`] (422 naming the field, 503, 500), both `IntoResponse`.
//!
//! - `GET /v1/endpoints/{id}/history?from=&to=&step=&region=&format=` → [`history`]
//! - `GET /v1/endpoints/{id}/results?from=&to=&region=&limit=&format=` → [`results`]
//! - `GET /v1/endpoints/{id}/badges/status.svg` → [`status_badge`]
//! - `GET /v1/endpoints/{id}/badges/{uptime|response-time}.svg?window=` → [`window_badge`]

use std::collections::HashMap;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scoville_core::{EndpointId, OrgId};

use super::render::{self, Format, Rendered};
use super::{
    EndpointStatus, FieldError, HistoryError, HistoryQuery, HistoryStore, ResultsQuery, StepSize,
};
use crate::error::ErrorBody;

/// Why a history request failed.
#[derive(Debug, thiserror::Error)]
pub enum HistoryApiError {
    /// A query parameter is wrong (422, naming it).
    #[error("{0}")]
    Invalid(#[from] FieldError),
    /// The store failed (503 when unavailable, 500 otherwise).
    #[error(transparent)]
    Store(#[from] HistoryError),
}

impl IntoResponse for HistoryApiError {
    fn into_response(self) -> Response {
        match self {
            HistoryApiError::Invalid(e) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(ErrorBody {
                    error: e.to_string(),
                    field: Some(e.path),
                    reason: Some(e.message),
                }),
            )
                .into_response(),
            HistoryApiError::Store(HistoryError::Unavailable(detail)) => {
                tracing::warn!(detail, "history store unavailable; answering 503");
                let mut r = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(ErrorBody::new("the history store is unavailable")),
                )
                    .into_response();
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                r
            }
            HistoryApiError::Store(HistoryError::Query(detail)) => {
                tracing::error!(detail, "history query failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(ErrorBody::new("the history query failed")),
                )
                    .into_response()
            }
        }
    }
}

/// `GET /v1/endpoints/{id}/history`: JSON, or CSV with `format=csv` or `Accept: text/csv`.
pub async fn history(
    store: &dyn HistoryStore,
    org_id: &OrgId,
    endpoint_id: &EndpointId,
    params: &HashMap<String, String>,
    accept: Option<&str>,
    now_ms: i64,
) -> Result<Rendered, HistoryApiError> {
    let format = Format::negotiate(params, accept)?;
    let q = HistoryQuery::parse(params, now_ms)?;
    let h = store.history(org_id, endpoint_id, &q).await?;
    Ok(match format {
        Format::Json => render::history_json(&h),
        Format::Csv => render::history_csv(&h),
    })
}

/// `GET /v1/endpoints/{id}/results`: raw results, newest first, JSON or CSV.
pub async fn results(
    store: &dyn HistoryStore,
    org_id: &OrgId,
    endpoint_id: &EndpointId,
    params: &HashMap<String, String>,
    accept: Option<&str>,
    now_ms: i64,
) -> Result<Rendered, HistoryApiError> {
    let format = Format::negotiate(params, accept)?;
    let q = ResultsQuery::parse(params, now_ms)?;
    let rows = store.results(org_id, endpoint_id, &q).await?;
    Ok(match format {
        Format::Json => render::results_json(&rows),
        Format::Csv => render::results_csv(&rows),
    })
}

/// The status badge from each region's latest result started at or after `since_ms`
/// (the route picks it from the endpoint's interval, e.g. now − 3 intervals: older
/// results make the status `unknown`).
pub async fn status_badge(
    store: &dyn HistoryStore,
    org_id: &OrgId,
    endpoint_id: &EndpointId,
    since_ms: i64,
) -> Result<Rendered, HistoryApiError> {
    let latest = store.latest(org_id, endpoint_id, since_ms).await?;
    Ok(render::status_badge(EndpointStatus::from_latest(&latest)))
}

/// Which window badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadgeKind {
    /// Uptime over the window.
    Uptime,
    /// Mean response time of up checks over the window.
    ResponseTime,
}

impl BadgeKind {
    /// `uptime`, or `response-time` (`response_time`).
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        match s {
            "uptime" => Ok(BadgeKind::Uptime),
            "response-time" | "response_time" => Ok(BadgeKind::ResponseTime),
            other => Err(FieldError::new(
                "badge",
                format!("{other:?} is not a badge; use status, uptime or response-time"),
            )),
        }
    }
}

/// The window of an uptime or response time badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadgeWindow {
    label: &'static str,
    ms: i64,
}

impl BadgeWindow {
    /// The windows a badge may show.
    pub const ALL: &'static [BadgeWindow] = &[
        BadgeWindow {
            label: "24h",
            ms: 86_400_000,
        },
        BadgeWindow {
            label: "7d",
            ms: 7 * 86_400_000,
        },
        BadgeWindow {
            label: "30d",
            ms: 30 * 86_400_000,
        },
        BadgeWindow {
            label: "90d",
            ms: 90 * 86_400_000,
        },
    ];

    /// `window=24h|7d|30d|90d`, 30 days by default.
    pub fn parse(params: &HashMap<String, String>) -> Result<Self, FieldError> {
        let Some(w) = params
            .get("window")
            .map(|w| w.trim())
            .filter(|w| !w.is_empty())
        else {
            return Ok(Self::ALL[2]);
        };
        Self::ALL
            .iter()
            .copied()
            .find(|b| b.label == w)
            .ok_or_else(|| {
                FieldError::new(
                    "window",
                    format!("{w:?} is not a window; use 24h, 7d, 30d or 90d"),
                )
            })
    }

    /// Its label, e.g. `30d`.
    pub fn label(&self) -> &'static str {
        self.label
    }

    /// The history query behind the badge: the hour rollups of the window ending now,
    /// widened to whole steps of 1 h (2 h for 90 days, to stay within the step limit).
    pub fn query(&self, now_ms: i64) -> HistoryQuery {
        let step = if self.ms <= 30 * 86_400_000 {
            StepSize::HOUR
        } else {
            StepSize::TWO_HOURS
        };
        let from_ms = now_ms - self.ms;
        HistoryQuery::new(from_ms, now_ms, Some(step), None).unwrap_or_else(|_| {
            // Only a `now_ms` outside 2000..3000 gets here; answer an empty window.
            HistoryQuery {
                from_ms: from_ms.div_euclid(step.ms()) * step.ms(),
                to_ms: from_ms.div_euclid(step.ms()) * step.ms() + step.ms(),
                step,
                region: None,
            }
        })
    }
}

/// The uptime or response time badge over `window=` (default 30 days).
pub async fn window_badge(
    store: &dyn HistoryStore,
    org_id: &OrgId,
    endpoint_id: &EndpointId,
    kind: BadgeKind,
    params: &HashMap<String, String>,
    now_ms: i64,
) -> Result<Rendered, HistoryApiError> {
    let window = BadgeWindow::parse(params)?;
    let q = window.query(now_ms);
    let h = store.history(org_id, endpoint_id, &q).await?;
    Ok(match kind {
        BadgeKind::Uptime => render::uptime_badge(window.label(), h.summary.uptime),
        BadgeKind::ResponseTime => render::response_time_badge(window.label(), h.summary.mean_ms),
    })
}
