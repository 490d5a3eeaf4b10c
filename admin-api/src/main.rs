//! `admin-api`: thin entry point; serves the API until SIGINT.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use scoville_admin_api::config::Config;
use scoville_service_kit::telemetry;

/// Scoville's admin API.
#[derive(Debug, Parser)]
#[command(
    version,
    after_long_help = "Every key of the configuration file can be set as \
SCOVILLE_<SECTION>__<KEY>, e.g. SCOVILLE_ADMIN__SQLITE_PATH. Keys and defaults: \
admin.listen = 127.0.0.1:8080, admin.public_url = http://127.0.0.1:8080, \
admin.sqlite_path = scoville-admin.db, admin.session_ttl_hours = 336, \
admin.probe_token_hashes = [], store.kind = sqlite (or dynamodb), \
store.table = scoville-admin, store.endpoint_url = (AWS), store.region = (AWS default), \
store.create_table = false, store.timeout_ms = 5000, log.format = text, log.level = info."
)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Listen here (overrides admin.listen); port 0 picks a free port.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("admin-api: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(listen) = cli.listen {
        config.admin.listen = listen;
    }
    telemetry::init(config.log.format, &config.log.level);
    let app = match scoville_admin_api::app::build(&config).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("admin-api: {e:#}");
            return ExitCode::from(2);
        }
    };
    match app.local_addr() {
        Ok(addr) => println!("listening on http://{addr}"),
        Err(e) => {
            eprintln!("admin-api: {e}");
            return ExitCode::FAILURE;
        }
    }
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("admin-api: {e}");
            ExitCode::FAILURE
        }
    }
}
