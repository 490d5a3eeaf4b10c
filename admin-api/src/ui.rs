//! The admin web UI: one HTML shell, three scripts and one style sheet, compiled into the
//! binary from `admin-api/ui/` (plain HTML, CSS and JavaScript: no framework, no build
//! step). The scripts talk to the same API as everyone else (`/v1/...`, the session
//! cookie) and follow live status through `GET /v1/events`:
//!
//! - `app.js`: helpers, the session (sign-up, login, logout), the header (navigation,
//!   and an organization switcher for users in several: it sets the `scoville_org`
//!   cookie, see [`crate::auth`]), the live dashboard and the hash router;
//! - `endpoint.js`: the endpoint page (`#/endpoints/{id}`: response time as p50 and p95
//!   lines per region over 1 h, 24 h, 7 d or 30 d, hand-drawn SVG; Apdex over time; each
//!   region's latest check; the timing breakdown of recent checks; the incident
//!   timeline; the latest error; pause, resume, edit, delete) and the endpoint form
//!   (`#/endpoints/new`, `#/endpoints/{id}/edit`) with the API's 422 shown next to the
//!   field it names;
//! - `settings.js`: alert channels (create per kind, delete, send a test notification),
//!   maintenance windows, members and invitations (the link to join, `#/join/{token}`),
//!   and API keys (the secret shown once).
//!
//! Public status pages are a second, separate shell: `GET /status/{slug}` with
//! `/ui/status.js` and `/ui/status.css`, no login, reading only
//! `GET /v1/public/status/{slug}`.
//!
//! Every answer carries a strict Content-Security-Policy (`default-src 'self'`, no inline
//! script or style), `X-Content-Type-Options: nosniff`, no framing, and an `ETag`: the
//! browser revalidates (`Cache-Control: no-cache`) and gets a 304 while the binary is
//! the same.

use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The Content-Security-Policy of every UI answer.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

const INDEX_HTML: &str = include_str!("../ui/index.html");
const APP_JS: &str = include_str!("../ui/app.js");
const APP_CSS: &str = include_str!("../ui/app.css");
const ENDPOINT_JS: &str = include_str!("../ui/endpoint.js");
const SETTINGS_JS: &str = include_str!("../ui/settings.js");
const STATUS_HTML: &str = include_str!("../ui/status.html");
const STATUS_JS: &str = include_str!("../ui/status.js");
const STATUS_CSS: &str = include_str!("../ui/status.css");

/// One asset and its validator.
struct Asset {
    body: &'static str,
    content_type: &'static str,
    etag: String,
}

impl Asset {
    fn new(body: &'static str, content_type: &'static str) -> Self {
        let digest = Sha256::digest(body.as_bytes());
        Self {
            body,
            content_type,
            etag: format!("\"{}\"", hex::encode(&digest[..12])),
        }
    }

    fn serve(&self, headers: &HeaderMap) -> Response {
        let fresh = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|t| t.trim() == self.etag || t.trim() == "*")
            });
        let mut resp = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(self.content_type),
                )],
                self.body,
            )
                .into_response()
        };
        let h = resp.headers_mut();
        if let Ok(etag) = HeaderValue::from_str(&self.etag) {
            h.insert(header::ETAG, etag);
        }
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        resp
    }
}

static INDEX: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(INDEX_HTML, "text/html; charset=utf-8"));
static SCRIPT: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(APP_JS, "text/javascript; charset=utf-8"));
static STYLE: LazyLock<Asset> = LazyLock::new(|| Asset::new(APP_CSS, "text/css; charset=utf-8"));

/// `GET /`: the UI's shell.
#[utoipa::path(
    get,
    path = "/",
    operation_id = "ui_index",
    tag = "ui",
    responses(
        (status = 200, description = "The web UI's HTML shell (it loads `/ui/app.js` and `/ui/app.css`).",
            content_type = "text/html", body = String,
            headers(
                ("ETag" = String, description = "The asset's validator."),
                ("Cache-Control" = String, description = "`no-cache`: revalidate with `If-None-Match`."),
                ("Content-Security-Policy" = String, description = "`default-src 'self'` and no inline script."),
            )),
        (status = 304, description = "Unchanged since the `If-None-Match` validator."),
    )
)]
pub async fn index(headers: HeaderMap) -> Response {
    INDEX.serve(&headers)
}

/// `GET /ui/app.js`: the UI's script.
#[utoipa::path(
    get,
    path = "/ui/app.js",
    operation_id = "ui_script",
    tag = "ui",
    responses(
        (status = 200, description = "The web UI's script.", content_type = "text/javascript", body = String,
            headers(
                ("ETag" = String, description = "The asset's validator."),
                ("Cache-Control" = String, description = "`no-cache`: revalidate with `If-None-Match`."),
            )),
        (status = 304, description = "Unchanged since the `If-None-Match` validator."),
    )
)]
pub async fn script(headers: HeaderMap) -> Response {
    SCRIPT.serve(&headers)
}

/// `GET /ui/app.css`: the UI's style sheet.
#[utoipa::path(
    get,
    path = "/ui/app.css",
    operation_id = "ui_style",
    tag = "ui",
    responses(
        (status = 200, description = "The web UI's style sheet.", content_type = "text/css", body = String,
            headers(
                ("ETag" = String, description = "The asset's validator."),
                ("Cache-Control" = String, description = "`no-cache`: revalidate with `If-None-Match`."),
            )),
        (status = 304, description = "Unchanged since the `If-None-Match` validator."),
    )
)]
pub async fn style(headers: HeaderMap) -> Response {
    STYLE.serve(&headers)
}

static ENDPOINT_SCRIPT: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(ENDPOINT_JS, "text/javascript; charset=utf-8"));
static SETTINGS_SCRIPT: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(SETTINGS_JS, "text/javascript; charset=utf-8"));

/// `GET /ui/endpoint.js`: the endpoint page and form.
#[utoipa::path(
    get,
    path = "/ui/endpoint.js",
    operation_id = "ui_endpoint_script",
    tag = "ui",
    responses(
        (status = 200, description = "The web UI's endpoint page and form.", content_type = "text/javascript", body = String,
            headers(
                ("ETag" = String, description = "The asset's validator."),
                ("Cache-Control" = String, description = "`no-cache`: revalidate with `If-None-Match`."),
            )),
        (status = 304, description = "Unchanged since the `If-None-Match` validator."),
    )
)]
pub async fn endpoint_script(headers: HeaderMap) -> Response {
    ENDPOINT_SCRIPT.serve(&headers)
}

/// `GET /ui/settings.js`: the channels, maintenance, members and API keys pages.
#[utoipa::path(
    get,
    path = "/ui/settings.js",
    operation_id = "ui_settings_script",
    tag = "ui",
    responses(
        (status = 200, description = "The web UI's channels, maintenance, members and API keys pages.", content_type = "text/javascript", body = String,
            headers(
                ("ETag" = String, description = "The asset's validator."),
                ("Cache-Control" = String, description = "`no-cache`: revalidate with `If-None-Match`."),
            )),
        (status = 304, description = "Unchanged since the `If-None-Match` validator."),
    )
)]
pub async fn settings_script(headers: HeaderMap) -> Response {
    SETTINGS_SCRIPT.serve(&headers)
}

static STATUS_PAGE: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(STATUS_HTML, "text/html; charset=utf-8"));
static STATUS_SCRIPT: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(STATUS_JS, "text/javascript; charset=utf-8"));
static STATUS_STYLE: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(STATUS_CSS, "text/css; charset=utf-8"));

/// `GET /status/{slug}`: a public status page (no login). The same shell for every
/// slug: its script reads `GET /v1/public/status/{slug}` and says when there is no such
/// page.
#[utoipa::path(
    get,
    path = "/status/{slug}",
    operation_id = "ui_status_page",
    tag = "ui",
    params(("slug" = String, Path, description = "The status page's slug.")),
    responses(
        (status = 200, description = "The public status page's HTML shell (it loads `/ui/status.js` and `/ui/status.css`).",
            content_type = "text/html", body = String,
            headers(
                ("ETag" = String, description = "The asset's validator."),
                ("Cache-Control" = String, description = "`no-cache`: revalidate with `If-None-Match`."),
                ("Content-Security-Policy" = String, description = "`default-src 'self'` and no inline script."),
            )),
        (status = 304, description = "Unchanged since the `If-None-Match` validator."),
    )
)]
pub async fn status_page(headers: HeaderMap) -> Response {
    STATUS_PAGE.serve(&headers)
}

/// `GET /ui/status.js`: the status page's script.
#[utoipa::path(
    get,
    path = "/ui/status.js",
    operation_id = "ui_status_script",
    tag = "ui",
    responses(
        (status = 200, description = "The public status page's script.", content_type = "text/javascript", body = String,
            headers(
                ("ETag" = String, description = "The asset's validator."),
                ("Cache-Control" = String, description = "`no-cache`: revalidate with `If-None-Match`."),
            )),
        (status = 304, description = "Unchanged since the `If-None-Match` validator."),
    )
)]
pub async fn status_script(headers: HeaderMap) -> Response {
    STATUS_SCRIPT.serve(&headers)
}

/// `GET /ui/status.css`: the status page's style sheet.
#[utoipa::path(
    get,
    path = "/ui/status.css",
    operation_id = "ui_status_style",
    tag = "ui",
    responses(
        (status = 200, description = "The public status page's style sheet.", content_type = "text/css", body = String,
            headers(
                ("ETag" = String, description = "The asset's validator."),
                ("Cache-Control" = String, description = "`no-cache`: revalidate with `If-None-Match`."),
            )),
        (status = 304, description = "Unchanged since the `If-None-Match` validator."),
    )
)]
pub async fn status_style(headers: HeaderMap) -> Response {
    STATUS_STYLE.serve(&headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_has_no_inline_script_or_style() {
        // CSP forbids them: the shell only links the assets.
        let lower = INDEX_HTML.to_ascii_lowercase();
        assert!(lower.contains("<script src=\"/ui/app.js\""));
        assert!(lower.contains("<script src=\"/ui/endpoint.js\""));
        assert!(lower.contains("<script src=\"/ui/settings.js\""));
        assert!(!lower.contains("<script>"));
        assert!(!lower.contains("<style"));
        assert!(!lower.contains("style=\""));
        for handler in ["onclick=", "onload=", "onerror=", "onsubmit=", "oninput="] {
            assert!(
                !lower.contains(handler),
                "no inline event handlers: {handler}"
            );
        }
    }

    #[test]
    fn the_status_page_has_no_inline_script_and_its_script_never_writes_html() {
        let lower = STATUS_HTML.to_ascii_lowercase();
        assert!(lower.contains("<script src=\"/ui/status.js\""));
        assert!(lower.contains("href=\"/ui/status.css\""));
        assert!(!lower.contains("<script>"));
        assert!(!lower.contains("<style"));
        assert!(!lower.contains("style=\""));
        for handler in ["onclick=", "onload=", "onerror=", "onsubmit=", "oninput="] {
            assert!(
                !lower.contains(handler),
                "no inline event handlers: {handler}"
            );
        }
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            ".setAttribute(\"style",
        ] {
            assert!(!STATUS_JS.contains(banned), "status.js uses {banned}");
        }
    }

    #[tokio::test]
    async fn status_assets_answer_with_their_type_and_the_csp() {
        for (resp, kind) in [
            (
                status_page(HeaderMap::new()).await,
                "text/html; charset=utf-8",
            ),
            (
                status_script(HeaderMap::new()).await,
                "text/javascript; charset=utf-8",
            ),
            (
                status_style(HeaderMap::new()).await,
                "text/css; charset=utf-8",
            ),
        ] {
            assert_eq!(resp.status(), StatusCode::OK);
            assert_eq!(resp.headers()[header::CONTENT_TYPE], kind);
            assert_eq!(resp.headers()[header::CONTENT_SECURITY_POLICY], CSP);
        }
    }

    #[test]
    fn the_script_never_writes_html() {
        // User text goes through textContent / createElement only.
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            for (name, script) in [
                ("app.js", APP_JS),
                ("endpoint.js", ENDPOINT_JS),
                ("settings.js", SETTINGS_JS),
            ] {
                assert!(!script.contains(banned), "{name} uses {banned}");
            }
        }
    }

    #[tokio::test]
    async fn assets_answer_with_their_type_and_revalidate() {
        let resp = script(HeaderMap::new()).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let h = resp.headers();
        assert_eq!(h[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], CSP);
        let etag = h[header::ETAG].clone();
        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(script(again).await.status(), StatusCode::NOT_MODIFIED);
        for resp in [
            endpoint_script(HeaderMap::new()).await,
            settings_script(HeaderMap::new()).await,
        ] {
            assert_eq!(resp.status(), StatusCode::OK);
            assert_eq!(
                resp.headers()[header::CONTENT_TYPE],
                "text/javascript; charset=utf-8"
            );
            assert_eq!(resp.headers()[header::CONTENT_SECURITY_POLICY], CSP);
        }
        let css = style(HeaderMap::new()).await;
        assert_eq!(
            css.headers()[header::CONTENT_TYPE],
            "text/css; charset=utf-8"
        );
        let html = index(HeaderMap::new()).await;
        assert_eq!(
            html.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
    }
}
