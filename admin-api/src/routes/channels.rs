//! Alert channels: create (the configuration is checked by the notifier's own parser, so
//! 422 names the field), list and read (never the configuration: it holds secrets),
//! delete, and "send a test notification" through the notifier's `send_test`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use scoville_notifier::channel::{CHANNEL_TYPES, Channel, ChannelConfig};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::model::{AlertChannel, Invalid, new_id};

/// A new channel.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    /// A label, 1-100 characters (trimmed).
    #[schema(min_length = 1, example = "on-call")]
    name: String,
    /// The channel's configuration, checked by the notifier (422 names the field).
    #[schema(schema_with = config_schema)]
    config: serde_json::Value,
}

/// The schema of a channel's configuration: an object whose `type` names the channel
/// kind; the other fields are the kind's (webhook URLs, tokens, addresses).
fn config_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Object))
        .description(Some(
            "`{\"type\": KIND, ...}`: the kind's own fields (such as `url` for `webhook`, \
             `slack`, `discord` and `teams`). Never answered: it holds secrets.",
        ))
        .property(
            "type",
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::String))
                .enum_values(Some(CHANNEL_TYPES.iter().copied())),
        )
        .required("type")
        .into()
}

/// The answer of a test notification.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestOutcome {
    /// Whether the channel took it.
    pub sent: bool,
    /// The channel's answer when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /v1/channels`.
#[utoipa::path(
    get,
    path = "/v1/channels",
    operation_id = "list_channels",
    tag = "channels",
    security(("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The organization's channels (never their configuration).", body = Vec<AlertChannel>),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<AlertChannel>>, ApiError> {
    Ok(Json(state.store.channels(&caller.org_id).await?))
}

/// `POST /v1/channels`.
#[utoipa::path(
    post,
    path = "/v1/channels",
    operation_id = "create_channel",
    tag = "channels",
    security(("session" = []), ("api_key" = [])),
    request_body = NewChannel,
    responses(
        (status = 201, description = "The channel, with its new id.", body = AlertChannel),
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
#[utoipa::path(
    get,
    path = "/v1/channels/{id}",
    operation_id = "get_channel",
    tag = "channels",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The channel's id.")),
    responses(
        (status = 200, description = "The channel (never its configuration).", body = AlertChannel),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
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
#[utoipa::path(
    delete,
    path = "/v1/channels/{id}",
    operation_id = "delete_channel",
    tag = "channels",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The channel's id.")),
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
#[utoipa::path(
    post,
    path = "/v1/channels/{id}/test",
    operation_id = "test_channel",
    tag = "channels",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The channel's id.")),
    responses(
        (status = 200, description = "The channel took the test notification.", body = TestOutcome),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 502, description = "The channel refused or could not be reached: its answer.", body = TestOutcome),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<TestOutcome>), ApiError> {
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
        Ok(()) => Ok((
            StatusCode::OK,
            Json(TestOutcome {
                sent: true,
                error: None,
            }),
        )),
        Err(e) => Ok((
            StatusCode::BAD_GATEWAY,
            Json(TestOutcome {
                sent: false,
                error: Some(e.to_string()),
            }),
        )),
    }
}
