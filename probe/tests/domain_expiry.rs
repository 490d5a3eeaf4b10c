//! Domain expiry lookups in probe rounds, against one local axum server playing the
//! checked site, an RDAP server (bootstrap file and domain answers, requests counted),
//! the receiver and the failure service. The checked host `shop.example.com` reaches
//! 127.0.0.1 only through the engine's explicit resolve override and a policy allowing
//! loopback; real probes keep the address guard for check targets.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::routing::{get, post};
use futures::FutureExt;
use futures::future::BoxFuture;
use scoville_check_engine::rdap::{Rdap, RdapConfig};
use scoville_check_engine::{AddressPolicy, Engine, EngineConfig};
use scoville_core::wire::{ProbeScope, Shard};
use scoville_core::{EndpointId, ProbeEndpoint, Region};
use scoville_probe::Probe;
use scoville_probe::config::Config;
use scoville_probe::delivery::Delivery;
use scoville_probe::domains::DomainLookups;
use scoville_probe::metrics::Metrics;
use scoville_probe::source::{EndpointSource, SourceError};

const EXPIRES_MS: i64 = 1_786_593_600_000;
const DAY_MS: i64 = 86_400_000;

/// (endpoint, domain expiry) of each result the failure service received.
type Received = Arc<Mutex<Vec<(String, Option<i64>)>>>;

#[derive(Clone, Default)]
struct Seen {
    rdap: Arc<AtomicUsize>,
    failures: Received,
    results: Arc<AtomicUsize>,
    addr: Arc<Mutex<Option<SocketAddr>>>,
}

async fn server() -> (SocketAddr, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Seen::default();
    *seen.addr.lock().unwrap() = Some(addr);
    let app = axum::Router::new()
        .route("/", get(|| async { "ok" }))
        .route(
            "/dns.json",
            get(|State(s): State<Seen>| async move {
                let addr = s.addr.lock().unwrap().unwrap();
                format!(r#"{{"services":[[["com"],["http://{addr}/rdap/"]]]}}"#)
            }),
        )
        .route(
            "/rdap/domain/{name}",
            get(|State(s): State<Seen>| async move {
                s.rdap.fetch_add(1, Ordering::SeqCst);
                r#"{"objectClassName":"domain","ldhName":"EXAMPLE.COM","events":[
                    {"eventAction":"expiration","eventDate":"2026-08-13T04:00:00Z"}]}"#
            }),
        )
        .route(
            "/v1/results",
            post(
                |State(s): State<Seen>, Json(b): Json<serde_json::Value>| async move {
                    let n = b["results"].as_array().map_or(0, Vec::len);
                    s.results.fetch_add(n, Ordering::SeqCst);
                    "{}"
                },
            ),
        )
        .route(
            "/v1/failures",
            post(
                |State(s): State<Seen>, Json(b): Json<serde_json::Value>| async move {
                    for r in b["results"].as_array().unwrap() {
                        s.failures.lock().unwrap().push((
                            r["endpoint_id"].as_str().unwrap().to_string(),
                            r["domain_expires_at_ms"].as_i64(),
                        ));
                    }
                    "{}"
                },
            ),
        )
        .with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

#[derive(Debug)]
struct Fixed(Vec<ProbeEndpoint>);

impl EndpointSource for Fixed {
    fn fetch<'a>(
        &'a self,
        _scope: &'a ProbeScope,
    ) -> BoxFuture<'a, Result<Vec<ProbeEndpoint>, SourceError>> {
        let all = self.0.clone();
        async move { Ok(all) }.boxed()
    }
}

fn endpoint(id: &str, port: u16, domain_expiry: bool) -> ProbeEndpoint {
    let mut check = serde_json::json!({
        "type": "http", "url": format!("http://shop.example.com:{port}/"), "timeout_ms": 2000
    });
    if domain_expiry {
        check["domain_expiry"] = serde_json::json!({});
    }
    serde_json::from_value(serde_json::json!({"id": id, "check": check})).unwrap()
}

fn probe(addr: SocketAddr, endpoints: Vec<ProbeEndpoint>) -> Probe {
    let mut config = Config::default();
    config.receiver.url = Some(format!("http://{addr}"));
    config.failure_service.url = Some(format!("http://{addr}"));
    config.delivery.flush_ms = 50;
    let engine = Engine::new(EngineConfig {
        policy: AddressPolicy::allow_private(),
        resolve_overrides: [("shop.example.com".to_string(), vec![addr.ip()])].into(),
        ..EngineConfig::default()
    })
    .unwrap();
    let metrics = Arc::new(Metrics::default());
    let delivery = Arc::new(Delivery::new(&config, metrics.clone()).unwrap());
    let rdap = Rdap::new(RdapConfig {
        bootstrap_url: format!("http://{addr}/dns.json").parse().unwrap(),
        timeout: Duration::from_secs(2),
        ..RdapConfig::default()
    })
    .unwrap();
    Probe::new(engine, Arc::new(Fixed(endpoints)), delivery, metrics, 10)
        .with_domain_lookups(DomainLookups::new(rdap, Duration::from_secs(60)))
}

fn scope() -> ProbeScope {
    ProbeScope {
        region: Region::parse("test-1").unwrap(),
        shard: Shard::whole(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_is_looked_up_once_a_day_and_its_expiry_reaches_the_failure_service() {
    let (addr, seen) = server().await;
    let endpoints = vec![
        endpoint("shop", addr.port(), true),
        endpoint("plain", addr.port(), false),
    ];
    let probe = probe(addr, endpoints);
    // The minute of the day in which "shop" is looked up.
    let rule = DomainLookups::new(
        Rdap::new(RdapConfig::default()).unwrap(),
        Duration::from_secs(60),
    );
    let shop = EndpointId::parse("shop").unwrap();
    let day0 = 1_790_000_000_000 / DAY_MS * DAY_MS;
    let due = (0..1440)
        .map(|m| day0 + m * 60_000 + 1_000)
        .find(|t| rule.due(&shop, *t))
        .unwrap();
    // Its minute, the minute after, the day after at its minute: checked every time,
    // looked up in the first and third rounds only, asked of RDAP once (the cache).
    for at in [due, due + 60_000, due + DAY_MS] {
        let s = probe
            .run_round_at(&scope(), Duration::ZERO, None, Some(at))
            .await
            .unwrap();
        assert_eq!(s.by_outcome.get("up"), Some(&2), "{s:?}");
    }
    assert_eq!(seen.rdap.load(Ordering::SeqCst), 1, "one RDAP request");
    assert_eq!(seen.results.load(Ordering::SeqCst), 6);
    // Up results go to the failure service only when they carry a domain expiry.
    let failures = seen.failures.lock().unwrap().clone();
    assert_eq!(
        failures,
        vec![
            ("shop".to_string(), Some(EXPIRES_MS)),
            ("shop".to_string(), Some(EXPIRES_MS))
        ]
    );
    // A fresh process (a Lambda cold start) in a minute that is not the endpoint's: no
    // lookup.
    let cold = self::probe(addr, vec![endpoint("shop", addr.port(), true)]);
    cold.run_round_at(&scope(), Duration::ZERO, None, Some(due + 120_000))
        .await
        .unwrap();
    assert_eq!(seen.rdap.load(Ordering::SeqCst), 1);
}
