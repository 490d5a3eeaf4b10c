//! Building the service: [`router`] for tests and Lambda, [`Application`] for a server
//! bound to a real port (0 in tests).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use scoville_service_kit::auth::TokenSet;
use tokio::net::TcpListener;

use crate::config::{Config, Limits};
use crate::directory::Directory;
use crate::engine::{Engine, EngineSettings, JobSink};
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
    /// State from a validated configuration and a job sink (the notification queue).
    pub async fn from_config(config: &Config, sink: Arc<dyn JobSink>) -> anyhow::Result<Self> {
        let metrics = Arc::new(Metrics::default());
        let directory: Arc<dyn Directory> = Arc::new(config.directory()?);
        let engine = Engine::new(
            config.store().await?,
            directory,
            sink,
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
    Router::new()
        .route("/v1/failures", post(routes::post_failures))
        .route("/v1/degradations", post(routes::post_degradations))
        .route("/v1/changes", post(routes::post_changes))
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/metrics", get(routes::metrics))
        .with_state(state)
}

/// A bound, not yet serving, failure service.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    /// Binds `failure.listen` and builds the state.
    pub async fn build(config: &Config, sink: Arc<dyn JobSink>) -> anyhow::Result<Self> {
        let state = AppState::from_config(config, sink).await?;
        let listener = TcpListener::bind(config.failure.listen).await?;
        Ok(Self {
            listener,
            router: router(state),
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}
