//! A real headless Chromium for the UI tests (Debian's `chromium` and `chromedriver`,
//! driven through WebDriver with fantoccini), and the few waits and actions they share.
//! `.ci/run` installs both; without them [`Browser::start`] fails when `CI` is set and
//! gives none (the test warns and returns) otherwise. `CHROMIUM` and `CHROMEDRIVER` name
//! other binaries. (`ui.rs` and `ui_status.rs` still carry their own copies.)

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// A program on the PATH (or named by `var`).
fn program(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// chromedriver on a free loopback port and a headless Chromium session on it; the
/// driver is killed when dropped.
pub struct Browser {
    _driver: tokio::process::Child,
    /// The WebDriver session.
    pub client: Client,
}

impl Browser {
    /// Starts one at 1280 × 900, or none (with a warning) outside CI without Chromium.
    pub async fn start() -> Option<Self> {
        let chromium = program(
            "CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        let chromedriver = program("CHROMEDRIVER", &["chromedriver"]);
        let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
            if std::env::var_os("CI").is_some() {
                panic!("chromium and chromedriver are required in CI (.ci/run installs them)");
            }
            eprintln!(
                "WARNING: skipping the browser test: apt-get install chromium chromium-driver"
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = tokio::process::Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{url}/status")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--window-size=1280,900", "--lang=en-US"],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .unwrap();
        Some(Self {
            _driver: driver,
            client,
        })
    }
}

/// Saves a screenshot under `$CARGO_TARGET_DIR/ui-screenshots/`.
pub async fn screenshot(browser: &Client, name: &str) {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, browser.screenshot().await.unwrap()).unwrap();
    println!("screenshot: {}", path.display());
}

/// Waits (15 s at most) for an element.
pub async fn wait_for(browser: &Client, css: &str) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
}

/// Clicks an element once it is there.
pub async fn click(browser: &Client, css: &str) {
    wait_for(browser, css).await.click().await.unwrap();
}

/// Replaces the text of the input `css`.
pub async fn fill(browser: &Client, css: &str, text: &str) {
    let input = wait_for(browser, css).await;
    input.clear().await.unwrap();
    input.send_keys(text).await.unwrap();
}

/// Waits until the text of `css` contains `want`, and returns it.
pub async fn wait_text(browser: &Client, css: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(e) = browser.find(Locator::Css(css)).await
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
