//! Prometheus metrics every service shares, in one implementation: [`HttpMetrics`]
//! counts each HTTP request by route template, method and status class and times it in
//! a histogram (an axum middleware, [`HttpMetrics::instrument`], that reads the route
//! template from [`MatchedPath`], so `/v1/endpoints/{id}` is one series however many ids
//! are asked); [`text`] writes the text exposition format with its escapes; [`check`]
//! reads it back strictly, for tests.
//!
//! Labels stay low-cardinality by construction: route templates come from the route
//! table (a request matching no route is `route="unmatched"`), methods outside the
//! standard ones are `other`, statuses are classes (`2xx`, ...). Never an id or a URL.

pub mod check;
pub mod text;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use text::{Exposition, MetricType};

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Bucket bounds (seconds) of request latency histograms.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The route label of a request that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// A `/metrics` answer: `text` with the exposition format's content type.
pub fn response(text: String) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}

/// A histogram's state: observations per bucket (not cumulative; [`Exposition`] sums
/// them), their sum and count.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    /// An empty histogram over `bounds` (increasing; `+Inf` is implied).
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    /// Records one observation.
    pub fn observe(&mut self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }

    /// The upper bounds.
    pub fn bounds(&self) -> &'static [f64] {
        self.bounds
    }

    /// Observations per bucket, not cumulative (those above the last bound are only in
    /// the count).
    pub fn bucket_counts(&self) -> &[u64] {
        &self.counts
    }

    /// The sum of the observations.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// How many observations.
    pub fn count(&self) -> u64 {
        self.count
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// (route, method, status class) → requests.
    requests: BTreeMap<(String, &'static str, &'static str), u64>,
    /// (route, method) → latency.
    latency: BTreeMap<(String, &'static str), Histogram>,
}

/// Requests by route template, method and status class, and their latency; cheap to
/// clone (shared).
#[derive(Debug, Clone, Default)]
pub struct HttpMetrics {
    inner: Arc<Mutex<Inner>>,
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_class(s: StatusCode) -> &'static str {
    match s.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The request counter's name.
pub const REQUESTS: &str = "scoville_http_requests_total";
/// The latency histogram's name.
pub const DURATION: &str = "scoville_http_request_duration_seconds";

impl HttpMetrics {
    /// No requests yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records one answered request. `route` is a template from the route table (or
    /// [`UNMATCHED`]), never a concrete path.
    pub fn record(&self, route: &str, method: &Method, status: StatusCode, elapsed: Duration) {
        let method = method_label(method);
        let mut inner = self.lock();
        *inner
            .requests
            .entry((route.to_string(), method, status_class(status)))
            .or_insert(0) += 1;
        inner
            .latency
            .entry((route.to_string(), method))
            .or_insert_with(|| Histogram::new(LATENCY_BUCKETS))
            .observe(elapsed.as_secs_f64());
    }

    /// Requests recorded for `route` and `method` with a status of `class` (`2xx`, ...).
    pub fn requests(&self, route: &str, method: &Method, class: &str) -> u64 {
        let method = method_label(method);
        self.lock()
            .requests
            .iter()
            .filter(|((r, m, c), _)| r == route && *m == method && *c == class)
            .map(|(_, n)| *n)
            .sum()
    }

    /// Writes both families (with their HELP and TYPE even before the first request).
    pub fn render(&self, e: &mut Exposition) {
        let inner = self.lock();
        e.family(
            REQUESTS,
            MetricType::Counter,
            "HTTP requests answered, by route template, method and status class.",
        );
        for ((route, method, status), n) in &inner.requests {
            e.sample(
                REQUESTS,
                &[("route", route), ("method", method), ("status", status)],
                *n as f64,
            );
        }
        e.family(
            DURATION,
            MetricType::Histogram,
            "Time from a request's arrival to its answer's headers, by route template and method.",
        );
        for ((route, method), h) in &inner.latency {
            e.histogram(DURATION, &[("route", route), ("method", method)], h);
        }
    }

    /// Both families as text.
    pub fn render_text(&self) -> String {
        let mut e = Exposition::new();
        self.render(&mut e);
        e.finish()
    }

    /// `router` with every request recorded here. Apply it to the finished route table
    /// (after the last `route`), so every route carries its template.
    pub fn instrument<S: Clone + Send + Sync + 'static>(&self, router: Router<S>) -> Router<S> {
        router.layer(axum::middleware::from_fn_with_state(self.clone(), track))
    }
}

/// The middleware: times the inner service up to its response's headers.
async fn track(State(m): State<HttpMetrics>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let method = req.method().clone();
    let started = Instant::now();
    let resp = next.run(req).await;
    m.record(
        route.as_deref().unwrap_or(UNMATCHED),
        &method,
        resp.status(),
        started.elapsed(),
    );
    resp
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    #[test]
    fn histogram_buckets() {
        let mut h = Histogram::new(&[0.1, 1.0]);
        h.observe(0.05);
        h.observe(0.5);
        h.observe(3.0);
        assert_eq!(h.bucket_counts(), &[1, 1]);
        assert_eq!(h.count(), 3);
        assert!((h.sum() - 3.55).abs() < 1e-9);
        let mut e = Exposition::new();
        e.family("h", MetricType::Histogram, "h")
            .histogram("h", &[], &h);
        let text = e.finish();
        assert!(
            text.contains(
                "h_bucket{le=\"0.1\"} 1\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 3\n"
            )
        );
        check::parse(&text).unwrap();
    }

    #[tokio::test]
    async fn the_middleware_labels_by_route_template_and_status_class() {
        let m = HttpMetrics::new();
        let router: Router = m.instrument(
            Router::new()
                .route("/things/{id}", get(|| async { "thing" }))
                .route(
                    "/fail",
                    post(|| async { (StatusCode::SERVICE_UNAVAILABLE, "no") }),
                ),
        );
        for (method, path) in [
            ("GET", "/things/1"),
            ("GET", "/things/2"),
            ("POST", "/fail"),
            ("GET", "/nowhere/at/all?x=1"),
            ("BREW", "/things/3"),
        ] {
            let req = Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .unwrap();
            router.clone().oneshot(req).await.unwrap();
        }
        assert_eq!(m.requests("/things/{id}", &Method::GET, "2xx"), 2);
        assert_eq!(m.requests("/fail", &Method::POST, "5xx"), 1);
        assert_eq!(m.requests(UNMATCHED, &Method::GET, "4xx"), 1);
        let text = m.render_text();
        let parsed = check::parse(&text).unwrap();
        assert_eq!(
            parsed.value(
                "scoville_http_request_duration_seconds_count",
                &[("route", "/things/{id}"), ("method", "GET")]
            ),
            Some(2.0)
        );
        assert_eq!(
            parsed.value(REQUESTS, &[("route", "/things/{id}"), ("method", "other")]),
            Some(1.0),
            "an unknown method is `other`: {text}"
        );
        assert!(!text.contains("/things/1"), "no concrete path: {text}");
        assert!(!text.contains("nowhere"), "no unmatched path: {text}");
    }
}
