//! What the benchmark binaries share: measuring a process from `/proc`, owning child
//! processes, quantiles, and seeding an open incident.

use std::process::Child;

pub mod procstat;

/// A child process killed (and reaped) when dropped.
#[derive(Debug)]
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `q` quantile of `v` (sorted in place), nearest rank; NaN when empty.
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Writes an incident of `id` confirmed at `confirmed_ms` in `region` (opened a minute
/// before, still open) to `log`, as the failure service would.
///
/// # Errors
/// When the log refuses the write.
pub async fn log_open_incident(
    log: &dyn scoville_incident_log::IncidentLog,
    org: &scoville_core::OrgId,
    id: &scoville_core::EndpointId,
    region: &str,
    confirmed_ms: i64,
    error: &str,
) -> anyhow::Result<()> {
    use scoville_incident_log::{EntryKind, Incident, LogWrite, TimelineEntry};
    const MINUTE: i64 = 60_000;
    let incident = Incident {
        id: format!("{id}~{}", confirmed_ms / MINUTE),
        org_id: org.clone(),
        endpoint_id: id.clone(),
        started_at_ms: confirmed_ms - MINUTE,
        confirmed_at_ms: confirmed_ms,
        resolved_at_ms: None,
        regions: vec![scoville_core::Region::parse(region).map_err(|e| anyhow::anyhow!("{e}"))?],
        error: Some(error.into()),
    };
    log.append(&[LogWrite {
        incident,
        entry: TimelineEntry {
            at_ms: confirmed_ms,
            kind: EntryKind::Confirmed,
            notice: None,
            muted: false,
            regions: Vec::new(),
            detail: None,
        },
    }])
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))
}
