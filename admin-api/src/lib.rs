//! Scoville's admin API: organizations, users, sessions, API keys and probe tokens;
//! endpoints; `GET /v1/probe/endpoints` (the paged list each probe fetches every round);
//! the history API over InfluxDB or SQLite.
//!
//! - [`app`]: `app::build(config)` and `router(state)`, built from [`routes::table`].
//! - [`routes`]: the handlers, one file per area, and the route table.
//! - [`auth`]: sessions, API keys, probe tokens, passwords, the login rate limit.
//! - [`model`]: the domain types inputs are parsed into (422 names the field).
//! - [`store`]: the store port and its SQLite adapter.
//! - [`history`]: reading history (per-step rollups, summaries, raw results, badges)
//!   from InfluxDB or SQLite.
//! - [`heartbeat`]: heartbeat (push) checks: pings, tokens, the sweep.
//! - [`openapi`]: the OpenAPI document served at `GET /v1/openapi.json`.
//! - [`ui`]: the web UI's assets, served at `/` and `/ui/...`.
//! - [`config`], [`error`].

pub mod app;
pub mod audit;
pub mod auth;
pub mod backoff;
pub mod config;
pub mod error;
pub mod heartbeat;
pub mod history;
pub mod hook;
pub mod model;
pub mod openapi;
pub mod probe_list;
pub mod routes;
pub mod store;
pub mod transfer;
pub mod ui;

pub use app::{AppState, router};
pub use config::Config;
