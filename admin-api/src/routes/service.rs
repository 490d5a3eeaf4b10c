//! Routes for Scoville's own services (a service token from `admin.service_token_hashes`):
//! what the failure service needs of an endpoint (its directory) and what a notifier
//! needs of an alert channel (its configuration, secrets included). Never for people: an
//! org API key or session gets 401 here.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use scoville_core::hook::HookRef;
use scoville_core::wire::{DirectoryEntry, MutedWindow};
use scoville_core::{CheckSpec, EndpointId, OrgId};

use crate::app::{AppState, now_ms};
use crate::auth::bearer;
use crate::error::ApiError;

/// A caller holding a service token.
#[derive(Debug, Clone, Copy)]
pub struct ServiceCaller;

impl FromRequestParts<AppState> for ServiceCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or(ApiError::Unauthorized)?;
        if state.service_tokens.accepts(token) {
            Ok(Self)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}

/// What is checked, for messages.
pub fn target(check: &CheckSpec) -> String {
    match check {
        CheckSpec::Http(h) => h.url.to_string(),
        CheckSpec::Tcp(t) => format!("{}:{}", t.host, t.port.get()),
        CheckSpec::Tls(t) => format!("{}:{}", t.host, t.port.get()),
        CheckSpec::Dns(d) => d.name.as_str().to_string(),
        CheckSpec::Icmp(i) => i.host.to_string(),
        CheckSpec::Heartbeat(h) => format!("heartbeat every {} s", h.period_s()),
    }
}

fn ids(org: &str, id: &str) -> Result<(OrgId, EndpointId), ApiError> {
    Ok((
        OrgId::parse(org).map_err(|_| ApiError::NotFound)?,
        EndpointId::parse(id).map_err(|_| ApiError::NotFound)?,
    ))
}

/// `GET /v1/service/endpoints/{org}/{id}`.
#[utoipa::path(
    get,
    path = "/v1/service/endpoints/{org}/{id}",
    operation_id = "service_endpoint_directory",
    tag = "internal",
    security(("service_token" = [])),
    params(
        ("org" = String, Path, description = "The organization."),
        ("id" = String, Path, description = "The endpoint."),
    ),
    responses(
        (status = 200, description = "What the failure service needs of the endpoint.", body = DirectoryEntry),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn endpoint(
    State(state): State<AppState>,
    _caller: ServiceCaller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Json<DirectoryEntry>, ApiError> {
    let (org, id) = ids(&org, &id)?;
    let e = state
        .store
        .endpoint(&org, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let now = now_ms();
    let maintenance = state
        .store
        .windows(&org)
        .await?
        .into_iter()
        .filter(|w| w.to_ms > now && (w.endpoint_ids.is_empty() || w.endpoint_ids.contains(&id)))
        .map(|w| MutedWindow {
            from_ms: w.from_ms,
            to_ms: w.to_ms,
        })
        .collect();
    // Every hook of the org hears every endpoint's state changes (`crate::hook`).
    let mut channels = e.channels.clone();
    for h in state.store.hooks(&org).await? {
        if !channels.contains(&h.id) {
            channels.push(h.id);
        }
    }
    Ok(Json(DirectoryEntry {
        target: target(&e.check),
        policy: e.policy(),
        link: format!("{}/endpoints/{}", state.settings.public_url, e.id.as_str()),
        name: e.name,
        channels,
        maintenance,
    }))
}

/// `GET /v1/service/channels/{org}/{id}`: the channel's configuration as stored.
#[utoipa::path(
    get,
    path = "/v1/service/channels/{org}/{id}",
    operation_id = "service_channel_config",
    tag = "internal",
    security(("service_token" = [])),
    params(
        ("org" = String, Path, description = "The organization."),
        ("id" = String, Path, description = "The alert channel."),
    ),
    responses(
        (status = 200, description = "The channel's configuration (`{\"type\": \"slack\", ...}`), secrets included.", body = Object),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn channel(
    State(state): State<AppState>,
    _caller: ServiceCaller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let org = OrgId::parse(org).map_err(|_| ApiError::NotFound)?;
    if id.starts_with(crate::hook::ID_PREFIX) {
        // A result hook: a signed webhook.
        let hook = state
            .store
            .hook(&org, &id)
            .await?
            .ok_or(ApiError::NotFound)?;
        return Ok(Json(hook.channel_config()));
    }
    let (_, config) = state
        .store
        .channel(&org, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let config: serde_json::Value =
        serde_json::from_str(&config).map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(Json(config))
}

/// `GET /v1/service/hooks/{org}`: the org's result hooks (ids and events; the receiver
/// worker queues every result for the `all` ones).
#[utoipa::path(
    get,
    path = "/v1/service/hooks/{org}",
    operation_id = "service_org_hooks",
    tag = "internal",
    security(("service_token" = [])),
    params(("org" = String, Path, description = "The organization.")),
    responses(
        (status = 200, description = "The organization's hooks (none when it has none).", body = Vec<HookRef>),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn hooks(
    State(state): State<AppState>,
    _caller: ServiceCaller,
    Path(org): Path<String>,
) -> Result<Json<Vec<HookRef>>, ApiError> {
    let org = OrgId::parse(org).map_err(|_| ApiError::NotFound)?;
    let hooks = state.store.hooks(&org).await?;
    Ok(Json(
        hooks
            .into_iter()
            .map(|h| HookRef {
                id: h.id,
                events: h.events,
            })
            .collect(),
    ))
}
