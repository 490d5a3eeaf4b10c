//! `GET /v1/probe/endpoints?region=&shard=&shards=&cursor=&limit=&at=`: the endpoints due
//! in a region for one shard, paged by endpoint id.
//!
//! - Sharding is stable: an endpoint is in shard `fnv1a64(id) % shards`.
//! - Due: an endpoint checked every `interval_s` (a multiple of a minute is expected) is
//!   due in the minutes where `minute % (interval_s / 60) == fnv1a64(id) % (interval_s / 60)`
//!   (`at` in Unix ms, default now), so a 5-minute endpoint's checks are spread over the
//!   five minutes. Paused endpoints are never due.
//! - Cache: the list is built once from the store into memory (each endpoint already in
//!   its wire form) and rebuilt when the store's generation changes (every endpoint write
//!   bumps it) or after 10 s (writes made through another instance). So a change reaches
//!   the probes at their next round through this instance, and within 10 s through
//!   others.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use scoville_core::wire::Shard;
use scoville_core::{ProbeEndpoint, Region};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::app::{AppState, now_ms};
use crate::auth::ProbeCaller;
use crate::error::ApiError;
use crate::model::{Endpoint, Invalid};
use crate::store::AdminStore;

/// How long a cached list is trusted without looking at the generation of other writers.
const MAX_AGE: Duration = Duration::from_secs(10);

/// Query of the probe's list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    region: String,
    #[serde(default)]
    shard: Option<u32>,
    #[serde(default)]
    shards: Option<u32>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    at: Option<i64>,
}

/// FNV-1a, 64 bits: stable across processes and versions.
pub fn fnv1a64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[derive(Debug)]
struct Entry {
    hash: u64,
    org: scoville_core::OrgId,
    regions: Vec<Region>,
    minutes: u64,
    id: String,
    /// The endpoint's wire form, serialized once when the cache is built.
    json: String,
}

#[derive(Debug)]
struct Built {
    generation: u64,
    at: Instant,
    entries: Arc<Vec<Entry>>,
}

/// The probe list cache.
#[derive(Debug, Default)]
pub struct ProbeListCache {
    built: Mutex<Option<Built>>,
}

impl ProbeListCache {
    async fn entries(&self, store: &dyn AdminStore) -> Result<Arc<Vec<Entry>>, ApiError> {
        let generation = store.generation().await?;
        let mut built = self.built.lock().await;
        if let Some(b) = built.as_ref()
            && b.generation == generation
            && b.at.elapsed() < MAX_AGE
        {
            return Ok(b.entries.clone());
        }
        let entries: Vec<Entry> = store
            .all_endpoints(None)
            .await?
            .into_iter()
            .filter(|e| !e.paused)
            .map(entry)
            .collect::<Result<_, _>>()?;
        let entries = Arc::new(entries);
        *built = Some(Built {
            generation,
            at: Instant::now(),
            entries: entries.clone(),
        });
        Ok(entries)
    }
}

fn entry(e: Endpoint) -> Result<Entry, ApiError> {
    let wire = ProbeEndpoint {
        id: e.id,
        org_id: e.org_id,
        name: e.name,
        check: e.check,
        apdex_t_ms: e.apdex_t_ms,
        mean_limit_ms: e.mean_limit_ms,
        // The failure service knows which endpoints are down; until it shares that
        // with this API, probes send failures only (see the README).
        open_incident: false,
        last_body_hash: None,
    };
    Ok(Entry {
        hash: fnv1a64(wire.id.as_str()),
        org: wire.org_id.clone(),
        regions: e.regions,
        minutes: u64::from(e.interval_s / 60).max(1),
        id: wire.id.as_str().to_string(),
        json: serde_json::to_string(&wire).map_err(|e| ApiError::Unavailable(e.to_string()))?,
    })
}

/// `GET /v1/probe/endpoints`.
pub async fn list(
    State(state): State<AppState>,
    probe: ProbeCaller,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let region = Region::parse(q.region).map_err(|e| Invalid::new("region", e))?;
    let shard = Shard::new(q.shard.unwrap_or(0), q.shards.unwrap_or(1))
        .map_err(|e| Invalid::new("shard", e))?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=5000).contains(&limit) {
        return Err(Invalid::new("limit", "must be between 1 and 5000").into());
    }
    let minute = (q.at.unwrap_or_else(now_ms) / 60_000).max(0) as u64;
    let entries = state.probe_list.entries(state.store.as_ref()).await?;
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
        let due = minute % e.minutes == e.hash % e.minutes;
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
            body.push_str(&e.json);
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
