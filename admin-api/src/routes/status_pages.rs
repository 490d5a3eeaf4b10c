//! Status pages: an org chooses endpoints and a public slug; anyone can read
//! `GET /v1/public/status/{slug}`: the title and, per endpoint, its name and current
//! status (from the latest results of its last three intervals; `unknown` without a
//! history store). Nothing else of the org is shown: no ids, targets or errors.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use scoville_core::EndpointId;
use serde::Deserialize;
use serde_json::json;

use crate::app::{AppState, now_ms};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::history::EndpointStatus;
use crate::model::{Invalid, StatusPage, new_id};

/// A new status page.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPage {
    slug: String,
    title: String,
    endpoint_ids: Vec<EndpointId>,
}

/// `GET /v1/status-pages`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<StatusPage>>, ApiError> {
    Ok(Json(state.store.status_pages(&caller.org_id).await?))
}

/// `POST /v1/status-pages`.
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
pub async fn public(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
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
        endpoints.push(json!({ "name": e.name, "status": status, "paused": e.paused }));
    }
    Ok(Json(json!({ "title": page.title, "endpoints": endpoints })))
}
