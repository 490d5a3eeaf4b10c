//! Org API keys (shown once, stored hashed, read or read-write) and probe tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::JsonBody;
use crate::app::AppState;
use crate::auth::{Caller, hash_secret};
use crate::error::ApiError;
use crate::model::{ApiKey, Invalid, KeyScope, ProbeToken, new_id, new_secret};

/// A new key or token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// A label, 1-100 characters (trimmed).
    #[schema(min_length = 1, example = "ci")]
    name: String,
    /// What an API key may do (`read` by default); ignored for probe tokens.
    #[serde(default = "read")]
    #[schema(default = "read")]
    scope: KeyScope,
}

/// A new API key: the key itself is in this answer only.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewApiKey {
    /// Its id.
    pub id: String,
    /// Its label.
    pub name: String,
    /// What it may do.
    pub scope: KeyScope,
    /// The key, for `Authorization: Bearer`.
    pub key: String,
}

/// A new probe token: the token itself is in this answer only.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewProbeToken {
    /// Its id.
    pub id: String,
    /// Its label.
    pub name: String,
    /// The token, for the probe's `Authorization: Bearer`.
    pub token: String,
}

fn read() -> KeyScope {
    KeyScope::Read
}

fn name(n: &str) -> Result<String, Invalid> {
    let n = n.trim();
    if n.is_empty() || n.chars().count() > 100 {
        return Err(Invalid::new("name", "must be 1-100 characters"));
    }
    Ok(n.to_string())
}

/// `GET /v1/api-keys`.
#[utoipa::path(
    get,
    path = "/v1/api-keys",
    operation_id = "list_api_keys",
    tag = "keys",
    security(("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The organization's API keys (never the keys).", body = Vec<ApiKey>),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    Ok(Json(state.store.api_keys(&caller.org_id).await?))
}

/// `POST /v1/api-keys`: the key is in this answer only.
#[utoipa::path(
    post,
    path = "/v1/api-keys",
    operation_id = "create_api_key",
    tag = "keys",
    security(("session" = []), ("api_key" = [])),
    request_body = NewKey,
    responses(
        (status = 201, description = "The new key.", body = NewApiKey),
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
    JsonBody(body): JsonBody<NewKey>,
) -> Result<(StatusCode, Json<NewApiKey>), ApiError> {
    caller.must_write()?;
    let key = ApiKey {
        id: new_id("key_"),
        name: name(&body.name)?,
        scope: body.scope,
        created_by: caller.user_id.clone(),
    };
    let secret = new_secret("sk_");
    state
        .store
        .create_api_key(&caller.org_id, &key, &hash_secret(&secret))
        .await?;
    crate::audit::by(&caller, "api_key.created", &key.id, scope_name(key.scope));
    Ok((
        StatusCode::CREATED,
        Json(NewApiKey {
            id: key.id,
            name: key.name,
            scope: key.scope,
            key: secret,
        }),
    ))
}

/// `DELETE /v1/api-keys/{id}`.
#[utoipa::path(
    delete,
    path = "/v1/api-keys/{id}",
    operation_id = "delete_api_key",
    tag = "keys",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The key's id.")),
    responses(
        (status = 204, description = "Deleted: the key no longer works."),
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
    caller.must_write()?;
    if state.store.delete_api_key(&caller.org_id, &id).await? {
        crate::audit::by(&caller, "api_key.deleted", &id, "");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// `POST /v1/probe-tokens`: a token for the org's private probes (in this answer only).
#[utoipa::path(
    post,
    path = "/v1/probe-tokens",
    operation_id = "create_probe_token",
    tag = "keys",
    security(("session" = []), ("api_key" = [])),
    request_body = NewKey,
    responses(
        (status = 201, description = "The new token.", body = NewProbeToken),
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
pub async fn create_probe_token(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewKey>,
) -> Result<(StatusCode, Json<NewProbeToken>), ApiError> {
    caller.must_write()?;
    let (id, name) = (new_id("pt_"), name(&body.name)?);
    let secret = new_secret("pt_");
    state
        .store
        .create_probe_token(&caller.org_id, &id, &name, &hash_secret(&secret))
        .await?;
    crate::audit::by(&caller, "probe_token.created", &id, "");
    Ok((
        StatusCode::CREATED,
        Json(NewProbeToken {
            id,
            name,
            token: secret,
        }),
    ))
}

/// `GET /v1/probe-tokens`.
#[utoipa::path(
    get,
    path = "/v1/probe-tokens",
    operation_id = "list_probe_tokens",
    tag = "keys",
    security(("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The organization's probe tokens (never the tokens).", body = Vec<ProbeToken>),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn list_probe_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ProbeToken>>, ApiError> {
    Ok(Json(state.store.probe_tokens(&caller.org_id).await?))
}

/// `DELETE /v1/probe-tokens/{id}`: the token stops working at once.
#[utoipa::path(
    delete,
    path = "/v1/probe-tokens/{id}",
    operation_id = "delete_probe_token",
    tag = "keys",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The token's id.")),
    responses(
        (status = 204, description = "Deleted: the token no longer works."),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn delete_probe_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.must_write()?;
    if state.store.delete_probe_token(&caller.org_id, &id).await? {
        crate::audit::by(&caller, "probe_token.deleted", &id, "");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

fn scope_name(scope: KeyScope) -> &'static str {
    match scope {
        KeyScope::Read => "read",
        KeyScope::ReadWrite => "read_write",
    }
}
