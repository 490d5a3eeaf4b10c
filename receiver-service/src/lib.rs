//! Scoville's receiver service: `POST /v1/results` takes a probe's batch of check
//! results, checks the probe token, the size and every field, and answers 201 with the
//! count only once the queue has acknowledged the batch; when the queue cannot take it,
//! 503 with `Retry-After`, so the probe keeps the batch and tries again.
//!
//! - [`app`]: `app::build(config)` (a server bound to the configured address,
//!   port 0 in tests) and `router(state)`, which tests call without a socket.
//! - [`routes`] and [`error`]: the handlers and the one error type they answer with.
//! - [`auth`]: probe tokens, kept as SHA-256 hashes and compared in constant time.
//! - [`queue`]: the queue port and its adapters, Redis Streams and in-process.
//! - [`worker`]: drains the queue into the store ([`store`]: InfluxDB or SQLite) with
//!   per-minute and hourly rollups, and runs [`trend`] (the Apdex trend detectors and the
//!   mean-run-time rule) on every settled minute, whose reports go to the failure service.
//! - [`config`], [`metrics`], [`telemetry`].

pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod hooks;
pub mod metrics;
pub mod queue;
pub mod routes;
pub mod store;
pub mod telemetry;
pub mod trend;
pub mod worker;

pub use app::{AppState, Application, router};
pub use config::Config;
