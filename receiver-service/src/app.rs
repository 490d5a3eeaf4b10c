//! Building the service: [`router`] for tests and Lambda, [`Application`] for a server
//! bound to a real port (0 in tests).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;

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
    Router::new()
        .route("/v1/results", post(routes::post_results))
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/metrics", get(routes::metrics))
        .with_state(state)
}

/// A bound, not yet serving, receiver.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    /// Binds `receiver.listen` and builds the state.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let state = AppState::from_config(config)?;
        let listener = TcpListener::bind(config.receiver.listen).await?;
        Ok(Self {
            listener,
            router: router(state),
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the process is stopped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    }
}
