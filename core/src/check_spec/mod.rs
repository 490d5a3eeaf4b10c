//! What to check and how: one spec per check kind, registered in the tagged
//! [`CheckSpec`] enum (`{"type": "http", ...}`), so that adding a kind touches this enum,
//! one spec file here and one checker file in the engine.
//!
//! Unknown kinds and unknown fields are rejected, so that a typo in a monitoring file is
//! an error and not a silently ignored option.

mod assertion;
mod dns;
mod domain;
pub mod heartbeat;
mod http;
mod net;
pub mod watch;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use assertion::{
    Assertion, HeaderAssertion, HeaderCheck, JsonCache, JsonPathAssertion, JsonPathExpr, Pattern,
    clip,
};
pub use dns::{DnsCheck, DnsMatch, DnsName, RecordType};
pub use domain::DomainExpiry;
pub use heartbeat::HeartbeatCheck;
pub use http::{BodyLimit, BodyOverLimit, HttpCheck, HttpMethod, HttpUrl, MaxRedirects};
pub use net::{Host, IcmpCheck, Port, TcpCheck, TlsCheck};
pub use watch::Watch;

/// One endpoint's check.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CheckSpec {
    /// HTTP(S) request with assertions.
    Http(HttpCheck),
    /// TCP connect, optionally sending a line and expecting a reply.
    Tcp(TcpCheck),
    /// TLS handshake: certificate validity, hostname and expiry.
    Tls(TlsCheck),
    /// DNS query with expected values.
    Dns(DnsCheck),
    /// ICMP echo, where the platform allows ICMP sockets.
    Icmp(IcmpCheck),
    /// A push check: the job pings Scoville; nothing is probed.
    Heartbeat(HeartbeatCheck),
}

impl<'de> Deserialize<'de> for CheckSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use crate::parse::from_value;
        const KINDS: &[&str] = &["http", "tcp", "tls", "dns", "icmp", "heartbeat"];
        crate::parse::tagged(d, "type", KINDS, |kind, rest| {
            Ok(match kind {
                "http" => CheckSpec::Http(from_value(rest)?),
                "tcp" => CheckSpec::Tcp(from_value(rest)?),
                "tls" => CheckSpec::Tls(from_value(rest)?),
                "dns" => CheckSpec::Dns(from_value(rest)?),
                "heartbeat" => CheckSpec::Heartbeat(from_value(rest)?),
                _ => CheckSpec::Icmp(from_value(rest)?),
            })
        })
    }
}

impl CheckSpec {
    /// The check's overall deadline.
    pub fn timeout(&self) -> TimeoutMs {
        match self {
            CheckSpec::Http(c) => c.timeout_ms,
            CheckSpec::Tcp(c) => c.timeout_ms,
            CheckSpec::Tls(c) => c.timeout_ms,
            CheckSpec::Dns(c) => c.timeout_ms,
            CheckSpec::Icmp(c) => c.timeout_ms,
            CheckSpec::Heartbeat(_) => TimeoutMs::default(),
        }
    }

    /// The kind's name as written in the `type` field.
    pub fn kind(&self) -> &'static str {
        match self {
            CheckSpec::Http(_) => "http",
            CheckSpec::Tcp(_) => "tcp",
            CheckSpec::Tls(_) => "tls",
            CheckSpec::Dns(_) => "dns",
            CheckSpec::Icmp(_) => "icmp",
            CheckSpec::Heartbeat(_) => "heartbeat",
        }
    }
}

/// A check's deadline in milliseconds: 1 ms to 2 minutes, 10 s by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct TimeoutMs(u32);

impl TimeoutMs {
    /// The longest deadline a check may have.
    pub const MAX: u32 = 120_000;

    /// Parses a deadline, rejecting zero and anything above two minutes.
    pub fn new(ms: u64) -> Result<Self, String> {
        if ms == 0 {
            return Err("timeout must be greater than 0 ms".into());
        }
        if ms > u64::from(Self::MAX) {
            return Err(format!("timeout must be at most {} ms", Self::MAX));
        }
        Ok(Self(ms as u32))
    }

    /// The deadline in milliseconds.
    pub fn as_millis(self) -> u64 {
        u64::from(self.0)
    }

    /// The deadline as a duration.
    pub fn as_duration(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.as_millis())
    }
}

impl Default for TimeoutMs {
    fn default() -> Self {
        Self(10_000)
    }
}

impl TryFrom<u64> for TimeoutMs {
    type Error = String;
    fn try_from(ms: u64) -> Result<Self, String> {
        Self::new(ms)
    }
}

impl From<TimeoutMs> for u64 {
    fn from(t: TimeoutMs) -> u64 {
        t.as_millis()
    }
}

impl fmt::Display for TimeoutMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ms", self.0)
    }
}

/// When a certificate's coming expiry turns into a warning: `warn_days` before it the
/// check reports `warning / cert_expiry_warn`, `critical_days` before it
/// `warning / cert_expiry_critical`. An expired certificate fails TLS verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CertExpiryRepr")]
pub struct CertExpiry {
    warn_days: u16,
    critical_days: u16,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CertExpiryRepr {
    #[serde(default = "default_warn_days")]
    warn_days: u16,
    #[serde(default = "default_critical_days")]
    critical_days: u16,
}

fn default_warn_days() -> u16 {
    14
}
fn default_critical_days() -> u16 {
    3
}

impl CertExpiry {
    /// Builds the thresholds; `critical_days` may not exceed `warn_days`.
    pub fn new(warn_days: u16, critical_days: u16) -> Result<Self, String> {
        if critical_days > warn_days {
            return Err(format!(
                "critical_days ({critical_days}) must not exceed warn_days ({warn_days})"
            ));
        }
        Ok(Self {
            warn_days,
            critical_days,
        })
    }

    /// Days before expiry at which the check warns.
    pub fn warn_days(&self) -> u16 {
        self.warn_days
    }

    /// Days before expiry at which the warning becomes critical.
    pub fn critical_days(&self) -> u16 {
        self.critical_days
    }
}

impl Default for CertExpiry {
    fn default() -> Self {
        Self {
            warn_days: default_warn_days(),
            critical_days: default_critical_days(),
        }
    }
}

impl TryFrom<CertExpiryRepr> for CertExpiry {
    type Error = String;
    fn try_from(r: CertExpiryRepr) -> Result<Self, String> {
        Self::new(r.warn_days, r.critical_days)
    }
}

pub(crate) fn default_true() -> bool {
    true
}

#[cfg(test)]
mod tests;
