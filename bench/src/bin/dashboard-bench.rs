//! `dashboard-bench`: the live dashboard with many endpoints, in a real headless
//! Chromium (issue 7's target: 1,000 endpoints, first paint ≤ 1 s, a status change shown
//! ≤ 2 s after the failure service decides it).
//!
//! Serves the admin API (with its web UI) over SQLite stores in a temporary directory,
//! signs up through the API, creates `--endpoints` endpoints, writes an hour of results
//! from two regions for each through the receiver's own writer (and its minute and hour
//! rollups), then in Chromium:
//!
//! - **first paint**, `--loads` times: a fresh page load of the dashboard, timed in the
//!   page from navigation start (`performance.now()`) until every endpoint's row is in
//!   the list with its live status (not "pending"), checked at every animation frame;
//! - **status change**, `--changes` times: an incident for one endpoint appended to the
//!   incident log (what the failure service does when it decides), timed from just before
//!   the append until the row says "down" in the page (a `MutationObserver` installed
//!   before the append; both clocks are this machine's).
//!
//! Needs Debian's `chromium` and `chromium-driver`. Build with
//! `cargo build --release -p scoville-bench --bin dashboard-bench`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use fantoccini::Locator;
use scoville_admin_api::app::now_ms;
use scoville_admin_api::history::sqlite::SqliteHistory;
use scoville_admin_api::store::sqlite::SqliteAdmin;
use scoville_admin_api::{AppState, router};
use scoville_bench::quantile;
use scoville_core::{CheckReport, CheckResult, EndpointId, OrgId, Outcome, Region, RunId, Timings};
use scoville_incident_log::IncidentLog;
use scoville_incident_log::sqlite::SqliteLog;
use scoville_receiver_service::store::ResultStore;
use scoville_receiver_service::store::sqlite::SqliteStore;
use scoville_service_kit::auth::TokenSet;
use scoville_service_kit::http::Server;
use scoville_tests::browser::Browser;
use serde_json::{Value, json};

/// Time the dashboard in Chromium.
#[derive(Debug, Parser)]
struct Args {
    /// Endpoints on the dashboard.
    #[arg(long, default_value_t = 1_000)]
    endpoints: usize,
    /// Timed page loads.
    #[arg(long, default_value_t = 7)]
    loads: usize,
    /// Timed status changes.
    #[arg(long, default_value_t = 10)]
    changes: usize,
}

const MINUTE: i64 = 60_000;
const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];

/// Resolves with `performance.now()` once `n` rows show a live status.
const ROWS_SHOWN: &str = r#"
const [n, done] = arguments;
function check() {
  const rows = document.querySelectorAll('#endpoints [data-id]');
  let live = 0;
  for (const r of rows) if (r.dataset.status && r.dataset.status !== 'unknown') live++;
  if (live >= n) done(performance.now()); else requestAnimationFrame(check);
}
check();
"#;

/// Watches the row of endpoint `id`: `window.__downAt` gets `Date.now()` when it says
/// "down" (WebDriver runs one command at a time per session, so the page keeps the time
/// and the bench polls for it).
const WATCH_ROW: &str = r#"
const [id] = arguments;
window.__downAt = null;
const down = () => {
  const row = document.querySelector(`#endpoints [data-id="${id}"]`);
  return row && row.dataset.status === 'down';
};
const seen = new MutationObserver(() => {
  if (window.__downAt === null && down()) { window.__downAt = Date.now(); seen.disconnect(); }
});
seen.observe(document.getElementById('endpoints'), { subtree: true, attributes: true, childList: true });
return down();
"#;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("scoville-dashboard-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run(&args, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(args: &Args, dir: &std::path::Path) -> anyhow::Result<()> {
    let admin = Arc::new(SqliteAdmin::open(&dir.join("admin.db"))?);
    let results_path = dir.join("results.db");
    let writer = SqliteStore::open(&results_path)?;
    let history = Arc::new(SqliteHistory::open(&results_path)?);
    let incidents: Arc<dyn IncidentLog> = Arc::new(SqliteLog::open(&dir.join("incidents.db"))?);
    let state = AppState::new(admin, TokenSet::new(Vec::new()), 3_600_000, false)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?
        .with_history(history)
        .with_incidents(incidents.clone());
    let server = Server::bind("127.0.0.1:0".parse()?, router(state)).await?;
    let base = format!("http://{}", server.local_addr()?);
    tokio::spawn(server.run_until(std::future::pending::<()>()));

    // An account and its endpoints, through the API.
    let http = reqwest::Client::new();
    let signup = http
        .post(format!("{base}/v1/signup"))
        .json(&json!({"email": "bench@example.com", "password": "correct horse battery", "org_name": "Bench"}))
        .send()
        .await?;
    if !signup.status().is_success() {
        bail!("sign-up: {}", signup.status());
    }
    // The session cookie from `Set-Cookie: scoville_session=...; ...`.
    let session = signup
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("scoville_session="))
        .and_then(|v| v.split(';').next())
        .context("a session cookie")?
        .to_string();
    let cookie = format!("scoville_session={session}");
    let me: Value = http
        .get(format!("{base}/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await?
        .json()
        .await?;
    let org = OrgId::parse(me["org_id"].as_str().context("org_id")?).map_err(anyhow::Error::msg)?;
    let mut ids = Vec::with_capacity(args.endpoints);
    for i in 0..args.endpoints {
        let created = http
            .post(format!("{base}/v1/endpoints"))
            .header("cookie", &cookie)
            .json(&json!({
                "name": format!("service {i:04}"),
                "check": {"type": "http", "url": format!("https://svc{i}.example.com/health")},
                "regions": REGIONS,
                "confirm_regions": 1,
                "tags": [if i % 2 == 0 { "prod" } else { "staging" }],
            }))
            .send()
            .await?;
        if created.status().as_u16() != 201 {
            bail!(
                "endpoint {i}: {} {}",
                created.status(),
                created.text().await?
            );
        }
        let body: Value = created.json().await?;
        ids.push(
            EndpointId::parse(body["id"].as_str().context("id")?).map_err(anyhow::Error::msg)?,
        );
    }

    // An hour of results from two regions, the latest up, rolled up as the worker would.
    let now = now_ms();
    let start = now - now % MINUTE - 60 * MINUTE;
    let mut batch = Vec::new();
    for id in &ids {
        for m in 0..=60 {
            for (r, region) in REGIONS.iter().enumerate() {
                let at = start + m * MINUTE + 1_000 * r as i64;
                let total = 80.0 + ((m * 7 + r as i64 * 13) % 40) as f64;
                batch.push(result(&org, id, region, at, total));
            }
        }
        if batch.len() >= 20_000 {
            writer.write(&batch).await?;
            batch.clear();
        }
    }
    writer.write(&batch).await?;
    writer.rollup_minutes(start, now + MINUTE).await?;
    writer.rollup_hours(start, now + MINUTE).await?;
    println!(
        "{} endpoints, {} results written",
        ids.len(),
        ids.len() * 61 * REGIONS.len()
    );

    let Some(browser) = Browser::start(1280, 900).await else {
        bail!("chromium and chromedriver are needed: apt-get install chromium chromium-driver");
    };
    let b = &browser.client;
    // Log in through the form (the session cookie is HttpOnly).
    b.goto(&format!("{base}/#/login")).await?;
    let form = b
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("#login-form"))
        .await?;
    form.find(Locator::Css("#f-email"))
        .await?
        .send_keys("bench@example.com")
        .await?;
    form.find(Locator::Css("#f-password"))
        .await?
        .send_keys("correct horse battery")
        .await?;
    form.find(Locator::Css("button[type=submit]"))
        .await?
        .click()
        .await?;
    b.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#endpoints"))
        .await?;

    let mut paints = Vec::new();
    for i in 0..args.loads {
        // A new document each time (a query string differs): going to `#/` from `#/`
        // would only change the fragment, and `performance.now()` would keep counting
        // from the first navigation.
        b.goto(&format!("{base}/?load={i}#/")).await?;
        let at = b.execute_async(ROWS_SHOWN, vec![json!(ids.len())]).await?;
        let ms = at.as_f64().context("a time")?;
        println!("load {i}: every row with its status after {ms:.0} ms");
        paints.push(ms);
    }
    let first = paints.remove(0);

    let mut shown = Vec::new();
    for (k, id) in ids
        .iter()
        .step_by((ids.len() / args.changes.max(1)).max(1))
        .take(args.changes)
        .enumerate()
    {
        if b.execute(WATCH_ROW, vec![json!(id.to_string())]).await? != json!(false) {
            bail!("endpoint {id} was down before its incident");
        }
        let decided = now_ms();
        scoville_bench::log_open_incident(
            incidents.as_ref(),
            &org,
            id,
            REGIONS[0],
            decided,
            "status: 503",
        )
        .await?;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let at = loop {
            let at = b.execute("return window.__downAt", vec![]).await?;
            if !at.is_null() {
                break at;
            }
            if std::time::Instant::now() > deadline {
                bail!("the row of {id} never turned red within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let ms = at.as_f64().context("a time")? - decided as f64;
        println!("change {k}: row red {ms:.0} ms after the incident was logged");
        shown.push(ms);
    }

    let mut p = paints.clone();
    let mut s = shown.clone();
    println!(
        "first paint, {} endpoints: first load {first:.0} ms; reloads median {:.0} ms, max {:.0} ms (n={})",
        ids.len(),
        quantile(&mut p, 0.5),
        quantile(&mut p, 1.0),
        paints.len()
    );
    println!(
        "status change shown: median {:.0} ms, max {:.0} ms (n={})",
        quantile(&mut s, 0.5),
        quantile(&mut s, 1.0),
        shown.len()
    );
    Ok(())
}

fn result(org: &OrgId, id: &EndpointId, region: &str, at: i64, total: f64) -> CheckResult {
    CheckResult {
        endpoint_id: id.clone(),
        org_id: org.clone(),
        region: Region::parse(region).expect("a region"),
        run_id: RunId::parse(format!("run-{}", at / MINUTE)).expect("a run id"),
        scheduled_at_ms: at - at % MINUTE,
        started_at_ms: at,
        apdex_t_ms: Some(200),
        mean_limit_ms: None,
        report: CheckReport {
            outcome: Outcome::Up,
            message: "HTTP 200".into(),
            status: Some(200),
            timings: Timings {
                dns_ms: Some(total * 0.05),
                connect_ms: Some(total * 0.1),
                tls_ms: Some(total * 0.2),
                ttfb_ms: Some(total * 0.5),
                total_ms: total,
            },
            bytes: 1_234,
            truncated: false,
            cert_expires_at_ms: None,
            domain_expires_at_ms: None,
            body_hash: None,
            watch_excerpt: None,
            ip: None,
            redirects: 0,
        },
    }
}
