//! The admin API's one error type. Client errors say what is wrong (422 names the field);
//! another organization's things are 404, never 403, so their existence does not leak;
//! server errors say only that the service is unavailable and keep details for the log.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

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
    /// The body is larger than the route takes.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body is not JSON (`Content-Type: application/json`).
    #[error("the body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
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

/// The body of every error answer (`field` and `reason` with 422 only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for people.
    pub error: String,
    /// The field, parameter or header at fault, e.g. `check.url` or `regions[2]` (422).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Why that field does not hold (422).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ErrorBody {
    /// An error without a field.
    pub fn new(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            field: None,
            reason: None,
        }
    }
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
            ApiError::Forbidden(why) => {
                tracing::info!(target: crate::audit::TARGET, event = "forbidden", detail = why, "audit");
                StatusCode::FORBIDDEN
            }
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(detail) => {
                tracing::error!(detail, "answering 503");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let body = match &self {
            ApiError::Invalid(i) => ErrorBody {
                error: self.to_string(),
                field: Some(i.field.clone()),
                reason: Some(i.reason.clone()),
            },
            _ => ErrorBody::new(self.to_string()),
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
