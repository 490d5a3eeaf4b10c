//! `failure-service`: thin entry point. `failure-service serve` runs the service;
//! `failure-service hash-token` prints the configuration form of a token's hash.
//!
//! With `queue.kind = memory` the notification jobs stay in this process: give
//! `--notifier-config` (the notifier's configuration file: channels, delivery, dedup) and
//! a notifier worker drains them here; with `queue.kind = sqs`, separate notifiers do.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use scoville_failure_service::config::{Config, QueueKind};
use scoville_service_kit::auth::TokenHash;
use scoville_service_kit::telemetry;

/// Scoville's failure service: incidents confirmed across regions, one notification each.
#[derive(Debug, Parser)]
#[command(
    version,
    after_long_help = "Every key of the configuration file can be set as \
SCOVILLE_<SECTION>__<KEY>, e.g. SCOVILLE_STORE__KIND. Keys and defaults: \
failure.listen = 127.0.0.1:8082, failure.max_body_bytes = 4194304, failure.max_batch = 5000, \
failure.token_hashes = [], failure.concurrency = 32, store.kind = sqlite, \
store.sqlite_path = scoville-incidents.db, store.dynamodb_table = scoville-incidents, \
store.aws_endpoint_url = (AWS), store.create_table = false, store.timeout_ms = 5000, \
queue.kind = memory, queue.sqs_queue_url = (none), queue.aws_endpoint_url = (AWS), \
queue.capacity = 100000, directory.public_url = http://127.0.0.1:8080, \
directory.channels = [], directory.policy = {failure_threshold = 1, recovery_threshold = 2, \
confirm_regions = 2, window_ms = 300000, round_ms = 60000, flap_limit = 4, \
flap_window_ms = 3600000, settle_ms = 1800000, cert_warn_days = 14}, \
directory.endpoints = [], log.format = text, log.level = info."
)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// The notifier's configuration, to deliver an in-process queue's jobs here.
    #[arg(long, global = true)]
    notifier_config: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, value_enum)]
    log_format: Option<telemetry::LogFormat>,
    /// Listen here (overrides failure.listen); port 0 picks a free port.
    #[arg(long, global = true)]
    listen: Option<std::net::SocketAddr>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve (the default).
    Serve,
    /// Print the hash of a probe or service token, for failure.token_hashes.
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
            eprintln!("failure-service: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(listen) = cli.listen {
        config.failure.listen = listen;
    }
    telemetry::init(
        cli.log_format.unwrap_or(config.log.format),
        &config.log.level,
    );
    match serve(&config, cli.notifier_config.as_deref()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("failure-service: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn serve(config: &Config, notifier_config: Option<&std::path::Path>) -> anyhow::Result<()> {
    let queue = config.queue().await?;
    let worker = match (config.queue.kind, notifier_config) {
        (QueueKind::Memory, Some(path)) => {
            let n = scoville_notifier::config::Config::load(Some(path))
                .and_then(|c| c.validate().map(|()| c))
                .context("the notifier configuration")?;
            let dedup = Arc::new(scoville_notifier::dedup::MemoryDedup::new(
                n.dedup_settings()?,
                1_000_000,
            ));
            Some(n.worker(queue.clone(), dedup, Arc::default())?)
        }
        (QueueKind::Memory, None) => {
            tracing::warn!(
                "queue.kind = memory without --notifier-config: notifications are decided but nobody delivers them"
            );
            None
        }
        (QueueKind::Sqs, _) => None,
    };
    let app = scoville_failure_service::app::build(config, queue).await?;
    println!("listening on http://{}", app.local_addr()?);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut stopped_server = stopped.clone();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped_server.wait_for(|s| *s).await;
    }));
    // The in-process notifier runs on this task, beside the signal handler.
    let deliver = async {
        if let Some(w) = &worker {
            let mut stopped = stopped.clone();
            w.run(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await;
        }
    };
    let signal = async {
        scoville_service_kit::signal::shutdown().await;
        let _ = stop.send(true);
    };
    tokio::join!(deliver, signal);
    server.await?.context("serving")?;
    Ok(())
}
