//! Result hooks and probe tokens managed in the web UI, in a real headless Chromium: a
//! hook added on the Hooks page shows its signing secret once and is listed (and
//! stored, per the API) with what it sends; deleting it asks once more; a probe token
//! made on the API keys page is shown once, works for the probe's list, and stops
//! working once revoked there.
//!
//! Screenshot: `13-hooks.png` (the Hooks page with a new hook's secret).

#![allow(clippy::unwrap_used)]

mod support_http;

use fantoccini::Locator;
use scoville_tests::browser::{Browser, click, fill, screenshot, wait_for, wait_text};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_and_probe_tokens_are_made_shown_once_and_removed_in_the_ui() {
    let Some(browser) = Browser::start_or_skip(1280, 900).await else {
        return;
    };
    let browser = browser.client;
    let dir = std::env::temp_dir().join(format!("scoville-ui-hooks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let base = support_http::serve(&dir, None).await;
    let http = reqwest::Client::new();
    let account = support_http::sign_up(&http, &base, "ops@example.com").await;
    let api = |path: &str| {
        let (http, url, cookie) = (
            http.clone(),
            format!("{base}{path}"),
            account.cookie.clone(),
        );
        async move { support_http::get(&http, &url, &cookie).await }
    };

    browser.goto(&format!("{base}/#/login")).await.unwrap();
    fill(&browser, "#login-form #f-email", "ops@example.com").await;
    fill(&browser, "#login-form #f-password", "correct horse battery").await;
    click(&browser, "#login-form button[type=submit]").await;

    // A hook: its secret once, then listed with what it sends.
    click(&browser, "#nav a[href=\"#/hooks\"]").await;
    fill(&browser, "#hook-form #f-name", "Data <lake>").await;
    fill(
        &browser,
        "#hook-form #f-url",
        "https://hooks.example.com/scoville",
    )
    .await;
    wait_for(&browser, "#hook-form #f-events")
        .await
        .select_by_value("all")
        .await
        .unwrap();
    click(&browser, "#hook-form button[type=submit]").await;
    let secret = wait_for(&browser, "#hook-secret")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let row = wait_text(&browser, "#hooks tbody tr", "Data <lake>").await;
    assert!(row.contains("Every result"), "{row}");
    let hooks: Value = api("/v1/hooks").await;
    assert_eq!(hooks[0]["events"], "all", "{hooks}");
    assert!(!hooks.to_string().contains(&secret), "never answered again");
    screenshot(&browser, "13-hooks.png").await;
    click(&browser, "#hooks button.danger").await;
    wait_text(&browser, "#hooks button.danger", "Confirm").await;
    click(&browser, "#hooks button.danger").await;
    wait_for(&browser, "p#hooks").await;
    assert_eq!(api("/v1/hooks").await, serde_json::json!([]));

    // A probe token: shown once, lists the org's endpoints, revoked from the page.
    click(&browser, "#nav a[href=\"#/api-keys\"]").await;
    fill(
        &browser,
        "#probe-token-form #f-token_name",
        "Frankfurt office",
    )
    .await;
    click(&browser, "#probe-token-form button[type=submit]").await;
    let token = wait_for(&browser, "#probe-token-secret")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    wait_text(&browser, "#probe-tokens tbody tr", "Frankfurt office").await;
    let list = |token: String| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            http.get(format!("{base}/v1/probe/endpoints?region=eu-west-1"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(list(token.clone()).await, 200);
    click(&browser, "#probe-tokens button.danger").await;
    wait_text(&browser, "#probe-tokens button.danger", "Confirm").await;
    click(&browser, "#probe-tokens button.danger").await;
    wait_for(&browser, "p#probe-tokens").await;
    assert_eq!(list(token).await, 401);
    assert!(
        browser
            .find_all(Locator::Css("#probe-token-secret"))
            .await
            .unwrap()
            .is_empty(),
        "the token is not shown again"
    );
    browser.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
