//! Adaptive backoff end to end on `scoville up`'s in-process wiring (probe, receiver,
//! failure service, notifier, admin API on one SQLite file): a target down for long is
//! checked less often, with one "down" and nothing more; the live status says so; once
//! it answers again it is checked every round and recovers with exactly one
//! "recovered". Rounds walk simulated minutes (the probe asks for the list due at each
//! round's time).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod support;

use scoville_admin_api::app::now_ms;
use scoville_admin_api::probe_list::fnv1a64;
use scoville_tests::recorder::Recorder;
use serde_json::{Value, json};
use support::{TempDir, call, kinds, started, target};

const MIN: i64 = 60_000;

/// The endpoint's entry in the live status.
async fn live(http: &reqwest::Client, admin: &str, key: &str, id: &str) -> Value {
    let text = http
        .get(format!("{admin}/v1/events?once=true"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data:"))
        .unwrap_or_else(|| panic!("{text}"));
    let event: Value = serde_json::from_str(data.trim()).unwrap();
    event["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_down_for_long_is_checked_less_often_and_recovers_once() {
    let dir = TempDir::new("backoff");
    let (running, key) = started(&dir).await;
    let admin = running.admin_url.clone();
    let http = reqwest::Client::new();
    let hook = Recorder::start().await;
    let channel = call(
        &http,
        reqwest::Method::POST,
        format!("{admin}/v1/channels"),
        &key,
        Some(json!({"name": "hook", "config": {"type": "webhook", "url": hook.url("/hook")}})),
    )
    .await;
    let up = Arc::new(AtomicBool::new(true));
    let url = target(up.clone()).await;
    // Backed off after a minute down: 2 minutes (the cap) once down for long.
    let ep = call(
        &http,
        reqwest::Method::POST,
        format!("{admin}/v1/endpoints"),
        &key,
        Some(
            json!({"name": "shop", "check": {"type": "http", "url": url}, "regions": ["local"],
            "confirm_regions": 1, "channels": [channel["id"]],
            "backoff": {"after_s": 60, "factor": 2, "max_interval_s": 120}}),
        ),
    )
    .await;
    let id = ep["id"].as_str().unwrap().to_string();
    let phase = fnv1a64(&id) % 2;

    // Rounds at simulated minutes from three hours ago (the probe asks for the list due
    // at each round's time): a round says whether ours was checked (the sample endpoint
    // always is) and whether, backed off to every other minute, it was due.
    let t0 = (now_ms() - 3 * 3_600_000) / MIN * MIN;
    let mut minute = 0;
    let mut round = |up_now: bool| {
        up.store(up_now, Ordering::SeqCst);
        minute += 1;
        let at = t0 + minute * MIN;
        let running = &running;
        async move {
            let n = running.probe_round_at(Some(at)).await.unwrap();
            (n == 2, (at / MIN) as u64 % 2 == phase)
        }
    };
    assert!(round(true).await.0);
    assert!(round(false).await.0);
    let got = hook.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(got[0].json()["kind"], "down", "{:?}", got[0].json());
    // The open incident reaches the probe's list within 5 s.
    tokio::time::sleep(Duration::from_secs(6)).await;

    // Down for long (from the third minute after the confirmation): rounds skip it in the
    // minutes it is not due and check it in the others, and nothing more is sent.
    for _ in 0..2 {
        round(false).await;
    }
    let (mut skipped, mut checked) = (0, 0);
    for _ in 0..6 {
        let (was_checked, due) = round(false).await;
        assert_eq!(was_checked, due, "checked only when due");
        if was_checked {
            checked += 1;
        } else {
            skipped += 1;
        }
    }
    assert_eq!((skipped, checked), (3, 3));
    let shown = live(&http, &admin, &key, &id).await;
    assert_eq!(
        (shown["status"].as_str(), shown["checked_every_s"].as_u64()),
        (Some("down"), Some(120)),
        "{shown}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(kinds(&hook), vec!["down"]);

    // It answers at its next due round; once that success is in the history it is
    // checked every round again and recovers.
    let mut tries = 0;
    while !round(true).await.0 {
        tries += 1;
        assert!(tries < 3, "never due");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while live(&http, &admin, &key, &id)
        .await
        .get("checked_every_s")
        .is_some()
    {
        assert!(
            Instant::now() < deadline,
            "the success never reached the list"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(40);
    while !kinds(&hook).contains(&"recovered".to_string()) {
        assert!(Instant::now() < deadline, "no recovery: {:?}", kinds(&hook));
        assert!(round(true).await.0, "checked every round once it answered");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        kinds(&hook),
        vec!["down", "recovered"],
        "exactly one of each"
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    for _ in 0..3 {
        assert!(round(true).await.0, "every round once recovered");
    }
    running.stop().await.unwrap();
}
