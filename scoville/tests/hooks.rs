//! Result hooks end to end in `scoville up` (one process, real HTTP between the parts):
//! two hooks of the org, one of every result and one of state changes, at real local
//! webhooks; an endpoint that lists neither goes down. Both hooks hear the "down" (signed
//! with their own secret); the `all` hook gets every result of the org exactly once, in
//! batches; the `state_changes` hook gets no results.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod support;

use scoville_notifier::channel::webhook::signature;
use scoville_tests::recorder::{Recorded, Recorder};
use serde_json::{Value, json};
use support::{TempDir, started, target};

async fn post(http: &reqwest::Client, url: String, key: &str, body: Value) -> Value {
    let resp = http
        .post(&url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{url}: {status} {body}");
    body
}

fn schema(r: &Recorded) -> String {
    r.json()["schema"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_hooks_hear_state_changes_and_every_result_once() {
    let dir = TempDir::new("hooks");
    let (running, key) = started(&dir).await;
    let admin = running.admin_url.clone();
    let http = reqwest::Client::new();

    let all = Recorder::start().await;
    let changes = Recorder::start().await;
    let mut secrets = Vec::new();
    for (name, rec, events) in [("lake", &all, "all"), ("pager", &changes, "state_changes")] {
        let h = post(
            &http,
            format!("{admin}/v1/hooks"),
            &key,
            json!({"name": name, "url": rec.url("/in"), "events": events}),
        )
        .await;
        secrets.push(h["secret"].as_str().unwrap().to_string());
    }
    let up = Arc::new(AtomicBool::new(true));
    let url = target(up.clone()).await;
    // The endpoint lists no channel and no hook.
    let ep = post(
        &http,
        format!("{admin}/v1/endpoints"),
        &key,
        json!({"name": "shop", "check": {"type": "http", "url": url}, "regions": ["local"],
               "confirm_regions": 1}),
    )
    .await;
    let id = ep["id"].as_str().unwrap().to_string();

    let t0 = (scoville_admin_api::app::now_ms() - 3_600_000) / 60_000 * 60_000;
    let mut checked = 0;
    for minute in 1..=4 {
        up.store(minute < 4, Ordering::SeqCst);
        checked += running
            .probe_round_at(Some(t0 + minute * 60_000))
            .await
            .unwrap();
    }
    assert_eq!(checked, 8, "the sample endpoint and ours, four rounds");

    // Both hooks hear the "down" of an endpoint that names neither.
    for rec in [&changes, &all] {
        let deadline = Instant::now() + Duration::from_secs(40);
        while !rec
            .requests()
            .iter()
            .any(|r| schema(r) == "scoville.notice.v1")
        {
            assert!(Instant::now() < deadline, "no down notice at a hook");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Every result of the org reaches the `all` hook, once.
    let deadline = Instant::now() + Duration::from_secs(60);
    let count_results = |rec: &Recorder| -> HashMap<(String, i64), usize> {
        let mut seen = HashMap::new();
        for r in rec.requests() {
            if schema(&r) != "scoville.results.v1" {
                continue;
            }
            for res in r.json()["results"].as_array().unwrap() {
                let k = (
                    res["endpoint_id"].as_str().unwrap().to_string(),
                    res["started_at_ms"].as_i64().unwrap(),
                );
                *seen.entry(k).or_insert(0) += 1;
            }
        }
        seen
    };
    while count_results(&all).len() < 8 {
        assert!(
            Instant::now() < deadline,
            "results at the all hook: {:?}",
            count_results(&all)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let seen = count_results(&all);
    assert_eq!(seen.len(), 8, "{seen:?}");
    assert!(seen.values().all(|&n| n == 1), "a result twice: {seen:?}");
    assert_eq!(seen.keys().filter(|(e, _)| *e == id).count(), 4);

    for (rec, secret) in [(&all, &secrets[0]), (&changes, &secrets[1])] {
        for r in rec.requests() {
            assert_eq!(
                r.header("x-scoville-signature").unwrap(),
                signature(secret.as_bytes(), &r.body),
                "signed with the hook's own secret"
            );
        }
    }
    let notices: Vec<Value> = changes.requests().iter().map(|r| r.json()).collect();
    assert!(
        notices.iter().all(|n| n["schema"] == "scoville.notice.v1"),
        "the state-changes hook gets no results: {notices:?}"
    );
    assert_eq!(
        notices.iter().filter(|n| n["kind"] == "down").count(),
        1,
        "{notices:?}"
    );
    assert_eq!(notices[0]["endpoint_id"], id.as_str());
    running.stop().await.unwrap();
}
