//! An admin API on a real socket over SQLite stores in a directory, and the few HTTP
//! calls the tests that drive it through its API share: sign up, read, create.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use scoville_admin_api::history::sqlite::SqliteHistory;
use scoville_admin_api::store::sqlite::SqliteAdmin;
use scoville_admin_api::{AppState, router};
use scoville_core::{EndpointId, OrgId};
use scoville_service_kit::auth::TokenSet;
use scoville_service_kit::http::Server;
use serde_json::{Value, json};

/// The regions endpoints made by [`create`] list.
pub const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];

/// Serves the admin API over `dir/admin.db` (and the receiver's SQLite file at
/// `results`, when given, as its history); returns its base URL.
pub async fn serve(dir: &Path, results: Option<&Path>) -> String {
    serve_with(dir, |state, _| match results {
        Some(path) => state.with_history(Arc::new(SqliteHistory::open(path).unwrap())),
        None => state,
    })
    .await
}

/// Serves the admin API over `dir/admin.db` with links below its own address, after
/// `configure` (given the state and that base URL) added what the test needs; returns
/// the base URL.
pub async fn serve_with(dir: &Path, configure: impl FnOnce(AppState, &str) -> AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let admin = Arc::new(SqliteAdmin::open(&dir.join("admin.db")).unwrap());
    let state = AppState::new(admin, TokenSet::new(Vec::new()), 3_600_000, false)
        .await
        .unwrap()
        .with_public_url(&base);
    let app = router(configure(state, &base));
    tokio::spawn(Server::from_listener(listener, app).run_until(std::future::pending::<()>()));
    base
}

/// A signed-up user's session and organization.
pub struct Account {
    pub cookie: String,
    pub org: OrgId,
}

/// Signs up `email` (its own organization).
pub async fn sign_up(http: &reqwest::Client, base: &str, email: &str) -> Account {
    sign_up_as(http, base, email, None).await
}

/// Signs up `email`, sending `operator` (a service token) when given: what a server
/// with closed sign-up asks.
pub async fn sign_up_as(
    http: &reqwest::Client,
    base: &str,
    email: &str,
    operator: Option<&str>,
) -> Account {
    let mut req = http
        .post(format!("{base}/v1/signup"))
        .json(&json!({"email": email, "password": "correct horse battery", "org_name": email}));
    if let Some(token) = operator {
        req = req.bearer_auth(token);
    }
    let r = req.send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("scoville_session="))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_string();
    let cookie = format!("scoville_session={session}");
    let me: Value = get(http, &format!("{base}/v1/me"), &cookie).await;
    Account {
        cookie,
        org: OrgId::parse(me["org_id"].as_str().unwrap()).unwrap(),
    }
}

/// GETs `url` with the session: 200 expected.
pub async fn get(http: &reqwest::Client, url: &str, cookie: &str) -> Value {
    let r = http.get(url).header("cookie", cookie).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

/// Creates an HTTP endpoint named `name`.
pub async fn create(http: &reqwest::Client, base: &str, a: &Account, name: &str) -> EndpointId {
    let r = http
        .post(format!("{base}/v1/endpoints"))
        .header("cookie", &a.cookie)
        .json(&json!({
            "name": name,
            "check": {"type": "http", "url": format!("https://{name}.example.com/")},
            "regions": REGIONS,
            "confirm_regions": 1,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    EndpointId::parse(v["id"].as_str().unwrap()).unwrap()
}
