//! A degradation report: what the receiver's worker sends the failure service
//! (`POST /v1/degradations`) when an endpoint's Apdex has drifted down against its own
//! baseline, or its mean run time has gone above its limit. Reported once per episode;
//! [`DegradationReport::key`] names the episode, so a report sent twice is one report.

use serde::{Deserialize, Serialize};

use crate::{EndpointId, OrgId, Region};

/// What degraded.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DegradationSignal {
    /// A statistically significant Apdex drop (`scoville_core::trend`).
    ApdexTrend {
        /// The endpoint's baseline Apdex.
        baseline: f64,
        /// Its Apdex since the drift began.
        current: f64,
    },
    /// The mean run time over the rule's window went above the endpoint's limit.
    MeanRuntime {
        /// The endpoint's limit.
        limit_ms: f64,
        /// The mean that crossed it.
        mean_ms: f64,
    },
}

impl DegradationSignal {
    /// A short, stable name for logs and keys.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ApdexTrend { .. } => "apdex_trend",
            Self::MeanRuntime { .. } => "mean_runtime",
        }
    }
}

/// One degradation episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DegradationReport {
    /// The endpoint.
    pub endpoint_id: EndpointId,
    /// Its organization.
    pub org_id: OrgId,
    /// The region that degraded, or none when the endpoint degraded as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
    /// First minute of the episode (Unix ms).
    pub started_at_ms: i64,
    /// When it was detected (Unix ms).
    pub detected_at_ms: i64,
    /// What degraded, and by how much.
    #[serde(flatten)]
    pub signal: DegradationSignal,
}

impl DegradationReport {
    /// The episode's identity: the same episode reported twice has the same key.
    pub fn key(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.endpoint_id.as_str(),
            self.region.as_ref().map_or("all", |r| r.as_str()),
            self.signal.kind(),
            self.started_at_ms
        )
    }
}

/// Body of `POST /v1/degradations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DegradationBatch {
    /// The reports.
    pub degradations: Vec<DegradationReport>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_round_trips_with_its_kind_flat_and_its_key_names_the_episode() {
        let r = DegradationReport {
            endpoint_id: EndpointId::parse("ep-1").unwrap(),
            org_id: OrgId::parse("org-1").unwrap(),
            region: None,
            started_at_ms: 60_000,
            detected_at_ms: 600_000,
            signal: DegradationSignal::ApdexTrend {
                baseline: 0.95,
                current: 0.8,
            },
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["kind"], "apdex_trend");
        assert_eq!(v["baseline"], 0.95);
        let back: DegradationReport = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
        assert_eq!(r.key(), "ep-1/all/apdex_trend/60000");
    }
}
