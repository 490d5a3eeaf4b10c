//! The farm's HTTP server: hyper's HTTP/1.1 server on one listener with a deep accept
//! backlog (a thousand probes connect at once), routing as the crate docs describe.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use scoville_core::ProbeEndpoint;
use scoville_core::wire::{EndpointPage, ResultBatch};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::TcpSocket;

use crate::mix::profile;
use crate::state::{HoldRecord, SinkSnapshot, State};

/// How the farm is set up.
#[derive(Debug, Clone)]
pub struct FarmConfig {
    /// Number of targets.
    pub endpoints: u64,
    /// Seed of the delay mix.
    pub seed: u64,
    /// How long a hanging target holds a request.
    pub hang: Duration,
    /// Endpoints per page of the endpoint list.
    pub page_size: usize,
    /// Check timeout written into the listed endpoints' specs.
    pub timeout_ms: u64,
}

impl Default for FarmConfig {
    fn default() -> Self {
        Self {
            endpoints: 100,
            seed: 7,
            hang: Duration::from_secs(30),
            page_size: 1000,
            timeout_ms: 5000,
        }
    }
}

/// A running farm.
#[derive(Debug, Clone)]
pub struct Farm {
    /// Where it listens.
    pub addr: SocketAddr,
    config: Arc<FarmConfig>,
    state: Arc<State>,
}

type Resp = Response<Full<Bytes>>;

impl Farm {
    /// Starts the farm on `listen` (port 0 for any free port).
    pub async fn start(config: FarmConfig, listen: SocketAddr) -> std::io::Result<Farm> {
        let socket = if listen.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(listen)?;
        let listener = socket.listen(4096)?;
        let farm = Farm {
            addr: listener.local_addr()?,
            config: Arc::new(config),
            state: Arc::default(),
        };
        let server = farm.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let accepted = Instant::now();
                let _ = stream.set_nodelay(true);
                let farm = server.clone();
                tokio::spawn(async move {
                    let first = std::sync::atomic::AtomicBool::new(true);
                    let service = hyper::service::service_fn(move |req| {
                        let farm = farm.clone();
                        // A request's hold starts when its connection was accepted (the
                        // first request) or when its head was parsed (keep-alive ones).
                        let started = if first.swap(false, Ordering::Relaxed) {
                            accepted
                        } else {
                            Instant::now()
                        };
                        async move { Ok::<_, std::convert::Infallible>(farm.handle(req, started).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(farm)
    }

    /// The URL of target `i`, tagged with `run`.
    pub fn target_url(&self, i: u64, run: &str) -> String {
        if run.is_empty() {
            format!("http://{}/t/{i}", self.addr)
        } else {
            format!("http://{}/t/{i}?run={run}", self.addr)
        }
    }

    /// The base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Recorded holds of one run tag.
    pub fn holds(&self, run: &str) -> Vec<HoldRecord> {
        let holds = self.state.holds.lock().unwrap_or_else(|p| p.into_inner());
        holds.iter().filter(|h| h.run == run).cloned().collect()
    }

    /// What the sink has received.
    pub fn sink(&self) -> SinkSnapshot {
        self.state
            .sink
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .snapshot
            .clone()
    }

    /// The most target requests held at once so far.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    /// Makes the next `count` posts to the sink answer `status`.
    pub fn fail_next_posts(&self, count: u64, status: u16) {
        let mut sink = self.state.sink.lock().unwrap_or_else(|p| p.into_inner());
        sink.fail_next = count;
        sink.fail_status = status;
    }

    async fn handle(&self, req: Request<Incoming>, started: Instant) -> Resp {
        let path = req.uri().path().to_string();
        let query: HashMap<String, String> = req
            .uri()
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        match (req.method().clone(), path.as_str()) {
            (Method::GET, p) if p.starts_with("/t/") => self.target(&p[3..], &query, started).await,
            (Method::GET, "/__records") => json(
                StatusCode::OK,
                &self.holds(query.get("run").map_or("", String::as_str)),
            ),
            (Method::DELETE, "/__records") => {
                self.state
                    .holds
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clear();
                text(StatusCode::NO_CONTENT, "")
            }
            (Method::GET, "/__sink") => json(StatusCode::OK, &self.sink()),
            (Method::GET, "/__count") => text(StatusCode::OK, &self.config.endpoints.to_string()),
            (Method::POST, "/__sink/fail") => {
                let count = query.get("count").and_then(|c| c.parse().ok()).unwrap_or(1);
                let status = query
                    .get("status")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(503);
                self.fail_next_posts(count, status);
                text(StatusCode::NO_CONTENT, "")
            }
            (Method::GET, "/v1/probe/endpoints") => self.endpoint_page(&query),
            (Method::POST, "/v1/results") => self.sink_post(req, false).await,
            (Method::POST, "/v1/failures") => self.sink_post(req, true).await,
            _ => text(StatusCode::NOT_FOUND, "no such route"),
        }
    }

    async fn target(&self, index: &str, query: &HashMap<String, String>, started: Instant) -> Resp {
        let Ok(index) = index.parse::<u64>() else {
            return text(StatusCode::NOT_FOUND, "no such target");
        };
        let now = self.state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.state.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let _leaving = InFlight(&self.state.in_flight);
        let p = profile(self.config.seed, index);
        let hold = if p.hang {
            self.config.hang
        } else {
            Duration::from_secs_f64(p.delay_ms / 1000.0)
        };
        tokio::time::sleep_until(tokio::time::Instant::from_std(started + hold)).await;
        let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::OK);
        let resp = text(status, if p.status == 200 { "ok" } else { "error" });
        let record = HoldRecord {
            index,
            run: query.get("run").cloned().unwrap_or_default(),
            hold_ms: started.elapsed().as_micros() as f64 / 1000.0,
            status: p.status,
        };
        self.state
            .holds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(record);
        resp
    }

    fn endpoint_page(&self, query: &HashMap<String, String>) -> Resp {
        let shards: u64 = query
            .get("shards")
            .and_then(|s| s.parse().ok())
            .unwrap_or(1)
            .max(1);
        let shard: u64 = query.get("shard").and_then(|s| s.parse().ok()).unwrap_or(0);
        let cursor: u64 = query
            .get("cursor")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let run = query.get("run").map_or("", String::as_str);
        let mut endpoints = Vec::new();
        let mut i = cursor;
        while i < self.config.endpoints && endpoints.len() < self.config.page_size {
            if i % shards == shard {
                endpoints.push(self.endpoint(i, run));
            }
            i += 1;
        }
        let next_cursor = (i < self.config.endpoints).then(|| i.to_string());
        json(
            StatusCode::OK,
            &EndpointPage {
                endpoints,
                next_cursor,
            },
        )
    }

    fn endpoint(&self, i: u64, run: &str) -> ProbeEndpoint {
        let spec = serde_json::json!({
            "id": format!("t{i}"),
            "org_id": "farm",
            "name": format!("farm target {i}"),
            "check": {"type": "http", "url": self.target_url(i, run), "timeout_ms": self.config.timeout_ms},
            "apdex_t_ms": 100,
        });
        serde_json::from_value(spec).unwrap_or_else(|e| panic!("farm endpoint {i}: {e}"))
    }

    async fn sink_post(&self, req: Request<Incoming>, failures: bool) -> Resp {
        {
            let mut sink = self.state.sink.lock().unwrap_or_else(|p| p.into_inner());
            if sink.fail_next > 0 {
                sink.fail_next -= 1;
                sink.snapshot.rejected_posts += 1;
                let status = StatusCode::from_u16(sink.fail_status)
                    .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                let mut resp = text(status, "injected failure");
                resp.headers_mut()
                    .insert("retry-after", hyper::header::HeaderValue::from_static("0"));
                return resp;
            }
        }
        let body = match Limited::new(req.into_body(), 16 * 1024 * 1024)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "batch too large"),
        };
        let batch: ResultBatch = match scoville_core::parse::from_json(&body) {
            Ok(b) => b,
            Err(e) => return text(StatusCode::BAD_REQUEST, &e.to_string()),
        };
        let count = batch.results.len();
        let mut sink = self.state.sink.lock().unwrap_or_else(|p| p.into_inner());
        sink.snapshot.batches += 1;
        for r in batch.results {
            let id = r.endpoint_id.to_string();
            if failures {
                sink.snapshot.failures += 1;
                sink.snapshot.failure_ids.push(id);
            } else {
                sink.snapshot.results += 1;
                if sink.seen.insert((id.clone(), r.started_at_ms)) {
                    sink.snapshot.distinct_results += 1;
                }
                let outcome = r.report.outcome.to_string();
                sink.snapshot
                    .totals
                    .insert(id, (r.report.timings.total_ms, outcome));
            }
        }
        let status = if failures {
            StatusCode::ACCEPTED
        } else {
            StatusCode::CREATED
        };
        json(status, &serde_json::json!({ "queued": count }))
    }
}

fn text(status: StatusCode, body: &str) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::copy_from_slice(body.as_bytes())));
    *resp.status_mut() = status;
    resp
}

fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Resp {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

/// Decrements the in-flight gauge when a target request ends, however it ends.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
