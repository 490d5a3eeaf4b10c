//! Joining a server whose sign-up is closed, in a real headless Chromium: a stranger's
//! sign-up is refused with the server's reason on the form; someone following their
//! invitation link while signed out finds the token already in the sign-up form, signs
//! up, and lands in the organization that invited them.

#![allow(clippy::unwrap_used)]

mod support_http;

use fantoccini::Locator;
use scoville_service_kit::auth::{TokenHash, TokenSet};
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
    let base = support_http::serve_with(&dir, |state, _| {
        state
            .with_service_tokens(TokenSet::new(vec![TokenHash::of(OPERATOR)]))
            .with_closed_signup()
    })
    .await;

    // The owner is made by the operator (as `scoville up`'s first run is) and invites.
    let http = reqwest::Client::new();
    let owner = support_http::sign_up_as(&http, &base, "owner@example.com", Some(OPERATOR)).await;
    let acme = owner.org.as_str().to_string();
    let invitation: Value = http
        .post(format!("{base}/v1/invitations"))
        .header("cookie", &owner.cookie)
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
