//! `probe`: thin entry point; everything lives in the library (`scoville_probe::cli`).

use std::process::ExitCode;

use clap::Parser;
use scoville_probe::cli::{self, Cli, Command};
use scoville_probe::{Config, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Cli::parse();
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("probe: could not raise the open-files limit: {e}");
    }
    match args.command {
        Command::Check(check) => {
            telemetry::init(args.log_format.unwrap_or_default(), "warn");
            cli::check(&check).await
        }
        Command::Run(run) => {
            let config = match Config::load(args.config.as_deref()) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("probe: {e}");
                    return ExitCode::from(2);
                }
            };
            telemetry::init(
                args.log_format.unwrap_or(config.log.format),
                &config.log.level,
            );
            match cli::run(config, &run).await {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("probe: {e:#}");
                    if e.downcast_ref::<scoville_probe::config::ConfigError>()
                        .is_some()
                    {
                        ExitCode::from(2)
                    } else {
                        ExitCode::FAILURE
                    }
                }
            }
        }
    }
}
