//! Wire types of the REST contracts between the parts (see `DESIGN.md`): the probe's
//! paged endpoint list, result batches and the answers to them.

use serde::{Deserialize, Serialize};

use crate::{CheckResult, ProbeEndpoint, Region};

/// `GET /v1/probe/endpoints` answer: one page of endpoints and the cursor of the next.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointPage {
    /// Endpoints on this page.
    pub endpoints: Vec<ProbeEndpoint>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Body of `POST /v1/results` and `POST /v1/failures`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultBatch {
    /// The results, at most the receiver's batch limit.
    pub results: Vec<CheckResult>,
}

/// Answer of `POST /v1/results` (201) and `POST /v1/failures` (202).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAccepted {
    /// How many results were queued.
    pub queued: usize,
}

/// A shard of a region's endpoints: `index` of `count`, 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "ShardRepr", into = "ShardRepr")]
pub struct Shard {
    index: u32,
    count: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct ShardRepr {
    shard: u32,
    shards: u32,
}

impl Shard {
    /// The whole region as one shard.
    pub fn whole() -> Self {
        Self { index: 0, count: 1 }
    }

    /// Shard `index` of `count`.
    pub fn new(index: u32, count: u32) -> Result<Self, String> {
        if count == 0 || count > 10_000 {
            return Err(format!("shards must be between 1 and 10000, not {count}"));
        }
        if index >= count {
            return Err(format!("shard {index} is out of range for {count} shards"));
        }
        Ok(Self { index, count })
    }

    /// This shard's index.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// How many shards the region has.
    pub fn count(&self) -> u32 {
        self.count
    }
}

impl TryFrom<ShardRepr> for Shard {
    type Error = String;
    fn try_from(r: ShardRepr) -> Result<Self, String> {
        Self::new(r.shard, r.shards)
    }
}

impl From<Shard> for ShardRepr {
    fn from(s: Shard) -> Self {
        Self {
            shard: s.index,
            shards: s.count,
        }
    }
}

/// Where a probe round runs: the region and the shard of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeScope {
    /// The region.
    pub region: Region,
    /// The shard.
    pub shard: Shard,
}

/// One watched value seen by a probe (`POST /v1/changes`): probes send every successful
/// watched check's value; the incident machine decides which are changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeReport {
    /// The endpoint.
    pub endpoint_id: crate::EndpointId,
    /// Its organization.
    pub org_id: crate::OrgId,
    /// Where it was seen.
    pub region: Region,
    /// When (Unix ms).
    pub at_ms: i64,
    /// The watched value's hash.
    pub body_hash: String,
    /// A short excerpt of the watched value for the notice's before / after line (one
    /// line of at most [`crate::check_spec::watch::MAX_EXCERPT_CHARS`] characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Body of `POST /v1/changes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeBatch {
    /// The changes.
    pub changes: Vec<ChangeReport>,
}

/// A maintenance window as services see it: notices muted in `[from_ms, to_ms)`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MutedWindow {
    /// Start, Unix ms.
    pub from_ms: i64,
    /// End, Unix ms.
    pub to_ms: i64,
}

/// What the failure service needs to know of an endpoint
/// (`GET /v1/service/endpoints/{org}/{id}` on the admin API, service token).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryEntry {
    /// Display name (user text).
    pub name: String,
    /// What is checked, for messages: a URL, `host:port`, a DNS name (user text).
    pub target: String,
    /// The incident policy.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub policy: crate::incident::IncidentPolicy,
    /// Alert channel ids.
    pub channels: Vec<String>,
    /// Maintenance windows covering it, not yet over.
    pub maintenance: Vec<MutedWindow>,
    /// Its page in the UI.
    pub link: String,
}
