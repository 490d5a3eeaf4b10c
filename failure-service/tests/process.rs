//! The `failure-service` binary as a process, with the in-process queue drained by a
//! notifier in the same process into a webhook (a recording server): a two-region
//! outage arrives as one signed "down" webhook, and the receiver worker's degradation
//! sender, pointed at the process, gets its report accepted and delivered as "degraded".

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use scoville_receiver_service::trend::sender::{DegradationSender, Flush, SenderSettings};
use scoville_receiver_service::trend::{MemoryTrendState, TrendState};
use scoville_tests::recorder::Recorder;
use support::{T0, TOKEN, batch, result};

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &std::path::Path, hook: &str) -> (Process, String) {
    let hash = scoville_service_kit::auth::TokenHash::of(TOKEN).to_config_string();
    let config = dir.join("failure.toml");
    std::fs::write(
        &config,
        format!(
            "[failure]\nlisten = \"127.0.0.1:0\"\ntoken_hashes = [\"{hash}\"]\n\
             [store]\nsqlite_path = \"{}\"\n\
             [directory]\npublic_url = \"https://scoville.example\"\nchannels = [\"hook\"]\n",
            dir.join("incidents.db").display()
        ),
    )
    .unwrap();
    let notifier = dir.join("notifier.toml");
    std::fs::write(
        &notifier,
        format!(
            "[notifier]\nallow_private = true\nwait_ms = 100\ngather_ms = 10\n\
             [dedup]\nkind = \"memory\"\n\
             [channels.hook]\ntype = \"webhook\"\nurl = \"{hook}\"\nsecret = \"hook-secret\"\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_failure-service"))
        .arg("--config")
        .arg(&config)
        .arg("--notifier-config")
        .arg(&notifier)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    (Process(child), url)
}

#[tokio::test]
async fn an_outage_and_a_degradation_reach_the_webhook_through_the_process() {
    let dir = std::env::temp_dir().join(format!("scoville-failure-proc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hook = Recorder::start().await;
    let (_process, url) = start(&dir, &hook.url("/hook"));
    let client = reqwest::Client::new();

    // Two regions fail in one round.
    let body = batch(vec![
        result("ep-1", "eu-west-1", 0, false),
        result("ep-1", "us-east-1", 0, false),
    ]);
    let resp = client
        .post(format!("{url}/v1/failures"))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let got = hook.wait_for(1, Duration::from_secs(10)).await;
    let down = got[0].json();
    assert_eq!(down["kind"], "down", "{down}");
    assert_eq!(down["endpoint_id"], "ep-1");
    assert!(
        got[0]
            .header("x-scoville-signature")
            .unwrap()
            .starts_with("sha256=")
    );

    // The receiver worker's sender posts a degradation to the process.
    let state = Arc::new(MemoryTrendState::default());
    let report: scoville_core::degradation::DegradationReport = serde_json::from_value(serde_json::json!({
        "endpoint_id": "ep-2", "org_id": "org-1", "started_at_ms": T0, "detected_at_ms": T0 + 17 * 60_000,
        "kind": "apdex_trend", "baseline": 0.95, "current": 0.78
    }))
    .unwrap();
    state
        .commit(&[], std::slice::from_ref(&report))
        .await
        .unwrap();
    let sender = DegradationSender::new(
        state.clone(),
        SenderSettings {
            failure_url: format!("{url}/").parse().unwrap(),
            token: TOKEN.into(),
            timeout: Duration::from_secs(5),
            batch: 10,
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
            idle: Duration::from_millis(10),
        },
    )
    .unwrap();
    assert_eq!(sender.flush_once().await, Flush::Sent(1));
    let got = hook.wait_for(2, Duration::from_secs(10)).await;
    let degraded = got[1].json();
    assert_eq!(degraded["kind"], "degraded", "{degraded}");
    assert_eq!(degraded["endpoint_id"], "ep-2");
    // Nothing else was sent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hook.count(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}
