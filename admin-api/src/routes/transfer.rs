//! `GET /v1/export` and `POST /v1/import`: an organization's endpoints as one JSON file,
//! and that file (or an Uptime Kuma backup) read back in. The rules are in
//! [`crate::transfer`].

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use scoville_core::EndpointId;
use serde::Serialize;
use serde_json::Value;

use crate::app::{AppState, now_ms};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::model::{EndpointInput, Invalid, new_id};
use crate::transfer::{self, ExportFile, MAX_IMPORT_BYTES, Source};

/// `GET /v1/export`.
#[utoipa::path(
    get,
    path = "/v1/export",
    operation_id = "export_endpoints",
    tag = "endpoints",
    security(("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Every endpoint of the organization, as `POST /v1/endpoints` takes it; `POST /v1/import` reads it back.", body = ExportFile),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<([(header::HeaderName, &'static str); 1], Json<ExportFile>), ApiError> {
    let endpoints = state.store.endpoints(&caller.org_id).await?;
    Ok((
        [(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"scoville-endpoints.json\"",
        )],
        Json(transfer::export(&endpoints, now_ms())),
    ))
}

/// One endpoint an import created (or would create).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Imported {
    /// Where it was in the file, e.g. `monitorList[3]`.
    pub at: String,
    /// Its new id (none on a dry run).
    pub id: Option<String>,
    /// Its name.
    pub name: String,
}

/// One entry of the file an import did not create, and why.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Skipped {
    /// Where it was in the file.
    pub at: String,
    /// Its name, as far as known.
    pub name: String,
    /// Why it was not created.
    pub reason: String,
}

/// The answer of `POST /v1/import`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// `scoville` or `uptime_kuma`.
    pub source: String,
    /// Nothing was created: what would have been.
    pub dry_run: bool,
    /// Created (or, on a dry run, to be created).
    pub created: Vec<Imported>,
    /// Not created, with the reason.
    pub skipped: Vec<Skipped>,
    /// Channel ids dropped because they are not this organization's.
    pub dropped_channels: Vec<String>,
}

/// `POST /v1/import?dry_run=&regions=`.
#[utoipa::path(
    post,
    path = "/v1/import",
    operation_id = "import_endpoints",
    tag = "endpoints",
    security(("session" = []), ("api_key" = [])),
    params(
        ("dry_run" = Option<bool>, Query, description = "Only say what would be created."),
        ("regions" = Option<String>, Query, description = "For an Uptime Kuma backup: the regions to check from, separated by commas (default: those of the organization's first endpoint)."),
    ),
    request_body(content = Object, description = "Scoville's export (`GET /v1/export`), a list of endpoints, or an Uptime Kuma backup (JSON, at most 8 MiB and 5,000 endpoints).", content_type = "application/json"),
    responses(
        (status = 200, description = "What was created and what was skipped.", body = ImportReport),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::Unprocessable),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn import(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ImportReport>, ApiError> {
    caller.must_write()?;
    let file = super::endpoints::json_body(&headers, &body, MAX_IMPORT_BYTES)?;
    let dry_run = match params.get("dry_run").map(|s| s.trim()) {
        None | Some("" | "false") => false,
        Some("true") => true,
        Some(_) => return Err(Invalid::new("dry_run", "must be true or false").into()),
    };
    let existing = state.store.endpoints(&caller.org_id).await?;
    let regions: Vec<String> = match params.get("regions").map(|s| s.trim()) {
        Some(list) if !list.is_empty() => list
            .split(',')
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect(),
        _ => existing
            .first()
            .map(|e| e.regions.iter().map(|r| r.as_str().to_string()).collect())
            .unwrap_or_default(),
    };
    let (source, items) = transfer::read(&file, &regions)
        .map_err(|e| ApiError::Invalid(Invalid::new(e.field, e.reason)))?;
    let channels: HashSet<String> = state
        .store
        .channels(&caller.org_id)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let mut names: HashSet<String> = existing.iter().map(|e| e.name.clone()).collect();
    let mut report = ImportReport {
        source: match source {
            Source::Scoville => "scoville",
            Source::Kuma => "uptime_kuma",
        }
        .into(),
        dry_run,
        created: Vec::new(),
        skipped: Vec::new(),
        dropped_channels: Vec::new(),
    };
    // Everything is read and checked before anything is written.
    let mut to_create = Vec::new();
    for item in items {
        let skip = |reason: String| Skipped {
            at: item.at.clone(),
            name: item.name.clone(),
            reason,
        };
        let mut body = match item.body.clone() {
            Ok(b) => b,
            Err(reason) => {
                report.skipped.push(skip(reason));
                continue;
            }
        };
        if let Some(list) = body.get_mut("channels").and_then(Value::as_array_mut) {
            list.retain(|c| {
                let ours = c.as_str().is_some_and(|id| channels.contains(id));
                if !ours {
                    report
                        .dropped_channels
                        .push(c.as_str().unwrap_or_default().to_string());
                }
                ours
            });
        }
        let id = EndpointId::parse(new_id("ep_")).map_err(ApiError::Unavailable)?;
        let parsed = scoville_core::parse::from_value::<EndpointInput>(body)
            .map_err(|e| Invalid::new(e.path, e.message))
            .and_then(|input| input.into_endpoint(id, caller.org_id.clone()));
        let endpoint = match (parsed, source) {
            (Ok(e), _) => e,
            (Err(e), Source::Scoville) => {
                let field = if e.field.is_empty() || e.field == "." {
                    item.at.clone()
                } else {
                    format!("{}.{}", item.at, e.field)
                };
                return Err(Invalid::new(field, e.reason).into());
            }
            (Err(e), Source::Kuma) => {
                report
                    .skipped
                    .push(skip(format!("{}: {}", e.field, e.reason)));
                continue;
            }
        };
        if !names.insert(endpoint.name.clone()) {
            report
                .skipped
                .push(skip("an endpoint with this name is already there".into()));
            continue;
        }
        to_create.push((item.at, endpoint));
    }
    report.dropped_channels.sort();
    report.dropped_channels.dedup();
    for (at, endpoint) in to_create {
        if !dry_run {
            state.store.put_endpoint(&endpoint, false).await?;
            state.probe_list.put(state.store.as_ref(), &endpoint).await;
        }
        report.created.push(Imported {
            at,
            id: (!dry_run).then(|| endpoint.id.as_str().to_string()),
            name: endpoint.name,
        });
    }
    Ok(Json(report))
}
