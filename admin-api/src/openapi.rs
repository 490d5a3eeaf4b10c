//! The API's OpenAPI 3.1 document, served at `GET /v1/openapi.json`.
//!
//! How it is built: every handler carries a `#[utoipa::path(...)]` (method, path,
//! parameters, body, every status it answers, who may call it), the bodies derive
//! `utoipa::ToSchema` (the core types through scoville-core's `openapi` feature), and
//! [`ApiDoc`] lists the handlers. The error answers are shared components
//! ([`BadRequest`], [`Unauthorized`], ... all with the [`ErrorBody`] schema). Tests check
//! that the document lists exactly the routes of [`crate::routes::table`], and a
//! schemathesis run (`tests/openapi.rs`) that the running API answers as it says.
//!
//! Who may call an operation is its `security`: `session` (the `scoville_session`
//! cookie), `api_key` (`Authorization: Bearer sk_...`) or `probe_token`
//! (`Authorization: Bearer pt_...` or a platform token); public operations have none.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response as OaResponse, ResponseBuilder};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi, PartialSchema, ToResponse, ToSchema};

use crate::auth::SESSION_COOKIE;
use crate::error::ErrorBody;
use crate::routes;

/// The document's root: the operations, the shared error answers and the security
/// schemes.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Scoville admin API",
        description = "Organizations, members, API keys, endpoints, alert channels, \
            maintenance windows, status pages, history, and the probes' endpoint list. \
            Errors are JSON `{\"error\": ...}`; 422 also names the `field` and the `reason`. \
            Another organization's things are 404, never 403."
    ),
    paths(
        crate::ui::index,
        crate::ui::script,
        crate::ui::style,
        crate::ui::endpoint_script,
        crate::ui::settings_script,
        crate::ui::status_page,
        crate::ui::status_script,
        crate::ui::status_style,
        routes::healthz,
        routes::readyz,
        routes::metrics::service,
        serve,
        routes::account::signup,
        routes::account::login,
        routes::account::logout,
        routes::account::change_password,
        routes::account::me,
        routes::members::list,
        routes::members::set_role,
        routes::members::remove,
        routes::members::invite,
        routes::members::accept,
        routes::keys::list,
        routes::keys::create,
        routes::keys::delete,
        routes::keys::create_probe_token,
        routes::keys::list_probe_tokens,
        routes::keys::delete_probe_token,
        routes::endpoints::list,
        routes::events::events,
        routes::endpoints::create,
        routes::endpoints::get,
        routes::endpoints::replace,
        routes::endpoints::delete,
        routes::endpoints::pause,
        routes::endpoints::resume,
        routes::ping::ping_get,
        routes::ping::ping_post,
        routes::ping::start_get,
        routes::ping::start_post,
        routes::ping::fail_get,
        routes::ping::fail_post,
        routes::ping::new_token,
        routes::ping::state,
        routes::ping::sweep,
        routes::history::history,
        routes::history::results,
        routes::history::status_badge,
        routes::history::uptime_badge,
        routes::history::response_time_badge,
        routes::sparklines::sparklines,
        routes::transfer::export,
        routes::transfer::import,
        routes::channels::list,
        routes::channels::create,
        routes::channels::get,
        routes::channels::delete,
        routes::channels::test,
        routes::hooks::list,
        routes::hooks::create,
        routes::hooks::get,
        routes::hooks::replace,
        routes::hooks::delete,
        routes::maintenance::list,
        routes::maintenance::create,
        routes::maintenance::delete,
        routes::status_pages::list,
        routes::status_pages::create,
        routes::status_pages::replace,
        routes::status_pages::delete,
        routes::status_pages::public,
        routes::probe::list,
        routes::metrics::endpoints,
        routes::incidents::list,
        routes::incidents::get,
        routes::service::endpoint,
        routes::service::channel,
        routes::service::hooks,
    ),
    components(
        schemas(ErrorBody, routes::events::StatusEvent),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            PayloadTooLarge,
            UnsupportedMediaType,
            Unprocessable,
            TooManyRequests,
            Unavailable,
        )
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "service", description = "Health, the service's own metrics and this document."),
        (name = "heartbeats", description = "Heartbeat (push) checks: ping URLs, tokens, state and the sweep."),
        (name = "ui", description = "The web UI and the public status pages (HTML, scripts and style sheets)."),
        (name = "account", description = "Sign-up, sessions, passwords."),
        (name = "members", description = "Members, roles and invitations."),
        (name = "keys", description = "API keys and probe tokens."),
        (name = "endpoints", description = "What is checked, and how."),
        (name = "history", description = "Rollups, raw results and badges."),
        (name = "channels", description = "Alert channels."),
        (name = "hooks", description = "Result hooks: signed webhooks of every result or of state changes."),
        (name = "maintenance", description = "Maintenance windows."),
        (name = "status pages", description = "Status pages."),
        (name = "incidents", description = "Incidents and their timelines."),
        (name = "metrics", description = "Prometheus text: the per-endpoint status exporter."),
        (name = "internal", description = "For Scoville's own services."),
        (name = "probe", description = "The probes' list of endpoints due."),
    )
)]
pub struct ApiDoc;

/// The security schemes operations refer to.
#[derive(Debug)]
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "The session cookie set by sign-up and login. Acts in the organization \
                 named by `X-Scoville-Org`, or the user's first.",
            ))),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sk_...")
                    .description(Some(
                        "An organization's API key: `read` keys act as a viewer, \
                         `read_write` keys as an admin.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "probe_token",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("pt_...")
                    .description(Some(
                        "A probe token: an organization's own (its endpoints only) or a \
                         platform token from the configuration (every organization's).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "service_token",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token of Scoville's own services (`admin.service_token_hashes`).",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

static DOCUMENT_JSON: LazyLock<String> = LazyLock::new(|| {
    document().to_json().unwrap_or_else(|e| {
        // Serializing the document's plain structs cannot fail; say so rather than panic.
        format!("{{\"error\":\"could not serialize the OpenAPI document: {e}\"}}")
    })
});

/// `GET /v1/openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    operation_id = "openapi",
    tag = "service",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.", content_type = "application/json", body = Object))
)]
pub async fn serve() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT_JSON.as_str(),
    )
        .into_response()
}

/// A JSON error answer with [`ErrorBody`], and the headers it carries.
fn error_response(description: &str, headers: &[(&str, &str)], text_too: bool) -> OaResponse {
    let mut r = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(ErrorBody::name())))
            .build(),
    );
    if text_too {
        r = r.content(
            "text/plain",
            ContentBuilder::new().schema(Some(String::schema())).build(),
        );
    }
    for (name, text) in headers {
        r = r.header(
            *name,
            HeaderBuilder::new()
                .schema(String::schema())
                .description(Some(*text))
                .build(),
        );
    }
    r.build()
}

macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident => $description:literal $(, text $text:literal)? $(, header $h:literal = $hd:literal)*;)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug)]
            pub struct $name;

            impl<'r> ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<OaResponse>) {
                    let text_too = false $(|| $text)?;
                    (
                        stringify!($name),
                        RefOr::T(error_response($description, &[$(($h, $hd)),*], text_too)),
                    )
                }
            }
        )*
    };
}

error_responses! {
    /// 400.
    BadRequest => "The body or the query string is malformed (not JSON, or not what the route takes).";
    /// 401.
    Unauthorized => "No credentials, or credentials that are not valid (any more).",
        header "WWW-Authenticate" = "`Bearer`.";
    /// 403.
    Forbidden => "Allowed to see it, not to do this: a viewer or a read key writing, an admin \
        acting on an owner, an API key where only a signed-in user may act.";
    /// 404.
    NotFound => "No such thing in the caller's organization.";
    /// 409.
    Conflict => "It already exists.";
    /// 413.
    PayloadTooLarge => "The body is larger than the route takes (plain text when the \
        server's own limit stops it before the route).", text true;
    /// 415.
    UnsupportedMediaType => "The body is not sent as JSON (`Content-Type: application/json`).";
    /// 422.
    Unprocessable => "A field or parameter does not hold: `field` names it, `reason` says why.";
    /// 429.
    TooManyRequests => "Too many attempts: wait the seconds in `Retry-After`.",
        header "Retry-After" = "Seconds to wait.";
    /// 503.
    Unavailable => "A store is unavailable; try again after `Retry-After` seconds.",
        header "Retry-After" = "Seconds to wait.";
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// (method, path) of every operation in the document.
    fn operations() -> BTreeSet<(String, String)> {
        let doc = serde_json::to_value(document()).expect("the document serializes");
        let mut ops = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
                if item.get(method).is_some() {
                    ops.insert((method.to_ascii_uppercase(), path.clone()));
                }
            }
        }
        ops
    }

    /// A route added to the table without a `#[utoipa::path]` in [`ApiDoc`] (or the other
    /// way round) fails here.
    #[test]
    fn the_document_lists_exactly_the_routes() {
        let routes: BTreeSet<(String, String)> = routes::table()
            .iter()
            .map(|r| (r.method.to_string(), r.path.to_string()))
            .collect();
        let documented = operations();
        let missing: Vec<_> = routes.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&routes).collect();
        assert!(
            missing.is_empty(),
            "routes without a #[utoipa::path] listed in ApiDoc: {missing:?}"
        );
        assert!(
            extra.is_empty(),
            "documented operations that are not in routes::table(): {extra:?}"
        );
    }

    /// Every operation says who may call it, the way the route table does, and operation
    /// ids are unique.
    #[test]
    fn security_follows_the_route_table() {
        let doc = serde_json::to_value(document()).expect("the document serializes");
        let mut ids = BTreeSet::new();
        for route in routes::table() {
            let method = route.method.as_str().to_ascii_lowercase();
            let op = &doc["paths"][route.path][&method];
            let schemes: BTreeSet<String> = op["security"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|req| req.as_object())
                .flat_map(|req| req.keys().cloned())
                .collect();
            let expected: BTreeSet<String> = match route.access {
                routes::Access::Public => BTreeSet::new(),
                routes::Access::Org => ["api_key", "session"].map(String::from).into(),
                routes::Access::Probe => ["probe_token".to_string()].into(),
                routes::Access::Service => ["service_token".to_string()].into(),
            };
            assert_eq!(schemes, expected, "{} {}", route.method, route.path);
            let responses = op["responses"].as_object().expect("responses");
            // Org routes: no credentials is 401, and a session naming another
            // organization in `X-Scoville-Org` is 404.
            let needed: &[&str] = match route.access {
                routes::Access::Public => &[],
                routes::Access::Org => &["401", "404"],
                routes::Access::Probe => &["401"],
                routes::Access::Service => &["401", "404"],
            };
            for status in needed {
                assert!(
                    responses.contains_key(*status),
                    "{} {} does not document {status}",
                    route.method,
                    route.path
                );
            }
            let id = op["operationId"].as_str().expect("operationId").to_string();
            assert!(ids.insert(id.clone()), "operationId {id} is used twice");
        }
    }

    /// Every `$ref` points at a component that exists.
    #[test]
    fn every_reference_resolves() {
        fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        match (k.as_str(), v.as_str()) {
                            ("$ref", Some(r)) => out.push(r.to_string()),
                            _ => refs(v, out),
                        }
                    }
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let doc = serde_json::to_value(document()).expect("the document serializes");
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let path = r.strip_prefix("#/").expect("a local reference");
            let target = path.split('/').fold(&doc, |v, part| &v[part]);
            assert!(target.is_object(), "{r} does not resolve");
        }
    }

    #[test]
    fn served_json_is_the_document() {
        let served: serde_json::Value =
            serde_json::from_str(&DOCUMENT_JSON).expect("the served document is JSON");
        assert_eq!(served["openapi"], "3.1.0");
        assert!(served["components"]["schemas"]["CheckSpec"].is_object());
        assert!(served["components"]["securitySchemes"]["api_key"].is_object());
    }
}
