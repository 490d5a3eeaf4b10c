//! Incidents: `GET /v1/incidents?endpoint_id=&status=&after=&limit=` (newest first) and
//! `GET /v1/incidents/{id}` with its timeline, read from the incident log the failure
//! service writes. Only the caller's organization's incidents exist for it: another
//! org's id is 404.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use scoville_core::notice::NoticeKind;
use scoville_core::{EndpointId, Region};
use scoville_incident_log::{Incident, IncidentLog, IncidentQuery, TimelineEntry};
use serde::Serialize;

use crate::app::{AppState, now_ms};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::history::format_time;
use crate::history::render::{CSV, Format, Rendered, csv_text, row};
use crate::model::Invalid;

/// Whether an incident is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    /// Still down.
    Open,
    /// Recovered.
    Resolved,
}

/// One incident, as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IncidentView {
    /// Its id (`<endpoint>~<round>`).
    pub id: String,
    /// The endpoint.
    pub endpoint_id: EndpointId,
    /// Open or resolved.
    pub status: IncidentStatus,
    /// When its first failed check started (Unix ms).
    pub started_at_ms: i64,
    /// When regions confirmed it (Unix ms).
    pub confirmed_at_ms: i64,
    /// When it was resolved (Unix ms); absent while open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at_ms: Option<i64>,
    /// From its first failure to its resolution (or to now while open), ms.
    pub duration_ms: i64,
    /// The regions that confirmed it.
    pub regions: Vec<Region>,
    /// The error seen when it was confirmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl IncidentView {
    fn of(i: Incident, now_ms: i64) -> Self {
        Self {
            status: if i.is_open() {
                IncidentStatus::Open
            } else {
                IncidentStatus::Resolved
            },
            duration_ms: (i.resolved_at_ms.unwrap_or(now_ms) - i.started_at_ms).max(0),
            id: i.id,
            endpoint_id: i.endpoint_id,
            started_at_ms: i.started_at_ms,
            confirmed_at_ms: i.confirmed_at_ms,
            resolved_at_ms: i.resolved_at_ms,
            regions: i.regions,
            error: i.error,
        }
    }
}

/// One line of a timeline.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TimelineView {
    /// When (Unix ms).
    pub at_ms: i64,
    /// `confirmed`, `notified` or `resolved`.
    #[schema(value_type = String, pattern = "^(confirmed|notified|resolved)$")]
    pub kind: &'static str,
    /// The notice sent (`down`, `recovered`, `flapping`, `settled`, `degraded`,
    /// `certificate_expiring`, `domain_expiring`, `changed`), for `notified`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub notice: Option<&'static str>,
    /// During maintenance (notices muted).
    pub muted: bool,
    /// The regions involved.
    pub regions: Vec<Region>,
    /// An error or one line of detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl From<TimelineEntry> for TimelineView {
    fn from(e: TimelineEntry) -> Self {
        Self {
            at_ms: e.at_ms,
            kind: e.kind.as_str(),
            notice: e.notice.as_ref().map(NoticeKind::as_str),
            muted: e.muted,
            regions: e.regions,
            detail: e.detail,
        }
    }
}

/// A page of incidents.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IncidentPage {
    /// Newest confirmation first.
    pub incidents: Vec<IncidentView>,
    /// Pass as `after` for the next page (`<confirmed_at_ms>,<id>` of this page's last);
    /// absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

/// An incident and its timeline.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IncidentDetail {
    /// The incident.
    pub incident: IncidentView,
    /// What happened, oldest first.
    pub timeline: Vec<TimelineView>,
}

fn log(state: &AppState) -> Result<&dyn IncidentLog, ApiError> {
    state
        .incidents
        .as_deref()
        .ok_or_else(|| ApiError::Unavailable("no incident log is configured".into()))
}

fn unavailable(e: scoville_incident_log::LogError) -> ApiError {
    ApiError::Unavailable(e.to_string())
}

/// `GET /v1/incidents`.
#[utoipa::path(
    get,
    path = "/v1/incidents",
    operation_id = "list_incidents",
    tag = "incidents",
    security(("session" = []), ("api_key" = [])),
    params(
        ("endpoint_id" = Option<String>, Query, description = "Only this endpoint's incidents."),
        ("status" = Option<String>, Query, pattern = "^(open|resolved|all)$", description = "`open`, `resolved` or `all` (the default)."),
        ("after" = Option<String>, Query, description = "The previous page's `next_after` (`<confirmed_at_ms>,<id>`): the incidents after it."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "At most this many (50 by default)."),
        ("format" = Option<String>, Query, pattern = "^\\s*([Jj][Ss][Oo][Nn]|[Cc][Ss][Vv])?\\s*$", description = "`json` or `csv`, any case (empty: the `Accept` header's choice, else JSON). CSV has no paging link: ask with `after` from the last row."),
    ),
    responses(
        (status = 200, description = "The organization's incidents, newest confirmation first.",
            content((IncidentPage = "application/json"), (String = "text/csv"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::Unprocessable),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = Format::negotiate(&params, accept)
        .map_err(|e| ApiError::Invalid(Invalid::new(e.path, e.message)))?;
    let mut query = IncidentQuery {
        limit: 50,
        ..IncidentQuery::default()
    };
    for (key, value) in &params {
        match key.as_str() {
            "endpoint_id" => {
                query.endpoint_id = Some(
                    EndpointId::parse(value.as_str())
                        .map_err(|e| Invalid::new("endpoint_id", e))?,
                );
            }
            "status" => {
                query.open = match value.as_str() {
                    "open" => Some(true),
                    "resolved" => Some(false),
                    "all" => None,
                    _ => return Err(Invalid::new("status", "must be open, resolved or all").into()),
                };
            }
            "after" => {
                let bad = || Invalid::new("after", "must be a page's next_after");
                let (ms, id) = value.split_once(',').ok_or_else(bad)?;
                let ms = ms.parse::<i64>().map_err(|_| bad())?;
                if id.is_empty() || id.len() > 200 {
                    return Err(bad().into());
                }
                query.after = Some((ms, id.to_string()));
            }
            "limit" => {
                query.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|l| (1..=500).contains(l))
                    .ok_or_else(|| Invalid::new("limit", "must be between 1 and 500"))?;
            }
            "format" => {}
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter {other:?}: endpoint_id, status, after, limit and format are known"
                )));
            }
        }
    }
    let found = log(&state)?
        .incidents(&caller.org_id, &query)
        .await
        .map_err(unavailable)?;
    let next_after = (found.len() == query.limit)
        .then(|| {
            found
                .last()
                .map(|i| format!("{},{}", i.confirmed_at_ms, i.id))
        })
        .flatten();
    let now = now_ms();
    let incidents: Vec<IncidentView> = found
        .into_iter()
        .map(|i| IncidentView::of(i, now))
        .collect();
    Ok(match format {
        Format::Json => Json(IncidentPage {
            incidents,
            next_after,
        })
        .into_response(),
        Format::Csv => incidents_csv(&incidents).into_response(),
    })
}

/// The header row of the incidents' CSV.
pub const INCIDENTS_CSV_HEADER: &str = "id,endpoint_id,status,started_at,started_at_ms,confirmed_at_ms,resolved_at_ms,duration_ms,regions,error";

/// Incidents as CSV (RFC 4180; text a spreadsheet could run as a formula is defused).
fn incidents_csv(incidents: &[IncidentView]) -> Rendered {
    let mut out = String::with_capacity(128 + incidents.len() * 160);
    out.push_str(INCIDENTS_CSV_HEADER);
    out.push_str("\r\n");
    for i in incidents {
        let regions: Vec<&str> = i.regions.iter().map(|r| r.as_str()).collect();
        let cells = [
            csv_text(&i.id),
            csv_text(i.endpoint_id.as_str()),
            serde_json::to_value(i.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            format_time(i.started_at_ms),
            i.started_at_ms.to_string(),
            i.confirmed_at_ms.to_string(),
            i.resolved_at_ms.map(|t| t.to_string()).unwrap_or_default(),
            i.duration_ms.to_string(),
            regions.join(" "),
            csv_text(i.error.as_deref().unwrap_or("")),
        ];
        row(&mut out, &cells);
    }
    Rendered {
        content_type: CSV,
        cache_control: None,
        content_disposition: Some("attachment; filename=\"incidents.csv\"".to_string()),
        body: out,
    }
}

/// `GET /v1/incidents/{id}`.
#[utoipa::path(
    get,
    path = "/v1/incidents/{id}",
    operation_id = "get_incident",
    tag = "incidents",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The incident's id (`<endpoint>~<round>`).")),
    responses(
        (status = 200, description = "The incident and its timeline, oldest entry first.", body = IncidentDetail),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<IncidentDetail>, ApiError> {
    if id.len() > 200 {
        return Err(ApiError::NotFound);
    }
    let (incident, timeline) = log(&state)?
        .incident(&caller.org_id, &id)
        .await
        .map_err(unavailable)?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(IncidentDetail {
        incident: IncidentView::of(incident, now_ms()),
        timeline: timeline.into_iter().map(TimelineView::from).collect(),
    }))
}
