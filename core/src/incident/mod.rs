//! The incident state machine: pure, one [`EndpointIncidents`] per endpoint, fed the
//! check results the failure service receives and answering with the [`Notice`]s to send.
//!
//! **Rounds.** A result belongs to the round (slot) its check was scheduled in:
//! `scheduled_at_ms / round_ms`. Each region keeps a short history of its own results by
//! round. Up endpoints send only failures, so a missing round means a success: two
//! failures are consecutive only in consecutive rounds.
//!
//! **Down.** The endpoint goes down in round `s` when at least `confirm_regions` regions
//! have a run of at least `failure_threshold` consecutive failed rounds that ended inside
//! the window (within `window_ms` of round `s`) and after the last recovery. Regions
//! confirm each other inside the window even if their runs did not overlap.
//!
//! **Recovered.** A down endpoint recovers in round `s` when at least `confirm_regions`
//! regions have a run of at least `recovery_threshold` consecutive successful rounds after
//! the incident opened, inside the window, and have not failed since (the same quorum as
//! going down, so one broken region can neither open an incident nor hold one open).
//!
//! **Order within a round does not matter.** Results of one round arrive in any order.
//! So that the decision is the same whatever that order: at most one transition per
//! round, chosen by the state at the round's start; a round's successes do not count
//! against going down in that round and its failures do not count against recovering in
//! it. Both conditions then only grow as a round's results come in, and the round ends in
//! the same state, with the same notices, in every order (property-tested).
//!
//! **Notices** are reconciled with what people were last told: "down" only if they were
//! last told "up" (so never two "down" without a "recovered" between them), "recovered"
//! only if they were told "down". While flapping (more than `flap_limit` transitions
//! within `flap_window_ms`) one "flapping" notice is sent and then nothing until no
//! transition happened for `settle_ms`; at the next round the endpoint is "settled" and
//! people hear where it settled. During maintenance the state keeps moving and notices
//! are muted; if it is still down when maintenance ends, one "down" notice follows.
//! Degradations, an expiring certificate and content changes are their own notices, once
//! per episode, certificate or content (a content change per region, with a before /
//! after line: [`change`]); a certificate is announced once when it comes
//! within `cert_warn_days` of its expiry and once more within `cert_critical_days`; a
//! domain registration likewise with `domain_warn_days` and `domain_critical_days`
//! (see [`domain`]).

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::degradation::{DegradationReport, DegradationSignal};
use crate::notice::{Notice, NoticeKind};
use crate::{EndpointId, OrgId, Region};

mod change;
mod domain;
mod expiry;

/// The rules, per endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IncidentPolicy {
    /// Consecutive failed rounds a region needs to count as failing.
    pub failure_threshold: u32,
    /// Consecutive successful rounds a region needs to count as recovered.
    pub recovery_threshold: u32,
    /// Regions that must agree.
    pub confirm_regions: u32,
    /// A region's failure run counts only if it ended this recently.
    pub window_ms: i64,
    /// The check interval: the length of a round.
    pub round_ms: i64,
    /// Transitions within `flap_window_ms` beyond which the endpoint is flapping.
    pub flap_limit: u32,
    /// See `flap_limit`.
    pub flap_window_ms: i64,
    /// Quiet time after which a flapping endpoint has settled.
    pub settle_ms: i64,
    /// A certificate expiring within this many days gets a notice.
    pub cert_warn_days: u32,
    /// ... and another, marked critical, within this many.
    pub cert_critical_days: u32,
    /// A domain registration expiring within this many days gets a notice (results
    /// carry a domain expiry only when the check opted in).
    pub domain_warn_days: u32,
    /// ... and another, marked critical, within this many.
    pub domain_critical_days: u32,
}

impl Default for IncidentPolicy {
    fn default() -> Self {
        // One failed round in two regions at once confirms an outage: the second region
        // is the confirmation, and a worst-case outage (starting just after a check) is
        // then notified about one interval plus one check timeout later; two rounds
        // would take two intervals. Recovery asks for two good rounds.
        Self {
            failure_threshold: 1,
            recovery_threshold: 2,
            confirm_regions: 2,
            window_ms: 5 * 60_000,
            round_ms: 60_000,
            flap_limit: 4,
            flap_window_ms: 60 * 60_000,
            settle_ms: 30 * 60_000,
            cert_warn_days: 14,
            cert_critical_days: 3,
            domain_warn_days: 30,
            domain_critical_days: 7,
        }
    }
}

impl IncidentPolicy {
    /// Checks the values; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            (
                self.failure_threshold == 0,
                "failure_threshold must be at least 1",
            ),
            (
                self.recovery_threshold == 0,
                "recovery_threshold must be at least 1",
            ),
            (
                self.confirm_regions == 0,
                "confirm_regions must be at least 1",
            ),
            (self.round_ms < 1000, "round_ms must be at least 1000"),
            (
                self.window_ms < self.round_ms,
                "window_ms must be at least round_ms",
            ),
            (self.flap_limit == 0, "flap_limit must be at least 1"),
            (
                self.flap_window_ms < self.round_ms,
                "flap_window_ms must be at least round_ms",
            ),
            (
                self.settle_ms < self.round_ms,
                "settle_ms must be at least round_ms",
            ),
            (
                self.failure_threshold > 50 || self.recovery_threshold > 50,
                "thresholds must be at most 50",
            ),
        ];
        match checks.iter().find(|(bad, _)| *bad) {
            Some((_, msg)) => Err((*msg).to_string()),
            None => Ok(()),
        }
    }

    fn slots(&self, ms: i64) -> i64 {
        (ms / self.round_ms).max(1)
    }

    /// Rounds of history a region keeps: the window plus a run.
    fn history_len(&self) -> usize {
        let rounds = self.slots(self.window_ms)
            + i64::from(self.failure_threshold.max(self.recovery_threshold))
            + 2;
        rounds.clamp(4, 128) as usize
    }
}

/// One check's result as the machine sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Where it ran.
    pub region: Region,
    /// When it was due (its round).
    pub scheduled_at_ms: i64,
    /// When it started.
    pub started_at_ms: i64,
    /// Whether it passed (up, or up with a warning).
    pub ok: bool,
    /// What went wrong, for the notice.
    pub error: Option<String>,
    /// The certificate's expiry, when known.
    pub cert_expires_at_ms: Option<i64>,
    /// The domain registration's expiry, when looked up (see [`domain`]).
    pub domain_expires_at_ms: Option<i64>,
}

/// What the machine is told.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A check result.
    Check(Observation),
    /// A degradation report from the receiver's worker.
    Degradation(DegradationReport),
    /// The content changed.
    Change {
        /// Where it was seen.
        region: Region,
        /// When.
        at_ms: i64,
        /// The new content's hash.
        body_hash: String,
        /// A short excerpt of the watched value, for the before / after line.
        value: Option<String>,
    },
}

/// Who the notices are about (the machine's state does not keep it).
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeContext {
    /// The organization.
    pub org_id: OrgId,
    /// The endpoint.
    pub endpoint_id: EndpointId,
    /// Its display name.
    pub name: String,
    /// What is checked.
    pub target: String,
    /// Its page.
    pub link: String,
}

/// One region's recent rounds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct RegionHistory {
    /// (round, ok, started_at_ms, error), oldest first, one entry per round.
    rounds: VecDeque<(i64, bool, i64, Option<String>)>,
}

impl RegionHistory {
    fn record(&mut self, slot: i64, o: &Observation, keep: usize) {
        match self.rounds.iter().position(|r| r.0 >= slot) {
            // Twice in one round: a failure wins, whatever the order.
            Some(i) if self.rounds[i].0 == slot => {
                if !o.ok && self.rounds[i].1 {
                    self.rounds[i] = (slot, false, o.started_at_ms, o.error.clone());
                }
            }
            Some(i) => self
                .rounds
                .insert(i, (slot, o.ok, o.started_at_ms, o.error.clone())),
            None => self
                .rounds
                .push_back((slot, o.ok, o.started_at_ms, o.error.clone())),
        }
        while self.rounds.len() > keep {
            self.rounds.pop_front();
        }
    }

    /// Whether, up to round `slot` (a failure in round `slot` itself is not counted),
    /// the region has a run of at least `min` consecutive successful rounds after round
    /// `opened`, ending no earlier than `from`, with no failure after it.
    fn recovered(&self, slot: i64, min: u32, opened: i64, from: i64) -> bool {
        let considered: Vec<_> = self
            .rounds
            .iter()
            .filter(|r| r.0 > opened && (r.0 < slot || (r.0 == slot && r.1)))
            .collect();
        let mut end = considered.len();
        while end > 0 {
            let last = considered[end - 1];
            if !last.1 || last.0 < from {
                return false;
            }
            let mut begin = end - 1;
            while begin > 0
                && considered[begin - 1].1
                && considered[begin - 1].0 == considered[begin].0 - 1
            {
                begin -= 1;
            }
            if (end - begin) as u32 >= min {
                return true;
            }
            end = begin;
        }
        false
    }

    /// The latest run of at least `min` consecutive failed rounds up to round `slot` (a
    /// success in round `slot` itself is not counted) that ended in `(after, slot]` and
    /// no earlier than `from`: (its first failure's start, its last error).
    fn failure_run(
        &self,
        slot: i64,
        min: u32,
        from: i64,
        after: i64,
    ) -> Option<(i64, Option<String>)> {
        let considered: Vec<_> = self
            .rounds
            .iter()
            .filter(|r| r.0 < slot || (r.0 == slot && !r.1))
            .collect();
        let mut end = considered.len();
        while end > 0 {
            let last = considered[end - 1];
            if last.0 < from || last.0 <= after {
                return None;
            }
            if last.1 {
                end -= 1;
                continue;
            }
            let mut begin = end - 1;
            while begin > 0
                && !considered[begin - 1].1
                && considered[begin - 1].0 == considered[begin].0 - 1
            {
                begin -= 1;
            }
            if (end - begin) as u32 >= min {
                return Some((considered[begin].2, last.3.clone()));
            }
            end = begin;
        }
        None
    }
}

/// An open incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenIncident {
    /// Its id.
    pub id: String,
    /// The round it opened in.
    pub opened_slot: i64,
    /// When the first failure of it started.
    pub since_ms: i64,
    /// The regions that confirmed it.
    pub regions: Vec<Region>,
    /// The last error seen.
    pub error: Option<String>,
}

/// The state of one endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointIncidents {
    regions: BTreeMap<Region, RegionHistory>,
    incident: Option<OpenIncident>,
    /// The incident people were last told is open (None: they were told "up").
    notified: Option<OpenIncident>,
    latest_slot: Option<i64>,
    last_transition_slot: Option<i64>,
    last_recovered_slot: Option<i64>,
    transitions: VecDeque<i64>,
    flapping: bool,
    cert_notified: Option<i64>,
    /// The certificate (by expiry) announced as critical.
    #[serde(default)]
    cert_critical_notified: Option<i64>,
    /// The domain registration (by expiry) announced, and announced as critical.
    #[serde(default)]
    domain_notified: Option<i64>,
    #[serde(default)]
    domain_critical_notified: Option<i64>,
    /// The watched content ([`change`]): each region's last value, the last announced.
    #[serde(default)]
    content: change::Content,
    recent_degradations: VecDeque<String>,
}

impl EndpointIncidents {
    /// The open incident, if down.
    pub fn incident(&self) -> Option<&OpenIncident> {
        self.incident.as_ref()
    }

    /// Whether the endpoint is flapping.
    pub fn is_flapping(&self) -> bool {
        self.flapping
    }

    /// Takes one event; `muted` during a maintenance window. Returns the notices to send.
    pub fn apply(
        &mut self,
        policy: &IncidentPolicy,
        ctx: &NoticeContext,
        event: &Event,
        muted: bool,
    ) -> Vec<Notice> {
        let mut out = Vec::new();
        match event {
            Event::Check(o) => self.check(policy, ctx, o, muted, &mut out),
            Event::Degradation(d) => {
                let key = d.key();
                if !self.recent_degradations.contains(&key) {
                    self.recent_degradations.push_back(key.clone());
                    while self.recent_degradations.len() > 32 {
                        self.recent_degradations.pop_front();
                    }
                    if !muted {
                        out.push(degraded(ctx, d, key));
                    }
                }
            }
            Event::Change {
                region,
                at_ms,
                body_hash,
                value,
            } => {
                let change = self
                    .content
                    .observe(region, *at_ms, body_hash, value.as_deref());
                if let (Some(change), false) = (change, muted) {
                    let mut n = notice(ctx, NoticeKind::Changed, *at_ms, *at_ms);
                    n.incident_id = format!("{}/change/{body_hash}", ctx.endpoint_id.as_str());
                    n.regions = vec![region.clone()];
                    n.detail = Some(change.detail);
                    out.push(n);
                }
            }
        }
        out
    }

    fn check(
        &mut self,
        policy: &IncidentPolicy,
        ctx: &NoticeContext,
        o: &Observation,
        muted: bool,
        out: &mut Vec<Notice>,
    ) {
        let slot = o.scheduled_at_ms.div_euclid(policy.round_ms);
        if self.latest_slot.is_none_or(|l| slot > l) {
            self.new_round(policy, ctx, slot, muted, out);
            self.latest_slot = Some(slot);
        }
        self.regions
            .entry(o.region.clone())
            .or_default()
            .record(slot, o, policy.history_len());
        self.certificate(policy, ctx, o, muted, out);
        self.domain(policy, ctx, o, muted, out);
        // Decisions are taken for the current or the previous round only, and at most
        // once per round.
        let current = self.latest_slot.unwrap_or(slot);
        if slot < current - 1 || self.last_transition_slot.is_some_and(|t| slot <= t) {
            return;
        }
        let transitioned = match &self.incident {
            None => self.maybe_open(policy, ctx, slot),
            Some(_) => self.maybe_close(policy, slot),
        };
        if transitioned {
            self.last_transition_slot = Some(slot);
            self.transitions.push_back(slot);
            let horizon = slot - policy.slots(policy.flap_window_ms);
            while self.transitions.front().is_some_and(|t| *t <= horizon) {
                self.transitions.pop_front();
            }
            if !self.flapping && self.transitions.len() > policy.flap_limit as usize {
                self.flapping = true;
                if !muted {
                    let mut n = notice(ctx, NoticeKind::Flapping, o.started_at_ms, o.started_at_ms);
                    n.incident_id = format!("{}/flapping/{slot}", ctx.endpoint_id.as_str());
                    n.detail = Some(format!(
                        "{} changes of state within {} minutes; quiet until it settles",
                        self.transitions.len(),
                        policy.flap_window_ms / 60_000
                    ));
                    out.push(n);
                }
            }
        }
        if transitioned && !muted && !self.flapping {
            self.reconcile(ctx, o.started_at_ms, None, out);
        }
    }

    /// At the first result of a new round (so that it does not matter which result that
    /// is): a flapping endpoint that has been quiet long enough has settled, and people
    /// hear where; otherwise people hear what maintenance kept from them.
    fn new_round(
        &mut self,
        policy: &IncidentPolicy,
        ctx: &NoticeContext,
        slot: i64,
        muted: bool,
        out: &mut Vec<Notice>,
    ) {
        let quiet = self
            .last_transition_slot
            .is_none_or(|t| slot - t >= policy.slots(policy.settle_ms));
        if !self.flapping {
            // What people could not be told during maintenance, they hear now.
            if !muted {
                self.reconcile(ctx, slot * policy.round_ms, None, out);
            }
        } else if quiet {
            self.flapping = false;
            self.transitions.clear();
            if !muted {
                let at = slot * policy.round_ms;
                let before = out.len();
                self.reconcile(ctx, at, Some("after flapping"), out);
                if out.len() == before {
                    let mut n = notice(ctx, NoticeKind::Settled, at, at);
                    n.incident_id = format!("{}/settled/{slot}", ctx.endpoint_id.as_str());
                    // Settled down carries the incident's error (channels such as
                    // PagerDuty keep it triggered); settled up carries none.
                    if let Some(open) = &self.incident {
                        n.error = Some(open.error.clone().unwrap_or_else(|| "still down".into()));
                        n.regions = open.regions.clone();
                    }
                    n.detail = Some(
                        if self.incident.is_some() {
                            "settled: down"
                        } else {
                            "settled: up"
                        }
                        .to_string(),
                    );
                    out.push(n);
                }
            }
        }
    }

    /// Tells people what they have not been told yet.
    fn reconcile(
        &mut self,
        ctx: &NoticeContext,
        at_ms: i64,
        detail: Option<&str>,
        out: &mut Vec<Notice>,
    ) {
        match (&self.incident, &self.notified) {
            (Some(open), None) => {
                let mut n = notice(ctx, NoticeKind::Down, open.since_ms, at_ms);
                n.incident_id = open.id.clone();
                n.regions = open.regions.clone();
                n.error = open.error.clone();
                n.detail = detail.map(str::to_string);
                out.push(n);
                self.notified = Some(open.clone());
            }
            (None, Some(told)) => {
                let mut n = notice(ctx, NoticeKind::Recovered, told.since_ms, at_ms);
                n.incident_id = told.id.clone();
                n.regions = told.regions.clone();
                n.detail = Some(format!(
                    "down for {}{}",
                    minutes(at_ms - told.since_ms),
                    detail.map(|d| format!(", {d}")).unwrap_or_default()
                ));
                out.push(n);
                self.notified = None;
            }
            _ => {}
        }
    }

    fn maybe_open(&mut self, policy: &IncidentPolicy, ctx: &NoticeContext, slot: i64) -> bool {
        let from = slot - policy.slots(policy.window_ms);
        let after = self.last_recovered_slot.unwrap_or(i64::MIN);
        let mut failing = Vec::new();
        for (region, h) in &self.regions {
            if let Some((start, error)) = h.failure_run(slot, policy.failure_threshold, from, after)
            {
                failing.push((region.clone(), start, error));
            }
        }
        if failing.len() < policy.confirm_regions as usize {
            return false;
        }
        let since_ms = failing
            .iter()
            .map(|f| f.1)
            .min()
            .unwrap_or(slot * policy.round_ms);
        let error = failing.iter().find_map(|f| f.2.clone());
        self.incident = Some(OpenIncident {
            // URL-safe (the admin API addresses incidents by it): endpoint ids never
            // hold `~`.
            id: format!("{}~{slot}", ctx.endpoint_id.as_str()),
            opened_slot: slot,
            since_ms,
            regions: failing.into_iter().map(|f| f.0).collect(),
            error,
        });
        true
    }

    fn maybe_close(&mut self, policy: &IncidentPolicy, slot: i64) -> bool {
        let Some(open) = &self.incident else {
            return false;
        };
        let from = slot - policy.slots(policy.window_ms);
        let recovered = self
            .regions
            .values()
            .filter(|h| h.recovered(slot, policy.recovery_threshold, open.opened_slot, from))
            .count();
        if recovered < policy.confirm_regions as usize {
            return false;
        }
        self.incident = None;
        self.last_recovered_slot = Some(slot);
        true
    }

    fn certificate(
        &mut self,
        policy: &IncidentPolicy,
        ctx: &NoticeContext,
        o: &Observation,
        muted: bool,
        out: &mut Vec<Notice>,
    ) {
        let Some(expires) = o.cert_expires_at_ms else {
            return;
        };
        if muted {
            return;
        }
        // Once per threshold and certificate (see `expiry`).
        let Some(expiry::Expiring {
            notice: mut n,
            days,
            critical,
        }) = expiry::announce(
            ctx,
            o,
            NoticeKind::CertificateExpiring,
            "certificate",
            expires,
            (policy.cert_warn_days, policy.cert_critical_days),
            (&mut self.cert_notified, &mut self.cert_critical_notified),
        )
        else {
            return;
        };
        n.detail = Some(match (days < 0, critical) {
            (true, _) => "the certificate has expired".to_string(),
            (false, true) => format!("critical: the certificate expires in {days} days"),
            (false, false) => format!("the certificate expires in {days} days"),
        });
        out.push(n);
    }
}

fn notice(ctx: &NoticeContext, kind: NoticeKind, since_ms: i64, at_ms: i64) -> Notice {
    Notice {
        kind,
        org_id: ctx.org_id.clone(),
        endpoint_id: ctx.endpoint_id.clone(),
        endpoint_name: ctx.name.clone(),
        target: ctx.target.clone(),
        incident_id: String::new(),
        since_ms,
        at_ms,
        regions: Vec::new(),
        error: None,
        detail: None,
        link: ctx.link.clone(),
    }
}

fn degraded(ctx: &NoticeContext, d: &DegradationReport, key: String) -> Notice {
    let mut n = notice(ctx, NoticeKind::Degraded, d.started_at_ms, d.detected_at_ms);
    n.incident_id = key;
    n.regions = d.region.iter().cloned().collect();
    n.detail = Some(match d.signal {
        DegradationSignal::ApdexTrend { baseline, current } => {
            format!("Apdex fell from {baseline:.2} to {current:.2}")
        }
        DegradationSignal::MeanRuntime { limit_ms, mean_ms } => {
            format!("mean run time {mean_ms:.0} ms is above the limit of {limit_ms:.0} ms")
        }
    });
    n
}

fn minutes(ms: i64) -> String {
    let m = (ms.max(0) + 30_000) / 60_000;
    if m < 60 {
        format!("{m} min")
    } else {
        format!("{} h {} min", m / 60, m % 60)
    }
}

#[cfg(test)]
mod tests;
