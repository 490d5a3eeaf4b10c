//! The receiver's one error type. Client errors say exactly what is wrong (the item and
//! field of a bad result, the limit that was passed); server errors say only that the
//! queue is unavailable, with `Retry-After`, and keep details for the log.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// What a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or a wrong probe token.
    #[error("a valid probe token is required")]
    Unauthorized,
    /// The body or the batch is over a limit.
    #[error("{0}")]
    TooLarge(String),
    /// The body is not a valid batch; names the field.
    #[error("{0}")]
    BadRequest(String),
    /// The queue is full: try again after the given seconds.
    #[error("the queue is full")]
    QueueFull {
        /// Seconds.
        retry_after: u32,
    },
    /// The queue is unreachable.
    #[error("the queue is unavailable")]
    QueueUnavailable(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, retry_after) = match &self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, None),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, None),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, None),
            ApiError::QueueFull { retry_after } => {
                (StatusCode::SERVICE_UNAVAILABLE, Some(*retry_after))
            }
            ApiError::QueueUnavailable(detail) => {
                tracing::warn!(detail, "queue unavailable; answering 503");
                (StatusCode::SERVICE_UNAVAILABLE, Some(1))
            }
        };
        let mut response = (status, Json(json!({ "error": self.to_string() }))).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
