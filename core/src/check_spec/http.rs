//! The HTTP(S) check's spec: URL, method, headers, body, redirects, TLS, body limit,
//! accepted statuses, assertions and what is watched for changes.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Assertion, CertExpiry, DomainExpiry, TimeoutMs, Watch, default_true};
use crate::StatusSet;

/// An HTTP(S) check.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    /// The URL to request; http or https only.
    pub url: HttpUrl,
    /// Request method, `GET` by default.
    #[serde(default)]
    pub method: HttpMethod,
    /// Extra request headers.
    #[serde(default, deserialize_with = "deserialize_headers")]
    pub headers: BTreeMap<String, String>,
    /// Request body, sent as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Deadline for the whole check, redirects and body included.
    #[serde(default)]
    pub timeout_ms: TimeoutMs,
    /// Follow 3xx redirects (each hop checked by the address guard).
    #[serde(default = "default_true")]
    pub follow_redirects: bool,
    /// The most redirects followed before the check fails.
    #[serde(default)]
    pub max_redirects: MaxRedirects,
    /// Verify the server's certificate chain and name (on by default).
    #[serde(default = "default_true")]
    pub tls_verify: bool,
    /// Certificate expiry warning thresholds.
    #[serde(default)]
    pub cert_expiry: CertExpiry,
    /// Domain registration expiry notices (opt-in; looked up over RDAP about daily).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_expiry: Option<DomainExpiry>,
    /// Accepted status codes of the final response (`200-299` by default).
    #[serde(default)]
    pub expect_status: StatusSet,
    /// Further assertions, all of which must hold.
    #[serde(default)]
    pub assertions: Vec<Assertion>,
    /// How much of the body is read, and what happens to a longer one.
    #[serde(default)]
    pub body_limit: BodyLimit,
    /// Report a hash of the body, for change detection (the same as `watch` of the
    /// body; `watch` wins when both are set).
    #[serde(default)]
    pub hash_body: bool,
    /// What to watch for changes: the body, a JSON path or a regex capture (see
    /// [`super::watch`]). Boxed: most checks watch nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<Box<Watch>>,
}

impl HttpCheck {
    /// A GET of `url` with every default.
    pub fn get(url: HttpUrl) -> Self {
        Self {
            url,
            method: HttpMethod::default(),
            headers: BTreeMap::new(),
            body: None,
            timeout_ms: TimeoutMs::default(),
            follow_redirects: true,
            max_redirects: MaxRedirects::default(),
            tls_verify: true,
            cert_expiry: CertExpiry::default(),
            domain_expiry: None,
            expect_status: StatusSet::default(),
            assertions: Vec::new(),
            body_limit: BodyLimit::default(),
            hash_body: false,
            watch: None,
        }
    }

    /// What is watched for changes: `watch`, else the body when `hash_body` is set.
    pub fn watched(&self) -> Option<&Watch> {
        const BODY: &Watch = &Watch::Body;
        self.watch.as_deref().or(self.hash_body.then_some(BODY))
    }
}

fn deserialize_headers<'de, D>(d: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let map = BTreeMap::<String, String>::deserialize(d)?;
    for (name, value) in &map {
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(serde::de::Error::custom(format!(
                "invalid header name {name:?}"
            )));
        }
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(serde::de::Error::custom(format!(
                "header {name:?} has a line break or NUL in its value"
            )));
        }
    }
    Ok(map)
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// An absolute http or https URL with a host and no embedded credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HttpUrl(url::Url);

impl HttpUrl {
    /// Parses and checks a URL. IPv4 literals in decimal, hex or octal are normalised
    /// to dotted form by the WHATWG parser, so the address guard sees the real address.
    pub fn parse(s: &str) -> Result<Self, String> {
        let url = url::Url::parse(s.trim()).map_err(|e| format!("invalid URL {s:?}: {e}"))?;
        Self::from_url(url)
    }

    /// Checks an already-parsed URL.
    pub fn from_url(url: url::Url) -> Result<Self, String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "URL scheme must be http or https, not {:?}",
                url.scheme()
            ));
        }
        if url.host().is_none() {
            return Err("URL has no host".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("URL must not contain credentials; send them in a header".into());
        }
        Ok(Self(url))
    }

    /// The parsed URL.
    pub fn url(&self) -> &url::Url {
        &self.0
    }

    /// Whether the scheme is https.
    pub fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }
}

impl TryFrom<String> for HttpUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<HttpUrl> for String {
    fn from(u: HttpUrl) -> String {
        u.0.into()
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// An HTTP method token, upper-cased (`GET` by default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HttpMethod(String);

impl HttpMethod {
    /// Parses a method name.
    pub fn parse(s: &str) -> Result<Self, String> {
        let m = s.trim().to_ascii_uppercase();
        if m.is_empty() || m.len() > 16 || !m.bytes().all(is_token_byte) {
            return Err(format!("invalid HTTP method {s:?}"));
        }
        Ok(Self(m))
    }

    /// The method as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for HttpMethod {
    fn default() -> Self {
        Self("GET".into())
    }
}

impl TryFrom<String> for HttpMethod {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<HttpMethod> for String {
    fn from(m: HttpMethod) -> String {
        m.0
    }
}

/// The most redirects a check follows: 0 to 20, 5 by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct MaxRedirects(u8);

impl MaxRedirects {
    /// Parses a limit of at most 20.
    pub fn new(n: u8) -> Result<Self, String> {
        if n > 20 {
            return Err(format!("max_redirects must be at most 20, not {n}"));
        }
        Ok(Self(n))
    }

    /// The limit.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for MaxRedirects {
    fn default() -> Self {
        Self(5)
    }
}

impl TryFrom<u8> for MaxRedirects {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, String> {
        Self::new(n)
    }
}

impl From<MaxRedirects> for u8 {
    fn from(m: MaxRedirects) -> u8 {
        m.0
    }
}

/// How much of a response body is kept (after decompression), and what a longer body
/// means. The rest is never read: the connection is closed, which also ends endless
/// bodies and decompression bombs early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BodyLimitRepr", into = "BodyLimitRepr")]
pub struct BodyLimit {
    max_bytes: u32,
    on_exceed: BodyOverLimit,
}

/// What a body longer than the limit means.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyOverLimit {
    /// Keep the first `max_bytes`, discard the rest, judge the check on what was kept.
    #[default]
    Truncate,
    /// Fail the check with `body_too_large`.
    Fail,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BodyLimitRepr {
    #[serde(default = "default_max_body")]
    max_bytes: u32,
    #[serde(default)]
    on_exceed: BodyOverLimit,
}

fn default_max_body() -> u32 {
    1024 * 1024
}

impl BodyLimit {
    /// The largest limit allowed: 64 MiB.
    pub const MAX: u32 = 64 * 1024 * 1024;

    /// Builds a limit of 1 byte to 64 MiB.
    pub fn new(max_bytes: u32, on_exceed: BodyOverLimit) -> Result<Self, String> {
        if max_bytes == 0 || max_bytes > Self::MAX {
            return Err(format!("max_bytes must be between 1 and {}", Self::MAX));
        }
        Ok(Self {
            max_bytes,
            on_exceed,
        })
    }

    /// Bytes kept.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes as usize
    }

    /// What a longer body means.
    pub fn on_exceed(&self) -> BodyOverLimit {
        self.on_exceed
    }
}

impl Default for BodyLimit {
    fn default() -> Self {
        Self {
            max_bytes: default_max_body(),
            on_exceed: BodyOverLimit::Truncate,
        }
    }
}

impl TryFrom<BodyLimitRepr> for BodyLimit {
    type Error = String;
    fn try_from(r: BodyLimitRepr) -> Result<Self, String> {
        Self::new(r.max_bytes, r.on_exceed)
    }
}

impl From<BodyLimit> for BodyLimitRepr {
    fn from(b: BodyLimit) -> Self {
        Self {
            max_bytes: b.max_bytes,
            on_exceed: b.on_exceed,
        }
    }
}
