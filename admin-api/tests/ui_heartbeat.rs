//! A heartbeat check made and read in the web UI, in a real headless Chromium: the
//! endpoint form offers "Heartbeat", hides what only probed checks have (regions,
//! timeout, interval), creates it; its page shows the ping URL once and the state
//! (`new`); the job's ping (a real HTTP call to that URL) turns it `up`; "New ping URL"
//! (confirmed) shows another URL and the old one answers 404. Results are handed to a
//! recorder standing where the receiver and the failure service listen (the whole
//! story on the real services: `scoville/tests/heartbeat.rs`).
//!
//! Screenshot: `08-heartbeat.png` (the heartbeat's page at 1280 px: state "up", last
//! ping, next due, the new ping URL).

#![allow(clippy::unwrap_used)]

mod support_http;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use fantoccini::Locator;
use scoville_admin_api::heartbeat::Heartbeats;
use scoville_admin_api::heartbeat::forward::Forwarder;
use scoville_admin_api::heartbeat::sqlite::SqliteHeartbeats;
use scoville_service_kit::http::Server;
use scoville_tests::browser::{Browser, click, fill, screenshot, wait_for, wait_text};

async fn serve(app: axum::Router) -> String {
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), app)
        .await
        .unwrap();
    let url = format!("http://{}", server.local_addr().unwrap());
    tokio::spawn(server.run_until(std::future::pending::<()>()));
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_made_in_the_ui_shows_its_ping_url_once_and_turns_up_when_pinged() {
    let Some(browser) = Browser::start_or_skip(1280, 900).await else {
        return;
    };
    let browser = browser.client;
    let dir = std::env::temp_dir().join(format!("scoville-ui-heartbeat-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Where results go: a sink answering 201.
    let sink = serve(
        axum::Router::new()
            .route("/v1/results", post(|| async { StatusCode::CREATED }))
            .route("/v1/failures", post(|| async { StatusCode::ACCEPTED })),
    )
    .await;
    let heartbeats = Heartbeats::new(
        Arc::new(SqliteHeartbeats::open(&dir.join("admin.db")).unwrap()),
        Some(Forwarder::new(&sink, &sink, "pt_ui", Duration::from_secs(5)).unwrap()),
    );
    let base = support_http::serve_with(&dir, |state, _| state.with_heartbeats(heartbeats)).await;
    let http = reqwest::Client::new();
    support_http::sign_up(&http, &base, "ops@example.com").await;

    browser.goto(&format!("{base}/#/login")).await.unwrap();
    fill(&browser, "#login-form #f-email", "ops@example.com").await;
    fill(&browser, "#login-form #f-password", "correct horse battery").await;
    click(&browser, "#login-form button[type=submit]").await;
    click(&browser, "#new-endpoint").await;
    wait_for(&browser, "#endpoint-form").await;
    fill(&browser, "#f-name", "Nightly backup").await;
    wait_for(&browser, "#f-check-type")
        .await
        .select_by_value("heartbeat")
        .await
        .unwrap();
    // The probed checks' fields are hidden; the heartbeat's are shown.
    let regions = wait_for(&browser, "#f-regions").await;
    assert!(!regions.is_displayed().await.unwrap(), "regions hidden");
    fill(&browser, "#f-check-period_s", "3600").await;
    fill(&browser, "#f-check-grace_s", "300").await;
    click(&browser, "#endpoint-form button[type=submit]").await;

    // Its page: the ping URL (once) and the state.
    let url = wait_text(&browser, "#ping-url-text", "/v1/ping/hb_").await;
    assert!(url.starts_with(&base), "{url}");
    wait_text(&browser, "#heartbeat-state", "Heartbeat: new").await;
    // The job pings; the page read again says up.
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
    browser.refresh().await.unwrap();
    wait_text(&browser, "#heartbeat-state", "Heartbeat: up").await;
    assert!(
        browser.find(Locator::Css("#ping-url-text")).await.is_err(),
        "the URL is shown once"
    );

    // A new URL, confirmed: the old one stops working.
    click(&browser, "#new-ping-url").await;
    wait_text(&browser, "#new-ping-url", "Confirm").await;
    click(&browser, "#new-ping-url").await;
    let new = wait_text(&browser, "#ping-url-text", "/v1/ping/hb_").await;
    assert_ne!(new, url);
    assert_eq!(http.get(&url).send().await.unwrap().status(), 404);
    assert_eq!(http.get(&new).send().await.unwrap().status(), 200);
    screenshot(&browser, "08-heartbeat.png").await;
    browser.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
