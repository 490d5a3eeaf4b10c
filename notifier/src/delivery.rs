//! Delivery policy: how one message is attempted, and how long a job waits in the queue
//! before its next delivery.
//!
//! Within one delivery ([`deliver`]) a message gets up to `max_attempts` attempts:
//!
//! - a permanent failure ([`SendError::Permanent`]: a 4xx other than 408/429, a refused
//!   address, an invalid configuration) stops at once: retrying cannot help, the job is
//!   dead-lettered;
//! - a retryable failure waits before the next attempt: exponential backoff with *full
//!   jitter* (uniform in `[0, min(max_backoff, base_backoff * 2^retry)]`), so that many
//!   notifiers failing together do not retry together; when the server said
//!   `Retry-After`, the wait is at least that;
//! - a `Retry-After` longer than `max_retry_after` is not slept through in process: the
//!   delivery stops and the job goes back to the queue with that delay (still honoured,
//!   without holding a worker).
//!
//! A job whose delivery ended retryable goes back to the queue for
//! [`DeliveryPolicy::requeue_delay`] (full jitter again, growing with the number of
//! receives, floored at `base_backoff`, at least the server's `Retry-After`, capped at
//! `requeue_max`). After the queue's `max_receives` receives it is dead-lettered, so a
//! job is tried at most `max_attempts × max_receives` times.

use std::time::{Duration, Instant};

use rand::Rng;

use crate::channel::{Channel, Message, SendError};
use crate::http::SendContext;

/// Retry settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Attempts within one delivery (at least 1).
    pub max_attempts: u32,
    /// First backoff ceiling.
    pub base_backoff: Duration,
    /// Largest backoff ceiling within a delivery.
    pub max_backoff: Duration,
    /// Longest `Retry-After` waited for in process; longer ones send the job back to
    /// the queue with that delay.
    pub max_retry_after: Duration,
    /// Largest delay before a job is received again.
    pub requeue_max: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            requeue_max: Duration::from_secs(15 * 60),
        }
    }
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Sent on attempt `attempts`.
    Sent {
        /// Attempts made.
        attempts: u32,
    },
    /// Not sent.
    Failed {
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        error: SendError,
    },
}

impl DeliveryPolicy {
    /// Checks the settings; the error names the field.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if self.max_attempts == 0 || self.max_attempts > 20 {
            return Err(("max_attempts", "must be between 1 and 20"));
        }
        if self.base_backoff.is_zero() {
            return Err(("base_backoff_ms", "must be above 0"));
        }
        if self.max_backoff < self.base_backoff {
            return Err(("max_backoff_ms", "must be at least base_backoff_ms"));
        }
        if self.requeue_max > crate::queue::MAX_VISIBILITY {
            return Err(("requeue_max_ms", "must be at most 12 hours (SQS's limit)"));
        }
        Ok(())
    }

    /// The backoff ceiling before retry number `retry` (0 for the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(30)).unwrap_or(u32::MAX);
        self.base_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// A full-jitter wait before retry number `retry`.
    pub fn backoff(&self, retry: u32) -> Duration {
        jitter(self.ceiling(retry))
    }

    /// How long a job that failed retryably on its `receive_count`-th receive waits in
    /// the queue before the next.
    pub fn requeue_delay(&self, receive_count: u32, retry_after: Option<Duration>) -> Duration {
        let factor = 1u32
            .checked_shl(receive_count.saturating_sub(1).min(30))
            .unwrap_or(u32::MAX);
        let ceiling = self
            .max_backoff
            .max(self.base_backoff)
            .saturating_mul(factor)
            .min(self.requeue_max);
        let d = jitter(ceiling).max(self.base_backoff.min(ceiling));
        d.max(retry_after.unwrap_or(Duration::ZERO))
            .min(crate::queue::MAX_VISIBILITY)
    }
}

/// Uniform in `[0, ceiling]`.
fn jitter(ceiling: Duration) -> Duration {
    let ms = ceiling.as_millis().min(u128::from(u64::MAX)) as u64;
    Duration::from_millis(rand::rng().random_range(0..=ms))
}

/// Attempts `msg` on `channel` under `policy` (see the module docs).
pub async fn deliver<C: Channel + Sync>(
    channel: &C,
    ctx: &SendContext,
    msg: &Message,
    policy: &DeliveryPolicy,
) -> Delivery {
    deliver_with(channel.kind(), msg, policy, || channel.send(ctx, msg)).await
}

/// Makes up to `policy.max_attempts` calls of `attempt` (one attempt each) with the
/// backoff of the module docs: [`deliver`] for a message, and the results batches of
/// result hooks. `kind` and `label` only go to the logs.
pub async fn deliver_with<F, Fut>(
    kind: &str,
    label: &dyn std::fmt::Display,
    policy: &DeliveryPolicy,
    mut attempt_once: F,
) -> Delivery
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), SendError>>,
{
    let max = policy.max_attempts.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let started = Instant::now();
        let result = attempt_once().await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let error = match result {
            Ok(()) => {
                tracing::debug!(channel = kind, message = %label, attempt, elapsed_ms, "sent");
                return Delivery::Sent { attempts: attempt };
            }
            Err(e) => e,
        };
        let retry_after = match &error {
            SendError::Permanent(reason) => {
                tracing::warn!(channel = kind, message = %label, attempt, elapsed_ms, %reason, "permanent failure");
                return Delivery::Failed {
                    attempts: attempt,
                    error,
                };
            }
            SendError::Retryable {
                retry_after,
                reason,
            } => {
                tracing::info!(
                    channel = kind, message = %label, attempt, elapsed_ms, %reason,
                    retry_after_ms = retry_after.map(|d| d.as_millis() as u64),
                    "attempt failed, retryable"
                );
                *retry_after
            }
        };
        if attempt >= max || retry_after.is_some_and(|d| d > policy.max_retry_after) {
            return Delivery::Failed {
                attempts: attempt,
                error,
            };
        }
        let wait = policy
            .backoff(attempt - 1)
            .max(retry_after.unwrap_or(Duration::ZERO));
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_full_jitter() {
        let p = DeliveryPolicy {
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..DeliveryPolicy::default()
        };
        assert_eq!(p.ceiling(0), Duration::from_millis(100));
        assert_eq!(p.ceiling(1), Duration::from_millis(200));
        assert_eq!(p.ceiling(3), Duration::from_millis(800));
        assert_eq!(p.ceiling(4), Duration::from_millis(1000));
        assert_eq!(p.ceiling(100), Duration::from_millis(1000));
        let samples: Vec<Duration> = (0..2000).map(|_| p.backoff(3)).collect();
        assert!(samples.iter().all(|d| *d <= Duration::from_millis(800)));
        // Full jitter: spread over the whole range, not bunched at the top.
        assert!(samples.iter().any(|d| *d < Duration::from_millis(100)));
        assert!(samples.iter().any(|d| *d > Duration::from_millis(700)));
    }

    #[test]
    fn requeue_delay_honours_retry_after_and_caps() {
        let p = DeliveryPolicy {
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            requeue_max: Duration::from_secs(10),
            ..DeliveryPolicy::default()
        };
        for rc in 1..10 {
            let d = p.requeue_delay(rc, None);
            assert!(
                d >= Duration::from_millis(100) && d <= Duration::from_secs(10),
                "{d:?}"
            );
        }
        assert!(p.requeue_delay(1, Some(Duration::from_secs(120))) >= Duration::from_secs(120));
        assert!(p.validate().is_ok());
        assert_eq!(
            DeliveryPolicy {
                max_attempts: 0,
                ..p
            }
            .validate(),
            Err(("max_attempts", "must be between 1 and 20"))
        );
    }
}
