//! The DNS check's spec: a name, a record type, the values expected and, optionally, the
//! resolver to ask.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::TimeoutMs;

/// A DNS check.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsCheck {
    /// The name to look up.
    pub name: DnsName,
    /// Record type, `A` by default.
    #[serde(default)]
    pub record_type: RecordType,
    /// Values expected in the answer (addresses, `10 mx.example.com`, text, names).
    /// Empty: any non-empty answer is up.
    #[serde(default)]
    pub expected: Vec<String>,
    /// How answers are compared with `expected`.
    #[serde(default, rename = "match")]
    pub match_mode: DnsMatch,
    /// The resolver to ask (`1.1.1.1:53`); the system's by default.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver: Option<SocketAddr>,
    /// Deadline.
    #[serde(default)]
    pub timeout_ms: TimeoutMs,
}

/// A DNS name: 1-253 characters of letters, digits, `-`, `_` and dots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DnsName(String);

impl DnsName {
    /// Parses a name.
    pub fn parse(s: &str) -> Result<Self, String> {
        let n = s.trim().trim_end_matches('.').to_ascii_lowercase();
        let ok = !n.is_empty()
            && n.len() <= 253
            && n.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if ok {
            Ok(Self(n))
        } else {
            Err(format!("invalid DNS name {s:?}"))
        }
    }

    /// The name, without a trailing dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DnsName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<DnsName> for String {
    fn from(n: DnsName) -> String {
        n.0
    }
}

/// Record types a DNS check can ask for.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordType {
    /// IPv4 addresses.
    #[default]
    A,
    /// IPv6 addresses.
    Aaaa,
    /// Canonical name.
    Cname,
    /// Mail exchangers, compared as `PREFERENCE NAME`.
    Mx,
    /// Text records, the strings of one record concatenated.
    Txt,
    /// Name servers.
    Ns,
}

/// How the answer is compared with the expected values.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsMatch {
    /// Every expected value is in the answer (others may be too).
    #[default]
    ContainsAll,
    /// At least one expected value is in the answer.
    Any,
    /// The answer is exactly the expected set.
    Exact,
}
