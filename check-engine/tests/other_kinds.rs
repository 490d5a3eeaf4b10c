//! TCP, TLS, DNS and ICMP checks against real local peers.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::Ipv4Addr;

use hickory_proto::rr::rdata::{A, CNAME, MX, TXT};
use hickory_proto::rr::{Name, RData};
use scoville_check_engine::{AddressPolicy, Engine, EngineConfig, IcmpMode};
use scoville_core::check_spec::CheckSpec;
use scoville_core::parse::from_json;
use scoville_core::{DownReason, Outcome, WarningReason};
use support::{RawServer, TestPki, engine_with, private_engine};
use tokio::io::AsyncWriteExt;

fn spec(json: serde_json::Value) -> CheckSpec {
    from_json(json.to_string().as_bytes()).unwrap()
}

#[tokio::test]
async fn tcp_connect_send_and_expect() {
    let server = RawServer::start(|_, mut s| async move {
        let _ = s.write_all(b"+PONG\r\n").await;
    })
    .await;
    let engine = private_engine();
    let (host, port) = ("127.0.0.1", server.addr.port());
    let r = engine
        .check(&spec(
            serde_json::json!({"type":"tcp","host":host,"port":port}),
        ))
        .await;
    assert_eq!(r.outcome, Outcome::Up, "{}", r.message);
    assert!(r.timings.connect_ms.is_some());
    let ok = spec(
        serde_json::json!({"type":"tcp","host":host,"port":port,"send":"PING\r\n\r\n","expect":"PONG"}),
    );
    let r = engine.check(&ok).await;
    assert_eq!(r.outcome, Outcome::Up, "{}", r.message);
    let bad = spec(
        serde_json::json!({"type":"tcp","host":host,"port":port,"send":"PING\r\n\r\n","expect":"HELLO"}),
    );
    let r = engine.check(&bad).await;
    assert_eq!(
        r.outcome,
        Outcome::Down(DownReason::Assertion),
        "{}",
        r.message
    );
    assert!(r.message.contains("+PONG"), "{}", r.message);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let r = engine
        .check(&spec(
            serde_json::json!({"type":"tcp","host":host,"port":closed_port}),
        ))
        .await;
    assert_eq!(r.outcome, Outcome::Down(DownReason::Connect));
    let guarded = engine_with(AddressPolicy::global_only(), vec![], &[]);
    let r = guarded
        .check(&spec(
            serde_json::json!({"type":"tcp","host":host,"port":port}),
        ))
        .await;
    assert_eq!(r.outcome, Outcome::Down(DownReason::Blocked));
}

#[tokio::test]
async fn tls_handshake_checks_chain_name_and_expiry() {
    let pki = TestPki::new(90, false);
    let addr = pki.serve().await;
    let engine = engine_with(
        AddressPolicy::allow_private(),
        vec![pki.ca_file.clone()],
        &[],
    );
    let r = engine
        .check(&spec(
            serde_json::json!({"type":"tls","host":"localhost","port":addr.port()}),
        ))
        .await;
    assert_eq!(r.outcome, Outcome::Up, "{}", r.message);
    assert!(r.timings.tls_ms.is_some() && r.cert_expires_at_ms.is_some());
    let wrong_name = spec(
        serde_json::json!({"type":"tls","host":"127.0.0.1","port":addr.port(),"server_name":"example.org"}),
    );
    let r = engine.check(&wrong_name).await;
    assert_eq!(r.outcome, Outcome::Down(DownReason::Tls), "{}", r.message);
    let r = engine
        .check(&spec(
            serde_json::json!({"type":"tls","host":"localhost","port":addr.port(),
            "cert_expiry":{"warn_days":120,"critical_days":7}}),
        ))
        .await;
    assert_eq!(
        r.outcome,
        Outcome::Warning(WarningReason::CertExpiryWarn),
        "{}",
        r.message
    );
    let untrusted = private_engine();
    let r = untrusted
        .check(&spec(
            serde_json::json!({"type":"tls","host":"localhost","port":addr.port()}),
        ))
        .await;
    assert_eq!(r.outcome, Outcome::Down(DownReason::Tls));
}

#[tokio::test]
async fn dns_checks_compare_answers_from_a_configured_resolver() {
    let records = vec![
        (
            "app.scoville.test.",
            RData::A(A(Ipv4Addr::new(203, 0, 113, 7))),
        ),
        (
            "app.scoville.test.",
            RData::A(A(Ipv4Addr::new(203, 0, 113, 8))),
        ),
        (
            "www.scoville.test.",
            RData::CNAME(CNAME(Name::from_ascii("app.scoville.test.").unwrap())),
        ),
        (
            "scoville.test.",
            RData::MX(MX::new(10, Name::from_ascii("mx.scoville.test.").unwrap())),
        ),
        (
            "scoville.test.",
            RData::TXT(TXT::new(vec!["v=spf1 -all".to_string()])),
        ),
    ];
    let server = support::dns_server(records).await;
    let engine = private_engine();
    let dns = |name: &str, rtype: &str, expected: serde_json::Value, mode: &str| {
        spec(
            serde_json::json!({"type":"dns","name":name,"record_type":rtype,"expected":expected,
            "match":mode,"resolver":server.to_string(),"timeout_ms":2000}),
        )
    };
    let cases = [
        (
            dns(
                "app.scoville.test",
                "A",
                serde_json::json!(["203.0.113.7"]),
                "contains_all",
            ),
            Outcome::Up,
        ),
        (
            dns(
                "app.scoville.test",
                "A",
                serde_json::json!(["203.0.113.7", "203.0.113.8"]),
                "exact",
            ),
            Outcome::Up,
        ),
        (
            dns(
                "app.scoville.test",
                "A",
                serde_json::json!(["203.0.113.7"]),
                "exact",
            ),
            Outcome::Down(DownReason::Assertion),
        ),
        (
            dns(
                "app.scoville.test",
                "A",
                serde_json::json!(["198.51.100.1", "203.0.113.8"]),
                "any",
            ),
            Outcome::Up,
        ),
        (
            dns(
                "app.scoville.test",
                "A",
                serde_json::json!(["198.51.100.1"]),
                "contains_all",
            ),
            Outcome::Down(DownReason::Assertion),
        ),
        (
            dns(
                "www.scoville.test",
                "CNAME",
                serde_json::json!(["APP.scoville.test."]),
                "exact",
            ),
            Outcome::Up,
        ),
        (
            dns(
                "scoville.test",
                "MX",
                serde_json::json!(["10 mx.scoville.test"]),
                "exact",
            ),
            Outcome::Up,
        ),
        (
            dns(
                "scoville.test",
                "TXT",
                serde_json::json!(["v=spf1 -all"]),
                "exact",
            ),
            Outcome::Up,
        ),
        (
            dns(
                "nothing.scoville.test",
                "A",
                serde_json::json!([]),
                "contains_all",
            ),
            Outcome::Down(DownReason::Dns),
        ),
    ];
    for (check, want) in cases {
        let r = engine.check(&check).await;
        assert_eq!(r.outcome, want, "{check:?}: {}", r.message);
        assert!(r.timings.dns_ms.is_some());
    }
    let guarded = engine_with(AddressPolicy::global_only(), vec![], &[]);
    let r = guarded
        .check(&dns("app.scoville.test", "A", serde_json::json!([]), "any"))
        .await;
    assert_eq!(
        r.outcome,
        Outcome::Down(DownReason::Blocked),
        "the resolver is a target too"
    );
}

#[tokio::test]
async fn icmp_echo_where_allowed_and_a_clear_outcome_where_not() {
    let engine = private_engine();
    let ping =
        spec(serde_json::json!({"type":"icmp","host":"127.0.0.1","count":2,"timeout_ms":2000}));
    let r = engine.check(&ping).await;
    // This machine allows ICMP sockets (root, or ping_group_range): the echo must work.
    assert_eq!(r.outcome, Outcome::Up, "{}", r.message);
    assert!(r.message.starts_with("2/2 replies"), "{}", r.message);

    let lambda = Engine::new(EngineConfig {
        policy: AddressPolicy::allow_private(),
        icmp: IcmpMode::Unavailable("AWS Lambda allows no ICMP sockets".into()),
        ..EngineConfig::default()
    })
    .unwrap();
    let r = lambda.check(&ping).await;
    assert_eq!(r.outcome, Outcome::Down(DownReason::IcmpUnavailable));
    assert!(
        r.message.contains("ICMP not available here"),
        "{}",
        r.message
    );

    let guarded = engine_with(AddressPolicy::global_only(), vec![], &[]);
    assert_eq!(
        guarded.check(&ping).await.outcome,
        Outcome::Down(DownReason::Blocked)
    );
}
