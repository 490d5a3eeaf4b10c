//! Endpoints: create, list, read, replace, delete, pause and resume. Bodies are parsed
//! into the domain types; a field that does not hold is 422 with the field and reason.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use scoville_core::EndpointId;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::model::{Endpoint, EndpointInput, Invalid, new_id};

/// Largest endpoint document.
const MAX_BODY: usize = 64 * 1024;

/// Parses a JSON body: 415 without a JSON content type (which also keeps cross-site
/// forms out), 413 over the limit, 400 when it is not JSON, 422 naming the field.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, ApiError> {
    let value = json_body(headers, body, MAX_BODY)?;
    scoville_core::parse::from_value(value).map_err(|e| {
        let field = if e.path == "." { String::new() } else { e.path };
        ApiError::Invalid(Invalid::new(field, e.message))
    })
}

/// A JSON body of at most `max` bytes: 415 without a JSON content type, 413 over the
/// limit, 400 when it is not JSON.
pub(crate) fn json_body(
    headers: &HeaderMap,
    body: &Bytes,
    max: usize,
) -> Result<serde_json::Value, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Err(ApiError::UnsupportedMediaType);
    }
    if body.len() > max {
        return Err(ApiError::PayloadTooLarge(format!(
            "the body is larger than {max} bytes"
        )));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))
}

/// Refuses (422, naming `<field>[i]`) an id that is not an endpoint of `org`.
pub(crate) async fn check_own_endpoints(
    state: &AppState,
    org: &scoville_core::OrgId,
    field: &str,
    ids: &[EndpointId],
) -> Result<(), ApiError> {
    for (i, id) in ids.iter().enumerate() {
        if state.store.endpoint(org, id).await?.is_none() {
            return Err(Invalid::new(
                format!("{field}[{i}]"),
                "is not an endpoint of this organization",
            )
            .into());
        }
    }
    Ok(())
}

fn endpoint_id(raw: &str) -> Result<EndpointId, ApiError> {
    EndpointId::parse(raw).map_err(|_| ApiError::NotFound)
}

/// `GET /v1/endpoints`.
#[utoipa::path(
    get,
    path = "/v1/endpoints",
    operation_id = "list_endpoints",
    tag = "endpoints",
    security(("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The organization's endpoints.", body = Vec<Endpoint>),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Endpoint>>, ApiError> {
    Ok(Json(state.store.endpoints(&caller.org_id).await?))
}

/// `POST /v1/endpoints`.
#[utoipa::path(
    post,
    path = "/v1/endpoints",
    operation_id = "create_endpoint",
    tag = "endpoints",
    security(("session" = []), ("api_key" = [])),
    request_body = EndpointInput,
    responses(
        (status = 201, description = "The endpoint, with its new id.", body = Endpoint),
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
) -> Result<(StatusCode, Json<Endpoint>), ApiError> {
    caller.must_write()?;
    let input: EndpointInput = parse_body(&headers, &body)?;
    let id = EndpointId::parse(new_id("ep_")).map_err(ApiError::Unavailable)?;
    let mut endpoint = input.into_endpoint(id, caller.org_id.clone())?;
    state.store.put_endpoint(&endpoint, false).await?;
    state.probe_list.put(state.store.as_ref(), &endpoint).await;
    heartbeat_token(&state, &mut endpoint, None).await?;
    Ok((StatusCode::CREATED, Json(endpoint)))
}

/// `GET /v1/endpoints/{id}`.
#[utoipa::path(
    get,
    path = "/v1/endpoints/{id}",
    operation_id = "get_endpoint",
    tag = "endpoints",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The endpoint's id.")),
    responses(
        (status = 200, description = "The endpoint.", body = Endpoint),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Endpoint>, ApiError> {
    let id = endpoint_id(&id)?;
    state
        .store
        .endpoint(&caller.org_id, &id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// `PUT /v1/endpoints/{id}`: replaces the endpoint.
#[utoipa::path(
    put,
    path = "/v1/endpoints/{id}",
    operation_id = "replace_endpoint",
    tag = "endpoints",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The endpoint's id.")),
    request_body = EndpointInput,
    responses(
        (status = 200, description = "The endpoint as replaced.", body = Endpoint),
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
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Endpoint>, ApiError> {
    let id = endpoint_id(&id)?;
    // Another org's id is 404 whatever the caller's role or the body.
    let before = state
        .store
        .endpoint(&caller.org_id, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    caller.must_write()?;
    let input: EndpointInput = parse_body(&headers, &body)?;
    let mut endpoint = input.into_endpoint(id, caller.org_id.clone())?;
    if state.store.put_endpoint(&endpoint, true).await? {
        state.probe_list.put(state.store.as_ref(), &endpoint).await;
        heartbeat_token(&state, &mut endpoint, Some(&before)).await?;
        Ok(Json(endpoint))
    } else {
        Err(ApiError::NotFound)
    }
}

/// `DELETE /v1/endpoints/{id}`.
#[utoipa::path(
    delete,
    path = "/v1/endpoints/{id}",
    operation_id = "delete_endpoint",
    tag = "endpoints",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The endpoint's id.")),
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
    let id = endpoint_id(&id)?;
    state
        .store
        .endpoint(&caller.org_id, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    caller.must_write()?;
    if state.store.delete_endpoint(&caller.org_id, &id).await? {
        state
            .probe_list
            .remove(state.store.as_ref(), &caller.org_id, &id)
            .await;
        if let Some(h) = &state.heartbeats {
            h.store().remove(&caller.org_id, &id).await?;
        }
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

async fn set_paused(
    state: &AppState,
    caller: &Caller,
    id: &str,
    paused: bool,
) -> Result<Json<Endpoint>, ApiError> {
    let id = endpoint_id(id)?;
    let mut endpoint = state
        .store
        .endpoint(&caller.org_id, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    caller.must_write()?;
    endpoint.paused = paused;
    if state.store.put_endpoint(&endpoint, true).await? {
        state.probe_list.put(state.store.as_ref(), &endpoint).await;
        Ok(Json(endpoint))
    } else {
        Err(ApiError::NotFound)
    }
}

/// `POST /v1/endpoints/{id}/pause`.
#[utoipa::path(
    post,
    path = "/v1/endpoints/{id}/pause",
    operation_id = "pause_endpoint",
    tag = "endpoints",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The endpoint's id.")),
    responses(
        (status = 200, description = "The endpoint, paused.", body = Endpoint),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Endpoint>, ApiError> {
    set_paused(&state, &caller, &id, true).await
}

/// `POST /v1/endpoints/{id}/resume`.
#[utoipa::path(
    post,
    path = "/v1/endpoints/{id}/resume",
    operation_id = "resume_endpoint",
    tag = "endpoints",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The endpoint's id.")),
    responses(
        (status = 200, description = "The endpoint, checked again.", body = Endpoint),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Endpoint>, ApiError> {
    set_paused(&state, &caller, &id, false).await
}

/// A heartbeat endpoint gets its ping token when it becomes one (created, or replaced
/// from another kind), shown once in `ping_url`; one that stops being a heartbeat loses
/// its token.
async fn heartbeat_token(
    state: &AppState,
    endpoint: &mut Endpoint,
    before: Option<&Endpoint>,
) -> Result<(), ApiError> {
    use scoville_core::CheckSpec::Heartbeat;
    let Some(h) = &state.heartbeats else {
        return Ok(());
    };
    let was = before.is_some_and(|b| matches!(b.check, Heartbeat(_)));
    match (&endpoint.check, was) {
        (Heartbeat(_), false) => {
            let token = h.issue_token(&endpoint.org_id, &endpoint.id).await?;
            endpoint.ping_url = Some(crate::routes::ping::ping_url(state, &token));
        }
        (Heartbeat(_), true) => {}
        (_, true) => h.store().remove(&endpoint.org_id, &endpoint.id).await?,
        (_, false) => {}
    }
    Ok(())
}
