//! The receiver's Prometheus counters: results and batches queued, batches refused by
//! reason, and every request by route and status class with its latency (the shared
//! [`HttpMetrics`]); the backlog is read from the queue at scrape time.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use scoville_service_kit::metrics::HttpMetrics;

/// Why a batch was refused, as a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 401.
    Unauthorized = 0,
    /// 413.
    TooLarge = 1,
    /// 400.
    Invalid = 2,
    /// 503, backlog full.
    QueueFull = 3,
    /// 503, queue unreachable.
    QueueUnavailable = 4,
}

const REFUSALS: [(&str, Refusal); 5] = [
    ("unauthorized", Refusal::Unauthorized),
    ("too_large", Refusal::TooLarge),
    ("invalid", Refusal::Invalid),
    ("queue_full", Refusal::QueueFull),
    ("queue_unavailable", Refusal::QueueUnavailable),
];

/// Counters.
#[derive(Debug, Default)]
pub struct Metrics {
    batches_accepted: AtomicU64,
    results_queued: AtomicU64,
    refused: [AtomicU64; 5],
    /// Requests by route and status class, and their latency.
    pub http: HttpMetrics,
}

impl Metrics {
    /// A batch of `n` results was queued.
    pub fn accepted(&self, n: usize) {
        self.batches_accepted.fetch_add(1, Relaxed);
        self.results_queued.fetch_add(n as u64, Relaxed);
    }

    /// A batch was refused.
    pub fn refused(&self, why: Refusal) {
        self.refused[why as usize].fetch_add(1, Relaxed);
    }

    /// The text exposition; `backlog` is the queue's, if it answered.
    pub fn render(&self, backlog: Option<u64>) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP scoville_receiver_batches_accepted_total Batches queued."
        );
        let _ = writeln!(
            out,
            "# TYPE scoville_receiver_batches_accepted_total counter"
        );
        let _ = writeln!(
            out,
            "scoville_receiver_batches_accepted_total {}",
            self.batches_accepted.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP scoville_receiver_results_queued_total Results queued."
        );
        let _ = writeln!(out, "# TYPE scoville_receiver_results_queued_total counter");
        let _ = writeln!(
            out,
            "scoville_receiver_results_queued_total {}",
            self.results_queued.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP scoville_receiver_batches_refused_total Batches refused, by reason."
        );
        let _ = writeln!(
            out,
            "# TYPE scoville_receiver_batches_refused_total counter"
        );
        for (name, r) in REFUSALS {
            let _ = writeln!(
                out,
                "scoville_receiver_batches_refused_total{{reason=\"{name}\"}} {}",
                self.refused[r as usize].load(Relaxed)
            );
        }
        if let Some(b) = backlog {
            let _ = writeln!(
                out,
                "# HELP scoville_receiver_queue_backlog Results waiting in the queue."
            );
            let _ = writeln!(out, "# TYPE scoville_receiver_queue_backlog gauge");
            let _ = writeln!(out, "scoville_receiver_queue_backlog {b}");
        }
        out.push_str(&self.http.render_text());
        out
    }
}
