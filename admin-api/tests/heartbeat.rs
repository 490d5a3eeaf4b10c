//! Heartbeat (push) checks through the admin API on a real socket: creating one shows
//! its ping URL once; pings (GET and POST, `/start`, `/fail`, payload assertions) are
//! handed on as check results to a recorder standing where the receiver and the
//! failure service listen (the whole story on the real services is
//! `scoville/tests/up.rs`); a hand-over that fails answers 503 and records nothing;
//! the sweep reports a missed ping once per deadline; new tokens retire old ones; the
//! heartbeat store keeps its contract on SQLite and on DynamoDB (moto).

#![allow(clippy::unwrap_used)]

mod support_http;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use scoville_admin_api::heartbeat::Heartbeats;
use scoville_admin_api::heartbeat::dynamodb::DynamoHeartbeats;
use scoville_admin_api::heartbeat::forward::Forwarder;
use scoville_admin_api::heartbeat::sqlite::SqliteHeartbeats;
use scoville_admin_api::heartbeat::store::{Heard, HeartbeatStore};
use scoville_admin_api::store::AdminStore;
use scoville_admin_api::store::dynamodb::DynamoAdmin;
use scoville_admin_api::store::sqlite::SqliteAdmin;
use scoville_admin_api::{AppState, router};
use scoville_core::{EndpointId, OrgId};
use scoville_service_kit::auth::{TokenHash, TokenSet};
use scoville_service_kit::http::Server;
use scoville_tests::moto::MotoServer;
use serde_json::{Value, json};

/// What the recorder got: (path, result) per result.
#[derive(Debug, Clone, Default)]
struct Recorder {
    got: Arc<Mutex<Vec<(String, Value)>>>,
    refuse: Arc<Mutex<bool>>,
}

impl Recorder {
    fn results(&self, path: &str) -> Vec<Value> {
        let got = self.got.lock().unwrap();
        got.iter()
            .filter(|(p, _)| p == path)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

async fn record(
    State((rec, path)): State<(Recorder, &'static str)>,
    Json(batch): Json<Value>,
) -> StatusCode {
    if *rec.refuse.lock().unwrap() {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    for r in batch["results"].as_array().unwrap() {
        rec.got.lock().unwrap().push((path.to_string(), r.clone()));
    }
    StatusCode::CREATED
}

async fn recorder() -> (Recorder, String) {
    let rec = Recorder::default();
    let app = axum::Router::new()
        .route(
            "/v1/results",
            post(record).with_state((rec.clone(), "results")),
        )
        .route(
            "/v1/failures",
            post(record).with_state((rec.clone(), "failures")),
        );
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), app)
        .await
        .unwrap();
    let url = format!("http://{}", server.local_addr().unwrap());
    tokio::spawn(server.run_until(std::future::pending::<()>()));
    (rec, url)
}

struct Api {
    base: String,
    http: reqwest::Client,
    cookie: String,
    heartbeats: Heartbeats,
    admin: Arc<dyn AdminStore>,
    rec: Recorder,
}

/// A fresh directory under the system's temporary one.
fn scratch() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("scoville-heartbeat-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const SERVICE_TOKEN: &str = "svc_heartbeat_test";

async fn api() -> Api {
    let dir = scratch();
    let admin: Arc<dyn AdminStore> = Arc::new(SqliteAdmin::open(&dir.join("admin.db")).unwrap());
    let (rec, url) = recorder().await;
    let heartbeats = Heartbeats::new(
        Arc::new(SqliteHeartbeats::open(&dir.join("admin.db")).unwrap()),
        Some(Forwarder::new(&url, &url, "pt_test", Duration::from_secs(5)).unwrap()),
    );
    let state = AppState::new(admin.clone(), TokenSet::new(Vec::new()), 3_600_000, false)
        .await
        .unwrap()
        .with_service_tokens(TokenSet::new(vec![TokenHash::of(SERVICE_TOKEN)]))
        .with_heartbeats(heartbeats.clone());
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), router(state))
        .await
        .unwrap();
    let base = format!("http://{}", server.local_addr().unwrap());
    tokio::spawn(server.run_until(std::future::pending::<()>()));
    let http = reqwest::Client::new();
    let account = support_http::sign_up(&http, &base, "ops@example.com").await;
    Api {
        base,
        http,
        cookie: account.cookie,
        heartbeats,
        admin,
        rec,
    }
}

impl Api {
    async fn create(&self, check: Value) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/endpoints", self.base))
            .header("cookie", &self.cookie)
            .json(&json!({"name": "nightly backup", "check": check}))
            .send()
            .await
            .unwrap()
    }

    async fn heartbeat(&self, check: Value) -> (String, String) {
        let r = self.create(check).await;
        assert_eq!(r.status(), 201);
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["regions"], json!(["heartbeat"]));
        let url = e["ping_url"].as_str().unwrap().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:8080/v1/ping/hb_"),
            "{url}"
        );
        // The URL names the public address; the test calls this server.
        let path = url.trim_start_matches("http://127.0.0.1:8080").to_string();
        (
            e["id"].as_str().unwrap().to_string(),
            format!("{}{path}", self.base),
        )
    }

    async fn state(&self, id: &str) -> Value {
        support_http::get(
            &self.http,
            &format!("{}/v1/endpoints/{id}/heartbeat", self.base),
            &self.cookie,
        )
        .await
    }
}

#[tokio::test]
async fn pings_become_results_with_durations_and_payload_verdicts() {
    let api = api().await;
    let (id, ping) = api
        .heartbeat(
            json!({"type": "heartbeat", "period_s": 3600, "grace_s": 300, "payload": [
            {"type": "json_path", "path": "$.failed", "equals": 0}]}),
        )
        .await;
    assert_eq!(api.state(&id).await["status"], "new");
    // The ping URL is shown once: the endpoint as read has none.
    let read = support_http::get(
        &api.http,
        &format!("{}/v1/endpoints/{id}", api.base),
        &api.cookie,
    )
    .await;
    assert!(read.get("ping_url").is_none(), "{read}");

    // /start, then a good finish: one result (start records no result), up, with the
    // run's duration as its total time.
    let r = api.http.get(format!("{ping}/start")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(api.state(&id).await["status"], "running");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = api
        .http
        .post(&ping)
        .body(r#"{"failed": 0, "files": 12}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "OK\n");
    let results = api.rec.results("results");
    assert_eq!(results.len(), 1, "{results:?}");
    let first = &results[0];
    assert_eq!(
        (&first["endpoint_id"], &first["region"], &first["outcome"]),
        (&json!(id), &json!("heartbeat"), &json!("up"))
    );
    let took = first["timings"]["total_ms"].as_f64().unwrap();
    assert!((300.0..5_000.0).contains(&took), "{took}");
    // Every heartbeat result also goes to the failure service.
    assert_eq!(api.rec.results("failures").len(), 1);
    assert_eq!(api.state(&id).await["status"], "up");

    // A payload failing its assertion is a failed run.
    let r = api
        .http
        .post(&ping)
        .body(r#"{"failed": 2}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let last = api.rec.results("results").pop().unwrap();
    assert_eq!(
        (&last["outcome"], &last["reason"]),
        (&json!("down"), &json!("assertion"))
    );
    assert!(
        last["message"].as_str().unwrap().contains("$.failed is 2"),
        "{last}"
    );
    assert_eq!(api.state(&id).await["status"], "down");

    // /fail: the job's own failure, its first line as the message.
    let r = api
        .http
        .post(format!("{ping}/fail"))
        .body("\nrsync: connection reset\nmore")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let last = api.rec.results("results").pop().unwrap();
    assert_eq!(last["reason"], "reported_failure");
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .ends_with(": rsync: connection reset"),
        "{last}"
    );
    assert_eq!(api.rec.results("results").len(), 3);
}

#[tokio::test]
async fn bad_pings_and_bad_checks_are_refused_clearly() {
    let api = api().await;
    let (id, ping) = api
        .heartbeat(json!({"type": "heartbeat", "period_s": 60}))
        .await;
    // Unknown token: 404, nothing handed on.
    let r = api
        .http
        .get(format!("{}/v1/ping/hb_{}", api.base, "0".repeat(64)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Over 100 KiB: 413.
    let r = api
        .http
        .post(&ping)
        .body(vec![b'x'; 100 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(api.rec.results("results").is_empty());
    // The receiver does not take it: 503, and nothing is recorded as heard.
    *api.rec.refuse.lock().unwrap() = true;
    let r = api.http.get(&ping).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(api.state(&id).await["status"], "new");
    *api.rec.refuse.lock().unwrap() = false;
    let r = api.http.get(&ping).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(api.state(&id).await["status"], "up");

    // Checks: 422 naming what is wrong.
    for (check, extra, field) in [
        (
            json!({"type": "heartbeat", "period_s": 5}),
            json!({}),
            "period_s",
        ),
        (
            json!({"type": "heartbeat", "period_s": 60, "payload": [{"type": "max_latency_ms", "value": 3}]}),
            json!({}),
            "payload[0]",
        ),
        (
            json!({"type": "heartbeat", "period_s": 60}),
            json!({"regions": ["eu-west-1"]}),
            "regions",
        ),
    ] {
        let mut body = json!({"name": "job", "check": check});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = api
            .http
            .post(format!("{}/v1/endpoints", api.base))
            .header("cookie", &api.cookie)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{body}");
        let e: Value = r.json().await.unwrap();
        assert!(e.to_string().contains(field), "{field}: {e}");
    }

    // A heartbeat is never in a probe's list.
    let all = api.admin.all_endpoints(None).await.unwrap();
    assert_eq!(all.len(), 1);
}

#[tokio::test]
async fn a_new_token_retires_the_old_one() {
    let api = api().await;
    let (id, old) = api
        .heartbeat(json!({"type": "heartbeat", "period_s": 60}))
        .await;
    let r = api
        .http
        .post(format!("{}/v1/endpoints/{id}/ping-token", api.base))
        .header("cookie", &api.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let new: Value = r.json().await.unwrap();
    let new = format!(
        "{}{}",
        api.base,
        new["ping_url"]
            .as_str()
            .unwrap()
            .trim_start_matches("http://127.0.0.1:8080")
    );
    assert_ne!(new, old);
    assert_eq!(api.http.get(&old).send().await.unwrap().status(), 404);
    assert_eq!(api.http.get(&new).send().await.unwrap().status(), 200);
    // Deleting the endpoint retires its token too.
    let r = api
        .http
        .delete(format!("{}/v1/endpoints/{id}", api.base))
        .header("cookie", &api.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(api.http.get(&new).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn the_sweep_reports_a_missed_ping_once_per_deadline() {
    let api = api().await;
    let (id, ping) = api
        .heartbeat(json!({"type": "heartbeat", "period_s": 60, "grace_s": 30}))
        .await;
    let (_never_pinged, _) = api
        .heartbeat(json!({"type": "heartbeat", "period_s": 60}))
        .await;
    // Through the service route too (AWS calls it on a schedule): nothing due yet.
    let r = api
        .http
        .post(format!("{}/v1/service/heartbeats/sweep", api.base))
        .bearer_auth(SERVICE_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["reported"], 0);
    let r = api
        .http
        .post(format!("{}/v1/service/heartbeats/sweep", api.base))
        .header("cookie", &api.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "people cannot sweep");

    assert_eq!(api.http.get(&ping).send().await.unwrap().status(), 200);
    let pinged = api.rec.results("results")[0]["started_at_ms"]
        .as_i64()
        .unwrap();
    let (heartbeats, admin) = (api.heartbeats.clone(), api.admin.clone());
    let sweep = |at: i64| {
        let (heartbeats, admin) = (heartbeats.clone(), admin.clone());
        async move { heartbeats.sweep(admin.as_ref(), at).await.unwrap() }
    };
    // Late but within grace: nothing.
    assert_eq!(sweep(pinged + 89_000).await, 0);
    // Overdue: one failed result at the deadline, to both services.
    assert_eq!(sweep(pinged + 95_000).await, 1);
    let missed = api.rec.results("failures").pop().unwrap();
    assert_eq!(
        (&missed["reason"], missed["started_at_ms"].as_i64().unwrap()),
        (&json!("missed_ping"), pinged + 90_000)
    );
    assert!(
        missed["message"]
            .as_str()
            .unwrap()
            .starts_with("no ping for"),
        "{missed}"
    );
    assert_eq!(api.state(&id).await["status"], "down");
    // Swept again before the next deadline: nothing more.
    assert_eq!(sweep(pinged + 120_000).await, 0);
    // The next period's deadline: reported again.
    assert_eq!(sweep(pinged + 150_000).await, 1);
    assert_eq!(api.rec.results("results").len(), 3);
    // A ping brings it back (the failure service closes the incident on it).
    assert_eq!(api.http.get(&ping).send().await.unwrap().status(), 200);
    assert_eq!(api.rec.results("failures").pop().unwrap()["outcome"], "up");
}

/// The store contract, run on both adapters.
async fn contract(store: &dyn HeartbeatStore) {
    let org = OrgId::parse("org_a").unwrap();
    let (a, b) = (
        EndpointId::parse("ep_a").unwrap(),
        EndpointId::parse("ep_b").unwrap(),
    );
    assert_eq!(store.by_token("h1").await.unwrap(), None);
    store.set_token(&org, &a, "h1").await.unwrap();
    store.set_token(&org, &b, "h2").await.unwrap();
    let beat = store.by_token("h1").await.unwrap().unwrap();
    assert_eq!(
        (beat.endpoint_id.as_str(), beat.last_ping_ms),
        ("ep_a", None)
    );
    // Times only move forward.
    store
        .record(
            &org,
            &a,
            Heard::Finish {
                at_ms: 200,
                ok: true,
            },
        )
        .await
        .unwrap();
    store
        .record(
            &org,
            &a,
            Heard::Finish {
                at_ms: 100,
                ok: false,
            },
        )
        .await
        .unwrap();
    store.record(&org, &a, Heard::Start(150)).await.unwrap();
    store.record(&org, &a, Heard::Reported(500)).await.unwrap();
    store.record(&org, &a, Heard::Reported(400)).await.unwrap();
    let beat = store.beat(&org, &a).await.unwrap().unwrap();
    assert_eq!(
        (
            beat.last_ping_ms,
            beat.last_ok,
            beat.last_start_ms,
            beat.reported_ms
        ),
        (Some(200), Some(true), Some(150), Some(500))
    );
    // A new token retires the old one and keeps what was heard.
    store.set_token(&org, &a, "h3").await.unwrap();
    assert_eq!(store.by_token("h1").await.unwrap(), None);
    assert_eq!(
        store.by_token("h3").await.unwrap().unwrap().last_ping_ms,
        Some(200)
    );
    let all = store.all(10).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(store.all(1).await.unwrap().len(), 1);
    store.remove(&org, &a).await.unwrap();
    assert_eq!(store.by_token("h3").await.unwrap(), None);
    assert_eq!(store.beat(&org, &a).await.unwrap(), None);
    // Recording for a removed beat does not bring it back.
    store.record(&org, &a, Heard::Start(900)).await.unwrap();
    assert_eq!(store.beat(&org, &a).await.unwrap(), None);
    assert_eq!(store.all(10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_sqlite_heartbeat_store_keeps_the_contract() {
    contract(&SqliteHeartbeats::open(&scratch().join("hb.db")).unwrap()).await;
}

#[tokio::test]
async fn the_dynamodb_heartbeat_store_keeps_the_contract() {
    let moto = MotoServer::start();
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    DynamoAdmin::create_table(&client, "admin-heartbeats")
        .await
        .unwrap();
    contract(&DynamoHeartbeats::new(
        client,
        "admin-heartbeats",
        Duration::from_secs(5),
    ))
    .await;
}

#[tokio::test]
async fn a_ping_url_answers_429_past_thirty_pings_a_minute() {
    let api = api().await;
    let (_, ping) = api
        .heartbeat(json!({"type": "heartbeat", "period_s": 60}))
        .await;
    // Not at the end of a minute: the 31 pings below take well under 5 s.
    let into_minute = scoville_admin_api::app::now_ms() % 60_000;
    if into_minute > 55_000 {
        tokio::time::sleep(Duration::from_millis(60_500 - into_minute as u64)).await;
    }
    for _ in 0..30 {
        assert_eq!(api.http.get(&ping).send().await.unwrap().status(), 200);
    }
    let r = api.http.get(&ping).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Nothing of the refused ping was handed on.
    assert_eq!(api.rec.results("results").len(), 30);
}
