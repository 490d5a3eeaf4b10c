//! `receiver`: thin entry point. `receiver serve` runs the service; `receiver hash-token`
//! prints the configuration form of a probe token's hash.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use scoville_receiver_service::auth::TokenHash;
use scoville_receiver_service::config::Config;
use scoville_receiver_service::telemetry;

/// Scoville's receiver: check results into the queue.
#[derive(Debug, Parser)]
#[command(
    version,
    after_long_help = "Every key of the configuration file can be set as \
SCOVILLE_<SECTION>__<KEY>, e.g. SCOVILLE_QUEUE__REDIS_URL. Keys and defaults: \
receiver.listen = 127.0.0.1:8081, receiver.max_body_bytes = 8388608, \
receiver.max_batch = 5000, receiver.probe_token_hashes = [], queue.kind = redis, \
queue.redis_url = redis://127.0.0.1:6379/, queue.stream = scoville:results, \
queue.max_backlog = 5000000, queue.timeout_ms = 2000, log.format = text, log.level = info; \
result hooks (the worker): hooks.admin_url (unset: off), hooks.service_token, \
hooks.sqs_queue_url, hooks.sqs_endpoint_url, hooks.cache_ttl_ms = 30000, \
hooks.timeout_ms = 10000."
)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, value_enum)]
    log_format: Option<telemetry::LogFormat>,
    /// Listen here (overrides receiver.listen); port 0 picks a free port.
    #[arg(long, global = true)]
    listen: Option<std::net::SocketAddr>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve (the default).
    Serve,
    /// Drain the queue into InfluxDB until stopped (SIGINT or SIGTERM).
    Worker,
    /// Print the hash of a probe token, for receiver.probe_token_hashes.
    HashToken {
        /// The token.
        token: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::HashToken { token }) = &cli.command {
        println!("{}", TokenHash::of(token).to_config_string());
        return ExitCode::SUCCESS;
    }
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("receiver: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(listen) = cli.listen {
        config.receiver.listen = listen;
    }
    telemetry::init(
        cli.log_format.unwrap_or(config.log.format),
        &config.log.level,
    );
    if let Some(Command::Worker) = cli.command {
        return match run_worker(&config).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("receiver worker: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    let app = match scoville_receiver_service::app::build(&config).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("receiver: {e:#}");
            return ExitCode::from(2);
        }
    };
    match app.local_addr() {
        Ok(addr) => println!("listening on http://{addr}"),
        Err(e) => {
            eprintln!("receiver: {e}");
            return ExitCode::FAILURE;
        }
    }
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("receiver: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_worker(config: &Config) -> anyhow::Result<()> {
    use std::sync::Arc;

    use anyhow::Context;
    use scoville_receiver_service::worker::Worker;

    let settings = config.worker_settings()?;
    let store = Arc::new(config.influx()?);
    if config.influx.create_database {
        store
            .ensure_database()
            .await
            .context("creating the InfluxDB database")?;
    }
    let w = &config.worker;
    println!(
        "worker {} draining {} in {} lanes",
        w.consumer, config.queue.stream, w.lanes
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut lanes = tokio::task::JoinSet::new();
    let trend_state = config.trend_state()?;
    let analyzer = trend_state.clone().map(|state| {
        Arc::new(scoville_receiver_service::trend::TrendAnalyzer::new(
            state,
            scoville_receiver_service::trend::Settings::default(),
        ))
    });
    if let Some(state) = trend_state {
        match config.trend_sender(state)? {
            Some(sender) => {
                let mut stopped = stopped.clone();
                lanes.spawn(async move {
                    sender
                        .run(async move {
                            let _ = stopped.wait_for(|s| *s).await;
                        })
                        .await;
                });
            }
            None => tracing::warn!(
                "trend.failure_url is not set: degradation reports wait in the outbox"
            ),
        }
    }
    let hooks = config.hooks.publisher().await?;
    if hooks.is_some() {
        tracing::info!("result hooks on: every result is queued for the orgs' `all` hooks");
    }
    for lane in 0..w.lanes {
        let mut worker = Worker::new(
            Arc::new(config.consumer(lane)?),
            store.clone(),
            settings.clone(),
        );
        if let Some(a) = &analyzer {
            worker = worker.with_trend(a.clone());
        }
        if let Some(h) = &hooks {
            worker = worker.with_hooks(h.clone());
        }
        let mut stopped = stopped.clone();
        lanes.spawn(async move {
            worker
                .run(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        });
    }
    scoville_service_kit::signal::shutdown().await;
    let _ = stop.send(true);
    while lanes.join_next().await.is_some() {}
    Ok(())
}
