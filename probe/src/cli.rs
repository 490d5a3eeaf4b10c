//! The probe's command line: `probe run` (rounds forever, or `--once`) and `probe check`
//! (one check, printed readably or as JSON, exit status 0 up / 1 down / 2 bad usage).
//!
//! `probe check` takes a URL whose scheme picks the kind: `http://` and `https://` for
//! HTTP, `tcp://host:port`, `tls://host:port`, `dns://name` and `icmp://host`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use scoville_check_engine::{AddressPolicy, Engine, EngineConfig};
use scoville_core::check_spec::CheckSpec;
use scoville_core::{CheckReport, CheckResult, Outcome};
use serde_json::{Value, json};

use crate::config::Config;
use crate::delivery::ResultHook;
use crate::round::Probe;
use crate::telemetry::LogFormat;

/// Scoville's probe: checks endpoints and reports their uptime and timings.
#[derive(Debug, Parser)]
#[command(version, after_long_help = Config::describe_defaults())]
pub struct Cli {
    /// Configuration file (TOML); `SCOVILLE_<SECTION>__<KEY>` variables override it.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run rounds every interval: fetch the endpoints, check them, deliver the results.
    Run(RunArgs),
    /// Try one check and print the outcome and timing breakdown.
    Check(Box<CheckArgs>),
}

/// `probe run` options (everything else comes from the configuration).
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run one round, print its summary as JSON, and exit (non-zero if it failed).
    #[arg(long)]
    pub once: bool,
    /// Endpoint file (overrides endpoints.file).
    #[arg(long)]
    pub endpoints_file: Option<PathBuf>,
    /// Serve /healthz, /readyz and /metrics here (overrides probe.listen).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Print every result as a line on stdout (default when no receiver is configured).
    #[arg(long)]
    pub print: bool,
    /// With `--once`: run the round as if it started at this Unix time in ms (results
    /// carry the shifted times; for replays and tests that walk simulated minutes).
    #[arg(long, requires = "once")]
    pub at: Option<i64>,
}

/// `probe check` options.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// What to check: http(s)://..., tcp://host:port, tls://host:port, dns://name, icmp://host.
    pub url: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Deadline in ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Allow loopback and private targets.
    #[arg(long)]
    pub allow_private: bool,
    /// HTTP method.
    #[arg(long, short = 'X')]
    pub method: Option<String>,
    /// Request header, `Name: value` (repeatable).
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// Request body.
    #[arg(long = "data", short = 'd')]
    pub body: Option<String>,
    /// Accepted status codes, e.g. `200-299,301`.
    #[arg(long)]
    pub expect_status: Option<String>,
    /// The body must contain this text (repeatable).
    #[arg(long)]
    pub body_contains: Vec<String>,
    /// The body must match this regex.
    #[arg(long)]
    pub body_regex: Option<String>,
    /// JSON path that must exist (`$.status`) or equal a JSON value (`$.status=\"ok\"`).
    #[arg(long)]
    pub json_path: Vec<String>,
    /// Response header that must equal a value, `Name: value`.
    #[arg(long)]
    pub header_equals: Vec<String>,
    /// Maximum total time in ms.
    #[arg(long)]
    pub max_latency_ms: Option<u32>,
    /// Most redirects followed (0 = do not follow).
    #[arg(long)]
    pub max_redirects: Option<u8>,
    /// Do not verify TLS certificates.
    #[arg(long, short = 'k')]
    pub insecure: bool,
    /// Fixed answer for a name, `host=ip` (repeatable).
    #[arg(long)]
    pub resolve: Vec<String>,
    /// Extra trusted CA file (PEM).
    #[arg(long)]
    pub ca_file: Vec<PathBuf>,
    /// DNS record type (`dns://` only).
    #[arg(long, default_value = "A")]
    pub record_type: String,
    /// Expected DNS answer (repeatable; `dns://` only); text a TCP reply must contain.
    #[arg(long)]
    pub expect: Vec<String>,
    /// Text to send after connecting (`tcp://` only).
    #[arg(long)]
    pub send: Option<String>,
    /// DNS server to ask, `ip:port` (`dns://` only).
    #[arg(long)]
    pub resolver: Option<String>,
}

/// A usage error: exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl CheckArgs {
    /// The check spec these options describe, validated like any other spec.
    pub fn spec(&self) -> Result<CheckSpec, UsageError> {
        let (scheme, rest) = self.url.split_once("://").ok_or_else(|| {
            UsageError(format!(
                "{:?} has no scheme (http://, tcp://, ...)",
                self.url
            ))
        })?;
        let host_port = |rest: &str| -> Result<(String, Option<u16>), UsageError> {
            let u = url::Url::parse(&format!("http://{rest}"))
                .map_err(|e| UsageError(format!("{rest:?}: {e}")))?;
            Ok((u.host_str().unwrap_or_default().to_string(), u.port()))
        };
        let t = self.timeout_ms;
        let value = match scheme {
            "http" | "https" => self.http_spec(),
            "tcp" => {
                let (host, port) = host_port(rest)?;
                let port = port.ok_or_else(|| UsageError("tcp:// needs a port".into()))?;
                json!({"type":"tcp","host":host,"port":port,"timeout_ms":t,"send":self.send,"expect":self.expect.first()})
            }
            "tls" => {
                let (host, port) = host_port(rest)?;
                json!({"type":"tls","host":host,"port":port.unwrap_or(443),"tls_verify":!self.insecure,"timeout_ms":t})
            }
            "dns" => {
                json!({"type":"dns","name":rest.trim_end_matches('/'),"record_type":self.record_type.to_uppercase(),
                "expected":self.expect,"resolver":self.resolver,"timeout_ms":t})
            }
            "icmp" => json!({"type":"icmp","host":host_port(rest)?.0,"timeout_ms":t}),
            other => return Err(UsageError(format!("unknown scheme {other:?}"))),
        };
        let value = strip_nulls(value);
        scoville_core::parse::from_value(value)
            .map_err(|e| UsageError(format!("invalid check: {e}")))
    }

    fn http_spec(&self) -> Value {
        let mut headers = serde_json::Map::new();
        for h in &self.headers {
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_string(), Value::String(v.trim().to_string()));
            } else {
                headers.insert(h.clone(), Value::String(String::new()));
            }
        }
        let mut assertions: Vec<Value> = Vec::new();
        for c in &self.body_contains {
            assertions.push(json!({"type":"body_contains","value":c}));
        }
        if let Some(r) = &self.body_regex {
            assertions.push(json!({"type":"body_regex","pattern":r}));
        }
        for p in &self.json_path {
            match p.split_once('=') {
                Some((path, v)) => {
                    let v: Value =
                        serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string()));
                    assertions.push(json!({"type":"json_path","path":path,"equals":v}));
                }
                None => assertions.push(json!({"type":"json_path","path":p,"exists":true})),
            }
        }
        for h in &self.header_equals {
            let (k, v) = h.split_once(':').unwrap_or((h, ""));
            assertions.push(json!({"type":"header","name":k.trim(),"equals":v.trim()}));
        }
        if let Some(ms) = self.max_latency_ms {
            assertions.push(json!({"type":"max_latency_ms","value":ms}));
        }
        let mut spec = json!({"type":"http","url":self.url,"method":self.method,"headers":headers,"body":self.body,
            "timeout_ms":self.timeout_ms,"tls_verify":!self.insecure,"assertions":assertions,
            "expect_status":self.expect_status});
        if let Some(n) = self.max_redirects {
            spec["follow_redirects"] = json!(n > 0);
            spec["max_redirects"] = json!(n);
        }
        spec
    }

    /// The engine these options ask for.
    pub fn engine(&self) -> Result<Engine, UsageError> {
        let mut overrides: HashMap<String, Vec<IpAddr>> = HashMap::new();
        for r in &self.resolve {
            let (host, ip) = r
                .split_once('=')
                .ok_or_else(|| UsageError(format!("--resolve {r:?} is not host=ip")))?;
            let ip = ip
                .parse()
                .map_err(|_| UsageError(format!("--resolve {r:?}: {ip:?} is not an IP address")))?;
            overrides
                .entry(host.to_ascii_lowercase())
                .or_default()
                .push(ip);
        }
        let policy = if self.allow_private {
            AddressPolicy::allow_private()
        } else {
            AddressPolicy::global_only()
        };
        Engine::new(EngineConfig {
            policy,
            resolve_overrides: overrides,
            extra_ca_files: self.ca_file.clone(),
            ..EngineConfig::default()
        })
        .map_err(|e| UsageError(e.to_string()))
    }
}

fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

/// Runs `probe check`, printing the report; returns the exit status.
pub async fn check(args: &CheckArgs) -> ExitCode {
    let (spec, engine) = match args.spec().and_then(|s| Ok((s, args.engine()?))) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("probe check: {e}");
            return ExitCode::from(2);
        }
    };
    let report = engine.check(&spec).await;
    if args.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        print!("{}", render(&args.url, &report));
    }
    if report.outcome.is_up() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// A report as people read it.
pub fn render(target: &str, r: &CheckReport) -> String {
    let verdict = match r.outcome {
        Outcome::Up => "UP".to_string(),
        Outcome::Warning(w) => format!("UP, WARNING ({w})"),
        Outcome::Down(d) => format!("DOWN ({d})"),
    };
    let mut out = format!("{verdict}  {target}\n  {}\n", r.message);
    let t = &r.timings;
    for (name, v) in [
        ("dns", t.dns_ms),
        ("connect", t.connect_ms),
        ("tls", t.tls_ms),
        ("first byte", t.ttfb_ms),
    ] {
        if let Some(v) = v {
            out.push_str(&format!("  {name:<11}{v:>10.3} ms\n"));
        }
    }
    out.push_str(&format!("  {:<11}{:>10.3} ms\n", "total", t.total_ms));
    let mut facts = Vec::new();
    if let Some(s) = r.status {
        facts.push(format!("status {s}"));
    }
    if r.bytes > 0 || r.status.is_some() {
        facts.push(format!(
            "{} bytes{}",
            r.bytes,
            if r.truncated {
                " (cut at the limit)"
            } else {
                ""
            }
        ));
    }
    if let Some(ip) = r.ip {
        facts.push(format!("address {ip}"));
    }
    if r.redirects > 0 {
        facts.push(format!("{} redirects", r.redirects));
    }
    if let Some(exp) = r.cert_expires_at_ms {
        let days = (exp - crate::round::unix_ms()) / 86_400_000;
        facts.push(format!("certificate expires in {days} days"));
    }
    if let Some(exp) = r.domain_expires_at_ms {
        let days = (exp - crate::round::unix_ms()) / 86_400_000;
        facts.push(format!("domain expires in {days} days"));
    }
    if !facts.is_empty() {
        out.push_str(&format!("  {}\n", facts.join(", ")));
    }
    out
}

/// One result as a line for `probe run --print`.
pub fn result_line(r: &CheckResult) -> String {
    format!(
        "{:<8} {:<24} {:>9.1} ms  {}",
        r.report.outcome.kind().to_uppercase(),
        r.endpoint_id,
        r.report.timings.total_ms,
        r.report.message
    )
}

/// Runs `probe run`: rounds every interval until Ctrl-C, or one round with `--once`
/// (exit 3 when some of its results could not be delivered).
pub async fn run(mut config: Config, args: &RunArgs) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    if let Some(file) = &args.endpoints_file {
        config.endpoints.file = Some(file.clone());
        config.endpoints.api_url = None;
    }
    if let Some(listen) = args.listen {
        config.probe.listen = Some(listen);
    }
    let settings = config.settings()?;
    let probe = Probe::from_config(&config, None).context("setting up the probe")?;
    if let Some(listen) = config.probe.listen {
        let bound = crate::server::serve(listen, probe.metrics().clone())
            .await
            .context("binding probe.listen")?;
        println!("listening on http://{bound}");
    }
    let print = args.print || config.receiver.url.is_none();
    let window = settings.interval.mul_f64(settings.spread);
    let printer = || -> Option<ResultHook> {
        print.then(|| Box::new(|r: &CheckResult| println!("{}", result_line(r))) as ResultHook)
    };
    if args.once {
        let summary = probe
            .run_round_at(&settings.scope, window, printer(), args.at)
            .await?;
        println!("{}", serde_json::to_string(&summary)?);
        // A one-off run has no next round to carry results over to: say so, and fail
        // the way scripts and cron notice.
        let d = &summary.delivery;
        if d.carried_over + d.dropped > 0 {
            eprintln!(
                "probe: {} results were not delivered ({} after every attempt, {} dropped) and are lost with this run",
                d.carried_over + d.dropped,
                d.carried_over,
                d.dropped
            );
            return Ok(ExitCode::from(3));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut ticks = tokio::time::interval(settings.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        }
        if let Err(e) = probe.run_round(&settings.scope, window, printer()).await {
            tracing::error!(error = %e, "round skipped: no endpoint list");
        }
    }
}
