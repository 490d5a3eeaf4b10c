//! Counters a notifier keeps, served as Prometheus text on `/metrics` by the server
//! binary: jobs by outcome, attempts and failed attempts, and when the queue last
//! answered (which `/readyz` uses).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

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

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
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
}
