//! What the farm remembers: per-request hold times, and what its sink received.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;

use serde::{Deserialize, Serialize};

/// One request a target held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldRecord {
    /// The target's index.
    pub index: u64,
    /// The run tag from `?run=`.
    pub run: String,
    /// From the connection being accepted (or, on a kept-alive connection, the request
    /// head being parsed) to the response being handed to hyper, in ms.
    pub hold_ms: f64,
    /// The status answered.
    pub status: u16,
}

/// What the sink has received.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SinkSnapshot {
    /// Results posted to `/v1/results` and accepted.
    pub results: u64,
    /// Distinct (endpoint, started_at) pairs among them.
    pub distinct_results: u64,
    /// Results posted to `/v1/failures` and accepted.
    pub failures: u64,
    /// Posts answered with an injected failure.
    pub rejected_posts: u64,
    /// Accepted batches.
    pub batches: u64,
    /// Each endpoint's last reported `total_ms`, with its outcome.
    pub totals: HashMap<String, (f64, String)>,
    /// Endpoint ids that reached `/v1/failures`.
    pub failure_ids: Vec<String>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) holds: Mutex<Vec<HoldRecord>>,
    pub(crate) in_flight: AtomicUsize,
    pub(crate) max_in_flight: AtomicUsize,
    pub(crate) sink: Mutex<SinkState>,
}

#[derive(Debug, Default)]
pub(crate) struct SinkState {
    pub(crate) snapshot: SinkSnapshot,
    pub(crate) seen: HashSet<(String, i64)>,
    pub(crate) fail_next: u64,
    pub(crate) fail_status: u16,
}
