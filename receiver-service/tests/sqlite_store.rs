//! The embedded SQLite store: the same contract as InfluxDB's, on a real database file.

#![allow(clippy::unwrap_used)]

mod support;

use scoville_core::wire::ResultBatch;
use scoville_receiver_service::store::ResultStore;
use scoville_receiver_service::store::sqlite::SqliteStore;
use support::batch_at;

fn results(batch: serde_json::Value) -> Vec<scoville_core::CheckResult> {
    scoville_core::parse::from_json::<ResultBatch>(batch.to_string().as_bytes())
        .unwrap()
        .results
}

#[tokio::test]
async fn writes_are_idempotent_and_rollups_follow_late_results() {
    let dir = std::env::temp_dir().join(format!("scoville-sqlite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("scoville.db");
    let store = SqliteStore::open(&path).unwrap();
    let at = 1_790_000_040_000i64 / 60_000 * 60_000;
    // e0..e3: 50, 150, 600, 50 ms with T = 100: satisfied, tolerating, frustrated, satisfied.
    let first = results(batch_at(0, 4, at, &[50.0, 150.0, 600.0], true));
    for _ in 0..3 {
        store.write(&first).await.unwrap();
    }
    store
        .write(&results(batch_at(0, 1, at + 20_000, &[30.0], true)))
        .await
        .unwrap();
    store
        .write(&results(batch_at(0, 1, at + 40_000, &[70.0], false)))
        .await
        .unwrap();
    assert_eq!(
        store.count().await.unwrap(),
        6,
        "written three times, stored once"
    );
    store.rollup_minutes(at, at + 60_000).await.unwrap();
    store.rollup_hours(at, at + 60_000).await.unwrap();
    let e0 = store.rollups("1m", "e0").await.unwrap();
    assert_eq!(e0.len(), 1);
    let r = &e0[0];
    assert_eq!((r.start_ms, r.count, r.up), (at, 3, 2));
    assert_eq!(
        (r.satisfied, r.tolerating, r.frustrated),
        (2, 0, 1),
        "the down check is frustrated"
    );
    assert_eq!(
        (r.p50, r.mean),
        (Some(30.0), Some(40.0)),
        "latency of up checks only"
    );

    // A late result for the same minute: the recomputed rollup counts it, once.
    let late = results(batch_at(0, 1, at + 50_000, &[90.0], true));
    store.write(&late).await.unwrap();
    store.write(&late).await.unwrap();
    store
        .rollup_minutes(at + 50_000, at + 50_001)
        .await
        .unwrap();
    store.rollup_hours(at + 50_000, at + 50_001).await.unwrap();
    assert_eq!(store.rollups("1m", "e0").await.unwrap()[0].count, 4);
    let hour = store.rollups("1h", "e0").await.unwrap();
    assert_eq!((hour.len(), hour[0].count), (1, 4));
    assert_eq!(
        store.rollups("1m", "e2").await.unwrap()[0].frustrated,
        1,
        "600 ms > 4T"
    );

    // Data survives reopening.
    drop(store);
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.count().await.unwrap(), 7);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_drains_into_sqlite_through_the_same_trait() {
    use std::sync::Arc;
    use std::time::Duration;

    use scoville_receiver_service::queue::redis::RedisQueue;
    use scoville_receiver_service::queue::redis_consumer::RedisConsumer;
    use scoville_receiver_service::queue::{QueuedBatch, ResultQueue};
    use scoville_receiver_service::worker::{Worker, WorkerSettings};

    let redis = support::RedisServer::start();
    let queue = RedisQueue::new(
        redis.url(),
        "scoville:results",
        1_000_000,
        Duration::from_secs(2),
    )
    .unwrap();
    let at = 1_790_000_100_000i64 / 60_000 * 60_000;
    for b in 0..5 {
        let batch = batch_at(b * 20, 20, at, &[40.0], true);
        queue
            .push(QueuedBatch {
                count: 20,
                body: batch.to_string().into(),
            })
            .await
            .unwrap();
    }
    let store = SqliteStore::open(std::path::Path::new(":memory:")).unwrap();
    let consumer = RedisConsumer::new(
        redis.url(),
        "scoville:results",
        "w",
        Duration::from_secs(1),
        Duration::from_secs(2),
    )
    .unwrap();
    let settings = WorkerSettings {
        block: Duration::from_millis(50),
        ..WorkerSettings::default()
    };
    let worker = Worker::new(Arc::new(consumer), Arc::new(store.clone()), settings);
    while queue.backlog().await.unwrap() > 0 {
        worker.step().await;
    }
    worker.rollup_pass(true).await;
    assert_eq!(store.count().await.unwrap(), 100);
    assert_eq!(store.rollups("1m", "e7").await.unwrap()[0].count, 1);
}

#[tokio::test]
async fn the_embedded_pipeline_memory_queue_worker_sqlite_loses_nothing() {
    use std::sync::Arc;
    use std::time::Duration;

    use scoville_receiver_service::queue::memory::MemoryQueue;
    use scoville_receiver_service::queue::{QueuedBatch, ResultQueue};
    use scoville_receiver_service::worker::{Worker, WorkerSettings};

    let queue = Arc::new(MemoryQueue::new(10_000));
    let at = 1_790_000_200_000i64 / 60_000 * 60_000;
    for b in 0..4 {
        let batch = batch_at(b * 25, 25, at, &[40.0, 120.0], true);
        queue
            .push(QueuedBatch {
                count: 25,
                body: batch.to_string().into(),
            })
            .await
            .unwrap();
    }
    queue
        .push(QueuedBatch {
            count: 2,
            body: "not json".into(),
        })
        .await
        .unwrap();
    let store = SqliteStore::open(std::path::Path::new(":memory:")).unwrap();
    let settings = WorkerSettings {
        block: Duration::from_millis(10),
        ..WorkerSettings::default()
    };
    let worker = Worker::new(queue.clone(), Arc::new(store.clone()), settings);
    while queue.backlog().await.unwrap() > 0 {
        worker.step().await;
    }
    worker.rollup_pass(true).await;
    assert_eq!(store.count().await.unwrap(), 100);
    assert_eq!(queue.dead_letters().len(), 1);
    let r = &store.rollups("1m", "e1").await.unwrap()[0];
    assert_eq!(
        (r.count, r.tolerating),
        (1, 1),
        "120 ms with T = 100 tolerates"
    );
}
