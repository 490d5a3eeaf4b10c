//! The Lambda handler on sample events, and the `probe` binary's commands as a user runs
//! them: `probe check` with its exit codes and JSON, `probe run --once`, bad config.

#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use scoville_check_engine::{AddressPolicy, Engine, EngineConfig, IcmpMode};
use scoville_core::Region;
use scoville_probe::Probe;
use scoville_probe::config::Config;
use scoville_probe::delivery::Delivery;
use scoville_probe::lambda::{HandlerError, LAMBDA_ICMP, ProbeEvent, handle};
use scoville_probe::metrics::Metrics;
use scoville_probe::source::EndpointSource;
use scoville_probe::source::api::ApiSource;
use scoville_target_farm::{Farm, FarmConfig, profile};

async fn farm(n: u64) -> Farm {
    let config = FarmConfig {
        endpoints: n,
        timeout_ms: 2000,
        ..FarmConfig::default()
    };
    Farm::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_handler_runs_one_shard_from_a_sample_event() {
    let farm = farm(120).await;
    let mut config = Config::default();
    config.receiver.url = Some(farm.url());
    let engine = Engine::new(EngineConfig {
        policy: AddressPolicy::allow_private(),
        icmp: IcmpMode::Unavailable(LAMBDA_ICMP.into()),
        ..EngineConfig::default()
    })
    .unwrap();
    let source: Arc<dyn EndpointSource> =
        Arc::new(ApiSource::new(&farm.url(), None, Duration::from_secs(5), 10).unwrap());
    let metrics = Arc::new(Metrics::default());
    let delivery = Arc::new(Delivery::new(&config, metrics.clone()).unwrap());
    let probe = Probe::new(engine, source, delivery, metrics, 1000);
    let default_region = Region::parse("home").unwrap();

    let event: ProbeEvent =
        serde_json::from_str(r#"{"region":"eu-west-1","shard":1,"shards":2}"#).unwrap();
    let summary = handle(&probe, &default_region, Duration::ZERO, event)
        .await
        .unwrap();
    assert_eq!(
        (summary.region.as_str(), summary.shard, summary.shards),
        ("eu-west-1", 1, 2)
    );
    assert_eq!(
        summary.endpoints, 60,
        "the farm shards by index: odd targets"
    );
    let expected_down = (0..120u64)
        .filter(|i| i % 2 == 1)
        .filter(|i| {
            let p = profile(7, *i);
            p.hang || p.status == 500 || p.delay_ms >= 2000.0
        })
        .count();
    assert_eq!(
        summary.by_outcome.get("down").copied().unwrap_or(0),
        expected_down
    );
    assert_eq!(farm.sink().results, 60);

    let bad: ProbeEvent = serde_json::from_str(r#"{"shard":2,"shards":2}"#).unwrap();
    let err = handle(&probe, &default_region, Duration::ZERO, bad)
        .await
        .unwrap_err();
    assert!(
        matches!(err, HandlerError::BadEvent(ref m) if m.contains("out of range")),
        "{err}"
    );
    assert!(
        serde_json::from_str::<ProbeEvent>(r#"{"shrad":1}"#).is_err(),
        "typos in events are refused"
    );
}

fn probe_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_probe"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_check_prints_json_and_exits_by_outcome() {
    let farm = farm(200).await;
    let up = (0..200)
        .find(|i| {
            let p = profile(7, *i);
            !p.hang && p.status == 200 && p.delay_ms < 500.0
        })
        .unwrap();
    let err = (0..200)
        .find(|i| {
            let p = profile(7, *i);
            !p.hang && p.status == 500 && p.delay_ms < 500.0
        })
        .unwrap();
    let url = farm.target_url(up, "");
    let out = tokio::task::spawn_blocking(move || {
        probe_bin()
            .args([
                "check",
                &url,
                "--json",
                "--allow-private",
                "--timeout-ms",
                "3000",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "up");
    assert!(v["reason"].is_null());
    assert_eq!(v["status"], 200);
    for k in ["dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "total_ms"] {
        assert!(v["timings"].get(k).is_some(), "timings.{k} missing: {v}");
    }
    assert!(v["timings"]["total_ms"].as_f64().unwrap() >= profile(7, up).delay_ms);

    let url = farm.target_url(err, "");
    let out = tokio::task::spawn_blocking(move || {
        probe_bin()
            .args(["check", &url, "--allow-private"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("DOWN (status)"), "{text}");
    assert!(
        text.contains("first byte") && text.contains("total"),
        "{text}"
    );

    // The guard is on unless asked: loopback is refused, exit 1 with reason blocked.
    let url = farm.target_url(up, "");
    let out = tokio::task::spawn_blocking(move || {
        probe_bin()
            .args(["check", &url, "--json"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reason"], "blocked");
    assert_eq!(
        farm.holds("").len(),
        2,
        "the refused check never reached the farm"
    );
}

#[test]
fn bad_usage_exits_2_with_a_message() {
    for args in [
        vec!["check", "ftp://example.com/"],
        vec!["check", "http://example.com/", "--timeout-ms", "0"],
        vec!["check", "http://example.com/", "--expect-status", "999"],
        vec!["check", "http://example.com/", "--body-regex", "("],
        vec!["check"],
        vec!["frobnicate"],
    ] {
        let out = probe_bin().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?} printed no message");
    }
    let out = probe_bin()
        .args(["check", "http://example.com/", "--timeout-ms", "0"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("timeout_ms"),
        "the field is named"
    );
}

#[test]
fn help_lists_every_option_with_defaults() {
    let out = probe_bin().args(["--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "probe.max_in_flight = 1000",
        "SCOVILLE_PROBE__REGION",
        "delivery.buffer_max = 100000",
        "receiver.url",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_run_once_checks_a_file_and_delivers() {
    let farm = farm(10).await;
    let dir = std::env::temp_dir().join(format!("scoville-run-once-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let endpoints: Vec<serde_json::Value> = (0..10u64)
        .map(|i| serde_json::json!({"id": format!("e{i}"), "check": {"type":"http","url": farm.target_url(i, "cli"), "timeout_ms": 2000}}))
        .collect();
    let file = dir.join("endpoints.json");
    std::fs::write(
        &file,
        serde_json::json!({"endpoints": endpoints}).to_string(),
    )
    .unwrap();
    let config = dir.join("probe.toml");
    std::fs::write(&config, format!(
        "[probe]\nregion = \"cli-test\"\nallow_private = true\n[endpoints]\nfile = {:?}\n[receiver]\nurl = {:?}\n",
        file.display().to_string(), farm.url()
    )).unwrap();
    let cfg = config.clone();
    let out = tokio::task::spawn_blocking(move || {
        probe_bin()
            .args(["run", "--once", "--config"])
            .arg(&cfg)
            .env("SCOVILLE_PROBE__SPREAD", "0")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["endpoints"], 10);
    assert_eq!(summary["region"], "cli-test");
    assert_eq!(farm.sink().results, 10);
    assert_eq!(farm.holds("cli").len(), 10);

    // A receiver nobody answers at: the run says its results are lost, and exits 3.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let lost = dir.join("lost.toml");
    std::fs::write(&lost, format!(
        "[probe]\nregion = \"cli-test\"\nallow_private = true\n[endpoints]\nfile = {:?}\n[receiver]\nurl = {nowhere:?}\n[delivery]\nattempts = 1\n",
        file.display().to_string()
    )).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        probe_bin()
            .args(["run", "--once", "--config"])
            .arg(&lost)
            .env("SCOVILLE_PROBE__SPREAD", "0")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("10 results were not delivered"), "{stderr}");

    std::fs::write(&config, "[probe]\nmax_in_flight = \"many\"\n").unwrap();
    let out = probe_bin()
        .args(["run", "--once", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("probe.max_in_flight"),
        "the key is named"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_run_serves_health_and_metrics_where_it_says() {
    use tokio::io::AsyncBufReadExt;
    let farm = farm(5).await;
    let dir = std::env::temp_dir().join(format!("scoville-listen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("endpoints.json");
    let endpoints: Vec<serde_json::Value> = (0..5u64)
        .map(|i| serde_json::json!({"id": format!("e{i}"), "check": {"type":"http","url": farm.target_url(i, "listen")}}))
        .collect();
    std::fs::write(
        &file,
        serde_json::json!({ "endpoints": endpoints }).to_string(),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_probe"))
        .args(["run", "--listen", "127.0.0.1:0", "--endpoints-file"])
        .arg(&file)
        .env("SCOVILLE_PROBE__ALLOW_PRIVATE", "true")
        .env("SCOVILLE_PROBE__SPREAD", "0")
        .env("SCOVILLE_RECEIVER__URL", farm.url())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let base = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first}"));
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The first round runs at once; wait for its results to be counted.
    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("scoville_probe_results_delivered_total{service=\"receiver\"} 5") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        metrics.contains("scoville_probe_results_delivered_total{service=\"receiver\"} 5"),
        "{metrics}"
    );
    assert!(metrics.contains("# TYPE scoville_probe_checks_total counter"));
    // A valid exposition: the five checks by outcome, and the listener's own requests.
    let parsed = scoville_service_kit::metrics::check::parse(&metrics)
        .unwrap_or_else(|e| panic!("/metrics is not a valid exposition: {e}\n{metrics}"));
    let checks: f64 = parsed
        .samples("scoville_probe_checks_total", &[])
        .iter()
        .map(|s| s.value)
        .sum();
    assert_eq!(checks, 5.0, "{metrics}");
    assert_eq!(
        parsed.value(
            "scoville_http_requests_total",
            &[("route", "/healthz"), ("method", "GET"), ("status", "2xx")]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    child.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
