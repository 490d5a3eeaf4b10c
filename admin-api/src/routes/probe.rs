//! `GET /v1/probe/endpoints?region=&shard=&shards=&cursor=&limit=&at=`: the endpoints due
//! in a region for one shard, paged by endpoint id.
//!
//! - Sharding is stable: an endpoint is in shard `fnv1a64(id) % shards`.
//! - Due: an endpoint checked every `interval_s` (a multiple of a minute is expected) is
//!   due in the minutes where `minute % (interval_s / 60) == fnv1a64(id) % (interval_s / 60)`
//!   (`at` in Unix ms, default now), so a 5-minute endpoint's checks are spread over the
//!   five minutes. Paused endpoints are never due.
//! - Backoff: an endpoint that opted in and has been down for long is due at its
//!   backed-off interval instead, by the same rule ([`crate::backoff`]).
//! - Cache and open incidents: see [`crate::probe_list`] (how a change reaches the
//!   probes).

use std::collections::HashMap;
use std::str::FromStr;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use scoville_core::Region;
use scoville_core::wire::EndpointPage;
use scoville_core::wire::Shard;

use crate::app::{AppState, now_ms};
use crate::auth::ProbeCaller;
use crate::error::ApiError;
use crate::model::Invalid;

/// Query of the probe's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    region: String,
    shard: Option<u32>,
    shards: Option<u32>,
    cursor: Option<String>,
    limit: Option<usize>,
    at: Option<i64>,
}

/// The parameters [`ListQuery`] takes.
const PARAMETERS: &[&str] = &["region", "shard", "shards", "cursor", "limit", "at"];

impl ListQuery {
    /// Reads the query string's parameters; an unknown, missing or malformed one is
    /// [`Invalid`] naming it (422), never a bare 400.
    pub fn parse(params: &HashMap<String, String>) -> Result<Self, Invalid> {
        if let Some(unknown) = params.keys().find(|k| !PARAMETERS.contains(&k.as_str())) {
            return Err(Invalid::new(
                unknown.as_str(),
                format!(
                    "is not a parameter of this route; use {}",
                    PARAMETERS.join(", ")
                ),
            ));
        }
        fn number<T: FromStr>(
            params: &HashMap<String, String>,
            name: &str,
        ) -> Result<Option<T>, Invalid> {
            params
                .get(name)
                .map(|v| {
                    let digits = v.strip_prefix('-').unwrap_or(v);
                    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(Invalid::new(name, format!("{v:?} is not a whole number")));
                    }
                    v.parse::<T>()
                        .map_err(|_| Invalid::new(name, format!("{v} is out of range")))
                })
                .transpose()
        }
        Ok(Self {
            region: params
                .get("region")
                .cloned()
                .ok_or_else(|| Invalid::new("region", "is required"))?,
            shard: number(params, "shard")?,
            shards: number(params, "shards")?,
            cursor: params.get("cursor").cloned(),
            limit: number(params, "limit")?,
            at: number(params, "at")?,
        })
    }
}

/// `GET /v1/probe/endpoints`.
#[utoipa::path(
    get,
    path = "/v1/probe/endpoints",
    operation_id = "probe_endpoints",
    tag = "probe",
    security(("probe_token" = [])),
    params(
        ("region" = String, Query, pattern = "^[a-z0-9-]{1,32}$", description = "The probe's region."),
        ("shard" = Option<u32>, Query, maximum = 9999, description = "This probe's shard, 0-based (0 by default): an endpoint is in shard `fnv1a64(id) % shards`."),
        ("shards" = Option<u32>, Query, minimum = 1, maximum = 10000, description = "How many shards the region has (1 by default); `shard` must be below it."),
        ("cursor" = Option<String>, Query, description = "The previous page's `next_cursor`."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 5000, description = "At most this many endpoints (1000 by default)."),
        ("at" = Option<i64>, Query, description = "The time the round is for, Unix ms (now by default): which endpoints are due."),
    ),
    responses(
        (status = 200, description = "One page of the endpoints due, by id.", body = EndpointPage),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 422, response = crate::openapi::Unprocessable),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    probe: ProbeCaller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let q = ListQuery::parse(&params)?;
    let region = Region::parse(q.region).map_err(|e| Invalid::new("region", e))?;
    let shard = Shard::new(q.shard.unwrap_or(0), q.shards.unwrap_or(1))
        .map_err(|e| Invalid::new("shard", e))?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=5000).contains(&limit) {
        return Err(Invalid::new("limit", "must be between 1 and 5000").into());
    }
    let at = q.at.unwrap_or_else(now_ms);
    let minute = (at / 60_000).max(0) as u64;
    let snapshot = state
        .probe_list
        .snapshot(
            state.store.as_ref(),
            state.incidents.as_deref(),
            state.history.as_deref(),
        )
        .await?;
    let entries = &snapshot.entries;
    let start = match &q.cursor {
        Some(c) => entries.partition_point(|e| e.id.as_str() <= c.as_str()),
        None => 0,
    };
    // The page is written from the entries' JSON, as `EndpointPage` would serialize.
    let mut body = String::with_capacity(64 + limit.min(entries.len()) * 512);
    body.push_str("{\"endpoints\":[");
    let mut n = 0;
    let mut last = None;
    for e in &entries[start..] {
        let mine = probe.org_id.as_ref().is_none_or(|o| *o == e.org);
        let minutes = snapshot.minutes(e, at);
        let due = minute % minutes == e.hash % minutes;
        if mine
            && due
            && e.hash % u64::from(shard.count()) == u64::from(shard.index())
            && e.regions.contains(&region)
        {
            if n == limit {
                break;
            }
            if n > 0 {
                body.push(',');
            }
            e.write(&mut body, snapshot.is_open(e));
            n += 1;
            last = Some(e.id.as_str());
        }
    }
    body.push(']');
    if n == limit
        && let Some(last) = last
    {
        body.push_str(",\"next_cursor\":");
        body.push_str(
            &serde_json::to_string(last).map_err(|e| ApiError::Unavailable(e.to_string()))?,
        );
    }
    body.push('}');
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
