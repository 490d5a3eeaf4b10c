//! Heartbeat (push) checks: the job calls its ping URL and Scoville notices when it
//! does not. What lives here:
//!
//! - [`Heartbeats`]: pings (`/v1/ping/{token}`, `/start`, `/fail`; routes in
//!   `routes/ping.rs`) become check results, and the sweep ([`sweep`]) turns a ping that
//!   did not come in time into a failed result. Results go where a probe's go
//!   ([`forward`]): the receiver (history, uptime, Apdex, duration) and the failure
//!   service (incidents, notifications), so a heartbeat has the same incidents,
//!   notices, maintenance muting and history as any check.
//! - the heartbeat's incident policy ([`policy`]): one pseudo-region (`heartbeat`), one
//!   failure opens, one success closes, rounds of a second, so a success just after a
//!   missed deadline closes the incident at once.
//! - the port ([`store`]) and its adapters (SQLite, DynamoDB).
//!
//! Decisions:
//! - A check that has never been pinged is "new" and not alerted on (as Healthchecks).
//! - A missed ping is reported at its deadline (`last ping + period + grace`) and then
//!   once per period while nothing comes: results are timestamped at the deadline, so
//!   two admin instances sweeping at once write the same result twice, which the time
//!   series and the state machine treat as one.
//! - `/start` then a finish gives the run's duration (the result's total time). A start
//!   not finished within `grace_s` is a failure.
//! - Tokens are 32 random bytes, stored hashed; the ping URL is shown when the endpoint
//!   is created and when a new token is issued.
//! - A paused heartbeat answers pings with 200 but records nothing.
//! - Pings are bounded ([`limit`]): 30 a minute per token, 64 handed on at once.

pub mod dynamodb;
pub mod forward;
pub mod limit;
pub mod sqlite;
pub mod store;
pub mod sweep;

use std::sync::Arc;

use scoville_core::check_spec::HeartbeatCheck;
use scoville_core::incident::IncidentPolicy;
use scoville_core::{
    CheckReport, CheckResult, CheckSpec, DownReason, EndpointId, OrgId, Outcome, Region, RunId,
    Timings,
};

use crate::error::ApiError;
use crate::model::Endpoint;
use crate::store::AdminStore;
use forward::Forwarder;
use store::{Beat, Heard, HeartbeatStore};

/// The pseudo-region of heartbeat results.
pub const REGION: &str = "heartbeat";

/// Largest payload a ping may post.
pub const MAX_PAYLOAD: usize = 100 * 1024;

/// Longest token accepted in a ping URL (longer ones are not ours: 404 at once).
const MAX_TOKEN: usize = 128;

/// The heartbeat pseudo-region.
pub fn region() -> Region {
    // A constant that parses.
    Region::parse(REGION).unwrap_or_else(|_| unreachable!("{REGION} is a region"))
}

/// The incident policy of a heartbeat endpoint (see the module docs).
pub fn policy(h: &HeartbeatCheck) -> IncidentPolicy {
    let cycle_ms = (i64::from(h.period_s()) + i64::from(h.grace_s())) * 1000;
    IncidentPolicy {
        failure_threshold: 1,
        recovery_threshold: 1,
        confirm_regions: 1,
        round_ms: 1000,
        // A miss counts while the next deadline has not passed.
        window_ms: (cycle_ms + 60_000).max(300_000),
        ..IncidentPolicy::default()
    }
}

/// Which ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingKind {
    /// The job finished well (its payload is judged).
    Success,
    /// The job started.
    Start,
    /// The job failed.
    Fail,
}

/// What a ping did.
#[derive(Debug, Clone, PartialEq)]
pub enum PingOutcome {
    /// Recorded; a finishing ping's result was handed on.
    Recorded {
        /// Whether the run counts as good.
        ok: bool,
        /// The run's duration, when it was started with `/start`.
        duration_ms: Option<i64>,
        /// What the result says.
        message: String,
    },
    /// The endpoint is paused: nothing recorded.
    Paused,
}

/// Heartbeat pings and the sweep.
#[derive(Debug, Clone)]
pub struct Heartbeats {
    store: Arc<dyn HeartbeatStore>,
    forward: Option<Forwarder>,
    limits: Arc<limit::PingLimits>,
}

impl Heartbeats {
    /// Over `store`; results go through `forward` (none: pings answer 503).
    pub fn new(store: Arc<dyn HeartbeatStore>, forward: Option<Forwarder>) -> Self {
        Self {
            store,
            forward,
            limits: Arc::default(),
        }
    }

    /// Whether results have somewhere to go.
    pub fn forwards(&self) -> bool {
        self.forward.is_some()
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn HeartbeatStore> {
        &self.store
    }

    /// Gives a heartbeat endpoint a new ping token and returns it (the previous one
    /// stops working).
    pub async fn issue_token(&self, org: &OrgId, id: &EndpointId) -> Result<String, ApiError> {
        let token = crate::model::new_secret("hb_");
        self.store
            .set_token(org, id, &crate::auth::hash_secret(&token))
            .await?;
        Ok(token)
    }

    /// Handles a ping at `now_ms`.
    pub async fn ping(
        &self,
        admin: &dyn AdminStore,
        token: &str,
        kind: PingKind,
        payload: &[u8],
        now_ms: i64,
    ) -> Result<PingOutcome, ApiError> {
        if token.len() > MAX_TOKEN {
            return Err(ApiError::NotFound);
        }
        let hash = crate::auth::hash_secret(token);
        let beat = self
            .store
            .by_token(&hash)
            .await?
            .ok_or(ApiError::NotFound)?;
        self.limits.count(&hash, now_ms)?;
        let endpoint = admin
            .endpoint(&beat.org_id, &beat.endpoint_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let CheckSpec::Heartbeat(check) = &endpoint.check else {
            return Err(ApiError::NotFound);
        };
        if endpoint.paused {
            return Ok(PingOutcome::Paused);
        }
        if kind == PingKind::Start {
            self.store
                .record(&beat.org_id, &beat.endpoint_id, Heard::Start(now_ms))
                .await?;
            return Ok(PingOutcome::Recorded {
                ok: true,
                duration_ms: None,
                message: "started".into(),
            });
        }
        let duration_ms = run_duration(check, &beat, now_ms);
        let ran = duration_ms
            .map(|d| format!(" after a {} run", human_ms(d)))
            .unwrap_or_default();
        let (outcome, message) = match kind {
            PingKind::Fail => (
                Outcome::Down(DownReason::ReportedFailure),
                format!("the job reported a failure{ran}{}", first_line(payload)),
            ),
            _ => match check.judge_payload(payload) {
                Ok(()) => (Outcome::Up, format!("ping{ran}")),
                Err(why) => (Outcome::Down(DownReason::Assertion), why),
            },
        };
        let ok = outcome.is_up();
        let result = result_of(&endpoint, now_ms, outcome, &message, duration_ms);
        let _slot = self.limits.slot()?;
        self.send(vec![result]).await?;
        self.store
            .record(
                &beat.org_id,
                &beat.endpoint_id,
                Heard::Finish { at_ms: now_ms, ok },
            )
            .await?;
        Ok(PingOutcome::Recorded {
            ok,
            duration_ms,
            message,
        })
    }

    async fn send(&self, results: Vec<CheckResult>) -> Result<(), ApiError> {
        let forward = self.forward.as_ref().ok_or_else(|| {
            ApiError::Unavailable("heartbeats are not configured on this server".into())
        })?;
        forward.send(results).await.map_err(|e| {
            tracing::warn!(error = %e, "heartbeat result not handed on");
            ApiError::Unavailable(e.to_string())
        })
    }
}

/// The run's duration: from a `/start` after the previous finish, if it is recent
/// enough to belong to this run (within a period and grace).
fn run_duration(check: &HeartbeatCheck, beat: &Beat, now_ms: i64) -> Option<i64> {
    let start = beat.last_start_ms?;
    let fresh = beat.last_ping_ms.is_none_or(|p| start > p)
        && start <= now_ms
        && check.deadline_after(start) >= now_ms;
    fresh.then_some(now_ms - start)
}

/// `: <first line of the payload>`, at most 200 bytes; empty without a payload.
fn first_line(payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(payload);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    match line {
        Some(l) => {
            let mut end = l.len().min(200);
            while !l.is_char_boundary(end) {
                end -= 1;
            }
            format!(": {}", &l[..end])
        }
        None => String::new(),
    }
}

/// `850 ms`, `12.3 s`, `4 min`, `2 h 5 min`, `3 d`.
pub fn human_ms(ms: i64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{} min", ms / 60_000)
    } else if ms < 86_400_000 && ms % 3_600_000 >= 60_000 {
        format!("{} h {} min", ms / 3_600_000, ms % 3_600_000 / 60_000)
    } else if ms < 86_400_000 {
        format!("{} h", ms / 3_600_000)
    } else {
        format!("{} d", ms / 86_400_000)
    }
}

/// A heartbeat result at `at_ms`: scheduled and started then, so that sending it twice
/// writes one point.
pub(crate) fn result_of(
    endpoint: &Endpoint,
    at_ms: i64,
    outcome: Outcome,
    message: &str,
    duration_ms: Option<i64>,
) -> CheckResult {
    let mut report = CheckReport::down(DownReason::Internal, message, 0.0);
    report.outcome = outcome;
    report.timings = Timings {
        total_ms: duration_ms.unwrap_or(0) as f64,
        ..Timings::default()
    };
    CheckResult {
        endpoint_id: endpoint.id.clone(),
        org_id: endpoint.org_id.clone(),
        region: region(),
        run_id: RunId::parse(format!("hb-{at_ms}"))
            .unwrap_or_else(|_| unreachable!("digits make a run id")),
        scheduled_at_ms: at_ms,
        started_at_ms: at_ms,
        apdex_t_ms: Some(endpoint.apdex_t_ms.as_millis()),
        mean_limit_ms: endpoint.mean_limit_ms,
        report,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(period_s: u32, grace_s: u32) -> HeartbeatCheck {
        HeartbeatCheck::new(period_s, grace_s, Vec::new()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn beat(ping: Option<i64>, start: Option<i64>) -> Beat {
        let mut b = Beat::new(OrgId::local(), EndpointId::parse("ep_1").expect("an id"));
        b.last_ping_ms = ping;
        b.last_start_ms = start;
        b
    }

    #[test]
    fn a_run_lasts_from_its_start_to_its_finish() {
        let c = check(3600, 60);
        assert_eq!(
            run_duration(&c, &beat(Some(0), Some(10_000)), 25_000),
            Some(15_000)
        );
        // The start belongs to an earlier run (before the last finish).
        assert_eq!(
            run_duration(&c, &beat(Some(20_000), Some(10_000)), 25_000),
            None
        );
        // A start older than a period and grace is not this run's.
        assert_eq!(run_duration(&c, &beat(None, Some(0)), 3_700_000), None);
        assert_eq!(run_duration(&c, &beat(None, None), 1), None);
    }

    #[test]
    fn the_policy_opens_on_one_miss_and_closes_on_one_ping() {
        let p = policy(&check(86_400, 600));
        assert_eq!(
            (
                p.failure_threshold,
                p.recovery_threshold,
                p.confirm_regions,
                p.round_ms
            ),
            (1, 1, 1, 1000)
        );
        assert!(p.window_ms >= 87_000_000);
        assert_eq!(p.validate(), Ok(()));
    }

    #[test]
    fn messages_read_well() {
        assert_eq!(human_ms(850), "850 ms");
        assert_eq!(human_ms(12_345), "12.3 s");
        assert_eq!(human_ms(7_500_000), "2 h 5 min");
        assert_eq!(first_line(b"\n  disk full  \nmore"), ": disk full");
        assert_eq!(first_line(b""), "");
    }
}
