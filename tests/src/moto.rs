//! moto's server on a free loopback port, for tests of the real AWS SDK clients
//! (DynamoDB, SQS). `.ci/run` installs it (`pip install 'moto[server]'`); it is started as
//! `python3 -m moto.server`, so no shim on `PATH` is needed.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server; killed when dropped.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    port: u16,
}

/// Credentials and region the emulator accepts (any value works; these are fixed so
/// tests read alike).
pub const REGION: &str = "us-east-1";

impl MotoServer {
    /// Starts a server and waits until it answers (up to 30 s).
    ///
    /// # Panics
    /// When it cannot be started or does not answer: tests need it.
    pub fn start() -> Self {
        Self::spawn_on_free_port(|port| {
            [
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ]
            .map(String::from)
            .to_vec()
        })
    }

    /// A server answering one request at a time, for race tests: DynamoDB applies each
    /// request atomically (a transaction's conditions and writes), but moto's threaded
    /// server does not lock them, so two racing transactions can both pass their
    /// conditions there. Not for SQS long polls (they would hold up every other call).
    ///
    /// # Panics
    /// As [`MotoServer::start`].
    pub fn start_serial() -> Self {
        Self::spawn_on_free_port(|port| {
            let script = format!(
                "from werkzeug.serving import run_simple\n\
                 from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app\n\
                 run_simple('127.0.0.1', {port}, DomainDispatcherApplication(create_backend_app), threaded=False)\n"
            );
            vec!["-c".to_string(), script]
        })
    }

    fn spawn(port: u16, args: &[&str]) -> Result<Self, String> {
        let child = Command::new("python3")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting moto's server (pip install 'moto[server]'): {e}"));
        let mut me = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            // Ready when *it* answers HTTP: a bare TCP connect also succeeds when another
            // test's server took the port first (then moto exits, unable to bind).
            if let Ok(Some(status)) = me.child.try_wait() {
                return Err(format!(
                    "moto's server exited ({status}) before answering on port {port}"
                ));
            }
            if answers_http(port) {
                return Ok(me);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("moto's server did not answer on port {port} within 30 s");
    }

    /// [`Self::spawn`] on a free port made by `args_for`, again on another port when the
    /// first was taken meanwhile (at most 3 tries).
    fn spawn_on_free_port(args_for: impl Fn(u16) -> Vec<String>) -> Self {
        let mut why = String::new();
        for _ in 0..3 {
            let port = free_port();
            let args = args_for(port);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            match Self::spawn(port, &args) {
                Ok(me) => return me,
                Err(e) => why = e,
            }
        }
        panic!("{why}");
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server with SIGSTOP (an outage: connections are still accepted by the
    /// kernel but nothing is answered) until [`MotoServer::resume`]; its state is kept.
    ///
    /// # Panics
    /// When the signal cannot be sent.
    pub fn pause(&self) {
        self.send("STOP");
    }

    /// Lets a paused server go on (SIGCONT); it answers what waited meanwhile.
    ///
    /// # Panics
    /// When the signal cannot be sent.
    pub fn resume(&self) {
        self.send("CONT");
    }

    fn send(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("running kill: {e}"));
        assert!(status.success(), "kill -s {signal} moto failed");
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An SDK configuration pointing at this server with dummy credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_credential_types::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // A stopped process dies of SIGKILL too, but resume it first so no child is left
        // stopped if the kill raced.
        let _ = Command::new("kill")
            .args(["-s", "CONT", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Whether an HTTP server answers a request on `port` (any status).
fn answers_http(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).is_ok() && &head == b"HTTP/"
}
