//! The probe's own figures as Prometheus counters: checks by outcome and reason, results
//! delivered, carried over, rejected and dropped per service, rounds and their duration.
//! Labels are low-cardinality by construction (kinds, reasons and three destinations:
//! `receiver`, `failure_service` and its `changes`). The
//! operator listener's own requests are counted and timed by the shared [`HttpMetrics`].

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use scoville_core::{DownReason, Outcome};
use scoville_service_kit::metrics::HttpMetrics;

use crate::delivery::Service;

/// Counters shared by the round, the delivery and the metrics endpoint.
#[derive(Debug)]
pub struct Metrics {
    up: AtomicU64,
    warning: AtomicU64,
    down: Vec<AtomicU64>,
    delivered: [AtomicU64; 3],
    rejected: [AtomicU64; 3],
    dropped: [AtomicU64; 3],
    buffered: [AtomicU64; 3],
    rounds_ok: AtomicU64,
    rounds_failed: AtomicU64,
    last_round_ms: AtomicU64,
    last_round_ok: AtomicBool,
    /// Requests to the operator listener ([`crate::server`]).
    pub http: HttpMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            up: AtomicU64::new(0),
            warning: AtomicU64::new(0),
            down: DownReason::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
            delivered: Default::default(),
            rejected: Default::default(),
            dropped: Default::default(),
            buffered: Default::default(),
            rounds_ok: AtomicU64::new(0),
            rounds_failed: AtomicU64::new(0),
            last_round_ms: AtomicU64::new(0),
            last_round_ok: AtomicBool::new(true),
            http: HttpMetrics::new(),
        }
    }
}

impl Metrics {
    /// Counts one check.
    pub fn check(&self, outcome: Outcome) {
        match outcome {
            Outcome::Up => self.up.fetch_add(1, Relaxed),
            Outcome::Warning(_) => self.warning.fetch_add(1, Relaxed),
            Outcome::Down(r) => {
                let i = DownReason::ALL.iter().position(|x| *x == r).unwrap_or(0);
                self.down[i].fetch_add(1, Relaxed)
            }
        };
    }

    /// Results a service accepted.
    pub fn delivered(&self, s: Service, n: usize) {
        self.delivered[s as usize].fetch_add(n as u64, Relaxed);
    }

    /// Results a service refused as invalid (400/422): never retried.
    pub fn rejected(&self, s: Service, n: usize) {
        self.rejected[s as usize].fetch_add(n as u64, Relaxed);
    }

    /// Results dropped because the carry-over buffer was full.
    pub fn dropped(&self, s: Service, n: usize) {
        self.dropped[s as usize].fetch_add(n as u64, Relaxed);
    }

    /// Results waiting in the carry-over buffer.
    pub fn set_buffered(&self, s: Service, n: usize) {
        self.buffered[s as usize].store(n as u64, Relaxed);
    }

    /// A round ended.
    pub fn round(&self, ok: bool, duration_ms: u64) {
        if ok {
            &self.rounds_ok
        } else {
            &self.rounds_failed
        }
        .fetch_add(1, Relaxed);
        self.last_round_ms.store(duration_ms, Relaxed);
        self.last_round_ok.store(ok, Relaxed);
    }

    /// Whether the last round could fetch its endpoints (true before the first).
    pub fn ready(&self) -> bool {
        self.last_round_ok.load(Relaxed)
    }

    /// Results dropped so far for `s`.
    pub fn dropped_total(&self, s: Service) -> u64 {
        self.dropped[s as usize].load(Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP scoville_probe_checks_total Checks run, by outcome and reason."
        );
        let _ = writeln!(out, "# TYPE scoville_probe_checks_total counter");
        let _ = writeln!(
            out,
            "scoville_probe_checks_total{{outcome=\"up\",reason=\"\"}} {}",
            self.up.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "scoville_probe_checks_total{{outcome=\"warning\",reason=\"\"}} {}",
            self.warning.load(Relaxed)
        );
        for (r, c) in DownReason::ALL.iter().zip(&self.down) {
            let _ = writeln!(
                out,
                "scoville_probe_checks_total{{outcome=\"down\",reason=\"{r}\"}} {}",
                c.load(Relaxed)
            );
        }
        for (name, help, values) in [
            (
                "scoville_probe_results_delivered_total",
                "Results accepted by a service.",
                &self.delivered,
            ),
            (
                "scoville_probe_results_rejected_total",
                "Results a service refused as invalid.",
                &self.rejected,
            ),
            (
                "scoville_probe_results_dropped_total",
                "Results dropped because the carry-over buffer was full.",
                &self.dropped,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for s in Service::ALL {
                let _ = writeln!(
                    out,
                    "{name}{{service=\"{}\"}} {}",
                    s.name(),
                    values[s as usize].load(Relaxed)
                );
            }
        }
        let name = "scoville_probe_results_buffered";
        let _ = writeln!(
            out,
            "# HELP {name} Results waiting for the next round.\n# TYPE {name} gauge"
        );
        for s in Service::ALL {
            let _ = writeln!(
                out,
                "{name}{{service=\"{}\"}} {}",
                s.name(),
                self.buffered[s as usize].load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP scoville_probe_rounds_total Rounds run.\n# TYPE scoville_probe_rounds_total counter"
        );
        let _ = writeln!(
            out,
            "scoville_probe_rounds_total{{result=\"ok\"}} {}",
            self.rounds_ok.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "scoville_probe_rounds_total{{result=\"failed\"}} {}",
            self.rounds_failed.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP scoville_probe_last_round_seconds Duration of the last round.\n# TYPE scoville_probe_last_round_seconds gauge"
        );
        let _ = writeln!(
            out,
            "scoville_probe_last_round_seconds {}",
            self.last_round_ms.load(Relaxed) as f64 / 1000.0
        );
        out.push_str(&self.http.render_text());
        out
    }
}
