//! The failure service's one error type. Client errors say exactly what is wrong (the
//! item and field, the limit passed); a 503 says only that the service is unavailable,
//! with `Retry-After`, and keeps the details for the log.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// What a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or a wrong token.
    #[error("a valid probe or service token is required")]
    Unauthorized,
    /// Over a limit.
    #[error("{0}")]
    TooLarge(String),
    /// Not a valid batch; names the item and field.
    #[error("{0}")]
    BadRequest(String),
    /// The state store or the queue failed; nothing was lost, try again.
    #[error("the failure service is unavailable")]
    Unavailable(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unavailable(detail) => {
                tracing::warn!(detail, "answering 503");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let mut response = (status, Json(json!({ "error": self.to_string() }))).into_response();
        let headers = response.headers_mut();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
