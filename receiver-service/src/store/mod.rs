//! Where results become history, behind one port: [`influx::InfluxStore`] (InfluxDB's v1
//! HTTP API) for servers; the SQLite store of the all-in-one mode will sit beside it.
//!
//! Raw points are keyed by (org, endpoint, region, check start in ms), so writing a
//! result twice overwrites one point. Rollups per minute and per hour are recomputed from
//! the raw points of the periods a batch touched, so they stay right when results arrive
//! late or twice.

pub mod influx;
pub mod line_protocol;
pub mod sqlite;

use futures::future::BoxFuture;
use scoville_core::{ApdexClass, CheckResult};

/// Why a write did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store is down, slow or refused us; retry later, losing nothing.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store refused the data itself (InfluxDB's 400); retrying will not help.
    #[error("store refused the data: {0}")]
    Rejected(String),
}

/// Writes results and keeps the rollups.
pub trait ResultStore: Send + Sync + std::fmt::Debug {
    /// Writes every result as a raw point; returns once the store has acknowledged.
    fn write<'a>(&'a self, results: &'a [CheckResult]) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Recomputes the minute rollups of `[from_ms, to_ms)` (aligned outward).
    fn rollup_minutes(&self, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Recomputes the hour rollups of `[from_ms, to_ms)` (aligned outward).
    fn rollup_hours(&self, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<(), StoreError>>;

    /// The checks started in `[from_ms, to_ms)`, as the trend analysis reads them.
    fn checks(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<CheckPoint>, StoreError>>;
}

/// One stored check, as the trend analysis sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckPoint {
    /// Its organization.
    pub org_id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// The region.
    pub region: String,
    /// Start, Unix ms.
    pub started_at_ms: i64,
    /// Total time.
    pub total_ms: f64,
    /// Apdex class under the T it was checked with.
    pub class: ApdexClass,
    /// The endpoint's mean run time limit then, if any.
    pub mean_limit_ms: Option<u32>,
}

/// The class stored as three 0/1 fields.
pub(crate) fn class_of(satisfied: i64, tolerating: i64) -> ApdexClass {
    if satisfied > 0 {
        ApdexClass::Satisfied
    } else if tolerating > 0 {
        ApdexClass::Tolerating
    } else {
        ApdexClass::Frustrated
    }
}

/// `[from, to)` widened to whole periods of `period` ms.
pub(crate) fn align(from_ms: i64, to_ms: i64, period: i64) -> (i64, i64) {
    (
        from_ms.div_euclid(period) * period,
        (to_ms + period - 1).div_euclid(period) * period,
    )
}
