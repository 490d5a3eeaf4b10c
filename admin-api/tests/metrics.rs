//! The admin API's Prometheus text through its router (no socket), on SQLite stores:
//! `GET /metrics` (requests by route template and status class, latency; never an id)
//! and the per-endpoint exporter `GET /v1/metrics/endpoints` with an org API key: up,
//! down, an open incident, paused, no results yet, latest response times per region,
//! another org's endpoints absent, and a hostile endpoint name escaped so that it
//! cannot forge a series. Every answer goes through the strict exposition reader.

#![allow(clippy::unwrap_used)]

#[allow(unused_imports)]
mod support_history;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use scoville_admin_api::app::now_ms;
use scoville_admin_api::history::sqlite::SqliteHistory;
use scoville_admin_api::store::sqlite::SqliteAdmin;
use scoville_admin_api::{AppState, router};
use scoville_core::{
    CheckReport, CheckResult, DownReason, EndpointId, OrgId, Outcome, Region, RunId, Timings,
};
use scoville_incident_log::sqlite::SqliteLog;
use scoville_incident_log::{EntryKind, Incident, IncidentLog, LogWrite, TimelineEntry};
use scoville_receiver_service::store::ResultStore;
use scoville_receiver_service::store::sqlite::SqliteStore;
use scoville_service_kit::auth::TokenSet;
use scoville_service_kit::metrics::check::{Parsed, parse};
use serde_json::{Value, json};
use support_history::TempDir;
use tower::ServiceExt;

/// A name that would forge a series if it were not escaped.
const EVIL: &str = "evil \"name\" \\ x\"} 1\nscoville_endpoint_up{id=\"forged\"} 1";

struct Api {
    router: axum::Router,
    writer: SqliteStore,
    log: Arc<dyn IncidentLog>,
    _dir: TempDir,
}

impl Api {
    async fn new() -> Self {
        let dir = TempDir::new("admin-metrics");
        let admin = Arc::new(SqliteAdmin::open(&dir.0.join("admin.db")).unwrap());
        let results = dir.0.join("results.db");
        let writer = SqliteStore::open(&results).unwrap();
        let history = Arc::new(SqliteHistory::open(&results).unwrap());
        let log: Arc<dyn IncidentLog> =
            Arc::new(SqliteLog::open(&dir.0.join("incidents.db")).unwrap());
        let state = AppState::new(admin, TokenSet::new(Vec::new()), 3_600_000, false)
            .await
            .unwrap()
            .with_history(history)
            .with_incidents(log.clone());
        Self {
            router: router(state),
            writer,
            log,
            _dir: dir,
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        auth: Option<(&str, String)>,
        body: Option<Value>,
    ) -> (StatusCode, String, Option<String>) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some((name, value)) = auth {
            req = req.header(name, value);
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let resp = self
            .router
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let cookie = resp
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
        if status == StatusCode::OK && path.contains("metrics") {
            assert_eq!(
                resp.headers()["content-type"],
                "text/plain; version=0.0.4; charset=utf-8"
            );
        }
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap(), cookie)
    }

    /// Signs up; an API key and the org id.
    async fn org(&self, email: &str) -> (String, String) {
        let (status, body, cookie) = self
            .call(
                "POST",
                "/v1/signup",
                None,
                Some(
                    json!({"email": email, "password": "correct horse battery", "org_name": email}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let org: Value = serde_json::from_str(&body).unwrap();
        let org = org["org"]["id"].as_str().unwrap().to_string();
        let (status, key, _) = self
            .call(
                "POST",
                "/v1/api-keys",
                Some(("cookie", cookie.unwrap())),
                Some(json!({"name": "grafana", "scope": "read_write"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
        let key: Value = serde_json::from_str(&key).unwrap();
        (key["key"].as_str().unwrap().to_string(), org)
    }

    async fn endpoint(&self, key: &str, name: &str) -> String {
        let (status, ep, _) = self
            .call(
                "POST",
                "/v1/endpoints",
                Some(("authorization", format!("Bearer {key}"))),
                Some(json!({
                    "name": name,
                    "check": {"type": "http", "url": "https://shop.example.com/health"},
                    "regions": ["eu-west-1", "us-east-1"],
                    "interval_s": 60,
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{ep}");
        let ep: Value = serde_json::from_str(&ep).unwrap();
        ep["id"].as_str().unwrap().to_string()
    }

    async fn scrape(&self, key: &str) -> (String, Parsed) {
        let (status, text, _) = self
            .call(
                "GET",
                "/v1/metrics/endpoints",
                Some(("authorization", format!("Bearer {key}"))),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let parsed = parse(&text).unwrap_or_else(|e| panic!("not a valid exposition: {e}\n{text}"));
        (text, parsed)
    }
}

fn result(
    org: &str,
    endpoint: &str,
    region: &str,
    up: bool,
    total_ms: f64,
    at_ms: i64,
) -> CheckResult {
    CheckResult {
        endpoint_id: EndpointId::parse(endpoint).unwrap(),
        org_id: OrgId::parse(org).unwrap(),
        region: Region::parse(region).unwrap(),
        run_id: RunId::parse(format!("run-{at_ms}")).unwrap(),
        scheduled_at_ms: at_ms - at_ms % 60_000,
        started_at_ms: at_ms,
        apdex_t_ms: Some(500),
        mean_limit_ms: None,
        report: CheckReport {
            outcome: if up {
                Outcome::Up
            } else {
                Outcome::Down(DownReason::Status)
            },
            message: if up { "HTTP 200" } else { "HTTP 503" }.into(),
            status: Some(if up { 200 } else { 503 }),
            timings: Timings {
                dns_ms: None,
                connect_ms: None,
                tls_ms: None,
                ttfb_ms: None,
                total_ms,
            },
            bytes: 10,
            truncated: false,
            cert_expires_at_ms: None,
            domain_expires_at_ms: None,
            body_hash: None,
            watch_excerpt: None,
            ip: None,
            redirects: 0,
        },
    }
}

#[tokio::test]
async fn the_endpoint_exporter_answers_an_orgs_endpoints_as_prometheus_gauges() {
    let api = Api::new().await;
    let (key, org) = api.org("a@example.com").await;
    let (key_b, org_b) = api.org("b@example.com").await;
    let shop = api.endpoint(&key, "shop").await;
    let evil = api.endpoint(&key, EVIL).await;
    let burning = api.endpoint(&key, "burning").await;
    let paused = api.endpoint(&key, "paused").await;
    let quiet = api.endpoint(&key, "quiet").await;
    let other = api.endpoint(&key_b, "Org B shop").await;
    let (status, _, _) = api
        .call(
            "POST",
            &format!("/v1/endpoints/{paused}/pause"),
            Some(("authorization", format!("Bearer {key}"))),
            None,
        )
        .await;
    assert!(status.is_success(), "{status}");

    let now = now_ms();
    let mut results = vec![
        // shop: up in both regions, the latest results 120 and 340 ms.
        result(&org, &shop, "eu-west-1", false, 900.0, now - 50_000),
        result(&org, &shop, "eu-west-1", true, 120.0, now - 20_000),
        result(&org, &shop, "us-east-1", true, 340.0, now - 19_000),
        // evil: down everywhere.
        result(&org, &evil, "eu-west-1", false, 30.0, now - 10_000),
        result(&org, &evil, "us-east-1", false, 40.0, now - 10_000),
        // burning: its latest results are up, but an incident is open.
        result(&org, &burning, "eu-west-1", true, 50.0, now - 10_000),
        result(&org, &paused, "eu-west-1", true, 50.0, now - 10_000),
        result(&org_b, &other, "eu-west-1", true, 70.0, now - 10_000),
    ];
    // Too old to count (more than three intervals ago).
    results.push(result(&org, &quiet, "eu-west-1", true, 10.0, now - 600_000));
    api.writer.write(&results).await.unwrap();
    let incident = Incident {
        id: format!("{burning}~1"),
        org_id: OrgId::parse(&org).unwrap(),
        endpoint_id: EndpointId::parse(&burning).unwrap(),
        started_at_ms: now - 120_000,
        confirmed_at_ms: now - 60_000,
        resolved_at_ms: None,
        regions: vec![Region::parse("eu-west-1").unwrap()],
        error: Some("HTTP 503".into()),
    };
    api.log
        .append(&[LogWrite {
            incident,
            entry: TimelineEntry {
                at_ms: now - 60_000,
                kind: EntryKind::Confirmed,
                notice: None,
                muted: false,
                regions: Vec::new(),
                detail: None,
            },
        }])
        .await
        .unwrap();

    let (text, p) = api.scrape(&key).await;
    let up = |id: &str| p.value("scoville_endpoint_up", &[("id", id)]);
    assert_eq!(up(&shop), Some(1.0), "{text}");
    assert_eq!(up(&evil), Some(0.0), "{text}");
    assert_eq!(up(&burning), Some(0.0), "an open incident is down: {text}");
    assert_eq!(up(&paused), None, "paused: no verdict: {text}");
    assert_eq!(up(&quiet), None, "no recent result: no verdict: {text}");
    assert_eq!(
        p.value(
            "scoville_endpoint_up",
            &[("id", &shop), ("endpoint", "shop")]
        ),
        Some(1.0)
    );
    // The hostile name comes back whole as a label value, and forges nothing.
    assert_eq!(
        p.value("scoville_endpoint_up", &[("id", &evil), ("endpoint", EVIL)]),
        Some(0.0),
        "{text}"
    );
    assert_eq!(p.value("scoville_endpoint_up", &[("id", "forged")]), None);
    assert_eq!(p.samples("scoville_endpoint_up", &[]).len(), 3, "{text}");
    // Latest response time and verdict per region.
    let rt = "scoville_endpoint_response_time_seconds";
    assert_eq!(
        p.value(rt, &[("id", &shop), ("region", "eu-west-1")]),
        Some(0.12)
    );
    assert_eq!(
        p.value(rt, &[("id", &shop), ("region", "us-east-1")]),
        Some(0.34)
    );
    assert_eq!(
        p.value(
            "scoville_endpoint_region_up",
            &[("id", &evil), ("region", "us-east-1")]
        ),
        Some(0.0)
    );
    assert_eq!(
        p.value(
            "scoville_endpoint_last_check_timestamp_seconds",
            &[("id", &shop), ("region", "us-east-1")]
        ),
        Some((now - 19_000) as f64 / 1000.0)
    );
    assert_eq!(
        p.value("scoville_endpoint_incident_open", &[("id", &burning)]),
        Some(1.0)
    );
    assert_eq!(
        p.value("scoville_endpoint_incident_open", &[("id", &shop)]),
        Some(0.0)
    );
    assert_eq!(
        p.value("scoville_endpoint_paused", &[("id", &paused)]),
        Some(1.0)
    );
    // Only the caller's org.
    assert!(!text.contains(&other) && !text.contains("Org B"), "{text}");
    let (text_b, p_b) = api.scrape(&key_b).await;
    assert_eq!(
        p_b.value("scoville_endpoint_up", &[("id", &other)]),
        Some(1.0)
    );
    assert!(!text_b.contains(&shop), "{text_b}");

    // Without a key: 401, as JSON.
    let (status, _, _) = api.call("GET", "/v1/metrics/endpoints", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The service's own metrics: by route template and status class, never an id.
    let (status, own, _) = api.call("GET", "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let own_p = parse(&own).unwrap_or_else(|e| panic!("not a valid exposition: {e}\n{own}"));
    let requests = |route: &str, method: &str, class: &str| {
        own_p.value(
            "scoville_http_requests_total",
            &[("route", route), ("method", method), ("status", class)],
        )
    };
    assert_eq!(
        requests("/v1/metrics/endpoints", "GET", "2xx"),
        Some(2.0),
        "{own}"
    );
    assert_eq!(
        requests("/v1/metrics/endpoints", "GET", "4xx"),
        Some(1.0),
        "{own}"
    );
    assert_eq!(requests("/v1/endpoints", "POST", "2xx"), Some(6.0), "{own}");
    assert_eq!(
        requests("/v1/endpoints/{id}/pause", "POST", "2xx"),
        Some(1.0),
        "{own}"
    );
    assert_eq!(
        own_p.value(
            "scoville_http_request_duration_seconds_count",
            &[("route", "/v1/signup"), ("method", "POST")]
        ),
        Some(2.0),
        "{own}"
    );
    for id in [&shop, &paused, &org] {
        assert!(!own.contains(id.as_str()), "{id} in /metrics: {own}");
    }
}
