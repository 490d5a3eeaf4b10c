//! The sweep: every minute (a task in the server and in `scoville up`; on AWS the
//! scheduled call of `POST /v1/service/heartbeats/sweep`), each heartbeat whose ping is
//! overdue gets a failed result, once per missed deadline. See the module docs of
//! [`super`] for the rules.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use scoville_core::check_spec::HeartbeatCheck;
use scoville_core::{CheckSpec, DownReason, EndpointId, OrgId, Outcome};

use super::store::{Beat, Heard};
use super::{Heartbeats, human_ms, result_of};
use crate::error::ApiError;
use crate::store::AdminStore;

/// Most heartbeats one sweep looks at.
pub const MAX_BEATS: usize = 100_000;

/// Results handed on per request.
const CHUNK: usize = 500;

/// A missed ping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missed {
    /// The deadline that passed (the failed result's time).
    pub deadline_ms: i64,
    /// What the result says.
    pub message: String,
}

/// Whether `beat` is overdue at `now_ms`: the latest deadline passed and not yet
/// reported. A beat never pinged is new and never overdue.
pub fn overdue(check: &HeartbeatCheck, beat: &Beat, now_ms: i64) -> Option<Missed> {
    let last = beat.last_ping_ms?;
    let period_ms = i64::from(check.period_s()) * 1000;
    let (first, why) = match beat.last_start_ms {
        Some(start) if start > last => (
            start + i64::from(check.grace_s()) * 1000,
            format!(
                "started {} ago and not finished within the grace time of {}",
                human_ms(now_ms - start),
                human_ms(i64::from(check.grace_s()) * 1000)
            ),
        ),
        _ => (
            check.deadline_after(last),
            format!(
                "no ping for {} (expected every {}, grace {})",
                human_ms(now_ms - last),
                human_ms(period_ms),
                human_ms(i64::from(check.grace_s()) * 1000)
            ),
        ),
    };
    if now_ms < first {
        return None;
    }
    // The latest deadline passed: the first, then one per period.
    let deadline_ms = first + (now_ms - first) / period_ms * period_ms;
    if beat.reported_ms.is_some_and(|r| r >= deadline_ms) {
        return None;
    }
    Some(Missed {
        deadline_ms,
        message: why,
    })
}

impl Heartbeats {
    /// Reports every overdue heartbeat at `now_ms`; returns how many were reported.
    pub async fn sweep(&self, admin: &dyn AdminStore, now_ms: i64) -> Result<usize, ApiError> {
        let beats = self.store().all(MAX_BEATS).await?;
        if beats.is_empty() {
            return Ok(0);
        }
        let endpoints: HashMap<(OrgId, EndpointId), _> = admin
            .all_endpoints(None)
            .await?
            .into_iter()
            .filter(|e| matches!(e.check, CheckSpec::Heartbeat(_)) && !e.paused)
            .map(|e| ((e.org_id.clone(), e.id.clone()), e))
            .collect();
        let mut due = Vec::new();
        for beat in &beats {
            let Some(endpoint) = endpoints.get(&(beat.org_id.clone(), beat.endpoint_id.clone()))
            else {
                continue;
            };
            let CheckSpec::Heartbeat(check) = &endpoint.check else {
                continue;
            };
            if let Some(missed) = overdue(check, beat, now_ms) {
                let result = result_of(
                    endpoint,
                    missed.deadline_ms,
                    Outcome::Down(DownReason::MissedPing),
                    &missed.message,
                    None,
                );
                due.push((beat, missed.deadline_ms, result));
            }
        }
        let mut reported = 0;
        for chunk in due.chunks(CHUNK) {
            self.send(chunk.iter().map(|(_, _, r)| r.clone()).collect())
                .await?;
            for (beat, deadline, _) in chunk {
                self.store()
                    .record(&beat.org_id, &beat.endpoint_id, Heard::Reported(*deadline))
                    .await?;
                reported += 1;
            }
        }
        if reported > 0 {
            tracing::info!(reported, "heartbeats overdue");
        }
        Ok(reported)
    }
}

/// Sweeps every `every` until `stop` resolves.
pub async fn run(
    heartbeats: Heartbeats,
    admin: std::sync::Arc<dyn AdminStore>,
    every: Duration,
    stop: impl Future<Output = ()>,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = &mut stop => return,
        }
        if let Err(e) = heartbeats.sweep(admin.as_ref(), crate::app::now_ms()).await {
            tracing::warn!(error = %e, "heartbeat sweep failed; next one retries");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(ping: Option<i64>, start: Option<i64>, reported: Option<i64>) -> Beat {
        let mut b = Beat::new(OrgId::local(), EndpointId::parse("ep_1").expect("an id"));
        b.last_ping_ms = ping;
        b.last_start_ms = start;
        b.reported_ms = reported;
        b
    }

    #[test]
    fn a_ping_is_overdue_after_its_period_and_grace_once_per_period() {
        let c = HeartbeatCheck::new(60, 30, Vec::new()).expect("a check");
        // New: never pinged.
        assert_eq!(overdue(&c, &beat(None, None, None), 10_000_000), None);
        // Due at 60 s, late until 90 s.
        assert_eq!(overdue(&c, &beat(Some(0), None, None), 89_999), None);
        let m = overdue(&c, &beat(Some(0), None, None), 90_000).expect("overdue");
        assert_eq!(m.deadline_ms, 90_000);
        assert!(m.message.contains("no ping for 1 min"), "{}", m.message);
        // Reported: quiet until the next period's deadline.
        assert_eq!(
            overdue(&c, &beat(Some(0), None, Some(90_000)), 149_999),
            None
        );
        let m = overdue(&c, &beat(Some(0), None, Some(90_000)), 150_000).expect("again");
        assert_eq!(m.deadline_ms, 150_000);
        // After a long outage of the sweep, only the latest deadline is reported.
        let m = overdue(&c, &beat(Some(0), None, Some(90_000)), 1_000_000).expect("latest");
        assert_eq!(m.deadline_ms, 990_000);
    }

    #[test]
    fn a_started_run_must_finish_within_the_grace_time() {
        let c = HeartbeatCheck::new(3600, 120, Vec::new()).expect("a check");
        let b = beat(Some(0), Some(1_000_000), None);
        assert_eq!(overdue(&c, &b, 1_119_999), None);
        let m = overdue(&c, &b, 1_120_000).expect("overdue");
        assert_eq!(m.deadline_ms, 1_120_000);
        assert!(m.message.contains("not finished"), "{}", m.message);
        // A start before the last finish is an old run's.
        let b = beat(Some(2_000_000), Some(1_000_000), None);
        assert_eq!(overdue(&c, &b, 2_500_000), None);
    }
}
