//! 1,000 endpoints down at once: every notice reaches every channel exactly once, chat
//! channels get digests, PagerDuty and webhooks one request per notice, and pacing
//! spaces requests without losing any.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use scoville_notifier::channel::Pace;
use scoville_notifier::dispatch::Grouping;
use scoville_notifier::queue::JobQueue;
use scoville_notifier::worker::CycleReport;
use serde_json::json;
use support::*;

const ENDPOINTS: usize = 1000;

fn ids(range: impl Iterator<Item = usize>) -> BTreeSet<String> {
    range.map(|i| format!("ep-{i}")).collect()
}

#[tokio::test]
async fn a_thousand_endpoints_down_at_once() {
    let slack = Recorder::start().await;
    let discord = Recorder::start().await;
    let hook = Recorder::start().await;
    let pd = Recorder::start().await;
    let dir = directory(&[
        (
            "slack",
            json!({"type": "slack", "webhook_url": slack.url("/s")}),
        ),
        (
            "discord",
            json!({"type": "discord", "webhook_url": discord.url("/d")}),
        ),
        (
            "hook",
            json!({"type": "webhook", "url": hook.url("/h"), "secret": "k"}),
        ),
        (
            "pd",
            json!({"type": "pagerduty", "routing_key": "k", "events_url": pd.url("/v2/enqueue")}),
        ),
    ]);
    let queue = memory_queue(Duration::from_secs(60), 5);
    let w = worker(
        queue.clone(),
        dispatcher(dir, memory_dedup(), fast_policy(4), fast_grouping()),
        1000,
    );
    // The failure service queues one job per endpoint and channel, in batches of 10.
    let channels = ["slack", "discord", "hook", "pd"];
    let jobs: Vec<_> = (0..ENDPOINTS)
        .flat_map(|i| channels.iter().map(move |c| job(c, i)))
        .collect();
    for chunk in jobs.chunks(10) {
        queue.send(chunk).await.unwrap();
    }

    let started = tokio::time::Instant::now();
    let mut total = CycleReport::default();
    for _ in 0..10 {
        let r = w.run_cycle().await.unwrap();
        total.received += r.received;
        total.sent += r.sent;
        total.retried += r.retried;
        total.dead_lettered += r.dead_lettered;
        if queue.is_empty() {
            break;
        }
    }
    let elapsed = started.elapsed();
    assert!(queue.is_empty());
    assert_eq!(total.sent, 4 * ENDPOINTS, "{total:?}");
    assert_eq!((total.retried, total.dead_lettered), (0, 0));

    // Slack: digests of 25, every endpoint listed exactly once.
    let mut seen = Vec::new();
    for r in slack.requests() {
        let body = r.json();
        let blocks = body["blocks"].as_array().unwrap();
        for b in &blocks[1..blocks.len() - 1] {
            let text = b["text"]["text"].as_str().unwrap();
            let id = text
                .split("/endpoints/")
                .nth(1)
                .unwrap()
                .split('|')
                .next()
                .unwrap();
            seen.push(id.to_string());
        }
    }
    assert_eq!(seen.len(), ENDPOINTS);
    assert_eq!(
        seen.iter().cloned().collect::<BTreeSet<_>>(),
        ids(0..ENDPOINTS)
    );
    // Discord: digests of 10 lines.
    let mut seen = Vec::new();
    for r in discord.requests() {
        let body = r.json();
        for line in body["embeds"][0]["description"].as_str().unwrap().lines() {
            seen.push(
                line.split("/endpoints/")
                    .nth(1)
                    .unwrap()
                    .split(')')
                    .next()
                    .unwrap()
                    .to_string(),
            );
        }
    }
    assert_eq!(seen.len(), ENDPOINTS);
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), ids(0..ENDPOINTS));
    // Webhook and PagerDuty: one request per notice.
    let hook_ids: BTreeSet<String> = hook
        .requests()
        .iter()
        .map(|r| r.json()["endpoint_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hook_ids, ids(0..ENDPOINTS));
    let pd_keys: BTreeSet<String> = pd
        .requests()
        .iter()
        .map(|r| r.json()["dedup_key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(pd_keys.len(), ENDPOINTS);

    let counts = [slack.count(), discord.count(), hook.count(), pd.count()];
    println!(
        "{} notices per channel in {elapsed:?}: slack {} requests, discord {}, webhook {}, pagerduty {}",
        ENDPOINTS, counts[0], counts[1], counts[2], counts[3]
    );
    assert_eq!(
        counts,
        [ENDPOINTS / 25, ENDPOINTS / 10, ENDPOINTS, ENDPOINTS]
    );
}

#[tokio::test]
async fn pacing_spaces_requests_and_defers_without_losing_any() {
    let rec = Recorder::start().await;
    let queue = memory_queue(Duration::from_secs(60), 4);
    let grouping = Grouping {
        pace: Some(Pace::new(20.0, 3)),
        max_pace_wait: Duration::from_millis(400),
        ..Grouping::default()
    };
    let w = worker(
        queue.clone(),
        dispatcher(
            directory(&[("h", json!({"type": "webhook", "url": rec.url("/h")}))]),
            memory_dedup(),
            fast_policy(4),
            grouping,
        ),
        100,
    );
    let n = 30;
    queue
        .send(&(0..n).map(|i| job("h", i)).collect::<Vec<_>>())
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    // First cycle: a burst of 3, then one every 50 ms until 400 ms of waiting are used
    // (8 more, a few more if sending itself took time and refilled the bucket); the rest
    // go back to the queue, each for about its turn.
    let first = w.run_cycle().await.unwrap();
    assert!((11..=14).contains(&first.sent), "{first:?}");
    assert_eq!(first.retried, n - first.sent, "{first:?}");
    let mut cycles = 1;
    while !queue.is_empty() && cycles < 50 {
        w.run_cycle().await.unwrap();
        cycles += 1;
    }
    let elapsed = started.elapsed();
    assert!(queue.is_empty());
    assert!(
        queue.dead_letters().is_empty(),
        "deferred jobs are not failures"
    );
    let reqs = rec.requests();
    let got: BTreeSet<String> = reqs
        .iter()
        .map(|r| r.json()["endpoint_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, ids(0..n));
    assert_eq!(reqs.len(), n);
    // 30 requests at 20/s with a burst of 3 take at least (30 - 3) / 20 s.
    assert!(elapsed >= Duration::from_millis(1300), "{elapsed:?}");
    // In any window the bucket never lets more through than burst + rate × window.
    for (i, a) in reqs.iter().enumerate() {
        for b in &reqs[i..] {
            let window = (b.at - a.at).as_secs_f64();
            let inside = reqs.iter().filter(|r| r.at >= a.at && r.at <= b.at).count();
            assert!(
                inside as f64 <= 3.0 + 20.0 * window + 1.0,
                "{inside} requests in {window:.3} s"
            );
        }
    }
}
