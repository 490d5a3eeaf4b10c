//! `probe-bench`: checks N farm targets once with Scoville's probe, then the same targets
//! through Prometheus' blackbox_exporter at the same concurrency, and prints wall time,
//! CPU per check, peak RSS, and the error between each reported total and the time the
//! farm really held the request (p50, p99), with the ratios.
//!
//! Each party runs in its own process, so each one's CPU and memory are its own: the
//! farm (`probe-bench farm`), Scoville's probe (`probe-bench scoville`, a full round:
//! fetching the list from the farm's endpoint list, checking, and posting every result to
//! the farm's recording sink), and blackbox_exporter (driven through `/probe` by this
//! process, whose own CPU is not counted against it). A third party, `probe-bench raw`,
//! shows the floor: a bare tokio client that only connects, writes a request and reads
//! to EOF, which is what the kernel and the runtime cost per check on this machine.

mod roles;

use clap::{Parser, Subcommand};

/// Benchmark Scoville's probe against the target farm and blackbox_exporter.
#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    role: Option<Role>,
    #[command(flatten)]
    opts: roles::Options,
}

#[derive(Debug, Subcommand)]
enum Role {
    /// Internal: serve the farm and print `listening on http://ADDR`.
    Farm(roles::FarmArgs),
    /// Internal: run one Scoville round against a farm and print figures as JSON.
    Scoville(roles::ScovilleArgs),
    /// Internal: the floor — a bare tokio client (connect, write a request, read to EOF)
    /// over the same targets, printing figures as JSON.
    Raw(roles::ScovilleArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let runtime = if std::env::var("BENCH_RUNTIME").as_deref() == Ok("current") {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    };
    runtime.block_on(async move {
        match cli.role {
            Some(Role::Farm(args)) => roles::farm(args).await,
            Some(Role::Scoville(args)) => roles::scoville(args).await,
            Some(Role::Raw(args)) => roles::raw(args).await,
            None => roles::orchestrate(cli.opts).await,
        }
    })
}
