//! Alert channels: create (the configuration is checked by the notifier's own parser, so
//! 422 names the field), list and read (never the configuration: it holds secrets),
//! delete, and "send a test notification" through the notifier's `send_test`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use scoville_notifier::channel::{Channel, ChannelConfig};
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::model::{AlertChannel, Invalid, new_id};

/// A new channel.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    name: String,
    config: serde_json::Value,
}

/// `GET /v1/channels`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<AlertChannel>>, ApiError> {
    Ok(Json(state.store.channels(&caller.org_id).await?))
}

/// `POST /v1/channels`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<AlertChannel>), ApiError> {
    caller.must_write()?;
    let input: NewChannel = super::endpoints::parse_body(&headers, &body)?;
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Invalid::new("name", "must be 1-100 characters").into());
    }
    let config = ChannelConfig::parse_value(input.config.clone()).map_err(|e| {
        Invalid::new(
            format!("config.{}", e.field.trim_start_matches('.')),
            e.message,
        )
    })?;
    let channel = AlertChannel {
        id: new_id("ch_"),
        name,
        kind: config.kind().to_string(),
    };
    state
        .store
        .put_channel(&caller.org_id, &channel, &input.config.to_string())
        .await?;
    Ok((StatusCode::CREATED, Json(channel)))
}

/// `GET /v1/channels/{id}`.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AlertChannel>, ApiError> {
    state
        .store
        .channel(&caller.org_id, &id)
        .await?
        .map(|(c, _)| Json(c))
        .ok_or(ApiError::NotFound)
}

/// `DELETE /v1/channels/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .channel(&caller.org_id, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    caller.must_write()?;
    state.store.delete_channel(&caller.org_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/channels/{id}/test`: 200 when the channel took it, 502 with its answer when
/// it did not.
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let (channel, config) = state
        .store
        .channel(&caller.org_id, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    caller.must_write()?;
    let config =
        ChannelConfig::parse_json(&config).map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let link = format!("{}/channels/{}", state.settings.public_url, channel.id);
    match scoville_notifier::test_notification::send_test(
        &config,
        &state.channel_ctx,
        &caller.org_id,
        &link,
    )
    .await
    {
        Ok(()) => Ok((StatusCode::OK, Json(json!({ "sent": true })))),
        Err(e) => Ok((
            StatusCode::BAD_GATEWAY,
            Json(json!({ "sent": false, "error": e.to_string() })),
        )),
    }
}
