//! Specs of the connection-level checks: TCP connect, TLS handshake and ICMP echo, and
//! the [`Host`] they target.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{CertExpiry, DomainExpiry, TimeoutMs, default_true};

/// A host to reach: a DNS name or an IP literal. IPv4 literals in decimal, hex or octal
/// (`2130706433`, `0x7f.1`) are normalised as browsers do, so the address guard sees the
/// address that will really be dialled.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Host {
    /// An IP address.
    Ip(IpAddr),
    /// A DNS name, lower-cased, without a trailing dot.
    Name(String),
}

impl Host {
    /// Parses a host.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("host must not be empty".into());
        }
        if let Ok(ip) = s
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return Ok(Host::Ip(ip));
        }
        match url::Host::parse(s) {
            Ok(url::Host::Ipv4(ip)) => Ok(Host::Ip(IpAddr::V4(ip))),
            Ok(url::Host::Ipv6(ip)) => Ok(Host::Ip(IpAddr::V6(ip))),
            Ok(url::Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_string();
                if d.is_empty() || d.len() > 253 {
                    return Err(format!("invalid host name {s:?}"));
                }
                Ok(Host::Name(d))
            }
            Err(e) => Err(format!("invalid host {s:?}: {e}")),
        }
    }

    /// Converts the host of a parsed URL.
    pub fn from_url_host(host: url::Host<&str>) -> Self {
        match host {
            url::Host::Ipv4(ip) => Host::Ip(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => Host::Ip(IpAddr::V6(ip)),
            url::Host::Domain(d) => Host::Name(d.trim_end_matches('.').to_ascii_lowercase()),
        }
    }
}

impl TryFrom<String> for Host {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<Host> for String {
    fn from(h: Host) -> String {
        h.to_string()
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// A TCP connect check; with `send`, the text is written after connecting, and with
/// `expect`, the first bytes read must contain that text.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpCheck {
    /// Host to connect to.
    pub host: Host,
    /// Port, 1-65535.
    pub port: Port,
    /// Text to send once connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<String>,
    /// Text the reply must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
    /// Deadline.
    #[serde(default)]
    pub timeout_ms: TimeoutMs,
}

/// A TLS handshake check: chain and hostname verification and certificate expiry.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsCheck {
    /// Host to connect to.
    pub host: Host,
    /// Port, 443 by default.
    #[serde(default = "Port::https")]
    pub port: Port,
    /// Name sent as SNI and verified against the certificate; the host by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Verify chain and name (on by default).
    #[serde(default = "default_true")]
    pub tls_verify: bool,
    /// Expiry thresholds.
    #[serde(default)]
    pub cert_expiry: CertExpiry,
    /// Domain registration expiry notices (opt-in; looked up over RDAP about daily).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_expiry: Option<DomainExpiry>,
    /// Deadline.
    #[serde(default)]
    pub timeout_ms: TimeoutMs,
}

/// An ICMP echo check. Needs unprivileged ICMP sockets (Linux `ping_group_range`) or
/// raw sockets; where neither is allowed (AWS Lambda) the outcome is
/// `down / icmp_unavailable`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IcmpCheck {
    /// Host to ping.
    pub host: Host,
    /// Echo requests sent (1-10, one by default); up when any is answered.
    #[cfg_attr(feature = "openapi", schema(maximum = 255))]
    #[serde(default = "default_count")]
    pub count: u8,
    /// Deadline for all of them.
    #[serde(default)]
    pub timeout_ms: TimeoutMs,
}

fn default_count() -> u8 {
    1
}

/// A TCP port, never 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct Port(u16);

impl Port {
    /// Parses a port, rejecting 0.
    pub fn new(p: u16) -> Result<Self, String> {
        if p == 0 {
            Err("port must be between 1 and 65535".into())
        } else {
            Ok(Self(p))
        }
    }

    /// 443.
    pub fn https() -> Self {
        Self(443)
    }

    /// The number.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for Port {
    type Error = String;
    fn try_from(p: u16) -> Result<Self, String> {
        Self::new(p)
    }
}

impl From<Port> for u16 {
    fn from(p: Port) -> u16 {
        p.0
    }
}
