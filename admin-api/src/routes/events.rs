//! `GET /v1/events`: the live status of the caller's organization's endpoints, as
//! server-sent events, for the dashboard.
//!
//! On connect a `snapshot` event carries every endpoint's status; then, checked about
//! every second, a `status` event carries the endpoints whose status (or name) changed
//! and the ids of those removed. A status is:
//!
//! - `paused`: the endpoint is paused;
//! - `down`: it has an open incident (the failure service confirmed it);
//! - `degraded`: some (or all) regions' latest results failed, not (yet) confirmed; or
//!   every result is up but one warns (a certificate expiring within the check's warn or
//!   critical days), with that warning as the endpoint's `note`;
//! - `up`: every region's latest result is up, without a warning;
//! - `unknown`: no result in the last three intervals.
//!
//! A `down` endpoint checked less often because it has been down for long
//! ([`crate::backoff`]) carries `checked_every_s`, its current interval.
//!
//! Bounded: at most [`MAX_STREAMS_PER_ORG`] streams per organization at once (429 past
//! that), a heartbeat comment every [`HEARTBEAT`], and each stream ends after
//! [`MAX_STREAM_AGE`] (the browser's `EventSource` reconnects, authenticating again). A
//! stream stops when the client goes (its body is dropped with the connection).
//!
//! `?once=true`, or a request whose `Accept` does not ask for `text/event-stream`, gets
//! the snapshot alone and the end of the answer: for scripts, tests, and clients that
//! cannot hold a stream.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use scoville_core::{EndpointId, OrgId};
use scoville_incident_log::IncidentQuery;
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::app::{AppState, now_ms};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::history::EndpointStatus;
use crate::model::{Endpoint, Invalid};

/// At most this many live streams per organization.
pub const MAX_STREAMS_PER_ORG: usize = 8;
/// How often a stream looks for changes.
pub const TICK: Duration = Duration::from_secs(1);
/// A comment line this often keeps proxies from closing a quiet stream.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// A stream ends after this long; the client reconnects.
pub const MAX_STREAM_AGE: Duration = Duration::from_secs(15 * 60);
/// A stream's tick reuses its org's snapshot when another stream computed it this recently.
const SHARED_MAX_AGE: Duration = Duration::from_millis(900);
/// Open incidents read per snapshot, at most.
const OPEN_INCIDENTS_LIMIT: usize = 1_000;

/// An endpoint's live status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LiveStatus {
    /// Every region's latest result is up.
    Up,
    /// Some latest results failed; no incident (yet).
    Degraded,
    /// An open incident.
    Down,
    /// Paused.
    Paused,
    /// No recent result.
    Unknown,
}

/// One endpoint in an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LiveEndpoint {
    /// The endpoint's id.
    #[schema(value_type = String)]
    pub id: EndpointId,
    /// Its name (user text: show it as text).
    pub name: String,
    /// Its status.
    pub status: LiveStatus,
    /// The open incident's id, when down.
    pub incident_id: Option<String>,
    /// The open incident's error, when down and known.
    pub error: Option<String>,
    /// Why an endpoint whose checks pass is still `degraded`, e.g. "certificate expires
    /// in 9 days".
    pub note: Option<String>,
    /// Down for long and backed off: checked only every this many seconds (its
    /// `backoff`), until a check succeeds or the incident closes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_every_s: Option<u32>,
}

/// The data of a `snapshot` or `status` event.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatusEvent {
    /// When it was computed, Unix ms.
    pub at_ms: i64,
    /// Every endpoint (`snapshot`), or those that changed (`status`).
    pub endpoints: Vec<LiveEndpoint>,
    /// Ids of endpoints gone since the last event (`status` only).
    pub removed: Vec<String>,
}

/// One server-sent event as the stream carries it (for the OpenAPI document).
#[derive(Debug, utoipa::ToSchema)]
pub struct SseEvent {
    /// `snapshot` or `status`.
    #[schema(pattern = "^(snapshot|status)$")]
    pub event: String,
    /// A `StatusEvent`, as JSON.
    pub data: String,
    /// Milliseconds to wait before reconnecting.
    pub retry: Option<u64>,
}

/// Every endpoint's live status, by id.
pub type Snapshot = BTreeMap<String, LiveEndpoint>;

/// The semaphores bounding each organization's streams.
static STREAMS: LazyLock<Mutex<HashMap<String, Arc<Semaphore>>>> = LazyLock::new(Default::default);

fn permit(org: &OrgId) -> Result<OwnedSemaphorePermit, ApiError> {
    let sem = {
        let mut map = STREAMS.lock().unwrap_or_else(|p| p.into_inner());
        // Forget organizations with no stream open, so the map stays small.
        map.retain(|_, s| s.available_permits() < MAX_STREAMS_PER_ORG);
        map.entry(org.as_str().to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(MAX_STREAMS_PER_ORG)))
            .clone()
    };
    sem.try_acquire_owned()
        .map_err(|_| ApiError::TooManyRequests(5))
}

/// Live snapshots shared by an organization's streams: however many dashboards an org
/// has open, its statuses are computed at most about once per [`TICK`] (one endpoint
/// list, one open-incidents query and one bulk latest-results read), and each stream
/// only diffs its last snapshot against the shared one. The endpoint list is kept
/// between snapshots and read again only when the store's generation (bumped by every
/// endpoint write) moved: parsing 10,000 stored endpoints was a sixth of the time.
#[derive(Debug, Default)]
pub struct LiveHub {
    orgs: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
}

/// One organization's last snapshot and endpoint list.
#[derive(Debug, Default)]
struct Slot {
    computed: Option<Computed>,
    listing: Option<Listing>,
}

/// A snapshot and when it was computed.
#[derive(Debug)]
struct Computed {
    at: tokio::time::Instant,
    snapshot: Arc<Snapshot>,
}

/// An organization's endpoints as read at a store generation (read before the list, so
/// the list holds at least every write up to it).
#[derive(Debug)]
struct Listing {
    generation: u64,
    endpoints: Arc<Vec<Listed>>,
}

/// What a snapshot uses of an endpoint.
#[derive(Debug)]
struct Listed {
    id: EndpointId,
    name: String,
    paused: bool,
    backoff: bool,
    interval_s: u32,
}

impl Listed {
    fn of(e: Endpoint) -> Self {
        Self {
            backoff: e.backoff.is_some(),
            paused: e.paused,
            interval_s: e.interval_s,
            name: e.name,
            id: e.id,
        }
    }
}

/// Snapshots older than this are dropped from the hub when another org's is added.
const HUB_KEEP: Duration = Duration::from_secs(60);

impl LiveHub {
    /// `org`'s snapshot, computed now unless one no older than `max_age` is at hand.
    /// Concurrent callers for one org wait for a single computation.
    pub async fn snapshot(
        &self,
        state: &AppState,
        org: &OrgId,
        max_age: Duration,
    ) -> Result<Arc<Snapshot>, ApiError> {
        let slot = {
            let mut orgs = self.orgs.lock().unwrap_or_else(|p| p.into_inner());
            if !orgs.contains_key(org.as_str()) {
                // Forget organizations nobody watched lately (a slot being computed is kept).
                orgs.retain(|_, slot| {
                    slot.try_lock()
                        .map(|s| {
                            s.computed
                                .as_ref()
                                .is_some_and(|c| c.at.elapsed() < HUB_KEEP)
                        })
                        .unwrap_or(true)
                });
            }
            orgs.entry(org.as_str().to_string()).or_default().clone()
        };
        let mut slot = slot.lock().await;
        if let Some(c) = slot.computed.as_ref()
            && c.at.elapsed() <= max_age
        {
            return Ok(c.snapshot.clone());
        }
        let snapshot = Arc::new(compute(state, org, Some(&mut slot.listing)).await?);
        slot.computed = Some(Computed {
            at: tokio::time::Instant::now(),
            snapshot: snapshot.clone(),
        });
        Ok(snapshot)
    }
}

/// Every endpoint of `org` and its status now, the endpoint list read from the store
/// (what [`LiveHub::snapshot`] answers, without its kept list).
pub async fn snapshot(state: &AppState, org: &OrgId) -> Result<Snapshot, ApiError> {
    compute(state, org, None).await
}

/// `org`'s endpoints: `kept` when the store's generation has not moved since it was
/// read, else read now (and kept there, when given).
async fn listed(
    state: &AppState,
    org: &OrgId,
    kept: Option<&mut Option<Listing>>,
) -> Result<Arc<Vec<Listed>>, ApiError> {
    let Some(kept) = kept else {
        let endpoints = state.store.endpoints(org).await?;
        return Ok(Arc::new(endpoints.into_iter().map(Listed::of).collect()));
    };
    let generation = state.store.generation().await?;
    if let Some(l) = kept.as_ref()
        && l.generation == generation
    {
        return Ok(l.endpoints.clone());
    }
    let endpoints = state.store.endpoints(org).await?;
    let endpoints: Arc<Vec<Listed>> = Arc::new(endpoints.into_iter().map(Listed::of).collect());
    *kept = Some(Listing {
        generation,
        endpoints: endpoints.clone(),
    });
    Ok(endpoints)
}

/// [`snapshot`], the endpoint list kept in `kept` when given.
async fn compute(
    state: &AppState,
    org: &OrgId,
    kept: Option<&mut Option<Listing>>,
) -> Result<Snapshot, ApiError> {
    let endpoints = listed(state, org, kept).await?;
    let mut open: HashMap<String, (String, Option<String>)> = HashMap::new();
    if let Some(log) = &state.incidents {
        let query = IncidentQuery {
            open: Some(true),
            limit: OPEN_INCIDENTS_LIMIT,
            ..IncidentQuery::default()
        };
        let found = log
            .incidents(org, &query)
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        for i in found {
            open.insert(i.endpoint_id.as_str().to_string(), (i.id, i.error));
        }
    }
    let now = now_ms();
    let mut out = Snapshot::new();
    // Those neither paused nor down get their status from their latest results: one
    // bulk read for all of them.
    let mut asks = Vec::new();
    let mut backoff_asks = Vec::new();
    for e in endpoints.iter() {
        let mut live = LiveEndpoint {
            id: e.id.clone(),
            name: e.name.clone(),
            status: LiveStatus::Unknown,
            incident_id: None,
            error: None,
            note: None,
            checked_every_s: None,
        };
        if e.paused {
            live.status = LiveStatus::Paused;
        } else if let Some((id, error)) = open.remove(e.id.as_str()) {
            live.status = LiveStatus::Down;
            live.incident_id = Some(id);
            live.error = error;
            if e.backoff {
                backoff_asks.push(e.id.clone());
            }
        } else {
            asks.push((e.id.clone(), now - 3 * i64::from(e.interval_s) * 1000));
        }
        out.insert(e.id.as_str().to_string(), live);
    }
    if let Some(history) = &state.history
        && !asks.is_empty()
    {
        // A history store that does not answer leaves the statuses unknown this round.
        if let Ok(latest) = history.latest_many(org, &asks).await {
            for ((id, _), rows) in asks.iter().zip(latest) {
                if let Some(live) = out.get_mut(id.as_str()) {
                    live.status = match EndpointStatus::from_latest(&rows) {
                        EndpointStatus::Up => LiveStatus::Up,
                        EndpointStatus::Degraded | EndpointStatus::Down => LiveStatus::Degraded,
                        EndpointStatus::Unknown => LiveStatus::Unknown,
                    };
                    if live.status == LiveStatus::Up
                        && let Some(note) = warning_note(&rows)
                    {
                        live.status = LiveStatus::Degraded;
                        live.note = Some(note);
                    }
                }
            }
        }
    }
    if !backoff_asks.is_empty() {
        // What the probe's list does with them (its cached view; unreadable: not shown).
        if let Ok(list) = state
            .probe_list
            .snapshot(
                state.store.as_ref(),
                state.incidents.as_deref(),
                state.history.as_deref(),
            )
            .await
        {
            for id in backoff_asks {
                if let Some(live) = out.get_mut(id.as_str()) {
                    live.checked_every_s = list.backed_off_interval_s(org, &id, now);
                }
            }
        }
    }
    Ok(out)
}

/// The warning of the latest results, if one warns: the result's own message (the
/// engine writes "certificate expires in N days"), a critical one first.
fn warning_note(latest: &[crate::history::ResultRow]) -> Option<String> {
    let warning = latest
        .iter()
        .filter(|r| r.outcome == "warning")
        .min_by_key(|r| r.reason.as_deref() != Some("cert_expiry_critical"))?;
    Some(if warning.message.trim().is_empty() {
        match warning.reason.as_deref() {
            Some(r) if r.starts_with("cert_expiry") => "certificate expiring".to_string(),
            Some(r) => r.replace('_', " "),
            None => "warning".to_string(),
        }
    } else {
        warning.message.clone()
    })
}

/// What changed from `old` to `new`: `None` when nothing did.
fn changes(old: &Snapshot, new: &Snapshot, at_ms: i64) -> Option<StatusEvent> {
    let endpoints: Vec<LiveEndpoint> = new
        .iter()
        .filter(|(id, l)| old.get(*id) != Some(*l))
        .map(|(_, l)| l.clone())
        .collect();
    let removed: Vec<String> = old
        .keys()
        .filter(|id| !new.contains_key(*id))
        .cloned()
        .collect();
    (!endpoints.is_empty() || !removed.is_empty()).then_some(StatusEvent {
        at_ms,
        endpoints,
        removed,
    })
}

fn event(name: &str, data: &StatusEvent) -> Event {
    Event::default()
        .event(name)
        .retry(Duration::from_secs(2))
        .json_data(data)
        .unwrap_or_else(|_| Event::default().comment("could not encode an event"))
}

/// A live stream's state between events.
struct Live {
    state: AppState,
    org: OrgId,
    last: Arc<Snapshot>,
    first: Option<Event>,
    ends_at: tokio::time::Instant,
    _permit: OwnedSemaphorePermit,
}

/// `GET /v1/events?once=`.
#[utoipa::path(
    get,
    path = "/v1/events",
    operation_id = "events",
    tag = "endpoints",
    security(("session" = []), ("api_key" = [])),
    params(
        ("once" = Option<bool>, Query, description = "`true`: the snapshot alone, then the end of the answer (so too without `Accept: text/event-stream`)."),
    ),
    responses(
        (status = 200, description = "Server-sent events: `snapshot` (every endpoint's status, on connect), then `status` \
            (what changed) about every second when something did, and heartbeat comments. Each event's data is a StatusEvent.",
            content_type = "text/event-stream", body = SseEvent),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::Unprocessable),
        (status = 429, response = crate::openapi::TooManyRequests),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut once = false;
    for (key, value) in &params {
        match key.as_str() {
            "once" => {
                once = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(Invalid::new("once", "must be true or false").into()),
                }
            }
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter {other:?}: only once is known"
                )));
            }
        }
    }
    let wants_stream = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    let org = caller.org_id.clone();
    // Only live streams count against the bound; a single snapshot is an ordinary request.
    let permit = if once || !wants_stream {
        None
    } else {
        Some(permit(&org)?)
    };
    // The first snapshot is fresh (what the caller just changed shows); later ticks share.
    let first = state.live.snapshot(&state, &org, Duration::ZERO).await?;
    let first_event = StatusEvent {
        at_ms: now_ms(),
        endpoints: first.values().cloned().collect(),
        removed: Vec::new(),
    };
    let first_event = event("snapshot", &first_event);
    let Some(permit) = permit else {
        let one = futures::stream::once(async move { Ok::<_, Infallible>(first_event) });
        return Ok(Sse::new(one).into_response());
    };
    let live = Live {
        state,
        org,
        last: first,
        first: Some(first_event),
        ends_at: tokio::time::Instant::now() + MAX_STREAM_AGE,
        _permit: permit,
    };
    let stream = futures::stream::unfold(live, |mut l| async move {
        if let Some(first) = l.first.take() {
            return Some((Ok::<_, Infallible>(first), l));
        }
        loop {
            if tokio::time::Instant::now() >= l.ends_at {
                return None;
            }
            tokio::time::sleep(TICK).await;
            // A store that does not answer this round is asked again the next.
            let Ok(now) = l
                .state
                .live
                .snapshot(&l.state, &l.org, SHARED_MAX_AGE)
                .await
            else {
                continue;
            };
            let changed = changes(&l.last, &now, now_ms());
            l.last = now;
            if let Some(ev) = changed {
                return Some((Ok(event("status", &ev)), l));
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(HEARTBEAT))
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(id: &str, status: LiveStatus) -> (String, LiveEndpoint) {
        (
            id.to_string(),
            LiveEndpoint {
                id: EndpointId::parse(id).unwrap_or_else(|_| panic!("{id}")),
                name: "n".into(),
                status,
                incident_id: None,
                error: None,
                note: None,
                checked_every_s: None,
            },
        )
    }

    #[test]
    fn changes_name_what_changed_and_what_went() {
        let a = "ep_aaaaaaaaaaaaaaaaaaaaaa";
        let b = "ep_bbbbbbbbbbbbbbbbbbbbbb";
        let old: Snapshot = [ep(a, LiveStatus::Up), ep(b, LiveStatus::Up)].into();
        assert!(changes(&old, &old, 1).is_none());
        let new: Snapshot = [ep(a, LiveStatus::Down)].into();
        let ev = changes(&old, &new, 1).unwrap_or_else(|| panic!("a change"));
        assert_eq!(ev.endpoints.len(), 1);
        assert_eq!(ev.endpoints[0].status, LiveStatus::Down);
        assert_eq!(ev.removed, vec![b.to_string()]);
    }

    /// A result of `at` for `id` in region `local`.
    fn result(
        org: &OrgId,
        id: &EndpointId,
        at: i64,
        outcome: scoville_core::Outcome,
    ) -> scoville_core::CheckResult {
        use scoville_core::{CheckReport, Outcome, Region, RunId, Timings};
        let message = match outcome {
            Outcome::Warning(_) => "certificate expires in 9 days",
            Outcome::Down(_) => "HTTP 503",
            _ => "HTTP 200",
        };
        scoville_core::CheckResult {
            endpoint_id: id.clone(),
            org_id: org.clone(),
            region: Region::parse("local").unwrap_or_else(|e| panic!("{e}")),
            run_id: RunId::parse(format!("run-{at}")).unwrap_or_else(|e| panic!("{e}")),
            scheduled_at_ms: at,
            started_at_ms: at,
            apdex_t_ms: Some(200),
            mean_limit_ms: None,
            report: CheckReport {
                outcome,
                message: message.into(),
                status: Some(200),
                timings: Timings {
                    dns_ms: None,
                    connect_ms: None,
                    tls_ms: None,
                    ttfb_ms: None,
                    total_ms: 10.0,
                },
                bytes: 1,
                truncated: false,
                cert_expires_at_ms: None,
                domain_expires_at_ms: None,
                body_hash: None,
                watch_excerpt: None,
                ip: None,
                redirects: 0,
            },
        }
    }

    /// The hub keeps the endpoint list between snapshots: after every kind of endpoint
    /// write (rename, pause, delete, create) and after new results, its snapshot is
    /// exactly the one computed from a fresh read of the store.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_kept_endpoint_list_follows_endpoint_writes() {
        use crate::history::sqlite::SqliteHistory;
        use crate::model::EndpointInput;
        use crate::store::sqlite::SqliteAdmin;
        use scoville_core::{DownReason, Outcome, Region, WarningReason};
        use scoville_incident_log::sqlite::SqliteLog;
        use scoville_incident_log::{EntryKind, Incident, IncidentLog, LogWrite, TimelineEntry};
        use scoville_receiver_service::store::ResultStore;
        use scoville_receiver_service::store::sqlite::SqliteStore;

        let dir = std::env::temp_dir().join(format!("scoville-events-kept-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join("scoville.db");
        let writer = SqliteStore::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let store = Arc::new(SqliteAdmin::open(&path).unwrap_or_else(|e| panic!("{e:?}")));
        let history = Arc::new(SqliteHistory::open(&path).unwrap_or_else(|e| panic!("{e}")));
        let log: Arc<dyn IncidentLog> =
            Arc::new(SqliteLog::open(&path).unwrap_or_else(|e| panic!("{e}")));
        let state = AppState::new(
            store,
            scoville_service_kit::auth::TokenSet::new(Vec::new()),
            3_600_000,
            false,
        )
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .with_history(history)
        .with_incidents(log.clone());
        let org = OrgId::parse("org_keptlist").unwrap_or_else(|e| panic!("{e}"));
        let endpoint = |i: usize| {
            let input: EndpointInput = serde_json::from_value(serde_json::json!({
                "name": format!("service {i}"),
                "check": {"type": "http", "url": format!("https://svc{i}.example.com/")},
                "regions": ["local"],
                "confirm_regions": 1,
            }))
            .unwrap_or_else(|e| panic!("{e}"));
            input
                .into_endpoint(
                    EndpointId::parse(format!("ep_kept{i}")).unwrap_or_else(|e| panic!("{e}")),
                    org.clone(),
                )
                .unwrap_or_else(|e| panic!("{e:?}"))
        };
        let now = now_ms();
        let mut results = Vec::new();
        for i in 0..6 {
            let mut e = endpoint(i);
            e.paused = i == 3;
            state
                .store
                .put_endpoint(&e, false)
                .await
                .unwrap_or_else(|e| panic!("{e:?}"));
            let outcome = match i {
                1 => Outcome::Down(DownReason::Status),
                2 => Outcome::Warning(WarningReason::CertExpiryWarn),
                5 => continue,
                _ => Outcome::Up,
            };
            results.push(result(&org, &e.id, now - 1_000, outcome));
        }
        writer
            .write(&results)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let down = endpoint(4).id;
        log.append(&[LogWrite {
            incident: Incident {
                id: format!("{down}~1"),
                org_id: org.clone(),
                endpoint_id: down.clone(),
                started_at_ms: now - 60_000,
                confirmed_at_ms: now - 30_000,
                resolved_at_ms: None,
                regions: vec![Region::parse("local").unwrap_or_else(|e| panic!("{e}"))],
                error: Some("status: 503".into()),
            },
            entry: TimelineEntry {
                at_ms: now - 30_000,
                kind: EntryKind::Confirmed,
                notice: None,
                muted: false,
                regions: Vec::new(),
                detail: None,
            },
        }])
        .await
        .unwrap_or_else(|e| panic!("{e}"));

        let same = async |what: &str| -> Arc<Snapshot> {
            let kept = state
                .live
                .snapshot(&state, &org, Duration::ZERO)
                .await
                .unwrap_or_else(|e| panic!("{e:?}"));
            let fresh = snapshot(&state, &org)
                .await
                .unwrap_or_else(|e| panic!("{e:?}"));
            assert_eq!(*kept, fresh, "{what}");
            kept
        };
        let first = same("first").await;
        let statuses: Vec<LiveStatus> = first.values().map(|l| l.status).collect();
        use LiveStatus::*;
        assert_eq!(statuses, [Up, Degraded, Degraded, Paused, Down, Unknown]);
        assert!(first.values().nth(2).is_some_and(|l| l.note.is_some()));

        let mut renamed = endpoint(0);
        renamed.name = "renamed".into();
        state
            .store
            .put_endpoint(&renamed, true)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let s = same("renamed").await;
        assert_eq!(s.values().next().map(|l| l.name.as_str()), Some("renamed"));

        let mut paused = endpoint(1);
        paused.paused = true;
        state
            .store
            .put_endpoint(&paused, true)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let s = same("paused").await;
        assert_eq!(s.values().nth(1).map(|l| l.status), Some(Paused));

        state
            .store
            .delete_endpoint(&org, &endpoint(2).id)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(same("deleted").await.len(), 5);

        state
            .store
            .put_endpoint(&endpoint(6), false)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(same("created").await.len(), 6);

        writer
            .write(&[result(&org, &endpoint(5).id, now, Outcome::Up)])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let s = same("new results").await;
        assert_eq!(s.get(endpoint(5).id.as_str()).map(|l| l.status), Some(Up));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn streams_per_org_are_bounded() {
        let org = OrgId::parse("org_eventsboundtest000000").unwrap_or_else(|e| panic!("{e}"));
        let held: Vec<_> = (0..MAX_STREAMS_PER_ORG)
            .map(|_| permit(&org).unwrap_or_else(|_| panic!("a permit")))
            .collect();
        assert!(matches!(permit(&org), Err(ApiError::TooManyRequests(_))));
        drop(held);
        assert!(permit(&org).is_ok());
    }
}
