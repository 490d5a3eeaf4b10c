//! `history-bench`: how fast the history API reads 30 days at 1-hour steps of one
//! endpoint checked every minute from 3 regions, on InfluxDB and on the embedded SQLite
//! store.
//!
//! Generates the results (log-normal latencies per region, a few failures and outliers),
//! plus noise endpoints of the same and another org, writes them through the receiver's
//! own writers (`InfluxStore`, `SqliteStore`) in batches and runs the receiver's minute
//! and hour rollups day by day, as the worker would; then times `--queries` history
//! queries (the store's read, the merge into steps and summary, and the JSON rendering:
//! everything the endpoint does but HTTP) on each store, one at a time.
//!
//! Starts its own influxd on free ports unless `--influx-url` is given (then it writes
//! into the database `scoville_history_bench` there). Build with
//! `cargo build --release -p scoville-bench --bin history-bench`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Parser;
use scoville_admin_api::history::influx::{InfluxHistory, InfluxHistorySettings};
use scoville_admin_api::history::sqlite::SqliteHistory;
use scoville_admin_api::history::{HistoryQuery, HistoryStore, StepSize, render};
use scoville_bench::quantile;
use scoville_core::{
    CheckReport, CheckResult, DownReason, EndpointId, OrgId, Outcome, Region, RunId, Timings,
};
use scoville_receiver_service::store::ResultStore;
use scoville_receiver_service::store::influx::{InfluxAuth, InfluxSettings, InfluxStore};
use scoville_receiver_service::store::sqlite::SqliteStore;

/// Time the history API on InfluxDB and SQLite.
#[derive(Debug, Parser)]
struct Args {
    /// Days of history generated and queried.
    #[arg(long, default_value_t = 30)]
    days: i64,
    /// Noise endpoints (half of them another org's), each in every region.
    #[arg(long, default_value_t = 2)]
    noise: usize,
    /// Timed queries per store.
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Untimed queries first, per store.
    #[arg(long, default_value_t = 10)]
    warmup: usize,
    /// An InfluxDB to use instead of starting one (writes into `scoville_history_bench`).
    #[arg(long)]
    influx_url: Option<String>,
    /// Where to put the SQLite file (default: a temporary directory).
    #[arg(long)]
    sqlite: Option<PathBuf>,
}

const REGIONS: [(&str, f64); 3] = [
    ("eu-west-1", 40.0),
    ("us-east-1", 90.0),
    ("ap-southeast-2", 220.0),
];
const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;
/// The data ends at 2026-01-01T00:00:00Z.
const END: i64 = 1_767_225_600_000;
const BATCH: usize = 5_000;

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (1.0 - self.unit(), self.unit());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

fn result(
    rng: &mut Rng,
    org: &OrgId,
    endpoint: &EndpointId,
    region: &Region,
    base: f64,
    at: i64,
) -> CheckResult {
    let mut total = (base * (0.35 * rng.normal()).exp() * 1000.0).round() / 1000.0;
    if rng.unit() < 0.02 {
        total *= 4.0;
    }
    let down = rng.unit() < 0.01;
    let report = if down {
        CheckReport::down(DownReason::Timeout, "no answer within 10000 ms", 10_000.0)
    } else {
        CheckReport {
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
        }
    };
    CheckResult {
        endpoint_id: endpoint.clone(),
        org_id: org.clone(),
        region: region.clone(),
        run_id: RunId::parse(format!("run-{}", at / MINUTE)).expect("a valid run id"),
        scheduled_at_ms: at - at % MINUTE,
        started_at_ms: at,
        apdex_t_ms: Some(200),
        mean_limit_ms: None,
        report,
    }
}

async fn wait_ping(url: &str) -> anyhow::Result<String> {
    let t0 = Instant::now();
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(format!("{url}/ping")).send().await {
            if r.status().as_u16() == 204 {
                let version = r
                    .headers()
                    .get("x-influxdb-version")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("?")
                    .to_string();
                return Ok(version);
            }
        }
        if t0.elapsed() > Duration::from_secs(20) {
            bail!("InfluxDB at {url} did not answer /ping");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes one day at a time to both stores and rolls it up; returns the seconds spent
/// on each store (writes, rollups).
async fn fill(
    args: &Args,
    stores: &[(&str, &dyn ResultStore)],
    org: &OrgId,
    endpoint: &EndpointId,
) -> anyhow::Result<(usize, Vec<(f64, f64)>)> {
    let other_org = OrgId::parse("bench-other-org").map_err(anyhow::Error::msg)?;
    let noise: Vec<(OrgId, EndpointId)> = (0..args.noise)
        .map(|i| {
            let o = if i % 2 == 0 {
                org.clone()
            } else {
                other_org.clone()
            };
            (
                o,
                EndpointId::parse(format!("noise-{i}")).expect("a valid endpoint id"),
            )
        })
        .collect();
    let regions: Vec<(Region, f64)> = REGIONS
        .iter()
        .map(|(r, b)| (Region::parse(*r).expect("a valid region"), *b))
        .collect();
    let mut rng = Rng(42);
    let mut spent = vec![(0.0, 0.0); stores.len()];
    let mut total = 0;
    let start = END - args.days * DAY;
    for day in 0..args.days {
        let from = start + day * DAY;
        let mut results = Vec::with_capacity(1440 * REGIONS.len() * (1 + args.noise));
        for m in 0..1440 {
            for (i, (region, base)) in regions.iter().enumerate() {
                let at = from + m * MINUTE + 1_000 * i as i64 + 250;
                results.push(result(&mut rng, org, endpoint, region, *base, at));
                for (j, (o, e)) in noise.iter().enumerate() {
                    results.push(result(&mut rng, o, e, region, 150.0, at + 7 + j as i64));
                }
            }
        }
        total += results.len();
        for (k, (name, store)) in stores.iter().enumerate() {
            let t = Instant::now();
            for chunk in results.chunks(BATCH) {
                store
                    .write(chunk)
                    .await
                    .map_err(|e| anyhow::anyhow!("{name} write: {e}"))?;
            }
            spent[k].0 += t.elapsed().as_secs_f64();
            let t = Instant::now();
            store
                .rollup_minutes(from, from + DAY)
                .await
                .map_err(|e| anyhow::anyhow!("{name} minute rollups: {e}"))?;
            store
                .rollup_hours(from, from + DAY)
                .await
                .map_err(|e| anyhow::anyhow!("{name} hour rollups: {e}"))?;
            spent[k].1 += t.elapsed().as_secs_f64();
        }
    }
    Ok((total, spent))
}

/// Times `n` queries; returns their durations in ms.
async fn time_queries(
    store: &dyn HistoryStore,
    org: &OrgId,
    endpoint: &EndpointId,
    q: &HistoryQuery,
    warmup: usize,
    n: usize,
    expect_count: u64,
) -> anyhow::Result<Vec<f64>> {
    for _ in 0..warmup {
        let h = store.history(org, endpoint, q).await?;
        if h.summary.count != expect_count {
            bail!(
                "{} checks in the answer, {expect_count} expected",
                h.summary.count
            );
        }
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let h = store.history(org, endpoint, q).await?;
        let body = render::history_json(&h);
        std::hint::black_box(body);
        out.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(out)
}

/// Times InfluxDB answering the same InfluxQL the reader sends for `q` (all regions).
async fn influx_alone(
    url: &str,
    database: &str,
    org: &OrgId,
    endpoint: &EndpointId,
    q: &HistoryQuery,
    warmup: usize,
    n: usize,
) -> anyhow::Result<Vec<f64>> {
    let client = reqwest::Client::new();
    let sql = format!(
        "SELECT \"count\", \"up\", \"satisfied\", \"tolerating\", \"frustrated\", \"p50\", \"p95\", \"p99\", \"mean\" \
         FROM \"{database}\"..\"rollup_1h\" WHERE \"org_id\" = $org AND \"endpoint_id\" = $endpoint \
         AND time >= $from AND time < $to GROUP BY \"region\""
    );
    let params = serde_json::json!({
        "org": org.as_str(), "endpoint": endpoint.as_str(),
        "from": q.from_ms * 1_000_000, "to": q.to_ms * 1_000_000,
    })
    .to_string();
    let form = [
        ("db", database),
        ("q", sql.as_str()),
        ("params", params.as_str()),
        ("epoch", "ms"),
    ];
    let mut out = Vec::with_capacity(n);
    for i in 0..warmup + n {
        let t = Instant::now();
        let body = client
            .post(format!("{url}/query"))
            .form(&form)
            .send()
            .await?
            .bytes()
            .await?;
        if i == 0 && !body.starts_with(b"{\"results\":[{\"statement_id\":0,\"series\"") {
            bail!(
                "InfluxDB answered {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            );
        }
        if i >= warmup {
            out.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok(out)
}

fn line(name: &str, v: &mut [f64]) -> String {
    format!(
        "{name:<36}{:>9.2}{:>9.2}{:>9.2}{:>9.2}",
        quantile(v, 0.50),
        quantile(v, 0.95),
        quantile(v, 0.99),
        quantile(v, 1.0)
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.days < 1 || args.days > 400 {
        bail!("--days must be between 1 and 400");
    }
    let dir = std::env::temp_dir().join(format!("scoville-history-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let _cleanup = Cleanup(dir.clone());

    let mut _influxd = None;
    let influx_url = match &args.influx_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let server = scoville_tests::influx::InfluxServer::start();
            let url = server.url();
            _influxd = Some(server);
            url
        }
    };
    let version = wait_ping(&influx_url).await?;
    let database = "scoville_history_bench";
    let influx = InfluxStore::new(InfluxSettings {
        url: influx_url.clone(),
        database: database.into(),
        retention_policy: None,
        auth: InfluxAuth::None,
        timeout: Duration::from_secs(120),
    })
    .map_err(anyhow::Error::msg)?;
    influx.ensure_database().await?;
    let sqlite_path = args
        .sqlite
        .clone()
        .unwrap_or_else(|| dir.join("scoville.db"));
    let sqlite = SqliteStore::open(&sqlite_path)?;

    let org = OrgId::parse("bench-org").map_err(anyhow::Error::msg)?;
    let endpoint = EndpointId::parse("bench-endpoint").map_err(anyhow::Error::msg)?;
    println!(
        "history-bench: {} days x {} regions x 1 check a minute for one endpoint, plus {} noise endpoints; InfluxDB {version}",
        args.days,
        REGIONS.len(),
        args.noise,
    );
    let t = Instant::now();
    let (written, spent) = fill(
        &args,
        &[
            ("InfluxDB", &influx as &dyn ResultStore),
            ("SQLite", &sqlite as &dyn ResultStore),
        ],
        &org,
        &endpoint,
    )
    .await?;
    println!(
        "generated and stored {written} results per store in {:.1} s: InfluxDB writes {:.1} s + rollups {:.1} s; SQLite writes {:.1} s + rollups {:.1} s",
        t.elapsed().as_secs_f64(),
        spent[0].0,
        spent[0].1,
        spent[1].0,
        spent[1].1
    );

    let influx_reader =
        InfluxHistory::new(InfluxHistorySettings::new(influx_url.clone(), database))
            .map_err(anyhow::Error::msg)?;
    let sqlite_reader = SqliteHistory::open(&sqlite_path)?;
    let all = HistoryQuery::new(END - args.days * DAY, END, Some(StepSize::HOUR), None)?;
    let one = HistoryQuery::new(
        END - args.days * DAY,
        END,
        Some(StepSize::HOUR),
        Some(Region::parse("eu-west-1").map_err(anyhow::Error::msg)?),
    )?;
    let checks = (args.days * 1440) as u64;
    let hours = args.days * 24;
    println!(
        "\n{} queries per store, one at a time, after {} warm-up ones; each: {} days at 1 h steps ({hours} steps), read + merge + JSON",
        args.queries, args.warmup, args.days
    );
    println!(
        "{:<36}{:>9}{:>9}{:>9}{:>9}",
        "ms", "p50", "p95", "p99", "max"
    );
    let mut figures = Vec::new();
    for (label, q, expect, rows) in [
        ("all regions", &all, checks * 3, hours * 3),
        ("one region", &one, checks, hours),
    ] {
        for (name, store) in [
            ("InfluxDB", &influx_reader as &dyn HistoryStore),
            ("SQLite", &sqlite_reader as &dyn HistoryStore),
        ] {
            let mut v =
                time_queries(store, &org, &endpoint, q, args.warmup, args.queries, expect).await?;
            println!(
                "{}",
                line(&format!("{name}, {label} ({rows} rows)"), &mut v)
            );
            figures.push((name, label, quantile(&mut v, 0.95)));
        }
    }
    // The floor: InfluxDB's own answer to the reader's query (all regions), the body
    // read but not parsed.
    let mut v = influx_alone(
        &influx_url,
        database,
        &org,
        &endpoint,
        &all,
        args.warmup,
        args.queries,
    )
    .await?;
    println!("{}", line("InfluxDB alone, all regions", &mut v));
    let sample = sqlite_reader.history(&org, &endpoint, &all).await?;
    println!(
        "\nanswer: {} steps, summary count {} up {} uptime {:.5} apdex {:.4} p50 {:?} p95 {:?} p99 {:?} mean {:?} ms; JSON {} bytes",
        sample.steps.len(),
        sample.summary.count,
        sample.summary.up,
        sample.summary.uptime.unwrap_or(f64::NAN),
        sample.summary.apdex.unwrap_or(f64::NAN),
        sample.summary.p50_ms,
        sample.summary.p95_ms,
        sample.summary.p99_ms,
        sample.summary.mean_ms,
        render::history_json(&sample).body.len()
    );
    for (name, label, p95) in figures {
        let target = if name == "InfluxDB" { 100.0 } else { 20.0 };
        println!(
            "target {name} {label}: p95 {p95:.2} ms <= {target} ms: {}",
            if p95 <= target { "met" } else { "NOT met" }
        );
    }
    Ok(())
}

/// Removes the temporary directory at the end.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
