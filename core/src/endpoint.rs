//! An endpoint as the probe sees it: what `GET /v1/probe/endpoints` returns for each
//! endpoint, and what a standalone endpoint file lists.

use serde::{Deserialize, Serialize};

use crate::{ApdexT, CheckSpec, EndpointId, OrgId};

/// One endpoint due for checking.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeEndpoint {
    /// The endpoint's id.
    pub id: EndpointId,
    /// Its organization (`local` in standalone files that name none).
    #[serde(default = "OrgId::local")]
    pub org_id: OrgId,
    /// A display name, for logs and the CLI.
    #[serde(default)]
    pub name: String,
    /// What to check.
    pub check: CheckSpec,
    /// Apdex threshold T.
    #[serde(default)]
    pub apdex_t_ms: ApdexT,
    /// Pyng's rule: a degradation is reported when the mean run time over five minutes
    /// goes above this (none: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_limit_ms: Option<u32>,
    /// Whether the endpoint has an open incident: its results, successes included, also
    /// go to the failure service, whose successes close the incident.
    #[serde(default)]
    pub open_incident: bool,
    /// The last body hash seen, for change detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_body_hash: Option<String>,
}
