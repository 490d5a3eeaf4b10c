//! Adaptive backoff through the admin API's router on real parts: the SQLite admin
//! store, the SQLite incident log and the receiver's SQLite results file read as
//! history. An endpoint whose incident has been open for long is listed to the probes
//! only at its backed-off interval (2, 4, ... minutes, capped), every minute again as
//! soon as a success is in its history or its incident closes, and says so in the live
//! status; the setting is validated (422 naming the field), stored, returned, exported
//! and imported.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use scoville_admin_api::app::now_ms;
use scoville_admin_api::history::sqlite::SqliteHistory;
use scoville_admin_api::probe_list::ProbeListCache;
use scoville_admin_api::store::sqlite::SqliteAdmin;
use scoville_admin_api::{AppState, router};
use scoville_core::{CheckResult, EndpointId, OrgId, Region};
use scoville_incident_log::sqlite::SqliteLog;
use scoville_incident_log::{EntryKind, Incident, IncidentLog, LogWrite, TimelineEntry};
use scoville_receiver_service::store::ResultStore;
use scoville_receiver_service::store::sqlite::SqliteStore;
use scoville_service_kit::auth::{TokenHash, TokenSet};
use serde_json::{Value, json};
use tower::ServiceExt;

const TOKEN: &str = "platform-probe-token-backoff-0123456789";
const MIN: i64 = 60_000;

struct Api {
    router: axum::Router,
    log: Arc<dyn IncidentLog>,
    results: SqliteStore,
}

impl Api {
    async fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("scoville-backoff-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let results = SqliteStore::open(&dir.join("results.db")).unwrap();
        let history = Arc::new(SqliteHistory::open(dir.join("results.db")).unwrap());
        let log: Arc<dyn IncidentLog> =
            Arc::new(SqliteLog::open(&dir.join("incidents.db")).unwrap());
        let store = Arc::new(SqliteAdmin::open(&dir.join("admin.db")).unwrap());
        let mut state = AppState::new(
            store,
            TokenSet::new(vec![TokenHash::of(TOKEN)]),
            3_600_000,
            false,
        )
        .await
        .unwrap()
        .with_incidents(log.clone())
        .with_history(history);
        // Open incidents and latest results are read on every fetch here (5 s in service).
        state.probe_list = Arc::new(ProbeListCache::with_open_max_age(Duration::ZERO));
        Self {
            router: router(state),
            log,
            results,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        auth: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        req = if auth.starts_with("scoville_session=") {
            req.header("cookie", auth)
        } else {
            req.header("authorization", format!("Bearer {auth}"))
        };
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
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Signs up; the session cookie and the org id.
    async fn signup(&self, email: &str) -> (String, OrgId) {
        let resp = self
            .router
            .clone()
            .oneshot(
                Request::builder()
                    .method(Method::POST)
                    .uri("/v1/signup")
                    .header("content-type", "application/json")
                    .body(Body::from(
                        json!({"email": email, "password": "correct horse battery", "org_name": email})
                            .to_string(),
                    ))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        let cookie = resp.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let (_, me) = self.call(Method::GET, "/v1/me", &cookie, None).await;
        (
            cookie,
            OrgId::parse(me["org_id"].as_str().unwrap()).unwrap(),
        )
    }

    async fn create(&self, cookie: &str, name: &str, backoff: Option<Value>) -> EndpointId {
        let mut body = json!({
            "name": name,
            "check": {"type": "http", "url": format!("https://{name}.example.com/")},
            "regions": ["eu-west-1", "us-east-1"],
            "confirm_regions": 1,
        });
        if let Some(b) = backoff {
            body["backoff"] = b;
        }
        let (status, v) = self
            .call(Method::POST, "/v1/endpoints", cookie, Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        EndpointId::parse(v["id"].as_str().unwrap()).unwrap()
    }

    /// The ids listed to a eu-west-1 probe for the round at `at`.
    async fn listed(&self, at: i64) -> Vec<String> {
        let (status, page) = self
            .call(
                Method::GET,
                &format!("/v1/probe/endpoints?region=eu-west-1&limit=5000&at={at}"),
                TOKEN,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// In how many of the `n` minutes from `from` `id` is listed.
    async fn due_minutes(&self, id: &EndpointId, from: i64, n: i64) -> usize {
        let mut due = 0;
        for m in 0..n {
            let listed = self.listed(from + m * MIN).await;
            due += usize::from(listed.iter().any(|i| i == id.as_str()));
        }
        due
    }

    /// The failure service's part: `id`'s incident confirmed at `at`, resolved at
    /// `resolved` if given.
    async fn incident(&self, org: &OrgId, id: &EndpointId, at: i64, resolved: Option<i64>) {
        let incident = Incident {
            id: format!("{}~{}", id.as_str(), at / MIN),
            org_id: org.clone(),
            endpoint_id: id.clone(),
            started_at_ms: at - MIN,
            confirmed_at_ms: at,
            resolved_at_ms: resolved,
            regions: vec![Region::parse("eu-west-1").unwrap()],
            error: Some("connect: refused".into()),
        };
        let entry = TimelineEntry {
            at_ms: resolved.unwrap_or(at),
            kind: if resolved.is_some() {
                EntryKind::Resolved
            } else {
                EntryKind::Confirmed
            },
            notice: None,
            muted: false,
            regions: Vec::new(),
            detail: None,
        };
        self.log
            .append(&[LogWrite { incident, entry }])
            .await
            .unwrap();
    }

    /// A result of `id` in `region` started at `at`.
    async fn result(&self, org: &OrgId, id: &EndpointId, region: &str, at: i64, up: bool) {
        // The wire form: new optional fields of a result keep their defaults.
        let r: CheckResult = serde_json::from_value(json!({
            "endpoint_id": id.as_str(),
            "org_id": org.as_str(),
            "region": region,
            "run_id": format!("run-{}", at / MIN),
            "scheduled_at_ms": at - at % MIN,
            "started_at_ms": at,
            "apdex_t_ms": 200,
            "outcome": if up { "up" } else { "down" },
            "reason": if up { Value::Null } else { json!("connect") },
            "message": if up { "HTTP 200" } else { "connect: refused" },
            "status": if up { json!(200) } else { Value::Null },
            "timings": {"total_ms": 12.0},
        }))
        .unwrap();
        self.results.write(&[r]).await.unwrap();
    }

    /// `id`'s live status entry.
    async fn live(&self, cookie: &str, id: &EndpointId) -> Value {
        let resp = self
            .router
            .clone()
            .oneshot(
                Request::builder()
                    .uri("/v1/events?once=true")
                    .header("cookie", cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let data = text
            .lines()
            .find_map(|l| l.strip_prefix("data:"))
            .unwrap_or_else(|| panic!("{text}"));
        let event: Value = serde_json::from_str(data.trim()).unwrap();
        event["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id.as_str())
            .unwrap()
            .clone()
    }
}

#[tokio::test]
async fn a_long_down_endpoint_is_listed_less_often_until_it_answers() {
    let api = Api::new("list").await;
    let (cookie, org) = api.signup("a@example.com").await;
    let down = api.create(&cookie, "down", Some(json!({}))).await;
    let plain = api.create(&cookie, "plain", None).await;

    // Both down; confirmed two hours ago (a whole minute).
    let now = now_ms();
    let confirmed = now - now % MIN - 120 * MIN;
    api.incident(&org, &down, confirmed, None).await;
    api.incident(&org, &plain, confirmed, None).await;
    api.result(&org, &down, "eu-west-1", confirmed + MIN, false)
        .await;

    // The first 10 minutes every minute; then every 2 minutes, ...
    assert_eq!(api.due_minutes(&down, confirmed, 10).await, 10);
    assert_eq!(api.due_minutes(&down, confirmed + 10 * MIN, 10).await, 5);
    assert_eq!(api.due_minutes(&down, confirmed + 20 * MIN, 8).await, 2);
    // ... capped at 15 minutes; the endpoint without backoff every minute.
    let late = confirmed + 120 * MIN;
    assert_eq!(api.due_minutes(&down, late, 30).await, 2);
    assert_eq!(api.due_minutes(&plain, late, 30).await, 30);
    let live = api.live(&cookie, &down).await;
    assert_eq!(
        (live["status"].as_str(), live["checked_every_s"].as_u64()),
        (Some("down"), Some(900)),
        "{live}"
    );
    assert!(
        api.live(&cookie, &plain)
            .await
            .get("checked_every_s")
            .is_none()
    );

    // A success in one region: every minute again.
    api.result(&org, &down, "eu-west-1", late - 5 * MIN, true)
        .await;
    assert_eq!(api.due_minutes(&down, late, 30).await, 30);
    assert!(
        api.live(&cookie, &down)
            .await
            .get("checked_every_s")
            .is_none()
    );

    // Failing again after it: backed off again.
    api.result(&org, &down, "eu-west-1", late - 4 * MIN, false)
        .await;
    assert_eq!(api.due_minutes(&down, late, 30).await, 2);

    // The incident closes: every minute.
    api.incident(&org, &down, confirmed, Some(late - 3 * MIN))
        .await;
    assert_eq!(api.due_minutes(&down, late, 30).await, 30);
}

#[tokio::test]
async fn the_setting_is_validated_stored_exported_and_imported() {
    let api = Api::new("setting").await;
    let (cookie, _) = api.signup("b@example.com").await;
    let base = json!({
        "name": "x",
        "check": {"type": "tcp", "host": "db.example.com", "port": 5432},
        "regions": ["eu-west-1"],
        "confirm_regions": 1,
    });
    for (backoff, interval, field) in [
        (json!({"max_interval_s": 60}), 60, "backoff.max_interval_s"),
        (json!({}), 900, "backoff.max_interval_s"),
        (
            json!({"max_interval_s": 90_000}),
            60,
            "backoff.max_interval_s",
        ),
        (json!({"factor": 1}), 60, "backoff.factor"),
        (json!({"after_s": 10}), 60, "backoff.after_s"),
    ] {
        let mut body = base.clone();
        body["backoff"] = backoff.clone();
        body["interval_s"] = json!(interval);
        let (status, answer) = api
            .call(Method::POST, "/v1/endpoints", &cookie, Some(body))
            .await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{backoff}: {answer}"
        );
    }

    // Heartbeats are pushed, not probed: nothing to back off.
    let mut body = json!({"name": "cron", "check": {"type": "heartbeat", "period_s": 3600}});
    body["backoff"] = json!({});
    let (status, answer) = api
        .call(Method::POST, "/v1/endpoints", &cookie, Some(body))
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("backoff")),
        "{answer}"
    );

    // Defaults filled in, returned and exported; absent stays absent.
    let id = api
        .create(&cookie, "slow", Some(json!({"max_interval_s": 1800})))
        .await;
    api.create(&cookie, "plain", None).await;
    let (_, got) = api
        .call(
            Method::GET,
            &format!("/v1/endpoints/{}", id.as_str()),
            &cookie,
            None,
        )
        .await;
    assert_eq!(
        got["backoff"],
        json!({"after_s": 600, "factor": 2, "max_interval_s": 1800})
    );
    let (status, file) = api.call(Method::GET, "/v1/export", &cookie, None).await;
    assert_eq!(status, StatusCode::OK, "{file}");
    let exported: Vec<&Value> = file["endpoints"].as_array().unwrap().iter().collect();
    let slow = exported.iter().find(|e| e["name"] == "slow").unwrap();
    assert_eq!(slow["backoff"]["max_interval_s"], 1800);
    let plain = exported.iter().find(|e| e["name"] == "plain").unwrap();
    assert!(plain.get("backoff").is_none(), "{plain}");

    // Imported into another organization as it was.
    let (other, _) = api.signup("c@example.com").await;
    let (status, answer) = api
        .call(Method::POST, "/v1/import", &other, Some(file.clone()))
        .await;
    assert!(status.is_success(), "{status} {answer}");
    let (_, list) = api.call(Method::GET, "/v1/endpoints", &other, None).await;
    let slow = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "slow")
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(
        slow["backoff"],
        json!({"after_s": 600, "factor": 2, "max_interval_s": 1800})
    );
}
