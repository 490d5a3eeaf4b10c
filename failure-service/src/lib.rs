//! Scoville's failure service: it receives the probes' failures (and every result of
//! endpoints with an open incident, whose successes close it), the receiver's
//! degradation reports and content changes, runs each endpoint's incident state machine
//! (`scoville_core::incident`), and puts one notification job per notice and alert
//! channel on the notification queue.
//!
//! - [`app`]: `scoville_receiver_service::app::build(config)` and `router(state)` (tests call it without a
//!   socket; the Lambda function serves the same router through `lambda_http`).
//! - [`routes`], [`error`]: `POST /v1/failures`, `/v1/degradations`, `/v1/changes`,
//!   `/healthz`, `/readyz`, `/metrics`, and the one error type they answer with.
//! - [`engine`]: events grouped by endpoint, applied to the stored state with optimistic
//!   concurrency, notices turned into jobs through a transactional outbox.
//! - [`store`]: the state store port, DynamoDB and SQLite.
//! - [`directory`]: what the service knows about endpoints (names, targets, policy,
//!   channels, maintenance windows).
//! - [`config`], [`metrics`].

pub mod admin_directory;
pub mod app;
pub mod config;
pub mod directory;
pub mod engine;
pub mod error;
pub mod metrics;
pub mod routes;
pub mod store;

pub use app::{AppState, Application, router};
pub use config::Config;
