//! Prometheus metrics on real parts: Debian's `prometheus` (installed by `.ci/run`)
//! scrapes a running receiver (its queue in memory, its worker writing to SQLite), the
//! admin API's own `/metrics` and its per-endpoint exporter (`/v1/metrics/endpoints`
//! with an org API key as the bearer token, from the scrape config's `authorization`),
//! every second; the test posts results and creates an endpoint, then asks
//! Prometheus's HTTP API (`/api/v1/query`) until the values it caused come back:
//! the results counted, the requests by route and status class, the endpoint up with
//! its latest response time and its (quoted) name intact, each scrape target up.
//! Every answer scraped also passes `promtool check metrics` (Prometheus's own linter)
//! and the strict reader in service-kit; so do the failure service's, the notifier's and
//! the probe's expositions (their own tests read them from running servers).
//!
//! ```text
//!   test ──POST /v1/results──► receiver ──► memory queue ──► worker ──► SQLite
//!   test ──POST /v1/endpoints─► admin-api ◄── history (the same SQLite) ─┘
//!   prometheus ──GET /metrics (receiver, admin) + /v1/metrics/endpoints (Bearer sk_...)
//!   test ──GET /api/v1/query──► prometheus
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use scoville_core::wire::ResultBatch;
use scoville_core::{CheckReport, CheckResult, EndpointId, OrgId, Outcome, Region, RunId, Timings};
use scoville_service_kit::auth::TokenHash;
use serde_json::{Value, json};
use tokio::sync::watch;

const PROBE_TOKEN: &str = "prometheus-test-probe-token-0123456789";
/// A name with a quote and a backslash: it must reach Grafana as written.
const NAME: &str = "checkout \"eu\" \\ main";
const REGION: &str = "eu-west-1";
/// How long Prometheus may take to show a value (it scrapes every second).
const PATIENCE: Duration = Duration::from_secs(60);

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("scoville-prometheus-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The prometheus child process; killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// The tail of its log, for failure messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn need(binary: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {binary}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`{binary}` is not installed: `.ci/run` installs Debian's prometheus package \
         (apt-get install prometheus)"
    );
}

/// Starts prometheus scraping `targets` every second: (job, address, path, bearer).
fn start_prometheus(dir: &Path, targets: &[(&str, SocketAddr, &str, Option<&str>)]) -> Prometheus {
    need("prometheus");
    let mut config = String::from(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n",
    );
    for (job, addr, path, bearer) in targets {
        config.push_str(&format!(
            "  - job_name: {job}\n    metrics_path: {path}\n    static_configs:\n      - targets: ['{addr}']\n"
        ));
        if let Some(token) = bearer {
            config.push_str(&format!(
                "    authorization:\n      type: Bearer\n      credentials: '{token}'\n"
            ));
        }
    }
    let config_file = dir.join("prometheus.yml");
    std::fs::write(&config_file, config).unwrap();
    let port = free_port();
    let log = dir.join("prometheus.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config_file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("starting prometheus");
    Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        log,
    }
}

/// Asks Prometheus `query` (an instant query) until `accept` takes its result vector,
/// within [`PATIENCE`]; returns the accepted vector.
async fn query_until(
    prom: &Prometheus,
    http: &reqwest::Client,
    query: &str,
    accept: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + PATIENCE;
    let mut last = String::new();
    loop {
        let answer = http
            .get(format!("{}/api/v1/query", prom.url))
            .query(&[("query", query)])
            .send()
            .await;
        if let Ok(resp) = answer {
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            if body["status"] == "success"
                && let Some(result) = body["data"]["result"].as_array()
                && accept(result)
            {
                return result.clone();
            }
            last = body.to_string();
        }
        if Instant::now() > deadline {
            panic!(
                "Prometheus never answered {query} as expected; last answer: {last}\n\
                 prometheus log:\n{}",
                prom.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The single sample's value in a query result, as a number.
fn single_value(result: &[Value]) -> Option<f64> {
    match result {
        [one] => one["value"][1].as_str()?.parse().ok(),
        _ => None,
    }
}

/// Runs `promtool check metrics` on `text`; panics with its complaints.
fn promtool_check(what: &str, text: &str) {
    need("promtool");
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics refuses {what}:\n{}{}\n--- the text:\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    scoville_service_kit::metrics::check::parse(text)
        .unwrap_or_else(|e| panic!("{what} is not a valid exposition: {e}\n{text}"));
}

fn result(org: &str, endpoint: &str, total_ms: f64, at_ms: i64) -> CheckResult {
    CheckResult {
        endpoint_id: EndpointId::parse(endpoint).unwrap(),
        org_id: OrgId::parse(org).unwrap(),
        region: Region::parse(REGION).unwrap(),
        run_id: RunId::parse(format!("run-{at_ms}")).unwrap(),
        scheduled_at_ms: at_ms - at_ms % 60_000,
        started_at_ms: at_ms,
        apdex_t_ms: Some(500),
        mean_limit_ms: None,
        report: CheckReport {
            outcome: Outcome::Up,
            message: "HTTP 200".into(),
            status: Some(200),
            timings: Timings {
                dns_ms: Some(1.0),
                connect_ms: Some(2.0),
                tls_ms: None,
                ttfb_ms: Some(total_ms / 2.0),
                total_ms,
            },
            bytes: 12,
            truncated: false,
            cert_expires_at_ms: None,
            domain_expires_at_ms: None,
            body_hash: None,
            watch_excerpt: None,
            ip: None,
            redirects: 0,
        },
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn until(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|v| *v).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_services_and_the_endpoint_exporter() {
    let dir = TempDir::new();
    let db = dir.0.join("scoville.db");
    let (stop, stopped) = watch::channel(false);
    let mut tasks: tokio::task::JoinSet<std::io::Result<()>> = tokio::task::JoinSet::new();

    // The results store (it creates the tables the admin API's history reads).
    let results =
        Arc::new(scoville_receiver_service::store::sqlite::SqliteStore::open(&db).unwrap());

    // The admin API on SQLite, its history on the same file.
    let mut admin = scoville_admin_api::config::Config::default();
    admin.admin.listen = "127.0.0.1:0".parse().unwrap();
    admin.admin.sqlite_path = db.clone();
    admin.history.sqlite_path = db.clone();
    admin.incidents.sqlite_path = db.clone();
    let server = scoville_admin_api::app::build(&admin).await.unwrap();
    let admin_addr = server.local_addr().unwrap();
    let admin_url = format!("http://{admin_addr}");
    tasks.spawn(server.run_until(until(stopped.clone())));

    // The receiver, its queue in memory, and its worker writing to SQLite.
    let mut receiver = scoville_receiver_service::config::Config::default();
    receiver.receiver.listen = "127.0.0.1:0".parse().unwrap();
    receiver.receiver.probe_token_hashes = vec![TokenHash::of(PROBE_TOKEN).to_config_string()];
    receiver.queue.kind = scoville_receiver_service::config::QueueKind::Memory;
    let queue = Arc::new(scoville_receiver_service::queue::memory::MemoryQueue::new(
        receiver.queue.max_backlog,
    ));
    let state = scoville_receiver_service::app::AppState {
        queue: queue.clone(),
        ..scoville_receiver_service::app::AppState::from_config(&receiver).unwrap()
    };
    let server = scoville_service_kit::http::Server::bind(
        receiver.receiver.listen,
        scoville_receiver_service::app::router(state),
    )
    .await
    .unwrap();
    let receiver_addr = server.local_addr().unwrap();
    let receiver_url = format!("http://{receiver_addr}");
    tasks.spawn(server.run_until(until(stopped.clone())));
    let worker = scoville_receiver_service::worker::Worker::new(
        queue,
        results,
        receiver.worker_settings().unwrap(),
    );
    let worker_stopped = stopped.clone();
    tasks.spawn(async move {
        worker.run(until(worker_stopped)).await;
        Ok(())
    });

    // An organization, its API key (Grafana's scrape credential) and an endpoint.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let signup = http
        .post(format!("{admin_url}/v1/signup"))
        .json(&json!({"email": "ops@example.com", "password": "correct horse battery", "org_name": "Ops"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 201);
    let cookie = signup.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let signed: Value = signup.json().await.unwrap();
    let org = signed["org"]["id"].as_str().unwrap().to_string();
    let key: Value = http
        .post(format!("{admin_url}/v1/api-keys"))
        .header("cookie", &cookie)
        .json(&json!({"name": "grafana", "scope": "read"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["key"]
        .as_str()
        .unwrap_or_else(|| panic!("no API key: {key}"))
        .to_string();
    let endpoint: Value = http
        .post(format!("{admin_url}/v1/endpoints"))
        .header("cookie", &cookie)
        .json(&json!({
            "name": NAME,
            "check": {"type": "http", "url": "https://checkout.example.com/health"},
            "regions": [REGION],
            "confirm_regions": 1,
            "interval_s": 60,
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let endpoint = endpoint["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no endpoint: {endpoint}"))
        .to_string();

    // Results as a probe posts them: 3 batches, 7 results; the latest took 123 ms.
    let now = now_ms();
    let mut posted = 0;
    for (i, size) in [2usize, 3, 2].into_iter().enumerate() {
        let results: Vec<CheckResult> = (0..size)
            .map(|j| {
                let at = now - 30_000 + (i * 10 + j) as i64 * 1000;
                result(&org, &endpoint, 100.0 + j as f64, at)
            })
            .collect();
        posted += results.len();
        let resp = http
            .post(format!("{receiver_url}/v1/results"))
            .bearer_auth(PROBE_TOKEN)
            .json(&ResultBatch { results })
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
    }
    let latest = result(&org, &endpoint, 123.0, now - 1_000);
    let resp = http
        .post(format!("{receiver_url}/v1/results"))
        .bearer_auth(PROBE_TOKEN)
        .json(&ResultBatch {
            results: vec![latest],
        })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    posted += 1;
    // One refused batch (a wrong token), counted by reason and status class.
    let resp = http
        .post(format!("{receiver_url}/v1/results"))
        .bearer_auth("not-a-token")
        .json(&ResultBatch { results: vec![] })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // What Prometheus will scrape, through its own linter and ours.
    let get = |url: String, bearer: Option<String>| {
        let req = http.get(url);
        let req = match bearer {
            Some(b) => req.bearer_auth(b),
            None => req,
        };
        async move {
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 200);
            resp.text().await.unwrap()
        }
    };
    promtool_check(
        "the receiver's /metrics",
        &get(format!("{receiver_url}/metrics"), None).await,
    );
    promtool_check(
        "the admin API's /metrics",
        &get(format!("{admin_url}/metrics"), None).await,
    );

    let prom = start_prometheus(
        &dir.0,
        &[
            ("receiver", receiver_addr, "/metrics", None),
            ("admin", admin_addr, "/metrics", None),
            ("endpoints", admin_addr, "/v1/metrics/endpoints", Some(&key)),
        ],
    );

    // Every target scraped successfully (a malformed exposition would make it 0).
    let ups = query_until(&prom, &http, "up", |r| {
        r.len() == 3 && r.iter().all(|s| s["value"][1] == "1")
    })
    .await;
    assert_eq!(ups.len(), 3);

    // The results this test posted, counted by the receiver.
    query_until(
        &prom,
        &http,
        "scoville_receiver_results_queued_total",
        |r| single_value(r) == Some(posted as f64),
    )
    .await;
    // Its requests by route template and status class.
    query_until(
        &prom,
        &http,
        r#"scoville_http_requests_total{job="receiver",route="/v1/results",method="POST",status="2xx"}"#,
        |r| single_value(r) == Some(4.0),
    )
    .await;
    query_until(
        &prom,
        &http,
        r#"scoville_receiver_batches_refused_total{reason="unauthorized"}"#,
        |r| single_value(r) == Some(1.0),
    )
    .await;
    // Latency: the histogram's count for the route, through histogram_quantile too.
    query_until(
        &prom,
        &http,
        r#"scoville_http_request_duration_seconds_count{job="receiver",route="/v1/results"}"#,
        |r| single_value(r) == Some(5.0),
    )
    .await;
    query_until(
        &prom,
        &http,
        r#"histogram_quantile(0.5, sum by (le) (scoville_http_request_duration_seconds_bucket{job="receiver",route="/v1/results"}))"#,
        |r| single_value(r).is_some_and(|v| v > 0.0 && v < 10.0),
    )
    .await;
    // The admin API's own requests, by template (the endpoint's id is not a label).
    query_until(
        &prom,
        &http,
        r#"scoville_http_requests_total{job="admin",route="/v1/endpoints",method="POST",status="2xx"}"#,
        |r| single_value(r) == Some(1.0),
    )
    .await;

    // The exporter: the endpoint up once the worker has stored the results, its latest
    // response time, and its name as written.
    let up = query_until(
        &prom,
        &http,
        &format!(r#"scoville_endpoint_up{{job="endpoints",id="{endpoint}"}}"#),
        |r| single_value(r) == Some(1.0),
    )
    .await;
    assert_eq!(up[0]["metric"]["endpoint"], NAME, "{up:?}");
    query_until(
        &prom,
        &http,
        &format!(r#"scoville_endpoint_response_time_seconds{{id="{endpoint}",region="{REGION}"}}"#),
        |r| single_value(r) == Some(0.123),
    )
    .await;
    promtool_check(
        "the endpoint exporter",
        &get(
            format!("{admin_url}/v1/metrics/endpoints"),
            Some(key.clone()),
        )
        .await,
    );

    drop(prom);
    let _ = stop.send(true);
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap();
    }
}

/// The other services' expositions (their own tests read them back from running
/// servers with the strict reader) pass Prometheus's linter too, with every family
/// holding samples.
#[test]
fn every_services_exposition_passes_promtool() {
    use scoville_core::notice::NoticeKind;
    let route = |http: &scoville_service_kit::metrics::HttpMetrics| {
        http.record(
            "/v1/things/{id}",
            &axum::http::Method::GET,
            axum::http::StatusCode::OK,
            Duration::from_millis(12),
        );
    };

    let failure = scoville_failure_service::metrics::Metrics::default();
    failure.events(3);
    failure.notice(NoticeKind::Down);
    failure.conflict();
    failure.refused(scoville_failure_service::metrics::Refusal::Invalid);
    route(&failure.http);
    promtool_check("the failure service's /metrics", &failure.render());

    let notifier = scoville_notifier::metrics::Metrics::default();
    notifier.delivery(
        "slack",
        scoville_notifier::metrics::DeliveryResult::Sent,
        Duration::from_millis(300),
    );
    notifier.delivery(
        "webhook",
        scoville_notifier::metrics::DeliveryResult::FailedRetryable,
        Duration::from_secs(3),
    );
    notifier.queue_ok();
    route(&notifier.http);
    promtool_check(
        "the notifier's /metrics",
        &notifier.render_with_depth(Some(4)),
    );

    let probe = scoville_probe::metrics::Metrics::default();
    probe.check(Outcome::Up);
    probe.check(Outcome::Down(scoville_core::DownReason::Timeout));
    probe.round(true, 1234);
    route(&probe.http);
    promtool_check("the probe's /metrics", &probe.render());
}
