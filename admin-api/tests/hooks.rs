//! Result hooks through the admin API on a real socket over SQLite: create (the secret
//! shown once), list, read, replace, delete; 422 naming the field; read-only keys refused;
//! another org's hooks 404; and what the services read: every endpoint's directory entry
//! lists the org's hooks, the channel route answers a hook as a signed webhook, the hooks
//! route lists ids and events.

#![allow(clippy::unwrap_used)]

mod support_http;

use std::sync::Arc;

use reqwest::StatusCode;
use scoville_admin_api::store::sqlite::SqliteAdmin;
use scoville_admin_api::{AppState, router};
use scoville_service_kit::auth::{TokenHash, TokenSet};
use scoville_service_kit::http::Server;
use serde_json::{Value, json};
use support_http::{Account, create, sign_up};

const SERVICE: &str = "service-token-0123456789abcdef";

async fn serve(dir: &std::path::Path) -> String {
    let admin = Arc::new(SqliteAdmin::open(&dir.join("admin.db")).unwrap());
    let state = AppState::new(admin, TokenSet::new(Vec::new()), 3_600_000, false)
        .await
        .unwrap()
        .with_service_tokens(TokenSet::new(vec![TokenHash::of(SERVICE)]));
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), router(state))
        .await
        .unwrap();
    let base = format!("http://{}", server.local_addr().unwrap());
    tokio::spawn(server.run_until(std::future::pending::<()>()));
    base
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    auth: (&str, &str),
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = http.request(method, url).header(auth.0, auth.1);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn cookie(a: &Account) -> (&'static str, &str) {
    ("cookie", a.cookie.as_str())
}

#[tokio::test]
async fn hooks_are_an_orgs_resource_with_a_secret_shown_once() {
    let dir = scoville_tests::procs::temp_dir("scoville-hooks-api");
    let base = serve(&dir).await;
    let http = reqwest::Client::new();
    let a = sign_up(&http, &base, "a@hooks.example").await;
    let b = sign_up(&http, &base, "b@hooks.example").await;
    let hooks = format!("{base}/v1/hooks");

    let (status, created) = call(
        &http,
        reqwest::Method::POST,
        &hooks,
        cookie(&a),
        Some(json!({"name": " lake ", "url": "https://hooks.example.com/in?token=t0k", "events": "all"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(
        id.starts_with("hk_") && secret.starts_with("whsec_"),
        "{created}"
    );
    assert_eq!(created["name"], "lake");
    assert_eq!(created["events"], "all");
    assert_eq!(
        created["url"], "https://hooks.example.com/in",
        "no token shown"
    );

    // Never again: not in the list, not in a read.
    let (status, list) = call(&http, reqwest::Method::GET, &hooks, cookie(&a), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&secret) && !list.to_string().contains("t0k"));
    let one = format!("{hooks}/{id}");
    let (status, got) = call(&http, reqwest::Method::GET, &one, cookie(&a), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["id"], id.as_str());
    assert!(got.get("secret").is_none());

    // Replace: name, URL, events; the secret stays (checked below through the service).
    let (status, replaced) = call(
        &http,
        reqwest::Method::PUT,
        &one,
        cookie(&a),
        Some(json!({"name": "alerts", "url": "http://hooks.example.com/2", "events": "state_changes"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["events"], "state_changes");
    assert_eq!(replaced["name"], "alerts");

    // 422 names the field.
    for (body, field) in [
        (
            json!({"name": "x", "url": "ftp://hooks.example.com/", "events": "all"}),
            "url",
        ),
        (
            json!({"name": "x", "url": "not a url", "events": "all"}),
            "url",
        ),
        (
            json!({"name": "  ", "url": "https://hooks.example.com/", "events": "all"}),
            "name",
        ),
        (
            json!({"name": "x", "url": "https://hooks.example.com/", "events": "sometimes"}),
            "events",
        ),
    ] {
        let (status, err) = call(
            &http,
            reqwest::Method::POST,
            &hooks,
            cookie(&a),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        assert_eq!(err["field"], field, "{body}: {err}");
    }

    // A read-only key reads but cannot write.
    let (status, key) = call(
        &http,
        reqwest::Method::POST,
        &format!("{base}/v1/api-keys"),
        cookie(&a),
        Some(json!({"name": "ro", "scope": "read"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let bearer = format!("Bearer {}", key["key"].as_str().unwrap());
    let ro = ("authorization", bearer.as_str());
    assert_eq!(
        call(&http, reqwest::Method::GET, &hooks, ro, None).await.0,
        StatusCode::OK
    );
    let body = json!({"name": "x", "url": "https://hooks.example.com/", "events": "all"});
    assert_eq!(
        call(&http, reqwest::Method::POST, &hooks, ro, Some(body.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&http, reqwest::Method::DELETE, &one, ro, None).await.0,
        StatusCode::FORBIDDEN
    );

    // Another org: 404 on every route, and an empty list.
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        assert_eq!(
            call(&http, method, &one, cookie(&b), None).await.0,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        call(
            &http,
            reqwest::Method::PUT,
            &one,
            cookie(&b),
            Some(body.clone())
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (_, b_list) = call(&http, reqwest::Method::GET, &hooks, cookie(&b), None).await;
    assert_eq!(b_list, json!([]));

    // What the services read.
    let svc = format!("Bearer {SERVICE}");
    let service = ("authorization", svc.as_str());
    let ep = create(&http, &base, &a, "shop").await;
    let (status, entry) = call(
        &http,
        reqwest::Method::GET,
        &format!("{base}/v1/service/endpoints/{}/{}", a.org, ep.as_str()),
        service,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{entry}");
    assert_eq!(
        entry["channels"],
        json!([id]),
        "the endpoint lists no channel itself"
    );
    let (status, config) = call(
        &http,
        reqwest::Method::GET,
        &format!("{base}/v1/service/channels/{}/{id}", a.org),
        service,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        config,
        json!({"type": "webhook", "url": "http://hooks.example.com/2", "secret": secret})
    );
    assert_eq!(
        call(
            &http,
            reqwest::Method::GET,
            &format!("{base}/v1/service/channels/{}/{id}", b.org),
            service,
            None,
        )
        .await
        .0,
        StatusCode::NOT_FOUND,
        "a hook is found under its own org only"
    );
    let (status, refs) = call(
        &http,
        reqwest::Method::GET,
        &format!("{base}/v1/service/hooks/{}", a.org),
        service,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(refs, json!([{"id": id, "events": "state_changes"}]));
    assert_eq!(
        call(
            &http,
            reqwest::Method::GET,
            &format!("{base}/v1/service/hooks/{}", a.org),
            cookie(&a),
            None
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED,
        "people never read the services' routes"
    );

    // Delete: gone from the list and from the directory entry.
    assert_eq!(
        call(&http, reqwest::Method::DELETE, &one, cookie(&a), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&http, reqwest::Method::GET, &one, cookie(&a), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (_, entry) = call(
        &http,
        reqwest::Method::GET,
        &format!("{base}/v1/service/endpoints/{}/{}", a.org, ep.as_str()),
        service,
        None,
    )
    .await;
    assert_eq!(entry["channels"], json!([]));
}
