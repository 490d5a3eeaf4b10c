//! History numbers checked against points written by the receiver's own writers (to a
//! real InfluxDB and to SQLite) and rolled up by the receiver's own rollups, with every
//! expected figure computed here from the generated results alone.

#![allow(clippy::unwrap_used)]

mod support_history;

use std::collections::HashMap;

use axum::response::IntoResponse;
use scoville_admin_api::history::api::{self, BadgeKind, HistoryApiError};
use scoville_admin_api::history::influx::{InfluxHistory, InfluxHistorySettings};
use scoville_admin_api::history::render::{self, HISTORY_CSV_HEADER, RESULTS_CSV_HEADER};
use scoville_admin_api::history::sqlite::SqliteHistory;
use scoville_admin_api::history::{
    EndpointStatus, History, HistoryError, HistoryQuery, HistoryStore, ResultRow, ResultsQuery,
    Rollup, StepSize,
};
use scoville_core::{ApdexClass, CheckResult, EndpointId, OrgId, Region};
use scoville_receiver_service::store::ResultStore;
use scoville_receiver_service::store::influx::{InfluxAuth, InfluxSettings, InfluxStore};
use scoville_receiver_service::store::sqlite::SqliteStore;
use support_history::*;

fn org() -> OrgId {
    OrgId::parse(ORG).unwrap()
}

fn endpoint() -> EndpointId {
    EndpointId::parse(ENDPOINT).unwrap()
}

fn query(from: i64, to: i64, step: &str, region: Option<&str>) -> HistoryQuery {
    HistoryQuery::new(
        from,
        to,
        Some(StepSize::parse(step).unwrap()),
        region.map(|r| Region::parse(r).unwrap()),
    )
    .unwrap()
}

fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn close(a: Option<f64>, b: Option<f64>, eps: f64) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= eps,
        (None, None) => true,
        _ => false,
    }
}

/// Writes the results with the receiver's writer in batches and rolls them up.
async fn fill(store: &dyn ResultStore, results: &[CheckResult]) {
    for chunk in results.chunks(1_000) {
        store.write(chunk).await.unwrap();
    }
    let end = T0 + HOURS * HOUR;
    store.rollup_minutes(T0, end).await.unwrap();
    store.rollup_hours(T0, end).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influx_history_matches_the_points_written() {
    let server = InfluxServer::start();
    let results = generate();
    let writer = InfluxStore::new(InfluxSettings {
        url: server.url(),
        database: "scoville".into(),
        retention_policy: None,
        auth: InfluxAuth::None,
        timeout: std::time::Duration::from_secs(10),
    })
    .unwrap();
    writer.ensure_database().await.unwrap();
    fill(&writer, &results).await;
    let reader = InfluxHistory::new(InfluxHistorySettings::new(server.url(), "scoville")).unwrap();
    check_everything(&reader, &results, true).await;

    // A database that does not exist (yet) has no history, rather than an error.
    let empty = InfluxHistory::new(InfluxHistorySettings::new(server.url(), "nothing")).unwrap();
    let h = empty
        .history(&org(), &endpoint(), &query(T0, T0 + HOUR, "1h", None))
        .await
        .unwrap();
    assert_eq!(h.summary.count, 0);
    // An InfluxDB that is not there is "unavailable" (503), quickly.
    drop(server);
    let mut settings =
        InfluxHistorySettings::new(format!("http://127.0.0.1:{}", free_port()), "scoville");
    settings.timeout = std::time::Duration::from_secs(2);
    let gone = InfluxHistory::new(settings).unwrap();
    let e = gone
        .history(&org(), &endpoint(), &query(T0, T0 + HOUR, "1h", None))
        .await
        .unwrap_err();
    assert!(matches!(e, HistoryError::Unavailable(_)), "{e:?}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_history_matches_the_points_written() {
    let dir = TempDir::new("history-sqlite");
    let path = dir.0.join("scoville.db");
    let results = generate();
    let writer = SqliteStore::open(&path).unwrap();
    fill(&writer, &results).await;
    let reader = SqliteHistory::open(&path).unwrap();
    check_everything(&reader, &results, false).await;

    // A file without the receiver's tables answers "unavailable", not "no history".
    let bare = dir.0.join("bare.db");
    drop(rusqlite::Connection::open(&bare).unwrap());
    let e = SqliteHistory::open(&bare)
        .unwrap()
        .history(&org(), &endpoint(), &query(T0, T0 + HOUR, "1h", None))
        .await
        .unwrap_err();
    assert!(matches!(e, HistoryError::Unavailable(_)), "{e:?}");
    assert!(SqliteHistory::open(dir.0.join("missing/none.db")).is_err());
}

/// Every check, on one store. `newline_as_space`: InfluxDB's line protocol cannot carry
/// a line break in a string field, so the receiver's writer stores a space.
async fn check_everything(
    store: &dyn HistoryStore,
    results: &[CheckResult],
    newline_as_space: bool,
) {
    region_hours_are_exact(store, results).await;
    all_regions_merge_within_bounds(store, results).await;
    minutes_are_exact_and_steps_add_up(store, results).await;
    gaps_and_empty_steps(store, results).await;
    orgs_are_isolated(store).await;
    raw_results_and_latest(store, results, newline_as_space).await;
    rendered_answers(store, results, newline_as_space).await;
    badges(store, results).await;
}

/// How far merged p50 and p95 may be from the pooled truth on this (log-normal, 2 %
/// outliers) data; p99 is only checked against the parts' bounds.
const MERGE_TOLERANCE: [Option<f64>; 3] = [Some(0.10), Some(0.25), None];

/// One region, 1 h steps: each step is one hour rollup row, so every figure is exact.
async fn region_hours_are_exact(store: &dyn HistoryStore, results: &[CheckResult]) {
    for (region, _) in REGIONS {
        let q = query(T0, T0 + HOURS * HOUR, "1h", Some(region));
        let h = store.history(&org(), &endpoint(), &q).await.unwrap();
        assert_eq!(h.source, Rollup::Hour);
        assert_eq!(h.steps.len(), HOURS as usize);
        for (i, s) in h.steps.iter().enumerate() {
            let start = T0 + i as i64 * HOUR;
            assert_eq!(s.start_ms, start);
            let t = Truth::of(results, Some(region), start, start + HOUR);
            assert_eq!(
                (s.count, s.up, s.satisfied, s.tolerating, s.frustrated),
                (t.count, t.up, t.satisfied, t.tolerating, t.frustrated),
                "{region} hour {i}"
            );
            assert!(t.count > 0);
            assert!(close(s.uptime, t.uptime(), 1e-12), "{region} {i}");
            assert!(close(s.apdex, t.apdex(), 1e-12), "{region} {i}");
            assert_eq!(s.p50_ms, t.percentile(50.0), "{region} {i} p50");
            assert_eq!(s.p95_ms, t.percentile(95.0), "{region} {i} p95");
            assert_eq!(s.p99_ms, t.percentile(99.0), "{region} {i} p99");
            assert!(s.percentiles_exact);
            assert!(close(s.mean_ms, t.mean(), 1e-3), "{region} {i} mean");
        }
        // The summary: counts and mean exact; percentiles merged from the hours, within
        // the hours' own range and near the truth.
        let t = Truth::of(results, Some(region), T0, T0 + HOURS * HOUR);
        assert!(
            t.up < t.count && t.tolerating > 0,
            "the data has failures and slow checks"
        );
        let sm = &h.summary;
        assert_eq!(
            (sm.count, sm.up, sm.satisfied, sm.tolerating, sm.frustrated),
            (t.count, t.up, t.satisfied, t.tolerating, t.frustrated)
        );
        assert!(close(sm.uptime, t.uptime(), 1e-12));
        assert!(close(sm.apdex, t.apdex(), 1e-12));
        assert!(close(sm.mean_ms, t.mean(), 1e-3));
        let hours: Vec<Truth> = (0..HOURS)
            .map(|i| Truth::of(results, Some(region), T0 + i * HOUR, T0 + (i + 1) * HOUR))
            .collect();
        // p99 of hours of 60 checks is one check's latency; it is only bounded.
        check_merged(
            &format!("{region} summary"),
            [sm.p50_ms, sm.p95_ms, sm.p99_ms],
            &t,
            &hours,
            MERGE_TOLERANCE,
        );
        assert!(!sm.percentiles_exact);
    }
}

/// A merged percentile lies within the parts' own values and, where a tolerance is
/// given, within that fraction of the truth.
fn check_merged(
    what: &str,
    got: [Option<f64>; 3],
    truth: &Truth,
    parts: &[Truth],
    rel: [Option<f64>; 3],
) {
    for (i, p) in [50.0, 95.0, 99.0].into_iter().enumerate() {
        let got = got[i].unwrap_or_else(|| panic!("{what}: no p{p}"));
        let values: Vec<f64> = parts.iter().filter_map(|t| t.percentile(p)).collect();
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert!(
            got >= lo - 1e-3 && got <= hi + 1e-3,
            "{what} p{p}: {got} outside the parts' [{lo}, {hi}]"
        );
        let exact = truth.percentile(p).unwrap();
        let err = (got - exact).abs() / exact;
        let Some(rel) = rel[i] else { continue };
        assert!(
            err <= rel,
            "{what} p{p}: {got} vs exact {exact}: {:.1} % off",
            err * 100.0
        );
    }
}

/// All regions, 1 h steps: counts and means exact; percentiles merged across regions.
async fn all_regions_merge_within_bounds(store: &dyn HistoryStore, results: &[CheckResult]) {
    let q = query(T0, T0 + HOURS * HOUR, "1h", None);
    let h = store.history(&org(), &endpoint(), &q).await.unwrap();
    assert_eq!(h.region, None);
    for (i, s) in h.steps.iter().enumerate() {
        let start = T0 + i as i64 * HOUR;
        let t = Truth::of(results, None, start, start + HOUR);
        assert_eq!(
            (s.count, s.up, s.satisfied, s.tolerating, s.frustrated),
            (t.count, t.up, t.satisfied, t.tolerating, t.frustrated)
        );
        assert!(close(s.uptime, t.uptime(), 1e-12));
        assert!(close(s.apdex, t.apdex(), 1e-12));
        assert!(
            close(s.mean_ms, t.mean(), 1e-3),
            "{:?} vs {:?}",
            s.mean_ms,
            t.mean()
        );
        let parts: Vec<Truth> = REGIONS
            .iter()
            .map(|(r, _)| Truth::of(results, Some(r), start, start + HOUR))
            .collect();
        // Three regions with medians of 40, 90 and 220 ms pooled.
        check_merged(
            &format!("all regions hour {i}"),
            [s.p50_ms, s.p95_ms, s.p99_ms],
            &t,
            &parts,
            MERGE_TOLERANCE,
        );
        assert!(!s.percentiles_exact);
    }
    let t = Truth::of(results, None, T0, T0 + HOURS * HOUR);
    let sm = &h.summary;
    assert_eq!((sm.count, sm.up), (t.count, t.up));
    assert!(close(sm.apdex, t.apdex(), 1e-12));
    assert!(close(sm.mean_ms, t.mean(), 1e-3));
    let parts: Vec<Truth> = (0..HOURS)
        .flat_map(|i| REGIONS.iter().map(move |(r, _)| (i, *r)))
        .map(|(i, r)| Truth::of(results, Some(r), T0 + i * HOUR, T0 + (i + 1) * HOUR))
        .collect();
    check_merged(
        "all regions summary",
        [sm.p50_ms, sm.p95_ms, sm.p99_ms],
        &t,
        &parts,
        MERGE_TOLERANCE,
    );
    // A 2 h step: the sum of two hours.
    let h2 = store
        .history(
            &org(),
            &endpoint(),
            &query(T0, T0 + HOURS * HOUR, "2h", None),
        )
        .await
        .unwrap();
    assert_eq!(h2.steps.len(), (HOURS / 2) as usize);
    assert_eq!(h2.steps[1].count, h.steps[2].count + h.steps[3].count);
    assert_eq!(h2.summary.count, h.summary.count);
    assert_eq!(h2.summary.mean_ms, h.summary.mean_ms);
}

/// 1 m steps are exact (one minute rollup each); 15 m steps add 15 of them up.
async fn minutes_are_exact_and_steps_add_up(store: &dyn HistoryStore, results: &[CheckResult]) {
    let region = "eu-west-1";
    let from = T0 + 2 * HOUR;
    let h = store
        .history(
            &org(),
            &endpoint(),
            &query(from, from + HOUR, "1m", Some(region)),
        )
        .await
        .unwrap();
    assert_eq!(h.source, Rollup::Minute);
    assert_eq!(h.steps.len(), 60);
    for (i, s) in h.steps.iter().enumerate() {
        let start = from + i as i64 * MINUTE;
        let t = Truth::of(results, Some(region), start, start + MINUTE);
        assert_eq!(
            (s.count, s.up, s.frustrated),
            (t.count, t.up, t.frustrated),
            "minute {i}"
        );
        assert_eq!(s.p95_ms, t.percentile(95.0), "minute {i}");
        assert!(close(s.mean_ms, t.mean(), 1e-3));
    }
    let h15 = store
        .history(
            &org(),
            &endpoint(),
            &query(from, from + HOUR, "15m", Some(region)),
        )
        .await
        .unwrap();
    assert_eq!(h15.steps.len(), 4);
    for (i, s) in h15.steps.iter().enumerate() {
        let start = from + i as i64 * 15 * MINUTE;
        let t = Truth::of(results, Some(region), start, start + 15 * MINUTE);
        assert_eq!(
            (s.count, s.up, s.satisfied, s.tolerating),
            (t.count, t.up, t.satisfied, t.tolerating)
        );
        assert!(close(s.mean_ms, t.mean(), 1e-3));
        let minutes: Vec<Truth> = (0..15)
            .map(|m| {
                Truth::of(
                    results,
                    Some(region),
                    start + m * MINUTE,
                    start + (m + 1) * MINUTE,
                )
            })
            .collect();
        // 15 single-check minutes merge to exactly InfluxDB's nearest rank.
        check_merged(
            &format!("15m step {i}"),
            [s.p50_ms, s.p95_ms, s.p99_ms],
            &t,
            &minutes,
            [Some(0.0); 3],
        );
    }
    // Steps of 5 minutes over the same hour add up to the hour.
    let h5 = store
        .history(
            &org(),
            &endpoint(),
            &query(from, from + HOUR, "5m", Some(region)),
        )
        .await
        .unwrap();
    let total: u64 = h5.steps.iter().map(|s| s.count).sum();
    assert_eq!(
        total,
        Truth::of(results, Some(region), from, from + HOUR).count
    );
}

/// A region's missing minutes show in its counts; steps outside the data are present,
/// empty, without ratios; a partial range is widened to whole steps.
async fn gaps_and_empty_steps(store: &dyn HistoryStore, results: &[CheckResult]) {
    let q = query(T0 + 4 * HOUR, T0 + 5 * HOUR, "1h", Some("us-east-1"));
    let h = store.history(&org(), &endpoint(), &q).await.unwrap();
    assert_eq!(h.steps[0].count, 60 - (GAP.end - GAP.start) as u64);
    let h = store
        .history(
            &org(),
            &endpoint(),
            &query(T0 - 2 * HOUR, T0 + (HOURS + 2) * HOUR, "1h", None),
        )
        .await
        .unwrap();
    assert_eq!(h.steps.len(), (HOURS + 4) as usize);
    for s in h.steps[..2].iter().chain(&h.steps[h.steps.len() - 2..]) {
        assert_eq!(s.count, 0);
        assert_eq!(
            (s.uptime, s.apdex, s.p50_ms, s.mean_ms),
            (None, None, None, None)
        );
    }
    assert_eq!(
        h.summary.count,
        Truth::of(results, None, T0, T0 + HOURS * HOUR).count
    );
    // 00:10 to 02:00:01 at 1 h: 00:00 to 03:00.
    let q = HistoryQuery::parse(
        &params(&[
            ("from", "2026-01-01T00:10:00Z"),
            ("to", "2026-01-01T02:00:01Z"),
            ("step", "1h"),
        ]),
        T0,
    )
    .unwrap();
    let h = store.history(&org(), &endpoint(), &q).await.unwrap();
    assert_eq!((h.from_ms, h.to_ms, h.steps.len()), (T0, T0 + 3 * HOUR, 3));
    assert_eq!(
        h.summary.count,
        Truth::of(results, None, T0, T0 + 3 * HOUR).count
    );
}

/// Another org asking for this endpoint's id, or this org for another org's endpoint,
/// sees nothing.
async fn orgs_are_isolated(store: &dyn HistoryStore) {
    let other = OrgId::parse(OTHER_ORG).unwrap();
    let theirs = EndpointId::parse(OTHER_ORG_ENDPOINT).unwrap();
    let q = query(T0, T0 + HOURS * HOUR, "1h", None);
    let rq = ResultsQuery::new(T0, T0 + HOURS * HOUR, None, 1000).unwrap();
    for (o, e) in [(&other, &endpoint()), (&org(), &theirs)] {
        let h = store.history(o, e, &q).await.unwrap();
        assert_eq!(h.summary.count, 0, "{o} {e}");
        assert!(h.steps.iter().all(|s| s.count == 0));
        assert!(
            store.results(o, e, &rq).await.unwrap().is_empty(),
            "{o} {e}"
        );
        assert!(store.latest(o, e, T0).await.unwrap().is_empty(), "{o} {e}");
    }
    // The other org does see its own endpoint.
    let h = store.history(&other, &theirs, &q).await.unwrap();
    assert!(h.summary.count > 0);
}

fn expected_message(r: &CheckResult, newline_as_space: bool) -> String {
    if newline_as_space {
        r.report.message.replace('\n', " ")
    } else {
        r.report.message.clone()
    }
}

fn assert_row_is(row: &ResultRow, r: &CheckResult, newline_as_space: bool) {
    assert_eq!(row.started_at_ms, r.started_at_ms);
    assert_eq!(row.region, r.region.as_str());
    assert_eq!(row.up, r.report.outcome.is_up());
    assert_eq!(row.outcome, r.report.outcome.kind());
    assert_eq!(row.reason.as_deref(), r.report.outcome.reason());
    assert_eq!(row.status, r.report.status);
    assert_eq!(row.message, expected_message(r, newline_as_space));
    assert_eq!(row.timings, r.report.timings, "{}", r.started_at_ms);
    assert_eq!(row.bytes, r.report.bytes);
    assert_eq!(row.run_id, r.run_id.as_str());
    let t = f64::from(APDEX_T);
    let class = if !row.up || r.report.timings.total_ms > 4.0 * t {
        ApdexClass::Frustrated
    } else if r.report.timings.total_ms > t {
        ApdexClass::Tolerating
    } else {
        ApdexClass::Satisfied
    };
    assert_eq!(row.apdex, class);
}

fn ours(results: &[CheckResult]) -> Vec<&CheckResult> {
    let mut v: Vec<&CheckResult> = results
        .iter()
        .filter(|r| r.org_id.as_str() == ORG && r.endpoint_id.as_str() == ENDPOINT)
        .collect();
    v.sort_by_key(|r| std::cmp::Reverse(r.started_at_ms));
    v
}

/// Raw results: newest first, full timing breakdown, region filter, limit; latest per
/// region.
async fn raw_results_and_latest(store: &dyn HistoryStore, results: &[CheckResult], nl: bool) {
    let ours = ours(results);
    let (from, to) = (T0 + 5 * HOUR, T0 + 6 * HOUR);
    let q = ResultsQuery::new(from, to, Some(Region::parse("eu-west-1").unwrap()), 10).unwrap();
    let rows = store.results(&org(), &endpoint(), &q).await.unwrap();
    let expected: Vec<&&CheckResult> = ours
        .iter()
        .filter(|r| r.region.as_str() == "eu-west-1" && (from..to).contains(&r.started_at_ms))
        .take(10)
        .collect();
    assert_eq!(rows.len(), 10);
    for (row, r) in rows.iter().zip(expected) {
        assert_row_is(row, r, nl);
    }
    let q = ResultsQuery::new(from, to, None, 1000).unwrap();
    let rows = store.results(&org(), &endpoint(), &q).await.unwrap();
    let expected: Vec<&&CheckResult> = ours
        .iter()
        .filter(|r| (from..to).contains(&r.started_at_ms))
        .collect();
    assert_eq!(rows.len(), expected.len());
    assert_eq!(rows.len(), 180);
    for (row, r) in rows.iter().zip(expected) {
        assert_row_is(row, r, nl);
    }
    // Every kind of result is in there: timeouts without phases, warnings, 503s.
    assert!(
        rows.iter()
            .any(|r| r.reason.as_deref() == Some("timeout") && r.timings.dns_ms.is_none())
    );
    assert!(rows.iter().any(|r| r.outcome == "warning" && r.up));
    let q = ResultsQuery::new(from, to, None, 7).unwrap();
    let rows = store.results(&org(), &endpoint(), &q).await.unwrap();
    assert_eq!(rows.len(), 7);
    assert_row_is(&rows[0], ours[0], nl);

    let latest = store.latest(&org(), &endpoint(), T0).await.unwrap();
    assert_eq!(latest.len(), 3);
    for (row, (region, _)) in latest.iter().zip(REGIONS) {
        let last = ours.iter().find(|r| r.region.as_str() == region).unwrap();
        assert_row_is(row, last, nl);
    }
    // Nothing newer than the data: no latest.
    assert!(
        store
            .latest(&org(), &endpoint(), to + 1)
            .await
            .unwrap()
            .is_empty()
    );

    // Many at once: the same answers, in the order asked; each endpoint keeps its own
    // window, and another org's endpoint answers nothing.
    let other_org_endpoint = EndpointId::parse(OTHER_ORG_ENDPOINT).unwrap();
    let asks = [
        (endpoint(), to + 1),
        (other_org_endpoint.clone(), T0),
        (endpoint(), T0),
        (EndpointId::parse("ep-none").unwrap(), T0),
    ];
    let many = store.latest_many(&org(), &asks).await.unwrap();
    assert_eq!(many.len(), asks.len());
    assert!(many[0].is_empty(), "{:?}", many[0]);
    assert!(many[1].is_empty(), "another org's endpoint: {:?}", many[1]);
    assert_eq!(many[2], latest);
    assert!(many[3].is_empty());
    let theirs = store
        .latest_many(
            &OrgId::parse(OTHER_ORG).unwrap(),
            &[(other_org_endpoint, T0)],
        )
        .await
        .unwrap();
    assert_eq!(theirs.len(), 1);
    assert!(!theirs[0].is_empty(), "the other org sees its own");
    assert!(store.latest_many(&org(), &[]).await.unwrap().is_empty());

    // History of many endpoints at once (the dashboard's sparklines): each answer is
    // exactly `history`'s, in the order asked; another org's endpoint and an unknown one
    // answer empty steps (the other org's data is there: it is the org filter).
    for q in [
        query(T0, T0 + HOURS * HOUR, "1h", None),
        query(T0 + HOUR, T0 + 3 * HOUR, "5m", None),
        query(T0, T0 + HOURS * HOUR, "1h", Some(REGIONS[1].0)),
    ] {
        let ids = [
            endpoint(),
            EndpointId::parse(OTHER_ORG_ENDPOINT).unwrap(),
            EndpointId::parse("ep-none").unwrap(),
            endpoint(),
        ];
        let many = store.history_many(&org(), &ids, &q).await.unwrap();
        let one = store.history(&org(), &endpoint(), &q).await.unwrap();
        assert!(one.summary.count > 0, "{q:?}");
        assert_eq!(many.len(), ids.len());
        assert_eq!(many[0], one, "{q:?}");
        assert_eq!(many[3], one, "{q:?}");
        for other in &many[1..3] {
            assert_eq!(other.summary.count, 0, "{q:?}: {other:?}");
            assert_eq!(other.steps.len(), one.steps.len());
        }
        assert_eq!(many[1].endpoint_id.as_str(), OTHER_ORG_ENDPOINT);
    }
    assert!(
        store
            .history_many(&org(), &[], &query(T0, T0 + HOUR, "1h", None))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn body(r: impl IntoResponse) -> (u16, String, String) {
    let resp = r.into_response();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, ct, String::from_utf8(bytes.to_vec()).unwrap())
}

/// JSON and CSV through [`api`], as the routes call it; validation errors as 422.
async fn rendered_answers(store: &dyn HistoryStore, results: &[CheckResult], nl: bool) {
    let now = T0 + HOURS * HOUR;
    let p = params(&[
        ("from", &T0.to_string()),
        ("to", "2026-01-01T06:00:00Z"),
        ("step", "1h"),
    ]);
    let r = api::history(store, &org(), &endpoint(), &p, None, now)
        .await
        .unwrap();
    let (status, ct, text) = body(r).await;
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["endpoint_id"], ENDPOINT);
    assert_eq!(
        (v["from_ms"].as_i64(), v["to_ms"].as_i64()),
        (Some(T0), Some(now))
    );
    assert_eq!(
        (v["step"].as_str(), v["step_ms"].as_i64()),
        (Some("1h"), Some(HOUR))
    );
    assert_eq!(v["source"], "rollup_1h");
    assert_eq!(v["region"], serde_json::Value::Null);
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), HOURS as usize);
    let mut keys: Vec<&str> = steps[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "apdex",
            "count",
            "frustrated",
            "mean_ms",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "percentiles_exact",
            "satisfied",
            "start_ms",
            "tolerating",
            "up",
            "uptime"
        ]
    );
    let t = Truth::of(results, None, T0, now);
    assert_eq!(v["summary"]["count"].as_u64(), Some(t.count));
    assert_eq!(v["summary"]["up"].as_u64(), Some(t.up));
    let h: History = store
        .history(&org(), &endpoint(), &query(T0, now, "1h", None))
        .await
        .unwrap();
    assert_eq!(v["steps"][3]["p95_ms"].as_f64(), h.steps[3].p95_ms);

    // CSV by Accept, and by format= over Accept.
    for (p, accept) in [
        (p.clone(), Some("text/csv")),
        (
            {
                let mut p = p.clone();
                p.insert("format".into(), "csv".into());
                p
            },
            Some("application/json"),
        ),
    ] {
        let r = api::history(store, &org(), &endpoint(), &p, accept, now)
            .await
            .unwrap();
        let (status, ct, text) = body(r).await;
        assert_eq!(status, 200);
        assert!(ct.starts_with("text/csv"), "{ct}");
        assert!(text.ends_with("\r\n"));
        let rows = parse_csv(&text);
        assert_eq!(rows[0].join(","), HISTORY_CSV_HEADER);
        assert_eq!(rows.len(), HOURS as usize + 1);
        assert!(rows.iter().all(|r| r.len() == rows[0].len()));
        assert_eq!(rows[1][0], "2026-01-01T00:00:00Z");
        assert_eq!(rows[1][1], T0.to_string());
        let t0 = Truth::of(results, None, T0, T0 + HOUR);
        assert_eq!(rows[1][2], t0.count.to_string());
        assert_eq!(rows[1][3], t0.up.to_string());
        assert_eq!(rows[1][4].parse::<f64>().ok(), t0.uptime());
        assert_eq!(rows[2][10].parse::<f64>().ok(), h.steps[1].p95_ms);
    }
    // An empty step has empty cells.
    let p_empty = params(&[
        ("from", &(T0 - HOUR).to_string()),
        ("to", &T0.to_string()),
        ("step", "1h"),
        ("format", "csv"),
    ]);
    let (_, _, text) = body(
        api::history(store, &org(), &endpoint(), &p_empty, None, now)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(parse_csv(&text)[1][2..6], ["0", "0", "", ""]);

    // Raw results as CSV: quoting survives commas, quotes and line breaks; formula text
    // is defused.
    let rp = params(&[
        ("from", &T0.to_string()),
        ("to", &now.to_string()),
        ("limit", "1000"),
        ("region", "eu-west-1"),
    ]);
    let (status, ct, text) = body(
        api::results(store, &org(), &endpoint(), &rp, Some("text/csv"), now)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/csv"));
    let rows = parse_csv(&text);
    assert_eq!(rows[0].join(","), RESULTS_CSV_HEADER);
    let ours = ours(results);
    let eu: Vec<&&CheckResult> = ours
        .iter()
        .filter(|r| r.region.as_str() == "eu-west-1")
        .collect();
    assert_eq!(rows.len(), eu.len() + 1);
    for (row, r) in rows[1..].iter().zip(&eu) {
        assert_eq!(row[1], r.started_at_ms.to_string());
        let msg = expected_message(r, nl);
        let msg = if msg.starts_with('=') {
            format!("'{msg}")
        } else {
            msg
        };
        assert_eq!(row[6], msg);
        assert_eq!(row[7].parse::<f64>().unwrap(), r.report.timings.total_ms);
    }
    assert!(
        rows.iter()
            .any(|r| r[6].contains("\"deadline\"") && r[6].contains(", "))
    );
    let (_, ct, text) = body(
        api::results(store, &org(), &endpoint(), &rp, None, now)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ct, "application/json");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let first = &v["results"][0];
    assert_eq!(first["started_at_ms"].as_i64(), Some(eu[0].started_at_ms));
    assert!(first["timings"]["total_ms"].is_f64());
    assert!(first["apdex"].is_string());

    // Validation errors name the field, as 422.
    for (bad, field) in [
        (params(&[("step", "7m")]), "step"),
        (params(&[("from", "tomorrow")]), "from"),
        (params(&[("region", "Mars!")]), "region"),
        (params(&[("format", "xml")]), "format"),
    ] {
        let e = api::history(store, &org(), &endpoint(), &bad, None, now)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, HistoryApiError::Invalid(f) if f.path == field),
            "{e:?}"
        );
        let (status, _, text) = body(e).await;
        assert_eq!(status, 422);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["field"], field);
    }
    let e = api::results(
        store,
        &org(),
        &endpoint(),
        &params(&[("limit", "0")]),
        None,
        now,
    )
    .await
    .unwrap_err();
    assert_eq!(body(e).await.0, 422);
}

/// Badges show the right numbers.
async fn badges(store: &dyn HistoryStore, results: &[CheckResult]) {
    let now = T0 + HOURS * HOUR;
    let t = Truth::of(results, None, T0, now);
    let p = params(&[("window", "24h")]);
    let (status, ct, svg) = body(
        api::window_badge(store, &org(), &endpoint(), BadgeKind::Uptime, &p, now)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("image/svg+xml"));
    let uptime = render::format_uptime(t.uptime());
    assert!(uptime.ends_with('%') && uptime != "100%", "{uptime}");
    assert!(
        svg.contains(&format!(">{uptime}</text>")),
        "{uptime}: {svg}"
    );
    assert!(svg.contains(">uptime 24h</text>"));
    let (_, _, svg) = body(
        api::window_badge(store, &org(), &endpoint(), BadgeKind::ResponseTime, &p, now)
            .await
            .unwrap(),
    )
    .await;
    let latency = render::format_latency(t.mean());
    assert!(
        svg.contains(&format!(">{latency}</text>")),
        "{latency}: {svg}"
    );
    // The default window (30 days) holds the same data.
    let (_, _, svg) = body(
        api::window_badge(
            store,
            &org(),
            &endpoint(),
            BadgeKind::Uptime,
            &params(&[]),
            now,
        )
        .await
        .unwrap(),
    )
    .await;
    assert!(svg.contains(&format!(">{uptime}</text>")) && svg.contains(">uptime 30d</text>"));
    assert!(matches!(
        api::window_badge(store, &org(), &endpoint(), BadgeKind::Uptime, &params(&[("window", "1y")]), now).await,
        Err(HistoryApiError::Invalid(f)) if f.path == "window"
    ));

    // Status: from each region's last result.
    let ours = ours(results);
    let last: Vec<bool> = REGIONS
        .iter()
        .map(|(r, _)| {
            ours.iter()
                .find(|c| c.region.as_str() == *r)
                .unwrap()
                .report
                .outcome
                .is_up()
        })
        .collect();
    let expected = match last.iter().filter(|u| **u).count() {
        3 => EndpointStatus::Up,
        0 => EndpointStatus::Down,
        _ => EndpointStatus::Degraded,
    };
    let (_, _, svg) = body(
        api::status_badge(store, &org(), &endpoint(), now - 10 * MINUTE)
            .await
            .unwrap(),
    )
    .await;
    assert!(
        svg.contains(&format!(">{}</text>", expected.as_str())),
        "{svg}"
    );
    // Nothing recent: unknown; another org: unknown.
    let (_, _, svg) = body(
        api::status_badge(store, &org(), &endpoint(), now + HOUR)
            .await
            .unwrap(),
    )
    .await;
    assert!(svg.contains(">unknown</text>"));
    let other = OrgId::parse(OTHER_ORG).unwrap();
    let (_, _, svg) = body(
        api::status_badge(store, &other, &endpoint(), T0)
            .await
            .unwrap(),
    )
    .await;
    assert!(svg.contains(">unknown</text>"));
}
