//! A public status page in a real headless Chromium (Debian's `chromium` and
//! `chromedriver`, driven through WebDriver with fantoccini): the API is served on a real
//! port over SQLite stores in a temporary directory; an organization (through the API)
//! has three endpoints, one named `<img src=x onerror=alert(1)>` and one paused; 90 days
//! of results are written and rolled up by the receiver's own SQLite store, with a
//! half-down day; the failure service's incident log holds an open and a resolved
//! incident.
//!
//! The page is made in the admin UI: the browser logs in with the form, opens "Status
//! pages" from the header, sees the address suggested by the title (and the page's full
//! address in the hint), an address with a space refused inline (422 at the field), a
//! page without endpoints refused inline (at the endpoints' checkboxes), ticks the three
//! endpoints (their names as text, no image, no alert), adds the page, sees it listed
//! (title, `/status/acme`, 3 endpoints), edits its title (PUT), sees an address already
//! taken refused at the field (409), adds a second page and deletes it with the confirm
//! button; the API then lists the one page with the endpoints in the order shown.
//!
//! The browser follows the page's link, then forgets its cookies and, without any
//! login, sees at `/status/{slug}` the overall banner, every endpoint with 90 day bars,
//! the red day where the data has it, the open incident, the name as text (no image, no
//! alert), reads the days with the keyboard, and sees the last 30 days at a phone's width
//! and the page in dark mode; an unknown slug says so.
//! Screenshots go to `$CARGO_TARGET_DIR/ui-screenshots/` (`target/` by default):
//!
//! - `status-01-page.png`: the page at 1280 px: "Partial outage" banner, the current
//!   incident (Checkout API, ongoing), the three endpoints with their state pills
//!   (Operational, Incident ongoing, Paused) and 90 bars each (grey days without data, a red
//!   and an amber day on the first), the keyboard's day under the first, past incidents;
//! - `status-02-phone.png`: the same page at 390 px: 30 bars per endpoint, "30 days ago";
//! - `status-03-dark.png`: the page at 1280 px in the system's dark mode;
//! - `status-04-settings.png`: the admin UI's "Status pages" at 1280 px: the list (the
//!   page "Acme <i>services</i>" as text, its link `/status/acme`, 3 endpoints and their
//!   names, Edit and Delete) above the "Add a status page" form, whose address `acme`
//!   is refused at the field as taken (the hint shows the full address), with the
//!   endpoints' checkboxes below (one ticked).
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
use scoville_core::{CheckResult, DownReason, EndpointId, OrgId, Outcome, Region};
use scoville_incident_log::sqlite::SqliteLog;
use scoville_incident_log::{EntryKind, Incident, IncidentLog, LogWrite, TimelineEntry};
use scoville_receiver_service::store::ResultStore;
use scoville_receiver_service::store::sqlite::SqliteStore;
use scoville_service_kit::auth::TokenSet;
use scoville_service_kit::http::Server;
use scoville_tests::browser::{click, fill, screenshot, wait_for, wait_text};
use serde_json::{Value, json};
use support_history::{HOUR, MINUTE, Rng, TempDir, result};

const XSS_NAME: &str = "<img src=x onerror=alert(1)>";
const DAY: i64 = 86_400_000;
const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];

async fn text(browser: &Client, css: &str) -> String {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

/// The current value of the input `css`.
async fn value(browser: &Client, css: &str) -> String {
    wait_for(browser, css)
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Waits until `css` matches `n` elements.
async fn wait_count(browser: &Client, css: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let found = browser.find_all(Locator::Css(css)).await.unwrap().len();
        if found == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{css} matched {found}, not {n}, after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A check of `endpoint` in `region` at `at`, up or down.
fn check(rng: &mut Rng, org: &str, endpoint: &str, region: &str, at: i64, up: bool) -> CheckResult {
    let mut r = result(rng, org, endpoint, region, 80.0, at);
    r.report.outcome = if up {
        Outcome::Up
    } else {
        Outcome::Down(DownReason::Status)
    };
    r
}

/// Every other hour of the last 80 days in both regions, all up except for `down_days`
/// (day index from `first_day`: that day, every other check down) and day 70 (one check
/// down of 400: 99.75 %); the latest a minute ago, up.
fn history_of(
    org: &str,
    endpoint: &str,
    first_day: i64,
    now: i64,
    down_days: &[i64],
) -> Vec<CheckResult> {
    let mut rng = Rng::new(9);
    let mut out = Vec::new();
    for day in 10..90 {
        let start = first_day + day * DAY;
        for (k, region) in REGIONS.iter().enumerate() {
            let (n, every) = if day == 70 {
                (200, 5 * MINUTE)
            } else {
                (12, 2 * HOUR)
            };
            for m in 0..n {
                let at = start + m * every + 7 * MINUTE + k as i64 * 1_000;
                if at < now - 2 * MINUTE {
                    let down = (down_days.contains(&day) && m % 2 == 0)
                        || (day == 70 && m == 17 && k == 0);
                    let up = !down;
                    out.push(check(&mut rng, org, endpoint, region, at, up));
                }
            }
        }
    }
    for (k, region) in REGIONS.iter().enumerate() {
        out.push(check(
            &mut rng,
            org,
            endpoint,
            region,
            now - MINUTE + k as i64,
            true,
        ));
    }
    out
}

async fn log_incident(
    log: &dyn IncidentLog,
    org: &str,
    endpoint: &str,
    start: i64,
    resolved: Option<i64>,
) {
    let incident = Incident {
        id: format!("{endpoint}~{}", start / MINUTE),
        org_id: OrgId::parse(org).unwrap(),
        endpoint_id: EndpointId::parse(endpoint).unwrap(),
        started_at_ms: start,
        confirmed_at_ms: start + MINUTE,
        resolved_at_ms: resolved,
        regions: vec![Region::parse("eu-west-1").unwrap()],
        error: Some("status: 503 <script>alert(2)</script>".into()),
    };
    let kind = if resolved.is_some() {
        EntryKind::Resolved
    } else {
        EntryKind::Confirmed
    };
    log.append(&[LogWrite {
        incident,
        entry: TimelineEntry {
            at_ms: resolved.unwrap_or(start + MINUTE),
            kind,
            notice: None,
            muted: false,
            regions: Vec::new(),
            detail: None,
        },
    }])
    .await
    .unwrap();
}

/// The `data-level` of every bar of the `n`th endpoint.
async fn levels(browser: &Client, n: usize) -> Vec<String> {
    let mut v = Vec::new();
    for b in browser
        .find_all(Locator::Css(&format!(".endpoint:nth-child({n}) .bar")))
        .await
        .unwrap()
    {
        v.push(b.attr("data-level").await.unwrap().unwrap());
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_status_page_in_chromium_shows_bars_incidents_and_names_as_text() {
    let Some(session) = scoville_tests::browser::Browser::start_or_skip(1280, 900).await else {
        return;
    };

    // The API on a real port, over SQLite stores.
    let dir = TempDir::new("ui-status");
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
        .with_incidents(incidents.clone());
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), router(state))
        .await
        .unwrap();
    let base = format!("http://{}", server.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();

    // An organization and its endpoints, through the API (its page: in the UI below).
    let signed_up = http
        .post(format!("{base}/v1/signup"))
        .json(&json!({"email": "ops@acme.example", "password": "correct horse battery", "org_name": "Acme"}))
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
    let me: Value = signed_up.json().await.unwrap();
    let org = me["org"]["id"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    for name in [XSS_NAME, "Checkout API", "Legacy search"] {
        let created = http
            .post(format!("{base}/v1/endpoints"))
            .header("cookie", &cookie)
            .json(&json!({
                "name": name,
                "check": {"type": "http", "url": "https://shop.example.com/health"},
                "regions": REGIONS,
                "interval_s": 60,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let ep: Value = created.json().await.unwrap();
        ids.push(ep["id"].as_str().unwrap().to_string());
    }
    let paused = http
        .post(format!("{base}/v1/endpoints/{}/pause", ids[2]))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(paused.status().is_success());

    // 90 days of results through the receiver's store: the first endpoint half down on
    // day 40, the second all up; the paused one has nothing recent.
    let now = scoville_admin_api::app::now_ms();
    let first_day = (now.div_euclid(DAY) - 89) * DAY;
    let mut results = history_of(&org, &ids[0], first_day, now, &[40]);
    results.extend(history_of(&org, &ids[1], first_day, now, &[]));
    let mut rng = Rng::new(4);
    for h in 0..24 {
        let at = first_day + 60 * DAY + h * HOUR;
        results.push(check(&mut rng, &org, &ids[2], "eu-west-1", at, true));
    }
    for chunk in results.chunks(2_000) {
        writer.write(chunk).await.unwrap();
    }
    writer
        .rollup_minutes(first_day, now + MINUTE)
        .await
        .unwrap();
    writer.rollup_hours(first_day, now + MINUTE).await.unwrap();
    // The failure service's incidents: the checkout's, open for 25 minutes; the first
    // endpoint's, 20 days ago, resolved after 38 minutes.
    log_incident(incidents.as_ref(), &org, &ids[1], now - 25 * MINUTE, None).await;
    let old = now - 20 * DAY;
    log_incident(
        incidents.as_ref(),
        &org,
        &ids[0],
        old,
        Some(old + 38 * MINUTE),
    )
    .await;

    // Chromium, headless, with no session.
    let browser = session.client.clone();

    // The page, made in the admin UI: log in with the form, then "Status pages".
    browser.goto(&format!("{base}/#/login")).await.unwrap();
    fill(&browser, "#login-form #f-email", "ops@acme.example").await;
    fill(&browser, "#login-form #f-password", "correct horse battery").await;
    click(&browser, "#login-form button[type=submit]").await;
    click(&browser, "#nav a[href=\"#/status-pages\"]").await;
    wait_for(&browser, "#status-page-form").await;
    assert_eq!(browser.title().await.unwrap(), "Status pages · Scoville");
    assert_eq!(
        text(&browser, "#status-pages").await,
        "No status pages yet."
    );
    // The title suggests the address.
    fill(&browser, "#f-title", "Acme").await;
    assert_eq!(value(&browser, "#f-slug").await, "acme");
    wait_text(&browser, "#f-slug-hint", &format!("{base}/status/acme")).await;
    // An address with a space is refused at its field.
    fill(&browser, "#f-slug", "Acme status").await;
    click(&browser, "#status-page-form button[type=submit]").await;
    let refused = wait_text(&browser, "#f-slug-error", "lower-case").await;
    assert_eq!(
        refused,
        "Public address must be 3-64 lower-case letters, digits or '-'"
    );
    let slug = browser.find(Locator::Css("#f-slug")).await.unwrap();
    assert_eq!(
        slug.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    assert_eq!(text(&browser, "#status-page-form .form-error").await, "");
    // Fixed (upper case is lower-cased by the API), but no endpoint ticked: refused at
    // the checkboxes.
    fill(&browser, "#f-slug", "ACME").await;
    assert_eq!(
        slug.attr("aria-invalid").await.unwrap(),
        None,
        "cleared on input"
    );
    assert_eq!(text(&browser, "#f-slug-error").await, "");
    click(&browser, "#status-page-form button[type=submit]").await;
    wait_text(
        &browser,
        "#f-endpoint_ids-error",
        "must list 1-200 endpoints",
    )
    .await;
    assert_eq!(text(&browser, "#f-slug-error").await, "");
    // The endpoints by name, as text; all three ticked.
    let options = browser
        .find_all(Locator::Css("#f-endpoint_ids label.option"))
        .await
        .unwrap();
    let mut labels = Vec::new();
    for o in &options {
        labels.push(o.text().await.unwrap().trim().to_string());
    }
    assert_eq!(labels, [XSS_NAME, "Checkout API", "Legacy search"]);
    assert!(
        browser
            .find_all(Locator::Css("#main img"))
            .await
            .unwrap()
            .is_empty(),
        "no image element was made from the name"
    );
    assert!(browser.get_alert_text().await.is_err(), "no alert is open");
    for i in 0..3 {
        click(&browser, &format!("#f-endpoint_ids-{i}")).await;
    }
    click(&browser, "#status-page-form button[type=submit]").await;
    let row = "#status-pages tbody tr[data-slug=\"acme\"]";
    wait_for(&browser, row).await;
    assert_eq!(text(&browser, &format!("{row} th")).await, "Acme");
    assert_eq!(
        text(&browser, &format!("{row} a.public-link")).await,
        "/status/acme"
    );
    let count = browser
        .find(Locator::Css(&format!("{row} .page-eps")))
        .await
        .unwrap();
    assert_eq!(
        count.attr("data-count").await.unwrap().as_deref(),
        Some("3")
    );
    assert!(count.text().await.unwrap().contains(XSS_NAME));
    // Edit: the form holds the page; a new title (markup, kept as text).
    click(&browser, &format!("{row} button[data-edit]")).await;
    wait_for(&browser, "#status-page-form[data-editing]").await;
    assert_eq!(value(&browser, "#f-slug").await, "acme");
    assert_eq!(
        browser
            .find_all(Locator::Css("#f-endpoint_ids input:checked"))
            .await
            .unwrap()
            .len(),
        3
    );
    fill(&browser, "#f-title", "Acme <i>services</i>").await;
    assert_eq!(
        value(&browser, "#f-slug").await,
        "acme",
        "kept while editing"
    );
    click(&browser, "#status-page-form button[type=submit]").await;
    wait_text(&browser, &format!("{row} th"), "Acme <i>services</i>").await;
    assert!(
        browser
            .find_all(Locator::Css("#main i"))
            .await
            .unwrap()
            .is_empty(),
        "the title is text"
    );
    // A second page: the address taken is refused at the field.
    wait_for(&browser, "#status-page-form:not([data-editing])").await;
    fill(&browser, "#f-title", "Acme internal").await;
    assert_eq!(value(&browser, "#f-slug").await, "acme-internal");
    fill(&browser, "#f-slug", "acme").await;
    click(&browser, "#f-endpoint_ids-1").await;
    click(&browser, "#status-page-form button[type=submit]").await;
    let taken = wait_text(&browser, "#f-slug-error", "taken").await;
    assert_eq!(taken, "Public address is taken: choose another.");
    browser.set_window_size(1280, 1200).await.unwrap();
    wait_for(&browser, "#status-pages").await;
    screenshot(&browser, "status-04-settings.png").await;
    browser.set_window_size(1280, 900).await.unwrap();
    // Under another address it is added, then deleted (once confirmed).
    fill(&browser, "#f-slug", "acme-internal").await;
    click(&browser, "#status-page-form button[type=submit]").await;
    let second = "#status-pages tbody tr[data-slug=\"acme-internal\"]";
    wait_for(&browser, second).await;
    wait_count(&browser, "#status-pages tbody tr", 2).await;
    let delete = format!("{second} button.danger");
    click(&browser, &delete).await;
    assert_eq!(text(&browser, &delete).await, "Confirm: delete");
    wait_count(&browser, "#status-pages tbody tr", 2).await;
    click(&browser, &delete).await;
    wait_count(&browser, "#status-pages tbody tr", 1).await;
    // At a phone's width nothing sticks out sideways (the list scrolls in its box).
    browser.set_window_size(390, 844).await.unwrap();
    wait_for(&browser, "#status-page-form").await;
    let widths = browser
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth]",
            Vec::new(),
        )
        .await
        .unwrap();
    assert!(widths[0].as_i64() <= widths[1].as_i64(), "{widths}");
    browser.set_window_size(1280, 900).await.unwrap();
    // The API has the page, its endpoints in the order shown.
    let pages: Value = http
        .get(format!("{base}/v1/status-pages"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pages.as_array().unwrap().len(), 1, "{pages}");
    assert_eq!(pages[0]["slug"], "acme");
    assert_eq!(pages[0]["title"], "Acme <i>services</i>");
    assert_eq!(pages[0]["endpoint_ids"], json!(ids));

    // Its link opens the public page; it needs no login.
    click(&browser, &format!("{row} a.public-link")).await;
    wait_for(&browser, ".endpoint-list").await;
    assert_eq!(
        browser.current_url().await.unwrap().as_str(),
        format!("{base}/status/acme")
    );
    browser.delete_all_cookies().await.unwrap();
    browser.refresh().await.unwrap();
    wait_for(&browser, ".endpoint-list").await;
    assert!(
        browser.get_all_cookies().await.unwrap().is_empty(),
        "no login"
    );
    assert_eq!(text(&browser, "h1").await, "Acme <i>services</i>");
    assert_eq!(
        browser.title().await.unwrap(),
        "Acme <i>services</i> — status"
    );
    // The banner, in words and by its state.
    let banner = browser.find(Locator::Css("#overall")).await.unwrap();
    assert_eq!(
        banner.attr("data-overall").await.unwrap().as_deref(),
        Some("partial_outage")
    );
    assert!(banner.text().await.unwrap().contains("Partial outage"));

    // Every endpoint, in order, with 90 bars; the name is text.
    let names: Vec<String> = {
        let mut v = Vec::new();
        for e in browser
            .find_all(Locator::Css(".endpoint .name"))
            .await
            .unwrap()
        {
            v.push(e.text().await.unwrap());
        }
        v
    };
    assert_eq!(names, [XSS_NAME, "Checkout API", "Legacy search"]);
    assert!(
        browser
            .find_all(Locator::Css("img"))
            .await
            .unwrap()
            .is_empty(),
        "no image element was made from the name"
    );
    assert!(browser.get_alert_text().await.is_err(), "no alert is open");
    for (i, want) in ["up", "incident", "paused"].iter().enumerate() {
        let row = format!(".endpoint:nth-child({})", i + 1);
        let bars = browser
            .find_all(Locator::Css(&format!("{row} .bar")))
            .await
            .unwrap();
        assert_eq!(bars.len(), 90, "{row}");
        let item = browser.find(Locator::Css(&row)).await.unwrap();
        assert_eq!(
            item.attr("data-status").await.unwrap().as_deref(),
            Some(*want)
        );
    }
    assert!(
        text(&browser, ".endpoint:nth-child(3) .pill")
            .await
            .contains("Paused")
    );
    assert!(
        text(&browser, ".endpoint:nth-child(2) .pill")
            .await
            .contains("Incident ongoing")
    );
    assert!(
        text(&browser, ".endpoint:nth-child(1) .pill")
            .await
            .contains("Operational")
    );

    // Day 40 of the first endpoint is red, with its date and figure in its tooltip; the
    // first ten days have no data; day 70 is amber; the second endpoint has no red day.
    let day = |d: i64| {
        time::OffsetDateTime::from_unix_timestamp((first_day + d * DAY) / 1000)
            .unwrap()
            .date()
            .to_string()
    };
    let red = browser
        .find(Locator::Css(&format!(
            ".endpoint:nth-child(1) .bar[data-day=\"{}\"]",
            day(40)
        )))
        .await
        .unwrap();
    assert_eq!(
        red.attr("data-level").await.unwrap().as_deref(),
        Some("down")
    );
    let title = red.attr("title").await.unwrap().unwrap();
    assert!(
        title.contains("50.00% up") && title.contains("major outage"),
        "{title}"
    );
    let first = levels(&browser, 1).await;
    assert!(first[..10].iter().all(|l| l == "none"), "{first:?}");
    assert_eq!(first[40], "down");
    assert_eq!(first[70], "partial");
    assert_eq!(first.iter().filter(|l| *l == "down").count(), 1);
    let second = levels(&browser, 2).await;
    assert!(
        second[10..].iter().all(|l| l == "up" || l == "partial")
            && !second.contains(&"down".to_string()),
        "{second:?}"
    );
    // The bars' text alternative names the bad days.
    let strip = browser
        .find(Locator::Css(".endpoint:nth-child(1) .bars"))
        .await
        .unwrap();
    let label = strip.attr("aria-label").await.unwrap().unwrap();
    assert!(
        label.contains("Days with outages") && label.contains("50.00%"),
        "{label}"
    );

    // The keyboard reads the days: focus the strip (today), then one day back.
    let detail = ".endpoint:nth-child(1) .day-detail";
    strip.send_keys("\u{E012}").await.unwrap(); // ArrowLeft
    let yesterday = text(&browser, detail).await;
    assert!(!yesterday.contains("today"), "{yesterday}");
    strip.send_keys("\u{E011}").await.unwrap(); // Home: 90 days ago
    assert!(text(&browser, detail).await.contains("no data"));
    for _ in 0..40 {
        strip.send_keys("\u{E014}").await.unwrap(); // ArrowRight
    }
    let red_day = text(&browser, detail).await;
    assert!(red_day.contains("50.00% up"), "{red_day}");

    // The incidents: the open one now, the resolved one in the past.
    let current = browser
        .find_all(Locator::Css("#current .incident"))
        .await
        .unwrap();
    assert_eq!(current.len(), 1);
    let open = current[0].text().await.unwrap();
    assert!(
        open.contains("Checkout API") && open.contains("ongoing"),
        "{open}"
    );
    assert_eq!(
        current[0].attr("data-status").await.unwrap().as_deref(),
        Some("open")
    );
    let past = browser
        .find_all(Locator::Css("#past .incident"))
        .await
        .unwrap();
    assert_eq!(past.len(), 1);
    let resolved = past[0].text().await.unwrap();
    assert!(
        resolved.contains(XSS_NAME) && resolved.contains("38 min"),
        "{resolved}"
    );
    let page_text = text(&browser, "body").await;
    assert!(!page_text.contains("alert(2)"), "no error text is shown");
    assert!(!page_text.contains(&ids[0]) && !page_text.contains(&org));

    browser.set_window_size(1280, 1500).await.unwrap();
    wait_for(&browser, ".endpoint-list").await;
    screenshot(&browser, "status-01-page.png").await;

    // A phone's width: the last 30 days.
    browser.set_window_size(390, 844).await.unwrap();
    wait_for(&browser, ".endpoint-list").await;
    let bars = browser
        .find_all(Locator::Css(".endpoint:nth-child(1) .bar"))
        .await
        .unwrap();
    assert!(!bars[0].is_displayed().await.unwrap());
    assert!(bars[60].is_displayed().await.unwrap() && bars[89].is_displayed().await.unwrap());
    assert!(
        text(&browser, ".endpoint:nth-child(1) .scale")
            .await
            .contains("30 days ago")
    );
    let width: Value = browser
        .execute("return document.documentElement.scrollWidth;", vec![])
        .await
        .unwrap();
    assert!(
        width.as_i64().unwrap() <= 390,
        "no sideways scrolling: {width}"
    );
    screenshot(&browser, "status-02-phone.png").await;

    // An unknown slug says so.
    browser
        .goto(&format!("{base}/status/nobody-here"))
        .await
        .unwrap();
    let h1 = wait_for(&browser, "h1").await;
    assert_eq!(h1.text().await.unwrap(), "No status page here");

    browser.close().await.unwrap();

    // The system's dark mode: dark background, the same page.
    let dark_session =
        scoville_tests::browser::Browser::start_with(1280, 1500, &["--force-dark-mode"])
            .await
            .expect("a browser started before");
    let dark = dark_session.client.clone();
    dark.goto(&format!("{base}/status/acme")).await.unwrap();
    wait_for(&dark, ".endpoint-list").await;
    let background: Value = dark
        .execute(
            "return getComputedStyle(document.body).backgroundColor;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(background, "rgb(13, 17, 23)", "dark mode");
    screenshot(&dark, "status-03-dark.png").await;
    dark.close().await.unwrap();
    drop(session);
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}
