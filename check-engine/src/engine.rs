//! The [`Engine`]: shared, cheap-to-clone state (resolver, TLS configurations, address
//! policy) and [`Engine::check`], which runs one spec under its deadline and turns what
//! the check found into a [`CheckReport`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use scoville_core::check_spec::TimeoutMs;
use scoville_core::{AddressPolicy, CheckReport, CheckSpec, DownReason, Outcome};

use crate::kind::Check;
use crate::resolve::Resolver;
use crate::tls::TlsConfigs;
use crate::trace::{Trace, ms};

/// Whether ICMP checks may try to open sockets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum IcmpMode {
    /// Try unprivileged datagram ICMP, then raw sockets.
    #[default]
    Auto,
    /// ICMP is known to be unavailable here (AWS Lambda); checks report
    /// `down / icmp_unavailable` with this explanation.
    Unavailable(String),
}

/// How an [`Engine`] is set up.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Which addresses may be dialled.
    pub policy: AddressPolicy,
    /// Fixed answers for names, like curl's `--resolve`: checked by the policy like any
    /// DNS answer.
    pub resolve_overrides: HashMap<String, Vec<IpAddr>>,
    /// PEM files of extra trusted CA certificates (an internal CA, a test CA).
    pub extra_ca_files: Vec<PathBuf>,
    /// ICMP availability.
    pub icmp: IcmpMode,
    /// `User-Agent` sent unless a check sets its own.
    pub user_agent: String,
    /// Entries in the DNS cache (answers are kept for their TTL); 0 disables it.
    pub dns_cache_size: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            policy: AddressPolicy::global_only(),
            resolve_overrides: HashMap::new(),
            extra_ca_files: Vec::new(),
            icmp: IcmpMode::Auto,
            user_agent: concat!("Scoville-Probe/", env!("CARGO_PKG_VERSION")).to_string(),
            dns_cache_size: 4096,
        }
    }
}

/// The engine could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A CA file could not be read or parsed.
    #[error("CA file {path}: {message}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The TLS configuration could not be built.
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// The system resolver configuration could not be read.
    #[error("DNS resolver: {0}")]
    Resolver(String),
    /// The user agent is not a valid header value.
    #[error("user agent is not a valid header value")]
    UserAgent,
}

/// What every check shares.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) policy: AddressPolicy,
    pub(crate) resolver: Resolver,
    pub(crate) tls: TlsConfigs,
    pub(crate) icmp: IcmpMode,
    pub(crate) user_agent: http::HeaderValue,
}

/// Runs checks. Clone it freely: clones share one resolver and TLS configuration.
#[derive(Debug, Clone)]
pub struct Engine {
    ctx: Arc<Context>,
}

impl Engine {
    /// Builds an engine.
    pub fn new(config: EngineConfig) -> Result<Self, EngineError> {
        let user_agent =
            http::HeaderValue::from_str(&config.user_agent).map_err(|_| EngineError::UserAgent)?;
        let ctx = Context {
            policy: config.policy,
            resolver: Resolver::new(config.resolve_overrides, config.dns_cache_size)?,
            tls: TlsConfigs::new(&config.extra_ca_files)?,
            icmp: config.icmp,
            user_agent,
        };
        Ok(Self { ctx: Arc::new(ctx) })
    }

    /// The address policy in force.
    pub fn policy(&self) -> &AddressPolicy {
        &self.ctx.policy
    }

    /// Runs one check under its deadline.
    pub async fn check(&self, spec: &CheckSpec) -> CheckReport {
        let ctx = &*self.ctx;
        let mut trace = Trace::new();
        let deadline = spec.timeout();
        let run = async {
            match spec {
                CheckSpec::Http(c) => c.run(ctx, &mut trace).await,
                CheckSpec::Tcp(c) => c.run(ctx, &mut trace).await,
                CheckSpec::Tls(c) => c.run(ctx, &mut trace).await,
                CheckSpec::Dns(c) => c.run(ctx, &mut trace).await,
                CheckSpec::Icmp(c) => c.run(ctx, &mut trace).await,
                // The job pings the admin API; a probe never gets one in its list.
                CheckSpec::Heartbeat(_) => Err(crate::trace::Failure::new(
                    scoville_core::DownReason::Internal,
                    "heartbeat checks are pushed by the job, not probed",
                )),
            }
        };
        let verdict = tokio::time::timeout(deadline.as_duration(), run).await;
        let total = trace.total.unwrap_or_else(|| trace.start.elapsed());
        let (outcome, message) = match verdict {
            Err(_elapsed) => (
                Outcome::Down(DownReason::Timeout),
                timeout_message(deadline, &trace),
            ),
            Ok(Err(f)) => (Outcome::Down(f.reason), f.message),
            Ok(Ok(s)) => (s.warning.map_or(Outcome::Up, Outcome::Warning), s.message),
        };
        let mut timings = trace.timings;
        timings.total_ms = ms(total);
        CheckReport {
            outcome,
            message,
            status: trace.status,
            timings,
            bytes: trace.bytes,
            truncated: trace.truncated,
            cert_expires_at_ms: trace.cert_expires_at_ms,
            domain_expires_at_ms: None,
            body_hash: trace.body_hash,
            watch_excerpt: trace.watch_excerpt,
            ip: trace.ip,
            redirects: trace.redirects,
        }
    }
}

fn timeout_message(deadline: TimeoutMs, trace: &Trace) -> String {
    format!(
        "no answer within {deadline}: timed out {}",
        trace.phase.describe()
    )
}
