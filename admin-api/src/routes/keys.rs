//! Org API keys (shown once, stored hashed, read or read-write) and probe tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::auth::{Caller, hash_secret};
use crate::error::ApiError;
use crate::model::{ApiKey, Invalid, KeyScope, new_id, new_secret};

/// A new key or token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    name: String,
    #[serde(default = "read")]
    scope: KeyScope,
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
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    Ok(Json(state.store.api_keys(&caller.org_id).await?))
}

/// `POST /v1/api-keys`: the key is in this answer only.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewKey>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    caller.must_write()?;
    let key = ApiKey {
        id: new_id("key_"),
        name: name(&body.name)?,
        scope: body.scope,
    };
    let secret = new_secret("sk_");
    state
        .store
        .create_api_key(&caller.org_id, &key, &hash_secret(&secret))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": key.id, "name": key.name, "scope": key.scope, "key": secret })),
    ))
}

/// `DELETE /v1/api-keys/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.must_write()?;
    if state.store.delete_api_key(&caller.org_id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// `POST /v1/probe-tokens`: a token for the org's private probes (in this answer only).
pub async fn create_probe_token(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewKey>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    caller.must_write()?;
    let (id, name) = (new_id("pt_"), name(&body.name)?);
    let secret = new_secret("pt_");
    state
        .store
        .create_probe_token(&caller.org_id, &id, &name, &hash_secret(&secret))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "name": name, "token": secret })),
    ))
}
