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
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewMaintenanceWindow)]
pub struct NewWindow {
    /// Start, Unix ms, after 2000.
    #[schema(minimum = 946_684_800_000_i64, example = 1_790_000_000_000_i64)]
    from_ms: i64,
    /// End, Unix ms: after `from_ms`, at most 31 days later.
    #[schema(example = 1_790_003_600_000_i64)]
    to_ms: i64,
    /// The organization's endpoints it covers (at most 1000); none: all of them.
    #[serde(default)]
    #[schema(max_items = 1000)]
    endpoint_ids: Vec<EndpointId>,
    /// Why (shown to people), at most 500 characters.
    #[serde(default)]
    #[schema(max_length = 500)]
    reason: String,
}

/// `GET /v1/maintenance`.
#[utoipa::path(
    get,
    path = "/v1/maintenance",
    operation_id = "list_maintenance_windows",
    tag = "maintenance",
    security(("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The organization's maintenance windows.", body = Vec<MaintenanceWindow>),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<MaintenanceWindow>>, ApiError> {
    Ok(Json(state.store.windows(&caller.org_id).await?))
}

/// `POST /v1/maintenance`.
#[utoipa::path(
    post,
    path = "/v1/maintenance",
    operation_id = "create_maintenance_window",
    tag = "maintenance",
    security(("session" = []), ("api_key" = [])),
    request_body = NewWindow,
    responses(
        (status = 201, description = "The window, with its new id.", body = MaintenanceWindow),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::Unprocessable),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
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
#[utoipa::path(
    delete,
    path = "/v1/maintenance/{id}",
    operation_id = "delete_maintenance_window",
    tag = "maintenance",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The window's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
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
