//! Status pages: an org chooses endpoints and a public slug; anyone can read
//! `GET /v1/public/status/{slug}`: the title and, per endpoint, its name and current
//! status (from the latest results of its last three intervals; `unknown` without a
//! history store). Nothing else of the org is shown: no ids, targets or errors.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use scoville_core::EndpointId;
use serde::{Deserialize, Serialize};

use crate::app::{AppState, now_ms};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::history::EndpointStatus;
use crate::model::{Invalid, StatusPage, new_id};

/// A new status page.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewStatusPage)]
pub struct NewPage {
    /// The public address part: 3-64 lower-case letters, digits or `-` (trimmed, upper
    /// case lower-cased).
    #[schema(example = "acme-status")]
    slug: String,
    /// Its title (shown publicly), 1-200 characters (trimmed).
    #[schema(min_length = 1, example = "Acme status")]
    title: String,
    /// The organization's endpoints shown, in order: 1-200.
    #[schema(min_items = 1, max_items = 200)]
    endpoint_ids: Vec<EndpointId>,
}

/// A status page as anyone sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicPage {
    /// The page's title.
    pub title: String,
    /// Its endpoints, in order (deleted ones drop off).
    pub endpoints: Vec<PublicEndpoint>,
}

/// One endpoint of a public status page: its name and state, nothing else.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicEndpoint {
    /// The endpoint's name.
    pub name: String,
    /// Its state from the latest results of its last three intervals.
    pub status: EndpointStatus,
    /// Whether it is paused.
    pub paused: bool,
}

/// `GET /v1/status-pages`.
#[utoipa::path(
    get,
    path = "/v1/status-pages",
    operation_id = "list_status_pages",
    tag = "status pages",
    security(("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The organization's status pages.", body = Vec<StatusPage>),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<StatusPage>>, ApiError> {
    Ok(Json(state.store.status_pages(&caller.org_id).await?))
}

/// `POST /v1/status-pages`.
#[utoipa::path(
    post,
    path = "/v1/status-pages",
    operation_id = "create_status_page",
    tag = "status pages",
    security(("session" = []), ("api_key" = [])),
    request_body = NewPage,
    responses(
        (status = 201, description = "The page, with its new id.", body = StatusPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
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
) -> Result<(StatusCode, Json<StatusPage>), ApiError> {
    caller.must_write()?;
    let p: NewPage = super::endpoints::parse_body(&headers, &body)?;
    let slug = p.slug.trim().to_ascii_lowercase();
    if !(3..=64).contains(&slug.len())
        || !slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(Invalid::new("slug", "must be 3-64 lower-case letters, digits or '-'").into());
    }
    let title = p.title.trim().to_string();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(Invalid::new("title", "must be 1-200 characters").into());
    }
    if p.endpoint_ids.is_empty() || p.endpoint_ids.len() > 200 {
        return Err(Invalid::new("endpoint_ids", "must list 1-200 endpoints").into());
    }
    super::endpoints::check_own_endpoints(&state, &caller.org_id, "endpoint_ids", &p.endpoint_ids)
        .await?;
    let page = StatusPage {
        id: new_id("sp_"),
        slug,
        title,
        endpoint_ids: p.endpoint_ids,
    };
    state.store.put_status_page(&caller.org_id, &page).await?;
    Ok((StatusCode::CREATED, Json(page)))
}

/// `DELETE /v1/status-pages/{id}`.
#[utoipa::path(
    delete,
    path = "/v1/status-pages/{id}",
    operation_id = "delete_status_page",
    tag = "status pages",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The page's id.")),
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
    let known = state
        .store
        .status_pages(&caller.org_id)
        .await?
        .iter()
        .any(|p| p.id == id);
    if !known {
        return Err(ApiError::NotFound);
    }
    caller.must_write()?;
    state.store.delete_status_page(&caller.org_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/public/status/{slug}`: no credentials.
#[utoipa::path(
    get,
    path = "/v1/public/status/{slug}",
    operation_id = "public_status_page",
    tag = "status pages",
    params(("slug" = String, Path, description = "The page's slug (any case).")),
    responses(
        (status = 200, description = "The page: its title, and each endpoint's name and state.", body = PublicPage),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn public(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Json<PublicPage>, ApiError> {
    let (org, page) = state
        .store
        .status_page_by_slug(&slug.to_ascii_lowercase())
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut endpoints = Vec::with_capacity(page.endpoint_ids.len());
    for id in &page.endpoint_ids {
        // A deleted endpoint drops off the page.
        let Some(e) = state.store.endpoint(&org, id).await? else {
            continue;
        };
        let status = match &state.history {
            Some(h) => {
                let since = now_ms() - 3 * i64::from(e.interval_s) * 1000;
                match h.latest(&org, id, since).await {
                    Ok(rows) => EndpointStatus::from_latest(&rows),
                    Err(_) => EndpointStatus::Unknown,
                }
            }
            None => EndpointStatus::Unknown,
        };
        endpoints.push(PublicEndpoint {
            name: e.name,
            status,
            paused: e.paused,
        });
    }
    Ok(Json(PublicPage {
        title: page.title,
        endpoints,
    }))
}
