//! The probe's configuration, in layers: built-in defaults, then the TOML file given with
//! `--config`, then environment variables `SCOVILLE_<SECTION>__<KEY>` (for example
//! `SCOVILLE_PROBE__REGION=eu-west-1`). Invalid configuration stops the program at start
//! with a message naming the key.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use scoville_check_engine::rdap::RdapConfig;
use scoville_check_engine::{EngineConfig, IcmpMode};
use scoville_core::wire::{ProbeScope, Shard};
use scoville_core::{AddressPolicy, Region};
use serde::{Deserialize, Serialize};

use scoville_service_kit::config::err;
pub use scoville_service_kit::config::{ConfigError, LogSection};

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where and how the probe runs.
    pub probe: ProbeSection,
    /// Where the endpoint list comes from.
    pub endpoints: EndpointsSection,
    /// The receiver service (every result).
    pub receiver: ServiceSection,
    /// The failure service (failures, and results of endpoints that are down).
    pub failure_service: ServiceSection,
    /// Batching, retries and the carry-over buffer.
    pub delivery: DeliverySection,
    /// Domain expiry lookups over RDAP (see [`crate::domains`]).
    pub rdap: RdapSection,
    /// Logging.
    pub log: LogSection,
}

/// `[probe]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeSection {
    /// Region name reported with every result.
    pub region: String,
    /// This probe's shard of the region (0-based).
    pub shard: u32,
    /// How many shards the region is split into.
    pub shards: u32,
    /// Seconds between rounds.
    pub interval_secs: u64,
    /// Most checks in flight (and so sockets open) at once. Lambda allows 1,024 fds.
    pub max_in_flight: usize,
    /// Fraction of the interval over which check start times are spread (0 = all at once).
    pub spread: f64,
    /// Allow loopback, private and link-local targets (self-hosted monitoring only).
    pub allow_private: bool,
    /// Single addresses allowed whatever their range.
    pub allow_addresses: Vec<IpAddr>,
    /// Fixed name answers, `"host=ip"`, checked by the address guard like DNS answers.
    pub resolve: Vec<String>,
    /// Extra trusted CA certificate files (PEM).
    pub extra_ca_files: Vec<PathBuf>,
    /// Threads driving the checks: 1 (the default) runs everything on one event loop,
    /// 0 uses one thread per core. On loopback benchmarks one loop spends about 10 µs
    /// less CPU per check than a work-stealing pool (fewer cross-thread wakeups) and
    /// keeps up with 10,000 checks a second; TLS-heavy fleets on big machines may want more.
    pub worker_threads: usize,
    /// Serve /healthz, /readyz and /metrics here (`probe run` only).
    pub listen: Option<SocketAddr>,
}

impl Default for ProbeSection {
    fn default() -> Self {
        Self {
            region: "local".into(),
            shard: 0,
            shards: 1,
            interval_secs: 60,
            max_in_flight: 1000,
            spread: 0.5,
            allow_private: false,
            allow_addresses: Vec::new(),
            resolve: Vec::new(),
            extra_ca_files: Vec::new(),
            worker_threads: 1,
            listen: None,
        }
    }
}

/// `[endpoints]`: exactly one of `file` and `api_url`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EndpointsSection {
    /// A JSON or TOML file listing endpoints (standalone use).
    pub file: Option<PathBuf>,
    /// The admin API's base URL; the probe calls `GET /v1/probe/endpoints` on it.
    pub api_url: Option<String>,
    /// Probe token for the admin API.
    pub token: Option<String>,
    /// Timeout of each page request, ms.
    pub timeout_ms: u64,
    /// Most pages fetched in one round (a bound against a runaway cursor).
    pub max_pages: u32,
}

impl Default for EndpointsSection {
    fn default() -> Self {
        Self {
            file: None,
            api_url: None,
            token: None,
            timeout_ms: 10_000,
            max_pages: 1000,
        }
    }
}

/// `[receiver]` and `[failure_service]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceSection {
    /// Base URL; unset means results of this kind are not sent anywhere (logged only).
    pub url: Option<String>,
    /// Probe token (bearer).
    pub token: Option<String>,
    /// Timeout of each POST, ms.
    pub timeout_ms: u64,
}

impl Default for ServiceSection {
    fn default() -> Self {
        Self {
            url: None,
            token: None,
            timeout_ms: 10_000,
        }
    }
}

/// `[delivery]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySection {
    /// Results per POST.
    pub batch_size: usize,
    /// A partial batch is sent after this many ms.
    pub flush_ms: u64,
    /// Tries per batch within a round before it is kept for the next round.
    pub attempts: u32,
    /// Results kept for the next round when they could not be delivered; past this the
    /// oldest are dropped, with a log line and a counter.
    pub buffer_max: usize,
    /// Most POSTs in flight at once, per service.
    pub max_concurrent_posts: usize,
}

impl Default for DeliverySection {
    fn default() -> Self {
        Self {
            batch_size: 500,
            flush_ms: 1000,
            attempts: 3,
            buffer_max: 100_000,
            max_concurrent_posts: 4,
        }
    }
}

/// `[rdap]`: how domain registrations are looked up, for checks with `domain_expiry`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RdapSection {
    /// Look domains up at all (off: checks' `domain_expiry` is ignored).
    pub enabled: bool,
    /// IANA's bootstrap file naming each top-level domain's RDAP server.
    pub bootstrap_url: String,
    /// Deadline of each RDAP request, ms.
    pub timeout_ms: u64,
    /// Most lookups at once.
    pub max_concurrent: usize,
    /// Hours an answer is kept per domain.
    pub cache_hours: u64,
}

impl Default for RdapSection {
    fn default() -> Self {
        Self {
            enabled: true,
            bootstrap_url: scoville_check_engine::rdap::IANA_BOOTSTRAP.into(),
            timeout_ms: 5_000,
            max_concurrent: 4,
            cache_hours: 24,
        }
    }
}

impl RdapSection {
    fn settings(&self) -> Result<Option<RdapConfig>, ConfigError> {
        if !self.enabled {
            return Ok(None);
        }
        check_url("rdap.bootstrap_url", &self.bootstrap_url)?;
        let bootstrap_url = url::Url::parse(&self.bootstrap_url)
            .map_err(|e| err("rdap.bootstrap_url", e.to_string()))?;
        if self.timeout_ms == 0 || self.timeout_ms > 60_000 {
            return Err(err("rdap.timeout_ms", "must be between 1 and 60000"));
        }
        if self.max_concurrent == 0 || self.max_concurrent > 64 {
            return Err(err("rdap.max_concurrent", "must be between 1 and 64"));
        }
        if self.cache_hours == 0 || self.cache_hours > 168 {
            return Err(err("rdap.cache_hours", "must be between 1 and 168"));
        }
        Ok(Some(RdapConfig {
            bootstrap_url,
            timeout: Duration::from_millis(self.timeout_ms),
            max_concurrent: self.max_concurrent,
            cache_ttl: Duration::from_secs(self.cache_hours * 3600),
            ..RdapConfig::default()
        }))
    }
}

impl Config {
    /// Loads defaults, then `file` if given, then `SCOVILLE_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        scoville_service_kit::config::load(file)
    }

    /// Checks the values and derives what the probe runs with.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let p = &self.probe;
        let region = Region::parse(p.region.clone()).map_err(|m| err("probe.region", m))?;
        let shard = Shard::new(p.shard, p.shards).map_err(|m| err("probe.shard", m))?;
        if p.interval_secs == 0 || p.interval_secs > 86_400 {
            return Err(err("probe.interval_secs", "must be between 1 and 86400"));
        }
        if p.max_in_flight == 0 || p.max_in_flight > 20_000 {
            return Err(err("probe.max_in_flight", "must be between 1 and 20000"));
        }
        if p.worker_threads > 256 {
            return Err(err("probe.worker_threads", "must be at most 256"));
        }
        if !(0.0..=1.0).contains(&p.spread) {
            return Err(err("probe.spread", "must be between 0 and 1"));
        }
        let mut resolve_overrides: HashMap<String, Vec<IpAddr>> = HashMap::new();
        for entry in &p.resolve {
            let (host, ip) = entry
                .split_once('=')
                .ok_or_else(|| err("probe.resolve", format!("{entry:?} is not host=ip")))?;
            let ip: IpAddr = ip
                .parse()
                .map_err(|_| err("probe.resolve", format!("{ip:?} is not an IP address")))?;
            resolve_overrides
                .entry(host.trim().to_ascii_lowercase())
                .or_default()
                .push(ip);
        }
        let d = &self.delivery;
        if d.batch_size == 0 || d.batch_size > 10_000 {
            return Err(err("delivery.batch_size", "must be between 1 and 10000"));
        }
        if d.attempts == 0 || d.attempts > 20 {
            return Err(err("delivery.attempts", "must be between 1 and 20"));
        }
        if d.max_concurrent_posts == 0 || d.max_concurrent_posts > 64 {
            return Err(err(
                "delivery.max_concurrent_posts",
                "must be between 1 and 64",
            ));
        }
        for (key, s) in [
            ("receiver", &self.receiver),
            ("failure_service", &self.failure_service),
        ] {
            if let Some(u) = &s.url {
                check_url(&format!("{key}.url"), u)?;
            }
            if s.timeout_ms == 0 {
                return Err(err(&format!("{key}.timeout_ms"), "must be greater than 0"));
            }
        }
        if let Some(u) = &self.endpoints.api_url {
            check_url("endpoints.api_url", u)?;
        }
        let policy = if p.allow_private {
            AddressPolicy::allow_private()
        } else {
            AddressPolicy::global_only()
        }
        .allowing(p.allow_addresses.iter().copied());
        // Target owners see which region checks them (and tests fail one region's
        // checks by it).
        let user_agent = format!(
            "Scoville-Probe/{} (region {})",
            env!("CARGO_PKG_VERSION"),
            region.as_str()
        );
        let rdap = self.rdap.settings()?;
        Ok(Settings {
            rdap,
            scope: ProbeScope { region, shard },
            interval: Duration::from_secs(p.interval_secs),
            max_in_flight: p.max_in_flight,
            spread: p.spread,
            engine: EngineConfig {
                policy,
                resolve_overrides,
                extra_ca_files: p.extra_ca_files.clone(),
                icmp: IcmpMode::Auto,
                user_agent,
                ..EngineConfig::default()
            },
        })
    }

    /// Every option with its default value and environment variable, for `--help`.
    pub fn describe_defaults() -> String {
        let value = toml::Value::try_from(Config::default())
            .unwrap_or(toml::Value::Table(Default::default()));
        let mut lines =
            vec!["Configuration (file keys, defaults, environment variables):".to_string()];
        if let toml::Value::Table(sections) = value {
            for (section, keys) in sections {
                let toml::Value::Table(keys) = keys else {
                    continue;
                };
                for (key, v) in keys {
                    let env = format!(
                        "SCOVILLE_{}__{}",
                        section.to_uppercase(),
                        key.to_uppercase()
                    );
                    lines.push(format!("  {section}.{key} = {v}    [{env}]"));
                }
            }
        }
        for (section, key) in [
            ("probe", "listen"),
            ("endpoints", "file"),
            ("endpoints", "api_url"),
            ("endpoints", "token"),
            ("receiver", "url"),
            ("receiver", "token"),
            ("failure_service", "url"),
            ("failure_service", "token"),
        ] {
            let env = format!(
                "SCOVILLE_{}__{}",
                section.to_uppercase(),
                key.to_uppercase()
            );
            lines.push(format!("  {section}.{key} = (unset)    [{env}]"));
        }
        lines.join("\n")
    }
}

fn check_url(key: &str, u: &str) -> Result<(), ConfigError> {
    let parsed = url::Url::parse(u).map_err(|e| err(key, format!("{u:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(err(key, "must be an http or https URL"));
    }
    Ok(())
}

/// What a validated configuration gives the probe.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Region and shard.
    pub scope: ProbeScope,
    /// Time between rounds.
    pub interval: Duration,
    /// Bound on checks in flight.
    pub max_in_flight: usize,
    /// Fraction of the interval over which starts are spread.
    pub spread: f64,
    /// The engine's setup.
    pub engine: EngineConfig,
    /// Domain expiry lookups (none: disabled).
    pub rdap: Option<RdapConfig>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own error
    fn file_then_env_layers_and_errors_name_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "p.toml",
                "[probe]\nregion = \"eu-west-1\"\nmax_in_flight = 50\n",
            )?;
            jail.set_env("SCOVILLE_PROBE__MAX_IN_FLIGHT", "70");
            let c = Config::load(Some(Path::new("p.toml"))).unwrap();
            assert_eq!(c.probe.region, "eu-west-1");
            assert_eq!(c.probe.max_in_flight, 70);
            assert_eq!(c.delivery.batch_size, 500);

            jail.set_env("SCOVILLE_PROBE__MAX_IN_FLIGHT", "lots");
            let e = Config::load(Some(Path::new("p.toml"))).unwrap_err();
            assert_eq!(e.key, "probe.max_in_flight");

            jail.set_env("SCOVILLE_PROBE__MAX_IN_FLIGHT", "0");
            let e = Config::load(Some(Path::new("p.toml")))
                .unwrap()
                .settings()
                .unwrap_err();
            assert_eq!(e.key, "probe.max_in_flight");

            jail.create_file("bad.toml", "[probe]\nregoin = \"x\"\n")?;
            let e = Config::load(Some(Path::new("bad.toml"))).unwrap_err();
            assert!(e.message.contains("regoin"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_their_keys() {
        let mut c = Config::default();
        c.probe.region = "EU West".into();
        assert_eq!(c.settings().unwrap_err().key, "probe.region");
        let mut c = Config::default();
        c.probe.shard = 3;
        c.probe.shards = 2;
        assert_eq!(c.settings().unwrap_err().key, "probe.shard");
        let mut c = Config::default();
        c.probe.resolve = vec!["x.test=not-an-ip".into()];
        assert_eq!(c.settings().unwrap_err().key, "probe.resolve");
        let mut c = Config::default();
        c.receiver.url = Some("ftp://x".into());
        assert_eq!(c.settings().unwrap_err().key, "receiver.url");
        let mut c = Config::default();
        c.rdap.max_concurrent = 0;
        assert_eq!(c.settings().unwrap_err().key, "rdap.max_concurrent");
        c.rdap.enabled = false;
        assert!(c.settings().unwrap().rdap.is_none());
        assert!(Config::default().settings().unwrap().rdap.is_some());
        assert!(Config::describe_defaults().contains("SCOVILLE_PROBE__MAX_IN_FLIGHT"));
    }
}
