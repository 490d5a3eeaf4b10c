//! The whole story on real parts: every service is its own process, started from its
//! binary on port 0 with the production adapters (DynamoDB and SQS on moto's server, a
//! real redis-server and influxd), two probe "regions" run as `probe run --once --at`
//! processes walking simulated minutes, targets are a controllable HTTP server in this
//! test, and alerts go to a recording webhook.
//!
//! ```text
//!   probe (eu-west-1) ─┐            ┌─► receiver ──► Redis ──► receiver worker ──► InfluxDB
//!   probe (us-east-1) ─┴─ results ──┤                               │ mean-run-time rule
//!         ▲                         └─► failure-service ◄───────────┘ /v1/degradations
//!         │ /v1/probe/endpoints           │ DynamoDB state + incident log
//!   admin-api (DynamoDB, InfluxDB history, incident log) ◄── directory / channels
//!                                         │ SQS
//!                                      notifier (DynamoDB dedup) ──► webhook (recorder)
//! ```
//!
//! The story (issue 6), over 14 simulated minutes starting a few hours ago:
//! 1. sign up, an API key, a webhook channel and three endpoints through the public API;
//! 2. rounds from two regions (two probe processes per simulated minute);
//! 3. results in InfluxDB and in the history API with the right counts;
//! 4. one target down: exactly one "down" once both regions saw it, then exactly one
//!    "recovered", and the incident resolved with its timeline;
//! 5. another target slow: exactly one degradation notice (the mean-run-time rule);
//! 6. a third target failing in one region only: no notification at all.
//!
//! When something fails, the panic message carries the tail of every service's log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use scoville_tests::launch::{
    Failure, Notifier, Plan, Probe, Receiver, Redis, Sqs, Stores, System,
};
use scoville_tests::recorder::Recorder;
use serde_json::{Value, json};

/// The platform probe token (admin API, receiver, failure service).
const PROBE_TOKEN: &str = "e2e-probe-token-0123456789abcdef";
/// Scoville's own service token (failure service and notifier read the admin API with
/// it; the receiver worker posts degradations with it).
const SERVICE_TOKEN: &str = "e2e-service-token-0123456789abcdef";
/// The two simulated regions.
const R1: &str = "eu-west-1";
const R2: &str = "us-east-1";
/// The slow target's delay, and the limit its endpoint sets.
const SLOW_MS: u64 = 400;
const MEAN_LIMIT_MS: u64 = 200;
/// How long any one asynchronous effect may take before the test gives up.
const PATIENCE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------
// Targets

/// How a target path answers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    /// 200 `ok`.
    Up,
    /// 503.
    Down,
    /// 200 `ok` after this many ms.
    Slow(u64),
    /// 503 when the probe's User-Agent names this region, else 200.
    FailIn(&'static str),
}

/// A controllable HTTP target server on 127.0.0.1:0; stops when dropped.
#[derive(Debug)]
struct Targets {
    addr: SocketAddr,
    modes: Arc<Mutex<HashMap<String, Mode>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Targets {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn target(
    State(modes): State<Arc<Mutex<HashMap<String, Mode>>>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mode = modes
        .lock()
        .unwrap()
        .get(uri.path())
        .cloned()
        .unwrap_or(Mode::Up);
    let agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match mode {
        Mode::Up => (StatusCode::OK, "ok").into_response(),
        Mode::Down => (StatusCode::SERVICE_UNAVAILABLE, "down").into_response(),
        Mode::Slow(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            (StatusCode::OK, "ok").into_response()
        }
        Mode::FailIn(region) if agent.contains(&format!("(region {region})")) => {
            (StatusCode::SERVICE_UNAVAILABLE, "not from here").into_response()
        }
        Mode::FailIn(_) => (StatusCode::OK, "ok").into_response(),
    }
}

impl Targets {
    async fn start() -> Self {
        let modes = Arc::new(Mutex::new(HashMap::new()));
        let app = Router::new().fallback(target).with_state(modes.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, modes, task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn set(&self, path: &str, mode: Mode) {
        self.modes.lock().unwrap().insert(path.to_string(), mode);
    }
}

// ---------------------------------------------------------------------------------
// The system

/// Every part, started by the shared launcher, with the webhook's recorder and the
/// targets; everything is stopped when dropped.
struct Story {
    /// The services first: they are killed before the servers they use stop.
    sys: System,
    recorder: Recorder,
    targets: Targets,
    /// The first simulated minute (Unix ms, a whole minute some hours ago).
    t0: i64,
}

scoville_tests::deref_to_system!(Story, sys);

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

impl Story {
    /// The production adapters: the admin API on DynamoDB with InfluxDB history and the
    /// failure service's incident log; the failure service on DynamoDB and SQS; the
    /// receiver and its worker on Redis Streams and InfluxDB, reporting trends to the
    /// failure service; the notifier on SQS with DynamoDB dedup; the probe's file for
    /// region [`R1`] (each run names its region).
    async fn start() -> Self {
        let sys = System::start(Plan {
            moto: Some(Sqs::Plain),
            redis: Redis::Start,
            influx: true,
            stores: Stores::DynamoDb { timeout_ms: None },
            admin: true,
            failure: Some(Failure::default()),
            receiver: Some(Receiver {
                worker: Some("block_ms = 100\nrollup_every_ms = 200".into()),
            }),
            notifier: Some(Notifier {
                notifier: "wait_ms = 1000\ngather_ms = 100".into(),
                ..Notifier::default()
            }),
            probe: Some(Probe {
                region: R1,
                extra: String::new(),
            }),
            ..Plan::new("e2e", PROBE_TOKEN, SERVICE_TOKEN)
        })
        .await;
        // Three hours ago, on a whole minute: every simulated minute has long settled,
        // so the worker rolls it up (and analyses it) as soon as it is dirty.
        let t0 = (unix_ms() - 3 * 3_600_000) / 60_000 * 60_000;
        Self {
            sys,
            recorder: Recorder::start().await,
            targets: Targets::start().await,
            t0,
        }
    }

    /// Polls `f` until it answers `Ok` (every 100 ms, up to [`PATIENCE`]); fails with
    /// its last complaint and the logs.
    async fn eventually<T, F, Fut>(&self, what: &str, f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, String>>,
    {
        self.sys.eventually(what, PATIENCE, f).await
    }

    async fn create_endpoint(&self, name: &str, path: &str, channel: &str, extra: Value) -> String {
        let mut body = json!({
            "name": name,
            "check": {"type": "http", "url": self.targets.url(path)},
            "regions": [R1, R2],
            "confirm_regions": 2,
            "interval_s": 60,
            "channels": [channel],
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let ep = self
            .api(reqwest::Method::POST, "/v1/endpoints", Some(body), 201)
            .await;
        ep["id"].as_str().unwrap().to_string()
    }

    /// The probe's list for `region` (with the probe token), by endpoint id.
    async fn probe_list(&self, region: &str) -> BTreeMap<String, Value> {
        let (status, page) = self
            .call(
                reqwest::Method::GET,
                &format!("/v1/probe/endpoints?region={region}"),
                PROBE_TOKEN,
                None,
            )
            .await;
        self.check(status == StatusCode::OK, || {
            format!("probe list: {status} {page}")
        });
        page["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["id"].as_str().unwrap().to_string(), e.clone()))
            .collect()
    }

    /// `GET /v1/endpoints/{id}/history` over the first `rounds` simulated minutes, one
    /// step a minute: the summary's (count, up) and every step's count.
    async fn history(
        &self,
        id: &str,
        region: Option<&str>,
        rounds: i64,
    ) -> Result<(u64, u64, Vec<u64>), String> {
        let mut path = format!(
            "/v1/endpoints/{id}/history?from={}&to={}&step=1m",
            self.t0,
            self.t0 + rounds * 60_000
        );
        if let Some(r) = region {
            path.push_str(&format!("&region={r}"));
        }
        let (status, h) = self
            .call(reqwest::Method::GET, &path, &self.key, None)
            .await;
        if status != StatusCode::OK {
            return Err(format!("{path}: {status} {h}"));
        }
        let steps = h["steps"]
            .as_array()
            .ok_or_else(|| format!("no steps: {h}"))?
            .iter()
            .map(|s| s["count"].as_u64().unwrap_or(0))
            .collect();
        Ok((
            h["summary"]["count"].as_u64().unwrap_or(0),
            h["summary"]["up"].as_u64().unwrap_or(0),
            steps,
        ))
    }

    /// Waits until the history of `id` over `rounds` minutes shows one check a minute
    /// per region (`rounds` each, with the given up counts) and their sums overall.
    async fn expect_history(&self, id: &str, rounds: i64, up: [(&str, u64); 2]) {
        let total_up: u64 = up.iter().map(|(_, u)| u).sum();
        let what = format!("the history of {id}: {rounds} checks per region, up {up:?}");
        self.eventually(&what, || async {
            for (region, region_up) in up {
                let (count, got_up, steps) = self.history(id, Some(region), rounds).await?;
                if count != rounds as u64 || got_up != region_up || steps.iter().any(|c| *c != 1) {
                    return Err(format!(
                        "{region}: count {count}, up {got_up}, steps {steps:?}"
                    ));
                }
            }
            let (count, got_up, steps) = self.history(id, None, rounds).await?;
            if count != 2 * rounds as u64 || got_up != total_up || steps.iter().any(|c| *c != 2) {
                return Err(format!(
                    "all regions: count {count}, up {got_up}, steps {steps:?}"
                ));
            }
            Ok(())
        })
        .await;
    }

    /// Raw points of `id` in InfluxDB by region (`check_result`, the worker's writes).
    async fn influx_counts(&self, id: &str) -> Result<BTreeMap<String, u64>, String> {
        let q = format!(
            "SELECT count(\"total_ms\") FROM \"check_result\" WHERE \"endpoint_id\" = '{id}' GROUP BY \"region\""
        );
        let answer = self.influx_query(&q).await?;
        let mut counts = BTreeMap::new();
        for s in answer["series"].as_array().into_iter().flatten() {
            counts.insert(
                s["tags"]["region"].as_str().unwrap_or_default().to_string(),
                s["values"][0][1].as_u64().unwrap_or(0),
            );
        }
        Ok(counts)
    }

    async fn expect_influx(&self, id: &str, rounds: u64) {
        let want: BTreeMap<String, u64> =
            [(R1.to_string(), rounds), (R2.to_string(), rounds)].into();
        self.eventually(
            &format!("{rounds} points per region of {id} in InfluxDB"),
            || async {
                let got = self.influx_counts(id).await?;
                if got == want {
                    Ok(())
                } else {
                    Err(format!("{got:?}"))
                }
            },
        )
        .await;
    }

    // -- Probes ----------------------------------------------------------------------

    /// One probe process for `region`, one round at simulated minute `round`; returns
    /// its summary after checking that everything was delivered.
    async fn probe(&self, region: &str, round: i64) -> Value {
        let at = self.t0 + round * 60_000;
        let what = format!("probe {region} round {round}");
        self.sys
            .probe_once(&what, at, Some(region), 3, Duration::from_secs(60))
            .await
    }

    /// A round from both regions at once; checks each region's count of down results.
    async fn round(&self, round: i64, down: [usize; 2]) {
        let (a, b) = tokio::join!(self.probe(R1, round), self.probe(R2, round));
        for (summary, want) in [(a, down[0]), (b, down[1])] {
            let got = summary["by_outcome"]["down"].as_u64().unwrap_or(0) as usize;
            self.check(got == want, || {
                format!("round {round}: expected {want} down, got {summary}")
            });
        }
    }

    // -- Notifications ---------------------------------------------------------------

    /// Every notification at the webhook so far: (kind, endpoint id, payload).
    fn notices(&self) -> Vec<(String, String, Value)> {
        self.recorder
            .requests()
            .iter()
            .map(|r| {
                let v = r.json();
                (
                    v["kind"].as_str().unwrap_or_default().to_string(),
                    v["endpoint_id"].as_str().unwrap_or_default().to_string(),
                    v,
                )
            })
            .collect()
    }

    /// Waits for the `n`th notification and returns all of them.
    async fn wait_notices(&self, n: usize, what: &str) -> Vec<(String, String, Value)> {
        self.eventually(what, || async {
            let got = self.notices();
            if got.len() >= n {
                Ok(got)
            } else {
                Err(format!("{} so far: {:?}", got.len(), kinds(&got)))
            }
        })
        .await
    }
}

fn kinds(notices: &[(String, String, Value)]) -> Vec<(String, String)> {
    notices
        .iter()
        .map(|(k, e, _)| (k.clone(), e.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------
// The story

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_story_on_real_parts() {
    let started = Instant::now();
    let mut sys = Story::start().await;
    eprintln!(
        "system up in {:?} (logs in {})",
        started.elapsed(),
        sys.dir.display()
    );

    // 1. An organization and its user, an API key, a webhook channel and three
    //    endpoints, all through the public API.
    let org_id = sys.sign_up("ops@e2e.example", "E2E", "e2e").await;
    let channel = sys
        .api(
            reqwest::Method::POST,
            "/v1/channels",
            Some(json!({"name": "recorder", "config": {"type": "webhook", "url": sys.recorder.url("/hook")}})),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let outage = sys
        .create_endpoint("outage", "/outage", &channel, json!({}))
        .await;
    let slow = sys
        .create_endpoint(
            "slow",
            "/slow",
            &channel,
            json!({"mean_limit_ms": MEAN_LIMIT_MS}),
        )
        .await;
    let lopsided = sys
        .create_endpoint("one-region", "/one-region", &channel, json!({}))
        .await;
    for region in [R1, R2] {
        let list = sys.probe_list(region).await;
        sys.check(list.len() == 3, || {
            format!("the probe list of {region}: {list:?}")
        });
        sys.check(list[&slow]["mean_limit_ms"] == MEAN_LIMIT_MS, || {
            format!(
                "the slow endpoint's limit reaches the probes: {:?}",
                list[&slow]
            )
        });
    }
    eprintln!("set up through the API at {:?}", started.elapsed());

    // 2-3. Four minutes of rounds from both regions, everything up: every result is in
    //      InfluxDB and in the history API, per region and in total.
    let mut rounds = 0;
    for _ in 0..4 {
        sys.round(rounds, [0, 0]).await;
        rounds += 1;
    }
    for id in [&outage, &slow, &lopsided] {
        sys.expect_influx(id, rounds as u64).await;
        sys.expect_history(id, rounds, [(R1, rounds as u64), (R2, rounds as u64)])
            .await;
    }
    sys.check(sys.notices().is_empty(), || {
        format!("no notice while all is up: {:?}", kinds(&sys.notices()))
    });
    eprintln!("{rounds} rounds in history at {:?}", started.elapsed());

    // 4. The outage target goes down, and the third target starts failing from one
    //    region only (until the end). One region seeing the outage is not enough...
    sys.targets.set("/outage", Mode::Down);
    sys.targets.set("/one-region", Mode::FailIn(R2));
    let first = sys.probe(R1, rounds).await;
    sys.check(first["by_outcome"]["down"] == 1, || format!("{first}"));
    // (The failure service decides before it answers the probe: nothing was decided.)
    let decided = sys
        .metric(&sys.failure_url, "scoville_failure_notices_total")
        .await
        .unwrap();
    sys.check(decided == 0, || {
        format!("{decided} notices after one region's failure")
    });
    // ... the second region confirms it: exactly one "down".
    let second = sys.probe(R2, rounds).await;
    sys.check(second["by_outcome"]["down"] == 2, || format!("{second}"));
    rounds += 1;
    let got = sys.wait_notices(1, "the \"down\" notification").await;
    let (kind, endpoint, down) = &got[0];
    sys.check(kind == "down" && *endpoint == outage, || {
        format!("first notice: {down}")
    });
    let mut regions: Vec<&str> = down["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    regions.sort_unstable();
    sys.check(regions == [R1, R2], || {
        format!("both regions confirmed it: {down}")
    });
    sys.check(down["org_id"] == org_id.as_str(), || format!("{down}"));
    // Still down a minute later: no second "down".
    sys.round(rounds, [1, 2]).await;
    rounds += 1;
    // The probes learn of the open incident from the list (the admin API reads the
    // failure service's incident log), so they send the successes that close it.
    sys.eventually("the outage flagged open in the probe's list", || async {
        let list = sys.probe_list(R1).await;
        match list[&outage]["open_incident"].as_bool() {
            Some(true) => Ok(()),
            other => Err(format!("open_incident = {other:?}")),
        }
    })
    .await;
    let (status, open) = sys
        .call(
            reqwest::Method::GET,
            "/v1/incidents?status=open",
            &sys.key,
            None,
        )
        .await;
    sys.check(
        status == StatusCode::OK && open["incidents"].as_array().unwrap().len() == 1,
        || format!("one open incident: {status} {open}"),
    );

    // Back up: two good rounds in both regions, exactly one "recovered".
    sys.targets.set("/outage", Mode::Up);
    for _ in 0..2 {
        sys.round(rounds, [0, 1]).await;
        rounds += 1;
    }
    let got = sys.wait_notices(2, "the \"recovered\" notification").await;
    let (kind, endpoint, recovered) = &got[1];
    sys.check(kind == "recovered" && *endpoint == outage, || {
        format!("second notice: {recovered}")
    });
    sys.check(recovered["incident_id"] == down["incident_id"], || {
        format!("the same incident: {down} / {recovered}")
    });
    // The incident, resolved, with its timeline.
    let page = sys
        .api(
            reqwest::Method::GET,
            &format!("/v1/incidents?endpoint_id={outage}"),
            None,
            200,
        )
        .await;
    let incidents = page["incidents"].as_array().unwrap();
    sys.check(
        incidents.len() == 1 && incidents[0]["status"] == "resolved",
        || format!("one resolved incident: {page}"),
    );
    let incident = &incidents[0];
    let minute =
        |field: &str| (incident[field].as_i64().unwrap_or(i64::MIN) - sys.t0).div_euclid(60_000);
    sys.check(
        minute("confirmed_at_ms") == 4 && minute("resolved_at_ms") == 7,
        || format!("confirmed in minute 4, resolved in minute 7: {incident}"),
    );
    let id = incident["id"].as_str().unwrap();
    let detail = sys
        .api(
            reqwest::Method::GET,
            &format!("/v1/incidents/{id}"),
            None,
            200,
        )
        .await;
    let timeline: Vec<(String, String)> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default().to_string(),
                e["notice"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("confirmed", ""),
        ("notified", "down"),
        ("resolved", ""),
        ("notified", "recovered"),
    ]
    .iter()
    .map(|(k, n)| (k.to_string(), n.to_string()))
    .collect();
    sys.check(timeline == want, || {
        format!("the incident's timeline: {detail}")
    });
    eprintln!("outage and recovery notified at {:?}", started.elapsed());

    // 5. The slow target: its mean run time over five minutes goes above its limit
    //    (the receiver worker's rule, on settled minutes) → exactly one degradation.
    let slow_from = rounds;
    sys.targets.set("/slow", Mode::Slow(SLOW_MS));
    for _ in 0..6 {
        sys.round(rounds, [0, 1]).await;
        rounds += 1;
    }
    let got = sys.wait_notices(3, "the degradation notice").await;
    let (kind, endpoint, degraded) = &got[2];
    sys.check(kind == "degraded" && *endpoint == slow, || {
        format!("third notice: {degraded}")
    });
    let at = degraded["at_ms"].as_i64().unwrap();
    sys.check(
        at >= sys.t0 + slow_from * 60_000 && at < sys.t0 + rounds * 60_000,
        || format!("detected within the slow minutes: {degraded}"),
    );
    sys.check(
        degraded["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("mean run time"),
        || format!("the mean-run-time rule: {degraded}"),
    );
    eprintln!("degradation notified at {:?}", started.elapsed());

    // 3 again, over the whole story: every round is in InfluxDB and in the history,
    // with the failures where they happened.
    let n = rounds as u64;
    let failing = n - 4; // the one-region target failed in R2 from minute 4 on
    for (id, up) in [
        (&outage, [(R1, n - 2), (R2, n - 2)]),
        (&slow, [(R1, n), (R2, n)]),
        (&lopsided, [(R1, n), (R2, n - failing)]),
    ] {
        sys.expect_influx(id, n).await;
        sys.expect_history(id, rounds, up).await;
    }

    // 6. Everything decided has been delivered, and that is exactly the three notices:
    //    the target failing in one region only made none.
    sys.eventually("every notice decided to be delivered", || async {
        let (decided, sent) = sys.notices_decided_and_sent().await?;
        if decided == 3 && sent == 3 {
            Ok(())
        } else {
            Err(format!("decided {decided}, sent {sent}"))
        }
    })
    .await;
    let got = sys.notices();
    sys.check(got.len() == 3, || {
        format!("exactly three notices: {:?}", kinds(&got))
    });
    sys.check(got.iter().all(|(_, e, _)| *e != lopsided), || {
        format!("nothing about the one-region failure: {:?}", kinds(&got))
    });
    let page = sys
        .api(
            reqwest::Method::GET,
            &format!("/v1/incidents?endpoint_id={lopsided}"),
            None,
            200,
        )
        .await;
    sys.check(page["incidents"].as_array().unwrap().is_empty(), || {
        format!("no incident for the one-region failure: {page}")
    });
    eprintln!(
        "{rounds} simulated minutes, whole story in {:?}",
        started.elapsed()
    );
}
