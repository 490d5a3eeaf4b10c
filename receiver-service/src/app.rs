//! Building the service: [`router`] for tests and Lambda, [`Application`] for a server
//! bound to a real port (0 in tests).

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::auth::TokenSet;
use crate::config::{Config, ConfigError, Limits};
use crate::metrics::Metrics;
use crate::queue::ResultQueue;
use crate::routes;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The queue.
    pub queue: Arc<dyn ResultQueue>,
    /// Accepted probe tokens.
    pub tokens: Arc<TokenSet>,
    /// Request limits.
    pub limits: Limits,
    /// Counters.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// State from a validated configuration.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        Ok(Self {
            queue: config.queue()?,
            tokens: Arc::new(config.tokens()?),
            limits: config.limits()?,
            metrics: Arc::new(Metrics::default()),
        })
    }
}

/// The receiver's routes.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/v1/results", post(routes::post_results))
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/metrics", get(routes::metrics));
    state.metrics.http.instrument(routes).with_state(state)
}

/// The receiver bound to `receiver.listen`, not yet serving.
pub type Application = scoville_service_kit::http::Server;

/// Binds `receiver.listen` and builds the state.
pub async fn build(config: &Config) -> anyhow::Result<Application> {
    let state = AppState::from_config(config)?;
    Ok(Application::bind(config.receiver.listen, router(state)).await?)
}
