//! A real `redis-server` on a free loopback port, owned by one test (no persistence, or
//! an append-only file in its own directory with [`RedisServer::start_persistent`]),
//! stoppable (SIGKILL or SIGTERM) and restartable on the same port and data for outage
//! tests; killed (and its data removed) when dropped. With [`RedisServer::start_tls`]
//! it also serves TLS on a second port with the given certificate. `.ci/run` installs
//! Debian's redis-server (built with TLS).

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A redis-server child process; killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    /// Its port.
    pub port: u16,
    child: Option<Child>,
    /// With persistence: the data directory and the `appendfsync` policy.
    persist: Option<(std::path::PathBuf, String)>,
    /// With TLS: its port and the certificate chain and key files.
    tls: Option<(u16, std::path::PathBuf, std::path::PathBuf)>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl RedisServer {
    /// Starts a server on a free port.
    pub fn start() -> Self {
        let mut server = Self {
            port: free_port(),
            child: None,
            persist: None,
            tls: None,
        };
        server.restart();
        server
    }

    /// Starts a server that also serves TLS (no client certificates asked) on a second
    /// free port, with the PEM certificate chain and key in `cert` and `key`; the plain
    /// port stays for readiness and assertions.
    pub fn start_tls(cert: &std::path::Path, key: &std::path::Path) -> Self {
        let mut server = Self {
            port: free_port(),
            child: None,
            persist: None,
            tls: Some((free_port(), cert.to_path_buf(), key.to_path_buf())),
        };
        server.restart();
        server
    }

    /// `rediss://localhost:<tls port>/` (panics without TLS).
    pub fn tls_url(&self) -> String {
        let (port, _, _) = self.tls.as_ref().expect("started with start_tls");
        format!("rediss://localhost:{port}/")
    }

    /// Starts a server on a free port with persistence as a production deployment
    /// configures it: `appendonly yes` (every write in the append-only file, replayed at
    /// start) with the given `appendfsync` policy (`always`, `everysec`), no RDB
    /// snapshots, in a directory of its own that restarts keep.
    pub fn start_persistent(appendfsync: &str) -> Self {
        let port = free_port();
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("scoville-redis-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = Self {
            port,
            child: None,
            persist: Some((dir, appendfsync.to_string())),
            tls: None,
        };
        server.restart();
        server
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops it with SIGTERM (Redis flushes its append-only file and exits) and waits.
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-s", "TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops it (an outage) with SIGKILL: a crash.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts (again) on the same port (and data, when persistent), and waits for PING.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port.to_string();
        let mut args = vec!["--port", &port, "--bind", "127.0.0.1", "--save", ""];
        match &self.persist {
            None => args.extend(["--appendonly", "no"]),
            Some((dir, fsync)) => {
                args.extend([
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    fsync.as_str(),
                    "--dir",
                ]);
                args.push(dir.to_str().unwrap());
            }
        }
        let tls_port;
        if let Some((p, cert, key)) = &self.tls {
            tls_port = p.to_string();
            args.extend(["--tls-port", &tls_port, "--tls-auth-clients", "no"]);
            args.extend(["--tls-cert-file", cert.to_str().unwrap()]);
            args.extend(["--tls-key-file", key.to_str().unwrap()]);
        }
        let child = Command::new("redis-server")
            .args(&args)
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

    /// A synchronous connection, for assertions.
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
        if let Some((dir, _)) = &self.persist {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
