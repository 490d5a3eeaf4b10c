//! Prometheus text from the admin API: `GET /metrics`, the service's own figures
//! (requests by route template and status class, their latency: the shared
//! `HttpMetrics` middleware around the whole route table), and
//! `GET /v1/metrics/endpoints`, the opt-in per-endpoint status exporter for Grafana: an
//! organization scrapes its own endpoints with an API key (`authorization` in the scrape
//! config), so per-endpoint labels (`id`, `endpoint` = the name) are fine there and are
//! never on `/metrics`.
//!
//! The exporter's families (labels `id` and `endpoint`; per region also `region`):
//!
//! - `scoville_endpoint_up`: 0 while an incident is open or every region's latest result
//!   (within three intervals) is down, 1 otherwise; absent while paused or without a
//!   recent result;
//! - `scoville_endpoint_region_up`: each region's latest result, 1 up (or a warning), 0 down;
//! - `scoville_endpoint_response_time_seconds`: each region's latest total check time;
//! - `scoville_endpoint_last_check_timestamp_seconds`: when each region last checked it;
//! - `scoville_endpoint_incident_open` (with an incident log) and
//!   `scoville_endpoint_paused`: 1 or 0.
//!
//! Names are user text: the exposition writer escapes them (backslash, quote, newline),
//! so a name can never break a line or forge a series.

use std::collections::HashSet;

use axum::extract::State;
use axum::response::Response;
use scoville_incident_log::IncidentQuery;
use scoville_service_kit::metrics::{Exposition, MetricType, response};

use crate::app::{AppState, now_ms};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::history::{EndpointStatus, ResultRow};

/// At most this many open incidents are read for one scrape (more than any org has).
const OPEN_INCIDENTS_LIMIT: usize = 10_000;

/// `GET /metrics`: the admin API's own requests and their latency.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "service",
    responses((status = 200, description = "Prometheus text exposition (0.0.4): requests by route template and status class, and their latency.", content_type = "text/plain", body = String))
)]
pub async fn service(State(state): State<AppState>) -> Response {
    response(state.http_metrics.render_text())
}

/// `GET /v1/metrics/endpoints`: the caller's organization's endpoints as Prometheus
/// gauges.
#[utoipa::path(
    get,
    path = "/v1/metrics/endpoints",
    operation_id = "endpoint_metrics",
    tag = "metrics",
    security(("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition (0.0.4) of every endpoint of the organization: `scoville_endpoint_up`, `scoville_endpoint_region_up`, `scoville_endpoint_response_time_seconds`, `scoville_endpoint_last_check_timestamp_seconds`, `scoville_endpoint_incident_open`, `scoville_endpoint_paused`; labelled `id` and `endpoint` (the name), per region also `region`.", content_type = "text/plain", body = String),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn endpoints(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let org = &caller.org_id;
    let endpoints = state.store.endpoints(org).await?;
    let open: Option<HashSet<String>> = match &state.incidents {
        Some(log) => {
            let query = IncidentQuery {
                open: Some(true),
                limit: OPEN_INCIDENTS_LIMIT,
                ..IncidentQuery::default()
            };
            let found = log
                .incidents(org, &query)
                .await
                .map_err(|e| ApiError::Unavailable(e.to_string()))?;
            Some(
                found
                    .into_iter()
                    .map(|i| i.endpoint_id.as_str().to_string())
                    .collect(),
            )
        }
        None => None,
    };
    let now = now_ms();
    let asks: Vec<_> = endpoints
        .iter()
        .map(|e| (e.id.clone(), now - 3 * i64::from(e.interval_s) * 1000))
        .collect();
    let latest: Vec<Vec<ResultRow>> = match &state.history {
        Some(history) if !asks.is_empty() => history
            .latest_many(org, &asks)
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?,
        _ => vec![Vec::new(); endpoints.len()],
    };

    let mut e = Exposition::new();
    let name = "scoville_endpoint_up";
    e.family(
        name,
        MetricType::Gauge,
        "1 when the endpoint is up, 0 while an incident is open or every region's latest result is down; absent while paused or without a recent result.",
    );
    for (ep, rows) in endpoints.iter().zip(&latest) {
        if ep.paused {
            continue;
        }
        let incident = open.as_ref().is_some_and(|o| o.contains(ep.id.as_str()));
        let up = match (incident, EndpointStatus::from_latest(rows)) {
            (true, _) | (false, EndpointStatus::Down) => 0.0,
            (false, EndpointStatus::Unknown) => continue,
            (false, EndpointStatus::Up | EndpointStatus::Degraded) => 1.0,
        };
        e.sample(name, &[("id", ep.id.as_str()), ("endpoint", &ep.name)], up);
    }
    for (name, help, value) in [
        (
            "scoville_endpoint_region_up",
            "The latest result in the region: 1 up (or a warning), 0 down.",
            (|r: &ResultRow| if r.up { 1.0 } else { 0.0 }) as fn(&ResultRow) -> f64,
        ),
        (
            "scoville_endpoint_response_time_seconds",
            "The latest check's total time in the region.",
            |r: &ResultRow| r.timings.total_ms / 1000.0,
        ),
        (
            "scoville_endpoint_last_check_timestamp_seconds",
            "When the region's latest check started, Unix seconds.",
            |r: &ResultRow| r.started_at_ms as f64 / 1000.0,
        ),
    ] {
        e.family(name, MetricType::Gauge, help);
        for (ep, rows) in endpoints.iter().zip(&latest) {
            for r in rows {
                e.sample(
                    name,
                    &[
                        ("id", ep.id.as_str()),
                        ("endpoint", &ep.name),
                        ("region", &r.region),
                    ],
                    value(r),
                );
            }
        }
    }
    if let Some(open) = &open {
        let name = "scoville_endpoint_incident_open";
        e.family(name, MetricType::Gauge, "1 while an incident is open.");
        for ep in &endpoints {
            let v = if open.contains(ep.id.as_str()) {
                1.0
            } else {
                0.0
            };
            e.sample(name, &[("id", ep.id.as_str()), ("endpoint", &ep.name)], v);
        }
    }
    let name = "scoville_endpoint_paused";
    e.family(name, MetricType::Gauge, "1 while checks are paused.");
    for ep in &endpoints {
        let v = if ep.paused { 1.0 } else { 0.0 };
        e.sample(name, &[("id", ep.id.as_str()), ("endpoint", &ep.name)], v);
    }
    Ok(response(e.finish()))
}
