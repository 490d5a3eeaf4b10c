//! `scoville up` as it runs when it listens beyond loopback: sign-up closed (only the
//! first run, with the per-start service token, and invitees get accounts) and private
//! targets denied (a check of a loopback address fails without reaching it).

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use scoville::up::{Options, start};
use serde_json::{Value, json};
use support::{TempDir, call, eventually, options, target};

async fn signup(
    http: &reqwest::Client,
    admin: &str,
    email: &str,
    invitation: Option<&str>,
) -> (u16, Value) {
    let mut body = json!({"email": email, "password": "correct horse battery", "org_name": "Own"});
    if let Some(t) = invitation {
        body["invitation"] = json!(t);
    }
    let resp = http
        .post(format!("{admin}/v1/signup"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_signup_admits_invitees_only_and_private_targets_are_refused() {
    let dir = TempDir::new("closed");
    let running = start(&Options {
        open_signup: false,
        private_targets: false,
        ..options(&dir)
    })
    .await
    .unwrap();
    let admin = running.admin_url.clone();
    let http = reqwest::Client::new();

    // The first run needs the service token; then it works as on an open server.
    assert!(
        scoville::first_run::ensure(&admin, "local").await.is_err(),
        "a public sign-up of the first user must be refused"
    );
    let first = scoville::first_run::ensure_as(&admin, "local", Some(running.service_token()))
        .await
        .unwrap()
        .unwrap();
    let key = first.api_key;

    // A stranger cannot sign up.
    let (status, body) = signup(&http, &admin, "eve@example.com", None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.to_string().contains("sign-up is closed"), "{body}");

    // An invitee can, with their invitation (not with someone else's), and joins.
    let inv = call(
        &http,
        reqwest::Method::POST,
        format!("{admin}/v1/invitations"),
        &key,
        Some(json!({"email": "grace@example.com", "role": "viewer"})),
    )
    .await;
    let token = inv["token"].as_str().unwrap();
    let (status, body) = signup(&http, &admin, "eve@example.com", Some(token)).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = signup(&http, &admin, "grace@example.com", Some(token)).await;
    assert_eq!(status, 201, "{body}");
    let members = call(
        &http,
        reqwest::Method::GET,
        format!("{admin}/v1/members"),
        &key,
        None,
    )
    .await;
    assert!(
        members
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["email"] == "grace@example.com" && m["role"] == "viewer"),
        "{members}"
    );
    // Used up: a second account cannot ride on it.
    let (status, body) = signup(&http, &admin, "grace2@example.com", Some(token)).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("invitation")),
        "{body}"
    );

    // A check of a loopback target fails naming the refused address.
    let url = target(Arc::new(AtomicBool::new(true))).await;
    let ep = call(
        &http,
        reqwest::Method::POST,
        format!("{admin}/v1/endpoints"),
        &key,
        Some(
            json!({"name": "lan box", "check": {"type": "http", "url": url},
                    "regions": ["local"], "confirm_regions": 1}),
        ),
    )
    .await;
    let id = ep["id"].as_str().unwrap().to_string();
    let now = scoville_admin_api::app::now_ms();
    running.probe_round_at(Some(now)).await.unwrap();
    let results_url = format!(
        "{admin}/v1/endpoints/{id}/results?from={}&to={}",
        now - 3_600_000,
        now + 3_600_000
    );
    let result = eventually("the lan box's result", Duration::from_secs(30), || {
        let (http, url, key) = (http.clone(), results_url.clone(), key.clone());
        async move {
            let r = call(&http, reqwest::Method::GET, url, &key, None).await;
            r["results"].as_array().and_then(|l| l.first()).cloned()
        }
    })
    .await;
    assert_eq!(result["outcome"], "down", "{result}");
    assert!(
        result.to_string().contains("not allowed"),
        "the refusal names the address: {result}"
    );
    running.stop().await.unwrap();
}
