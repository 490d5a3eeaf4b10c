//! Test helpers for the history tests: a real `influxd` on free ports, owned by the test
//! (the approach of `receiver-service/tests/support`), and a deterministic generator of
//! check results with the figures the tests expect computed from them independently.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use scoville_core::{
    CheckReport, CheckResult, DownReason, EndpointId, OrgId, Outcome, Region, RunId, Timings,
    WarningReason,
};

pub use scoville_tests::influx::InfluxServer;

/// A temporary directory removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("scoville-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600_000;
pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 3_600_000;
/// Hours of data generated.
pub const HOURS: i64 = 6;
/// Apdex T of the generated checks.
pub const APDEX_T: u32 = 100;
/// The regions, with their base latencies: three quite different distributions, so
/// that merging percentiles across regions is really tested.
pub const REGIONS: [(&str, f64); 3] = [
    ("ap-southeast-2", 220.0),
    ("eu-west-1", 40.0),
    ("us-east-1", 90.0),
];
/// The endpoint under test, of org `org-a`.
pub const ORG: &str = "org-a";
pub const ENDPOINT: &str = "ep-1";
/// Noise: another org's endpoint, and another endpoint of the same org.
pub const OTHER_ORG: &str = "org-b";
pub const OTHER_ORG_ENDPOINT: &str = "ep-2";
pub const OTHER_ENDPOINT: &str = "ep-3";
/// us-east-1 misses these minutes of hour 4 (minutes 250..260 from T0).
pub const GAP: std::ops::Range<i64> = 250..260;

/// splitmix64: deterministic, dependency-free.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Rounds to the microsecond, as the tests compare stored values exactly.
pub fn us(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// One check result of `org`/`endpoint` in `region` started at `at_ms`.
pub fn result(
    rng: &mut Rng,
    org: &str,
    endpoint: &str,
    region: &str,
    base: f64,
    at_ms: i64,
) -> CheckResult {
    // Log-normal around the region's base (σ = 0.35), 2 % slow outliers at 4×.
    let mut total = us(base * (0.35 * rng.normal()).exp());
    if rng.unit() < 0.02 {
        total = us(total * 4.0);
    }
    let roll = rng.unit();
    let (outcome, status, message) = if roll < 0.03 {
        total = 5000.0;
        (
            Outcome::Down(DownReason::Timeout),
            None,
            "no answer within 5000 ms, \"deadline\" passed\nafter connect".to_string(),
        )
    } else if roll < 0.05 {
        (
            Outcome::Warning(WarningReason::CertExpiryWarn),
            Some(200),
            "=certificate expires in 9 days".to_string(),
        )
    } else if roll < 0.07 {
        (
            Outcome::Down(DownReason::Status),
            Some(503),
            "HTTP 503, expected 200".to_string(),
        )
    } else {
        (Outcome::Up, Some(200), "HTTP 200".to_string())
    };
    let timed = !matches!(outcome, Outcome::Down(DownReason::Timeout));
    let timings = Timings {
        dns_ms: timed.then(|| us(total * 0.05)),
        connect_ms: timed.then(|| us(total * 0.1)),
        tls_ms: timed.then(|| us(total * 0.2)),
        ttfb_ms: timed.then(|| us(total * 0.5)),
        total_ms: total,
    };
    CheckResult {
        endpoint_id: EndpointId::parse(endpoint).unwrap(),
        org_id: OrgId::parse(org).unwrap(),
        region: Region::parse(region).unwrap(),
        run_id: RunId::parse(format!("run-{}", at_ms / MINUTE)).unwrap(),
        scheduled_at_ms: at_ms - at_ms % MINUTE,
        started_at_ms: at_ms,
        apdex_t_ms: Some(APDEX_T),
        mean_limit_ms: None,
        report: CheckReport {
            outcome,
            message,
            status,
            timings,
            bytes: if timed { 512 + (at_ms % 97) as u64 } else { 0 },
            truncated: false,
            cert_expires_at_ms: None,
            domain_expires_at_ms: None,
            body_hash: None,
            watch_excerpt: None,
            ip: None,
            redirects: 0,
        },
    }
}

/// The generated results: the endpoint under test in every region once a minute for
/// [`HOURS`] hours (with the us-east-1 gap), plus the noise endpoints.
pub fn generate() -> Vec<CheckResult> {
    let mut rng = Rng::new(7);
    let mut out = Vec::new();
    for m in 0..HOURS * 60 {
        for (i, (region, base)) in REGIONS.iter().enumerate() {
            if *region == "us-east-1" && GAP.contains(&m) {
                continue;
            }
            let at = T0 + m * MINUTE + 1_000 * i as i64 + 137;
            out.push(result(&mut rng, ORG, ENDPOINT, region, *base, at));
            // Noise with very different numbers: if it leaked in, counts would show it.
            out.push(result(
                &mut rng,
                OTHER_ORG,
                OTHER_ORG_ENDPOINT,
                region,
                900.0,
                at + 5,
            ));
        }
        out.push(result(
            &mut rng,
            ORG,
            OTHER_ENDPOINT,
            "eu-west-1",
            1500.0,
            T0 + m * MINUTE + 20_000,
        ));
    }
    out
}

/// What the figures of a set of results are, computed here from the results alone.
#[derive(Debug, Default, Clone)]
pub struct Truth {
    pub count: u64,
    pub up: u64,
    pub satisfied: u64,
    pub tolerating: u64,
    pub frustrated: u64,
    /// Latencies of up checks, sorted.
    pub latencies: Vec<f64>,
}

impl Truth {
    /// The results of the endpoint under test (optionally of one region) started in
    /// `[from, to)`.
    pub fn of(results: &[CheckResult], region: Option<&str>, from: i64, to: i64) -> Self {
        let mut t = Truth::default();
        for r in results.iter().filter(|r| {
            r.org_id.as_str() == ORG
                && r.endpoint_id.as_str() == ENDPOINT
                && region.is_none_or(|g| r.region.as_str() == g)
                && (from..to).contains(&r.started_at_ms)
        }) {
            t.count += 1;
            let up = !matches!(r.report.outcome, Outcome::Down(_));
            let total = r.report.timings.total_ms;
            let limit = f64::from(APDEX_T);
            if up {
                t.up += 1;
                t.latencies.push(total);
            }
            if !up || total > 4.0 * limit {
                t.frustrated += 1;
            } else if total > limit {
                t.tolerating += 1;
            } else {
                t.satisfied += 1;
            }
        }
        t.latencies.sort_by(f64::total_cmp);
        t
    }

    pub fn uptime(&self) -> Option<f64> {
        (self.count > 0).then(|| self.up as f64 / self.count as f64)
    }

    pub fn apdex(&self) -> Option<f64> {
        (self.count > 0)
            .then(|| (self.satisfied as f64 + self.tolerating as f64 / 2.0) / self.count as f64)
    }

    pub fn mean(&self) -> Option<f64> {
        (!self.latencies.is_empty())
            .then(|| self.latencies.iter().sum::<f64>() / self.latencies.len() as f64)
    }

    /// Nearest-rank percentile, as InfluxDB's `percentile()` defines it.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        let n = self.latencies.len();
        if n == 0 {
            return None;
        }
        let rank = ((n as f64 * p / 100.0 + 0.5) as usize).clamp(1, n);
        Some(self.latencies[rank - 1])
    }
}

/// Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
        } else {
            match c {
                '"' => quoted = true,
                ',' => row.push(std::mem::take(&mut field)),
                '\r' => {}
                '\n' => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                c => field.push(c),
            }
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}
