//! What every Scoville binary shares, so each service states only its own settings:
//! [`config`] loads a configuration in layers (defaults, the `--config` TOML file, then
//! `SCOVILLE_<SECTION>__<KEY>` variables) and names the key of anything invalid;
//! [`telemetry`] sets up logs, human-readable or JSON; [`auth`] keeps bearer tokens as
//! hashes and compares them in constant time; [`http`] finds the bearer token and reads
//! a body within a size limit; [`signal`] waits for SIGINT or SIGTERM; [`metrics`]
//! counts and times HTTP requests for every service's `/metrics` and writes (and, for
//! tests, strictly reads) the Prometheus text format.

pub mod auth;
pub mod cache;
pub mod config;
pub mod http;
pub mod metrics;
pub mod service_client;
pub mod signal;
pub mod telemetry;
