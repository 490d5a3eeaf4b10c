//! RDAP lookups against a local RDAP server (axum): a bootstrap file naming it for `com`
//! and `test`, and domain answers that are good, slow, broken, huge, missing an expiry or
//! redirected. The server counts its requests, so caching, sharing and the concurrency
//! bound are seen from the outside.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use scoville_check_engine::rdap::{Rdap, RdapConfig, RdapError};

/// 2026-08-13T04:00:00Z.
const EXPIRES_MS: i64 = 1_786_593_600_000;

#[derive(Default)]
struct Counts {
    bootstrap: AtomicUsize,
    domain: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

#[derive(Clone)]
struct Fake {
    addr: SocketAddr,
    counts: Arc<Counts>,
}

fn answer(name: &str, expiration: bool) -> String {
    let exp = if expiration {
        r#",{"eventAction":"expiration","eventDate":"2026-08-13T04:00:00Z"}"#
    } else {
        ""
    };
    format!(
        r#"{{"objectClassName":"domain","ldhName":"{}","status":["active"],
            "events":[{{"eventAction":"registration","eventDate":"1995-08-14T04:00:00Z"}}{exp},
                      {{"eventAction":"last update of RDAP database","eventDate":"2026-12-04T20:10:11Z"}}],
            "rdapConformance":["rdap_level_0"]}}"#,
        name.to_ascii_uppercase()
    )
}

async fn bootstrap(State(f): State<Fake>) -> Response {
    f.counts.bootstrap.fetch_add(1, Ordering::SeqCst);
    let base = format!("http://{}/rdap/", f.addr);
    let body = format!(
        r#"{{"version":"1.0","publication":"2026-11-30T20:00:02Z",
            "services":[[["com","test"],["{base}"]],[["org"],["ftp://nowhere.example/"]]]}}"#
    );
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn domain(State(f): State<Fake>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    let c = &f.counts;
    c.domain.fetch_add(1, Ordering::SeqCst);
    let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    c.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let r = respond(&name, &headers).await;
    c.in_flight.fetch_sub(1, Ordering::SeqCst);
    r
}

async fn respond(name: &str, headers: &HeaderMap) -> Response {
    if headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) != Some("application/rdap+json") {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    }
    let rdap = |body: String| ([(header::CONTENT_TYPE, "application/rdap+json")], body);
    match name {
        "slow.com" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            rdap(answer(name, true)).into_response()
        }
        n if n.starts_with("busy") => {
            tokio::time::sleep(Duration::from_millis(150)).await;
            rdap(answer(name, true)).into_response()
        }
        "bad.com" => rdap("<html>rate limited</html>".into()).into_response(),
        "noexp.com" => rdap(answer(name, false)).into_response(),
        "huge.com" => rdap(format!(
            r#"{{"pad":"{}","events":[]}}"#,
            "x".repeat(3 * 1024 * 1024)
        ))
        .into_response(),
        "moved.com" => (
            StatusCode::FOUND,
            [(header::LOCATION, "/rdap/domain/example.com")],
        )
            .into_response(),
        "example.com" | "example.test" => rdap(answer(name, true)).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn fake() -> Fake {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake = Fake {
        addr: listener.local_addr().unwrap(),
        counts: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/dns.json", get(bootstrap))
        .route("/rdap/domain/{name}", get(domain))
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    fake
}

fn rdap(f: &Fake, tweak: impl FnOnce(&mut RdapConfig)) -> Rdap {
    let mut config = RdapConfig {
        bootstrap_url: format!("http://{}/dns.json", f.addr).parse().unwrap(),
        timeout: Duration::from_millis(500),
        max_body_bytes: 1024 * 1024,
        ..RdapConfig::default()
    };
    tweak(&mut config);
    Rdap::new(config).unwrap()
}

fn domains(f: &Fake) -> usize {
    f.counts.domain.load(Ordering::SeqCst)
}

#[tokio::test]
async fn finds_the_expiry_once_per_domain_and_keeps_it() {
    let f = fake().await;
    let r = rdap(&f, |_| {});
    assert_eq!(r.domain_expiry("www.example.com").await, Some(EXPIRES_MS));
    assert_eq!(r.domain_expiry("api.Example.COM.").await, Some(EXPIRES_MS));
    assert_eq!(r.domain_expiry("example.com").await, Some(EXPIRES_MS));
    assert_eq!(domains(&f), 1, "one request per domain while cached");
    assert_eq!(
        r.domain_expiry("shop.example.test").await,
        None,
        "test is no ICANN suffix"
    );
    // IP literals and single labels have no registrable domain: nothing asked.
    assert_eq!(r.domain_expiry("127.0.0.1").await, None);
    assert_eq!(r.domain_expiry("localhost").await, None);
    assert_eq!(domains(&f), 1);
    assert_eq!(f.counts.bootstrap.load(Ordering::SeqCst), 1);
    // Many checks of one domain at once: one request.
    let other = rdap(&f, |_| {});
    let all = futures::future::join_all((0..20).map(|i| {
        let other = &other;
        async move { other.domain_expiry(&format!("h{i}.example.com")).await }
    }))
    .await;
    assert!(all.iter().all(|e| *e == Some(EXPIRES_MS)));
    assert_eq!(domains(&f), 2);
    // A short cache asks again.
    let short = rdap(&f, |c| c.cache_ttl = Duration::ZERO);
    short.domain_expiry("example.com").await;
    short.domain_expiry("example.com").await;
    assert_eq!(domains(&f), 4);
}

#[tokio::test]
async fn errors_are_unknown_and_remembered() {
    let f = fake().await;
    let r = rdap(&f, |_| {});
    let started = Instant::now();
    assert_eq!(r.domain_expiry("slow.com").await, None);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    for host in [
        "bad.com",
        "noexp.com",
        "huge.com",
        "gone.com",
        "x.example.org",
    ] {
        assert_eq!(r.domain_expiry(host).await, None, "{host}");
    }
    let asked = domains(&f);
    assert_eq!(asked, 5, "org has no usable server: not asked");
    // Failures are remembered for failure_ttl: not asked again.
    for host in ["bad.com", "noexp.com", "huge.com", "gone.com", "slow.com"] {
        assert_eq!(r.domain_expiry(host).await, None);
    }
    assert_eq!(domains(&f), asked);
    // Each error is the right one.
    let e = |res: Result<i64, RdapError>| res.unwrap_err().to_string();
    assert!(e(r.lookup("bad.com").await).starts_with("bad body"));
    assert_eq!(
        e(r.lookup("noexp.com").await),
        "the answer has no expiration event"
    );
    assert!(e(r.lookup("huge.com").await).starts_with("body longer than"));
    assert!(e(r.lookup("gone.com").await).ends_with("answered HTTP 404"));
    assert!(e(r.lookup("slow.com").await).starts_with("request to"));
    assert!(e(r.lookup("example.org").await).starts_with("no RDAP server"));
}

#[tokio::test]
async fn redirects_are_bounded_and_a_broken_bootstrap_is_unknown() {
    let f = fake().await;
    let r = rdap(&f, |_| {});
    assert_eq!(r.lookup("moved.com").await.unwrap(), EXPIRES_MS);
    let strict = rdap(&f, |c| c.max_redirects = 0);
    assert!(strict.lookup("moved.com").await.is_err());
    let nowhere = rdap(&f, |c| {
        c.bootstrap_url = format!("http://{}/missing.json", f.addr).parse().unwrap();
    });
    assert_eq!(nowhere.domain_expiry("example.com").await, None);
    assert!(
        nowhere
            .lookup("example.com")
            .await
            .unwrap_err()
            .to_string()
            .ends_with("answered HTTP 404")
    );
}

#[tokio::test]
async fn at_most_max_concurrent_lookups_at_once() {
    let f = fake().await;
    let r = rdap(&f, |c| c.max_concurrent = 2);
    let all = futures::future::join_all((0..8).map(|i| {
        let r = &r;
        async move { r.domain_expiry(&format!("www.busy{i}.com")).await }
    }))
    .await;
    assert!(all.iter().all(|e| *e == Some(EXPIRES_MS)));
    assert_eq!(domains(&f), 8);
    assert_eq!(f.counts.max_in_flight.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_lookup_that_cannot_start_in_time_is_skipped_not_remembered() {
    let f = fake().await;
    // One at a time, 150 ms each, and a turn must come within 400 ms: the first few
    // are answered, the rest skipped.
    let r = rdap(&f, |c| {
        c.max_concurrent = 1;
        c.timeout = Duration::from_millis(400);
    });
    let hosts: Vec<String> = (0..8).map(|i| format!("www.busy{i}.com")).collect();
    let all = futures::future::join_all(hosts.iter().map(|h| r.domain_expiry(h))).await;
    let answered = all.iter().filter(|e| e.is_some()).count();
    assert!((1..=6).contains(&answered), "{all:?}");
    // The skipped ones are asked again next time (not remembered as failures).
    let before = domains(&f);
    for (h, e) in hosts.iter().zip(&all) {
        if e.is_none() {
            assert_eq!(r.domain_expiry(h).await, Some(EXPIRES_MS), "{h}");
        }
    }
    assert_eq!(domains(&f), before + (8 - answered));
}
