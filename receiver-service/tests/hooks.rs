//! Every result to an org's `all` result hooks, on real parts: the receiver's worker drains
//! its queue into SQLite and queues the results on the notifier's in-process queue; the
//! notifier's worker delivers them to a real local HTTP server. Each result arrives exactly
//! once (counted by id), signed (the HMAC checked here, by hand, with the hook's secret);
//! a hook answering 500 is retried and then gets them, nothing doubled; an entry handled
//! twice (a worker crashing before its acknowledgement) is delivered once; a hook that
//! keeps failing is dead-lettered after the policy's tries.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use scoville_core::hook::QueuedJob;
use scoville_core::{AddressPolicy, CheckResult, OrgId};
use scoville_notifier::channel::ChannelConfig;
use scoville_notifier::dedup::MemoryDedup;
use scoville_notifier::delivery::DeliveryPolicy;
use scoville_notifier::directory::MemoryDirectory;
use scoville_notifier::dispatch::{Dispatcher, Grouping};
use scoville_notifier::http::SendContext;
use scoville_notifier::queue::JobQueue;
use scoville_notifier::queue::memory::{MemoryJobQueue, MemoryQueueSettings};
use scoville_notifier::worker::{Worker as Notifier, WorkerSettings as NotifierSettings};
use scoville_receiver_service::hooks::{ResultHooks, StaticHookDirectory};
use scoville_receiver_service::queue::memory::MemoryQueue;
use scoville_receiver_service::queue::{QueuedBatch, ResultQueue};
use scoville_receiver_service::store::sqlite::SqliteStore;
use scoville_receiver_service::worker::{Worker, WorkerSettings};
use scoville_tests::recorder::{Recorder, Reply};
use sha2::{Digest, Sha256};

const SECRET: &str = "whsec_test_0123456789";

/// HMAC-SHA256 by its definition (RFC 2104), independent of the notifier's code.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> String {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let inner: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x36)
        .chain(msg.iter().copied())
        .collect();
    let inner = Sha256::digest(&inner);
    let outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).chain(inner).collect();
    format!("sha256={}", hex::encode(Sha256::digest(&outer)))
}

fn notification_queue(max_receives: u32) -> Arc<MemoryJobQueue> {
    Arc::new(MemoryJobQueue::new(MemoryQueueSettings {
        capacity: 10_000,
        visibility_timeout: Duration::from_secs(30),
        max_receives,
        dead_letter_capacity: 100,
    }))
}

fn notifier(queue: Arc<MemoryJobQueue>, hook_url: &str, max_attempts: u32) -> Notifier {
    let mut dir = MemoryDirectory::new();
    dir.insert(
        "hk_lake",
        ChannelConfig::parse_value(
            serde_json::json!({"type": "webhook", "url": hook_url, "secret": SECRET}),
        )
        .unwrap(),
    )
    .unwrap();
    let policy = DeliveryPolicy {
        max_attempts,
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(5),
        requeue_max: Duration::from_millis(100),
    };
    let ctx = SendContext::new(AddressPolicy::allow_private(), Duration::from_secs(5)).unwrap();
    let dispatcher = Arc::new(Dispatcher::new(
        Arc::new(dir),
        Arc::new(MemoryDedup::default()),
        ctx,
        policy,
        Grouping::default(),
    ));
    let q: Arc<dyn JobQueue> = queue;
    Notifier::new(
        q,
        dispatcher,
        NotifierSettings {
            batch_max: 100,
            wait: Duration::from_millis(100),
            gather: Duration::from_millis(20),
        },
    )
}

fn hooks(queue: Arc<MemoryJobQueue>) -> Arc<ResultHooks> {
    let dir =
        StaticHookDirectory::default().with(OrgId::parse("org-1").unwrap(), vec!["hk_lake".into()]);
    Arc::new(ResultHooks::new(Arc::new(dir), queue))
}

/// A batch of `n` results of `org`, endpoints `e{first}...`.
fn batch(org: &str, first: usize, n: usize) -> serde_json::Value {
    let mut b = support::batch_at(first, n, 1_790_000_000_000, &[40.0], true);
    for r in b["results"].as_array_mut().unwrap() {
        r["org_id"] = org.into();
    }
    b
}

async fn push(q: &MemoryQueue, batch: &serde_json::Value) {
    let count = batch["results"].as_array().unwrap().len() as u32;
    q.push(QueuedBatch {
        count,
        body: batch.to_string().into(),
    })
    .await
    .unwrap();
}

/// Runs notifier cycles until the queue is empty.
async fn deliver_all(n: &Notifier, q: &MemoryJobQueue) {
    for _ in 0..200 {
        if q.is_empty() {
            return;
        }
        n.run_cycle().await.unwrap();
    }
    panic!("the notification queue did not empty");
}

fn store() -> Arc<SqliteStore> {
    let dir = scoville_tests::procs::temp_dir("scoville-hooks-worker");
    Arc::new(SqliteStore::open(&dir.join("results.db")).unwrap())
}

#[tokio::test]
async fn every_result_reaches_the_all_hook_once_signed_through_500s() {
    // The hook fails three times first: 500, 500, 500.
    let rec = Recorder::with_script(vec![Reply::status(500); 3]).await;
    let jobs = notification_queue(5);
    let results = Arc::new(MemoryQueue::new(1_000_000));
    let worker = Worker::new(results.clone(), store(), WorkerSettings::default())
        .with_hooks(hooks(jobs.clone()));
    // 250 results of org-1 in two probe posts (100-result jobs: 3 + 1), and 7 of an org
    // without hooks.
    push(&results, &batch("org-1", 0, 230)).await;
    push(&results, &batch("org-2", 0, 7)).await;
    push(&results, &batch("org-1", 230, 20)).await;
    while worker.step().await.entries > 0 {}
    assert_eq!(jobs.len(), 4, "jobs: 100 + 100 + 30, then 20");
    let n = notifier(jobs.clone(), &rec.url("/lake"), 4);
    deliver_all(&n, &jobs).await;

    let reqs = rec.requests();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut delivered = 0;
    for r in &reqs {
        // Every attempt, failed or not, is signed over its exact body.
        assert_eq!(
            r.header("x-scoville-signature").unwrap(),
            hmac_sha256(SECRET.as_bytes(), &r.body),
            "signature"
        );
        assert_eq!(r.header("x-scoville-event"), Some("results"));
        let body = r.json();
        assert_eq!(body["schema"], "scoville.results.v1");
        assert_eq!(
            body["sent_at"].as_u64().unwrap().to_string(),
            r.header("x-scoville-timestamp").unwrap()
        );
        assert_eq!(
            body["dedup_key"].as_str(),
            r.header("x-scoville-delivery"),
            "the delivery id is the body's dedup key"
        );
        let results: Vec<CheckResult> = serde_json::from_value(body["results"].clone()).unwrap();
        assert!(results.len() <= 100);
        assert!(results.iter().all(|r| r.org_id.as_str() == "org-1"));
        delivered += 1;
        for res in results {
            *seen
                .entry(res.endpoint_id.as_str().to_string())
                .or_default() += 1;
        }
    }
    // 4 jobs, 3 extra attempts for the 500s; what was answered 200 counts once.
    assert_eq!(delivered, 4 + 3);
    let answered: HashMap<String, usize> = {
        let mut ok: HashMap<String, usize> = HashMap::new();
        for r in &reqs[3..] {
            let results: Vec<CheckResult> =
                serde_json::from_value(r.json()["results"].clone()).unwrap();
            for res in results {
                *ok.entry(res.endpoint_id.as_str().to_string()).or_default() += 1;
            }
        }
        ok
    };
    assert_eq!(answered.len(), 250, "every result of org-1 delivered");
    assert!(answered.values().all(|&c| c == 1), "none twice");
    assert!(seen.len() == 250);
    assert!(jobs.dead_letters().is_empty());

    // The worker crashed before acknowledging: the same entry is handled again. Its
    // jobs carry the same keys, and nothing more reaches the hook.
    let before = rec.count();
    let entry = batch("org-1", 230, 20);
    let parsed: Vec<CheckResult> = serde_json::from_value(entry["results"].clone()).unwrap();
    let queued = hooks(jobs.clone()).publish(&[&parsed[..]]).await.unwrap();
    assert_eq!(queued, 1);
    deliver_all(&n, &jobs).await;
    assert_eq!(
        rec.count(),
        before,
        "a batch handled twice is delivered once"
    );
}

#[tokio::test]
async fn a_hook_that_keeps_failing_is_dead_lettered_after_the_policys_tries() {
    let rec = Recorder::with_script(vec![Reply::status(500); 100]).await;
    let jobs = notification_queue(2);
    let results = Arc::new(MemoryQueue::new(1_000_000));
    let worker = Worker::new(results.clone(), store(), WorkerSettings::default())
        .with_hooks(hooks(jobs.clone()));
    push(&results, &batch("org-1", 0, 5)).await;
    while worker.step().await.entries > 0 {}
    let n = notifier(jobs.clone(), &rec.url("/lake"), 2);
    deliver_all(&n, &jobs).await;
    // 2 attempts per receive, 2 receives.
    assert_eq!(rec.count(), 4);
    let dead = jobs.dead_letters();
    assert_eq!(dead.len(), 1);
    match &dead[0].job {
        QueuedJob::Results(j) => {
            assert_eq!(j.hook_id, "hk_lake");
            assert_eq!(j.results.len(), 5);
        }
        other => panic!("not a results job: {other:?}"),
    }
    assert!(
        dead[0].reason.contains("gave up after 2 deliveries"),
        "{}",
        dead[0].reason
    );
}
