//! The route table: every route of the API in one list, from which [`crate::app::router`]
//! is built and the tenant-isolation test is generated, so a new route is covered
//! without anyone remembering to add it to the test. The OpenAPI document
//! ([`crate::openapi`]) must list the same routes: a test compares them.

pub mod account;
pub mod channels;
pub mod endpoints;
pub mod events;
pub mod history;
pub mod hooks;
pub mod incidents;
pub mod keys;
pub mod maintenance;
pub mod members;
pub mod metrics;
pub mod ping;
pub mod probe;
pub mod service;
pub mod sparklines;
pub mod status_pages;
pub mod transfer;

use axum::extract::{FromRequest, Request};
use axum::http::{Method, StatusCode};
use axum::routing::{MethodRouter, delete, get, post, put};
use bytes::Bytes;

use crate::app::AppState;
use crate::error::ApiError;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (sign-up, login, health).
    Public,
    /// A member of an organization (session or API key); `{id}` names that org's things.
    Org,
    /// A probe token.
    Probe,
    /// A service token (Scoville's own failure service and notifiers).
    Service,
}

/// One route.
#[derive(Debug)]
pub struct Route {
    /// HTTP method.
    pub method: Method,
    /// Path, with `{id}` for the org-owned thing it addresses.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// The handler.
    pub handler: MethodRouter<AppState>,
}

fn r(method: Method, path: &'static str, access: Access, handler: MethodRouter<AppState>) -> Route {
    Route {
        method,
        path,
        access,
        handler,
    }
}

/// A JSON body, parsed as `endpoints::parse_body` does: 415 without a JSON content
/// type, 413 over the limit, 400 when it is not JSON, 422 naming the field. For handlers
/// that need nothing checked before the body is read.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(e.body_text()),
                _ => ApiError::BadRequest(e.body_text()),
            })?;
        endpoints::parse_body(&headers, &body).map(JsonBody)
    }
}

/// `GET /healthz`: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "service",
    responses((status = 200, description = "The process answers.", content_type = "text/plain", body = String, example = "ok\n"))
)]
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: the store answers.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "service",
    responses(
        (status = 200, description = "The store answers.", content_type = "text/plain", body = String, example = "ready\n"),
        (status = 503, description = "The store does not answer.", content_type = "text/plain", body = String, example = "store unavailable\n"),
    )
)]
pub async fn readyz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (StatusCode, &'static str) {
    match state.store.generation().await {
        Ok(_) => (StatusCode::OK, "ready\n"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n"),
    }
}

/// Every route.
pub fn table() -> Vec<Route> {
    use Access::{Org, Probe, Public, Service};
    vec![
        r(Method::GET, "/", Public, get(crate::ui::index)),
        r(Method::GET, "/ui/app.js", Public, get(crate::ui::script)),
        r(Method::GET, "/ui/app.css", Public, get(crate::ui::style)),
        r(
            Method::GET,
            "/ui/endpoint.js",
            Public,
            get(crate::ui::endpoint_script),
        ),
        r(
            Method::GET,
            "/ui/settings.js",
            Public,
            get(crate::ui::settings_script),
        ),
        r(
            Method::GET,
            "/status/{slug}",
            Public,
            get(crate::ui::status_page),
        ),
        r(
            Method::GET,
            "/ui/status.js",
            Public,
            get(crate::ui::status_script),
        ),
        r(
            Method::GET,
            "/ui/status.css",
            Public,
            get(crate::ui::status_style),
        ),
        r(Method::GET, "/healthz", Public, get(healthz)),
        r(Method::GET, "/readyz", Public, get(readyz)),
        r(Method::GET, "/metrics", Public, get(metrics::service)),
        r(
            Method::GET,
            "/v1/openapi.json",
            Public,
            get(crate::openapi::serve),
        ),
        r(Method::POST, "/v1/signup", Public, post(account::signup)),
        r(Method::POST, "/v1/login", Public, post(account::login)),
        r(Method::POST, "/v1/logout", Public, post(account::logout)),
        r(
            Method::POST,
            "/v1/password",
            Org,
            post(account::change_password),
        ),
        r(Method::GET, "/v1/me", Org, get(account::me)),
        r(Method::GET, "/v1/members", Org, get(members::list)),
        r(Method::PUT, "/v1/members/{id}", Org, put(members::set_role)),
        r(
            Method::DELETE,
            "/v1/members/{id}",
            Org,
            delete(members::remove),
        ),
        r(Method::POST, "/v1/invitations", Org, post(members::invite)),
        r(
            Method::POST,
            "/v1/invitations/accept",
            Org,
            post(members::accept),
        ),
        r(Method::GET, "/v1/api-keys", Org, get(keys::list)),
        r(Method::POST, "/v1/api-keys", Org, post(keys::create)),
        r(
            Method::DELETE,
            "/v1/api-keys/{id}",
            Org,
            delete(keys::delete),
        ),
        r(
            Method::GET,
            "/v1/probe-tokens",
            Org,
            get(keys::list_probe_tokens),
        ),
        r(
            Method::POST,
            "/v1/probe-tokens",
            Org,
            post(keys::create_probe_token),
        ),
        r(
            Method::DELETE,
            "/v1/probe-tokens/{id}",
            Org,
            delete(keys::delete_probe_token),
        ),
        r(Method::GET, "/v1/endpoints", Org, get(endpoints::list)),
        r(Method::GET, "/v1/events", Org, get(events::events)),
        r(Method::GET, "/v1/ping/{token}", Public, get(ping::ping_get)),
        r(Method::POST, "/v1/ping/{token}", Public, post(ping::ping_post)),
        r(
            Method::GET,
            "/v1/ping/{token}/start",
            Public,
            get(ping::start_get),
        ),
        r(
            Method::POST,
            "/v1/ping/{token}/start",
            Public,
            post(ping::start_post),
        ),
        r(
            Method::GET,
            "/v1/ping/{token}/fail",
            Public,
            get(ping::fail_get),
        ),
        r(
            Method::POST,
            "/v1/ping/{token}/fail",
            Public,
            post(ping::fail_post),
        ),
        r(
            Method::POST,
            "/v1/endpoints/{id}/ping-token",
            Org,
            post(ping::new_token),
        ),
        r(
            Method::GET,
            "/v1/endpoints/{id}/heartbeat",
            Org,
            get(ping::state),
        ),
        r(
            Method::POST,
            "/v1/service/heartbeats/sweep",
            Service,
            post(ping::sweep),
        ),
        r(Method::POST, "/v1/endpoints", Org, post(endpoints::create)),
        r(Method::GET, "/v1/endpoints/{id}", Org, get(endpoints::get)),
        r(
            Method::PUT,
            "/v1/endpoints/{id}",
            Org,
            put(endpoints::replace),
        ),
        r(
            Method::DELETE,
            "/v1/endpoints/{id}",
            Org,
            delete(endpoints::delete),
        ),
        r(
            Method::POST,
            "/v1/endpoints/{id}/pause",
            Org,
            post(endpoints::pause),
        ),
        r(
            Method::POST,
            "/v1/endpoints/{id}/resume",
            Org,
            post(endpoints::resume),
        ),
        r(
            Method::GET,
            "/v1/endpoints/{id}/history",
            Org,
            get(history::history),
        ),
        r(
            Method::GET,
            "/v1/endpoints/{id}/results",
            Org,
            get(history::results),
        ),
        r(
            Method::GET,
            "/v1/endpoints/{id}/badge/status",
            Org,
            get(history::status_badge),
        ),
        r(
            Method::GET,
            "/v1/endpoints/{id}/badge/uptime",
            Org,
            get(history::uptime_badge),
        ),
        r(
            Method::GET,
            "/v1/endpoints/{id}/badge/response-time",
            Org,
            get(history::response_time_badge),
        ),
        r(Method::GET, "/v1/export", Org, get(transfer::export)),
        r(
            Method::POST,
            "/v1/import",
            Org,
            post(transfer::import).layer(axum::extract::DefaultBodyLimit::max(
                crate::transfer::MAX_IMPORT_BYTES,
            )),
        ),
        r(
            Method::GET,
            "/v1/sparklines",
            Org,
            get(sparklines::sparklines),
        ),
        r(Method::GET, "/v1/channels", Org, get(channels::list)),
        r(Method::POST, "/v1/channels", Org, post(channels::create)),
        r(Method::GET, "/v1/channels/{id}", Org, get(channels::get)),
        r(
            Method::DELETE,
            "/v1/channels/{id}",
            Org,
            delete(channels::delete),
        ),
        r(
            Method::POST,
            "/v1/channels/{id}/test",
            Org,
            post(channels::test),
        ),
        r(Method::GET, "/v1/hooks", Org, get(hooks::list)),
        r(Method::POST, "/v1/hooks", Org, post(hooks::create)),
        r(Method::GET, "/v1/hooks/{id}", Org, get(hooks::get)),
        r(Method::PUT, "/v1/hooks/{id}", Org, put(hooks::replace)),
        r(Method::DELETE, "/v1/hooks/{id}", Org, delete(hooks::delete)),
        r(Method::GET, "/v1/maintenance", Org, get(maintenance::list)),
        r(
            Method::POST,
            "/v1/maintenance",
            Org,
            post(maintenance::create),
        ),
        r(
            Method::DELETE,
            "/v1/maintenance/{id}",
            Org,
            delete(maintenance::delete),
        ),
        r(
            Method::GET,
            "/v1/status-pages",
            Org,
            get(status_pages::list),
        ),
        r(
            Method::POST,
            "/v1/status-pages",
            Org,
            post(status_pages::create),
        ),
        r(
            Method::PUT,
            "/v1/status-pages/{id}",
            Org,
            put(status_pages::replace),
        ),
        r(
            Method::DELETE,
            "/v1/status-pages/{id}",
            Org,
            delete(status_pages::delete),
        ),
        r(
            Method::GET,
            "/v1/public/status/{slug}",
            Public,
            get(status_pages::public),
        ),
        r(
            Method::GET,
            "/v1/metrics/endpoints",
            Org,
            get(metrics::endpoints),
        ),
        r(Method::GET, "/v1/incidents", Org, get(incidents::list)),
        r(Method::GET, "/v1/incidents/{id}", Org, get(incidents::get)),
        r(Method::GET, "/v1/probe/endpoints", Probe, get(probe::list)),
        r(
            Method::GET,
            "/v1/service/endpoints/{org}/{id}",
            Service,
            get(service::endpoint),
        ),
        r(
            Method::GET,
            "/v1/service/channels/{org}/{id}",
            Service,
            get(service::channel),
        ),
        r(
            Method::GET,
            "/v1/service/hooks/{org}",
            Service,
            get(service::hooks),
        ),
    ]
}
