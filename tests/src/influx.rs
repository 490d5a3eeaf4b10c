//! A real `influxd` (InfluxDB 1.x, the v1 HTTP API) on free loopback ports with its own
//! directories, owned by one test or benchmark, stoppable and restartable on the same
//! port and data for outage tests; killed (and its data removed) when dropped.
//! `.ci/run` installs Debian's influxdb.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An influxd child process with its own directories and ports; killed when dropped.
#[derive(Debug)]
pub struct InfluxServer {
    /// Its HTTP port.
    pub port: u16,
    rpc_port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
}

impl InfluxServer {
    /// Starts a server on free ports.
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

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops it (an outage).
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
