//! A real `redis-server` on a free loopback port, owned by one test (no persistence, or
//! an append-only file in its own directory with [`RedisServer::start_persistent`]),
//! stoppable (SIGKILL or SIGTERM) and restartable on the same port and data for outage
//! tests; killed (and its data removed) when dropped. `.ci/run` installs Debian's
//! redis-server.

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
}

impl RedisServer {
    /// Starts a server on a free port.
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self {
            port,
            child: None,
            persist: None,
        };
        server.restart();
        server
    }

    /// Starts a server on a free port with persistence as a production deployment
    /// configures it: `appendonly yes` (every write in the append-only file, replayed at
    /// start) with the given `appendfsync` policy (`always`, `everysec`), no RDB
    /// snapshots, in a directory of its own that restarts keep.
    pub fn start_persistent(appendfsync: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
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
