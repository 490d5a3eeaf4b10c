//! One real server per kind of misbehaviour. Each check must end within its timeout
//! plus 100 ms, with the outcome that names what went wrong.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use scoville_core::check_spec::CheckSpec;
use scoville_core::parse::from_json;
use scoville_core::{CheckReport, DownReason, Outcome};
use support::{RawServer, TestPki, private_engine};
use tokio::io::AsyncWriteExt;

const TIMEOUT_MS: u64 = 1500;

async fn check_within_deadline(url: String, extra: serde_json::Value) -> CheckReport {
    let mut json = serde_json::json!({"type":"http","url":url,"timeout_ms":TIMEOUT_MS});
    for (k, v) in extra.as_object().unwrap() {
        json[k] = v.clone();
    }
    let spec: CheckSpec = from_json(json.to_string().as_bytes()).unwrap();
    let start = Instant::now();
    let report = private_engine().check(&spec).await;
    let took = start.elapsed();
    assert!(
        took <= Duration::from_millis(TIMEOUT_MS + 100),
        "check took {took:?}, more than timeout + 100 ms ({report:?})"
    );
    report
}

#[tokio::test]
async fn a_server_that_hangs_times_out() {
    let server = RawServer::start(|_, s| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(s);
    })
    .await;
    let r = check_within_deadline(server.url("/"), serde_json::json!({})).await;
    assert_eq!(r.outcome, Outcome::Down(DownReason::Timeout));
    assert!(
        r.message.contains("waiting for the response"),
        "{}",
        r.message
    );
    assert!(
        r.timings.connect_ms.is_some(),
        "connect phase kept after the timeout"
    );
    assert!(r.timings.total_ms >= TIMEOUT_MS as f64);
}

#[tokio::test]
async fn a_server_that_trickles_a_byte_a_second_times_out() {
    let server = RawServer::start(|_, mut s| async move {
        let resp = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n";
        for b in resp.iter().chain([b'x'; 100].iter()) {
            if s.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
    })
    .await;
    let r = check_within_deadline(server.url("/"), serde_json::json!({})).await;
    assert_eq!(r.outcome, Outcome::Down(DownReason::Timeout));
}

#[tokio::test]
async fn a_body_that_trickles_after_the_head_times_out_while_reading() {
    let server = RawServer::start(|_, mut s| async move {
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n")
            .await;
        for _ in 0..100 {
            if s.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
    .await;
    let r = check_within_deadline(server.url("/"), serde_json::json!({})).await;
    assert_eq!(r.outcome, Outcome::Down(DownReason::Timeout));
    assert!(r.message.contains("reading the body"), "{}", r.message);
    assert_eq!(r.status, Some(200));
    assert!(r.timings.ttfb_ms.is_some());
}

#[tokio::test]
async fn an_endless_body_is_cut_at_the_limit() {
    let server = RawServer::start(|_, mut s| async move {
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            .await;
        let chunk = format!("4000\r\n{}\r\n", "y".repeat(0x4000));
        while s.write_all(chunk.as_bytes()).await.is_ok() {}
    })
    .await;
    let r = check_within_deadline(server.url("/"), serde_json::json!({})).await;
    assert_eq!(r.outcome, Outcome::Up, "{}", r.message);
    assert!(r.truncated);
    assert_eq!(r.bytes, 1024 * 1024);
    let r = check_within_deadline(
        server.url("/"),
        serde_json::json!({"body_limit":{"on_exceed":"fail"}}),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Down(DownReason::BodyTooLarge));
}

#[tokio::test]
async fn an_80_kib_header_is_a_protocol_error() {
    for kib in [80, 4096] {
        a_big_header_is_a_protocol_error(kib).await;
    }
}

async fn a_big_header_is_a_protocol_error(kib: usize) {
    let server = RawServer::start(move |_, mut s| async move {
        let big = "a".repeat(kib * 1024);
        let resp = format!("HTTP/1.1 200 OK\r\nx-big: {big}\r\ncontent-length: 0\r\n\r\n");
        let _ = s.write_all(resp.as_bytes()).await;
    })
    .await;
    let r = check_within_deadline(server.url("/"), serde_json::json!({})).await;
    assert_eq!(r.outcome, Outcome::Down(DownReason::Protocol));
    assert!(
        r.message.contains("response head larger than"),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn a_gzip_bomb_is_stopped_at_the_limit() {
    // 1 GiB of zeros, about 1 MiB compressed, sent as one gzip body.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..1024 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
        bomb.len()
    );
    let server = RawServer::start(move |_, mut s| {
        let (head, bomb) = (head.clone(), bomb.clone());
        async move {
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(&bomb).await;
        }
    })
    .await;
    let r = check_within_deadline(server.url("/"), serde_json::json!({})).await;
    assert_eq!(r.outcome, Outcome::Up, "{}", r.message);
    assert!(r.truncated);
    assert_eq!(r.bytes, 1024 * 1024, "only the limit is kept");
    let r = check_within_deadline(
        server.url("/"),
        serde_json::json!({"body_limit":{"on_exceed":"fail"}}),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Down(DownReason::BodyTooLarge));
}

#[tokio::test]
async fn a_self_signed_certificate_fails_verification_unless_told_otherwise() {
    let pki = TestPki::new(90, true);
    let addr = pki.serve().await;
    let url = format!("https://localhost:{}/", addr.port());
    let r = check_within_deadline(url.clone(), serde_json::json!({})).await;
    assert_eq!(r.outcome, Outcome::Down(DownReason::Tls));
    assert!(r.message.contains("certificate"), "{}", r.message);
    let r = check_within_deadline(url, serde_json::json!({"tls_verify":false})).await;
    assert_eq!(r.outcome, Outcome::Up, "{}", r.message);
    assert!(r.cert_expires_at_ms.is_some());
}

#[tokio::test]
async fn a_500_is_down_with_the_status() {
    let server =
        RawServer::fixed(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\n\r\noops")
            .await;
    let r = check_within_deadline(server.url("/"), serde_json::json!({})).await;
    assert_eq!(r.outcome, Outcome::Down(DownReason::Status));
    assert_eq!(r.status, Some(500));
    assert!(
        r.message.contains("500 Internal Server Error"),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_failure() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let r = check_within_deadline(format!("http://{addr}/"), serde_json::json!({})).await;
    assert_eq!(r.outcome, Outcome::Down(DownReason::Connect));
    assert!(r.message.contains("connection refused"), "{}", r.message);
    assert!(r.timings.ttfb_ms.is_none());
}

#[tokio::test]
async fn a_server_that_closes_without_answering_is_a_protocol_error() {
    let server = RawServer::start(|_, s| async move { drop(s) }).await;
    let r = check_within_deadline(server.url("/"), serde_json::json!({})).await;
    assert!(
        matches!(
            r.outcome,
            Outcome::Down(DownReason::Protocol | DownReason::Connect)
        ),
        "{r:?}"
    );
}
