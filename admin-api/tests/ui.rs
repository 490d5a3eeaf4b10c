//! The web UI in a real headless Chromium (Debian's `chromium` and `chromedriver`, driven
//! through WebDriver with fantoccini): the API is served on a real port over SQLite
//! stores in a temporary directory, and the test, as a user would:
//!
//! - signs up through the form (a short password refused inline first);
//! - creates an endpoint named `<img src=x onerror=alert(1)>` through the endpoint form,
//!   whose first submission gets the API's 422 shown next to the URL field
//!   (`aria-invalid`, `aria-describedby`), and sees it on the dashboard as text (no
//!   image, no alert);
//! - sees it turn green when results arrive and red when the failure service's incident
//!   is logged, without a reload, and filters the list;
//! - opens the endpoint's page: its live status, the response-time chart (SVG paths with
//!   points, p50 and p95 per region, the legend), another range, Apdex, each region's
//!   latest check, the timing breakdown, the incident with its error as text; pauses and
//!   resumes it;
//! - on the channels page, gets an inline 422 for a bad webhook URL, then creates a
//!   webhook to a local recording server and sends it a test notification (the recorder
//!   receives it);
//! - creates an API key and sees its secret once (it works; it is gone on the next
//!   visit); invites a member and gets the link to join;
//! - joins another organization through an invitation link, and switches between the
//!   two in the header: the live dashboard follows;
//! - checks every page fits a phone's width (390 px, nothing sticking out sideways),
//!   uses the keyboard to log out.
//!
//! Screenshots go to `$CARGO_TARGET_DIR/ui-screenshots/` (`target/` by default):
//!
//! - `01-signup.png`: the sign-up form;
//! - `02-dashboard-up.png`: the dashboard, the endpoint up with its sparkline and uptime;
//! - `02b-dashboard-certificate.png`: the same endpoint yellow, its certificate within
//!   the warn days ("certificate expires in 9 days" under the name);
//! - `03-dashboard-down.png`: the same endpoint down, turned red live;
//! - `04-dashboard-phone.png`: the dashboard at a phone's width;
//! - `05-login.png`: the login form after logging out;
//! - `06-endpoint.png`: the endpoint page, whole (chart, Apdex, regions, latest error,
//!   recent checks, incidents);
//! - `07-endpoint-form-error.png`: the endpoint form with the API's 422 by the URL field;
//! - `08-channels.png`: the channels page after a test notification was sent;
//! - `09-members.png`: the members page with a new invitation's link;
//! - `10-api-keys.png`: a new API key's secret, shown once;
//! - `11-endpoint-phone.png`: the endpoint page at a phone's width, whole;
//! - `12-maintenance-phone.png`: the maintenance page at a phone's width.
//!
//! When an element does not appear, `failure.png` shows the page and the panic quotes its
//! text.
//!
//! `.ci/run` installs chromium and chromedriver; without them this test fails when `CI`
//! is set, and only warns otherwise. `CHROMIUM` and `CHROMEDRIVER` name other binaries.

#![allow(clippy::unwrap_used)]

#[allow(unused_imports)]
mod support_history;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use scoville_admin_api::history::sqlite::SqliteHistory;
use scoville_admin_api::store::sqlite::SqliteAdmin;
use scoville_admin_api::{AppState, router};
use scoville_core::{EndpointId, OrgId, Outcome, Region, WarningReason};
use scoville_incident_log::sqlite::SqliteLog;
use scoville_incident_log::{EntryKind, Incident, IncidentLog, LogWrite, TimelineEntry};
use scoville_receiver_service::store::ResultStore;
use scoville_receiver_service::store::sqlite::SqliteStore;
use scoville_service_kit::auth::TokenSet;
use scoville_service_kit::http::Server;
use scoville_tests::browser::{click, fill, screenshot, wait_for, wait_text};
use serde_json::{Value, json};
use support_history::{MINUTE, Rng, TempDir, result};

const XSS_NAME: &str = "<img src=x onerror=alert(1)>";

/// Waits until `css` matches an element whose `attr` is `want`.
async fn wait_attr(browser: &Client, css: &str, attr: &str, want: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(e) = browser.find(Locator::Css(css)).await
            && e.attr(attr).await.ok().flatten().as_deref() == Some(want)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{css} never had {attr}={want:?} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The page scrolls only up and down (nothing sticks out sideways).
async fn fits_the_width(browser: &Client, what: &str) {
    let widths = browser
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth]",
            Vec::new(),
        )
        .await
        .unwrap();
    let (scroll, inner) = (widths[0].as_i64().unwrap(), widths[1].as_i64().unwrap());
    assert!(
        scroll <= inner,
        "{what} is {scroll} px wide in a {inner} px window"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_chromium_shows_names_as_text_and_turns_red_live() {
    let Some(session) = scoville_tests::browser::Browser::start_or_skip(1280, 900).await else {
        return;
    };

    // The API on a real port, over SQLite stores.
    let dir = TempDir::new("ui");
    let admin = Arc::new(SqliteAdmin::open(&dir.0.join("admin.db")).unwrap());
    let results_path = dir.0.join("results.db");
    let writer = SqliteStore::open(&results_path).unwrap();
    let history = Arc::new(SqliteHistory::open(&results_path).unwrap());
    let incidents: Arc<dyn IncidentLog> =
        Arc::new(SqliteLog::open(&dir.0.join("incidents.db")).unwrap());
    let state = AppState::new(admin, TokenSet::new(Vec::new()), 3_600_000, false)
        .await
        .unwrap()
        .with_history(history)
        .with_incidents(incidents.clone())
        // The test notification goes to a recorder on loopback.
        .allowing_private_channels()
        .unwrap();
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), router(state))
        .await
        .unwrap();
    let base = format!("http://{}", server.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();

    // The shell answers with its content type and a strict CSP.
    let shell = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(shell.status(), 200);
    assert!(
        shell.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = shell.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");

    // Chromium, headless.
    let browser = session.client.clone();

    // Sign up through the form.
    browser.goto(&format!("{base}/#/signup")).await.unwrap();
    let form = wait_for(&browser, "#signup-form").await;
    // A short password is refused inline, before any request.
    form.find(Locator::Css("#f-email"))
        .await
        .unwrap()
        .send_keys("ada@example.com")
        .await
        .unwrap();
    form.find(Locator::Css("#f-password"))
        .await
        .unwrap()
        .send_keys("short")
        .await
        .unwrap();
    form.find(Locator::Css("#f-org_name"))
        .await
        .unwrap()
        .send_keys("Ada's <b>Org</b>")
        .await
        .unwrap();
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_attr(
        &browser,
        "#f-password",
        "aria-invalid",
        "true",
        Duration::from_secs(5),
    )
    .await;
    let password = form.find(Locator::Css("#f-password")).await.unwrap();
    password.clear().await.unwrap();
    password.send_keys("correct horse battery").await.unwrap();
    screenshot(&browser, "01-signup.png").await;
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&browser, "#endpoints").await;
    wait_for(&browser, "#logout").await;
    // The organization's name is text.
    let org = browser.find(Locator::Css(".org")).await.unwrap();
    assert_eq!(org.text().await.unwrap(), "Ada's <b>Org</b>");

    // The session cookie is HttpOnly: the API is called with it from here.
    let cookie = browser
        .get_named_cookie("scoville_session")
        .await
        .unwrap()
        .value()
        .to_string();
    let cookie = format!("scoville_session={cookie}");
    let me: Value = http
        .get(format!("{base}/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let org_id = me["org_id"].as_str().unwrap().to_string();

    // An endpoint named like an attack, created through the form; a bad URL is refused
    // first, the API's 422 shown next to the URL field.
    click(&browser, "#new-endpoint").await;
    wait_for(&browser, "#endpoint-form").await;
    fill(&browser, "#f-name", XSS_NAME).await;
    fill(&browser, "#f-check-url", "not a url").await;
    fill(&browser, "#f-regions", "eu-west-1, us-east-1").await;
    fill(&browser, "#f-tags", "prod").await;
    click(&browser, "#endpoint-form button[type=submit]").await;
    wait_attr(
        &browser,
        "#f-check-url",
        "aria-invalid",
        "true",
        Duration::from_secs(10),
    )
    .await;
    let url_error = browser
        .find(Locator::Css("#f-check-url-error"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        url_error.starts_with("URL "),
        "shown by the URL field: {url_error}"
    );
    let described = browser
        .find(Locator::Css("#f-check-url"))
        .await
        .unwrap()
        .attr("aria-describedby")
        .await
        .unwrap()
        .unwrap();
    assert!(described.contains("f-check-url-error"), "{described}");
    assert!(
        browser
            .find_all(Locator::Css("[aria-invalid=true]"))
            .await
            .unwrap()
            .len()
            == 1,
        "only the field the API named is marked"
    );
    screenshot(&browser, "07-endpoint-form-error.png").await;
    fill(&browser, "#f-check-url", "https://shop.example.com/health").await;
    click(&browser, "#endpoint-form button[type=submit]").await;
    // Saved: the endpoint's page opens.
    wait_for(&browser, "#ep-name").await;
    let page_url = browser.current_url().await.unwrap();
    let endpoint_id = page_url
        .fragment()
        .unwrap()
        .strip_prefix("/endpoints/")
        .unwrap()
        .to_string();
    let endpoint: Value = http
        .get(format!("{base}/v1/endpoints/{endpoint_id}"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(endpoint["name"], XSS_NAME);
    assert_eq!(endpoint["check"]["url"], "https://shop.example.com/health");
    assert_eq!(endpoint["regions"], json!(["eu-west-1", "us-east-1"]));
    assert_eq!(endpoint["confirm_regions"], 1);
    assert_eq!(endpoint["tags"], json!(["prod"]));
    click(&browser, "#nav a[href=\"#/\"]").await;
    wait_for(&browser, &format!("#endpoints [data-id=\"{endpoint_id}\"]")).await;

    // Two hours of results, the latest of each region up: the endpoint turns green.
    let now = scoville_admin_api::app::now_ms();
    let start = now - now % MINUTE - 120 * MINUTE;
    let mut rng = Rng::new(7);
    let mut written = Vec::new();
    for m in 0..=120 {
        for (i, region) in ["eu-west-1", "us-east-1"].iter().enumerate() {
            let at = start + m * MINUTE + 1_000 * i as i64;
            let mut r = result(&mut rng, &org_id, &endpoint_id, region, 120.0, at);
            if m == 120 {
                r.report.outcome = Outcome::Up;
            }
            written.push(r);
        }
    }
    writer.write(&written).await.unwrap();
    writer.rollup_minutes(start, now + MINUTE).await.unwrap();
    writer.rollup_hours(start, now + MINUTE).await.unwrap();

    let row = format!("#endpoints [data-id=\"{endpoint_id}\"]");
    wait_attr(&browser, &row, "data-status", "up", Duration::from_secs(15)).await;
    let name = browser
        .find(Locator::Css(&format!("{row} .name")))
        .await
        .unwrap();
    assert_eq!(
        name.text().await.unwrap(),
        XSS_NAME,
        "the name shows as text"
    );
    assert!(
        browser
            .find_all(Locator::Css("main img"))
            .await
            .unwrap()
            .is_empty(),
        "no image element was made from the name"
    );
    assert!(browser.get_alert_text().await.is_err(), "no alert is open");
    let pill = browser
        .find(Locator::Css(&format!("{row} .pill")))
        .await
        .unwrap();
    assert!(
        pill.text().await.unwrap().contains("Up"),
        "status in words too"
    );
    // The sparkline and the uptime (from the hourly history).
    wait_for(&browser, &format!("{row} svg.spark polyline")).await;
    let uptime = browser
        .find(Locator::Css(&format!("{row} .uptime")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(uptime.contains('%'), "uptime shown: {uptime}");
    let up_count = browser
        .find(Locator::Css("#counts [data-status=\"up\"] .n"))
        .await
        .unwrap();
    assert_eq!(up_count.text().await.unwrap(), "1", "counts at the top");
    screenshot(&browser, "02-dashboard-up.png").await;

    // A certificate within its warn days: the checks still pass, the row turns yellow
    // live and says why.
    let mut warn = result(
        &mut rng,
        &org_id,
        &endpoint_id,
        "us-east-1",
        120.0,
        now + 1_000,
    );
    warn.report.outcome = Outcome::Warning(WarningReason::CertExpiryWarn);
    warn.report.message = "certificate expires in 9 days".into();
    writer.write(&[warn]).await.unwrap();
    wait_attr(
        &browser,
        &row,
        "data-status",
        "degraded",
        Duration::from_secs(10),
    )
    .await;
    wait_text(
        &browser,
        &format!("{row} .note"),
        "certificate expires in 9 days",
    )
    .await;
    let pill = browser
        .find(Locator::Css(&format!("{row} .pill")))
        .await
        .unwrap();
    assert!(pill.text().await.unwrap().contains("Degraded"));
    screenshot(&browser, "02b-dashboard-certificate.png").await;

    // The failure service confirms an incident: the row turns red, no reload.
    let incident = Incident {
        id: format!("{endpoint_id}~{}", now / MINUTE),
        org_id: OrgId::parse(org_id.as_str()).unwrap(),
        endpoint_id: EndpointId::parse(endpoint_id.as_str()).unwrap(),
        started_at_ms: now - MINUTE,
        confirmed_at_ms: now,
        resolved_at_ms: None,
        regions: vec![Region::parse("eu-west-1").unwrap()],
        error: Some("status: 503 <script>alert(2)</script>".into()),
    };
    let decided = Instant::now();
    incidents
        .append(&[LogWrite {
            incident,
            entry: TimelineEntry {
                at_ms: now,
                kind: EntryKind::Confirmed,
                notice: None,
                muted: false,
                regions: Vec::new(),
                detail: None,
            },
        }])
        .await
        .unwrap();
    wait_attr(
        &browser,
        &row,
        "data-status",
        "down",
        Duration::from_secs(10),
    )
    .await;
    let shown_after = decided.elapsed();
    println!("status change shown {shown_after:?} after the incident was logged");
    // The target is 2 s (a 1 s tick, then the browser); a loaded CI machine gets slack.
    assert!(
        shown_after <= Duration::from_secs(5),
        "a status change shows within 5 s (took {shown_after:?})"
    );
    let pill = browser
        .find(Locator::Css(&format!("{row} .pill")))
        .await
        .unwrap();
    assert!(pill.text().await.unwrap().contains("Down"));
    let error = browser
        .find(Locator::Css(&format!("{row} .error")))
        .await
        .unwrap();
    assert_eq!(
        error.text().await.unwrap(),
        "status: 503 <script>alert(2)</script>"
    );
    assert!(browser.get_alert_text().await.is_err(), "no alert is open");
    screenshot(&browser, "03-dashboard-down.png").await;

    // The filter hides what does not match, and shows it again.
    let search = browser.find(Locator::Css("#search")).await.unwrap();
    search.send_keys("nothing like it").await.unwrap();
    assert!(
        browser
            .find_all(Locator::Css(&row))
            .await
            .unwrap()
            .is_empty()
    );
    search.clear().await.unwrap();
    search.send_keys("shop.example").await.unwrap();
    wait_for(&browser, &row).await;
    search.clear().await.unwrap();
    search.send_keys(" ").await.unwrap();

    // The endpoint's page, from its row: live status, the chart (p50 and p95 lines per
    // region, drawn as SVG paths with points), the regions, recent checks and incidents.
    search.clear().await.unwrap();
    click(&browser, &format!("{row} .name a")).await;
    wait_attr(
        &browser,
        "#ep-status",
        "data-status",
        "down",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        browser
            .find(Locator::Css("#ep-name"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        XSS_NAME
    );
    wait_for(&browser, "#latency-chart svg path.series").await;
    let paths = browser
        .find_all(Locator::Css("#latency-chart svg path.series"))
        .await
        .unwrap();
    assert_eq!(paths.len(), 4, "p50 and p95 for each of two regions");
    for path in &paths {
        let d = path.attr("d").await.unwrap().unwrap();
        let points = d.matches(['M', 'L']).count();
        assert!(points >= 4, "a line through the steps with checks: {d}");
    }
    let legend = wait_text(&browser, "#latency-chart .legend", "eu-west-1 p95").await;
    assert!(legend.contains("us-east-1 p50"), "{legend}");
    wait_for(&browser, "#apdex-chart svg path.series").await;
    wait_for(&browser, "#regions-table [data-region=\"us-east-1\"] .pill").await;
    wait_for(&browser, "#timings-table tbody tr .phases rect").await;
    let incident_text = wait_text(&browser, "#incidents li", "Ongoing").await;
    assert!(
        incident_text.contains("status: 503 <script>alert(2)</script>"),
        "{incident_text}"
    );
    assert!(
        browser
            .find_all(Locator::Css("main img, main script"))
            .await
            .unwrap()
            .is_empty()
    );
    // Another range redraws the chart.
    click(&browser, "[data-range=\"1h\"]").await;
    wait_attr(
        &browser,
        "[data-range=\"1h\"]",
        "aria-pressed",
        "true",
        Duration::from_secs(5),
    )
    .await;
    wait_for(&browser, "#latency-chart svg path.series").await;
    // The whole page in one picture: a taller window for the screenshot.
    browser.set_window_size(1280, 2700).await.unwrap();
    screenshot(&browser, "06-endpoint.png").await;
    browser.set_window_size(1280, 900).await.unwrap();
    // Pause, and the status says so.
    click(&browser, "#pause").await;
    wait_attr(
        &browser,
        "#ep-status",
        "data-status",
        "paused",
        Duration::from_secs(10),
    )
    .await;
    wait_text(&browser, "#pause", "Resume").await;
    click(&browser, "#pause").await;
    wait_text(&browser, "#pause", "Pause").await;

    // Edit: an interval out of range is refused by the API next to its field; a good
    // one is saved, and what the form does not show (the URL, tags) is kept.
    click(&browser, "#edit").await;
    wait_for(&browser, "#endpoint-form").await;
    fill(&browser, "#f-interval_s", "10").await;
    click(&browser, "#endpoint-form button[type=submit]").await;
    wait_attr(
        &browser,
        "#f-interval_s",
        "aria-invalid",
        "true",
        Duration::from_secs(10),
    )
    .await;
    wait_text(&browser, "#f-interval_s-error", "between 30 and 3600").await;
    fill(&browser, "#f-interval_s", "120").await;
    click(&browser, "#endpoint-form button[type=submit]").await;
    wait_text(&browser, "main .meta", "Every 120 s").await;
    let edited: Value = http
        .get(format!("{base}/v1/endpoints/{endpoint_id}"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(edited["interval_s"], 120);
    assert_eq!(edited["name"], XSS_NAME);
    assert_eq!(edited["check"]["url"], "https://shop.example.com/health");
    assert_eq!(edited["tags"], json!(["prod"]));

    // Alert channels: a bad URL is refused inline, then a webhook to a local recorder
    // is created and sent a test notification.
    let recorder = scoville_tests::recorder::Recorder::start().await;
    click(&browser, "#nav a[href=\"#/channels\"]").await;
    wait_for(&browser, "#channel-form").await;
    fill(&browser, "#f-name", "Recorder <i>hook</i>").await;
    fill(&browser, "#f-config-url", "not a url").await;
    click(&browser, "#channel-form button[type=submit]").await;
    wait_attr(
        &browser,
        "#f-config-url",
        "aria-invalid",
        "true",
        Duration::from_secs(10),
    )
    .await;
    fill(&browser, "#f-config-url", &recorder.url("/hook")).await;
    click(&browser, "#channel-form button[type=submit]").await;
    wait_for(&browser, "#channels [data-test]").await;
    assert_eq!(
        browser
            .find(Locator::Css("#channels tbody th"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "Recorder <i>hook</i>"
    );
    click(&browser, "#channels [data-test]").await;
    wait_text(&browser, "#channels .note", "Sent").await;
    let got = recorder.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].path, "/hook");
    assert_eq!(got[0].json()["test"], true, "a test notification");
    screenshot(&browser, "08-channels.png").await;

    // API keys: the secret is shown once, and works.
    click(&browser, "#nav a[href=\"#/api-keys\"]").await;
    wait_for(&browser, "#key-form").await;
    fill(&browser, "#f-name", "CI").await;
    click(&browser, "#key-form button[type=submit]").await;
    let secret = wait_for(&browser, "#key-secret").await;
    let key = secret.prop("value").await.unwrap().unwrap();
    assert!(key.starts_with("sk_"), "{key}");
    wait_for(&browser, "#keys tbody tr").await;
    let by_key = http
        .get(format!("{base}/v1/me"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(by_key.status(), 200, "the key shown works");
    screenshot(&browser, "10-api-keys.png").await;
    click(&browser, "#nav a[href=\"#/members\"]").await;
    wait_for(&browser, "#invite-form").await;
    click(&browser, "#nav a[href=\"#/api-keys\"]").await;
    wait_for(&browser, "#keys tbody tr").await;
    assert!(
        browser
            .find_all(Locator::Css("#key-secret"))
            .await
            .unwrap()
            .is_empty(),
        "the secret is not shown again"
    );

    // Members: invite someone and get the link to join.
    click(&browser, "#nav a[href=\"#/members\"]").await;
    wait_for(&browser, "#members tbody tr").await;
    fill(&browser, "#f-email", "grace@example.com").await;
    browser
        .find(Locator::Css("#f-role"))
        .await
        .unwrap()
        .select_by_value("admin")
        .await
        .unwrap();
    click(&browser, "#invite-form button[type=submit]").await;
    let link = wait_for(&browser, "#invite-link")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(link.starts_with(&format!("{base}/#/join/inv_")), "{link}");
    screenshot(&browser, "09-members.png").await;

    // Maintenance: a window over the endpoint, planned for the next hour, then deleted.
    click(&browser, "#nav a[href=\"#/maintenance\"]").await;
    wait_for(&browser, "#maintenance-form").await;
    click(&browser, "#f-endpoint_ids input[type=checkbox]").await;
    fill(&browser, "#f-reason", "Database <upgrade>").await;
    click(&browser, "#maintenance-form button[type=submit]").await;
    let window = wait_text(&browser, "#windows tbody tr", "Database <upgrade>").await;
    assert!(
        window.contains("Planned") && window.contains(XSS_NAME),
        "{window}"
    );
    let windows: Value = http
        .get(format!("{base}/v1/maintenance"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(windows[0]["endpoint_ids"], json!([endpoint_id]));
    let span = windows[0]["to_ms"].as_i64().unwrap() - windows[0]["from_ms"].as_i64().unwrap();
    assert_eq!(span, 3_600_000, "an hour by default");
    // Deleting asks once more (no native dialog).
    click(&browser, "#windows button.danger").await;
    wait_text(&browser, "#windows button.danger", "Confirm").await;
    click(&browser, "#windows button.danger").await;
    wait_for(&browser, "p#windows").await;

    // Someone else invites this user: they join through the link and switch between
    // the two organizations in the header; the live dashboard follows.
    let bob = http
        .post(format!("{base}/v1/signup"))
        .json(&json!({"email": "bob@example.com", "password": "correct horse battery", "org_name": "Bob's Org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bob.status(), 201);
    let bob_cookie = bob.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let bob_org = bob.json::<Value>().await.unwrap()["org"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let invitation: Value = http
        .post(format!("{base}/v1/invitations"))
        .header("cookie", &bob_cookie)
        .json(&json!({"email": "ada@example.com", "role": "viewer"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = invitation["token"].as_str().unwrap();
    browser
        .goto(&format!("{base}/#/join/{token}"))
        .await
        .unwrap();
    click(&browser, "#join").await;
    let switch = wait_for(&browser, "#org-switch").await;
    wait_for(&browser, "#endpoints").await;
    assert_eq!(switch.prop("value").await.unwrap().unwrap(), bob_org);
    // Bob's org has no endpoints; Ada's has hers.
    wait_text(&browser, "main .empty", "No endpoints yet").await;
    switch.select_by_value(&org_id).await.unwrap();
    wait_for(&browser, &row).await;
    assert_eq!(
        browser
            .find(Locator::Css("#org-switch"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .unwrap(),
        org_id
    );

    // A phone's width.
    browser.set_window_size(390, 844).await.unwrap();
    wait_for(&browser, &row).await;
    fits_the_width(&browser, "the dashboard").await;
    screenshot(&browser, "04-dashboard-phone.png").await;
    click(&browser, &format!("{row} .name a")).await;
    wait_for(&browser, "#latency-chart svg path.series").await;
    wait_for(&browser, "#timings-table").await;
    fits_the_width(&browser, "the endpoint page").await;
    browser.set_window_size(390, 2200).await.unwrap();
    screenshot(&browser, "11-endpoint-phone.png").await;
    browser.set_window_size(390, 844).await.unwrap();
    for (link, ready) in [
        ("#/channels", "#channel-form"),
        ("#/members", "#invite-form"),
        ("#/api-keys", "#key-form"),
        ("#/maintenance", "#maintenance-form"),
    ] {
        click(&browser, &format!("#nav a[href=\"{link}\"]")).await;
        wait_for(&browser, ready).await;
        fits_the_width(&browser, link).await;
    }
    screenshot(&browser, "12-maintenance-phone.png").await;

    // Keyboard: the logout button is reachable and works with Enter.
    browser.set_window_size(1280, 900).await.unwrap();
    let logout = browser.find(Locator::Css("#logout")).await.unwrap();
    logout.send_keys("\u{E007}").await.unwrap();
    wait_for(&browser, "#login-form").await;
    screenshot(&browser, "05-login.png").await;
    let after: reqwest::StatusCode = http
        .get(format!("{base}/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(after, 401, "the session ended with the logout");

    browser.close().await.unwrap();
    drop(session);
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}

/// The live stream behind the dashboard, over a real socket: a snapshot first, at most
/// `MAX_STREAMS_PER_ORG` streams per organization (429 past that, `once=true` still
/// answered), and a stream's place freed when its client goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_are_bounded_per_org_and_freed_when_the_client_goes() {
    use scoville_admin_api::routes::events::{HEARTBEAT, MAX_STREAMS_PER_ORG};

    let dir = TempDir::new("ui-events");
    let admin = Arc::new(SqliteAdmin::open(&dir.0.join("admin.db")).unwrap());
    let state = AppState::new(admin, TokenSet::new(Vec::new()), 3_600_000, false)
        .await
        .unwrap();
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), router(state))
        .await
        .unwrap();
    let base = format!("http://{}", server.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let signed_up = http
        .post(format!("{base}/v1/signup"))
        .json(&json!({"email": "sse@example.com", "password": "correct horse battery", "org_name": "SSE"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 201);
    let cookie = signed_up.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let open = || {
        http.get(format!("{base}/v1/events"))
            .header("cookie", &cookie)
            .header("accept", "text/event-stream")
            .send()
    };

    let mut streams = Vec::new();
    for _ in 0..MAX_STREAMS_PER_ORG {
        let mut resp = open().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        let first = resp.chunk().await.unwrap().unwrap();
        let first = String::from_utf8_lossy(&first).to_string();
        assert!(first.contains("event: snapshot"), "{first}");
        streams.push(resp);
    }
    let refused = open().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let once = http
        .get(format!("{base}/v1/events?once=true"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(once.status(), 200, "a single snapshot is not a stream");
    assert!(once.text().await.unwrap().starts_with("event: snapshot"));

    // One client goes: its place is free again at the latest after a heartbeat fails.
    drop(streams.pop());
    let deadline = Instant::now() + HEARTBEAT * 2 + Duration::from_secs(5);
    loop {
        let resp = open().await.unwrap();
        if resp.status() == 200 {
            break;
        }
        assert_eq!(resp.status(), 429);
        assert!(
            Instant::now() < deadline,
            "a stream's place was not freed after its client went"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(streams);
    let _ = stop.send(());
    serving.abort();
}
