//! Scoville's probe: every round it fetches the endpoints due in its region and shard,
//! checks them all concurrently under a bound on open sockets with start times spread
//! over part of the interval, and delivers every result to the receiver and the failures
//! (and every result of an endpoint listed as down) to the failure service.
//!
//! - [`config`]: layered configuration (file, then `SCOVILLE_*` environment).
//! - [`source`]: where the endpoint list comes from (the admin API, or a file).
//! - [`round`]: one round of checks; [`schedule`]: when each check starts.
//! - [`domains`]: when a domain's registration expiry is looked up over RDAP.
//! - [`delivery`]: batching, retries with backoff, and the bounded carry-over buffer.
//! - [`lambda`]: the Lambda handler, a plain async fn over the event.
//! - [`metrics`] and [`server`]: Prometheus counters and the optional metrics listener.
//! - [`cli`]: `probe check`, one check from the command line.

pub mod cli;
pub mod config;
pub mod delivery;
pub mod domains;
pub mod lambda;
pub mod metrics;
pub mod round;
pub mod schedule;
pub mod server;
pub mod source;
pub mod telemetry;

pub use config::Config;

/// The runtime the probe runs on: one event loop for `worker_threads = 1`, a pool of
/// that many threads otherwise (0 = one per core). See `probe.worker_threads`.
pub fn runtime(worker_threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if worker_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if worker_threads > 1 {
            builder.worker_threads(worker_threads);
        }
        builder.enable_all().build()
    }
}
pub use round::{Probe, RoundSummary};
