//! A heartbeat (push) check through `scoville up`, on the real receiver, failure
//! service, notifier and SQLite history: a job that stops pinging gets one "down" at a
//! real webhook when the sweep finds it overdue, its next ping one "recovered", a
//! `/fail` ping opens an incident again; the pings are history with the run's duration.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

mod support;

use scoville_admin_api::heartbeat::store::Heard;
use scoville_core::{EndpointId, OrgId};
use scoville_tests::recorder::Recorder;
use serde_json::{Value, json};
use support::{TempDir, kinds, started};

async fn wait_kinds(hook: &Recorder, want: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while kinds(hook) != want {
        assert!(
            Instant::now() < deadline,
            "wanted {want:?}, got {:?}",
            kinds(hook)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_job_is_one_down_and_its_next_ping_one_recovered() {
    let dir = TempDir::new("heartbeat");
    let (running, key) = started(&dir).await;
    let admin = running.admin_url.clone();
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        http.post(format!("{admin}{path}"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    let hook = Recorder::start().await;
    let channel: Value = post(
        "/v1/channels",
        json!({"name": "hook", "config": {"type": "webhook", "url": hook.url("/hook")}}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let r = post(
        "/v1/endpoints",
        json!({"name": "nightly backup", "channels": [channel["id"]],
               "check": {"type": "heartbeat", "period_s": 60, "grace_s": 30}}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let ep: Value = r.json().await.unwrap();
    let ping = ep["ping_url"].as_str().unwrap().to_string();
    assert!(ping.starts_with(&admin), "{ping}");
    let id = EndpointId::parse(ep["id"].as_str().unwrap()).unwrap();
    let org = OrgId::parse(ep["org_id"].as_str().unwrap()).unwrap();

    // The job last finished 100 s ago (it is due every 60 s, 30 s grace): the sweep
    // finds it overdue and the failure service opens an incident.
    let now = scoville_admin_api::app::now_ms();
    running
        .heartbeats()
        .store()
        .record(
            &org,
            &id,
            Heard::Finish {
                at_ms: now - 100_000,
                ok: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(running.sweep_heartbeats_at(now).await.unwrap(), 1);
    wait_kinds(&hook, &["down"]).await;
    let down = hook.requests()[0].json();
    assert_eq!(down["endpoint_name"], "nightly backup");
    assert!(
        down["error"].as_str().unwrap().contains("no ping for"),
        "{down}"
    );
    // Swept again: nothing new (reported once per deadline, and the incident is open).
    assert_eq!(running.sweep_heartbeats_at(now + 5_000).await.unwrap(), 0);

    // The job runs: /start, then its ping closes the incident.
    assert_eq!(
        http.get(format!("{ping}/start"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(http.get(&ping).send().await.unwrap().status(), 200);
    wait_kinds(&hook, &["down", "recovered"]).await;

    // A run that fails: down again, the job's message as the error.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = http
        .post(format!("{ping}/fail"))
        .body("disk full")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_kinds(&hook, &["down", "recovered", "down"]).await;
    let again = hook.requests()[2].json();
    assert!(
        again["error"].as_str().unwrap().contains("disk full"),
        "{again}"
    );

    // History: the missed ping, the good run (with its duration) and the failed one.
    let url = format!(
        "{admin}/v1/endpoints/{id}/results?from={}&to={}",
        now - 3_600_000,
        now + 3_600_000
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let results = loop {
        let r: Value = http
            .get(&url)
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let list = r["results"].as_array().cloned().unwrap_or_default();
        if list.len() >= 3 {
            break list;
        }
        assert!(Instant::now() < deadline, "results: {r}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(results.len(), 3, "{results:?}");
    let reasons: Vec<_> = results.iter().map(|r| r["reason"].clone()).collect();
    assert!(reasons.contains(&json!("missed_ping")), "{results:?}");
    assert!(reasons.contains(&json!("reported_failure")), "{results:?}");
    let good = results.iter().find(|r| r["outcome"] == "up").unwrap();
    let took = good["total_ms"]
        .as_f64()
        .or_else(|| good["timings"]["total_ms"].as_f64())
        .unwrap();
    assert!(took >= 250.0, "{good}");
    running.stop().await.unwrap();
}
