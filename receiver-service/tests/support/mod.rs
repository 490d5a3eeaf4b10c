//! Test helpers: a real `redis-server` on a free port, owned by the test, and sample
//! batches.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

#[allow(unused_imports)]
pub use scoville_tests::redis::RedisServer;

/// A valid batch of `n` results as JSON.
pub fn batch(n: usize) -> serde_json::Value {
    let results: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "endpoint_id": format!("e{i}"), "org_id": "org-1", "region": "eu-west-1", "run_id": "r1",
                "scheduled_at_ms": 1_700_000_000_000i64, "started_at_ms": 1_700_000_000_000i64 + i as i64, "apdex_t_ms": 100,
                "outcome": "up", "reason": null, "message": "HTTP 200", "status": 200,
                "timings": {"dns_ms": null, "connect_ms": 0.2, "tls_ms": null, "ttfb_ms": 12.5, "total_ms": 13.0},
                "bytes": 2, "truncated": false, "cert_expires_at_ms": null, "body_hash": null, "ip": "203.0.113.9",
                "redirects": 0
            })
        })
        .collect();
    serde_json::json!({ "results": results })
}

#[allow(unused_imports)]
pub use scoville_tests::influx::InfluxServer;

/// A batch of results for endpoints `e{first}..e{first+n}`, all started at `at_ms`, with
/// the given totals cycling.
pub fn batch_at(first: usize, n: usize, at_ms: i64, totals: &[f64], up: bool) -> serde_json::Value {
    let results: Vec<serde_json::Value> = (first..first + n)
        .map(|i| {
            let total = totals[i % totals.len()];
            serde_json::json!({
                "endpoint_id": format!("e{i}"), "org_id": "org-1", "region": "eu-west-1", "run_id": "r1",
                "scheduled_at_ms": at_ms, "started_at_ms": at_ms, "apdex_t_ms": 100,
                "outcome": if up { "up" } else { "down" }, "reason": if up { serde_json::Value::Null } else { "timeout".into() },
                "message": "a \"quoted\" message, with commas", "status": if up { serde_json::json!(200) } else { serde_json::Value::Null },
                "timings": {"dns_ms": null, "connect_ms": 0.2, "tls_ms": null, "ttfb_ms": total / 2.0, "total_ms": total},
                "bytes": 2, "truncated": false, "cert_expires_at_ms": null, "body_hash": null, "ip": null, "redirects": 0
            })
        })
        .collect();
    serde_json::json!({ "results": results })
}
