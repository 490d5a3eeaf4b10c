//! Debian's headless Chromium, driven through chromedriver (WebDriver, with fantoccini),
//! for the web UI's tests and benchmarks: [`Browser::start`] finds both programs,
//! starts chromedriver on a free loopback port and a Chromium session with the flags
//! this machine needs (no sandbox as root, no GPU, no background networking: the
//! network is closed), and kills chromedriver when dropped.
//!
//! `CHROMIUM` and `CHROMEDRIVER` name other binaries than the ones on the `PATH`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};

/// A program on the PATH (or named by the environment variable `var`).
pub fn program(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// Chromium under chromedriver; chromedriver (and with it Chromium) ends when dropped.
#[derive(Debug)]
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    _driver: tokio::process::Child,
}

impl Browser {
    /// A headless Chromium session with a `width`×`height` window, or `None` when
    /// chromium or chromedriver is not installed.
    ///
    /// # Panics
    /// When chromedriver does not start within 20 s or refuses the session.
    pub async fn start(width: u32, height: u32) -> Option<Self> {
        let chromium = program(
            "CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        )?;
        let chromedriver = program("CHROMEDRIVER", &["chromedriver"])?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = tokio::process::Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !answers_status(&addr).await {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--no-first-run",
                         format!("--window-size={width},{height}"), "--lang=en-US"],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://{addr}"))
            .await
            .expect("a Chromium session");
        Some(Self {
            client,
            _driver: driver,
        })
    }
}

/// Whether chromedriver answers `GET /status` with 200 at `addr` (a bare HTTP/1.1
/// request: this crate has no HTTP client).
async fn answers_status(addr: &str) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let request = format!("GET /status HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        Some(head.starts_with(b"HTTP/1.1 200"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), exchange).await,
        Ok(Some(true))
    )
}
