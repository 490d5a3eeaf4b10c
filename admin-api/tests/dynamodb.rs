//! The DynamoDB admin store on moto's server (the real AWS SDK client): the store
//! contract run against both adapters, racing writers on one email and one slug, calls
//! that time out or find no table, the API's flows over DynamoDB through the router, and
//! the `admin-api` binary choosing DynamoDB from its configuration.

#![allow(clippy::unwrap_used)]

mod support_store;

use std::io::BufRead;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use scoville_admin_api::config::{Config, StoreKind};
use scoville_admin_api::store::dynamodb::DynamoAdmin;
use scoville_admin_api::store::sqlite::SqliteAdmin;
use scoville_admin_api::store::{AdminStore, StoreError};
use scoville_admin_api::{AppState, router};
use scoville_service_kit::auth::{TokenHash, TokenSet};
use scoville_tests::moto::MotoServer;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn client(moto: &MotoServer) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&moto.sdk_config().await)
}

/// A fresh table on moto and a store on it.
async fn dynamo(moto: &MotoServer, table: &str) -> DynamoAdmin {
    let client = client(moto).await;
    DynamoAdmin::create_table(&client, table).await.unwrap();
    DynamoAdmin::new(client, table)
}

fn sqlite() -> SqliteAdmin {
    SqliteAdmin::open(std::path::Path::new(":memory:")).unwrap()
}

#[tokio::test]
async fn the_sqlite_store_keeps_the_contract() {
    support_store::contract(&sqlite(), "").await;
}

#[tokio::test]
async fn a_sqlite_database_from_before_key_makers_opens_and_keeps_its_keys() {
    let path = std::env::temp_dir().join(format!(
        "scoville-old-admin-{}-{}.db",
        std::process::id(),
        rand_suffix()
    ));
    {
        let old = rusqlite::Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE api_keys (id TEXT PRIMARY KEY, org_id TEXT NOT NULL, name TEXT NOT NULL,
                 scope TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE);
             INSERT INTO api_keys VALUES ('key_old', 'org_old', 'ci', 'read', 'hash-old');",
        )
        .unwrap();
    }
    for _ in 0..2 {
        // Opening twice: the column is added once.
        let store = SqliteAdmin::open(&path).unwrap();
        let (org, key) = store.api_key("hash-old").await.unwrap().unwrap();
        assert_eq!(org.as_str(), "org_old");
        assert_eq!((key.id.as_str(), key.created_by), ("key_old", None));
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[tokio::test]
async fn the_dynamodb_store_keeps_the_contract() {
    let moto = MotoServer::start();
    // Two items a page: every list goes through LastEvaluatedKey.
    let store = dynamo(&moto, "admin-contract").await.with_page_size(2);
    support_store::contract(&store, "").await;
    // Again on the same table, with other ids: nothing of the first run leaks into
    // the second's answers, and creating the table again leaves it as it is.
    DynamoAdmin::create_table(&client(&moto).await, "admin-contract")
        .await
        .unwrap();
    support_store::contract(&store, "again_").await;
}

#[tokio::test]
async fn racing_writers_on_one_email_or_slug_let_exactly_one_win_on_sqlite() {
    let s: Arc<dyn AdminStore> = Arc::new(sqlite());
    support_store::races(s.clone(), s, 4).await;
}

#[tokio::test]
async fn racing_writers_on_one_email_or_slug_let_exactly_one_win_on_dynamodb() {
    // One request at a time, as DynamoDB applies each atomically (see `start_serial`).
    let moto = MotoServer::start_serial();
    // Two instances, each with its own client, on one table.
    let a = dynamo(&moto, "admin-race").await;
    let b = DynamoAdmin::new(client(&moto).await, "admin-race");
    support_store::races(Arc::new(a), Arc::new(b), 12).await;
}

#[tokio::test]
async fn a_call_that_does_not_answer_in_time_or_finds_no_table_is_unavailable() {
    // A server that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let moto = MotoServer::start();
    let sdk = moto.sdk_config().await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(format!("http://{addr}"))
        .build();
    let store = DynamoAdmin::new(aws_sdk_dynamodb::Client::from_conf(config), "admin")
        .with_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    match store.generation().await {
        Err(StoreError::Unavailable(m)) => assert!(m.contains("timed out"), "{m}"),
        other => panic!("{other:?}"),
    }
    match store
        .endpoints(&scoville_core::OrgId::parse("org_1").unwrap())
        .await
    {
        Err(StoreError::Unavailable(m)) => assert!(m.contains("timed out"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));

    // No table: the SDK's message.
    let missing = DynamoAdmin::new(client(&moto).await, "no-such-table");
    match missing.user_by_email("a@a.example").await {
        Err(StoreError::Unavailable(m)) => {
            assert!(
                m.contains("ResourceNotFound") || m.contains("not found"),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
}

const PLATFORM_TOKEN: &str = "platform-probe-token-0123456789";
const PASSWORD: &str = "correct horse battery";

#[derive(Clone)]
struct Api(axum::Router);

impl Api {
    async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Option<(&str, &str)>,
        body: Option<Value>,
    ) -> (StatusCode, Value, Option<String>) {
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
            .0
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let cookie = resp
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            cookie,
        )
    }
}

fn cookie(c: &str) -> Option<(&'static str, &str)> {
    Some(("cookie", c))
}

fn endpoint_body(name: &str) -> Value {
    json!({
        "name": name,
        "check": {"type": "http", "url": "https://shop.example.com/health"},
        "regions": ["eu-west-1", "us-east-1"],
        "apdex_t_ms": 300
    })
}

#[tokio::test]
async fn the_api_runs_over_dynamodb() {
    let moto = MotoServer::start();
    let store = Arc::new(dynamo(&moto, "admin-api").await);
    let state = AppState::new(
        store.clone(),
        TokenSet::new(vec![TokenHash::of(PLATFORM_TOKEN)]),
        3_600_000,
        false,
    )
    .await
    .unwrap();
    let api = Api(router(state));

    // Sign up; the email is taken afterwards.
    let signup = json!({"email": "Owner@A.example", "password": PASSWORD, "org_name": "Org A"});
    let (status, me, first) = api
        .call(Method::POST, "/v1/signup", None, Some(signup.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{me}");
    let first = first.unwrap();
    let (status, answer, _) = api
        .call(Method::POST, "/v1/signup", None, Some(signup))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    // A second browser.
    let login = json!({"email": "owner@a.example", "password": PASSWORD});
    let (status, _, second) = api.call(Method::POST, "/v1/login", None, Some(login)).await;
    assert_eq!(status, StatusCode::OK);
    let second = second.unwrap();
    for c in [&first, &second] {
        let (status, me, _) = api.call(Method::GET, "/v1/me", cookie(c), None).await;
        assert_eq!(status, StatusCode::OK, "{me}");
    }

    // Endpoints: created, listed, replaced, deleted; the probe's list follows.
    let (status, ep, _) = api
        .call(
            Method::POST,
            "/v1/endpoints",
            cookie(&first),
            Some(endpoint_body("shop")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ep}");
    let id = ep["id"].as_str().unwrap().to_string();
    let (status, list, _) = api
        .call(Method::GET, "/v1/endpoints", cookie(&first), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(list.to_string().contains(&id), "{list}");
    let probe_list = || async {
        let (status, page, _) = api
            .call(
                Method::GET,
                "/v1/probe/endpoints?region=eu-west-1&at=1790000000000",
                Some(("authorization", &format!("Bearer {PLATFORM_TOKEN}"))),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(probe_list().await, vec![id.clone()]);
    let (status, put, _) = api
        .call(
            Method::PUT,
            &format!("/v1/endpoints/{id}"),
            cookie(&first),
            Some(endpoint_body("shop, renamed")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    let (status, got, _) = api
        .call(
            Method::GET,
            &format!("/v1/endpoints/{id}"),
            cookie(&first),
            None,
        )
        .await;
    assert_eq!(
        (status, got["name"].as_str()),
        (StatusCode::OK, Some("shop, renamed"))
    );

    // A status page, public by its slug.
    let (status, page, _) = api
        .call(
            Method::POST,
            "/v1/status-pages",
            cookie(&first),
            Some(json!({"slug": "org-a", "title": "Org A", "endpoint_ids": [id]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{page}");
    let (status, public, _) = api
        .call(Method::GET, "/v1/public/status/org-a", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{public}");
    assert!(public.to_string().contains("shop, renamed"), "{public}");

    // Deleted: gone from the list and the probe's list.
    let (status, _, _) = api
        .call(
            Method::DELETE,
            &format!("/v1/endpoints/{id}"),
            cookie(&first),
            None,
        )
        .await;
    assert!(status.is_success(), "{status}");
    let (status, _, _) = api
        .call(
            Method::GET,
            &format!("/v1/endpoints/{id}"),
            cookie(&first),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(probe_list().await.is_empty());

    // A new password ends both sessions and starts a fresh one.
    let (status, _, fresh) = api
        .call(
            Method::POST,
            "/v1/password",
            cookie(&first),
            Some(json!({"current": PASSWORD, "new": "a much better secret"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for revoked in [&first, &second] {
        let (status, _, _) = api.call(Method::GET, "/v1/me", cookie(revoked), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _, _) = api
        .call(Method::GET, "/v1/me", cookie(&fresh.unwrap()), None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// A temporary directory removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("scoville-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_store_section_defaults_to_sqlite_and_reads_dynamodb() {
    let dir = TempDir::new("admin-store-config");
    // A configuration of before `[store]` keeps working, on SQLite.
    let old = dir.0.join("old.toml");
    std::fs::write(&old, "[admin]\nsqlite_path = \"admin.db\"\n").unwrap();
    let c = Config::load(Some(&old)).unwrap();
    assert_eq!(c.store.kind, StoreKind::Sqlite);
    assert_eq!(c.admin.sqlite_path, std::path::PathBuf::from("admin.db"));
    let new = dir.0.join("new.toml");
    std::fs::write(
        &new,
        "[store]\nkind = \"dynamodb\"\ntable = \"scoville-admin-prod\"\n\
         endpoint_url = \"http://127.0.0.1:4566\"\nregion = \"eu-west-1\"\n",
    )
    .unwrap();
    let c = Config::load(Some(&new)).unwrap();
    assert_eq!(c.store.kind, StoreKind::Dynamodb);
    assert_eq!(c.store.table, "scoville-admin-prod");
    assert_eq!(
        c.store.endpoint_url.as_deref(),
        Some("http://127.0.0.1:4566")
    );
    assert_eq!(c.store.region.as_deref(), Some("eu-west-1"));
    assert!(!c.store.create_table);
    let bad = dir.0.join("bad.toml");
    std::fs::write(&bad, "[store]\nkind = \"postgres\"\n").unwrap();
    assert_eq!(Config::load(Some(&bad)).unwrap_err().key, "store.kind");
}

/// The `admin-api` process; killed when dropped.
struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_serves_from_dynamodb_when_configured() {
    let moto = MotoServer::start();
    let dir = TempDir::new("admin-dynamo-bin");
    // The history store opens an existing file; an empty one is an empty database.
    let results = dir.0.join("results.db");
    std::fs::write(&results, b"").unwrap();
    let mut child = Process(
        std::process::Command::new(env!("CARGO_BIN_EXE_admin-api"))
            .args(["--listen", "127.0.0.1:0"])
            .current_dir(&dir.0)
            .env("SCOVILLE_STORE__KIND", "dynamodb")
            .env("SCOVILLE_STORE__TABLE", "admin-bin")
            .env("SCOVILLE_STORE__ENDPOINT_URL", moto.endpoint())
            .env("SCOVILLE_STORE__REGION", scoville_tests::moto::REGION)
            .env("SCOVILLE_STORE__CREATE_TABLE", "true")
            .env("SCOVILLE_ADMIN__SQLITE_PATH", dir.0.join("unused-admin.db"))
            .env("SCOVILLE_HISTORY__SQLITE_PATH", &results)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let addr = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("listening on ").map(str::to_string))
    });
    let addr = tokio::time::timeout(Duration::from_secs(60), addr)
        .await
        .expect("the binary listens within 60 s")
        .unwrap()
        .expect("the binary prints its address");
    let resp = reqwest::Client::new()
        .post(format!("{addr}/v1/signup"))
        .header("content-type", "application/json")
        .body(
            json!({"email": "bin@a.example", "password": PASSWORD, "org_name": "Bin"}).to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201, "{:?}", resp.text().await);
    // The user is in the table the configuration named, not in a SQLite file.
    let store = DynamoAdmin::new(client(&moto).await, "admin-bin");
    let (user, _) = store.user_by_email("bin@a.example").await.unwrap().unwrap();
    assert_eq!(store.memberships(&user.id).await.unwrap().len(), 1);
    assert!(!dir.0.join("unused-admin.db").exists());
}

#[tokio::test]
async fn a_session_the_sweep_missed_is_still_revoked_by_the_new_password() {
    let moto = MotoServer::start();
    let store = dynamo(&moto, "admin-epoch").await;
    let raw = client(&moto).await;
    let alice = scoville_admin_api::model::User {
        id: "usr_alice".into(),
        email: "alice@a.example".into(),
    };
    let org = scoville_admin_api::model::Org {
        id: scoville_core::OrgId::parse("org_a").unwrap(),
        name: "A".into(),
    };
    store
        .create_user_with_org(&alice, "old", &org)
        .await
        .unwrap();
    store
        .create_session("sess-1", &alice.id, i64::MAX)
        .await
        .unwrap();
    assert_eq!(
        store.session_user("sess-1", 0).await.unwrap(),
        Some(alice.clone())
    );
    // The session's item as it was, as if a session being created while the password
    // changed was written after the sweep (or the index had not shown it yet).
    let key = std::collections::HashMap::from([
        (
            "pk".to_string(),
            aws_sdk_dynamodb::types::AttributeValue::S("SESSION#sess-1".into()),
        ),
        (
            "sk".to_string(),
            aws_sdk_dynamodb::types::AttributeValue::S("SESSION".into()),
        ),
    ]);
    let item = raw
        .get_item()
        .table_name("admin-epoch")
        .set_key(Some(key))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    store.set_password(&alice.id, "new").await.unwrap();
    assert_eq!(store.session_user("sess-1", 0).await.unwrap(), None);
    raw.put_item()
        .table_name("admin-epoch")
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    assert_eq!(
        store.session_user("sess-1", 0).await.unwrap(),
        None,
        "created under the old password"
    );
    store
        .create_session("sess-2", &alice.id, i64::MAX)
        .await
        .unwrap();
    assert_eq!(store.session_user("sess-2", 0).await.unwrap(), Some(alice));
}
