//! `events-bench`: every endpoint's live status (`GET /v1/events?once=true`) for many
//! endpoints over one SQLite file, as `scoville up` serves it (admin store, results and
//! incident log in the same file).
//!
//! Serves the admin API in this process over a temporary directory, signs up through the
//! API, creates one endpoint through it and `--endpoints` copies of it in the store,
//! writes `--rounds` probe rounds of results (a minute apart, one region, 1.5 % of the
//! endpoints failing with an open incident, as the target farm's mix) through the
//! receiver's own writer, then times:
//!
//! - **the route**, `--reads` times: `GET /v1/events?once=true` over HTTP, the whole
//!   body read (what the soak samples);
//! - **its parts**, as many times each: the route's snapshot (`LiveHub::snapshot`, its
//!   endpoint list kept while the store's generation stands), the store's generation, the
//!   open incidents, the bulk latest-results read (`HistoryStore::latest_many`), the
//!   snapshot's JSON; and what a snapshot costs after an endpoint write: the endpoint list
//!   read and parsed, and the snapshot with it (`routes::events::snapshot`).
//!
//! `--writes-per-s N` keeps a writer storing N results a second (in batches every
//! 100 ms, as the receiver's worker does during a probe round) while timing.
//!
//! Build with `cargo build --release -p scoville-bench --bin events-bench`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use scoville_admin_api::app::now_ms;
use scoville_admin_api::history::HistoryStore;
use scoville_admin_api::history::sqlite::SqliteHistory;
use scoville_admin_api::routes::events::{StatusEvent, snapshot};
use scoville_admin_api::store::sqlite::SqliteAdmin;
use scoville_admin_api::{AppState, router};
use scoville_bench::quantile;
use scoville_core::{
    CheckReport, CheckResult, DownReason, EndpointId, OrgId, Outcome, Region, RunId, Timings,
};
use scoville_incident_log::sqlite::SqliteLog;
use scoville_incident_log::{IncidentLog, IncidentQuery};
use scoville_receiver_service::store::ResultStore;
use scoville_receiver_service::store::sqlite::SqliteStore;
use scoville_service_kit::auth::TokenSet;
use scoville_service_kit::http::Server;
use serde_json::{Value, json};

/// Time every endpoint's live status over SQLite.
#[derive(Debug, Parser)]
struct Args {
    /// Endpoints.
    #[arg(long, default_value_t = 10_000)]
    endpoints: usize,
    /// Probe rounds of results already stored (one a minute, the last one just now).
    #[arg(long, default_value_t = 10)]
    rounds: i64,
    /// Timed reads of the route and of each part.
    #[arg(long, default_value_t = 20)]
    reads: usize,
    /// Results written a second while timing (0: none).
    #[arg(long, default_value_t = 0)]
    writes_per_s: usize,
}

const MINUTE: i64 = 60_000;
const REGION: &str = "local";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("scoville-events-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run(&args, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Every 200th endpoint (0.5 %) fails from the start, and every 100th beside them (1 %):
/// 1.5 % with an open incident.
fn failing(i: usize) -> bool {
    i % 200 == 7 || i % 100 == 3
}

async fn run(args: &Args, dir: &std::path::Path) -> anyhow::Result<()> {
    let db = dir.join("scoville.db");
    let writer = Arc::new(SqliteStore::open(&db)?);
    let admin = Arc::new(SqliteAdmin::open(&db)?);
    let history = Arc::new(SqliteHistory::open(&db)?);
    let incidents: Arc<dyn IncidentLog> = Arc::new(SqliteLog::open(&db)?);
    let state = AppState::new(admin, TokenSet::new(Vec::new()), 3_600_000, false)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?
        .with_history(history.clone())
        .with_incidents(incidents.clone());
    let server = Server::bind("127.0.0.1:0".parse()?, router(state.clone())).await?;
    let base = format!("http://{}", server.local_addr()?);
    tokio::spawn(server.run_until(std::future::pending::<()>()));

    // An account and one endpoint through the API; the others are copies of it.
    let http = reqwest::Client::new();
    let signup = http
        .post(format!("{base}/v1/signup"))
        .json(&json!({"email": "bench@example.com", "password": "correct horse battery", "org_name": "Bench"}))
        .send()
        .await?;
    if !signup.status().is_success() {
        bail!("sign-up: {}", signup.status());
    }
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
    let created = http
        .post(format!("{base}/v1/endpoints"))
        .header("cookie", &cookie)
        .json(&json!({
            "name": "service 00000",
            "check": {"type": "http", "url": "http://127.0.0.1:9/t/0?run=bench"},
            "regions": [REGION],
            "confirm_regions": 1,
        }))
        .send()
        .await?;
    if created.status().as_u16() != 201 {
        bail!("endpoint: {} {}", created.status(), created.text().await?);
    }
    let body: Value = created.json().await?;
    let first =
        EndpointId::parse(body["id"].as_str().context("id")?).map_err(anyhow::Error::msg)?;
    let org =
        OrgId::parse(body["org_id"].as_str().context("org_id")?).map_err(anyhow::Error::msg)?;
    let template = state
        .store
        .endpoint(&org, &first)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?
        .context("the endpoint just created")?;
    let t0 = Instant::now();
    let mut ids = vec![first];
    for i in 1..args.endpoints {
        let mut e = template.clone();
        e.id = EndpointId::parse(format!("ep_bench{i:014}")).map_err(anyhow::Error::msg)?;
        e.name = format!("service {i:05}");
        if let scoville_core::CheckSpec::Http(h) = &mut e.check {
            h.url = scoville_core::check_spec::HttpUrl::parse(&format!(
                "http://127.0.0.1:9/t/{i}?run=bench"
            ))
            .map_err(anyhow::Error::msg)?;
        }
        state
            .store
            .put_endpoint(&e, false)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        ids.push(e.id);
    }
    println!(
        "{} endpoints created in {:.1} s",
        ids.len(),
        t0.elapsed().as_secs_f64()
    );

    // The probe rounds, and an open incident for each failing endpoint.
    let t0 = Instant::now();
    let now = now_ms();
    let last = now - now % MINUTE;
    let mut batch = Vec::new();
    for round in (0..args.rounds).rev() {
        let at = last - round * MINUTE;
        for (i, id) in ids.iter().enumerate() {
            batch.push(result(&org, id, at + (i % 1_000) as i64, failing(i)));
            if batch.len() >= 20_000 {
                writer.write(&batch).await?;
                batch.clear();
            }
        }
    }
    writer.write(&batch).await?;
    writer
        .rollup_minutes(last - args.rounds * MINUTE, now + MINUTE)
        .await?;
    writer
        .rollup_hours(last - args.rounds * MINUTE, now + MINUTE)
        .await?;
    let mut open = 0;
    for (i, id) in ids.iter().enumerate() {
        if failing(i) {
            scoville_bench::log_open_incident(
                incidents.as_ref(),
                &org,
                id,
                REGION,
                last - 2 * MINUTE,
                "status: 500",
            )
            .await?;
            open += 1;
        }
    }
    println!(
        "{} results in {} rounds and {open} open incidents written in {:.1} s",
        ids.len() * args.rounds as usize,
        args.rounds,
        t0.elapsed().as_secs_f64()
    );

    // A writer beside the reads, as the receiver's worker during a probe round.
    let busy = (args.writes_per_s > 0).then(|| {
        let (writer, org, ids) = (writer.clone(), org.clone(), ids.clone());
        let per_batch = (args.writes_per_s / 10).max(1);
        tokio::spawn(async move {
            let mut next = 0usize;
            loop {
                let at = now_ms();
                let batch: Vec<CheckResult> = (0..per_batch)
                    .map(|k| {
                        let i = (next + k) % ids.len();
                        result(&org, &ids[i], at, failing(i))
                    })
                    .collect();
                next += per_batch;
                if writer.write(&batch).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    });

    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;
    let mut route = Vec::new();
    let mut hub = Vec::new();
    let mut generation = Vec::new();
    let mut list = Vec::new();
    let mut open_read = Vec::new();
    let mut latest = Vec::new();
    let mut snap = Vec::new();
    let mut json_ms = Vec::new();
    let mut body_len = 0;
    for k in 0..=args.reads {
        // The route, over HTTP.
        let t = Instant::now();
        let r = http
            .get(format!("{base}/v1/events?once=true"))
            .header("cookie", &cookie)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("events: {}", r.status());
        }
        let body = r.bytes().await?;
        let route_ms = ms(t);
        body_len = body.len();

        // Its parts.
        let t = Instant::now();
        let _ = state
            .live
            .snapshot(&state, &org, Duration::ZERO)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let hub_ms = ms(t);
        let t = Instant::now();
        let _ = state
            .store
            .generation()
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let generation_ms = ms(t);
        let t = Instant::now();
        let endpoints = state
            .store
            .endpoints(&org)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let list_ms = ms(t);
        let t = Instant::now();
        let query = IncidentQuery {
            open: Some(true),
            limit: 1_000,
            ..IncidentQuery::default()
        };
        let found = incidents
            .incidents(&org, &query)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let open_ms = ms(t);
        let since = now_ms() - 3 * 60_000;
        let asks: Vec<(EndpointId, i64)> =
            endpoints.iter().map(|e| (e.id.clone(), since)).collect();
        let t = Instant::now();
        let rows = history.latest_many(&org, &asks).await?;
        let latest_ms = ms(t);
        let t = Instant::now();
        let s = snapshot(&state, &org)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let snap_ms = ms(t);
        let t = Instant::now();
        let event = StatusEvent {
            at_ms: now_ms(),
            endpoints: s.values().cloned().collect(),
            removed: Vec::new(),
        };
        let encoded = serde_json::to_vec(&event)?;
        let json = ms(t);
        if k == 0 {
            // The first read warms the caches; check the answer's shape once.
            let down = s
                .values()
                .filter(|l| format!("{:?}", l.status) == "Down")
                .count();
            println!(
                "warm-up: route {route_ms:.1} ms; {} endpoints, {} down, {} open incidents, {} with results, {} bytes of JSON ({} over HTTP)",
                s.len(),
                down,
                found.len(),
                rows.iter().filter(|r| !r.is_empty()).count(),
                encoded.len(),
                body_len
            );
            if s.len() != ids.len() || down != open {
                bail!("the snapshot is not what was written");
            }
            continue;
        }
        route.push(route_ms);
        hub.push(hub_ms);
        generation.push(generation_ms);
        list.push(list_ms);
        open_read.push(open_ms);
        latest.push(latest_ms);
        snap.push(snap_ms);
        json_ms.push(json);
    }
    if let Some(b) = busy {
        b.abort();
    }
    println!(
        "{} endpoints, {} rounds, {} writes/s, {} reads, body {body_len} bytes:",
        ids.len(),
        args.rounds,
        args.writes_per_s,
        args.reads
    );
    for (name, v) in [
        ("GET /v1/events?once=true (HTTP)", &mut route),
        ("  its snapshot (LiveHub, list kept)", &mut hub),
        ("    store generation", &mut generation),
        ("    open incidents (log)", &mut open_read),
        ("    latest results (latest_many)", &mut latest),
        ("  snapshot to JSON", &mut json_ms),
        ("after an endpoint write: endpoint list", &mut list),
        ("  snapshot with it (events::snapshot)", &mut snap),
    ] {
        println!(
            "{name:40} median {:7.1} ms  max {:7.1} ms",
            quantile(v, 0.5),
            quantile(v, 1.0)
        );
    }
    Ok(())
}

fn result(org: &OrgId, id: &EndpointId, at: i64, down: bool) -> CheckResult {
    let total = 20.0 + (at % 97) as f64;
    CheckResult {
        endpoint_id: id.clone(),
        org_id: org.clone(),
        region: Region::parse(REGION).expect("a region"),
        run_id: RunId::parse(format!("run-{}", at / MINUTE)).expect("a run id"),
        scheduled_at_ms: at - at % MINUTE,
        started_at_ms: at,
        apdex_t_ms: Some(200),
        mean_limit_ms: None,
        report: CheckReport {
            outcome: if down {
                Outcome::Down(DownReason::Status)
            } else {
                Outcome::Up
            },
            message: if down { "HTTP 500" } else { "HTTP 200" }.into(),
            status: Some(if down { 500 } else { 200 }),
            timings: Timings {
                dns_ms: Some(0.1),
                connect_ms: Some(0.2),
                tls_ms: None,
                ttfb_ms: Some(total * 0.9),
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
