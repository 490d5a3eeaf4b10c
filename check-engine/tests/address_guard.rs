//! The address guard against bypass attempts: IP literals in every notation, mapped and
//! compatible IPv6, names that resolve to private addresses, and redirects from an
//! allowed host to forbidden ones. A recording server on 127.0.0.1 must see no request
//! at all; a control run with private targets allowed proves it would have seen them.

#![allow(clippy::unwrap_used)]

mod support;

use scoville_core::check_spec::CheckSpec;
use scoville_core::parse::from_json;
use scoville_core::{AddressPolicy, DownReason, Outcome};
use support::{RawServer, engine_with, response};
use tokio::io::AsyncWriteExt;

fn http(url: &str) -> CheckSpec {
    from_json(
        serde_json::json!({"type":"http","url":url,"timeout_ms":2000})
            .to_string()
            .as_bytes(),
    )
    .unwrap()
}

/// Literal and name forms that all lead to loopback or another forbidden range.
fn direct_forms(port: u16) -> Vec<String> {
    let forms = [
        "127.0.0.1",
        "127.1",
        "127.0.1",
        "127.127.127.127",
        "127.0.0.1.",
        "2130706433",
        "0x7f000001",
        "0x7f.0x0.0x0.0x1",
        "0x7f.1",
        "0177.0.0.1",
        "0177.0000.0000.0001",
        "017700000001",
        "0",
        "0.0.0.0",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[0:0:0:0:0:ffff:127.0.0.1]",
        "[::127.0.0.1]",
        "[64:ff9b::127.0.0.1]",
        "[2002:7f00:1::]",
        "localhost",
        "LOCALHOST",
        "evil.test",
        "rebind.test",
        "sneaky.test",
        "169.254.169.254",
        "[fd00:ec2::254]",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "[fc00::1]",
        "[fe80::1]",
        "198.18.0.1",
        "224.0.0.1",
    ];
    forms
        .iter()
        .map(|host| format!("http://{host}:{port}/steal"))
        .collect()
}

fn overrides() -> Vec<(&'static str, &'static str)> {
    vec![
        ("evil.test", "127.0.0.1"),
        ("rebind.test", "10.1.2.3"),
        ("sneaky.test", "::ffff:127.0.0.1"),
    ]
}

#[tokio::test]
async fn at_least_30_bypass_forms_are_refused_and_nothing_is_reached() {
    let recorder = RawServer::fixed(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
    let engine = engine_with(AddressPolicy::global_only(), vec![], &overrides());
    let forms = direct_forms(recorder.addr.port());
    assert!(forms.len() >= 30);
    for url in &forms {
        let r = engine.check(&http(url)).await;
        assert_eq!(
            r.outcome,
            Outcome::Down(DownReason::Blocked),
            "{url}: {}",
            r.message
        );
        assert!(r.message.contains("not allowed"), "{url}: {}", r.message);
    }
    assert_eq!(recorder.hits(), 0, "the recording server was reached");
}

#[tokio::test]
async fn redirects_to_forbidden_places_are_refused_on_the_hop() {
    let recorder = RawServer::fixed(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
    let port = recorder.addr.port();
    let targets = vec![
        format!("http://127.0.0.1:{port}/steal"),
        format!("http://localhost:{port}/steal"),
        format!("http://2130706433:{port}/steal"),
        format!("http://[::ffff:127.0.0.1]:{port}/steal"),
        format!("http://evil.test:{port}/steal"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "file:///etc/passwd".to_string(),
        "gopher://127.0.0.1:70/".to_string(),
    ];
    // The redirector is on 127.0.0.2, which this policy lets through on its own.
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let redirector = listener.local_addr().unwrap();
    let locations = targets.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let locations = locations.clone();
            tokio::spawn(async move {
                let head = support::read_head(&mut s).await;
                let i: usize = head.split_whitespace().nth(1).unwrap_or("/0")[1..]
                    .parse()
                    .unwrap_or(0);
                let _ = s
                    .write_all(&response("302 Found", &[("location", &locations[i])], b""))
                    .await;
            });
        }
    });
    let policy = AddressPolicy::global_only().allowing([redirector.ip()]);
    let engine = engine_with(policy, vec![], &overrides());
    for (i, target) in targets.iter().enumerate() {
        let r = engine
            .check(&http(&format!("http://{redirector}/{i}")))
            .await;
        assert_eq!(
            r.outcome,
            Outcome::Down(DownReason::Blocked),
            "redirect to {target}: {}",
            r.message
        );
    }
    assert_eq!(
        recorder.hits(),
        0,
        "a redirect reached the recording server"
    );
}

#[tokio::test]
async fn control_with_private_targets_allowed_the_recorder_is_reached() {
    let recorder = RawServer::fixed(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
    let engine = engine_with(AddressPolicy::allow_private(), vec![], &overrides());
    let port = recorder.addr.port();
    for host in [
        "127.0.0.1",
        "2130706433",
        "0x7f.1",
        "0177.0.0.1",
        "localhost",
        "evil.test",
    ] {
        let r = engine.check(&http(&format!("http://{host}:{port}/"))).await;
        assert_eq!(r.outcome, Outcome::Up, "{host}: {}", r.message);
    }
    assert_eq!(recorder.hits(), 6);
    // Metadata stays refused even then.
    let r = engine.check(&http("http://169.254.169.254/")).await;
    assert_eq!(r.outcome, Outcome::Down(DownReason::Blocked));
}

#[tokio::test]
async fn non_http_schemes_are_rejected_when_parsed() {
    for url in [
        "file:///etc/passwd",
        "ftp://example.com/",
        "gopher://x/",
        "javascript:alert(1)",
    ] {
        let json = serde_json::json!({"type":"http","url":url}).to_string();
        assert!(from_json::<CheckSpec>(json.as_bytes()).is_err(), "{url}");
    }
}
