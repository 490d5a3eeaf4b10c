//! The workspace's service binaries as child processes, for the system suites (started
//! through [`crate::launch`]): built once per test binary the way the end-to-end test
//! builds them, started with their stdout and stderr appended to files (a restarted
//! service keeps its earlier lives' logs), and killed (SIGKILL), stopped (SIGSTOP),
//! resumed (SIGCONT) and started again with the same arguments. Killed when dropped.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Brings the workspace's binaries up to date in the target directory and profile the
/// calling test was built with, once per process, and returns the directory holding them
/// (`<target>/<profile>/`).
///
/// As `tests/e2e.rs` explains: they are built as `cargo test --no-run --workspace`
/// builds them (the same feature set as the suite's own build, so after `cargo nextest
/// run --workspace` this is a no-op), with Cargo's per-crate variables removed so that
/// nothing is rebuilt for a differing `CARGO_MANIFEST_DIR`.
///
/// With `SCOVILLE_TESTS_PREBUILT=1` nothing is built: the binaries already in that
/// directory are used as they are (for running one suite while the rest of the
/// workspace is being edited and may not compile).
pub fn binaries() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test's own path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test runs from <target>/<profile>/deps")
            .to_path_buf();
        let target_dir = profile_dir
            .parent()
            .expect("<target>/<profile>")
            .to_path_buf();
        if std::env::var_os("SCOVILLE_TESTS_PREBUILT").is_some_and(|v| v == "1") {
            return profile_dir;
        }
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the workspace root");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if [
                "CARGO_MANIFEST_",
                "CARGO_PKG_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
            ]
            .iter()
            .any(|p| k.starts_with(p))
                || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&&*k)
            {
                build.env_remove(&*k);
            }
        }
        build
            .current_dir(workspace)
            .args([
                "test",
                "--no-run",
                "--locked",
                "--workspace",
                "--target-dir",
            ])
            .arg(&target_dir);
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => {}
            Some("release") => {
                build.arg("--release");
            }
            Some(other) => {
                build.args(["--profile", other]);
            }
        }
        let started = Instant::now();
        let status = build
            .status()
            .unwrap_or_else(|e| panic!("running cargo: {e}"));
        assert!(status.success(), "building the services failed");
        eprintln!("binaries ready in {:?}", started.elapsed());
        profile_dir
    })
}

/// The path of binary `name` (built by [`binaries`]).
pub fn bin(name: &str) -> PathBuf {
    let path = binaries().join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// A fresh directory under the system's temporary directory.
pub fn temp_dir(prefix: &str) -> PathBuf {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Sends `signal` (a name `kill -s` knows: `STOP`, `CONT`, `TERM`, `KILL`) to `pid`.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .status()
        .unwrap_or_else(|e| panic!("running kill: {e}"));
    assert!(status.success(), "kill -s {signal} {pid} failed");
}

/// The environment every service child gets: AWS credentials and region for moto, no
/// stray `SCOVILLE_*` overrides from the caller's environment, and info logs.
pub fn child_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SCOVILLE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", crate::moto::REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "info,aws_config=warn,aws_smithy_runtime=warn")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL");
}

/// A service process: stdout and stderr appended to `<dir>/<name>.out` and
/// `<dir>/<name>.err` across lives ([`Service::wait_line`] reads only what this life
/// printed); killed when dropped.
#[derive(Debug)]
pub struct Service {
    /// Its name in logs and file names.
    pub name: String,
    binary: PathBuf,
    args: Vec<String>,
    dir: PathBuf,
    child: Option<Child>,
    /// Where this life's stdout starts in the file.
    stdout_from: usize,
    /// How many times it was started.
    pub starts: u32,
}

impl Service {
    /// Starts binary `binary` (see [`bin`]) with `args` as `name`, logs in `dir`.
    pub fn spawn(dir: &Path, name: &str, binary: &str, args: &[&str]) -> Self {
        let mut me = Self {
            name: name.to_string(),
            binary: bin(binary),
            args: args.iter().map(|s| s.to_string()).collect(),
            dir: dir.to_path_buf(),
            child: None,
            stdout_from: 0,
            starts: 0,
        };
        me.start();
        me
    }

    fn stdout_path(&self) -> PathBuf {
        self.dir.join(format!("{}.out", self.name))
    }

    fn start(&mut self) {
        assert!(self.child.is_none(), "{} is running", self.name);
        let append = |path: PathBuf| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap()
        };
        let stdout = append(self.stdout_path());
        self.stdout_from = stdout.metadata().unwrap().len() as usize;
        let mut cmd = Command::new(&self.binary);
        cmd.args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(append(self.dir.join(format!("{}.err", self.name))));
        child_env(&mut cmd);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {} ({}): {e}", self.name, self.binary.display()));
        self.child = Some(child);
        self.starts += 1;
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL (no chance to finish anything) and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends `sig` (see [`signal`]) to the running process.
    pub fn signal(&self, sig: &str) {
        signal(self.pid().expect("the process runs"), sig);
    }

    /// SIGKILL (if it runs), then start again with the same arguments.
    pub fn restart(&mut self) {
        self.kill();
        self.start();
    }

    /// Whether it has exited (and how).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// What this life printed on stdout so far.
    fn this_life(&self) -> String {
        let all = std::fs::read(self.stdout_path()).unwrap_or_default();
        String::from_utf8_lossy(all.get(self.stdout_from..).unwrap_or_default()).into_owned()
    }

    /// Waits (up to 60 s) until this life printed a line starting with `prefix` on
    /// stdout and returns the rest of it; panics with the logs if it exits first.
    pub async fn wait_line(&mut self, prefix: &str) -> String {
        match self.try_wait_line(prefix, Duration::from_secs(60)).await {
            Ok(rest) => rest,
            Err(why) => panic!("{} {why}{}", self.name, tails(&self.dir, 80)),
        }
    }

    /// Waits (up to `patience`) until this life printed a line starting with `prefix`
    /// on stdout and returns the rest of it; else says why not (it exited, or the time
    /// ran out).
    pub async fn try_wait_line(
        &mut self,
        prefix: &str,
        patience: Duration,
    ) -> Result<String, String> {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(line) = self.this_life().lines().find(|l| l.starts_with(prefix)) {
                return Ok(line[prefix.len()..].trim().to_string());
            }
            if let Some(status) = self.exited() {
                return Err(format!("exited ({status}) before printing {prefix:?}"));
            }
            if Instant::now() >= deadline {
                return Err(format!("did not print {prefix:?} within {patience:?}"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `lines` lines of every `.out` and `.err` file in `dir`.
pub fn tails(dir: &Path, lines: usize) -> String {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("out" | "err")));
    files.sort();
    let mut out = String::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        let from = all.len().saturating_sub(lines);
        out.push_str(&format!(
            "\n===== {} ({} lines, last {}) =====\n",
            path.file_name().unwrap().to_string_lossy(),
            all.len(),
            all.len() - from
        ));
        for l in &all[from..] {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}
