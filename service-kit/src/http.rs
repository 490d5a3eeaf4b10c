//! What every HTTP service does with a request before its own logic: find the bearer
//! token, and read the body within a size limit (checked against `Content-Length` first,
//! then while reading), so a handler only sees bodies it is willing to parse.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// Request limits of a batch endpoint: 413 beyond either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body, bytes.
    pub max_body_bytes: usize,
    /// Most items in one batch.
    pub max_batch: usize,
}

impl Limits {
    /// Checks configured limits (`<section>.max_body_bytes` between 1 KiB and
    /// `body_cap`, `<section>.max_batch` between 1 and 100,000).
    pub fn checked(
        section: &str,
        max_body_bytes: usize,
        body_cap: usize,
        max_batch: usize,
    ) -> Result<Self, crate::config::ConfigError> {
        use crate::config::err;
        if max_body_bytes < 1024 || max_body_bytes > body_cap {
            return Err(err(
                &format!("{section}.max_body_bytes"),
                format!("must be between 1024 and {body_cap}"),
            ));
        }
        if max_batch == 0 || max_batch > 100_000 {
            return Err(err(
                &format!("{section}.max_batch"),
                "must be between 1 and 100000",
            ));
        }
        Ok(Self {
            max_body_bytes,
            max_batch,
        })
    }
}

/// A router bound to its address, not yet serving: what `Application::build` of each
/// service returns (port 0 in tests).
#[derive(Debug)]
pub struct Server {
    listener: tokio::net::TcpListener,
    router: axum::Router,
}

impl Server {
    /// Binds `listen`.
    pub async fn bind(listen: std::net::SocketAddr, router: axum::Router) -> std::io::Result<Self> {
        Ok(Self {
            listener: tokio::net::TcpListener::bind(listen).await?,
            router,
        })
    }

    /// Serves `router` on an already bound `listener` (when the address must be known
    /// before the router is built).
    pub fn from_listener(listener: tokio::net::TcpListener, router: axum::Router) -> Self {
        Self { listener, router }
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
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

    /// Serves until SIGINT.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    }
}

/// The `Authorization: Bearer <token>` token, trimmed.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Why a body was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Over the limit (answer 413).
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    /// The connection failed while reading (answer 400).
    #[error("the body could not be read: {0}")]
    Unreadable(String),
}

/// Reads the whole body, refusing more than `limit` bytes.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, BodyError> {
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|len| len > limit)
    {
        return Err(BodyError::TooLarge(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge(limit)),
        Err(e) => Err(BodyError::Unreadable(e.to_string())),
    }
}
