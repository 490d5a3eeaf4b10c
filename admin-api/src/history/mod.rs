//! Reading history: per-step counts, uptime, latency percentiles and Apdex of one
//! endpoint from the rollups the receiver's worker keeps, a summary of the range, the raw
//! recent results with their timing breakdown, and what the badges show.
//!
//! The port is [`HistoryStore`], with two adapters beside this file: [`influx`] (InfluxQL
//! over InfluxDB's v1 HTTP API, every value a bound parameter) and [`sqlite`] (the
//! embedded store's file, read on its own connections). [`render`] turns answers into
//! JSON, CSV and SVG badges; [`api`] strings parsing, reading and rendering together for
//! the routes.
//!
//! # Queries
//!
//! `from` and `to` are Unix milliseconds (`1767225600000`) or RFC 3339
//! (`2026-01-01T00:00:00Z`, any offset, fraction allowed; a `+` that URL decoding turned
//! into a space is put back). `to` defaults to now, `from` to 24 hours before `to`. Both
//! are widened outward to whole steps, so an answer always covers whole steps and says
//! which range it covers. `step` is one of [`StepSize::ALL`] (`1m` ... `1d`); without one
//! the smallest step giving at most 500 steps is used. Limits: `to > from`, a range of at
//! most 400 days, at most 2,000 steps, and at most 7 days when the step is under an hour
//! (those read the minute rollups, 1,440 rows a day per region). Every step of the range
//! is in the answer, empty ones with a count of 0 and no ratios, so charts show gaps.
//!
//! # Which rollup, and how rollups are combined
//!
//! Steps that are whole hours read `rollup_1h`, others `rollup_1m`. A step's counts are
//! sums (count, up, satisfied, tolerating, frustrated); uptime = up / count; Apdex =
//! (satisfied + tolerating / 2) / count; the mean latency is the mean of the rollups'
//! means weighted by their up counts (rollup latencies are of up checks only), which is
//! exact.
//!
//! Percentiles cannot be added up. When a step (or the summary) covers one rollup row,
//! its p50/p95/p99 are that row's, exactly (nearest rank, as InfluxDB's `percentile()`),
//! and `percentiles_exact` is true. When it covers several (several regions, several
//! hours, minutes within a 5-minute step), each row's latency distribution is modelled as
//! piecewise log-normal through its three known quantiles, the models are mixed weighted
//! by the rows' up counts, and the mixture's quantile is solved for (see [`aggregate`]).
//! The answer always lies between the smallest and the largest of the rows' own
//! percentiles (as the true percentile of the union does), equals them when they agree,
//! and is exactly InfluxDB's nearest rank when the rows hold one check each (minute
//! rollups of once-a-minute checks). On the tests' data (three regions of medians 40, 90
//! and 220 ms, log-normal, 2 % outliers at 4×), merged hours are within 7 % of the pooled
//! p50 and 18 % of the pooled p95; p99 of rows of 60 checks is a single check's latency
//! and cannot be recovered from rollups (off by up to −57 %; the largest row p99 is an
//! upper bound). A count-weighted mean of the rows' percentiles, the usual shortcut, was
//! off by up to +36 % (p50) and −40 % (p95) on the same data. The summary merges the same
//! rows as the steps, not the steps.
//!
//! # Tenant isolation
//!
//! Every read filters by org id and endpoint id, in both stores; the caller has also
//! checked that the endpoint belongs to the org.

pub mod aggregate;
pub mod api;
pub mod influx;
pub mod render;
pub mod sqlite;

use std::collections::HashMap;

use futures::future::{BoxFuture, FutureExt};
use scoville_core::{ApdexClass, EndpointId, OrgId, Region, Timings};
use serde::Serialize;

pub use scoville_core::parse::FieldError;

/// At most this many steps in one answer.
pub const MAX_STEPS: i64 = 2_000;
/// The longest range of a history query: 400 days.
pub const MAX_RANGE_MS: i64 = 400 * DAY_MS;
/// The longest range read from the minute rollups (steps under an hour): 7 days.
pub const MAX_MINUTE_RANGE_MS: i64 = 7 * DAY_MS;
/// The range when `from` is not given: 24 hours before `to`.
pub const DEFAULT_RANGE_MS: i64 = DAY_MS;
/// Without a `step`, the smallest step that gives at most this many steps.
pub const DEFAULT_TARGET_STEPS: i64 = 500;
/// Raw results: the range when `from` is not given (1 hour).
pub const DEFAULT_RESULTS_RANGE_MS: i64 = HOUR_MS;
/// Raw results: the longest range (31 days).
pub const MAX_RESULTS_RANGE_MS: i64 = 31 * DAY_MS;
/// Raw results: how many when `limit` is not given.
pub const DEFAULT_RESULTS_LIMIT: u32 = 100;
/// Raw results: at most this many per answer.
pub const MAX_RESULTS_LIMIT: u32 = 1_000;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// Earliest accepted time, 2000-01-01T00:00:00Z: smaller millisecond values are almost
/// certainly seconds.
const MIN_TIME_MS: i64 = 946_684_800_000;
/// Latest accepted time, 3000-01-01T00:00:00Z.
const MAX_TIME_MS: i64 = 32_503_680_000_000;

/// The length of one step of a history answer, from a fixed list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StepSize {
    label: &'static str,
    ms: i64,
}

impl StepSize {
    /// Every accepted step, shortest first.
    pub const ALL: &'static [StepSize] = &[
        StepSize::new("1m", MINUTE_MS),
        StepSize::new("5m", 5 * MINUTE_MS),
        StepSize::new("10m", 10 * MINUTE_MS),
        StepSize::new("15m", 15 * MINUTE_MS),
        StepSize::new("30m", 30 * MINUTE_MS),
        StepSize::HOUR,
        StepSize::TWO_HOURS,
        StepSize::new("3h", 3 * HOUR_MS),
        StepSize::new("6h", 6 * HOUR_MS),
        StepSize::new("12h", 12 * HOUR_MS),
        StepSize::DAY,
    ];
    /// One hour.
    pub const HOUR: StepSize = StepSize::new("1h", HOUR_MS);
    /// Two hours.
    pub const TWO_HOURS: StepSize = StepSize::new("2h", 2 * HOUR_MS);
    /// One day.
    pub const DAY: StepSize = StepSize::new("1d", DAY_MS);

    const fn new(label: &'static str, ms: i64) -> Self {
        Self { label, ms }
    }

    /// One of [`StepSize::ALL`] by its label (`1m`, `5m`, ..., `1d`).
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|st| st.label == s)
            .ok_or_else(|| {
                let all: Vec<&str> = Self::ALL.iter().map(|st| st.label).collect();
                format!("{s:?} is not a step; use one of {}", all.join(", "))
            })
    }

    /// Its label, e.g. `1h`.
    pub fn label(&self) -> &'static str {
        self.label
    }

    /// Its length in ms.
    pub fn ms(&self) -> i64 {
        self.ms
    }

    /// The rollup a step of this size is read from.
    pub fn rollup(&self) -> Rollup {
        if self.ms % HOUR_MS == 0 {
            Rollup::Hour
        } else {
            Rollup::Minute
        }
    }
}

/// Which rollup the receiver's worker keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
pub enum Rollup {
    /// Per minute: `rollup_1m` in InfluxDB, period `1m` in SQLite.
    #[serde(rename = "rollup_1m")]
    Minute,
    /// Per hour: `rollup_1h`, period `1h`.
    #[serde(rename = "rollup_1h")]
    Hour,
}

impl Rollup {
    /// The period's length in ms.
    pub fn period_ms(self) -> i64 {
        match self {
            Rollup::Minute => MINUTE_MS,
            Rollup::Hour => HOUR_MS,
        }
    }
}

/// A validated history query, its range widened to whole steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Start of the first step, Unix ms (a multiple of the step).
    pub from_ms: i64,
    /// End of the last step, exclusive.
    pub to_ms: i64,
    /// The step.
    pub step: StepSize,
    /// Only this region's checks; all regions when `None`.
    pub region: Option<Region>,
}

impl HistoryQuery {
    /// Parses `from`, `to`, `step` and `region` from a query string's map (other keys,
    /// such as `format`, are left to the caller). `now_ms` is the default `to`.
    pub fn parse(params: &HashMap<String, String>, now_ms: i64) -> Result<Self, FieldError> {
        let to_ms = match param(params, "to") {
            Some(v) => parse_time("to", v)?,
            None => now_ms,
        };
        let from_ms = match param(params, "from") {
            Some(v) => parse_time("from", v)?,
            None => to_ms - DEFAULT_RANGE_MS,
        };
        let region = parse_region(params)?;
        let step = match param(params, "step") {
            Some(v) => Some(StepSize::parse(v).map_err(|e| FieldError::new("step", e))?),
            None => None,
        };
        Self::new(from_ms, to_ms, step, region)
    }

    /// Checks a range and a step (the default one when `None`) and widens the range to
    /// whole steps.
    pub fn new(
        from_ms: i64,
        to_ms: i64,
        step: Option<StepSize>,
        region: Option<Region>,
    ) -> Result<Self, FieldError> {
        check_time("from", from_ms)?;
        check_time("to", to_ms)?;
        if to_ms <= from_ms {
            return Err(FieldError::new(
                "to",
                format!("must be after from ({to_ms} <= {from_ms})"),
            ));
        }
        if to_ms - from_ms > MAX_RANGE_MS {
            return Err(FieldError::new(
                "from",
                format!(
                    "the range is {:.1} days; at most {} days",
                    (to_ms - from_ms) as f64 / DAY_MS as f64,
                    MAX_RANGE_MS / DAY_MS
                ),
            ));
        }
        let step = match step {
            Some(s) => s,
            None => default_step(from_ms, to_ms),
        };
        let (from, to) = widen(from_ms, to_ms, step.ms);
        let steps = (to - from) / step.ms;
        if steps > MAX_STEPS {
            return Err(FieldError::new(
                "step",
                format!(
                    "{steps} steps of {} in that range; at most {MAX_STEPS}: choose a longer step or a shorter range",
                    step.label
                ),
            ));
        }
        if step.rollup() == Rollup::Minute && to - from > MAX_MINUTE_RANGE_MS {
            return Err(FieldError::new(
                "step",
                format!(
                    "steps under 1h cover at most {} days; use 1h or longer for this range",
                    MAX_MINUTE_RANGE_MS / DAY_MS
                ),
            ));
        }
        Ok(Self {
            from_ms: from,
            to_ms: to,
            step,
            region,
        })
    }

    /// The rollup this query reads.
    pub fn rollup(&self) -> Rollup {
        self.step.rollup()
    }

    /// The number of steps in the answer (at most [`MAX_STEPS`], even for a query built
    /// by hand).
    pub fn step_count(&self) -> usize {
        ((self.to_ms - self.from_ms).max(0) / self.step.ms).min(MAX_STEPS) as usize
    }
}

/// The smallest step with at most [`DEFAULT_TARGET_STEPS`] steps that the minute-rollup
/// limit allows.
fn default_step(from_ms: i64, to_ms: i64) -> StepSize {
    StepSize::ALL
        .iter()
        .copied()
        .find(|s| {
            let (a, b) = widen(from_ms, to_ms, s.ms);
            (b - a) / s.ms <= DEFAULT_TARGET_STEPS
                && (s.rollup() == Rollup::Hour || b - a <= MAX_MINUTE_RANGE_MS)
        })
        .unwrap_or(StepSize::DAY)
}

/// `[from, to)` widened to whole periods of `period` ms.
fn widen(from_ms: i64, to_ms: i64, period: i64) -> (i64, i64) {
    (
        from_ms.div_euclid(period) * period,
        (to_ms + period - 1).div_euclid(period) * period,
    )
}

fn param<'a>(params: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    params.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn parse_region(params: &HashMap<String, String>) -> Result<Option<Region>, FieldError> {
    param(params, "region")
        .map(|v| Region::parse(v).map_err(|e| FieldError::new("region", e)))
        .transpose()
}

/// A time given as Unix ms or RFC 3339.
pub fn parse_time(field: &str, value: &str) -> Result<i64, FieldError> {
    let value = value.trim();
    let ms = if !value.is_empty()
        && value
            .strip_prefix('-')
            .unwrap_or(value)
            .bytes()
            .all(|b| b.is_ascii_digit())
    {
        value
            .parse::<i64>()
            .map_err(|_| FieldError::new(field, format!("{value:?} is not a time in Unix ms")))?
    } else {
        // A '+' of an offset arrives as a space when the client did not encode it.
        let fixed = value.replace(' ', "+");
        let t = time::OffsetDateTime::parse(&fixed, &time::format_description::well_known::Rfc3339)
            .map_err(|e| {
                FieldError::new(
                    field,
                    format!("{value:?} is neither Unix ms nor RFC 3339 ({e})"),
                )
            })?;
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
            .map_err(|_| FieldError::new(field, format!("{value:?} is out of range")))?
    };
    check_time(field, ms)?;
    Ok(ms)
}

fn check_time(field: &str, ms: i64) -> Result<(), FieldError> {
    if ms < MIN_TIME_MS {
        return Err(FieldError::new(
            field,
            format!("{ms} is before 2000-01-01; times are Unix milliseconds, not seconds"),
        ));
    }
    if ms > MAX_TIME_MS {
        return Err(FieldError::new(
            field,
            format!("{ms} is after the year 3000"),
        ));
    }
    Ok(())
}

/// Formats Unix ms as RFC 3339 in UTC (`2026-01-01T00:00:00Z`, with milliseconds when
/// not whole seconds).
pub fn format_time(ms: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return ms.to_string();
    };
    let (y, mo, d) = (t.year(), u8::from(t.month()), t.day());
    let (h, mi, s) = (t.hour(), t.minute(), t.second());
    match t.millisecond() {
        0 => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
        m => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{m:03}Z"),
    }
}

/// A validated query of raw results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultsQuery {
    /// Start, Unix ms, inclusive.
    pub from_ms: i64,
    /// End, exclusive.
    pub to_ms: i64,
    /// Only this region's results.
    pub region: Option<Region>,
    /// At most this many, newest first.
    pub limit: u32,
}

impl ResultsQuery {
    /// Parses `from`, `to` (as for history; by default the last hour), `region` and
    /// `limit` (default 100, at most 1,000). Results are newest first.
    pub fn parse(params: &HashMap<String, String>, now_ms: i64) -> Result<Self, FieldError> {
        let to_ms = match param(params, "to") {
            Some(v) => parse_time("to", v)?,
            None => now_ms,
        };
        let from_ms = match param(params, "from") {
            Some(v) => parse_time("from", v)?,
            None => to_ms - DEFAULT_RESULTS_RANGE_MS,
        };
        let region = parse_region(params)?;
        let limit = match param(params, "limit") {
            Some(v) => v
                .parse::<u32>()
                .map_err(|_| FieldError::new("limit", format!("{v:?} is not a whole number")))?,
            None => DEFAULT_RESULTS_LIMIT,
        };
        Self::new(from_ms, to_ms, region, limit)
    }

    /// Checks a range and a limit.
    pub fn new(
        from_ms: i64,
        to_ms: i64,
        region: Option<Region>,
        limit: u32,
    ) -> Result<Self, FieldError> {
        check_time("from", from_ms)?;
        check_time("to", to_ms)?;
        if to_ms <= from_ms {
            return Err(FieldError::new(
                "to",
                format!("must be after from ({to_ms} <= {from_ms})"),
            ));
        }
        if to_ms - from_ms > MAX_RESULTS_RANGE_MS {
            return Err(FieldError::new(
                "from",
                format!(
                    "raw results cover at most {} days; use the history for longer ranges",
                    MAX_RESULTS_RANGE_MS / DAY_MS
                ),
            ));
        }
        if limit == 0 || limit > MAX_RESULTS_LIMIT {
            return Err(FieldError::new(
                "limit",
                format!("must be between 1 and {MAX_RESULTS_LIMIT}, not {limit}"),
            ));
        }
        Ok(Self {
            from_ms,
            to_ms,
            region,
            limit,
        })
    }
}

/// One rollup row as a store reads it: one period of one region.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupRow {
    /// Period start, Unix ms.
    pub start_ms: i64,
    /// Region.
    pub region: String,
    /// Checks.
    pub count: u64,
    /// Up (and warning) checks.
    pub up: u64,
    /// Apdex: satisfied checks.
    pub satisfied: u64,
    /// Apdex: tolerating checks.
    pub tolerating: u64,
    /// Apdex: frustrated checks (failed ones included).
    pub frustrated: u64,
    /// Latency of up checks, nearest-rank p50 (ms).
    pub p50: Option<f64>,
    /// p95.
    pub p95: Option<f64>,
    /// p99.
    pub p99: Option<f64>,
    /// Mean.
    pub mean: Option<f64>,
}

/// A history answer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct History {
    /// The endpoint.
    pub endpoint_id: EndpointId,
    /// The region asked for, if any.
    pub region: Option<Region>,
    /// Start of the first step, Unix ms.
    pub from_ms: i64,
    /// End of the last step, exclusive.
    pub to_ms: i64,
    /// The step's label, e.g. `1h`.
    pub step: &'static str,
    /// The step's length.
    pub step_ms: i64,
    /// The rollup the steps were read from.
    pub source: Rollup,
    /// Every step of the range, oldest first.
    pub steps: Vec<Step>,
    /// The whole range.
    pub summary: Summary,
}

/// One step of a history answer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Step {
    /// Start, Unix ms.
    pub start_ms: i64,
    /// Checks.
    pub count: u64,
    /// Up checks (warnings count as up).
    pub up: u64,
    /// up / count; `None` without checks.
    pub uptime: Option<f64>,
    /// (satisfied + tolerating / 2) / count; `None` without checks.
    pub apdex: Option<f64>,
    /// Apdex counts.
    pub satisfied: u64,
    /// Apdex counts.
    pub tolerating: u64,
    /// Apdex counts (failed checks are frustrated).
    pub frustrated: u64,
    /// Latency of up checks (ms): median, exact from one rollup row, else merged (see
    /// the module docs).
    pub p50_ms: Option<f64>,
    /// 95th percentile.
    pub p95_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// Mean (exact).
    pub mean_ms: Option<f64>,
    /// Whether p50/p95/p99 are exact (read from at most one rollup row) rather than
    /// merged from several.
    pub percentiles_exact: bool,
}

/// The whole range of a history answer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// Checks.
    pub count: u64,
    /// Up checks.
    pub up: u64,
    /// up / count.
    pub uptime: Option<f64>,
    /// Apdex over the range.
    pub apdex: Option<f64>,
    /// Apdex counts.
    pub satisfied: u64,
    /// Apdex counts.
    pub tolerating: u64,
    /// Apdex counts.
    pub frustrated: u64,
    /// Latency percentiles over the range (merged from the rollup rows).
    pub p50_ms: Option<f64>,
    /// 95th percentile.
    pub p95_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// Mean latency of up checks (exact).
    pub mean_ms: Option<f64>,
    /// Whether p50/p95/p99 are exact (at most one rollup row in the range).
    pub percentiles_exact: bool,
}

/// One raw result with its timing breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ResultRow {
    /// When the check started, Unix ms.
    pub started_at_ms: i64,
    /// Region.
    pub region: String,
    /// Up or warning.
    pub up: bool,
    /// `up`, `warning` or `down`.
    pub outcome: String,
    /// Why, for warning and down.
    pub reason: Option<String>,
    /// HTTP status, where there was one.
    pub status: Option<u16>,
    /// Short message.
    pub message: String,
    /// Phases (ms): dns, connect, tls, ttfb, total.
    pub timings: Timings,
    /// Body bytes read.
    pub bytes: u64,
    /// Apdex class under the T the check ran with.
    pub apdex: ApdexClass,
    /// The probe run.
    pub run_id: String,
}

/// What went wrong reading history.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// The store is down, slow or missing its tables: try again later (503).
    #[error("history store unavailable: {0}")]
    Unavailable(String),
    /// The store refused the query or answered nonsense: a bug (500).
    #[error("history query failed: {0}")]
    Query(String),
}

/// Reads history. Every method filters by org and endpoint.
pub trait HistoryStore: Send + Sync + std::fmt::Debug {
    /// Per-step rollups and the summary of `q`'s range.
    fn history<'a>(
        &'a self,
        org_id: &'a OrgId,
        endpoint_id: &'a EndpointId,
        q: &'a HistoryQuery,
    ) -> BoxFuture<'a, Result<History, HistoryError>>;

    /// Raw results in `q`'s range, newest first, at most `q.limit`.
    fn results<'a>(
        &'a self,
        org_id: &'a OrgId,
        endpoint_id: &'a EndpointId,
        q: &'a ResultsQuery,
    ) -> BoxFuture<'a, Result<Vec<ResultRow>, HistoryError>>;

    /// Checks and up checks of each UTC day of the `days` days from `from_ms` (moved
    /// back to its day's start), all regions, oldest first, from the hour rollups: what a
    /// status page's daily bars show. At most 400 days. Adapters sum in the store; this
    /// default goes through [`history`](Self::history), which also merges percentiles.
    fn daily_counts<'a>(
        &'a self,
        org_id: &'a OrgId,
        endpoint_id: &'a EndpointId,
        from_ms: i64,
        days: usize,
    ) -> BoxFuture<'a, Result<Vec<DayCount>, HistoryError>> {
        async move {
            let q = day_query(from_ms, days)?;
            let h = self.history(org_id, endpoint_id, &q).await?;
            Ok(h.steps
                .iter()
                .map(|s| DayCount {
                    count: s.count,
                    up: s.up,
                })
                .collect())
        }
        .boxed()
    }

    /// [`history`](Self::history) of many endpoints of one org over one query (the
    /// dashboard's sparklines): one answer per endpoint asked, in the order asked, each
    /// exactly what `history` answers for it. Adapters read in one round trip; this
    /// default asks one by one, [`LATEST_AT_ONCE`] at a time.
    fn history_many<'a>(
        &'a self,
        org_id: &'a OrgId,
        endpoints: &'a [EndpointId],
        q: &'a HistoryQuery,
    ) -> BoxFuture<'a, Result<Vec<History>, HistoryError>> {
        use futures::StreamExt;
        async move {
            let reads: Vec<BoxFuture<'a, Result<History, HistoryError>>> = endpoints
                .iter()
                .map(|endpoint| self.history(org_id, endpoint, q))
                .collect();
            futures::stream::iter(reads)
                .buffered(LATEST_AT_ONCE)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect()
        }
        .boxed()
    }

    /// The latest result of each region started at or after `since_ms`, by region.
    fn latest<'a>(
        &'a self,
        org_id: &'a OrgId,
        endpoint_id: &'a EndpointId,
        since_ms: i64,
    ) -> BoxFuture<'a, Result<Vec<ResultRow>, HistoryError>>;

    /// [`latest`](Self::latest) for many endpoints of one org at once (the live dashboard
    /// asks for every endpoint every second): one answer per `(endpoint, since_ms)` asked,
    /// in the order asked. Adapters answer in one round trip; this default asks one by
    /// one, [`LATEST_AT_ONCE`] at a time.
    fn latest_many<'a>(
        &'a self,
        org_id: &'a OrgId,
        asks: &'a [(EndpointId, i64)],
    ) -> BoxFuture<'a, Result<Vec<Vec<ResultRow>>, HistoryError>> {
        use futures::StreamExt;
        async move {
            let reads: Vec<BoxFuture<'a, Result<Vec<ResultRow>, HistoryError>>> = asks
                .iter()
                .map(|(endpoint, since)| self.latest(org_id, endpoint, *since))
                .collect();
            futures::stream::iter(reads)
                .buffered(LATEST_AT_ONCE)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect()
        }
        .boxed()
    }
}

/// How many [`HistoryStore::latest`] reads the default
/// [`HistoryStore::latest_many`] keeps in flight.
pub const LATEST_AT_ONCE: usize = 8;

/// Checks and up checks of one UTC day, all regions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCount {
    /// Checks.
    pub count: u64,
    /// Up (and warning) checks.
    pub up: u64,
}

impl DayCount {
    /// up / count; `None` without checks.
    pub fn uptime(&self) -> Option<f64> {
        (self.count > 0).then(|| self.up as f64 / self.count as f64)
    }
}

/// The history query of [`HistoryStore::daily_counts`]: whole UTC days, step `1d`.
pub(crate) fn day_query(from_ms: i64, days: usize) -> Result<HistoryQuery, HistoryError> {
    let from = from_ms.div_euclid(DAY_MS) * DAY_MS;
    let days = i64::try_from(days.clamp(1, (MAX_RANGE_MS / DAY_MS) as usize)).unwrap_or(1);
    HistoryQuery::new(from, from + days * DAY_MS, Some(StepSize::DAY), None)
        .map_err(|e| HistoryError::Query(e.to_string()))
}

/// Sums `(period start, count, up)` rows into the days of `q` (a [`day_query`]).
pub(crate) fn sum_days(
    q: &HistoryQuery,
    rows: impl IntoIterator<Item = (i64, u64, u64)>,
) -> Vec<DayCount> {
    let mut days = vec![DayCount::default(); q.step_count()];
    for (start_ms, count, up) in rows {
        if start_ms < q.from_ms || start_ms >= q.to_ms {
            continue;
        }
        if let Some(d) = days.get_mut(((start_ms - q.from_ms) / DAY_MS) as usize) {
            d.count += count;
            d.up += up;
        }
    }
    days
}

/// An endpoint's state as its latest results per region show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointStatus {
    /// Every region's latest result is up (or a warning).
    Up,
    /// Some regions' latest results are down, not all.
    Degraded,
    /// Every region's latest result is down.
    Down,
    /// No recent result.
    Unknown,
}

impl EndpointStatus {
    /// From the latest result of each region (as [`HistoryStore::latest`] answers).
    pub fn from_latest(latest: &[ResultRow]) -> Self {
        let up = latest.iter().filter(|r| r.up).count();
        match (latest.len(), up) {
            (0, _) => EndpointStatus::Unknown,
            (n, u) if u == n => EndpointStatus::Up,
            (_, 0) => EndpointStatus::Down,
            _ => EndpointStatus::Degraded,
        }
    }

    /// `up`, `degraded`, `down` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointStatus::Up => "up",
            EndpointStatus::Degraded => "degraded",
            EndpointStatus::Down => "down",
            EndpointStatus::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const NOW: i64 = 1_767_225_600_000 + 37 * MINUTE_MS; // 2026-01-01T00:37Z

    #[test]
    fn times_are_ms_or_rfc3339() {
        assert_eq!(
            parse_time("from", "1767225600000").unwrap(),
            1_767_225_600_000
        );
        assert_eq!(
            parse_time("from", "2026-01-01T00:00:00Z").unwrap(),
            1_767_225_600_000
        );
        assert_eq!(
            parse_time("from", "2026-01-01T02:00:00.5 02:00").unwrap(),
            1_767_225_600_500,
            "a '+' decoded as a space"
        );
        let e = parse_time("from", "1767225600").unwrap_err();
        assert_eq!(e.path, "from");
        assert!(e.message.contains("seconds"), "{e}");
        assert_eq!(parse_time("to", "yesterday").unwrap_err().path, "to");
        assert_eq!(format_time(1_767_225_600_000), "2026-01-01T00:00:00Z");
        assert_eq!(format_time(1_767_225_600_250), "2026-01-01T00:00:00.250Z");
    }

    #[test]
    fn defaults_and_widening() {
        let q = HistoryQuery::parse(&params(&[]), NOW).unwrap();
        assert_eq!(q.step.label(), "5m", "24 h in at most 500 steps");
        assert_eq!(q.to_ms, 1_767_225_600_000 + 40 * MINUTE_MS);
        assert_eq!(q.from_ms, 1_767_225_600_000 + 35 * MINUTE_MS - DAY_MS);
        assert_eq!(q.rollup(), Rollup::Minute);
        let q = HistoryQuery::parse(
            &params(&[
                ("from", "2026-01-01T00:10:00Z"),
                ("to", "2026-01-01T02:00:01Z"),
                ("step", "1h"),
            ]),
            NOW,
        )
        .unwrap();
        assert_eq!(
            (q.from_ms, q.to_ms),
            (1_767_225_600_000, 1_767_225_600_000 + 3 * HOUR_MS)
        );
        assert_eq!(q.step_count(), 3);
        assert_eq!(q.rollup(), Rollup::Hour);
        let q = HistoryQuery::parse(
            &params(&[
                ("from", "2025-01-01T00:00:00Z"),
                ("to", "2026-01-01T00:00:00Z"),
            ]),
            NOW,
        )
        .unwrap();
        assert_eq!(q.step.label(), "1d");
    }

    #[test]
    fn errors_name_the_field() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case<'_>] = &[
            (&[("step", "7m")], "step", "not a step"),
            (
                &[("step", "1m"), ("from", "2025-12-20T00:00:00Z")],
                "step",
                "steps",
            ),
            (
                &[("step", "15m"), ("from", "2025-12-20T00:00:00Z")],
                "step",
                "7 days",
            ),
            (&[("from", "2026-01-02T00:00:00Z")], "to", "after"),
            (&[("from", "2024-01-01T00:00:00Z")], "from", "400 days"),
            (&[("region", "EU West")], "region", "region"),
            (&[("to", "soon")], "to", "RFC 3339"),
        ];
        for (p, field, words) in cases {
            let e = HistoryQuery::parse(&params(p), NOW).unwrap_err();
            assert_eq!(e.path, *field, "{p:?}: {e}");
            assert!(e.message.contains(words), "{p:?}: {e}");
        }
        let e = ResultsQuery::parse(&params(&[("limit", "5000")]), NOW).unwrap_err();
        assert_eq!(e.path, "limit");
        let e = ResultsQuery::parse(&params(&[("limit", "-1")]), NOW).unwrap_err();
        assert_eq!(e.path, "limit");
        let e = ResultsQuery::parse(&params(&[("from", "2025-01-01T00:00:00Z")]), NOW).unwrap_err();
        assert_eq!(e.path, "from");
        let q = ResultsQuery::parse(&params(&[("region", "eu-west-1")]), NOW).unwrap();
        assert_eq!((q.from_ms, q.to_ms, q.limit), (NOW - HOUR_MS, NOW, 100));
    }

    #[test]
    fn status_from_latest_results() {
        let row = |up| ResultRow {
            started_at_ms: NOW,
            region: "r".into(),
            up,
            outcome: if up { "up" } else { "down" }.into(),
            reason: None,
            status: None,
            message: String::new(),
            timings: Timings::default(),
            bytes: 0,
            apdex: ApdexClass::Satisfied,
            run_id: "x".into(),
        };
        assert_eq!(EndpointStatus::from_latest(&[]), EndpointStatus::Unknown);
        assert_eq!(
            EndpointStatus::from_latest(&[row(true), row(true)]),
            EndpointStatus::Up
        );
        assert_eq!(
            EndpointStatus::from_latest(&[row(true), row(false)]),
            EndpointStatus::Degraded
        );
        assert_eq!(
            EndpointStatus::from_latest(&[row(false)]),
            EndpointStatus::Down
        );
    }
}
