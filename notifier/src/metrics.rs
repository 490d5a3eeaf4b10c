//! Counters a notifier keeps, served as Prometheus text on `/metrics` by the server
//! binary: jobs by outcome, deliveries (messages, after their retries) by channel type
//! and result with their duration, attempts and failed attempts, the queue's depth (read
//! at scrape time), when the queue last answered (which `/readyz` uses), and the
//! requests to `/metrics` and the health routes themselves (the shared [`HttpMetrics`]).
//! Labels are channel *types* (`slack`, `webhook`, ...), never channel ids or URLs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use scoville_service_kit::metrics::{Exposition, Histogram, HttpMetrics, MetricType};

/// Bucket bounds (seconds) of the delivery duration: a delivery includes its retries
/// and their backoff.
pub const DELIVERY_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// How a delivery (one message to one channel, after its attempts) ended, as a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeliveryResult {
    /// The channel took it.
    Sent,
    /// Failed in a way worth retrying: the jobs go back to the queue.
    FailedRetryable,
    /// Refused for good (a 4xx other than 408/429): the jobs are dead-lettered.
    FailedPermanent,
}

impl DeliveryResult {
    /// `sent`, `failed_retryable` or `failed_permanent`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryResult::Sent => "sent",
            DeliveryResult::FailedRetryable => "failed_retryable",
            DeliveryResult::FailedPermanent => "failed_permanent",
        }
    }
}

#[derive(Debug, Default)]
struct Deliveries {
    /// (channel type, result) → deliveries.
    counts: BTreeMap<(&'static str, DeliveryResult), u64>,
    /// channel type → duration.
    seconds: BTreeMap<&'static str, Histogram>,
}

/// The counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Jobs delivered.
    pub jobs_sent: AtomicU64,
    /// Jobs dropped as duplicates (already sent).
    pub jobs_duplicate: AtomicU64,
    /// Jobs sent back to the queue for a later try.
    pub jobs_retried: AtomicU64,
    /// Jobs dead-lettered.
    pub jobs_dead_lettered: AtomicU64,
    /// Requests (messages) sent successfully; fewer than jobs when digests are used.
    pub messages_sent: AtomicU64,
    /// Digest messages among them.
    pub digests_sent: AtomicU64,
    /// Attempts made.
    pub attempts: AtomicU64,
    /// Attempts that failed.
    pub attempt_failures: AtomicU64,
    /// Unix ms of the queue's last successful answer.
    pub queue_ok_at_ms: AtomicU64,
    /// Deliveries by channel type and result, and their duration.
    deliveries: Mutex<Deliveries>,
    /// Requests to the notifier's own HTTP routes.
    pub http: HttpMetrics,
}

impl Metrics {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Records that the queue answered now.
    pub fn queue_ok(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        self.queue_ok_at_ms.store(now, Ordering::Relaxed);
    }

    /// One delivery to a channel of type `channel` (its [`kind`]) ended with `result`
    /// after `elapsed` (attempts and backoff included).
    ///
    /// [`kind`]: crate::channel::ChannelConfig::kind
    pub fn delivery(&self, channel: &'static str, result: DeliveryResult, elapsed: Duration) {
        let mut d = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
        *d.counts.entry((channel, result)).or_insert(0) += 1;
        d.seconds
            .entry(channel)
            .or_insert_with(|| Histogram::new(DELIVERY_BUCKETS))
            .observe(elapsed.as_secs_f64());
    }

    /// Deliveries so far to channels of type `channel` that ended with `result`.
    pub fn deliveries(&self, channel: &str, result: DeliveryResult) -> u64 {
        let d = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
        d.counts
            .iter()
            .filter(|((c, r), _)| *c == channel && *r == result)
            .map(|(_, n)| *n)
            .sum()
    }

    /// Prometheus text exposition, without the queue's depth.
    pub fn render(&self) -> String {
        self.render_with_depth(None)
    }

    /// Prometheus text exposition; `queue_depth` is the queue's, if it answered.
    pub fn render_with_depth(&self, queue_depth: Option<u64>) -> String {
        let mut out = String::new();
        let jobs = [
            ("sent", &self.jobs_sent),
            ("duplicate", &self.jobs_duplicate),
            ("retried", &self.jobs_retried),
            ("dead_lettered", &self.jobs_dead_lettered),
        ];
        out.push_str("# HELP scoville_notifier_jobs_total Notification jobs by outcome.\n");
        out.push_str("# TYPE scoville_notifier_jobs_total counter\n");
        for (outcome, c) in jobs {
            let _ = writeln!(
                out,
                "scoville_notifier_jobs_total{{outcome=\"{outcome}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        for (name, help, c) in [
            (
                "messages_sent_total",
                "Messages (requests) delivered.",
                &self.messages_sent,
            ),
            (
                "digests_sent_total",
                "Digest messages delivered.",
                &self.digests_sent,
            ),
            ("attempts_total", "Send attempts.", &self.attempts),
            (
                "attempt_failures_total",
                "Send attempts that failed.",
                &self.attempt_failures,
            ),
        ] {
            let _ = writeln!(out, "# HELP scoville_notifier_{name} {help}");
            let _ = writeln!(out, "# TYPE scoville_notifier_{name} counter");
            let _ = writeln!(
                out,
                "scoville_notifier_{name} {}",
                c.load(Ordering::Relaxed)
            );
        }
        out.push_str(
            "# HELP scoville_notifier_queue_ok_timestamp_seconds When the queue last answered.\n",
        );
        out.push_str("# TYPE scoville_notifier_queue_ok_timestamp_seconds gauge\n");
        let _ = writeln!(
            out,
            "scoville_notifier_queue_ok_timestamp_seconds {}",
            self.queue_ok_at_ms.load(Ordering::Relaxed) / 1000
        );
        let mut e = Exposition::new();
        {
            let d = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
            let name = "scoville_notifier_deliveries_total";
            e.family(
                name,
                MetricType::Counter,
                "Deliveries (messages, after their attempts), by channel type and result.",
            );
            for ((channel, result), n) in &d.counts {
                e.sample(
                    name,
                    &[("channel", channel), ("result", result.as_str())],
                    *n as f64,
                );
            }
            let name = "scoville_notifier_delivery_duration_seconds";
            e.family(
                name,
                MetricType::Histogram,
                "Time a delivery took, attempts and backoff included, by channel type.",
            );
            for (channel, h) in &d.seconds {
                e.histogram(name, &[("channel", channel)], h);
            }
        }
        if let Some(depth) = queue_depth {
            let name = "scoville_notifier_queue_depth";
            e.family(
                name,
                MetricType::Gauge,
                "Jobs in the notification queue: waiting, delayed or being delivered.",
            )
            .sample(name, &[], depth as f64);
        }
        self.http.render(&mut e);
        out.push_str(&e.finish());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters() {
        let m = Metrics::default();
        Metrics::add(&m.jobs_sent, 3);
        Metrics::add(&m.messages_sent, 1);
        let text = m.render();
        assert!(text.contains("scoville_notifier_jobs_total{outcome=\"sent\"} 3\n"));
        assert!(text.contains("scoville_notifier_messages_sent_total 1\n"));
        assert!(text.contains("scoville_notifier_jobs_total{outcome=\"dead_lettered\"} 0\n"));
    }

    #[test]
    fn deliveries_by_channel_type_and_result_parse() {
        let m = Metrics::default();
        m.delivery("slack", DeliveryResult::Sent, Duration::from_millis(80));
        m.delivery("slack", DeliveryResult::Sent, Duration::from_millis(300));
        m.delivery(
            "webhook",
            DeliveryResult::FailedPermanent,
            Duration::from_secs(2),
        );
        let text = m.render_with_depth(Some(7));
        let parsed = scoville_service_kit::metrics::check::parse(&text)
            .unwrap_or_else(|e| panic!("not a valid exposition: {e}\n{text}"));
        let deliveries = "scoville_notifier_deliveries_total";
        assert_eq!(
            parsed.value(deliveries, &[("channel", "slack"), ("result", "sent")]),
            Some(2.0)
        );
        assert_eq!(
            parsed.value(
                deliveries,
                &[("channel", "webhook"), ("result", "failed_permanent")]
            ),
            Some(1.0)
        );
        assert_eq!(
            parsed.value(
                "scoville_notifier_delivery_duration_seconds_bucket",
                &[("channel", "slack"), ("le", "0.1")]
            ),
            Some(1.0)
        );
        assert_eq!(
            parsed.value("scoville_notifier_queue_depth", &[]),
            Some(7.0)
        );
        assert_eq!(m.deliveries("slack", DeliveryResult::Sent), 2);
        // Without a depth the gauge is absent, and the rest still parses.
        scoville_service_kit::metrics::check::parse(&m.render()).unwrap();
    }
}
