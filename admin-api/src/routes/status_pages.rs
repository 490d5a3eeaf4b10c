//! Status pages: an org chooses endpoints and a public slug; anyone can read
//! `GET /v1/public/status/{slug}` (the page itself is `GET /status/{slug}`, see
//! [`crate::ui`]): the title, the overall state and, per endpoint, its name, current
//! status (from the latest results of its last three intervals; `unknown` without a
//! history store), whether it is paused, and its uptime on each of the last 90 UTC days
//! (from the hour rollups); then the page's endpoints' open incidents and those resolved
//! in the last 90 days, each with only its endpoint's name and its times. Nothing else of
//! the org is shown: no ids, targets, errors, regions or org.
//!
//! The answer is built once per slug every 30 s at most ([`PublicPageCache`]) and says
//! `Cache-Control: public, max-age=30`. Building it reads, per endpoint, the endpoint,
//! its daily counts and its newest 51 incidents (8 endpoints at a time), then every
//! endpoint's latest results in one call.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use futures::future::{BoxFuture, FutureExt};
use scoville_core::{EndpointId, OrgId};
use scoville_incident_log::{Incident, IncidentQuery};
use serde::{Deserialize, Serialize};

use super::incidents::IncidentStatus;
use crate::app::{AppState, now_ms};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::history::{DayCount, EndpointStatus};
use crate::model::{Endpoint, Invalid, StatusPage, new_id};

/// A status page as written: created (`POST`) or replaced (`PUT`).
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

/// A status page as anyone sees it: names, states, daily uptime and incidents' times,
/// nothing else (no ids, targets, errors, regions or organization).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicPage {
    /// The page's title.
    pub title: String,
    /// The state of the page's endpoints as a whole (paused endpoints left out).
    pub overall: Overall,
    /// When this answer was made, Unix ms (answers are reused for up to 30 s).
    pub generated_at_ms: i64,
    /// Start (UTC midnight, Unix ms) of the first of the days of every endpoint's `days`;
    /// the last one is today (UTC), still under way.
    pub days_from_ms: i64,
    /// Its endpoints, in order (deleted ones drop off).
    pub endpoints: Vec<PublicEndpoint>,
    /// Open incidents of the page's endpoints, newest first.
    pub current_incidents: Vec<PublicIncident>,
    /// Resolved incidents of the page's endpoints confirmed in the last 90 days, newest
    /// first, at most 50.
    pub past_incidents: Vec<PublicIncident>,
}

/// The state of a page's endpoints as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Overall {
    /// Every endpoint with a known state is up and none has an open incident.
    Operational,
    /// Some endpoints are down or degraded, or have an open incident.
    PartialOutage,
    /// More than half of the endpoints with a known state are down.
    MajorOutage,
    /// No endpoint has a known state (no recent results, all paused, or none).
    Unknown,
}

impl Overall {
    /// From the page's endpoints: paused ones are left out; an open incident makes an
    /// endpoint known and at least degraded.
    pub fn of(endpoints: &[PublicEndpoint]) -> Self {
        let (mut known, mut down, mut troubled) = (0usize, 0usize, 0usize);
        for e in endpoints.iter().filter(|e| !e.paused) {
            if e.status == EndpointStatus::Unknown && !e.open_incident {
                continue;
            }
            known += 1;
            if e.status == EndpointStatus::Down {
                down += 1;
            }
            if e.open_incident
                || matches!(e.status, EndpointStatus::Down | EndpointStatus::Degraded)
            {
                troubled += 1;
            }
        }
        if known == 0 {
            Overall::Unknown
        } else if down > 0 && down * 2 > known {
            Overall::MajorOutage
        } else if troubled > 0 {
            Overall::PartialOutage
        } else {
            Overall::Operational
        }
    }
}

/// One endpoint of a public status page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicEndpoint {
    /// The endpoint's name.
    pub name: String,
    /// Its state from the latest results of its last three intervals.
    pub status: EndpointStatus,
    /// Whether it is paused.
    pub paused: bool,
    /// Whether it has an open incident (listed in `current_incidents`).
    pub open_incident: bool,
    /// Uptime (0-1) over the 90 days; `null` without checks.
    pub uptime_90d: Option<f64>,
    /// Uptime (0-1) of each of the 90 UTC days from `days_from_ms`, oldest first;
    /// `null` for a day without checks.
    #[schema(min_items = 90, max_items = 90)]
    pub days: Vec<Option<f64>>,
}

/// One incident as a status page shows it: which endpoint and when, nothing else.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicIncident {
    /// The endpoint's name.
    pub endpoint: String,
    /// Open or resolved.
    pub status: IncidentStatus,
    /// When its first failed check started (Unix ms).
    pub started_at_ms: i64,
    /// When it was resolved (Unix ms); `null` while open.
    pub resolved_at_ms: Option<i64>,
    /// From its start to its resolution (or to now while open), ms.
    pub duration_ms: i64,
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
    let page = p.into_page(&state, &caller.org_id, new_id("sp_")).await?;
    state.store.put_status_page(&caller.org_id, &page).await?;
    Ok((StatusCode::CREATED, Json(page)))
}

impl NewPage {
    /// The page with id `id`, checked: 422 naming the field, else the page.
    async fn into_page(
        self,
        state: &AppState,
        org: &OrgId,
        id: String,
    ) -> Result<StatusPage, ApiError> {
        let slug = self.slug.trim().to_ascii_lowercase();
        if !(3..=64).contains(&slug.len())
            || !slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(
                Invalid::new("slug", "must be 3-64 lower-case letters, digits or '-'").into(),
            );
        }
        let title = self.title.trim().to_string();
        if title.is_empty() || title.chars().count() > 200 {
            return Err(Invalid::new("title", "must be 1-200 characters").into());
        }
        if self.endpoint_ids.is_empty() || self.endpoint_ids.len() > 200 {
            return Err(Invalid::new("endpoint_ids", "must list 1-200 endpoints").into());
        }
        super::endpoints::check_own_endpoints(state, org, "endpoint_ids", &self.endpoint_ids)
            .await?;
        Ok(StatusPage {
            id,
            slug,
            title,
            endpoint_ids: self.endpoint_ids,
        })
    }
}

/// `PUT /v1/status-pages/{id}`: replaces the page's slug, title and endpoints (the old
/// slug's public answer may still be served for up to 30 s).
#[utoipa::path(
    put,
    path = "/v1/status-pages/{id}",
    operation_id = "replace_status_page",
    tag = "status pages",
    security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The page's id.")),
    request_body = NewPage,
    responses(
        (status = 200, description = "The page as replaced.", body = StatusPage),
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
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<StatusPage>, ApiError> {
    // Another org's id is 404 whatever the caller's role or the body.
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
    let p: NewPage = super::endpoints::parse_body(&headers, &body)?;
    let page = p.into_page(&state, &caller.org_id, id).await?;
    state.store.put_status_page(&caller.org_id, &page).await?;
    Ok(Json(page))
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

/// Days of uptime a public page shows.
pub const PUBLIC_DAYS: usize = 90;
/// At most this many past incidents on a public page.
pub const PUBLIC_PAST_INCIDENTS: usize = 50;
/// How long a public page's answer is reused (and may be cached by browsers and proxies).
pub const PUBLIC_MAX_AGE: Duration = Duration::from_secs(30);
/// Reads of one page kept in flight at once (pages have at most 200 endpoints).
const PUBLIC_READS_AT_ONCE: usize = 8;
/// At most this many pages' answers are kept.
const PUBLIC_CACHE_PAGES: usize = 10_000;
const DAY_MS: i64 = 86_400_000;

/// Public pages' answers, by slug, reused for [`PUBLIC_MAX_AGE`] (a page may be hit
/// hard: it is built once per slug and period, and callers arriving while it is built
/// wait for that one build). Unknown slugs and failed builds are not kept.
#[derive(Debug)]
pub struct PublicPageCache {
    max_age: Duration,
    pages: std::sync::Mutex<HashMap<String, Arc<Slot>>>,
}

#[derive(Debug)]
struct Slot {
    made: Instant,
    answer: tokio::sync::OnceCell<Option<Bytes>>,
}

impl Default for PublicPageCache {
    fn default() -> Self {
        Self::with_max_age(PUBLIC_MAX_AGE)
    }
}

impl PublicPageCache {
    /// A cache reusing answers for `max_age` (zero: never; for tests).
    pub fn with_max_age(max_age: Duration) -> Self {
        Self {
            max_age,
            pages: std::sync::Mutex::default(),
        }
    }

    fn slot(&self, slug: &str) -> Arc<Slot> {
        let mut pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = pages.get(slug)
            && s.made.elapsed() < self.max_age
        {
            return s.clone();
        }
        if pages.len() >= PUBLIC_CACHE_PAGES {
            pages.retain(|_, s| s.made.elapsed() < self.max_age);
            if pages.len() >= PUBLIC_CACHE_PAGES {
                pages.clear();
            }
        }
        let slot = Arc::new(Slot {
            made: Instant::now(),
            answer: tokio::sync::OnceCell::new(),
        });
        pages.insert(slug.to_string(), slot.clone());
        slot
    }

    fn forget(&self, slug: &str, slot: &Arc<Slot>) {
        let mut pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        if pages.get(slug).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            pages.remove(slug);
        }
    }

    /// The answer for `slug`: reused while fresh, else built by `build` (`None`: no such
    /// page).
    async fn get<F>(&self, slug: &str, build: F) -> Result<Option<Bytes>, ApiError>
    where
        F: Future<Output = Result<Option<Bytes>, ApiError>>,
    {
        let slot = self.slot(slug);
        let answer = slot.answer.get_or_try_init(|| build).await.cloned();
        if !matches!(answer, Ok(Some(_))) {
            self.forget(slug, &slot);
        }
        answer
    }
}

/// `GET /v1/public/status/{slug}`: no credentials.
#[utoipa::path(
    get,
    path = "/v1/public/status/{slug}",
    operation_id = "public_status_page",
    tag = "status pages",
    params(("slug" = String, Path, description = "The page's slug (any case).")),
    responses(
        (status = 200, description = "The page: its title, the overall state, each endpoint's name, state and 90 days of daily uptime, and its incidents' times. Nothing private: no ids, targets, errors or regions.",
            body = PublicPage,
            headers(("Cache-Control" = String, description = "`public, max-age=30`: the answer is reused for up to 30 s."))),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn public(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    let slug = slug.to_ascii_lowercase();
    let answer = state
        .public_pages
        .get(&slug, build_public(&state, &slug))
        .await;
    match answer {
        Ok(Some(json)) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "public, max-age=30"),
            ],
            json,
        )
            .into_response(),
        Ok(None) => ApiError::NotFound.into_response(),
        Err(e) => e.into_response(),
    }
}

/// One endpoint's reads for its page.
struct EndpointReads {
    endpoint: Endpoint,
    days: Vec<DayCount>,
    incidents: Vec<Incident>,
}

/// One endpoint's reads; `None` when it was deleted (it drops off the page).
async fn read_endpoint(
    state: &AppState,
    org: &OrgId,
    id: &EndpointId,
    days_from_ms: i64,
) -> Result<Option<EndpointReads>, ApiError> {
    let Some(endpoint) = state.store.endpoint(org, id).await? else {
        return Ok(None);
    };
    let days = match &state.history {
        Some(h) => h
            .daily_counts(org, id, days_from_ms, PUBLIC_DAYS)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "a status page's history could not be read");
                Vec::new()
            }),
        None => Vec::new(),
    };
    let incidents = match &state.incidents {
        Some(log) => log
            .incidents(
                org,
                &IncidentQuery {
                    endpoint_id: Some(id.clone()),
                    open: None,
                    after: None,
                    limit: PUBLIC_PAST_INCIDENTS + 1,
                },
            )
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?,
        None => Vec::new(),
    };
    Ok(Some(EndpointReads {
        endpoint,
        days,
        incidents,
    }))
}

/// Builds a page's answer, `None` when there is no such page. Per endpoint: one read of
/// the endpoint, one of its daily counts and one of its latest incidents (at most
/// [`PUBLIC_READS_AT_ONCE`] endpoints at a time); then one read of every endpoint's
/// latest results. History that cannot be read shows as no data; an incident log that
/// cannot be read is 503 (a page claiming no incidents would mislead).
async fn build_public(state: &AppState, slug: &str) -> Result<Option<Bytes>, ApiError> {
    let Some((org, page)) = state.store.status_page_by_slug(slug).await? else {
        return Ok(None);
    };
    let now = now_ms();
    let days_from_ms = (now.div_euclid(DAY_MS) - (PUBLIC_DAYS as i64 - 1)) * DAY_MS;
    let mut ids: Vec<EndpointId> = Vec::with_capacity(page.endpoint_ids.len());
    for id in &page.endpoint_ids {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    let reads: Vec<BoxFuture<'_, Result<Option<EndpointReads>, ApiError>>> = ids
        .iter()
        .map(|id| read_endpoint(state, &org, id, days_from_ms).boxed())
        .collect();
    let reads = futures::stream::iter(reads)
        .buffered(PUBLIC_READS_AT_ONCE)
        .collect::<Vec<_>>()
        .await;
    let mut found: HashMap<EndpointId, EndpointReads> = HashMap::new();
    for r in reads {
        if let Some(r) = r? {
            found.insert(r.endpoint.id.clone(), r);
        }
    }

    // The latest results of every endpoint shown, in one call.
    let asks: Vec<(EndpointId, i64)> = ids
        .iter()
        .filter_map(|id| found.get(id))
        .map(|r| {
            let since = now - 3 * i64::from(r.endpoint.interval_s) * 1000;
            (r.endpoint.id.clone(), since)
        })
        .collect();
    let latest = match &state.history {
        Some(h) if !asks.is_empty() => h.latest_many(&org, &asks).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "a status page's latest results could not be read");
            Vec::new()
        }),
        _ => Vec::new(),
    };
    let status: HashMap<&EndpointId, EndpointStatus> = asks
        .iter()
        .zip(latest.iter())
        .map(|((id, _), rows)| (id, EndpointStatus::from_latest(rows)))
        .collect();

    let mut endpoints = Vec::with_capacity(found.len());
    let (mut current, mut past) = (Vec::new(), Vec::new());
    let mut listed: HashSet<&EndpointId> = HashSet::new();
    for id in &page.endpoint_ids {
        let Some(r) = found.get(id) else {
            continue;
        };
        let mut open_incident = false;
        // Its incidents are listed once even when the page shows it twice.
        let first = listed.insert(id);
        for i in &r.incidents {
            if i.is_open() {
                open_incident = true;
            }
            if !first {
                continue;
            }
            let shown = PublicIncident {
                endpoint: r.endpoint.name.clone(),
                status: if i.is_open() {
                    IncidentStatus::Open
                } else {
                    IncidentStatus::Resolved
                },
                started_at_ms: i.started_at_ms,
                resolved_at_ms: i.resolved_at_ms,
                duration_ms: (i.resolved_at_ms.unwrap_or(now) - i.started_at_ms).max(0),
            };
            if i.is_open() {
                current.push((i.confirmed_at_ms, shown));
            } else if i.confirmed_at_ms >= days_from_ms {
                past.push((i.confirmed_at_ms, shown));
            }
        }
        let (count, up) = r
            .days
            .iter()
            .fold((0u64, 0u64), |(c, u), d| (c + d.count, u + d.up));
        let mut days: Vec<Option<f64>> = r.days.iter().map(DayCount::uptime).collect();
        days.resize(PUBLIC_DAYS, None);
        endpoints.push(PublicEndpoint {
            name: r.endpoint.name.clone(),
            status: status
                .get(&r.endpoint.id)
                .copied()
                .unwrap_or(EndpointStatus::Unknown),
            paused: r.endpoint.paused,
            open_incident,
            uptime_90d: (count > 0).then(|| up as f64 / count as f64),
            days,
        });
    }
    let newest_first = |v: &mut Vec<(i64, PublicIncident)>| {
        v.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(b.1.started_at_ms.cmp(&a.1.started_at_ms))
        });
    };
    newest_first(&mut current);
    newest_first(&mut past);
    past.truncate(PUBLIC_PAST_INCIDENTS);
    let answer = PublicPage {
        title: page.title,
        overall: Overall::of(&endpoints),
        generated_at_ms: now,
        days_from_ms,
        endpoints,
        current_incidents: current.into_iter().map(|(_, i)| i).collect(),
        past_incidents: past.into_iter().map(|(_, i)| i).collect(),
    };
    let json = serde_json::to_vec(&answer)
        .map_err(|e| ApiError::Unavailable(format!("the page could not be written: {e}")))?;
    Ok(Some(Bytes::from(json)))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn ep(status: EndpointStatus, paused: bool, open_incident: bool) -> PublicEndpoint {
        PublicEndpoint {
            name: "e".into(),
            status,
            paused,
            open_incident,
            uptime_90d: None,
            days: Vec::new(),
        }
    }

    #[test]
    fn the_overall_state_follows_the_endpoints_not_the_paused_ones() {
        use EndpointStatus::{Degraded, Down, Unknown, Up};
        let of = |v: &[(EndpointStatus, bool, bool)]| {
            let eps: Vec<_> = v.iter().map(|&(s, p, i)| ep(s, p, i)).collect();
            Overall::of(&eps)
        };
        assert_eq!(of(&[]), Overall::Unknown);
        assert_eq!(of(&[(Unknown, false, false)]), Overall::Unknown);
        assert_eq!(of(&[(Down, true, false)]), Overall::Unknown, "paused only");
        assert_eq!(
            of(&[(Up, false, false), (Down, true, false)]),
            Overall::Operational
        );
        assert_eq!(
            of(&[(Up, false, false), (Unknown, false, false)]),
            Overall::Operational
        );
        assert_eq!(of(&[(Up, false, true)]), Overall::PartialOutage);
        assert_eq!(of(&[(Unknown, false, true)]), Overall::PartialOutage);
        assert_eq!(
            of(&[(Up, false, false), (Degraded, false, false)]),
            Overall::PartialOutage
        );
        assert_eq!(
            of(&[(Up, false, false), (Down, false, false)]),
            Overall::PartialOutage,
            "half down"
        );
        assert_eq!(of(&[(Down, false, false)]), Overall::MajorOutage);
        assert_eq!(
            of(&[
                (Up, false, false),
                (Down, false, true),
                (Down, false, false)
            ]),
            Overall::MajorOutage
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_share_one_build_and_misses_and_failures_are_not_kept() {
        let cache = Arc::new(PublicPageCache::default());
        let builds = Arc::new(AtomicUsize::new(0));
        let mut waiting = Vec::new();
        for _ in 0..20 {
            let (cache, builds) = (cache.clone(), builds.clone());
            waiting.push(tokio::spawn(async move {
                cache
                    .get("a", async {
                        builds.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(Some(Bytes::from_static(b"{}")))
                    })
                    .await
            }));
        }
        for w in waiting {
            assert_eq!(w.await.unwrap().unwrap(), Some(Bytes::from_static(b"{}")));
        }
        assert_eq!(builds.load(Ordering::SeqCst), 1, "one build for all");

        // No such page, or a failure: asked again next time.
        for fail in [false, true] {
            let n = Arc::new(AtomicUsize::new(0));
            for _ in 0..2 {
                let n = n.clone();
                let _ = cache
                    .get("b", async move {
                        n.fetch_add(1, Ordering::SeqCst);
                        if fail {
                            Err(ApiError::Unavailable("down".into()))
                        } else {
                            Ok(None)
                        }
                    })
                    .await;
            }
            assert_eq!(n.load(Ordering::SeqCst), 2);
        }
        assert_eq!(cache.pages.lock().unwrap().len(), 1, "only the page kept");

        // A zero max age never reuses.
        let never = PublicPageCache::with_max_age(Duration::ZERO);
        for _ in 0..2 {
            let _ = never
                .get("a", async {
                    builds.fetch_add(1, Ordering::SeqCst);
                    Ok(Some(Bytes::new()))
                })
                .await;
        }
        assert_eq!(builds.load(Ordering::SeqCst), 3);
    }
}
