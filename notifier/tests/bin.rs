//! The `notifier` binary as a process: a bad configuration stops it naming the key; it
//! prints where it listens, serves health and metrics, drains SQS (moto) into a channel,
//! and stops cleanly on SIGTERM; `notifier test <id>` sends a test notification.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use scoville_notifier::queue::JobQueue;
use scoville_notifier::queue::sqs::{SqsJobQueue, SqsSettings};
use scoville_tests::moto::MotoServer;
use support::{Recorder, job};

const BIN: &str = env!("CARGO_BIN_EXE_notifier");

fn command(config: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config")
        .arg(config)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env("RUST_LOG", "warn");
    cmd
}

#[test]
fn a_bad_configuration_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.toml");
    std::fs::write(
        &path,
        "[channels.ops]\ntype = \"discord\"\nwebhook_url = \"discord.com/api/webhooks/1/x\"\n",
    )
    .unwrap();
    let out = command(&path).arg("check-config").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("channels.ops.webhook_url"), "{err}");
    assert!(
        !err.contains("discord.com/api"),
        "the URL is a secret: {err}"
    );

    std::fs::write(&path, "[delivery]\nmax_attempts = 0\n").unwrap();
    let out = command(&path).arg("check-config").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("delivery.max_attempts"));
}

#[tokio::test]
async fn runs_against_sqs_serves_health_and_stops_on_sigterm() {
    let moto = MotoServer::start();
    let client = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    let url = client
        .create_queue()
        .queue_name("notify")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let rec = Recorder::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[notifier]
listen = "127.0.0.1:0"
allow_private = true
wait_ms = 1000
gather_ms = 100
[queue]
url = "{url}"
endpoint_url = "{endpoint}"
[dedup]
kind = "memory"
[channels.hook]
type = "webhook"
url = "{hook}"
secret = "k"
"#,
            endpoint = moto.endpoint(),
            hook = rec.url("/hook"),
        ),
    )
    .unwrap();

    // `notifier test` first: one marked message, no queue involved.
    // Blocking wait off the runtime: the recording server runs on it.
    let mut test_cmd = command(&path);
    test_cmd.args(["test", "hook"]);
    let out = tokio::task::spawn_blocking(move || test_cmd.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(rec.count(), 1);
    assert_eq!(rec.requests()[0].json()["test"], true);

    let mut child = command(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .to_string();
    let http = reqwest::Client::new();
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    let queue = SqsJobQueue::new(
        client,
        SqsSettings {
            queue_url: url,
            dead_letter_url: None,
            max_receives: 5,
        },
    );
    queue.send(&[job("hook", 42)]).await.unwrap();
    let reqs = rec.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(reqs[1].json()["endpoint_id"], "ep-42");

    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("scoville_notifier_jobs_total{outcome=\"sent\"} 1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        metrics.contains("scoville_notifier_jobs_total{outcome=\"sent\"} 1"),
        "{metrics}"
    );
    // A valid exposition: the delivery by channel type and result, the queue's depth (SQS's
    // attributes) and the requests to the notifier's own routes.
    let parsed = scoville_service_kit::metrics::check::parse(&metrics)
        .unwrap_or_else(|e| panic!("/metrics is not a valid exposition: {e}\n{metrics}"));
    assert_eq!(
        parsed.value(
            "scoville_notifier_deliveries_total",
            &[("channel", "webhook"), ("result", "sent")]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert!(
        parsed
            .value("scoville_notifier_queue_depth", &[])
            .is_some_and(|d| d >= 0.0),
        "{metrics}"
    );
    assert_eq!(
        parsed.value(
            "scoville_http_requests_total",
            &[("route", "/healthz"), ("method", "GET"), ("status", "2xx")]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // SIGTERM to the process this test started.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}
