//! Result hooks (`/v1/hooks`): create (admin or owner; the answer shows the signing secret
//! once), list, read, replace (name, URL, events; the secret stays), delete. See
//! [`crate::hook`] for what a hook is and how it is delivered; at most [`MAX_HOOKS`] per
//! organization, since every state change and every result fans out to each.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use scoville_core::OrgId;
use scoville_core::hook::HookEvents;
use scoville_notifier::channel::ChannelConfig;
use serde::Deserialize;

use crate::app::{AppState, now_ms};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::hook::{CreatedHook, Hook, ID_PREFIX, StoredHook};
use crate::model::{Invalid, new_id, new_secret};

/// Most hooks per organization.
pub const MAX_HOOKS: usize = 20;

/// A new hook, or a hook's replacement.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHook {
    /// A label, 1-100 characters (trimmed).
    #[schema(min_length = 1, max_length = 100, example = "data lake")]
    name: String,
    /// Where to post: an http or https URL. Private addresses are refused when sending
    /// unless the operator allows them.
    #[schema(example = "https://hooks.example.com/scoville")]
    url: String,
    /// `all`: every check result (batches of up to 100) and every state change;
    /// `state_changes`: only down, recovered, flapping, degraded, expiring, changed.
    events: HookEvents,
}

impl NewHook {
    /// Checks the input: 422 names `name` or `url`.
    fn checked(self) -> Result<(String, String, HookEvents), Invalid> {
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Invalid::new("name", "must be 1-100 characters"));
        }
        let url = self.url.trim().to_string();
        if url.len() > 2048 {
            return Err(Invalid::new("url", "must be at most 2048 characters"));
        }
        // The notifier's own webhook parser: what it accepts is what it will send to.
        ChannelConfig::parse_value(serde_json::json!({"type": "webhook", "url": url}))
            .map_err(|e| Invalid::new("url", e.message))?;
        Ok((name, url, self.events))
    }
}

/// `GET /v1/hooks`.
#[utoipa::path(
    get,
    path = "/v1/hooks",
    operation_id = "list_hooks",
    tag = "hooks",
    security(("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The organization's result hooks (never their secrets).", body = Vec<Hook>),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Hook>>, ApiError> {
    let hooks = state.store.hooks(&caller.org_id).await?;
    Ok(Json(hooks.iter().map(StoredHook::public).collect()))
}

/// `POST /v1/hooks`.
#[utoipa::path(
    post,
    path = "/v1/hooks",
    operation_id = "create_hook",
    tag = "hooks",
    security(("session" = []), ("api_key" = [])),
    request_body = NewHook,
    responses(
        (status = 201, description = "The hook, with its new id and its signing secret (shown this once).", body = CreatedHook),
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
) -> Result<(StatusCode, Json<CreatedHook>), ApiError> {
    caller.must_write()?;
    let input: NewHook = super::endpoints::parse_body(&headers, &body)?;
    let (name, url, events) = input.checked()?;
    if state.store.hooks(&caller.org_id).await?.len() >= MAX_HOOKS {
        return Err(Invalid::new(
            "name",
            format!("an organization has at most {MAX_HOOKS} hooks"),
        )
        .into());
    }
    let hook = StoredHook {
        id: new_id(ID_PREFIX),
        name,
        url,
        events,
        secret: new_secret("whsec_"),
        created_ms: now_ms(),
    };
    state.store.put_hook(&caller.org_id, &hook).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedHook {
            hook: hook.public(),
            secret: hook.secret.clone(),
        }),
    ))
}

async fn found(state: &AppState, org: &OrgId, id: &str) -> Result<StoredHook, ApiError> {
    state.store.hook(org, id).await?.ok_or(ApiError::NotFound)
}

/// `GET /v1/hooks/{id}`.
#[utoipa::path(
    get,
    path = "/v1/hooks/{id}",
    operation_id = "get_hook",
    tag = "hooks",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The hook's id.")),
    responses(
        (status = 200, description = "The hook (never its secret).", body = Hook),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Hook>, ApiError> {
    Ok(Json(found(&state, &caller.org_id, &id).await?.public()))
}

/// `PUT /v1/hooks/{id}`: replaces name, URL and events; the secret stays.
#[utoipa::path(
    put,
    path = "/v1/hooks/{id}",
    operation_id = "replace_hook",
    tag = "hooks",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The hook's id.")),
    request_body = NewHook,
    responses(
        (status = 200, description = "The hook as replaced.", body = Hook),
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
) -> Result<Json<Hook>, ApiError> {
    let old = found(&state, &caller.org_id, &id).await?;
    caller.must_write()?;
    let input: NewHook = super::endpoints::parse_body(&headers, &body)?;
    let (name, url, events) = input.checked()?;
    let hook = StoredHook {
        name,
        url,
        events,
        ..old
    };
    state.store.put_hook(&caller.org_id, &hook).await?;
    Ok(Json(hook.public()))
}

/// `DELETE /v1/hooks/{id}`.
#[utoipa::path(
    delete,
    path = "/v1/hooks/{id}",
    operation_id = "delete_hook",
    tag = "hooks",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The hook's id.")),
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
    found(&state, &caller.org_id, &id).await?;
    caller.must_write()?;
    state.store.delete_hook(&caller.org_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
