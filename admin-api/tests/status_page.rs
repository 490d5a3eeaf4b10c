//! Public status pages through the router (no login): 90 days of daily uptime computed
//! from check results written and rolled up by the receiver's own stores (SQLite here,
//! and InfluxDB against SQLite for the daily sums), every expected figure computed here
//! from the generated results alone; the overall state; current and past incidents
//! from the incident log; paused and deleted endpoints; nothing private anywhere in the
//! answer; the 30 s reuse and `Cache-Control`; unknown slugs; and the reads a page of
//! 200 endpoints costs.

#![allow(clippy::unwrap_used)]

#[allow(unused_imports)]
mod support_history;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use scoville_admin_api::app::now_ms;
use scoville_admin_api::history::HistoryStore;
use scoville_admin_api::history::influx::{InfluxHistory, InfluxHistorySettings};
use scoville_admin_api::history::sqlite::SqliteHistory;
use scoville_admin_api::routes::status_pages::PublicPageCache;
use scoville_admin_api::store::sqlite::SqliteAdmin;
use scoville_admin_api::{AppState, router};
use scoville_core::{CheckResult, DownReason, EndpointId, OrgId, Outcome, Region};
use scoville_incident_log::sqlite::SqliteLog;
use scoville_incident_log::{EntryKind, Incident, IncidentLog, LogWrite, TimelineEntry};
use scoville_receiver_service::store::ResultStore;
use scoville_receiver_service::store::influx::{InfluxAuth, InfluxSettings, InfluxStore};
use scoville_receiver_service::store::sqlite::SqliteStore;
use scoville_service_kit::auth::TokenSet;
use serde_json::{Value, json};
use support_history::{HOUR, InfluxServer, MINUTE, Rng, TempDir, result};
use tower::ServiceExt;

const DAY: i64 = 86_400_000;
const TARGET: &str = "https://secret-target.example.com/health?token=hunter2";
const SECRET_ERROR: &str = "secret backend error: db-primary-7 refused";
const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];

/// The API over SQLite stores in a temporary directory.
struct Api {
    router: axum::Router,
    writer: SqliteStore,
    log: Arc<dyn IncidentLog>,
    _dir: TempDir,
}

impl Api {
    /// `max_age`: how long public answers are reused (zero: never).
    async fn new(max_age: Duration) -> Self {
        let dir = TempDir::new("status-page");
        let admin = Arc::new(SqliteAdmin::open(&dir.0.join("admin.db")).unwrap());
        let results = dir.0.join("results.db");
        let writer = SqliteStore::open(&results).unwrap();
        let history = Arc::new(SqliteHistory::open(&results).unwrap());
        let log: Arc<dyn IncidentLog> =
            Arc::new(SqliteLog::open(&dir.0.join("incidents.db")).unwrap());
        let mut state = AppState::new(admin, TokenSet::new(Vec::new()), 3_600_000, false)
            .await
            .unwrap()
            .with_history(history)
            .with_incidents(log.clone());
        state.public_pages = Arc::new(PublicPageCache::with_max_age(max_age));
        Self {
            router: router(state),
            writer,
            log,
            _dir: dir,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value, axum::http::HeaderMap, String) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let resp = self
            .router
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value, headers, text)
    }

    /// Signs up; the session cookie and the org id.
    async fn signup(&self, email: &str, org: &str) -> (String, String) {
        let req = Request::post("/v1/signup")
            .header("content-type", "application/json")
            .body(Body::from(
                json!({"email": email, "password": "correct horse battery", "org_name": org})
                    .to_string(),
            ))
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        let cookie = resp.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        (cookie, body["org"]["id"].as_str().unwrap().to_string())
    }

    async fn endpoint(&self, cookie: &str, name: &str) -> String {
        let (status, ep, _, _) = self
            .call(
                Method::POST,
                "/v1/endpoints",
                Some(cookie),
                Some(json!({
                    "name": name,
                    "check": {"type": "http", "url": TARGET},
                    "regions": REGIONS,
                    "interval_s": 60,
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{ep}");
        ep["id"].as_str().unwrap().to_string()
    }

    async fn page(&self, cookie: &str, slug: &str, title: &str, ids: &[&str]) {
        let (status, page, _, _) = self
            .call(
                Method::POST,
                "/v1/status-pages",
                Some(cookie),
                Some(json!({"slug": slug, "title": title, "endpoint_ids": ids})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{page}");
    }

    /// The failure service's part: an incident of `endpoint` that started at `start`,
    /// resolved at `resolved` if given.
    async fn incident(&self, org: &str, endpoint: &str, start: i64, resolved: Option<i64>) {
        let incident = Incident {
            id: format!("{endpoint}~{}", start / MINUTE),
            org_id: OrgId::parse(org).unwrap(),
            endpoint_id: EndpointId::parse(endpoint).unwrap(),
            started_at_ms: start,
            confirmed_at_ms: start + MINUTE,
            resolved_at_ms: None,
            regions: vec![Region::parse("eu-west-1").unwrap()],
            error: Some(SECRET_ERROR.into()),
        };
        let entry = |at_ms, kind| TimelineEntry {
            at_ms,
            kind,
            notice: None,
            muted: false,
            regions: vec![Region::parse("eu-west-1").unwrap()],
            detail: Some(SECRET_ERROR.into()),
        };
        let mut writes = vec![LogWrite {
            incident: incident.clone(),
            entry: entry(start + MINUTE, EntryKind::Confirmed),
        }];
        if let Some(r) = resolved {
            writes.push(LogWrite {
                incident: Incident {
                    resolved_at_ms: Some(r),
                    ..incident
                },
                entry: entry(r, EntryKind::Resolved),
            });
        }
        self.log.append(&writes).await.unwrap();
    }

    /// Writes with the receiver's writer and rolls up what was written.
    async fn fill(&self, results: &[CheckResult]) {
        fill(&self.writer, results).await;
    }
}

async fn fill(store: &dyn ResultStore, results: &[CheckResult]) {
    for chunk in results.chunks(1_000) {
        store.write(chunk).await.unwrap();
    }
    let from = results.iter().map(|r| r.started_at_ms).min().unwrap();
    let to = results.iter().map(|r| r.started_at_ms).max().unwrap() + MINUTE;
    store.rollup_minutes(from, to).await.unwrap();
    store.rollup_hours(from, to).await.unwrap();
}

/// A check of `endpoint` in `region` at `at`, up or down (with a private error).
fn check(rng: &mut Rng, org: &str, endpoint: &str, region: &str, at: i64, up: bool) -> CheckResult {
    let mut r = result(rng, org, endpoint, region, 80.0, at);
    if up {
        r.report.outcome = Outcome::Up;
        r.report.status = Some(200);
        r.report.message = "HTTP 200".into();
    } else {
        r.report.outcome = Outcome::Down(DownReason::Status);
        r.report.status = Some(503);
        r.report.message = SECRET_ERROR.into();
    }
    r
}

/// 90 days of checks of `endpoint` up to `now`, from `first_day` (the first 10 days
/// without any): every other hour in both regions, all up but day 40 (half down) and day
/// 70 (200 checks a region, one of them down); today up to a minute ago, the latest up.
fn ninety_days(org: &str, endpoint: &str, first_day: i64, now: i64) -> Vec<CheckResult> {
    let mut rng = Rng::new(11);
    let mut out = Vec::new();
    for day in 10..90 {
        let start = first_day + day * DAY;
        for (k, region) in REGIONS.iter().enumerate() {
            if day == 70 {
                for m in 0..200 {
                    let at = start + m * 5 * MINUTE + k as i64 * 1_000;
                    if at < now - MINUTE {
                        out.push(check(&mut rng, org, endpoint, region, at, m != 17));
                    }
                }
                continue;
            }
            for h in (0..24).step_by(2) {
                let at = start + h * HOUR + 7 * MINUTE + k as i64 * 1_000;
                if at < now - 2 * MINUTE {
                    let up = !(day == 40 && h % 4 == 0);
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

/// (count, up) of `endpoint`'s results in `[from, to)`, from the results alone.
fn truth(results: &[CheckResult], endpoint: &str, from: i64, to: i64) -> (u64, u64) {
    results
        .iter()
        .filter(|r| r.endpoint_id.as_str() == endpoint && (from..to).contains(&r.started_at_ms))
        .fold((0, 0), |(c, u), r| {
            (
                c + 1,
                u + u64::from(!matches!(r.report.outcome, Outcome::Down(_))),
            )
        })
}

fn close(a: &Value, b: Option<f64>) -> bool {
    match (a.as_f64(), b) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-12,
        (None, None) => a.is_null(),
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_page_shows_90_days_and_incidents_from_real_stores_and_nothing_private() {
    let api = Api::new(Duration::ZERO).await;
    let (cookie, org) = api.signup("owner@acme.example", "Acme secret org").await;
    let shop = api.endpoint(&cookie, "Shop").await;
    let paused = api.endpoint(&cookie, "Old <b>API</b>").await;
    let hidden = api.endpoint(&cookie, "Internal admin").await;
    let deleted = api.endpoint(&cookie, "Gone soon").await;
    // The page lists the shop twice: it shows twice, its incidents once.
    api.page(
        &cookie,
        "acme",
        "Acme status",
        &[&shop, &paused, &deleted, &shop],
    )
    .await;
    // Another org's endpoint and page: never on Acme's page.
    let (other_cookie, other_org) = api.signup("x@other.example", "Other").await;
    let other = api.endpoint(&other_cookie, "Other shop").await;
    api.page(&other_cookie, "other", "Other status", &[&other])
        .await;

    let now = now_ms();
    let first_day = (now.div_euclid(DAY) - 89) * DAY;
    let mut results = ninety_days(&org, &shop, first_day, now);
    let mut rng = Rng::new(3);
    // The paused endpoint: down all of five days ago, nothing since.
    for h in 0..24 {
        let at = first_day + 85 * DAY + h * HOUR;
        results.push(check(&mut rng, &org, &paused, "eu-west-1", at, false));
    }
    // Noise: the hidden endpoint and the other org's, down, today.
    for m in 1..30 {
        results.push(check(
            &mut rng,
            &org,
            &hidden,
            "eu-west-1",
            now - m * MINUTE,
            false,
        ));
        results.push(check(
            &mut rng,
            &other_org,
            &other,
            "eu-west-1",
            now - m * MINUTE,
            false,
        ));
    }
    api.fill(&results).await;
    let (status, _, _, _) = api
        .call(
            Method::POST,
            &format!("/v1/endpoints/{paused}/pause"),
            Some(&cookie),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _, _) = api
        .call(
            Method::DELETE,
            &format!("/v1/endpoints/{deleted}"),
            Some(&cookie),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Incidents: the shop's open one (2 h), one resolved 20 days ago, one 100 days ago
    // (too old); the hidden endpoint's and the other org's (not on this page).
    api.incident(&org, &shop, now - 2 * HOUR, None).await;
    let old = now - 20 * DAY;
    api.incident(&org, &shop, old, Some(old + 38 * MINUTE))
        .await;
    api.incident(&org, &shop, now - 100 * DAY, Some(now - 100 * DAY + HOUR))
        .await;
    api.incident(&org, &hidden, now - HOUR, None).await;
    api.incident(&other_org, &other, now - HOUR, None).await;

    // No credentials, any case.
    let (status, page, headers, text) = api
        .call(Method::GET, "/v1/public/status/ACME", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(headers["cache-control"], "public, max-age=30");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(page["title"], "Acme status");
    let days_from = page["days_from_ms"].as_i64().unwrap();
    assert!(
        days_from == first_day || days_from == first_day + DAY,
        "the 90 days end today (UTC)"
    );
    let names: Vec<&str> = page["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Shop", "Old <b>API</b>", "Shop"],
        "deleted ones drop off"
    );

    // The shop: every day's uptime as the results say, oldest first.
    let ep = &page["endpoints"][0];
    assert_eq!(ep["status"], "up");
    assert_eq!(ep["paused"], false);
    assert_eq!(ep["open_incident"], true);
    let days = ep["days"].as_array().unwrap();
    assert_eq!(days.len(), 90);
    let mut with_data = 0;
    for (i, got) in days.iter().enumerate() {
        let from = days_from + i as i64 * DAY;
        let (count, up) = truth(&results, &shop, from, from + DAY);
        let want = (count > 0).then(|| up as f64 / count as f64);
        assert!(close(got, want), "day {i}: {got} != {want:?}");
        with_data += usize::from(count > 0);
    }
    assert!(with_data >= 79, "{with_data} days with data");
    let day =
        |d: i64| &days[usize::try_from(first_day + d * DAY - days_from).unwrap() / DAY as usize];
    if days_from == first_day {
        assert!(days[0].is_null() && days[9].is_null(), "no data: null");
        assert_eq!(day(40).as_f64(), Some(0.5), "day 40: half down");
        assert_eq!(day(70).as_f64(), Some(398.0 / 400.0));
        assert_eq!(day(41).as_f64(), Some(1.0));
    }
    let (count, up) = truth(&results, &shop, days_from, days_from + 90 * DAY);
    assert!(close(&ep["uptime_90d"], Some(up as f64 / count as f64)));

    // The paused one: paused, its red day kept, no recent state.
    let ep = &page["endpoints"][1];
    assert_eq!(ep["paused"], true);
    assert_eq!(ep["status"], "unknown");
    assert_eq!(ep["open_incident"], false);
    assert_eq!(ep["uptime_90d"].as_f64(), Some(0.0));
    assert_eq!(
        ep["days"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d.as_f64() == Some(0.0))
            .count(),
        1
    );

    // Incidents: the open one now, the resolved one of 20 days ago; nothing older, nothing
    // of other endpoints, each once.
    assert_eq!(page["overall"], "partial_outage", "an open incident");
    let current = page["current_incidents"].as_array().unwrap();
    assert_eq!(current.len(), 1, "{current:?}");
    assert_eq!(current[0]["endpoint"], "Shop");
    assert_eq!(current[0]["status"], "open");
    assert_eq!(current[0]["started_at_ms"], now - 2 * HOUR);
    assert!(current[0]["resolved_at_ms"].is_null());
    let past = page["past_incidents"].as_array().unwrap();
    assert_eq!(past.len(), 1, "{past:?}");
    assert_eq!(past[0]["endpoint"], "Shop");
    assert_eq!(past[0]["status"], "resolved");
    assert_eq!(past[0]["started_at_ms"], old);
    assert_eq!(past[0]["resolved_at_ms"], old + 38 * MINUTE);
    assert_eq!(past[0]["duration_ms"], 38 * MINUTE);
    let keys: Vec<&String> = past[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "duration_ms",
            "endpoint",
            "resolved_at_ms",
            "started_at_ms",
            "status"
        ]
    );

    // Nothing private anywhere in the answer.
    for secret in [
        org.as_str(),
        other_org.as_str(),
        shop.as_str(),
        paused.as_str(),
        hidden.as_str(),
        deleted.as_str(),
        other.as_str(),
        "secret-target.example.com",
        "hunter2",
        SECRET_ERROR,
        "db-primary",
        "eu-west-1",
        "us-east-1",
        "run-",
        "Acme secret org",
        "owner@acme.example",
        "Internal admin",
        "Other shop",
        "~",
        "_id",
        "region",
        "error",
    ] {
        assert!(
            !text.contains(secret),
            "{secret:?} is in the public answer: {text}"
        );
    }

    // The incident resolves: all operational, the incident moves to the past.
    api.incident(&org, &shop, now - 2 * HOUR, Some(now - MINUTE))
        .await;
    let (_, page, _, _) = api
        .call(Method::GET, "/v1/public/status/acme", None, None)
        .await;
    assert_eq!(page["overall"], "operational");
    assert!(page["current_incidents"].as_array().unwrap().is_empty());
    assert_eq!(page["past_incidents"].as_array().unwrap().len(), 2);
    assert_eq!(page["past_incidents"][0]["started_at_ms"], now - 2 * HOUR);
    assert_eq!(page["endpoints"][0]["open_incident"], false);

    // The other org's page shows its own endpoint, down: a major outage.
    let (_, page, _, text) = api
        .call(Method::GET, "/v1/public/status/other", None, None)
        .await;
    assert_eq!(page["overall"], "major_outage", "{text}");
    assert_eq!(page["endpoints"][0]["status"], "down");
    assert!(!text.contains("Shop") && !text.contains(&org));
}

#[tokio::test]
async fn answers_are_reused_for_30_seconds_and_unknown_slugs_are_404() {
    let api = Api::new(scoville_admin_api::routes::status_pages::PUBLIC_MAX_AGE).await;
    let (cookie, org) = api.signup("c@cache.example", "Cache").await;
    let ep = api.endpoint(&cookie, "Site").await;
    api.page(&cookie, "cached", "Cached", &[&ep]).await;
    for slug in ["nobody", "cached2", "-", "%3Cscript%3E"] {
        let (status, body, headers, _) = api
            .call(
                Method::GET,
                &format!("/v1/public/status/{slug}"),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{slug}");
        assert!(body["error"].is_string());
        assert_eq!(headers["cache-control"], "no-store", "404s are not cached");
    }
    let (status, first, _, first_text) = api
        .call(Method::GET, "/v1/public/status/cached", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["overall"], "unknown", "no results yet");
    // An incident now: the page within 30 s is the same answer.
    api.incident(&org, &ep, now_ms() - MINUTE, None).await;
    let (_, _, _, again) = api
        .call(Method::GET, "/v1/public/status/cached", None, None)
        .await;
    assert_eq!(again, first_text, "reused");
    // A page created after a 404 of its slug is there at once.
    api.page(&cookie, "nobody", "Now somebody", &[&ep]).await;
    let (status, page, _, _) = api
        .call(Method::GET, "/v1/public/status/nobody", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["overall"], "partial_outage", "its incident is open");

    // The page itself: public HTML with the strict CSP, for any slug.
    let (status, _, headers, html) = api.call(Method::GET, "/status/cached", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'self'")
    );
    assert!(html.contains("/ui/status.js"));
    for asset in ["/ui/status.js", "/ui/status.css"] {
        let (status, _, _, _) = api.call(Method::GET, asset, None, None).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
    }
}

/// The daily sums of both adapters, from the same results written by the receiver's
/// writers (InfluxDB sums per day in the store, SQLite in the reader), against the
/// results; and the trait's default (through the full history) agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_counts_match_the_results_on_influxdb_and_sqlite() {
    #[derive(Debug)]
    struct Default_<'a>(&'a SqliteHistory);
    impl HistoryStore for Default_<'_> {
        fn history<'a>(
            &'a self,
            o: &'a OrgId,
            e: &'a EndpointId,
            q: &'a scoville_admin_api::history::HistoryQuery,
        ) -> futures::future::BoxFuture<
            'a,
            Result<scoville_admin_api::history::History, scoville_admin_api::history::HistoryError>,
        > {
            self.0.history(o, e, q)
        }
        fn results<'a>(
            &'a self,
            o: &'a OrgId,
            e: &'a EndpointId,
            q: &'a scoville_admin_api::history::ResultsQuery,
        ) -> futures::future::BoxFuture<
            'a,
            Result<
                Vec<scoville_admin_api::history::ResultRow>,
                scoville_admin_api::history::HistoryError,
            >,
        > {
            self.0.results(o, e, q)
        }
        fn latest<'a>(
            &'a self,
            o: &'a OrgId,
            e: &'a EndpointId,
            since: i64,
        ) -> futures::future::BoxFuture<
            'a,
            Result<
                Vec<scoville_admin_api::history::ResultRow>,
                scoville_admin_api::history::HistoryError,
            >,
        > {
            self.0.latest(o, e, since)
        }
    }

    let now = now_ms();
    let first_day = (now.div_euclid(DAY) - 89) * DAY;
    let mut results = ninety_days("org-d", "ep-d", first_day, now);
    let mut rng = Rng::new(5);
    // Noise of another org's endpoint and another endpoint of the org, on the same days
    // (endpoint ids are unique across orgs: the receiver's SQLite rollups key on them).
    for day in 0..90 {
        let at = first_day + day * DAY + 3 * HOUR + 30_000;
        results.push(check(&mut rng, "org-e", "ep-e", "eu-west-1", at, false));
        results.push(check(&mut rng, "org-d", "ep-x", "eu-west-1", at, false));
    }
    let org = OrgId::parse("org-d").unwrap();
    let endpoint = EndpointId::parse("ep-d").unwrap();
    let want: Vec<(u64, u64)> = (0..90)
        .map(|d| {
            let (from, to) = (first_day + d * DAY, first_day + (d + 1) * DAY);
            results
                .iter()
                .filter(|r| {
                    r.org_id.as_str() == "org-d"
                        && r.endpoint_id.as_str() == "ep-d"
                        && (from..to).contains(&r.started_at_ms)
                })
                .fold((0, 0), |(c, u), r| {
                    (
                        c + 1,
                        u + u64::from(!matches!(r.report.outcome, Outcome::Down(_))),
                    )
                })
        })
        .collect();
    assert!(want.iter().filter(|(c, _)| *c > 0).count() >= 80);

    let dir = TempDir::new("status-daily");
    let path = dir.0.join("results.db");
    let writer = SqliteStore::open(&path).unwrap();
    fill(&writer, &results).await;
    let sqlite = SqliteHistory::open(&path).unwrap();

    let server = InfluxServer::start();
    let influx_writer = InfluxStore::new(InfluxSettings {
        url: server.url(),
        database: "scoville".into(),
        retention_policy: None,
        auth: InfluxAuth::None,
        timeout: Duration::from_secs(20),
    })
    .unwrap();
    influx_writer.ensure_database().await.unwrap();
    fill(&influx_writer, &results).await;
    let influx = InfluxHistory::new(InfluxHistorySettings::new(server.url(), "scoville")).unwrap();

    let default = Default_(&sqlite);
    let stores: [(&str, &dyn HistoryStore); 3] = [
        ("sqlite", &sqlite),
        ("influxdb", &influx),
        ("default", &default),
    ];
    for (name, store) in stores {
        // Any time of the first day stands for the whole day.
        let got = store
            .daily_counts(&org, &endpoint, first_day + 5 * HOUR, 90)
            .await
            .unwrap();
        let got: Vec<(u64, u64)> = got.iter().map(|d| (d.count, d.up)).collect();
        assert_eq!(got, want, "{name}");
    }
}

/// A history store that counts its calls, reading through SQLite.
#[derive(Debug)]
struct Counting {
    inner: SqliteHistory,
    history: AtomicUsize,
    latest: AtomicUsize,
    latest_many: AtomicUsize,
    daily: AtomicUsize,
}

type Fut<'a, T> =
    futures::future::BoxFuture<'a, Result<T, scoville_admin_api::history::HistoryError>>;

impl HistoryStore for Counting {
    fn history<'a>(
        &'a self,
        o: &'a OrgId,
        e: &'a EndpointId,
        q: &'a scoville_admin_api::history::HistoryQuery,
    ) -> Fut<'a, scoville_admin_api::history::History> {
        self.history.fetch_add(1, Ordering::SeqCst);
        self.inner.history(o, e, q)
    }
    fn results<'a>(
        &'a self,
        o: &'a OrgId,
        e: &'a EndpointId,
        q: &'a scoville_admin_api::history::ResultsQuery,
    ) -> Fut<'a, Vec<scoville_admin_api::history::ResultRow>> {
        self.inner.results(o, e, q)
    }
    fn latest<'a>(
        &'a self,
        o: &'a OrgId,
        e: &'a EndpointId,
        since: i64,
    ) -> Fut<'a, Vec<scoville_admin_api::history::ResultRow>> {
        self.latest.fetch_add(1, Ordering::SeqCst);
        self.inner.latest(o, e, since)
    }
    fn latest_many<'a>(
        &'a self,
        o: &'a OrgId,
        asks: &'a [(EndpointId, i64)],
    ) -> Fut<'a, Vec<Vec<scoville_admin_api::history::ResultRow>>> {
        self.latest_many.fetch_add(1, Ordering::SeqCst);
        self.inner.latest_many(o, asks)
    }
    fn daily_counts<'a>(
        &'a self,
        o: &'a OrgId,
        e: &'a EndpointId,
        from_ms: i64,
        days: usize,
    ) -> Fut<'a, Vec<scoville_admin_api::history::DayCount>> {
        self.daily.fetch_add(1, Ordering::SeqCst);
        self.inner.daily_counts(o, e, from_ms, days)
    }
}

/// The work of a page of 200 endpoints is bounded: one daily read and one incident read
/// per endpoint, one read of all the latest results; 50 callers at once share it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_200_endpoints_is_built_once_with_one_read_of_each_kind_per_endpoint() {
    let dir = TempDir::new("status-bounded");
    let admin = Arc::new(SqliteAdmin::open(&dir.0.join("admin.db")).unwrap());
    let results = dir.0.join("results.db");
    let writer = SqliteStore::open(&results).unwrap();
    let counting = Arc::new(Counting {
        inner: SqliteHistory::open(&results).unwrap(),
        history: AtomicUsize::new(0),
        latest: AtomicUsize::new(0),
        latest_many: AtomicUsize::new(0),
        daily: AtomicUsize::new(0),
    });
    let log = Arc::new(CountingLog {
        inner: SqliteLog::open(&dir.0.join("incidents.db")).unwrap(),
        reads: AtomicUsize::new(0),
    });
    let state = AppState::new(admin, TokenSet::new(Vec::new()), 3_600_000, false)
        .await
        .unwrap()
        .with_history(counting.clone())
        .with_incidents(log.clone());
    let api = Api {
        router: router(state),
        writer,
        log: log.clone(),
        _dir: dir,
    };
    let (cookie, org) = api.signup("big@page.example", "Big").await;
    let mut ids = Vec::new();
    for i in 0..200 {
        ids.push(api.endpoint(&cookie, &format!("Service {i}")).await);
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    api.page(&cookie, "big", "Big", &refs).await;
    let now = now_ms();
    let mut rng = Rng::new(8);
    let written: Vec<CheckResult> = ids
        .iter()
        .map(|id| check(&mut rng, &org, id, "eu-west-1", now - MINUTE, true))
        .collect();
    api.fill(&written).await;
    api.incident(&org, &ids[7], now - HOUR, None).await;

    let mut callers = Vec::new();
    for _ in 0..50 {
        let router = api.router.clone();
        callers.push(tokio::spawn(async move {
            let resp = router
                .oneshot(
                    Request::get("/v1/public/status/big")
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            axum::body::to_bytes(resp.into_body(), 1 << 24)
                .await
                .unwrap()
        }));
    }
    let mut answers = Vec::new();
    for c in callers {
        answers.push(c.await.unwrap());
    }
    assert!(
        answers.iter().all(|a| *a == answers[0]),
        "one answer for all"
    );
    let page: Value = serde_json::from_slice(&answers[0]).unwrap();
    assert_eq!(page["endpoints"].as_array().unwrap().len(), 200);
    assert_eq!(page["endpoints"][199]["status"], "up");
    assert_eq!(page["endpoints"][7]["open_incident"], true);
    assert_eq!(page["overall"], "partial_outage");
    assert_eq!(counting.daily.load(Ordering::SeqCst), 200);
    assert_eq!(counting.latest_many.load(Ordering::SeqCst), 1);
    assert_eq!(counting.latest.load(Ordering::SeqCst), 0);
    assert_eq!(
        counting.history.load(Ordering::SeqCst),
        0,
        "no percentiles merged"
    );
    assert_eq!(log.reads.load(Ordering::SeqCst), 200);
}

/// An incident log that counts its reads.
#[derive(Debug)]
struct CountingLog {
    inner: SqliteLog,
    reads: AtomicUsize,
}

#[async_trait::async_trait]
impl IncidentLog for CountingLog {
    async fn append(&self, writes: &[LogWrite]) -> scoville_incident_log::Result<()> {
        self.inner.append(writes).await
    }
    async fn open_endpoints(&self) -> scoville_incident_log::Result<Vec<(OrgId, EndpointId)>> {
        self.inner.open_endpoints().await
    }
    async fn incidents(
        &self,
        org: &OrgId,
        query: &scoville_incident_log::IncidentQuery,
    ) -> scoville_incident_log::Result<Vec<Incident>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.incidents(org, query).await
    }
    async fn incident(
        &self,
        org: &OrgId,
        id: &str,
    ) -> scoville_incident_log::Result<Option<(Incident, Vec<TimelineEntry>)>> {
        self.inner.incident(org, id).await
    }
}
