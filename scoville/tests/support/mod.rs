//! What the `scoville up` tests share: a temporary data directory, a target whose health
//! the test switches, `scoville up` started for tests (free port, no probe loop: tests
//! drive rounds), API calls with a key, polling, and the kinds of notices a webhook got.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use scoville::up::{Options, Running, start};
use scoville_tests::recorder::Recorder;
use serde_json::Value;

/// A directory under the system's temporary one, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    /// A fresh, empty `scoville-up-<name>-<pid>`.
    pub fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("scoville-up-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `scoville up`'s options for tests: a free port, no probe loop.
pub fn options(dir: &TempDir) -> Options {
    Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        probe_interval: None,
        ..Options::new(&dir.0)
    }
}

/// `scoville up` started on `dir`, and the first run's API key.
pub async fn started(dir: &TempDir) -> (Running, String) {
    let running = start(&options(dir)).await.unwrap();
    let first = scoville::first_run::ensure(&running.admin_url, "local")
        .await
        .unwrap()
        .unwrap();
    (running, first.api_key)
}

/// A target answering 200 "ok" at `/health` while `up`, 503 otherwise; its URL.
pub async fn target(up: Arc<AtomicBool>) -> String {
    let app = axum::Router::new().route(
        "/health",
        axum::routing::get(move || {
            let up = up.clone();
            async move {
                if up.load(Ordering::SeqCst) {
                    (axum::http::StatusCode::OK, "ok")
                } else {
                    (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down")
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/health", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Calls the API with `key`; a success is expected; its JSON (null when none).
pub async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    key: &str,
    body: Option<Value>,
) -> Value {
    let mut req = http.request(method, &url).bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{url}: {status} {body}");
    body
}

/// Polls `f` until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The notice kinds a webhook got, in order.
pub fn kinds(hook: &Recorder) -> Vec<String> {
    hook.requests()
        .iter()
        .map(|r| r.json()["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}
