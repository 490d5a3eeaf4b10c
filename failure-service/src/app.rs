//! Building the service: [`router`] for tests and Lambda, [`Application`] for a server
//! bound to a real port (0 in tests).

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use scoville_service_kit::auth::TokenSet;

use crate::config::{Config, Limits};
use crate::directory::Directory;
use scoville_notifier::queue::JobQueue;

use crate::engine::{Engine, EngineSettings};
use crate::metrics::Metrics;
use crate::routes;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The engine.
    pub engine: Engine,
    /// Accepted tokens.
    pub tokens: Arc<TokenSet>,
    /// Request limits.
    pub limits: Limits,
    /// Counters.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// State from a validated configuration and the notification queue.
    pub async fn from_config(config: &Config, queue: Arc<dyn JobQueue>) -> anyhow::Result<Self> {
        let metrics = Arc::new(Metrics::default());
        let directory: Arc<dyn Directory> = config.directory()?;
        let engine = Engine::new(
            config.store().await?,
            config.log().await?,
            directory,
            queue,
            EngineSettings {
                concurrency: config.failure.concurrency,
                ..EngineSettings::default()
            },
            metrics.clone(),
        );
        Ok(Self {
            engine,
            tokens: Arc::new(config.tokens()?),
            limits: config.limits()?,
            metrics,
        })
    }
}

/// The failure service's routes.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/v1/failures", post(routes::post_failures))
        .route("/v1/degradations", post(routes::post_degradations))
        .route("/v1/changes", post(routes::post_changes))
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/metrics", get(routes::metrics));
    state.metrics.http.instrument(routes).with_state(state)
}

/// The failure service bound to `failure.listen`, not yet serving.
pub type Application = scoville_service_kit::http::Server;

/// Binds `failure.listen` and builds the state.
pub async fn build(config: &Config, queue: Arc<dyn JobQueue>) -> anyhow::Result<Application> {
    let state = AppState::from_config(config, queue).await?;
    Ok(Application::bind(config.failure.listen, router(state)).await?)
}
