//! Maintenance windows: create, list, delete. A window names endpoints of the caller's
//! organization (an unknown id is 422 naming it) or none (all of them), and lasts at most
//! 31 days.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use scoville_core::EndpointId;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::model::{Invalid, MaintenanceWindow, new_id};

/// A new window.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWindow {
    from_ms: i64,
    to_ms: i64,
    #[serde(default)]
    endpoint_ids: Vec<EndpointId>,
    #[serde(default)]
    reason: String,
}

/// `GET /v1/maintenance`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<MaintenanceWindow>>, ApiError> {
    Ok(Json(state.store.windows(&caller.org_id).await?))
}

/// `POST /v1/maintenance`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<MaintenanceWindow>), ApiError> {
    caller.must_write()?;
    let w: NewWindow = super::endpoints::parse_body(&headers, &body)?;
    if w.from_ms < 946_684_800_000 {
        return Err(Invalid::new("from_ms", "must be Unix milliseconds after 2000").into());
    }
    if w.to_ms <= w.from_ms || w.to_ms - w.from_ms > 31 * 86_400_000 {
        return Err(Invalid::new("to_ms", "must be after from_ms, at most 31 days later").into());
    }
    if w.reason.chars().count() > 500 {
        return Err(Invalid::new("reason", "must be at most 500 characters").into());
    }
    if w.endpoint_ids.len() > 1000 {
        return Err(Invalid::new("endpoint_ids", "must list at most 1000").into());
    }
    super::endpoints::check_own_endpoints(&state, &caller.org_id, "endpoint_ids", &w.endpoint_ids)
        .await?;
    let window = MaintenanceWindow {
        id: new_id("mw_"),
        from_ms: w.from_ms,
        to_ms: w.to_ms,
        endpoint_ids: w.endpoint_ids,
        reason: w.reason,
    };
    state.store.put_window(&caller.org_id, &window).await?;
    Ok((StatusCode::CREATED, Json(window)))
}

/// `DELETE /v1/maintenance/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let known = state
        .store
        .windows(&caller.org_id)
        .await?
        .iter()
        .any(|w| w.id == id);
    if !known {
        return Err(ApiError::NotFound);
    }
    caller.must_write()?;
    state.store.delete_window(&caller.org_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
