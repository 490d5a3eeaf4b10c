//! What the dashboard reads, over HTTP on a real socket with SQLite stores: the live
//! statuses of `/v1/events?once=true` (a certificate about to expire makes an otherwise
//! passing endpoint `degraded`, with the warning as its note) and `/v1/sparklines` (every
//! endpoint of the org in one answer, each value exactly what `/history` says for that
//! step; 422 naming `step` past 200 steps; another org sees none of it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support_http;

use scoville_admin_api::app::now_ms;
use scoville_core::{
    CheckReport, CheckResult, DownReason, EndpointId, OrgId, Outcome, Region, RunId, Timings,
    WarningReason,
};
use scoville_receiver_service::store::ResultStore;
use scoville_receiver_service::store::sqlite::SqliteStore;
use serde_json::Value;
use support_http::{REGIONS, create, get, serve, sign_up};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

fn result(
    org: &OrgId,
    id: &EndpointId,
    region: &str,
    at: i64,
    total: f64,
    outcome: Outcome,
) -> CheckResult {
    let message = match &outcome {
        Outcome::Warning(_) => "certificate expires in 9 days".to_string(),
        Outcome::Down(_) => "HTTP 503".to_string(),
        _ => "HTTP 200".to_string(),
    };
    CheckResult {
        endpoint_id: id.clone(),
        org_id: org.clone(),
        region: Region::parse(region).unwrap(),
        run_id: RunId::parse(format!("run-{}", at / MINUTE)).unwrap(),
        scheduled_at_ms: at - at % MINUTE,
        started_at_ms: at,
        apdex_t_ms: Some(200),
        mean_limit_ms: None,
        report: CheckReport {
            outcome,
            message,
            status: Some(200),
            timings: Timings {
                dns_ms: Some(1.0),
                connect_ms: Some(2.0),
                tls_ms: Some(3.0),
                ttfb_ms: Some(total / 2.0),
                total_ms: total,
            },
            bytes: 100,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_statuses_and_sparklines_read_what_the_dashboard_draws() {
    let dir = std::env::temp_dir().join(format!("scoville-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let results_path = dir.join("results.db");
    let writer = SqliteStore::open(&results_path).unwrap();
    let base = serve(&dir, Some(&results_path)).await;
    let http = reqwest::Client::new();

    let a = sign_up(&http, &base, "a@example.com").await;
    let b = sign_up(&http, &base, "b@example.com").await;
    let up = create(&http, &base, &a, "up").await;
    let expiring = create(&http, &base, &a, "expiring").await;
    let half = create(&http, &base, &a, "half").await;
    let quiet = create(&http, &base, &a, "quiet").await;
    let theirs = create(&http, &base, &b, "theirs").await;

    // Three hours of results (the last minute is the latest), rolled up as the worker
    // does; the latest of `expiring` warns in one region, of `half` fails in one.
    let now = now_ms();
    let start = now - now % HOUR - 2 * HOUR;
    let mut batch = Vec::new();
    let mut last = 0;
    for m in 0..(now - start) / MINUTE {
        let at = start + m * MINUTE;
        last = at;
        let latest = at + 2 * MINUTE > now;
        for (r, region) in REGIONS.iter().enumerate() {
            let total = 50.0 + ((m * 7 + r as i64 * 13) % 40) as f64;
            let at = at + r as i64 * 1_000;
            batch.push(result(&a.org, &up, region, at, total, Outcome::Up));
            batch.push(result(&b.org, &theirs, region, at, total, Outcome::Up));
            let warn = latest && r == 1;
            batch.push(result(
                &a.org,
                &expiring,
                region,
                at,
                total,
                if warn {
                    Outcome::Warning(WarningReason::CertExpiryWarn)
                } else {
                    Outcome::Up
                },
            ));
            let fail = latest && r == 0;
            batch.push(result(
                &a.org,
                &half,
                region,
                at,
                total,
                if fail {
                    Outcome::Down(DownReason::Status)
                } else {
                    Outcome::Up
                },
            ));
        }
    }
    assert!(last > 0);
    writer.write(&batch).await.unwrap();
    writer.rollup_minutes(start, now + MINUTE).await.unwrap();
    writer.rollup_hours(start, now + MINUTE).await.unwrap();

    // Live statuses: the snapshot alone.
    let r = http
        .get(format!("{base}/v1/events?once=true"))
        .header("cookie", &a.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data:"))
        .unwrap_or_else(|| panic!("no data line in {text:?}"));
    let snapshot: Value = serde_json::from_str(data.trim()).unwrap();
    let by_id = |id: &EndpointId| {
        snapshot["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{id} missing from {snapshot}"))
    };
    assert_eq!(by_id(&up)["status"], "up");
    assert_eq!(by_id(&up)["note"], Value::Null);
    assert_eq!(by_id(&expiring)["status"], "degraded", "{snapshot}");
    assert_eq!(by_id(&expiring)["note"], "certificate expires in 9 days");
    assert_eq!(by_id(&half)["status"], "degraded");
    assert_eq!(by_id(&half)["note"], Value::Null);
    assert_eq!(by_id(&quiet)["status"], "unknown");
    assert_eq!(snapshot["endpoints"].as_array().unwrap().len(), 4);

    // Sparklines: one answer for the org, each value the step's value in /history.
    let s = get(&http, &format!("{base}/v1/sparklines"), &a.cookie).await;
    assert_eq!(s["step"], "1h");
    let lines = s["endpoints"].as_array().unwrap();
    let listed: Value = get(&http, &format!("{base}/v1/endpoints"), &a.cookie).await;
    let order: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let got: Vec<&str> = lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(got, order, "every endpoint of the org, in the list's order");
    for line in lines {
        let id = line["id"].as_str().unwrap();
        let h = get(
            &http,
            &format!("{base}/v1/endpoints/{id}/history?step=1h"),
            &a.cookie,
        )
        .await;
        assert_eq!(
            (s["from_ms"].clone(), s["to_ms"].clone()),
            (h["from_ms"].clone(), h["to_ms"].clone())
        );
        let values: Vec<Value> = h["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|st| {
                if st["p50_ms"].is_null() {
                    st["mean_ms"].clone()
                } else {
                    st["p50_ms"].clone()
                }
            })
            .collect();
        assert_eq!(line["values"].as_array().unwrap(), &values, "{id}");
        assert!(values.len() >= 24, "{}", values.len());
        assert_eq!(line["count"], h["summary"]["count"]);
        assert_eq!(line["uptime"], h["summary"]["uptime"]);
        assert_eq!(line["p50_ms"], h["summary"]["p50_ms"]);
    }
    let line = |id: &EndpointId| lines.iter().find(|l| l["id"] == id.as_str()).unwrap();
    assert!(line(&up)["count"].as_u64().unwrap() > 200);
    assert_eq!(line(&up)["uptime"], 1.0);
    assert!(
        line(&half)["uptime"].as_f64().unwrap() < 1.0,
        "the failed check counts"
    );
    assert_eq!(line(&quiet)["count"], 0);
    assert!(
        line(&quiet)["values"]
            .as_array()
            .unwrap()
            .iter()
            .all(Value::is_null)
    );
    // A step of 5 minutes over the default day is 288 steps: refused, naming `step`.
    let r = http
        .get(format!("{base}/v1/sparklines?step=5m"))
        .header("cookie", &a.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["field"], "step", "{e}");
    let r = http
        .get(format!(
            "{base}/v1/sparklines?step=5m&from={}",
            now - 3 * HOUR
        ))
        .header("cookie", &a.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!("{base}/v1/sparklines?from=yesterday"))
        .header("cookie", &a.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "from");
    // The other org: its own endpoint only.
    let theirs_lines = get(&http, &format!("{base}/v1/sparklines"), &b.cookie).await;
    let ids: Vec<&str> = theirs_lines["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [theirs.as_str()]);
    assert!(theirs_lines["endpoints"][0]["count"].as_u64().unwrap() > 200);
    // Without credentials: 401.
    let r = http
        .get(format!("{base}/v1/sparklines"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let _ = std::fs::remove_dir_all(&dir);
}
