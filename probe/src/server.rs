//! The probe's small HTTP listener for operators: `GET /healthz` (alive), `GET /readyz`
//! (the last round could fetch its endpoint list) and `GET /metrics` (Prometheus text).
//! Its requests are counted by path (only these three; anything else is `unmatched`).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::metrics::Metrics;

/// Binds `addr` and serves in the background; returns the bound address.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let metrics = metrics.clone();
                        async move {
                            let started = std::time::Instant::now();
                            let route = match req.uri().path() {
                                p @ ("/healthz" | "/readyz" | "/metrics") => p,
                                _ => scoville_service_kit::metrics::UNMATCHED,
                            };
                            let (status, body, ctype) = match req.uri().path() {
                                "/healthz" => (StatusCode::OK, "ok\n".to_string(), "text/plain"),
                                "/readyz" if metrics.ready() => {
                                    (StatusCode::OK, "ready\n".to_string(), "text/plain")
                                }
                                "/readyz" => (
                                    StatusCode::SERVICE_UNAVAILABLE,
                                    "last round failed\n".to_string(),
                                    "text/plain",
                                ),
                                "/metrics" => (
                                    StatusCode::OK,
                                    metrics.render(),
                                    scoville_service_kit::metrics::CONTENT_TYPE,
                                ),
                                _ => (
                                    StatusCode::NOT_FOUND,
                                    "not found\n".to_string(),
                                    "text/plain",
                                ),
                            };
                            let mut resp = Response::new(Full::new(Bytes::from(body)));
                            *resp.status_mut() = status;
                            resp.headers_mut().insert(
                                "content-type",
                                hyper::header::HeaderValue::from_static(ctype),
                            );
                            metrics
                                .http
                                .record(route, req.method(), status, started.elapsed());
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(bound)
}
