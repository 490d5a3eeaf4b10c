//! The worker on a real redis-server and a real influxd: exact points back, idempotent
//! redelivery, rollups that stay right with late and repeated results, poison entries to
//! the dead-letter stream, InfluxDB down and back, and a worker process killed with
//! SIGKILL again and again in the middle of a drain.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use scoville_receiver_service::queue::redis::RedisQueue;
use scoville_receiver_service::queue::redis_consumer::RedisConsumer;
use scoville_receiver_service::queue::{QueuedBatch, ResultQueue};
use scoville_receiver_service::store::influx::{InfluxAuth, InfluxSettings, InfluxStore};
use scoville_receiver_service::worker::{Worker, WorkerSettings};
use support::{InfluxServer, RedisServer, batch_at};

const STREAM: &str = "scoville:results";
const MINUTE: i64 = 60_000;

fn store(influx: &InfluxServer) -> InfluxStore {
    InfluxStore::new(InfluxSettings {
        url: influx.url(),
        database: "scoville_test".into(),
        retention_policy: None,
        auth: InfluxAuth::None,
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

fn queue(redis: &RedisServer) -> RedisQueue {
    RedisQueue::new(redis.url(), STREAM, 10_000_000, Duration::from_secs(2)).unwrap()
}

fn worker(redis: &RedisServer, store: InfluxStore, consumer: &str) -> Worker {
    let consumer = RedisConsumer::new(
        redis.url(),
        STREAM,
        consumer,
        Duration::from_millis(500),
        Duration::from_secs(2),
    )
    .unwrap();
    let settings = WorkerSettings {
        batch_entries: 10,
        block: Duration::from_millis(100),
        ..WorkerSettings::default()
    };
    Worker::new(Arc::new(consumer), Arc::new(store), settings)
}

async fn push(q: &RedisQueue, batch: &serde_json::Value) {
    let n = batch["results"].as_array().unwrap().len() as u32;
    q.push(QueuedBatch {
        count: n,
        body: batch.to_string().into(),
    })
    .await
    .unwrap();
}

async fn drain(w: &Worker, q: &RedisQueue) {
    for _ in 0..200 {
        w.step().await;
        if q.backlog().await.unwrap() == 0 {
            w.rollup_pass(true).await;
            return;
        }
    }
    panic!("the queue did not drain");
}

async fn scalar(store: &InfluxStore, q: &str) -> serde_json::Value {
    let answer = store.query(q, serde_json::json!({})).await.unwrap();
    answer["results"][0]["series"][0]["values"][0][1].clone()
}

/// A minute-aligned time in the recent past, so rollups of open hours are exercised too.
fn minute_ago(n: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    (now / MINUTE - n) * MINUTE
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_drain_and_the_exact_points_come_back() {
    let (redis, influx) = (RedisServer::start(), InfluxServer::start());
    let store = store(&influx);
    store.ensure_database().await.unwrap();
    let q = queue(&redis);
    let at = minute_ago(3);
    push(&q, &batch_at(0, 40, at, &[50.0, 150.0, 600.0], true)).await;
    push(&q, &batch_at(40, 10, at + 1000, &[20.0], false)).await;
    drain(&worker(&redis, store.clone(), "w1"), &q).await;

    assert_eq!(
        scalar(&store, "SELECT count(total_ms) FROM check_result").await,
        50
    );
    let one = store
        .query(
            "SELECT total_ms, up, outcome, message, satisfied, tolerating FROM check_result WHERE endpoint_id = $e",
            serde_json::json!({"e": "e1"}),
        )
        .await
        .unwrap();
    let row = &one["results"][0]["series"][0]["values"][0];
    assert_eq!(row[0], at, "timestamped with the check's start");
    assert_eq!(row[1], 150.0);
    assert_eq!(row[2], 1);
    assert_eq!(row[3], "up");
    assert_eq!(row[4], "a \"quoted\" message, with commas");
    assert_eq!(
        (row[5].clone(), row[6].clone()),
        (serde_json::json!(0), serde_json::json!(1)),
        "150 ms with T=100 tolerates"
    );

    // Minute rollup of e1's minute: one sample, up, tolerating.
    let r = store
        .query("SELECT \"count\", up, satisfied, tolerating, frustrated, p50 FROM rollup_1m WHERE endpoint_id = $e", serde_json::json!({"e": "e1"}))
        .await
        .unwrap();
    assert_eq!(
        r["results"][0]["series"][0]["values"][0],
        serde_json::json!([at, 1, 1, 0, 1, 0, 150])
    );
    assert_eq!(
        scalar(&store, "SELECT sum(\"count\") FROM rollup_1h").await,
        50
    );
    assert_eq!(
        scalar(&store, "SELECT sum(frustrated) FROM rollup_1m").await,
        13 + 10,
        "600 ms and the down ones"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_posted_three_times_are_stored_once_and_rollups_stay_right() {
    let (redis, influx) = (RedisServer::start(), InfluxServer::start());
    let store = store(&influx);
    store.ensure_database().await.unwrap();
    let q = queue(&redis);
    let at = minute_ago(5);
    let batch = batch_at(0, 30, at, &[40.0], true);
    for _ in 0..3 {
        push(&q, &batch).await;
    }
    let w = worker(&redis, store.clone(), "w1");
    drain(&w, &q).await;
    assert_eq!(
        scalar(&store, "SELECT count(total_ms) FROM check_result").await,
        30
    );
    assert_eq!(
        scalar(&store, "SELECT sum(\"count\") FROM rollup_1m").await,
        30
    );

    // A late result for the same minute updates the rollup.
    push(&q, &batch_at(0, 1, at + 30_000, &[40.0], true)).await;
    drain(&w, &q).await;
    assert_eq!(
        scalar(&store, "SELECT sum(\"count\") FROM rollup_1m").await,
        31
    );
    assert_eq!(
        scalar(&store, "SELECT sum(\"count\") FROM rollup_1h").await,
        31
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_entry_goes_to_the_dead_letter_stream_and_the_rest_flows() {
    let (redis, influx) = (RedisServer::start(), InfluxServer::start());
    let store = store(&influx);
    store.ensure_database().await.unwrap();
    let q = queue(&redis);
    let at = minute_ago(2);
    push(&q, &batch_at(0, 5, at, &[10.0], true)).await;
    q.push(QueuedBatch {
        count: 3,
        body: "{\"results\": [oops".into(),
    })
    .await
    .unwrap();
    push(&q, &batch_at(5, 5, at, &[10.0], true)).await;
    drain(&worker(&redis, store.clone(), "w1"), &q).await;
    assert_eq!(
        scalar(&store, "SELECT count(total_ms) FROM check_result").await,
        10
    );
    let mut c = redis.connection();
    let dead: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("scoville:results:dead")
        .arg("-")
        .arg("+")
        .query(&mut c)
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0]
            .1
            .iter()
            .any(|(k, v)| k == "reason" && v.starts_with("unparseable batch")),
        "{dead:?}"
    );
    let len: u64 = redis::cmd("XLEN").arg(STREAM).query(&mut c).unwrap();
    assert_eq!(len, 0, "acknowledged entries are deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influxdb_down_keeps_the_backlog_and_drains_it_when_back() {
    let (redis, mut influx) = (RedisServer::start(), InfluxServer::start());
    let store = store(&influx);
    store.ensure_database().await.unwrap();
    let q = queue(&redis);
    influx.stop();
    let at = minute_ago(4);
    for i in 0..5 {
        push(&q, &batch_at(i * 20, 20, at, &[30.0], true)).await;
    }
    let w = Arc::new(worker(&redis, store.clone(), "w1"));
    let running = {
        let w = w.clone();
        tokio::spawn(async move { w.run(std::future::pending()).await })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        q.backlog().await.unwrap(),
        100,
        "nothing is acknowledged while InfluxDB is down"
    );
    influx.restart();
    for _ in 0..200 {
        if q.backlog().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    running.abort();
    assert_eq!(q.backlog().await.unwrap(), 0);
    assert_eq!(
        scalar(&store, "SELECT count(total_ms) FROM check_result").await,
        100
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_again_and_again_loses_nothing_and_doubles_nothing() {
    let (redis, influx) = (RedisServer::start(), InfluxServer::start());
    let store = store(&influx);
    store.ensure_database().await.unwrap();
    let q = queue(&redis);
    let at = minute_ago(6);
    let (batches, per) = (200, 100);
    for b in 0..batches {
        push(
            &q,
            &batch_at(b * per, per, at + b as i64, &[25.0, 75.0], true),
        )
        .await;
    }
    let run_worker = |kill_after: Option<Duration>| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_receiver"))
            .arg("worker")
            .env("SCOVILLE_QUEUE__REDIS_URL", redis.url())
            .env("SCOVILLE_INFLUX__URL", influx.url())
            .env("SCOVILLE_INFLUX__DATABASE", "scoville_test")
            .env("SCOVILLE_WORKER__CONSUMER", "killable")
            .env("SCOVILLE_WORKER__BATCH_ENTRIES", "5")
            .env("SCOVILLE_WORKER__CLAIM_IDLE_MS", "500")
            .env("SCOVILLE_WORKER__ROLLUP_EVERY_MS", "200")
            .env("SCOVILLE_WORKER__SETTLE_MS", "0")
            .env("SCOVILLE_LOG__LEVEL", "error")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        if let Some(after) = kill_after {
            std::thread::sleep(after);
            // SIGKILL: no chance to finish the step or acknowledge anything.
            child.kill().unwrap();
        }
        child
    };
    let mut kills = 0;
    for i in 0..20u64 {
        let backlog = q.backlog().await.unwrap();
        if backlog == 0 {
            break;
        }
        let child = run_worker(Some(Duration::from_millis(150 + (i * 37) % 200)));
        let mut child = child;
        let _ = child.wait();
        kills += 1;
    }
    assert!(kills >= 3, "the drain was interrupted {kills} times");
    let mut finisher = run_worker(None);
    let total = (batches * per) as u64;
    let mut rolled = serde_json::Value::Null;
    for _ in 0..600 {
        if q.backlog().await.unwrap() == 0 {
            rolled = scalar(&store, "SELECT sum(\"count\") FROM rollup_1m").await;
            if rolled == total {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = finisher.kill();
    let _ = finisher.wait();
    assert_eq!(q.backlog().await.unwrap(), 0);
    assert_eq!(
        scalar(&store, "SELECT count(total_ms) FROM check_result").await,
        total,
        "none lost, none doubled"
    );
    assert_eq!(rolled, total, "the rollups count every result once");
}
