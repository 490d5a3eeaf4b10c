//! From a batch of received jobs to sent messages, the same for the server worker
//! ([`crate::worker`]) and the Lambda handler ([`crate::lambda`]): look each channel up,
//! deduplicate, group or pace, deliver, and say for every job what the queue should do
//! with it ([`Outcome`]).
//!
//! **Grouping and pacing.** When an outage takes 1,000 endpoints down at once, one Slack
//! channel must not get 1,000 messages (Slack would throttle them to one a second, a
//! 17-minute storm). The dispatcher does both of the usual remedies, per channel:
//!
//! - *Digests* for channels people read (Slack, Discord, Teams, email, Matrix,
//!   Telegram): when more than [`Grouping::digest_threshold`] jobs for one channel are in
//!   a batch, they go out as digest messages listing up to
//!   `min(Grouping::digest_max, the channel's own limit)` notices each (25 for Slack and
//!   Teams, 10 for Discord, 15 for Telegram, 50 for email), in the order they happened.
//!   Below the threshold every notice is its own message, as people expect.
//! - *Pacing* for every channel: a token bucket per channel ([`Pace`], defaulting to the
//!   service's published limit, or [`Grouping::pace`] for all) spaces the messages.
//!   Channels whose receivers want one event per notice (PagerDuty: its dedup key is the
//!   incident; webhooks: one JSON event each) are never digested, only paced. Once a
//!   channel has waited [`Grouping::max_pace_wait`] in total within one batch, its
//!   remaining jobs go back to the queue, each delayed until about its turn, so a worker
//!   is never parked for minutes (and the queue's visibility timeout is not outrun)
//!   however many jobs one channel has. A 429's `Retry-After` also holds the channel's
//!   bucket, so the rest of the batch waits too.
//!
//! Nothing is lost on the way: every job gets an outcome, and only [`Outcome::Sent`] and
//! [`Outcome::Duplicate`] delete it from the queue.
//!
//! **Dedup.** Jobs with the same dedup key in one batch are sent once (the others are
//! duplicates); each remaining key is claimed in the [`DedupStore`] before sending,
//! confirmed after, released on failure (see [`crate::dedup`]).
//!
//! **Result hooks.** Batches of results for result hooks (`QueuedJob::Results`, see
//! `scoville_core::hook`) take the same path: lookup (a hook resolves to a signed
//! webhook), dedup on the batch's key, pacing, the delivery policy, one request each
//! ([`crate::channel::webhook::WebhookConfig::send_results`]). One for a channel that is
//! not a webhook is dead-lettered.
//!
//! Channels are dispatched concurrently, at most [`Grouping::concurrency`] at a time;
//! within one channel messages go one after another, oldest first, so a channel sees
//! "down" before "recovered".

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use scoville_core::OrgId;
use scoville_core::hook::QueuedJob;
use tokio::time::Instant;

use crate::channel::{Channel, ChannelConfig, Item, Message, Pace, SendError};
use crate::dedup::{Claim, ClaimToken, DedupStore};
use crate::delivery::{Delivery, DeliveryPolicy, deliver, deliver_with};
use crate::directory::Directory;
use crate::http::SendContext;
use crate::metrics::{DeliveryResult, Metrics};

/// Dedup store calls in flight at once for one channel.
const STORE_CONCURRENCY: usize = 16;

/// Grouping, pacing and concurrency settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grouping {
    /// More jobs than this for one channel in one batch are sent as digests.
    pub digest_threshold: usize,
    /// Most notices per digest (each channel may allow fewer).
    pub digest_max: usize,
    /// Channels dispatched at once.
    pub concurrency: usize,
    /// One pace for every channel instead of each kind's default.
    pub pace: Option<Pace>,
    /// Longest total wait for one channel's pace within one batch; the channel's
    /// remaining jobs go back to the queue beyond it.
    pub max_pace_wait: Duration,
}

impl Default for Grouping {
    fn default() -> Self {
        Self {
            digest_threshold: 10,
            digest_max: 25,
            concurrency: 8,
            pace: None,
            max_pace_wait: Duration::from_secs(30),
        }
    }
}

impl Grouping {
    /// Checks the settings; the error names the field.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if self.digest_max < 2 {
            return Err(("digest_max", "must be at least 2"));
        }
        if self.concurrency == 0 || self.concurrency > 1024 {
            return Err(("concurrency", "must be between 1 and 1024"));
        }
        if let Some(p) = self.pace {
            if !(p.per_second.is_finite() && p.per_second > 0.0) || p.burst == 0 {
                return Err(("pace", "per_second must be above 0 and burst at least 1"));
            }
        }
        Ok(())
    }
}

/// A job to dispatch.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The job: a notification, or a batch of results for a result hook.
    pub job: QueuedJob,
    /// Its receive count (1 the first time), for the requeue backoff.
    pub receive_count: u32,
}

/// What the queue should do with a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered: delete it.
    Sent,
    /// Already delivered (or delivered by another copy in this batch): delete it.
    Duplicate,
    /// Not delivered yet: make it visible again after `after`.
    Retry {
        /// The delay.
        after: Duration,
        /// Why.
        reason: String,
    },
    /// Not attempted now (the channel's pace, or another notifier holds the key): make it
    /// visible again after `after`. Not a failure: it does not count towards giving up.
    Deferred {
        /// The delay.
        after: Duration,
        /// Why.
        reason: String,
    },
    /// Cannot be delivered: dead-letter it.
    DeadLetter {
        /// Why.
        reason: String,
    },
}

/// Dispatches batches of jobs.
#[derive(Debug)]
pub struct Dispatcher {
    directory: Arc<dyn Directory>,
    dedup: Arc<dyn DedupStore>,
    ctx: SendContext,
    policy: DeliveryPolicy,
    grouping: Grouping,
    pacer: Pacer,
    metrics: Arc<Metrics>,
}

impl Dispatcher {
    /// A dispatcher.
    pub fn new(
        directory: Arc<dyn Directory>,
        dedup: Arc<dyn DedupStore>,
        ctx: SendContext,
        policy: DeliveryPolicy,
        grouping: Grouping,
    ) -> Self {
        Self {
            directory,
            dedup,
            ctx,
            policy,
            grouping,
            pacer: Pacer::default(),
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// Uses `metrics` for the counters (shared with `/metrics`).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The delivery policy.
    pub fn policy(&self) -> &DeliveryPolicy {
        &self.policy
    }

    /// Dispatches `jobs`; the outcomes are in the same order.
    pub async fn dispatch(&self, jobs: &[Incoming]) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; jobs.len()];
        let mut by_channel: BTreeMap<(&OrgId, &str), Vec<usize>> = BTreeMap::new();
        for (i, incoming) in jobs.iter().enumerate() {
            by_channel
                .entry((incoming.job.org_id(), incoming.job.channel_id()))
                .or_default()
                .push(i);
        }
        let results: Vec<Vec<(usize, Outcome)>> = futures::stream::iter(by_channel)
            .map(|((org, channel_id), idx)| self.dispatch_channel(org, channel_id, idx, jobs))
            .buffer_unordered(self.grouping.concurrency.max(1))
            .collect()
            .await;
        for (i, outcome) in results.into_iter().flatten() {
            outcomes[i] = Some(outcome);
        }
        outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or(Outcome::Retry {
                    after: self.policy.base_backoff,
                    reason: "not dispatched".into(),
                })
            })
            .inspect(|o| self.count(o))
            .collect()
    }

    fn count(&self, o: &Outcome) {
        let m = &self.metrics;
        let c = match o {
            Outcome::Sent => &m.jobs_sent,
            Outcome::Duplicate => &m.jobs_duplicate,
            Outcome::Retry { .. } | Outcome::Deferred { .. } => &m.jobs_retried,
            Outcome::DeadLetter { .. } => &m.jobs_dead_lettered,
        };
        Metrics::add(c, 1);
    }

    async fn dispatch_channel(
        &self,
        org: &OrgId,
        channel_id: &str,
        mut idx: Vec<usize>,
        jobs: &[Incoming],
    ) -> Vec<(usize, Outcome)> {
        let mut out = Vec::with_capacity(idx.len());
        let config = match self.directory.channel(org, channel_id).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                tracing::warn!(
                    channel_id,
                    jobs = idx.len(),
                    "no such channel: jobs dead-lettered"
                );
                let reason = format!("no channel {channel_id:?} (deleted?)");
                return idx
                    .into_iter()
                    .map(|i| {
                        (
                            i,
                            Outcome::DeadLetter {
                                reason: reason.clone(),
                            },
                        )
                    })
                    .collect();
            }
            Err(e) => {
                tracing::warn!(channel_id, error = %e, "channel lookup failed: jobs retried");
                return idx
                    .into_iter()
                    .map(|i| (i, self.retry(jobs[i].receive_count, None, e.to_string())))
                    .collect();
            }
        };
        // Directories other than the in-memory one may hand out unchecked configurations.
        if let Err(e) = config.validate() {
            tracing::warn!(channel_id, field = %e.field, "invalid channel configuration: jobs dead-lettered");
            let reason = format!("invalid configuration of channel {channel_id:?}: {e}");
            return idx
                .into_iter()
                .map(|i| {
                    (
                        i,
                        Outcome::DeadLetter {
                            reason: reason.clone(),
                        },
                    )
                })
                .collect();
        }
        // Batches of results can only go to a webhook (a result hook is one).
        if !matches!(*config, ChannelConfig::Webhook(_)) {
            idx.retain(|&i| {
                let results = matches!(jobs[i].job, QueuedJob::Results(_));
                if results {
                    out.push((
                        i,
                        Outcome::DeadLetter {
                            reason: format!(
                                "results batch for channel {channel_id:?}, which is not a webhook"
                            ),
                        },
                    ));
                }
                !results
            });
        }
        // Oldest first; one representative per dedup key.
        idx.sort_by_key(|&i| (jobs[i].job.at_ms(), i));
        let mut seen = HashSet::new();
        let mut representatives = Vec::with_capacity(idx.len());
        for i in idx {
            let key = jobs[i].job.dedup_key();
            if seen.insert(key.clone()) {
                representatives.push((i, key));
            } else {
                out.push((i, Outcome::Duplicate));
            }
        }
        // Claims go to the store a few at a time (DynamoDB round trips), in order.
        let claims: Vec<_> = futures::stream::iter(representatives)
            .map(|(i, key)| async move {
                let claim = self.dedup.claim(&key).await;
                (i, key, claim)
            })
            .buffered(STORE_CONCURRENCY)
            .collect()
            .await;
        let mut claimed: Vec<(usize, String, ClaimToken)> = Vec::new();
        for (i, key, claim) in claims {
            match claim {
                Ok(Claim::Acquired(token)) => claimed.push((i, key, token)),
                Ok(Claim::AlreadySent) => {
                    tracing::info!(channel_id, dedup_key = %key, "duplicate job: already sent");
                    out.push((i, Outcome::Duplicate));
                }
                Ok(Claim::InFlight { retry_in }) => out.push((
                    i,
                    Outcome::Deferred {
                        after: retry_in.max(self.policy.base_backoff),
                        reason: "being sent by another notifier".into(),
                    },
                )),
                Err(e) => {
                    tracing::warn!(channel_id, dedup_key = %key, error = %e, "dedup claim failed");
                    out.push((i, self.retry(jobs[i].receive_count, None, e.to_string())));
                }
            }
        }
        if claimed.is_empty() {
            return out;
        }
        let cap = config
            .digest_max()
            .map(|m| m.min(self.grouping.digest_max).max(1))
            .filter(|_| claimed.len() > self.grouping.digest_threshold);
        let chunk = cap.unwrap_or(1);
        if cap.is_some() {
            tracing::info!(
                channel_id,
                channel = config.kind(),
                jobs = claimed.len(),
                per_message = chunk,
                "many notices for one channel: sending digests"
            );
        }
        let pace = self.grouping.pace.unwrap_or_else(|| config.default_pace());
        let mut groups = claimed.chunks(chunk).peekable();
        let mut waited = Duration::ZERO;
        while let Some(group) = groups.next() {
            let wait = self.pacer.reserve(channel_id, pace);
            if waited + wait > self.grouping.max_pace_wait {
                // Give the slot back; this and every later group go back to the queue,
                // each for about as long as its turn is away, so that they come back
                // when the channel can take them instead of bouncing again.
                self.pacer.cancel(channel_id);
                let spacing = Duration::from_secs_f64(1.0 / pace_rate(pace));
                let rest: Vec<&[(usize, String, ClaimToken)]> =
                    std::iter::once(group).chain(groups.by_ref()).collect();
                tracing::info!(
                    channel_id,
                    messages = rest.len(),
                    wait_ms = wait.as_millis() as u64,
                    "channel paced: the rest of its jobs wait in the queue"
                );
                for (k, later) in rest.iter().enumerate() {
                    let after =
                        (wait + spacing.saturating_mul(k as u32)).min(crate::queue::MAX_VISIBILITY);
                    for (i, _, _) in later.iter() {
                        out.push((
                            *i,
                            Outcome::Deferred {
                                after,
                                reason: "paced: channel busy".into(),
                            },
                        ));
                    }
                }
                futures::stream::iter(rest.into_iter().flatten())
                    .for_each_concurrent(STORE_CONCURRENCY, |(_, key, token)| {
                        self.release(key, token)
                    })
                    .await;
                break;
            }
            if !wait.is_zero() {
                waited += wait;
                tokio::time::sleep(wait).await;
            }
            out.extend(self.send_group(channel_id, &config, group, jobs).await);
        }
        out
    }

    async fn send_group(
        &self,
        channel_id: &str,
        config: &ChannelConfig,
        group: &[(usize, String, ClaimToken)],
        jobs: &[Incoming],
    ) -> Vec<(usize, Outcome)> {
        let started = std::time::Instant::now();
        let (delivery, digest) = match (&jobs[group[0].0].job, config) {
            (QueuedJob::Results(batch), ChannelConfig::Webhook(hook)) if group.len() == 1 => {
                let label = group[0].1.as_str();
                let d = deliver_with(config.kind(), &label, &self.policy, || {
                    hook.send_results(&self.ctx, batch)
                })
                .await;
                (d, false)
            }
            _ => {
                let msg = Message::of_items(
                    group
                        .iter()
                        .filter_map(|(i, key, _)| {
                            jobs[*i].job.as_notification().map(|j| Item {
                                notice: j.notice.clone(),
                                dedup_key: key.clone(),
                            })
                        })
                        .collect(),
                );
                if msg.items.is_empty() {
                    let error = SendError::Permanent("a results batch in a digest".into());
                    (Delivery::Failed { attempts: 0, error }, false)
                } else {
                    (
                        deliver(config, &self.ctx, &msg, &self.policy).await,
                        msg.is_digest(),
                    )
                }
            }
        };
        let m = &self.metrics;
        m.delivery(
            config.kind(),
            match &delivery {
                Delivery::Sent { .. } => DeliveryResult::Sent,
                Delivery::Failed {
                    error: SendError::Permanent(_),
                    ..
                } => DeliveryResult::FailedPermanent,
                Delivery::Failed { .. } => DeliveryResult::FailedRetryable,
            },
            started.elapsed(),
        );
        match delivery {
            Delivery::Sent { attempts } => {
                Metrics::add(&m.attempts, u64::from(attempts));
                Metrics::add(&m.attempt_failures, u64::from(attempts - 1));
                Metrics::add(&m.messages_sent, 1);
                if digest {
                    Metrics::add(&m.digests_sent, 1);
                }
                tracing::info!(
                    channel_id,
                    channel = config.kind(),
                    notices = group.len(),
                    attempts,
                    "notification sent"
                );
                futures::stream::iter(group)
                    .map(|(i, key, token)| async move {
                        if let Err(e) = self.dedup.confirm(key, token).await {
                            // Sent all the same; a redelivery may send it again once the
                            // lease expires.
                            tracing::warn!(channel_id, dedup_key = %key, error = %e, "dedup confirm failed");
                        }
                        (*i, Outcome::Sent)
                    })
                    .buffered(STORE_CONCURRENCY)
                    .collect()
                    .await
            }
            Delivery::Failed { attempts, error } => {
                Metrics::add(&m.attempts, u64::from(attempts));
                Metrics::add(&m.attempt_failures, u64::from(attempts));
                if let SendError::Retryable {
                    retry_after: Some(d),
                    ..
                } = &error
                {
                    self.pacer.hold(channel_id, *d);
                }
                tracing::warn!(channel_id, channel = config.kind(), notices = group.len(), attempts, error = %error, "notification not sent");
                futures::stream::iter(group)
                    .for_each_concurrent(STORE_CONCURRENCY, |(_, key, token)| {
                        self.release(key, token)
                    })
                    .await;
                let mut out = Vec::with_capacity(group.len());
                for (i, _, _) in group {
                    let outcome = match &error {
                        SendError::Permanent(reason) => Outcome::DeadLetter {
                            reason: format!(
                                "{} after {attempts} attempt(s): {reason}",
                                config.kind()
                            ),
                        },
                        SendError::Retryable {
                            retry_after,
                            reason,
                        } => self.retry(jobs[*i].receive_count, *retry_after, reason.clone()),
                    };
                    out.push((*i, outcome));
                }
                out
            }
        }
    }

    async fn release(&self, key: &str, token: &ClaimToken) {
        if let Err(e) = self.dedup.release(key, token).await {
            // The claim then lapses with its lease, after which a retry can claim it.
            tracing::warn!(dedup_key = %key, error = %e, "dedup release failed");
        }
    }

    fn retry(&self, receive_count: u32, retry_after: Option<Duration>, reason: String) -> Outcome {
        Outcome::Retry {
            after: self.policy.requeue_delay(receive_count, retry_after),
            reason,
        }
    }
}

/// Token buckets per channel, shared by all batches of one process.
#[derive(Debug, Default)]
pub struct Pacer {
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    at: Instant,
    hold_until: Instant,
}

/// The pace's rate, 1/s when it is not a positive number.
fn pace_rate(pace: Pace) -> f64 {
    if pace.per_second.is_finite() && pace.per_second > 0.0 {
        pace.per_second
    } else {
        1.0
    }
}

/// Most buckets kept; idle full ones are dropped beyond it.
const MAX_BUCKETS: usize = 10_000;

impl Pacer {
    /// Takes a slot for `key` at `pace` and says how long to wait before using it.
    pub fn reserve(&self, key: &str, pace: Pace) -> Duration {
        self.reserve_at(key, pace, Instant::now())
    }

    fn reserve_at(&self, key: &str, pace: Pace, now: Instant) -> Duration {
        let rate = pace_rate(pace);
        let burst = f64::from(pace.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            buckets.retain(|_, b| {
                b.hold_until > now
                    || b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst
            });
        }
        let b = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: burst,
            at: now,
            hold_until: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        b.tokens -= 1.0;
        let by_rate = if b.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.tokens / rate)
        };
        by_rate.max(b.hold_until.saturating_duration_since(now))
    }

    /// Gives back a slot taken with [`Self::reserve`] and not used.
    pub fn cancel(&self, key: &str) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = buckets.get_mut(key) {
            b.tokens += 1.0;
        }
    }

    /// Holds `key` for `d` (the server asked to wait).
    pub fn hold(&self, key: &str, d: Duration) {
        self.hold_at(key, d, Instant::now());
    }

    fn hold_at(&self, key: &str, d: Duration, now: Instant) {
        let until = now + d;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = buckets.get_mut(key) {
            b.hold_until = b.hold_until.max(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_allows_a_burst_then_paces() {
        let p = Pacer::default();
        let pace = Pace::new(2.0, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(p.reserve_at("a", pace, t0), Duration::ZERO);
        }
        // The fourth and fifth wait 0.5 s and 1 s.
        assert_eq!(p.reserve_at("a", pace, t0), Duration::from_millis(500));
        assert_eq!(p.reserve_at("a", pace, t0), Duration::from_millis(1000));
        p.cancel("a");
        assert_eq!(p.reserve_at("a", pace, t0), Duration::from_millis(1000));
        // Another channel is independent.
        assert_eq!(p.reserve_at("b", pace, t0), Duration::ZERO);
        // Time refills (2 per second, up to the burst).
        let t1 = t0 + Duration::from_secs(10);
        for _ in 0..3 {
            assert_eq!(p.reserve_at("a", pace, t1), Duration::ZERO);
        }
        assert_eq!(p.reserve_at("a", pace, t1), Duration::from_millis(500));
        p.hold_at("a", Duration::from_secs(5), t1);
        assert_eq!(p.reserve_at("a", pace, t1), Duration::from_secs(5));
    }
}
