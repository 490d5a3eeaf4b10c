//! The receiver as a server on port 0 against a real redis-server: batches land in the
//! stream with their counts, the backlog bound answers 503, a stopped Redis answers 503
//! and a restarted one is used again, and the probe's delivery posts into it.

#![allow(clippy::unwrap_used, clippy::type_complexity)]

mod support;

use std::time::Duration;

use scoville_receiver_service::auth::TokenHash;
use scoville_receiver_service::config::{Config, QueueKind};
use support::RedisServer;

const TOKEN: &str = "probe-token-for-redis-tests";

async fn start(redis: &RedisServer, max_backlog: u64) -> String {
    let mut config = Config::default();
    config.receiver.listen = "127.0.0.1:0".parse().unwrap();
    config.receiver.probe_token_hashes = vec![TokenHash::of(TOKEN).to_config_string()];
    config.queue.kind = QueueKind::Redis;
    config.queue.redis_url = redis.url();
    config.queue.max_backlog = max_backlog;
    config.queue.timeout_ms = 500;
    let app = scoville_receiver_service::app::build(&config)
        .await
        .unwrap();
    let addr = app.local_addr().unwrap();
    tokio::spawn(app.run_until_stopped());
    format!("http://{addr}")
}

async fn post(base: &str, n: usize) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/v1/results"))
        .bearer_auth(TOKEN)
        .json(&support::batch(n))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_land_in_the_stream_with_their_counts() {
    let redis = RedisServer::start();
    let base = start(&redis, 1_000_000).await;
    for n in [5, 7] {
        let resp = post(&base, n).await;
        assert_eq!(resp.status(), 201);
        assert_eq!(resp.json::<serde_json::Value>().await.unwrap()["queued"], n);
    }
    let mut c = redis.connection();
    let len: u64 = redis::cmd("XLEN")
        .arg("scoville:results")
        .query(&mut c)
        .unwrap();
    assert_eq!(len, 2);
    let backlog: u64 = redis::cmd("GET")
        .arg("scoville:results:backlog")
        .query(&mut c)
        .unwrap();
    assert_eq!(backlog, 12);
    let entries: Vec<(String, Vec<(String, Vec<u8>)>)> = redis::cmd("XRANGE")
        .arg("scoville:results")
        .arg("-")
        .arg("+")
        .query(&mut c)
        .unwrap();
    let fields: std::collections::HashMap<String, Vec<u8>> = entries[1].1.iter().cloned().collect();
    assert_eq!(fields["n"], b"7");
    let stored: scoville_core::wire::ResultBatch = serde_json::from_slice(&fields["b"]).unwrap();
    assert_eq!(stored.results.len(), 7);
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_backlog_limit_the_answer_is_503() {
    let redis = RedisServer::start();
    let base = start(&redis, 10).await;
    assert_eq!(post(&base, 8).await.status(), 201);
    let refused = post(&base, 5).await;
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "5");
    assert_eq!(
        post(&base, 2).await.status(),
        201,
        "what fits still goes in"
    );
    let mut c = redis.connection();
    let len: u64 = redis::cmd("XLEN")
        .arg("scoville:results")
        .query(&mut c)
        .unwrap();
    assert_eq!(len, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_means_503_and_service_resumes_when_it_is_back() {
    let mut redis = RedisServer::start();
    let base = start(&redis, 1_000_000).await;
    assert_eq!(post(&base, 3).await.status(), 201);
    redis.stop();
    let down = post(&base, 3).await;
    assert_eq!(down.status(), 503);
    assert_eq!(down.headers()["retry-after"], "1");
    assert_eq!(
        reqwest::get(format!("{base}/readyz"))
            .await
            .unwrap()
            .status(),
        503
    );
    redis.restart();
    let mut status = 0;
    for _ in 0..50 {
        status = post(&base, 4).await.status().as_u16();
        if status == 201 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 201, "the receiver reconnects to Redis");
    let mut c = redis.connection();
    let backlog: u64 = redis::cmd("GET")
        .arg("scoville:results:backlog")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        backlog, 4,
        "a fresh Redis holds only what came after the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_delivers_a_round_into_the_receiver() {
    use std::sync::Arc;

    use scoville_check_engine::{AddressPolicy, Engine, EngineConfig};
    use scoville_probe::Probe;
    use scoville_probe::delivery::Delivery;
    use scoville_probe::metrics::Metrics;
    use scoville_probe::source::api::ApiSource;
    use scoville_target_farm::{Farm, FarmConfig};

    let redis = RedisServer::start();
    let base = start(&redis, 1_000_000).await;
    let farm_config = FarmConfig {
        endpoints: 300,
        timeout_ms: 1000,
        ..FarmConfig::default()
    };
    let farm = Farm::start(farm_config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut config = scoville_probe::Config::default();
    config.receiver.url = Some(base.clone());
    config.receiver.token = Some(TOKEN.into());
    config.delivery.batch_size = 100;
    let engine = Engine::new(EngineConfig {
        policy: AddressPolicy::allow_private(),
        ..EngineConfig::default()
    })
    .unwrap();
    let source = Arc::new(ApiSource::new(&farm.url(), None, Duration::from_secs(5), 10).unwrap());
    let metrics = Arc::new(Metrics::default());
    let delivery = Arc::new(Delivery::new(&config, metrics.clone()).unwrap());
    let probe = Probe::new(engine, source, delivery, metrics, 1000);
    let scope = scoville_core::wire::ProbeScope {
        region: scoville_core::Region::parse("eu-west-1").unwrap(),
        shard: scoville_core::wire::Shard::whole(),
    };
    let summary = probe.run_round(&scope, Duration::ZERO, None).await.unwrap();
    assert_eq!(summary.delivery.results_delivered, 300);
    let mut c = redis.connection();
    let backlog: u64 = redis::cmd("GET")
        .arg("scoville:results:backlog")
        .query(&mut c)
        .unwrap();
    assert_eq!(backlog, 300, "every result of the round is in the queue");
}

/// A CA and a `localhost` server certificate it signed, as PEM files in a directory of
/// their own (removed on drop): (dir, ca, cert, key).
struct Pki {
    dir: std::path::PathBuf,
}

impl Pki {
    fn new(name: &str) -> Self {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "scoville-redis-pki-{name}-{}-{n}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
        Self { dir }
    }

    fn path(&self, file: &str) -> std::path::PathBuf {
        self.dir.join(file)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start_tls(redis: &RedisServer, ca: &std::path::Path) -> (String, Config) {
    let mut config = Config::default();
    config.receiver.listen = "127.0.0.1:0".parse().unwrap();
    config.receiver.probe_token_hashes = vec![TokenHash::of(TOKEN).to_config_string()];
    config.queue.kind = QueueKind::Redis;
    config.queue.redis_url = redis.tls_url();
    config.queue.redis_ca_file = Some(ca.to_path_buf());
    config.queue.timeout_ms = 2000;
    let app = scoville_receiver_service::app::build(&config)
        .await
        .unwrap();
    let addr = app.local_addr().unwrap();
    tokio::spawn(app.run_until_stopped());
    (format!("http://{addr}"), config)
}

/// `rediss://` works end to end (the receiver queues and a worker's consumer takes and
/// acknowledges over TLS), the server's certificate is verified against the configured
/// CA (another CA's trust gets 503, nothing queued), and a CA with a plain URL is refused
/// at start naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiver_and_its_worker_reach_redis_over_tls_verified_by_a_private_ca() {
    use scoville_receiver_service::queue::QueueConsumer;
    let pki = Pki::new("good");
    let redis = RedisServer::start_tls(&pki.path("cert.pem"), &pki.path("key.pem"));
    let (base, config) = start_tls(&redis, &pki.path("ca.pem")).await;
    let resp = post(&base, 3).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let len: u64 = redis::cmd("XLEN")
        .arg("scoville:results")
        .query(&mut redis.connection())
        .unwrap();
    assert_eq!(len, 1, "the batch went over TLS into the stream");
    let consumer = config.consumer(0).unwrap();
    let taken = consumer.take(10, Duration::from_millis(500)).await.unwrap();
    assert_eq!(taken.len(), 1);
    consumer.ack(&taken).await.unwrap();

    // Trusting another CA: the handshake fails, the receiver answers 503.
    let other = Pki::new("other");
    let (base, _) = start_tls(&redis, &other.path("ca.pem")).await;
    let resp = post(&base, 2).await;
    assert_eq!(resp.status(), 503);
    let len: u64 = redis::cmd("XLEN")
        .arg("scoville:results")
        .query(&mut redis.connection())
        .unwrap();
    assert_eq!(len, 0, "acknowledged and deleted; nothing new");

    // A CA with a plain URL is a configuration error naming the field.
    let mut plain = Config::default();
    plain.queue.redis_url = redis.url();
    plain.queue.redis_ca_file = Some(pki.path("ca.pem"));
    let e = plain.queue().err().unwrap().to_string();
    assert!(e.contains("queue.redis_ca_file"), "{e}");
}
