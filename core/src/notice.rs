//! What the failure service tells people: a [`Notice`] (an endpoint went down, recovered,
//! is flapping, degraded, has a certificate about to expire, changed its content) and the
//! [`NotificationJob`] that carries one notice to one alert channel.
//!
//! Notices hold plain text; each channel escapes it for its own format and never uses it
//! as a template.

use serde::{Deserialize, Serialize};

use crate::{EndpointId, OrgId, Region};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// Confirmed down: an incident opened.
    Down,
    /// Back up: the incident closed.
    Recovered,
    /// Toggling too often: one notice, then quiet until it settles.
    Flapping,
    /// Stopped flapping where people were last told it was; the notice says which, and
    /// carries the incident's error when it settled down (none when up).
    Settled,
    /// Apdex trend or mean run time degraded.
    Degraded,
    /// The TLS certificate expires soon.
    CertificateExpiring,
    /// The domain's registration expires soon (from RDAP).
    DomainExpiring,
    /// The content changed.
    Changed,
}

impl NoticeKind {
    /// Stable lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Down => "down",
            Self::Recovered => "recovered",
            Self::Flapping => "flapping",
            Self::Settled => "settled",
            Self::Degraded => "degraded",
            Self::CertificateExpiring => "certificate_expiring",
            Self::DomainExpiring => "domain_expiring",
            Self::Changed => "changed",
        }
    }
}

/// One notice about one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// What happened.
    pub kind: NoticeKind,
    /// The organization.
    pub org_id: OrgId,
    /// The endpoint.
    pub endpoint_id: EndpointId,
    /// The endpoint's display name (user text).
    pub endpoint_name: String,
    /// What is checked, for display: a URL or `host:port` (user text).
    pub target: String,
    /// The incident (or episode) this notice belongs to; the dedup key and PagerDuty's
    /// `dedup_key` derive from it.
    pub incident_id: String,
    /// Since when (Unix ms): the incident's start, the degradation's start, ...
    pub since_ms: i64,
    /// When the notice was decided (Unix ms).
    pub at_ms: i64,
    /// The regions involved.
    pub regions: Vec<Region>,
    /// The error seen, if any (user-influenced text: a server's answer).
    pub error: Option<String>,
    /// One more line of detail (a degradation's size, a certificate's expiry, ...).
    pub detail: Option<String>,
    /// Link to the endpoint's page.
    pub link: String,
}

impl Notice {
    /// A one-line summary in plain text (channels escape it).
    pub fn headline(&self) -> String {
        let name = if self.endpoint_name.is_empty() {
            self.endpoint_id.as_str()
        } else {
            self.endpoint_name.as_str()
        };
        match self.kind {
            NoticeKind::Down => format!("{name} is down"),
            NoticeKind::Recovered => format!("{name} is back up"),
            NoticeKind::Flapping => format!("{name} is flapping"),
            NoticeKind::Settled => format!("{name} has stopped flapping"),
            NoticeKind::Degraded => format!("{name} is degraded"),
            NoticeKind::CertificateExpiring => format!("{name}: certificate expires soon"),
            NoticeKind::DomainExpiring => format!("{name}: domain expires soon"),
            NoticeKind::Changed => format!("{name} changed"),
        }
    }
}

/// One notice for one channel, as queued for the notifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationJob {
    /// The alert channel's id (the notifier looks its configuration up).
    pub channel_id: String,
    /// The notice.
    pub notice: Notice,
}

impl NotificationJob {
    /// Identity of what this job sends: (incident, transition, channel). A job delivered
    /// twice has the same key and is sent once.
    pub fn dedup_key(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.notice.incident_id,
            self.notice.kind.as_str(),
            self.notice.since_ms,
            self.channel_id
        )
    }
}
