//! Joining a server whose sign-up is closed, in a real headless Chromium: a stranger's
//! sign-up is refused with the server's reason on the form; someone following their
//! invitation link while signed out finds the token already in the sign-up form, signs
//! up, and lands in the organization that invited them.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use fantoccini::Locator;
use scoville_admin_api::store::sqlite::SqliteAdmin;
use scoville_admin_api::{AppState, router};
use scoville_service_kit::auth::{TokenHash, TokenSet};
use scoville_service_kit::http::Server;
use scoville_tests::browser::{Browser, click, fill, wait_for, wait_text};
use serde_json::{Value, json};

const OPERATOR: &str = "svc-operator-token-for-ui-join";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitee_signs_up_on_a_closed_server_from_their_link_and_lands_in_the_org() {
    let Some(browser) = Browser::start_or_skip(1280, 900).await else {
        return;
    };
    let browser = browser.client;
    let dir = std::env::temp_dir().join(format!("scoville-ui-join-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(
        Arc::new(SqliteAdmin::open(&dir.join("admin.db")).unwrap()),
        TokenSet::new(Vec::new()),
        3_600_000,
        false,
    )
    .await
    .unwrap()
    .with_public_url(&base)
    .with_service_tokens(TokenSet::new(vec![TokenHash::of(OPERATOR)]))
    .with_closed_signup();
    tokio::spawn(
        Server::from_listener(listener, router(state)).run_until(std::future::pending::<()>()),
    );

    // The owner is made by the operator (as `scoville up`'s first run is) and invites.
    let http = reqwest::Client::new();
    let owner = http
        .post(format!("{base}/v1/signup"))
        .bearer_auth(OPERATOR)
        .json(&json!({"email": "owner@example.com", "password": "correct horse battery", "org_name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(owner.status(), 201);
    let cookie = owner.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let acme = owner.json::<Value>().await.unwrap()["org"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let invitation: Value = http
        .post(format!("{base}/v1/invitations"))
        .header("cookie", &cookie)
        .json(&json!({"email": "grace@example.com", "role": "viewer"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = invitation["token"].as_str().unwrap();

    // The link, signed out: the login page, then "Create an account".
    browser
        .goto(&format!("{base}/#/join/{token}"))
        .await
        .unwrap();
    wait_for(&browser, "#login-form").await;
    click(&browser, "#login-form a[href=\"#/signup\"]").await;
    let field = wait_for(&browser, "#signup-form #f-invitation").await;
    assert_eq!(
        field.prop("value").await.unwrap().unwrap(),
        token,
        "the invitation comes from the link"
    );

    // Without it, the form shows why it is refused.
    fill(&browser, "#signup-form #f-email", "eve@example.com").await;
    fill(
        &browser,
        "#signup-form #f-password",
        "correct horse battery",
    )
    .await;
    fill(&browser, "#signup-form #f-org_name", "Eve's").await;
    fill(&browser, "#signup-form #f-invitation", "").await;
    click(&browser, "#signup-form button[type=submit]").await;
    wait_text(&browser, "#signup-form .form-error", "sign-up is closed").await;

    // With it, the invitee is in: the header's switch shows the inviting organization.
    fill(&browser, "#signup-form #f-email", "grace@example.com").await;
    fill(&browser, "#signup-form #f-invitation", token).await;
    click(&browser, "#signup-form button[type=submit]").await;
    let switch = wait_for(&browser, "#org-switch").await;
    wait_for(&browser, "#endpoints").await;
    assert_eq!(switch.prop("value").await.unwrap().unwrap(), acme);
    assert!(
        browser
            .find_all(Locator::Css("#signup-form"))
            .await
            .unwrap()
            .is_empty()
    );
    browser.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
