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
    /// As [`Browser::start`], for tests: without chromium or chromedriver, fails when
    /// `CI` is set (`.ci/run` installs both) and warns and gives `None` otherwise.
    pub async fn start_or_skip(width: u32, height: u32) -> Option<Self> {
        let browser = Self::start(width, height).await;
        if browser.is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "chromium and chromedriver are required in CI (.ci/run installs them)"
            );
            eprintln!(
                "WARNING: skipping the browser test: apt-get install chromium chromium-driver"
            );
        }
        browser
    }

    /// A headless Chromium session with a `width`×`height` window, or `None` when
    /// chromium or chromedriver is not installed.
    ///
    /// # Panics
    /// When chromedriver does not start within 20 s or refuses the session.
    pub async fn start(width: u32, height: u32) -> Option<Self> {
        Self::start_with(width, height, &[]).await
    }

    /// As [`Browser::start`], with more Chromium flags (`--force-dark-mode`, ...).
    ///
    /// # Panics
    /// When chromedriver does not start within 20 s or refuses the session.
    pub async fn start_with(width: u32, height: u32, extra: &[&str]) -> Option<Self> {
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
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--lang=en-US",
        ]
        .iter()
        .map(|a| (*a).to_string())
        .collect();
        args.push(format!("--window-size={width},{height}"));
        args.extend(extra.iter().map(|a| (*a).to_string()));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": chromium, "args": args }),
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

/// Waits (15 s at most) for an element; on failure saves `failure.png` and says what
/// the page showed.
///
/// # Panics
/// When it does not appear.
pub async fn wait_for(browser: &Client, css: &str) -> fantoccini::elements::Element {
    match browser
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(fantoccini::Locator::Css(css))
        .await
    {
        Ok(e) => e,
        Err(e) => {
            // What the page showed instead, for whoever reads the failure.
            screenshot(browser, "failure.png").await;
            let text = browser
                .execute("return document.body.innerText", Vec::new())
                .await
                .ok();
            panic!("{css} did not appear: {e}; the page said: {text:?}")
        }
    }
}

/// Clicks an element once it is there.
///
/// # Panics
/// When it does not appear or cannot be clicked.
pub async fn click(browser: &Client, css: &str) {
    wait_for(browser, css)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

/// Replaces the text of the input `css`.
///
/// # Panics
/// When it does not appear or takes no keys.
pub async fn fill(browser: &Client, css: &str, text: &str) {
    let input = wait_for(browser, css).await;
    input.clear().await.unwrap_or_else(|e| panic!("{css}: {e}"));
    input
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
}

/// Waits (15 s at most) until the text of `css` contains `want`, and returns it.
///
/// # Panics
/// When it does not within 15 s.
pub async fn wait_text(browser: &Client, css: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(e) = browser.find(fantoccini::Locator::Css(css)).await
            && let Ok(text) = e.text().await
            && text.contains(want)
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{css} never said {want:?} within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Saves a screenshot as `name` under `$CARGO_TARGET_DIR/ui-screenshots/` (`target/`
/// by default) and says where.
///
/// # Panics
/// When the browser or the file system refuses.
pub async fn screenshot(browser: &Client, name: &str) {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    let path = dir.join(name);
    let png = browser.screenshot().await.expect("a screenshot");
    std::fs::write(&path, png).expect("the screenshot written");
    println!("screenshot: {}", path.display());
}
