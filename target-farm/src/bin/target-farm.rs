//! `target-farm`: serves N loopback targets with a known delay mix (see the library docs)
//! and prints `listening on http://ADDR` as its first line.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use scoville_target_farm::{Farm, FarmConfig};

/// Serve N HTTP targets with a known delay mix, recording how long each request was held.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Number of targets.
    #[arg(long, default_value_t = 10_000)]
    endpoints: u64,
    /// Seed of the delay mix.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// How long hanging targets hold a request, in seconds.
    #[arg(long, default_value_t = 30)]
    hang_secs: u64,
    /// Check timeout written into the listed endpoints, in ms.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    raise_fd_limit();
    let config = FarmConfig {
        endpoints: args.endpoints,
        seed: args.seed,
        hang: Duration::from_secs(args.hang_secs),
        timeout_ms: args.timeout_ms,
        ..FarmConfig::default()
    };
    let farm = Farm::start(config, args.listen).await?;
    println!("listening on http://{}", farm.addr);
    tokio::signal::ctrl_c().await?;
    Ok(())
}

/// Raises the soft open-files limit to the hard limit: a farm holds thousands of sockets.
fn raise_fd_limit() {
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("could not raise the open-files limit: {e}");
    }
}
