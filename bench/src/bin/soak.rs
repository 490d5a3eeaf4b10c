//! `soak`: 10,000 endpoints for 10 minutes through the whole local pipeline (issue 10):
//! `scoville up` as its own process (admin API, probe loop, receiver, worker, failure
//! service, notifier, one SQLite file) checking targets on the target farm (this
//! process: a mix of fast, slow, failing and hanging targets).
//!
//! - **Nothing lost**: when the time is up, `scoville up` is stopped with SIGTERM (it
//!   finishes the round in flight and stores what its queue holds); every probe round
//!   that started after the endpoints were created, the last one included, must have
//!   stored exactly one result per endpoint (the ones created here and the first start's
//!   sample endpoint), counted in the SQLite file; the farm's count of requests is
//!   printed beside them.
//! - **Memory flat**: the resident set of the `scoville` process (`VmRSS`), sampled every
//!   10 s.
//! - **Answer times stable**: every 10 s, three API reads timed: the endpoint list (all of
//!   them), one endpoint's history (`step=1m`) and every endpoint's live status
//!   (`/v1/events?once=true`); medians of the first and last thirds compared.
//!
//! Build with `cargo build --release -p scoville -p scoville-bench --bin soak` and run
//! `$CARGO_TARGET_DIR/release/soak --scoville $CARGO_TARGET_DIR/release/scoville`.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures::StreamExt;
use scoville_bench::quantile;
use scoville_target_farm::{Farm, FarmConfig};
use serde_json::{Value, json};

/// Soak the local pipeline.
#[derive(Debug, Parser)]
struct Args {
    /// The `scoville` binary.
    #[arg(long)]
    scoville: PathBuf,
    /// Endpoints checked every minute.
    #[arg(long, default_value_t = 10_000)]
    endpoints: u64,
    /// How long to run after the endpoints are created.
    #[arg(long, default_value_t = 10)]
    minutes: u64,
    /// Seconds between samples.
    #[arg(long, default_value_t = 10)]
    sample_s: u64,
}

/// One sample: seconds since the start, RSS in MiB, three answer times in ms.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at_s: f64,
    rss_mib: f64,
    list_ms: f64,
    history_ms: f64,
    status_ms: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    rlimit::increase_nofile_limit(65_536).ok();
    let dir = std::env::temp_dir().join(format!("scoville-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run(&args, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(args: &Args, dir: &std::path::Path) -> anyhow::Result<()> {
    let farm = Farm::start(
        FarmConfig {
            endpoints: args.endpoints,
            ..FarmConfig::default()
        },
        "127.0.0.1:0".parse()?,
    )
    .await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(&args.scoville)
        .args([
            "up",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log",
            "warn",
        ])
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", args.scoville.display()))?;
    let pid = child.id();
    let stdout = child.stdout.take().context("stdout")?;
    let key = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let key = lines.by_ref().map_while(Result::ok).find_map(|l| {
            l.strip_prefix("API key (read-write, shown once): ")
                .map(str::to_string)
        });
        // Keep reading so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        key
    })
    .await?
    .context("scoville up printed no API key")?;
    let started = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(16)
        .build()?;
    let auth = format!("Bearer {key}");

    // The endpoints already there (the first start's sample endpoint) are checked too.
    let before: Value = http
        .get(format!("{base}/v1/endpoints"))
        .header("authorization", &auth)
        .send()
        .await?
        .json()
        .await?;
    let existing = before.as_array().map_or(0, Vec::len);

    // The endpoints, 8 creations at a time.
    let t0 = Instant::now();
    let ids: Vec<String> = futures::stream::iter(0..args.endpoints)
        .map(|i| {
            let (http, auth, url) = (http.clone(), auth.clone(), farm.target_url(i, "soak"));
            let base = base.clone();
            async move {
                let r = http
                    .post(format!("{base}/v1/endpoints"))
                    .header("authorization", auth)
                    .json(&json!({
                        "name": format!("soak {i:05}"),
                        "check": {"type": "http", "url": url},
                        "regions": ["local"],
                        "confirm_regions": 1,
                    }))
                    .send()
                    .await?;
                if r.status().as_u16() != 201 {
                    bail!("creating endpoint {i}: {} {}", r.status(), r.text().await?);
                }
                let v: Value = r.json().await?;
                Ok::<_, anyhow::Error>(v["id"].as_str().context("id")?.to_string())
            }
        })
        .buffered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let created_ms = now_ms();
    println!(
        "{} endpoints created in {:.1} s",
        ids.len(),
        t0.elapsed().as_secs_f64()
    );

    // Sample until the time is up.
    let probe_id = ids[ids.len() / 2].clone();
    let end = Instant::now() + Duration::from_secs(args.minutes * 60);
    let mut samples = Vec::new();
    while Instant::now() < end {
        let timed = |path: String| {
            let (http, auth, base) = (http.clone(), auth.clone(), base.clone());
            async move {
                let t = Instant::now();
                let r = http
                    .get(format!("{base}{path}"))
                    .header("authorization", auth)
                    .send()
                    .await?;
                let status = r.status();
                let body = r.bytes().await?;
                if !status.is_success() {
                    bail!("{path}: {status}");
                }
                let _ = body.len();
                Ok::<_, anyhow::Error>(t.elapsed().as_secs_f64() * 1000.0)
            }
        };
        let sample = Sample {
            at_s: started.elapsed().as_secs_f64(),
            rss_mib: rss_mib(pid)?,
            list_ms: timed("/v1/endpoints".into()).await?,
            history_ms: timed(format!("/v1/endpoints/{probe_id}/history?step=1m")).await?,
            status_ms: timed("/v1/events?once=true".into()).await?,
        };
        println!(
            "{:6.0} s  rss {:7.1} MiB  list {:6.1} ms  history {:6.1} ms  status(all) {:7.1} ms",
            sample.at_s, sample.rss_mib, sample.list_ms, sample.history_ms, sample.status_ms
        );
        samples.push(sample);
        tokio::time::sleep(Duration::from_secs(args.sample_s)).await;
    }

    // Stop cleanly: `scoville up` finishes the round in flight, then drains its queue.
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let exit = tokio::task::spawn_blocking(move || child.wait()).await??;
    println!("scoville up stopped: {exit}");

    // Count what was stored.
    let db = rusqlite::Connection::open(dir.join("scoville.db"))?;
    let mut stmt = db.prepare(
        "SELECT run_id, COUNT(*), COUNT(DISTINCT endpoint_id), MIN(started_at_ms) \
         FROM check_result GROUP BY run_id ORDER BY MIN(started_at_ms)",
    )?;
    let runs: Vec<(String, i64, i64, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let n = i64::try_from(ids.len() + existing)?;
    let mut complete = 0;
    let mut bad = Vec::new();
    for (run, rows, distinct, first) in &runs {
        if *first < created_ms {
            continue;
        }
        if *rows == n && *distinct == n {
            complete += 1;
        } else {
            bad.push(format!("{run}: {rows} rows, {distinct} endpoints"));
        }
    }
    let stored: i64 = runs.iter().map(|r| r.1).sum();
    println!(
        "rounds after creation: {} complete ({} results each), {} incomplete {:?}; {} results stored in all; the farm answered {} target requests",
        complete,
        n,
        bad.len(),
        bad,
        stored,
        farm.holds("soak").len()
    );

    summarize(&samples);
    if !bad.is_empty() || complete == 0 {
        bail!("results were lost");
    }
    Ok(())
}

fn summarize(samples: &[Sample]) {
    if samples.len() < 3 {
        return;
    }
    let third = samples.len() / 3;
    let (first, last) = (&samples[..third], &samples[samples.len() - third..]);
    let med = |s: &[Sample], f: fn(&Sample) -> f64| {
        let mut v: Vec<f64> = s.iter().map(f).collect();
        quantile(&mut v, 0.5)
    };
    let max = |f: fn(&Sample) -> f64| samples.iter().map(f).fold(0.0, f64::max);
    println!(
        "rss MiB: first third median {:.1}, last third median {:.1}, max {:.1}",
        med(first, |s| s.rss_mib),
        med(last, |s| s.rss_mib),
        max(|s| s.rss_mib)
    );
    for (name, f) in [
        ("list", (|s: &Sample| s.list_ms) as fn(&Sample) -> f64),
        ("history", |s: &Sample| s.history_ms),
        ("status(all)", |s: &Sample| s.status_ms),
    ] {
        println!(
            "{name} ms: first third median {:.1}, last third median {:.1}, max {:.1}",
            med(first, f),
            med(last, f),
            max(f)
        );
    }
}

fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .context("VmRSS")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kb / 1024.0)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
