//! Result hooks: per-organization webhooks that receive every check result
//! ([`HookEvents::All`]) or only state changes ([`HookEvents::StateChanges`]), signed, with
//! the notifications' delivery guarantees.
//!
//! **Design.** A hook is an alert channel of type `webhook` (with its own signing secret)
//! that every endpoint of its organization lists implicitly: the admin API appends the
//! org's hooks to each endpoint's `DirectoryEntry::channels`, so state changes (every
//! notice: down, recovered, flapping, settled, degraded, expiring, changed) reach hooks
//! through the failure service and the notifier exactly as notifications do (dedup key
//! per incident, transition and hook; retries; dead letter). Hooks of kind `all` get the
//! state changes too: "all" is every event.
//!
//! Every result reaches `all` hooks as a [`ResultsJob`] on the same notification queue:
//! the receiver worker, once it has stored a batch, groups it by org and queues one job
//! per (hook, up to [`RESULTS_PER_JOB`] results). [`QueuedJob`] is what the queue carries:
//! either kind, encoded untagged, so a job queued before result hooks existed (a bare
//! [`NotificationJob`]) still parses, and a notification job is encoded exactly as it was.
//! A results job's dedup key is derived from the results it carries (their identity:
//! endpoint, region, start) and the hook, so a batch the worker handles twice (a crash
//! before acknowledging) is delivered once.

use serde::{Deserialize, Serialize};

use crate::notice::NotificationJob;
use crate::{CheckResult, OrgId};

/// Most results in one delivery to one hook.
pub const RESULTS_PER_JOB: usize = 100;

/// What a hook receives.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookEvents {
    /// Every check result (in batches) and every state change.
    All,
    /// Only state changes (down, recovered, flapping, degraded, expiring, changed).
    StateChanges,
}

impl HookEvents {
    /// Stable lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::All => "all",
            Self::StateChanges => "state_changes",
        }
    }
}

/// A hook as the services see it (`GET /v1/service/hooks/{org}`): no URL, no secret (the
/// notifier reads those through the channel route).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRef {
    /// The hook's id (a channel id for the notifier).
    pub id: String,
    /// What it receives.
    pub events: HookEvents,
}

/// A batch of results for one hook, as queued for the notifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsJob {
    /// The hook's id (the notifier looks its configuration up as a channel).
    pub hook_id: String,
    /// The organization (every result is of it).
    pub org_id: OrgId,
    /// Identity of the batch (see [`Self::batch_key_of`]).
    pub batch_key: String,
    /// When it was queued, Unix ms (ordering only).
    pub at_ms: i64,
    /// The results, at most [`RESULTS_PER_JOB`].
    pub results: Vec<CheckResult>,
}

impl ResultsJob {
    /// A job for `hook_id` carrying `results` (all of `org_id`).
    pub fn new(hook_id: &str, org_id: OrgId, at_ms: i64, results: Vec<CheckResult>) -> Self {
        Self {
            hook_id: hook_id.to_string(),
            org_id,
            batch_key: Self::batch_key_of(&results),
            at_ms,
            results,
        }
    }

    /// A hash of the results' identities (endpoint, region, start), in order: the same
    /// results give the same key (two FNV-1a 64 hashes with different offsets: 128 bits,
    /// plenty for telling one hook's batches apart).
    pub fn batch_key_of(results: &[CheckResult]) -> String {
        let mut a = Fnv(0xcbf2_9ce4_8422_2325);
        let mut b = Fnv(0x6c62_272e_07bb_0142);
        for r in results {
            for part in [
                r.endpoint_id.as_str().as_bytes(),
                b"\x1f",
                r.region.as_str().as_bytes(),
                b"\x1f",
                &r.started_at_ms.to_be_bytes(),
                b"\x1e",
            ] {
                a.update(part);
                b.update(part);
            }
        }
        format!("{:016x}{:016x}", a.0, b.0)
    }

    /// Identity of this delivery: (batch, hook).
    pub fn dedup_key(&self) -> String {
        format!("results/{}/{}", self.batch_key, self.hook_id)
    }
}

/// FNV-1a, 64 bits.
struct Fnv(u64);

impl Fnv {
    fn update(&mut self, bytes: &[u8]) {
        for &x in bytes {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// What the notification queue carries. Untagged: a notification job is encoded as it
/// always was, and anything queued before this type existed parses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum QueuedJob {
    /// One notice for one channel.
    Notification(NotificationJob),
    /// Results for one hook.
    Results(ResultsJob),
}

impl QueuedJob {
    /// The job's dedup key.
    pub fn dedup_key(&self) -> String {
        match self {
            Self::Notification(j) => j.dedup_key(),
            Self::Results(j) => j.dedup_key(),
        }
    }

    /// The organization.
    pub fn org_id(&self) -> &OrgId {
        match self {
            Self::Notification(j) => &j.notice.org_id,
            Self::Results(j) => &j.org_id,
        }
    }

    /// The channel (or hook) it goes to.
    pub fn channel_id(&self) -> &str {
        match self {
            Self::Notification(j) => &j.channel_id,
            Self::Results(j) => &j.hook_id,
        }
    }

    /// When it was decided, Unix ms (delivery order within a channel).
    pub fn at_ms(&self) -> i64 {
        match self {
            Self::Notification(j) => j.notice.at_ms,
            Self::Results(j) => j.at_ms,
        }
    }

    /// The notification job, if it is one.
    pub fn as_notification(&self) -> Option<&NotificationJob> {
        match self {
            Self::Notification(j) => Some(j),
            Self::Results(_) => None,
        }
    }

    /// The notification job, if it is one.
    pub fn into_notification(self) -> Option<NotificationJob> {
        match self {
            Self::Notification(j) => Some(j),
            Self::Results(_) => None,
        }
    }
}

impl From<NotificationJob> for QueuedJob {
    fn from(j: NotificationJob) -> Self {
        Self::Notification(j)
    }
}

impl From<ResultsJob> for QueuedJob {
    fn from(j: ResultsJob) -> Self {
        Self::Results(j)
    }
}

impl PartialEq<NotificationJob> for QueuedJob {
    fn eq(&self, other: &NotificationJob) -> bool {
        self.as_notification() == Some(other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notice::{Notice, NoticeKind};

    fn notice() -> Notice {
        Notice {
            kind: NoticeKind::Down,
            org_id: OrgId::parse("org1").unwrap(),
            endpoint_id: crate::EndpointId::parse("ep1").unwrap(),
            endpoint_name: "api".into(),
            target: "https://example.com".into(),
            incident_id: "inc".into(),
            since_ms: 1,
            at_ms: 2,
            regions: vec![],
            error: None,
            detail: None,
            link: "l".into(),
        }
    }

    #[test]
    fn notification_jobs_encode_as_before_and_old_ones_parse() {
        let job = NotificationJob {
            channel_id: "ch".into(),
            notice: notice(),
        };
        let old = serde_json::to_string(&job).unwrap();
        let queued = QueuedJob::from(job.clone());
        assert_eq!(serde_json::to_string(&queued).unwrap(), old);
        let back: QueuedJob = serde_json::from_str(&old).unwrap();
        assert_eq!(back, job);
        assert_eq!(back.dedup_key(), job.dedup_key());
    }

    #[test]
    fn results_jobs_round_trip_with_a_stable_key() {
        let job = ResultsJob::new("hk_1", OrgId::parse("org1").unwrap(), 5, vec![]);
        let text = serde_json::to_string(&QueuedJob::from(job.clone())).unwrap();
        let back: QueuedJob = serde_json::from_str(&text).unwrap();
        assert_eq!(back, QueuedJob::Results(job.clone()));
        assert_eq!(back.dedup_key(), format!("results/{}/hk_1", job.batch_key));
        assert!(back.as_notification().is_none());
    }
}
