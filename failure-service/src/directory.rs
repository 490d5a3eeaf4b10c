//! What the failure service knows about an endpoint beyond its results: its name and
//! target (for messages), its incident policy, the alert channels its notices go to, its
//! maintenance windows, and the link to its page. A port, so the admin API's data can
//! stand behind it; [`ConfigDirectory`] serves it from the configuration (defaults for
//! every endpoint, overrides per endpoint).

use std::collections::HashMap;

use futures::FutureExt;
use futures::future::BoxFuture;
use scoville_core::incident::IncidentPolicy;
use scoville_core::{EndpointId, OrgId};
use serde::{Deserialize, Serialize};

/// A maintenance window, Unix ms, `[from_ms, to_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Start.
    pub from_ms: i64,
    /// End.
    pub to_ms: i64,
}

/// One endpoint, as the service needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointInfo {
    /// Display name.
    pub name: String,
    /// What is checked.
    pub target: String,
    /// Its incident policy.
    pub policy: IncidentPolicy,
    /// Alert channel ids.
    pub channels: Vec<String>,
    /// Maintenance windows.
    pub maintenance: Vec<Window>,
    /// Its page.
    pub link: String,
}

impl EndpointInfo {
    /// Whether notices are muted at `at_ms`.
    pub fn muted_at(&self, at_ms: i64) -> bool {
        self.maintenance
            .iter()
            .any(|w| w.from_ms <= at_ms && at_ms < w.to_ms)
    }
}

/// The directory could not answer: the request is refused with 503 and the probe (or
/// sender) retries, so no notice goes out without its channels.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("endpoint directory unavailable: {0}")]
pub struct DirectoryError(pub String);

/// The directory port.
pub trait Directory: Send + Sync + std::fmt::Debug {
    /// What is known of `endpoint` of `org` (defaults when nothing is).
    fn endpoint<'a>(
        &'a self,
        org: &'a OrgId,
        endpoint: &'a EndpointId,
    ) -> BoxFuture<'a, Result<EndpointInfo, DirectoryError>>;
}

/// An endpoint's overrides in the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointEntry {
    /// Organization.
    pub org_id: OrgId,
    /// Endpoint.
    pub id: EndpointId,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// What is checked.
    #[serde(default)]
    pub target: String,
    /// Channels (the defaults when absent).
    #[serde(default)]
    pub channels: Option<Vec<String>>,
    /// Policy (the default when absent).
    #[serde(default)]
    pub policy: Option<IncidentPolicy>,
    /// Maintenance windows.
    #[serde(default)]
    pub maintenance: Vec<Window>,
}

/// The directory from the configuration.
#[derive(Debug, Clone)]
pub struct ConfigDirectory {
    public_url: String,
    policy: IncidentPolicy,
    channels: Vec<String>,
    endpoints: HashMap<(OrgId, EndpointId), EndpointEntry>,
}

impl ConfigDirectory {
    /// Defaults for every endpoint, and overrides.
    pub fn new(
        public_url: &str,
        policy: IncidentPolicy,
        channels: Vec<String>,
        entries: Vec<EndpointEntry>,
    ) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_string(),
            policy,
            channels,
            endpoints: entries
                .into_iter()
                .map(|e| ((e.org_id.clone(), e.id.clone()), e))
                .collect(),
        }
    }
}

impl Directory for ConfigDirectory {
    fn endpoint<'a>(
        &'a self,
        org: &'a OrgId,
        endpoint: &'a EndpointId,
    ) -> BoxFuture<'a, Result<EndpointInfo, DirectoryError>> {
        let entry = self.endpoints.get(&(org.clone(), endpoint.clone()));
        let info = EndpointInfo {
            name: entry
                .map(|e| e.name.clone())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| endpoint.as_str().to_string()),
            target: entry.map(|e| e.target.clone()).unwrap_or_default(),
            policy: entry.and_then(|e| e.policy).unwrap_or(self.policy),
            channels: entry
                .and_then(|e| e.channels.clone())
                .unwrap_or_else(|| self.channels.clone()),
            maintenance: entry.map(|e| e.maintenance.clone()).unwrap_or_default(),
            link: format!("{}/endpoints/{}", self.public_url, endpoint.as_str()),
        };
        futures::future::ready(Ok(info)).boxed()
    }
}
