//! `scoville`: `scoville up` runs all of Scoville in one process (see the library docs).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use scoville_admin_api::store::AdminStore;

/// Scoville: uptime and performance monitoring.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every part in this process on the embedded defaults (one SQLite file).
    Up {
        /// Where data lives (created if missing); it survives restarts.
        #[arg(long, default_value = "scoville-data")]
        data_dir: PathBuf,
        /// Where the API (and UI) listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The probe's region name; endpoints listing it are checked from here.
        #[arg(long, default_value = "local")]
        region: String,
        /// Endpoints and alert channels declared in a TOML file, reconciled at start
        /// and on SIGHUP.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Log filter (`info`, `debug`, `scoville=debug`, ...).
        #[arg(long, default_value = "info")]
        log: String,
        /// Who may create an account: `open` (anyone) or `closed` (only people holding
        /// an invitation). Default: open on a loopback address, closed elsewhere.
        #[arg(long, value_enum)]
        signup: Option<Signup>,
        /// Whether checks and alert channels may reach loopback and private addresses
        /// (a LAN's services): `allow` (default) or `deny` (public addresses only,
        /// checked after DNS resolution and on every redirect).
        #[arg(long, value_enum, default_value = "allow")]
        private_targets: PrivateTargets,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Signup {
    Open,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PrivateTargets {
    Allow,
    Deny,
}

#[tokio::main]
async fn main() -> ExitCode {
    let Command::Up {
        data_dir,
        listen,
        region,
        config,
        log,
        signup,
        private_targets,
    } = Cli::parse().command;
    scoville_service_kit::telemetry::init(scoville_service_kit::telemetry::LogFormat::Text, &log);
    let mut options = scoville::up::Options::new(data_dir);
    let public = !listen.ip().is_loopback();
    options.listen = listen;
    options.region = region;
    options.open_signup = signup.map_or(!public, |s| s == Signup::Open);
    options.private_targets = private_targets == PrivateTargets::Allow;
    if public && options.open_signup {
        eprintln!("scoville: warning: anyone who reaches {listen} can sign up (--signup open)");
    }
    if public && options.private_targets {
        eprintln!(
            "scoville: warning: listening on {listen} with private targets allowed: members can check \
             and notify addresses inside this network (--private-targets deny to refuse them)"
        );
    }
    match up(options, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scoville: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn up(options: scoville::up::Options, config: Option<PathBuf>) -> anyhow::Result<()> {
    let running = scoville::up::start(&options).await?;
    let url = &running.admin_url;
    match scoville::first_run::ensure_as(url, &options.region, Some(running.service_token()))
        .await?
    {
        Some(first) => {
            println!("Scoville is running: {url}");
            println!(
                "first start: sign in as {} with password {}",
                scoville::first_run::FIRST_EMAIL,
                first.password
            );
            println!("API key (read-write, shown once): {}", first.api_key);
            println!(
                "a sample endpoint watches Scoville itself; add yours with\n  curl -H 'Authorization: Bearer {}' -H 'content-type: application/json' \\\n    -d '{{\"name\":\"my site\",\"check\":{{\"type\":\"http\",\"url\":\"https://example.com\"}},\"regions\":[\"{}\"],\"confirm_regions\":1}}' {url}/v1/endpoints",
                first.api_key, options.region
            );
        }
        None => println!(
            "Scoville is running: {url} (sign in as {})",
            scoville::first_run::FIRST_EMAIL
        ),
    }
    println!("listening on {url}");
    let reload = async {
        let Some(path) = config else {
            std::future::pending::<()>().await;
            return;
        };
        let store: Arc<dyn AdminStore> =
            match scoville_admin_api::store::sqlite::SqliteAdmin::open(&running.database) {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    eprintln!("scoville: {e}");
                    return;
                }
            };
        let apply = || async {
            let org = first_org(store.as_ref()).await?;
            scoville::as_code::reconcile(store.as_ref(), &org, &path, &options.region).await
        };
        let report = |r: anyhow::Result<scoville::as_code::Report>| match r {
            Ok(r) => println!(
                "{}: {} written, {} unchanged, {} deleted",
                path.display(),
                r.written,
                r.unchanged,
                r.deleted
            ),
            Err(e) => eprintln!("{}: not applied: {e:#}", path.display()),
        };
        report(apply().await);
        #[cfg(unix)]
        {
            let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                std::future::pending::<()>().await;
                return;
            };
            while hup.recv().await.is_some() {
                report(apply().await);
            }
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = reload => {}
        () = scoville_service_kit::signal::shutdown() => {}
    }
    running.stop().await
}

async fn first_org(store: &dyn AdminStore) -> anyhow::Result<scoville_core::OrgId> {
    let (user, _) = store
        .user_by_email(scoville::first_run::FIRST_EMAIL)
        .await?
        .context("no first user")?;
    let (org, _) = store
        .memberships(&user.id)
        .await?
        .into_iter()
        .next()
        .context("the first user has no organization")?;
    Ok(org.id)
}
