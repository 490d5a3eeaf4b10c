//! `notifier`: the server worker. `notifier` (or `notifier run`) drains the SQS queue
//! until SIGINT/SIGTERM, serving `/healthz`, `/readyz` and `/metrics`;
//! `notifier test <channel-id>` sends one test notification to a configured channel;
//! `notifier check-config` validates the configuration and exits.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use scoville_core::OrgId;
use scoville_notifier::config::{self, Config};
use scoville_notifier::metrics::Metrics;
use scoville_service_kit::telemetry;

/// Scoville's notifier: notification jobs from SQS to Slack, Discord, Teams, email,
/// webhooks, Matrix, Telegram and PagerDuty.
#[derive(Debug, Parser)]
#[command(
    version,
    after_long_help = "Every key of the configuration file can be set as \
SCOVILLE_<SECTION>__<KEY>, e.g. SCOVILLE_QUEUE__URL. Keys and defaults: \
notifier.listen = 127.0.0.1:8083, notifier.allow_private = false, notifier.allow_ips = [], \
notifier.timeout_ms = 10000, notifier.batch_max = 500, notifier.wait_ms = 20000, \
notifier.gather_ms = 2000, notifier.concurrency = 8, notifier.digest_threshold = 10, \
notifier.digest_max = 25, notifier.pace_per_second = (per channel kind), notifier.pace_burst = 5, \
notifier.max_pace_wait_ms = 30000, delivery.max_attempts = 4, delivery.base_backoff_ms = 500, \
delivery.max_backoff_ms = 30000, delivery.max_retry_after_ms = 60000, \
delivery.requeue_max_ms = 900000, queue.url = (required), queue.dead_letter_url = (none), \
queue.max_receives = 10, queue.endpoint_url = (AWS), dedup.kind = dynamodb, \
dedup.table = scoville-notification-dedup, dedup.create_table = false, dedup.lease_ms = 600000, \
dedup.ttl_hours = 168, dedup.endpoint_url = (AWS), channels.<id> = {type = ..., ...}, \
log.format = text, log.level = info."
)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, value_enum)]
    log_format: Option<telemetry::LogFormat>,
    /// Serve health and metrics here (overrides notifier.listen); port 0 picks a port.
    #[arg(long, global = true)]
    listen: Option<std::net::SocketAddr>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Drain the queue (the default).
    Run,
    /// Send a test notification to a channel of the configuration.
    Test {
        /// The channel's id (`[channels.<id>]`).
        channel_id: String,
        /// The link the test message carries.
        #[arg(long, default_value = "https://example.com/")]
        link: String,
    },
    /// Validate the configuration and exit.
    CheckConfig,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut config =
        match Config::load(cli.config.as_deref()).and_then(|c| c.validate().map(|()| c)) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("notifier: {e}");
                return ExitCode::from(2);
            }
        };
    if let Some(listen) = cli.listen {
        config.notifier.listen = listen;
    }
    telemetry::init(
        cli.log_format.unwrap_or(config.log.format),
        &config.log.level,
    );
    let result = match cli.command.unwrap_or(Command::Run) {
        Command::CheckConfig => {
            println!(
                "configuration is valid ({} channels)",
                config.channels.len()
            );
            Ok(())
        }
        Command::Test { channel_id, link } => test(&config, &channel_id, &link).await,
        Command::Run => run(&config).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("notifier: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn test(config: &Config, channel_id: &str, link: &str) -> anyhow::Result<()> {
    let dir = config.memory_directory()?;
    let channel = dir
        .get(channel_id)
        .with_context(|| format!("no channel {channel_id:?} in [channels]"))?;
    let ctx = config.send_context()?;
    scoville_notifier::test_notification::send_test(&channel, &ctx, &OrgId::local(), link).await?;
    println!("test notification sent to {channel_id}");
    Ok(())
}

async fn run(config: &Config) -> anyhow::Result<()> {
    let aws = config::aws_config().await;
    let queue = Arc::new(config.sqs_queue(&aws)?);
    let dedup = config.dedup_store(&aws).await?;
    let metrics = Arc::new(Metrics::default());
    let worker = config.worker(queue.clone(), dedup, Arc::clone(&metrics))?;

    let listener = tokio::net::TcpListener::bind(config.notifier.listen)
        .await
        .with_context(|| format!("binding notifier.listen {}", config.notifier.listen))?;
    println!("listening on http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = {
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            axum::serve(listener, scoville_notifier::server::router(metrics, queue))
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
        })
    };
    tokio::spawn(async move {
        scoville_service_kit::signal::shutdown().await;
        let _ = stop_tx.send(true);
    });
    let mut stop = stop_rx;
    worker
        .run(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
    server
        .await
        .context("health server task")?
        .context("health server")?;
    Ok(())
}
