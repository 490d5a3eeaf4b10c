//! The admin API's one error type. Client errors say what is wrong (422 names the field);
//! another organization's things are 404, never 403, so their existence does not leak;
//! server errors say only that the service is unavailable and keep details for the log.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::model::Invalid;
use crate::store::StoreError;

/// What a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or bad credentials.
    #[error("sign in or give a valid API key")]
    Unauthorized,
    /// Allowed to see it, not to do this (a viewer writing, an admin removing the owner).
    #[error("{0}")]
    Forbidden(&'static str),
    /// No such thing in this organization.
    #[error("not found")]
    NotFound,
    /// A field does not hold.
    #[error("{0}")]
    Invalid(Invalid),
    /// The body or query is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// Already exists.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// Too many attempts; retry after the seconds given.
    #[error("too many attempts; try again later")]
    TooManyRequests(u64),
    /// The store failed.
    #[error("the service is unavailable")]
    Unavailable(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => ApiError::Conflict(what),
            StoreError::Unavailable(detail) => ApiError::Unavailable(detail),
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::Invalid(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(detail) => {
                tracing::error!(detail, "answering 503");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let body = match &self {
            ApiError::Invalid(i) => {
                json!({ "error": self.to_string(), "field": i.field, "reason": i.reason })
            }
            _ => json!({ "error": self.to_string() }),
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::TooManyRequests(secs) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*secs));
            }
            ApiError::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            }
            ApiError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}
