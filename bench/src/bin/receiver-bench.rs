//! `receiver-bench`: the receiver's ingest rate and answer times, and the worker's drain
//! rate into InfluxDB beside InfluxDB's own write rate for the same lines (the ceiling).
//!
//! Starts its own redis-server and influxd on free ports and the `receiver` binary (build
//! it first: `cargo build --release -p scoville-receiver-service -p scoville-bench`).
//! Everything runs on loopback; loads are bounded in count and time.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Parser;
use futures::StreamExt;
use scoville_bench::procstat::cpu_seconds;
use scoville_bench::{Kill, quantile};

/// Measure the receiver and the worker.
#[derive(Debug, Parser)]
struct Args {
    /// Results per batch.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Seconds of full-speed ingest.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent POSTs at full speed.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Results per second for the answer-time run.
    #[arg(long, default_value_t = 50_000)]
    rate: u64,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn wait_port(port: u16) -> anyhow::Result<()> {
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if t0.elapsed() > Duration::from_secs(20) {
            bail!("nothing listens on {port}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn batch_body(n: usize, seed: usize) -> Bytes {
    let results: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let at = 1_790_000_000_000i64 + (seed * n + i) as i64;
            serde_json::json!({
                "endpoint_id": format!("e{}", i % 10_000), "org_id": "org-1", "region": "eu-west-1", "run_id": "bench",
                "scheduled_at_ms": at, "started_at_ms": at, "apdex_t_ms": 200, "outcome": "up", "reason": null,
                "message": "HTTP 200", "status": 200,
                "timings": {"dns_ms": 1.2, "connect_ms": 0.4, "tls_ms": 3.1, "ttfb_ms": 40.5, "total_ms": 45.25},
                "bytes": 1234, "truncated": false, "cert_expires_at_ms": null, "body_hash": null, "ip": "203.0.113.7", "redirects": 0
            })
        })
        .collect();
    Bytes::from(serde_json::json!({ "results": results }).to_string())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("scoville-receiver-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let exe_dir = std::env::current_exe()?
        .parent()
        .context("no exe dir")?
        .to_path_buf();

    let redis_port = free_port()?;
    let _redis = Kill(
        Command::new("redis-server")
            .args([
                "--port",
                &redis_port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .context("redis-server")?,
    );
    let (influx_port, rpc_port) = (free_port()?, free_port()?);
    let d = dir.display();
    std::fs::write(
        dir.join("influxdb.conf"),
        format!(
            "reporting-enabled = false\nbind-address = \"127.0.0.1:{rpc_port}\"\n[meta]\n  dir = \"{d}/meta\"\n  logging-enabled = false\n\
             [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n[monitor]\n  store-enabled = false\n\
             [http]\n  bind-address = \"127.0.0.1:{influx_port}\"\n  log-enabled = false\n"
        ),
    )?;
    let _influx = Kill(
        Command::new("influxd")
            .arg("-config")
            .arg(dir.join("influxdb.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    wait_port(redis_port)?;
    wait_port(influx_port)?;

    let token = "bench-probe-token";
    let receiver_port = free_port()?;
    let env = |cmd: &mut Command| {
        cmd.env(
            "SCOVILLE_QUEUE__REDIS_URL",
            format!("redis://127.0.0.1:{redis_port}/"),
        )
        .env("SCOVILLE_QUEUE__MAX_BACKLOG", "100000000")
        .env(
            "SCOVILLE_RECEIVER__PROBE_TOKEN_HASHES",
            format!(
                "[\"{}\"]",
                scoville_receiver_service::auth::TokenHash::of(token).to_config_string()
            ),
        )
        .env(
            "SCOVILLE_RECEIVER__LISTEN",
            format!("127.0.0.1:{receiver_port}"),
        )
        .env(
            "SCOVILLE_INFLUX__URL",
            format!("http://127.0.0.1:{influx_port}"),
        )
        .env("SCOVILLE_LOG__LEVEL", "warn");
    };
    let mut cmd = Command::new(exe_dir.join("receiver"));
    env(&mut cmd);
    let receiver = Kill(
        cmd.stdout(Stdio::null())
            .spawn()
            .context("the receiver binary (build it first)")?,
    );
    wait_port(receiver_port)?;
    let url = format!("http://127.0.0.1:{receiver_port}/v1/results");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .build()?;
    let bodies: Vec<Bytes> = (0..64).map(|s| batch_body(args.batch, s)).collect();

    // 1. Full speed.
    let cpu0 = cpu_seconds(receiver.0.id()).unwrap_or(0.0);
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(args.seconds);
    let sent: Vec<(bool, f64)> = futures::stream::iter(0..usize::MAX)
        .take_while(|_| futures::future::ready(Instant::now() < deadline))
        .map(|i| {
            post(
                client.clone(),
                url.clone(),
                token,
                bodies[i % bodies.len()].clone(),
            )
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let wall = t0.elapsed().as_secs_f64();
    let receiver_cpu = cpu_seconds(receiver.0.id()).unwrap_or(0.0) - cpu0;
    let accepted = sent.iter().filter(|s| s.0).count();
    let full_rate = (accepted * args.batch) as f64 / wall;
    let mut lat: Vec<f64> = sent.iter().map(|s| s.1).collect();
    println!(
        "ingest at full speed: {:.0} results/s ({accepted} batches of {} in {wall:.1} s, {} concurrent), answer p50 {:.1} ms p99 {:.1} ms, receiver CPU {:.2} s",
        full_rate,
        args.batch,
        args.concurrency,
        quantile(&mut lat, 0.5),
        quantile(&mut lat, 0.99),
        receiver_cpu
    );

    // 2. A fixed rate.
    let per_sec = (args.rate as usize / args.batch).max(1);
    let interval = Duration::from_secs_f64(1.0 / per_sec as f64);
    let n = per_sec * args.seconds as usize;
    let start = tokio::time::Instant::now();
    let paced: Vec<(bool, f64)> = futures::stream::iter(0..n)
        .then(|i| async move {
            tokio::time::sleep_until(start + interval * i as u32).await;
            i
        })
        .map(|i| {
            post(
                client.clone(),
                url.clone(),
                token,
                bodies[i % bodies.len()].clone(),
            )
        })
        .buffer_unordered(256)
        .collect()
        .await;
    let mut lat: Vec<f64> = paced.iter().map(|s| s.1).collect();
    println!(
        "ingest at {} results/s: {} of {n} batches accepted, answer p50 {:.2} ms p99 {:.2} ms",
        per_sec * args.batch,
        paced.iter().filter(|s| s.0).count(),
        quantile(&mut lat, 0.5),
        quantile(&mut lat, 0.99)
    );
    drop(receiver);

    // 3. Drain: the worker empties the backlog into InfluxDB.
    let queued = ((accepted + paced.iter().filter(|s| s.0).count()) * args.batch) as f64;
    let redis_client = redis::Client::open(format!("redis://127.0.0.1:{redis_port}/"))?;
    let mut conn = redis_client.get_multiplexed_async_connection().await?;
    let mut cmd = Command::new(exe_dir.join("receiver"));
    env(&mut cmd);
    cmd.env("SCOVILLE_WORKER__BATCH_ENTRIES", "50");
    let t0 = Instant::now();
    let worker = Kill(cmd.arg("worker").stdout(Stdio::null()).spawn()?);
    loop {
        let backlog: Option<u64> = redis::cmd("GET")
            .arg("scoville:results:backlog")
            .query_async(&mut conn)
            .await?;
        if backlog.unwrap_or(0) == 0 {
            break;
        }
        if t0.elapsed() > Duration::from_secs(600) {
            bail!("the drain did not finish in 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let drain_wall = t0.elapsed().as_secs_f64();
    let worker_cpu = cpu_seconds(worker.0.id()).unwrap_or(0.0);
    drop(worker);
    println!(
        "worker drain into InfluxDB: {:.0} results/s ({queued} results in {drain_wall:.1} s, worker CPU {worker_cpu:.2} s)",
        queued / drain_wall
    );

    // 4. The ceiling: InfluxDB's own write rate for the same lines, same body size.
    let lines_per_post = 50 * args.batch;
    let results: Vec<scoville_core::CheckResult> =
        scoville_core::parse::from_json::<scoville_core::wire::ResultBatch>(&bodies[0])
            .map_err(anyhow::Error::msg)?
            .results;
    let mut bodies_lp = Vec::new();
    for post in 0..(queued as usize / lines_per_post).max(1) {
        let mut lp = String::new();
        for i in 0..lines_per_post {
            let mut r = results[i % results.len()].clone();
            r.started_at_ms = 1_800_000_000_000 + (post * lines_per_post + i) as i64;
            scoville_receiver_service::store::line_protocol::encode(&r, &mut lp);
        }
        bodies_lp.push(lp);
    }
    let write_url = format!("http://127.0.0.1:{influx_port}/write?db=scoville&precision=ms");
    // As many writers as the worker has lanes (its default, 2).
    let writers = scoville_receiver_service::Config::default().worker.lanes;
    let t0 = Instant::now();
    let statuses: Vec<u16> = futures::stream::iter(bodies_lp)
        .map(|body| {
            let (client, url) = (client.clone(), write_url.clone());
            async move {
                client
                    .post(url)
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }
        })
        .buffer_unordered(writers)
        .collect()
        .await;
    if let Some(bad) = statuses.iter().find(|s| **s != 204) {
        bail!("InfluxDB answered {bad}");
    }
    let written = statuses.len() * lines_per_post;
    let ceiling = written as f64 / t0.elapsed().as_secs_f64();
    println!(
        "InfluxDB's own write rate for the same lines ({lines_per_post} per POST, {writers} writers): {ceiling:.0} lines/s; worker / ceiling = {:.2}",
        queued / drain_wall / ceiling
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Posts one batch; returns whether it was queued and how long the answer took, in ms.
async fn post(client: reqwest::Client, url: String, token: &str, body: Bytes) -> (bool, f64) {
    let t = Instant::now();
    let ok = client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map(|r| r.status() == 201)
        .unwrap_or(false);
    (ok, t.elapsed().as_secs_f64() * 1000.0)
}
