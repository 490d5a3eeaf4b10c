//! The benchmark's three roles: the orchestrator, the farm process and the Scoville
//! probe process.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use scoville_core::wire::{ProbeScope, Shard};
use scoville_core::{EndpointId, Region};
use scoville_probe::{Config, Probe};
use scoville_target_farm::{Farm, FarmConfig, HoldRecord, SinkSnapshot};
use serde::{Deserialize, Serialize};

use scoville_bench::procstat::{cpu_seconds, peak_rss_kib};
use scoville_bench::{Kill, quantile};

/// Benchmark options.
#[derive(Debug, clap::Args)]
pub(crate) struct Options {
    /// Targets checked once by each party.
    #[arg(long, default_value_t = 10_000)]
    endpoints: u64,
    /// Checks in flight at once (sockets open).
    #[arg(long, default_value_t = 1000)]
    concurrency: usize,
    /// Check timeout in ms.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// Start times are spread over this many ms, as the probe spreads them over part of
    /// its interval in production; the blackbox driver uses the same offsets.
    #[arg(long, default_value_t = 500)]
    spread_ms: u64,
    /// Only measure Scoville.
    #[arg(long)]
    skip_blackbox: bool,
    /// The blackbox_exporter binary.
    #[arg(long, default_value = "prometheus-blackbox-exporter")]
    blackbox_bin: String,
    /// Also write the figures to this JSON file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

/// `probe-bench farm`.
#[derive(Debug, clap::Args)]
pub(crate) struct FarmArgs {
    #[arg(long)]
    endpoints: u64,
    #[arg(long)]
    timeout_ms: u64,
}

/// `probe-bench scoville`.
#[derive(Debug, clap::Args)]
pub(crate) struct ScovilleArgs {
    #[arg(long)]
    farm: String,
    #[arg(long, default_value_t = 0)]
    spread_ms: u64,
    #[arg(long)]
    concurrency: usize,
}

/// One party's figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Figures {
    wall_s: f64,
    cpu_s: f64,
    peak_rss_kib: u64,
    checks: u64,
    up: u64,
    down: u64,
    /// |reported total - farm hold| quantiles over answered checks, ms.
    error_p50_ms: f64,
    error_p99_ms: f64,
    /// Reported totals of targets the farm held 40-60 ms: median, ms.
    median_reported_for_50ms_ms: f64,
    compared: usize,
}

pub(crate) async fn farm(args: FarmArgs) -> anyhow::Result<()> {
    let config = FarmConfig {
        endpoints: args.endpoints,
        timeout_ms: args.timeout_ms,
        hang: Duration::from_secs(60),
        ..FarmConfig::default()
    };
    let farm = Farm::start(config, "127.0.0.1:0".parse()?).await?;
    println!("listening on http://{}", farm.addr);
    // Ends when the orchestrator kills it, or closes stdin.
    tokio::task::spawn_blocking(|| std::io::stdin().lines().count()).await?;
    Ok(())
}

pub(crate) async fn scoville(args: ScovilleArgs) -> anyhow::Result<()> {
    let mut config = Config::default();
    config.endpoints.api_url = Some(args.farm.clone());
    config.receiver.url = Some(args.farm.clone());
    config.failure_service.url = Some(args.farm.clone());
    config.probe.allow_private = true;
    config.probe.max_in_flight = args.concurrency;
    let probe = Probe::from_config(&config, None)?;
    let scope = ProbeScope {
        region: Region::parse("bench").map_err(anyhow::Error::msg)?,
        shard: Shard::whole(),
    };
    let pid = std::process::id();
    let cpu0 = cpu_seconds(pid)?;
    let t0 = Instant::now();
    let summary = probe
        .run_round(&scope, Duration::from_millis(args.spread_ms), None)
        .await?;
    let wall_s = t0.elapsed().as_secs_f64();
    let cpu_s = cpu_seconds(pid)? - cpu0;
    let figures = Figures {
        wall_s,
        cpu_s,
        peak_rss_kib: peak_rss_kib(pid)?,
        checks: summary.endpoints as u64,
        up: summary.by_outcome.get("up").copied().unwrap_or(0) as u64,
        down: summary.by_outcome.get("down").copied().unwrap_or(0) as u64,
        ..Figures::default()
    };
    if summary.delivery.results_delivered != summary.endpoints as u64 {
        bail!(
            "only {} of {} results delivered",
            summary.delivery.results_delivered,
            summary.endpoints
        );
    }
    println!("{}", serde_json::to_string(&figures)?);
    Ok(())
}

pub(crate) async fn raw(args: ScovilleArgs) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr: std::net::SocketAddr = args.farm.trim_start_matches("http://").parse()?;
    let n: u64 = reqwest::get(format!("{}/__count", args.farm))
        .await?
        .text()
        .await?
        .trim()
        .parse()?;
    let window = Duration::from_millis(args.spread_ms);
    let pid = std::process::id();
    let cpu0 = cpu_seconds(pid)?;
    let t0 = Instant::now();
    let up = paced(n, window)
        .map(|i| async move {
            let exchange = async {
                let mut s = tokio::net::TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                let req = format!(
                    "GET /t/{i}?run=raw HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
                );
                s.write_all(req.as_bytes()).await?;
                let mut buf = [0u8; 4096];
                let mut first = Vec::new();
                loop {
                    let k = s.read(&mut buf).await?;
                    if k == 0 {
                        break;
                    }
                    if first.len() < 16 {
                        first.extend_from_slice(&buf[..k]);
                    }
                }
                Ok::<bool, std::io::Error>(first.starts_with(b"HTTP/1.1 200"))
            };
            matches!(
                tokio::time::timeout(Duration::from_secs(5), exchange).await,
                Ok(Ok(true))
            )
        })
        .buffer_unordered(args.concurrency)
        .filter(|ok| futures::future::ready(*ok))
        .count()
        .await as u64;
    let figures = Figures {
        wall_s: t0.elapsed().as_secs_f64(),
        cpu_s: cpu_seconds(pid)? - cpu0,
        peak_rss_kib: peak_rss_kib(pid)?,
        checks: n,
        up,
        down: n - up,
        ..Figures::default()
    };
    println!("{}", serde_json::to_string(&figures)?);
    Ok(())
}

/// Target indices `0..n`, each yielded at the offset the probe's schedule gives target
/// `t{i}` within `window`: the same pacing for every party.
fn paced(n: u64, window: Duration) -> impl futures::Stream<Item = u64> {
    let mut due: Vec<(Duration, u64)> = (0..n)
        .map(|i| {
            let id = EndpointId::parse(format!("t{i}")).expect("farm ids are valid");
            (scoville_probe::schedule::offset(&id, window), i)
        })
        .collect();
    due.sort();
    let start = tokio::time::Instant::now();
    futures::stream::iter(due).then(move |(offset, i)| async move {
        tokio::time::sleep_until(start + offset).await;
        i
    })
}

/// Runs `probe-bench ROLE` against the farm with the options' concurrency and spread.
fn run_role(
    exe: &std::path::Path,
    role: &str,
    farm_url: &str,
    opts: &Options,
) -> std::io::Result<Output> {
    Command::new(exe)
        .args([
            role,
            "--farm",
            farm_url,
            "--concurrency",
            &opts.concurrency.to_string(),
        ])
        .args(["--spread-ms", &opts.spread_ms.to_string()])
        .stderr(Stdio::inherit())
        .output()
}

fn spawn_listening(mut cmd: Command) -> anyhow::Result<(Kill, String)> {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .context("no listening line")?
        .to_string();
    Ok((Kill(child), url))
}

pub(crate) async fn orchestrate(opts: Options) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let mut farm_cmd = Command::new(&exe);
    farm_cmd.args([
        "farm",
        "--endpoints",
        &opts.endpoints.to_string(),
        "--timeout-ms",
        &opts.timeout_ms.to_string(),
    ]);
    let (_farm, farm_url) = spawn_listening(farm_cmd)?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.concurrency)
        .build()?;
    eprintln!("farm at {farm_url} with {} targets", opts.endpoints);

    let out = run_role(&exe, "scoville", &farm_url, &opts)?;
    if !out.status.success() {
        bail!("the Scoville run failed");
    }
    let mut scoville: Figures = serde_json::from_slice(&out.stdout)?;
    let sink: SinkSnapshot = http
        .get(format!("{farm_url}/__sink"))
        .send()
        .await?
        .json()
        .await?;
    let holds: Vec<HoldRecord> = http
        .get(format!("{farm_url}/__records?run="))
        .send()
        .await?
        .json()
        .await?;
    let reported: HashMap<u64, f64> = sink
        .totals
        .iter()
        .filter(|(_, (_, outcome))| !outcome.contains("timeout"))
        .filter_map(|(id, (total, _))| Some((id.trim_start_matches('t').parse().ok()?, *total)))
        .collect();
    accuracy(&mut scoville, &holds, &reported);

    let blackbox = if opts.skip_blackbox {
        None
    } else {
        Some(run_blackbox(&opts, &farm_url, &http).await?)
    };
    let out = run_role(&exe, "raw", &farm_url, &opts)?;
    let floor: Option<Figures> = serde_json::from_slice(&out.stdout).ok();
    report(&opts, &scoville, blackbox.as_ref());
    if let Some(floor) = &floor {
        println!(
            "floor, a bare tokio client (connect, write, read to EOF) on the same targets: \
             {:.1} µs CPU per check, peak RSS {:.1} MiB",
            floor.cpu_s * 1e6 / floor.checks.max(1) as f64,
            floor.peak_rss_kib as f64 / 1024.0
        );
    }
    if let Some(path) = &opts.json {
        let json = serde_json::json!({"options": {"endpoints": opts.endpoints, "concurrency": opts.concurrency,
            "timeout_ms": opts.timeout_ms, "spread_ms": opts.spread_ms}, "scoville": scoville, "blackbox_exporter": blackbox,
            "bare_tokio_client": floor});
        std::fs::write(path, serde_json::to_string_pretty(&json)?)?;
    }
    Ok(())
}

fn accuracy(f: &mut Figures, holds: &[HoldRecord], reported: &HashMap<u64, f64>) {
    let mut errors = Vec::new();
    let mut around_50 = Vec::new();
    for h in holds {
        if let Some(total) = reported.get(&h.index) {
            errors.push((total - h.hold_ms).abs());
            if (40.0..=60.0).contains(&h.hold_ms) {
                around_50.push(*total);
            }
        }
    }
    f.compared = errors.len();
    f.error_p50_ms = quantile(&mut errors, 0.5);
    f.error_p99_ms = quantile(&mut errors, 0.99);
    f.median_reported_for_50ms_ms = quantile(&mut around_50, 0.5);
}

async fn run_blackbox(
    opts: &Options,
    farm_url: &str,
    http: &reqwest::Client,
) -> anyhow::Result<Figures> {
    let dir = std::env::temp_dir().join(format!("scoville-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("blackbox.yml");
    let timeout_s = opts.timeout_ms as f64 / 1000.0;
    std::fs::write(
        &config,
        format!(
            "modules:\n  http_2xx:\n    prober: http\n    timeout: {timeout_s}s\n    http:\n      preferred_ip_protocol: ip4\n"
        ),
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(&opts.blackbox_bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", opts.blackbox_bin))?;
    let pid = child.id();
    let _guard = Kill(child);
    let base = format!("http://127.0.0.1:{port}");
    let ready = Instant::now();
    while http.get(format!("{base}/metrics")).send().await.is_err() {
        if ready.elapsed() > Duration::from_secs(15) {
            bail!("blackbox_exporter did not start");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu0 = cpu_seconds(pid)?;
    let t0 = Instant::now();
    let scrape_timeout = format!("{}", timeout_s + 1.0);
    let window = Duration::from_millis(opts.spread_ms);
    let results: Vec<(u64, Option<f64>, bool)> = paced(opts.endpoints, window)
        .map(|i| {
            let url = format!("{base}/probe?module=http_2xx&target={farm_url}/t/{i}%3Frun%3Dbb");
            let req = http.get(url).header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                scrape_timeout.clone(),
            );
            async move {
                let Ok(resp) = req.send().await else {
                    return (i, None, false);
                };
                let text = resp.text().await.unwrap_or_default();
                let metric = |name: &str| {
                    text.lines()
                        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
                        .and_then(|l| l.split_whitespace().nth(1))
                        .and_then(|v| v.parse::<f64>().ok())
                };
                (
                    i,
                    metric("probe_duration_seconds").map(|s| s * 1000.0),
                    metric("probe_success") == Some(1.0),
                )
            }
        })
        .buffer_unordered(opts.concurrency)
        .collect()
        .await;
    let wall_s = t0.elapsed().as_secs_f64();
    let cpu_s = cpu_seconds(pid)? - cpu0;
    let mut f = Figures {
        wall_s,
        cpu_s,
        peak_rss_kib: peak_rss_kib(pid)?,
        checks: results.len() as u64,
        up: results.iter().filter(|r| r.2).count() as u64,
        down: results.iter().filter(|r| !r.2).count() as u64,
        ..Figures::default()
    };
    let holds: Vec<HoldRecord> = http
        .get(format!("{farm_url}/__records?run=bb"))
        .send()
        .await?
        .json()
        .await?;
    let reported: HashMap<u64, f64> = results
        .iter()
        .filter_map(|(i, d, _)| d.filter(|d| *d < opts.timeout_ms as f64).map(|d| (*i, d)))
        .collect();
    accuracy(&mut f, &holds, &reported);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(f)
}

fn report(opts: &Options, s: &Figures, b: Option<&Figures>) {
    println!(
        "{} targets, {} in flight, {} ms timeout (farm: median 50 ms, p99 500 ms, 1% 500, 0.5% hang)",
        opts.endpoints, opts.concurrency, opts.timeout_ms
    );
    println!(
        "{:<34}{:>14}{:>18}{:>12}",
        "", "scoville", "blackbox_exporter", "bb / sc"
    );
    let per_check_us = |f: &Figures| f.cpu_s * 1e6 / f.checks.max(1) as f64;
    let rows: Vec<(&str, f64, Option<f64>, usize)> = vec![
        ("wall time (s)", s.wall_s, b.map(|b| b.wall_s), 2),
        ("CPU time (s)", s.cpu_s, b.map(|b| b.cpu_s), 3),
        (
            "CPU per check (µs)",
            per_check_us(s),
            b.map(per_check_us),
            1,
        ),
        (
            "peak RSS (MiB)",
            s.peak_rss_kib as f64 / 1024.0,
            b.map(|b| b.peak_rss_kib as f64 / 1024.0),
            1,
        ),
        (
            "|total - hold| p50 (ms)",
            s.error_p50_ms,
            b.map(|b| b.error_p50_ms),
            3,
        ),
        (
            "|total - hold| p99 (ms)",
            s.error_p99_ms,
            b.map(|b| b.error_p99_ms),
            3,
        ),
        (
            "reported for 40-60 ms holds, p50",
            s.median_reported_for_50ms_ms,
            b.map(|b| b.median_reported_for_50ms_ms),
            1,
        ),
        ("up / checks", s.up as f64, b.map(|b| b.up as f64), 0),
    ];
    for (name, sv, bv, prec) in rows {
        match bv {
            Some(bv) => println!("{name:<34}{sv:>14.prec$}{bv:>18.prec$}{:>12.2}", bv / sv),
            None => println!("{name:<34}{sv:>14.prec$}"),
        }
    }
    println!(
        "answered checks compared with the farm: scoville {}, blackbox {}",
        s.compared,
        b.map_or(0, |b| b.compared)
    );
}
