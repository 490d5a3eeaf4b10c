//! The incident log: every incident (a period an endpoint was confirmed down) with its
//! timeline (confirmed, each notice sent about it, resolved). The failure service writes
//! it; the admin API reads it (incidents and their timeline, and which endpoints have an
//! open incident, for the probe's list). Two adapters behind one port:
//! [`sqlite::SqliteLog`] (embedded; it can share the failure service's SQLite file) and
//! [`dynamodb::DynamoLog`].
//!
//! Writes are idempotent, so the failure service can carry them in its transactional
//! outbox and write them again after a crash: an incident is inserted once (a later copy
//! of its "opened" write never undoes a resolution), a timeline entry is keyed by
//! (incident, time, kind, notice).
//!
//! What is logged (decided): only down incidents. Notices about an open incident
//! (down, flapping, settled, degraded, certificate, changed, recovered) join its
//! timeline; notices while no incident is open (a degradation of an up endpoint) are
//! not incidents and are not logged here. An incident confirmed during maintenance is
//! logged with `muted: true` on its "confirmed" entry.

pub mod dynamodb;
pub mod sqlite;

use scoville_core::incident::{EndpointIncidents, OpenIncident};
use scoville_core::notice::{Notice, NoticeKind};
use scoville_core::{EndpointId, OrgId, Region};
use serde::{Deserialize, Serialize};

/// One incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// Its id (`<endpoint>~<round>`; URL-safe).
    pub id: String,
    /// The organization.
    pub org_id: OrgId,
    /// The endpoint.
    pub endpoint_id: EndpointId,
    /// When its first failed check started (Unix ms).
    pub started_at_ms: i64,
    /// When regions confirmed it (Unix ms of the deciding event).
    pub confirmed_at_ms: i64,
    /// When it was resolved; none while open.
    pub resolved_at_ms: Option<i64>,
    /// The regions that confirmed it.
    pub regions: Vec<Region>,
    /// The error seen when it was confirmed (a server's answer: user-influenced text).
    pub error: Option<String>,
}

impl Incident {
    /// Whether it is still open.
    pub fn is_open(&self) -> bool {
        self.resolved_at_ms.is_none()
    }
}

/// What a timeline entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Regions confirmed the endpoint down.
    Confirmed,
    /// A notice was sent about it.
    Notified,
    /// It recovered.
    Resolved,
}

impl EntryKind {
    /// Stable lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Notified => "notified",
            Self::Resolved => "resolved",
        }
    }
}

/// One line of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// When (Unix ms).
    pub at_ms: i64,
    /// What.
    pub kind: EntryKind,
    /// The notice sent, for [`EntryKind::Notified`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<NoticeKind>,
    /// Happened during maintenance (notices muted).
    #[serde(default)]
    pub muted: bool,
    /// The regions involved.
    #[serde(default)]
    pub regions: Vec<Region>,
    /// An error or one line of detail (user-influenced text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl TimelineEntry {
    /// The entry's key within its incident (what makes a second write of it a no-op);
    /// keys sort by time, and at one time a confirmation or resolution comes before
    /// the notices it caused.
    pub fn key(&self) -> String {
        let rank = match self.kind {
            EntryKind::Confirmed => 0,
            EntryKind::Resolved => 1,
            EntryKind::Notified => 2,
        };
        format!(
            "{:013}#{rank}{}#{}",
            self.at_ms,
            self.kind.as_str(),
            self.notice.map_or("-", |n| n.as_str())
        )
    }
}

/// One write: the incident as known at that moment, and one entry of its timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogWrite {
    /// The incident (inserted if new; a resolution is kept once set).
    pub incident: Incident,
    /// The entry to add.
    pub entry: TimelineEntry,
}

/// Which incidents to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentQuery {
    /// Only this endpoint's.
    pub endpoint_id: Option<EndpointId>,
    /// Only open (`Some(true)`) or resolved (`Some(false)`) ones.
    pub open: Option<bool>,
    /// Only those after this one in the list's order (newer confirmation first, then
    /// greater id): the last of the previous page, `(confirmed_at_ms, id)`.
    pub after: Option<(i64, String)>,
    /// At most this many (newest first).
    pub limit: usize,
}

/// Why a log call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// The store could not be reached or answered badly; retry later.
    #[error("incident log unavailable: {0}")]
    Unavailable(String),
}

pub(crate) fn unavailable(e: impl std::fmt::Display) -> LogError {
    LogError::Unavailable(e.to_string())
}

/// Result of a log call.
pub type Result<T> = std::result::Result<T, LogError>;

/// The incident log.
#[async_trait::async_trait]
pub trait IncidentLog: Send + Sync + std::fmt::Debug {
    /// Applies writes, in order; each is idempotent.
    async fn append(&self, writes: &[LogWrite]) -> Result<()>;
    /// Every endpoint with an open incident (the probe's list flags them).
    async fn open_endpoints(&self) -> Result<Vec<(OrgId, EndpointId)>>;
    /// [`open_endpoints`](Self::open_endpoints) with when each endpoint's open incident
    /// was confirmed (the latest confirmation if it has several open): the probe's list
    /// checks endpoints down for long less often. The adapters read the times; this
    /// default knows none (`None`: never backed off).
    async fn open_endpoints_since(&self) -> Result<Vec<(OrgId, EndpointId, Option<i64>)>> {
        Ok(self
            .open_endpoints()
            .await?
            .into_iter()
            .map(|(org, endpoint)| (org, endpoint, None))
            .collect())
    }
    /// An organization's incidents, newest confirmation first.
    async fn incidents(&self, org: &OrgId, query: &IncidentQuery) -> Result<Vec<Incident>>;
    /// One incident of an organization and its timeline, oldest entry first.
    async fn incident(
        &self,
        org: &OrgId,
        id: &str,
    ) -> Result<Option<(Incident, Vec<TimelineEntry>)>>;
}

/// The log writes one event produced: `before` is the state's open incident before the
/// event, `state` the state after it, `notices` what the event produced, `at_ms` the
/// event's time and `muted` whether maintenance muted it.
pub fn writes_for(
    org: &OrgId,
    endpoint: &EndpointId,
    before: Option<&OpenIncident>,
    state: &EndpointIncidents,
    notices: &[Notice],
    at_ms: i64,
    muted: bool,
) -> Vec<LogWrite> {
    let incident = |open: &OpenIncident, confirmed_at_ms: i64, resolved: Option<i64>| Incident {
        id: open.id.clone(),
        org_id: org.clone(),
        endpoint_id: endpoint.clone(),
        started_at_ms: open.since_ms,
        confirmed_at_ms,
        resolved_at_ms: resolved,
        regions: open.regions.clone(),
        error: open.error.clone(),
    };
    let after = state.incident();
    let mut out = Vec::new();
    let opened = after.filter(|a| before.is_none_or(|b| b.id != a.id));
    let closed = before.filter(|b| after.is_none_or(|a| a.id != b.id));
    // The confirmation time of an incident opened earlier is not in the state; the
    // write of an existing incident never changes it, so `at_ms` is only a placeholder.
    if let Some(b) = closed {
        out.push(LogWrite {
            incident: incident(b, at_ms, Some(at_ms)),
            entry: TimelineEntry {
                at_ms,
                kind: EntryKind::Resolved,
                notice: None,
                muted,
                regions: Vec::new(),
                detail: None,
            },
        });
    }
    if let Some(a) = opened {
        out.push(LogWrite {
            incident: incident(a, at_ms, None),
            entry: TimelineEntry {
                at_ms,
                kind: EntryKind::Confirmed,
                notice: None,
                muted,
                regions: a.regions.clone(),
                detail: a.error.clone(),
            },
        });
    }
    for n in notices {
        let about = [after, before]
            .into_iter()
            .flatten()
            .find(|i| i.id == n.incident_id)
            .or(after)
            .or(before);
        let Some(open) = about else { continue };
        let resolved = (Some(open) == closed).then_some(at_ms);
        out.push(LogWrite {
            incident: incident(open, at_ms, resolved),
            entry: TimelineEntry {
                at_ms: n.at_ms,
                kind: EntryKind::Notified,
                notice: Some(n.kind),
                muted: false,
                regions: n.regions.clone(),
                detail: n.error.clone().or_else(|| n.detail.clone()),
            },
        });
    }
    out
}
