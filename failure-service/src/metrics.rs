//! The failure service's Prometheus counters: events handled, notices by kind, store
//! conflicts (another instance saved first), requests refused by reason, and every
//! request by route and status class with its latency (the shared [`HttpMetrics`]).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use scoville_core::notice::NoticeKind;
use scoville_service_kit::metrics::HttpMetrics;

const KINDS: [NoticeKind; 8] = [
    NoticeKind::Down,
    NoticeKind::Recovered,
    NoticeKind::Flapping,
    NoticeKind::Settled,
    NoticeKind::Degraded,
    NoticeKind::CertificateExpiring,
    NoticeKind::DomainExpiring,
    NoticeKind::Changed,
];

/// Why a request was refused, as a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 401.
    Unauthorized = 0,
    /// 413.
    TooLarge = 1,
    /// 400.
    Invalid = 2,
    /// 503.
    Unavailable = 3,
}

const REFUSALS: [&str; 4] = ["unauthorized", "too_large", "invalid", "unavailable"];

/// Counters.
#[derive(Debug, Default)]
pub struct Metrics {
    events: AtomicU64,
    notices: [AtomicU64; 8],
    conflicts: AtomicU64,
    refused: [AtomicU64; 4],
    /// Requests by route and status class, and their latency.
    pub http: HttpMetrics,
}

impl Metrics {
    /// Events applied.
    pub fn events(&self, n: usize) {
        self.events.fetch_add(n as u64, Relaxed);
    }

    /// A notice decided.
    pub fn notice(&self, kind: NoticeKind) {
        if let Some(i) = KINDS.iter().position(|k| *k == kind) {
            self.notices[i].fetch_add(1, Relaxed);
        }
    }

    /// A save lost to another writer.
    pub fn conflict(&self) {
        self.conflicts.fetch_add(1, Relaxed);
    }

    /// A request refused.
    pub fn refused(&self, why: Refusal) {
        self.refused[why as usize].fetch_add(1, Relaxed);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP scoville_failure_events_total Events (results, degradations, changes) applied."
        );
        let _ = writeln!(out, "# TYPE scoville_failure_events_total counter");
        let _ = writeln!(
            out,
            "scoville_failure_events_total {}",
            self.events.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP scoville_failure_notices_total Notices decided, by kind."
        );
        let _ = writeln!(out, "# TYPE scoville_failure_notices_total counter");
        for (i, kind) in KINDS.iter().enumerate() {
            let _ = writeln!(
                out,
                "scoville_failure_notices_total{{kind=\"{}\"}} {}",
                kind.as_str(),
                self.notices[i].load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP scoville_failure_store_conflicts_total Saves lost to another writer (read again and re-applied)."
        );
        let _ = writeln!(out, "# TYPE scoville_failure_store_conflicts_total counter");
        let _ = writeln!(
            out,
            "scoville_failure_store_conflicts_total {}",
            self.conflicts.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP scoville_failure_refused_total Requests refused, by reason."
        );
        let _ = writeln!(out, "# TYPE scoville_failure_refused_total counter");
        for (i, reason) in REFUSALS.iter().enumerate() {
            let _ = writeln!(
                out,
                "scoville_failure_refused_total{{reason=\"{reason}\"}} {}",
                self.refused[i].load(Relaxed)
            );
        }
        out.push_str(&self.http.render_text());
        out
    }
}
