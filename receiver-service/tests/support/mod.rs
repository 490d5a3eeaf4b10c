//! Test helpers: a real `redis-server` on a free port, owned by the test, and sample
//! batches.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A redis-server child process; killed when dropped.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self { port, child: None };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts (again) on the same port, with no persistence, and waits for PING.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server); .ci/run installs it");
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Ok(client) = redis::Client::open(self.url()) {
                if let Ok(mut c) = client.get_connection() {
                    if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                        return;
                    }
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A valid batch of `n` results as JSON.
pub fn batch(n: usize) -> serde_json::Value {
    let results: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "endpoint_id": format!("e{i}"), "org_id": "org-1", "region": "eu-west-1", "run_id": "r1",
                "scheduled_at_ms": 1_700_000_000_000i64, "started_at_ms": 1_700_000_000_000i64 + i as i64, "apdex_t_ms": 100,
                "outcome": "up", "reason": null, "message": "HTTP 200", "status": 200,
                "timings": {"dns_ms": null, "connect_ms": 0.2, "tls_ms": null, "ttfb_ms": 12.5, "total_ms": 13.0},
                "bytes": 2, "truncated": false, "cert_expires_at_ms": null, "body_hash": null, "ip": "203.0.113.9",
                "redirects": 0
            })
        })
        .collect();
    serde_json::json!({ "results": results })
}

/// An influxd child process with its own directories and ports; killed when dropped.
pub struct InfluxServer {
    pub port: u16,
    rpc_port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
}

impl InfluxServer {
    pub fn start() -> Self {
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("scoville-influx-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = Self {
            port: free(),
            rpc_port: free(),
            dir,
            child: None,
        };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts (again) on the same port and data, and waits for /ping.
    pub fn restart(&mut self) {
        self.stop();
        let d = self.dir.display();
        let config = format!(
            "reporting-enabled = false\nbind-address = \"127.0.0.1:{rpc}\"\n[meta]\n  dir = \"{d}/meta\"\n  logging-enabled = false\n\
             [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n[monitor]\n  store-enabled = false\n\
             [http]\n  bind-address = \"127.0.0.1:{http}\"\n  log-enabled = false\n[continuous_queries]\n  enabled = false\n",
            rpc = self.rpc_port,
            http = self.port,
        );
        let path = self.dir.join("influxdb.conf");
        std::fs::write(&path, config).unwrap();
        let child = Command::new("influxd")
            .arg("-config")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("influxd must be installed (apt-get install influxdb); .ci/run installs it");
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let _ = s.write_all(b"GET /ping HTTP/1.0\r\n\r\n");
                let mut buf = [0u8; 12];
                if s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.0 204") {
                    return;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "influxd did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for InfluxServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A batch of results for endpoints `e{first}..e{first+n}`, all started at `at_ms`, with
/// the given totals cycling.
pub fn batch_at(first: usize, n: usize, at_ms: i64, totals: &[f64], up: bool) -> serde_json::Value {
    let results: Vec<serde_json::Value> = (first..first + n)
        .map(|i| {
            let total = totals[i % totals.len()];
            serde_json::json!({
                "endpoint_id": format!("e{i}"), "org_id": "org-1", "region": "eu-west-1", "run_id": "r1",
                "scheduled_at_ms": at_ms, "started_at_ms": at_ms, "apdex_t_ms": 100,
                "outcome": if up { "up" } else { "down" }, "reason": if up { serde_json::Value::Null } else { "timeout".into() },
                "message": "a \"quoted\" message, with commas", "status": if up { serde_json::json!(200) } else { serde_json::Value::Null },
                "timings": {"dns_ms": null, "connect_ms": 0.2, "tls_ms": null, "ttfb_ms": total / 2.0, "total_ms": total},
                "bytes": 2, "truncated": false, "cert_expires_at_ms": null, "body_hash": null, "ip": null, "redirects": 0
            })
        })
        .collect();
    serde_json::json!({ "results": results })
}
