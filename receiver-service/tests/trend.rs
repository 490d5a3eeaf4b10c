//! Trend analysis in the worker: the embedded pipeline (in-process queue, worker,
//! SQLite) raises one report per degradation episode and the sender posts it to a
//! recording failure service until it is accepted; refusals are set aside; the Redis
//! state commits atomically and never goes back in time; InfluxDB's checks read back.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use scoville_receiver_service::queue::memory::MemoryQueue;
use scoville_receiver_service::queue::{QueuedBatch, ResultQueue};
use scoville_receiver_service::store::ResultStore;
use scoville_receiver_service::store::sqlite::SqliteStore;
use scoville_receiver_service::trend::redis_state::RedisTrendState;
use scoville_receiver_service::trend::sender::{DegradationSender, Flush, SenderSettings};
use scoville_receiver_service::trend::{MemoryTrendState, Settings, TrendAnalyzer, TrendState};
use scoville_receiver_service::worker::{Worker, WorkerSettings};

const MINUTE: i64 = 60_000;
const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "ap-south-1"];

/// An answer: status and `Retry-After` seconds.
type Answer = (u16, Option<u64>);
/// A request seen: its `Authorization` header and body.
type Seen = (Option<String>, serde_json::Value);

/// A failure service that records `POST /v1/degradations` and answers from a script.
#[derive(Clone, Default)]
struct FailureService {
    answers: Arc<Mutex<Vec<Answer>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FailureService {
    async fn start(answers: Vec<Answer>) -> (Self, reqwest::Url) {
        let me = Self {
            answers: Arc::new(Mutex::new(answers)),
            ..Self::default()
        };
        let state = me.clone();
        let app = axum::Router::new().route(
            "/v1/degradations",
            axum::routing::post(
                move |headers: HeaderMap, body: axum::Json<serde_json::Value>| {
                    let state = state.clone();
                    async move {
                        let auth = headers
                            .get("authorization")
                            .map(|v| v.to_str().unwrap().to_string());
                        state.seen.lock().unwrap().push((auth, body.0));
                        let mut answers = state.answers.lock().unwrap();
                        let (status, retry) = if answers.is_empty() {
                            (202, None)
                        } else {
                            answers.remove(0)
                        };
                        let mut h = HeaderMap::new();
                        if let Some(s) = retry {
                            h.insert("retry-after", s.to_string().parse().unwrap());
                        }
                        (StatusCode::from_u16(status).unwrap(), h, "{}").into_response()
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (me, url.parse().unwrap())
    }

    fn reports(&self) -> Vec<serde_json::Value> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, b)| b["degradations"].as_array().unwrap().clone())
            .collect()
    }
}

fn sender(state: Arc<dyn TrendState>, url: reqwest::Url) -> DegradationSender {
    DegradationSender::new(
        state,
        SenderSettings {
            failure_url: url,
            token: "service-token".into(),
            timeout: Duration::from_secs(5),
            batch: 100,
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
            idle: Duration::from_millis(10),
        },
    )
    .unwrap()
}

/// One region's result for endpoint `ep` at `at_ms` taking `total_ms` (T = 100 ms, mean
/// limit 120 ms).
fn result(ep: &str, region: &str, at_ms: i64, total_ms: f64) -> serde_json::Value {
    serde_json::json!({
        "endpoint_id": ep, "org_id": "org-1", "region": region, "run_id": "r1",
        "scheduled_at_ms": at_ms, "started_at_ms": at_ms, "apdex_t_ms": 100, "mean_limit_ms": 120,
        "outcome": "up", "status": 200,
        "timings": {"connect_ms": 0.2, "ttfb_ms": total_ms / 2.0, "total_ms": total_ms},
        "bytes": 2
    })
}

/// A steady latency around 50 ms that wobbles between 30 and 80 ms.
fn wobble(m: i64, r: usize) -> f64 {
    50.0 * (1.0 + 0.6 * (((m * 7919 + r as i64 * 104_729) % 17) - 8) as f64 / 8.0).max(0.6)
}

async fn push_minutes(q: &MemoryQueue, t0: i64, minutes: std::ops::Range<i64>, slow_from: i64) {
    for m in minutes {
        let at = t0 + m * MINUTE;
        let factor = if m >= slow_from { 2.6 } else { 1.0 };
        let results: Vec<_> = REGIONS
            .iter()
            .enumerate()
            .map(|(r, region)| result("ep-1", region, at + r as i64 * 1000, factor * wobble(m, r)))
            .collect();
        let body = serde_json::json!({ "results": results }).to_string();
        q.push(QueuedBatch {
            count: 3,
            body: body.into(),
        })
        .await
        .unwrap();
    }
}

async fn drain(worker: &Worker, q: &MemoryQueue) {
    while q.backlog().await.unwrap() > 0 {
        worker.step().await;
    }
    worker.rollup_pass(true).await;
}

#[tokio::test]
async fn the_embedded_pipeline_reports_each_degradation_once_and_the_sender_retries_until_accepted()
{
    let queue = Arc::new(MemoryQueue::new(100_000));
    let store = SqliteStore::open(std::path::Path::new(":memory:")).unwrap();
    let state = Arc::new(MemoryTrendState::default());
    let mut settings = Settings::default();
    settings.pooled.warmup_minutes = 120;
    settings.per_region.warmup_minutes = 120;
    let analyzer = Arc::new(TrendAnalyzer::new(state.clone(), settings));
    let worker = Worker::new(
        queue.clone(),
        Arc::new(store.clone()),
        WorkerSettings {
            block: Duration::from_millis(5),
            ..WorkerSettings::default()
        },
    )
    .with_trend(analyzer);
    let t0 = 1_790_000_000_000i64 / MINUTE * MINUTE;
    let slow_from = 300;

    // Five steady hours: nothing to report.
    push_minutes(&queue, t0, 0..slow_from, slow_from).await;
    drain(&worker, &queue).await;
    assert!(state.outbox(100).await.unwrap().is_empty());

    // Then 2.6 times slower for 40 minutes, delivered in two parts.
    push_minutes(&queue, t0, slow_from..slow_from + 20, slow_from).await;
    drain(&worker, &queue).await;
    push_minutes(&queue, t0, slow_from + 20..slow_from + 40, slow_from).await;
    drain(&worker, &queue).await;
    let raised = state.outbox(100).await.unwrap();

    // A minute delivered again, and analysed again, raises nothing new.
    push_minutes(&queue, t0, slow_from + 10..slow_from + 11, slow_from).await;
    drain(&worker, &queue).await;
    assert_eq!(state.outbox(100).await.unwrap(), raised);

    // The failure service is down, then asks for patience, then accepts.
    let (fs, url) = FailureService::start(vec![(503, None), (429, Some(0))]).await;
    let sender = sender(state.clone(), url);
    assert_eq!(sender.flush_once().await, Flush::RetryAfter(None));
    assert_eq!(
        sender.flush_once().await,
        Flush::RetryAfter(Some(Duration::ZERO))
    );
    assert_eq!(sender.flush_once().await, Flush::Sent(raised.len()));
    assert_eq!(sender.flush_once().await, Flush::Empty);
    let seen = fs.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "three attempts");
    assert!(
        seen.iter()
            .all(|(auth, _)| auth.as_deref() == Some("Bearer service-token"))
    );
    assert_eq!(seen[0].1, seen[2].1, "the same reports, retried");

    let reports: Vec<serde_json::Value> = seen[2].1["degradations"].as_array().unwrap().clone();
    let kind = |r: &serde_json::Value| r["kind"].as_str().unwrap().to_string();
    let pooled: Vec<_> = reports
        .iter()
        .filter(|r| kind(r) == "apdex_trend" && r.get("region").is_none())
        .collect();
    assert_eq!(
        pooled.len(),
        1,
        "one endpoint-wide Apdex report: {reports:#?}"
    );
    let p = pooled[0];
    let drift_at = t0 + slow_from * MINUTE;
    assert!(
        (p["started_at_ms"].as_i64().unwrap() - drift_at).abs() <= 3 * MINUTE,
        "start {p}"
    );
    let delay = p["detected_at_ms"].as_i64().unwrap() - drift_at;
    assert!(
        delay <= 15 * MINUTE,
        "detected after {} min",
        delay / MINUTE
    );
    assert!(
        p["baseline"].as_f64().unwrap() - p["current"].as_f64().unwrap() > 0.2,
        "size {p}"
    );
    let mean: Vec<_> = reports
        .iter()
        .filter(|r| kind(r) == "mean_runtime")
        .collect();
    assert_eq!(mean.len(), 1, "one mean-run-time report: {reports:#?}");
    assert_eq!(mean[0]["limit_ms"], 120.0);
    assert!(mean[0]["mean_ms"].as_f64().unwrap() > 120.0);
    for region in REGIONS {
        let n = reports
            .iter()
            .filter(|r| r["region"].as_str() == Some(region))
            .count();
        assert!(n <= 1, "{region} reported {n} times");
    }
    assert_eq!(fs.reports().len(), 3 * raised.len());
}

#[tokio::test]
async fn a_refused_report_is_set_aside_and_not_retried() {
    let state = Arc::new(MemoryTrendState::default());
    let report: scoville_core::degradation::DegradationReport =
        serde_json::from_value(serde_json::json!({
            "endpoint_id": "ep-9", "org_id": "org-1", "started_at_ms": 60_000, "detected_at_ms": 600_000,
            "kind": "mean_runtime", "limit_ms": 100.0, "mean_ms": 180.0
        }))
        .unwrap();
    state
        .commit(&[], std::slice::from_ref(&report))
        .await
        .unwrap();
    let (fs, url) = FailureService::start(vec![(422, None)]).await;
    let sender = sender(state.clone(), url);
    assert_eq!(sender.flush_once().await, Flush::Refused(1));
    assert_eq!(sender.flush_once().await, Flush::Empty);
    assert_eq!(fs.seen.lock().unwrap().len(), 1);
    let dead = state.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].0, report);
    assert!(dead[0].1.starts_with("422"), "{}", dead[0].1);
}

#[tokio::test]
async fn the_sender_keeps_reports_while_the_failure_service_is_unreachable() {
    let state = Arc::new(MemoryTrendState::default());
    let report: scoville_core::degradation::DegradationReport =
        serde_json::from_value(serde_json::json!({
            "endpoint_id": "ep-9", "org_id": "org-1", "region": "eu-west-1", "started_at_ms": 60_000,
            "detected_at_ms": 600_000, "kind": "apdex_trend", "baseline": 0.95, "current": 0.8
        }))
        .unwrap();
    state
        .commit(&[], std::slice::from_ref(&report))
        .await
        .unwrap();
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sender = sender(
        state.clone(),
        format!("http://127.0.0.1:{port}/").parse().unwrap(),
    );
    assert_eq!(sender.flush_once().await, Flush::RetryAfter(None));
    assert_eq!(state.outbox(10).await.unwrap(), vec![report]);
}

#[tokio::test]
async fn the_redis_state_commits_together_and_never_goes_back_in_time() {
    let redis = support::RedisServer::start();
    let state = Arc::new(
        RedisTrendState::new(redis.url(), "scoville:results", Duration::from_secs(2)).unwrap(),
    );
    let analyzer = TrendAnalyzer::new(state.clone(), Settings::default());
    let checks = |minute: i64| {
        vec![scoville_receiver_service::store::CheckPoint {
            org_id: "org-1".into(),
            endpoint_id: "ep-1".into(),
            region: "eu-west-1".into(),
            started_at_ms: minute * MINUTE + 5,
            total_ms: 500.0,
            class: scoville_core::ApdexClass::Tolerating,
            mean_limit_ms: Some(100),
        }]
    };
    // Minutes 0-4 over the limit: the mean-run-time rule fires at minute 4.
    for m in 0..5 {
        analyzer.analyze(&checks(m)).await.unwrap();
    }
    let loaded = state
        .load(&["ep-1".to_string(), "ep-2".to_string()])
        .await
        .unwrap();
    assert_eq!(loaded[0].as_ref().unwrap().last_minute_ms(), 4 * MINUTE);
    assert!(loaded[1].is_none());
    let outbox = state.outbox(10).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].detected_at_ms, 4 * MINUTE);
    // An older state (a slower lane's) does not replace the newer one.
    let mut old = loaded[0].clone().unwrap();
    let stale = {
        let fresh = TrendAnalyzer::new(Arc::new(MemoryTrendState::default()), Settings::default());
        fresh.analyze(&checks(1)).await.unwrap();
        fresh.state().load(&["ep-1".to_string()]).await.unwrap()[0]
            .clone()
            .unwrap()
    };
    state.commit(&[("ep-1".into(), stale)], &[]).await.unwrap();
    old = state.load(&["ep-1".to_string()]).await.unwrap()[0]
        .clone()
        .unwrap_or(old);
    assert_eq!(old.last_minute_ms(), 4 * MINUTE);
    // Sent reports leave the outbox; refused ones are kept aside with the reason.
    state
        .settle(&[outbox[0].key()], Some("400: bad"))
        .await
        .unwrap();
    assert!(state.outbox(10).await.unwrap().is_empty());
    let dead = state.dead_letters().await.unwrap();
    assert_eq!(dead, vec![(outbox[0].clone(), "400: bad".to_string())]);
}

#[tokio::test]
async fn influx_reads_back_the_checks_of_a_period_with_their_classes() {
    let influx = support::InfluxServer::start();
    let store = scoville_receiver_service::store::influx::InfluxStore::new(
        scoville_receiver_service::store::influx::InfluxSettings {
            url: influx.url(),
            database: "scoville_trend".into(),
            retention_policy: None,
            auth: scoville_receiver_service::store::influx::InfluxAuth::None,
            timeout: Duration::from_secs(5),
        },
    )
    .unwrap();
    store.ensure_database().await.unwrap();
    let t0 = 1_790_000_000_000i64 / MINUTE * MINUTE;
    let batch = serde_json::json!({ "results": [
        result("ep-1", "eu-west-1", t0 + 1, 50.0),
        result("ep-1", "us-east-1", t0 + 2, 150.0),
        result("ep-2", "eu-west-1", t0 + 3, 900.0),
        result("ep-1", "eu-west-1", t0 + MINUTE, 50.0),
    ]});
    let results = scoville_core::parse::from_json::<scoville_core::wire::ResultBatch>(
        batch.to_string().as_bytes(),
    )
    .unwrap()
    .results;
    store.write(&results).await.unwrap();
    let points = store.checks(t0, t0 + MINUTE).await.unwrap();
    let seen: Vec<_> = points
        .iter()
        .map(|p| {
            (
                p.endpoint_id.as_str(),
                p.region.as_str(),
                p.started_at_ms - t0,
                p.total_ms,
                p.class,
                p.mean_limit_ms,
            )
        })
        .collect();
    use scoville_core::ApdexClass::*;
    assert_eq!(
        seen,
        vec![
            ("ep-1", "eu-west-1", 1, 50.0, Satisfied, Some(120)),
            ("ep-1", "us-east-1", 2, 150.0, Tolerating, Some(120)),
            ("ep-2", "eu-west-1", 3, 900.0, Frustrated, Some(120)),
        ]
    );
}
