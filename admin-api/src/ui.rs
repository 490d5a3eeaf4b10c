//! The admin web UI: one HTML shell, one script and one style sheet, compiled into the
//! binary from `admin-api/ui/` (plain HTML, CSS and JavaScript: no framework, no build
//! step). The script talks to the same API as everyone else (`/v1/...`, the session
//! cookie) and follows live status through `GET /v1/events`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_has_no_inline_script_or_style() {
        // CSP forbids them: the shell only links the two assets.
        let lower = INDEX_HTML.to_ascii_lowercase();
        assert!(lower.contains("<script src=\"/ui/app.js\""));
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
    fn the_script_never_writes_html() {
        // User text goes through textContent / createElement only.
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!APP_JS.contains(banned), "app.js uses {banned}");
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
