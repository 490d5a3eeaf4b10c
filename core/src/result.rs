//! What a check found: the typed [`Outcome`] (up, warning, or down with a reason), the
//! timing breakdown, and the [`CheckResult`] that travels on the wire (`POST /v1/results`,
//! `POST /v1/failures`) with the endpoint, org, region and run it belongs to.
//!
//! On the wire the outcome is two flat fields, `"outcome": "down", "reason": "timeout"`,
//! which is what people and InfluxDB queries want; in Rust it is one enum, so a down
//! result without a reason cannot exist. Serialization is written out by hand so that the
//! receiver's hot path never buffers through `#[serde(flatten)]`.

use std::fmt;
use std::net::IpAddr;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use crate::{EndpointId, OrgId, Region, RunId};

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Everything asked for held.
    Up,
    /// Up, but something needs attention soon (a certificate about to expire).
    Warning(WarningReason),
    /// Down, for this reason.
    Down(DownReason),
}

impl Outcome {
    /// Up or warning: the endpoint answered as it should. Uptime counts these.
    pub fn is_up(&self) -> bool {
        !matches!(self, Outcome::Down(_))
    }

    /// `up`, `warning` or `down`.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Up => "up",
            Outcome::Warning(_) => "warning",
            Outcome::Down(_) => "down",
        }
    }

    /// The reason's name, if any.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Outcome::Up => None,
            Outcome::Warning(w) => Some(w.as_str()),
            Outcome::Down(d) => Some(d.as_str()),
        }
    }

    fn from_parts(kind: &str, reason: Option<&str>) -> Result<Self, String> {
        match (kind, reason) {
            ("up", None) => Ok(Outcome::Up),
            ("up", Some(r)) => Err(format!("an up outcome has no reason, got {r:?}")),
            ("warning", Some(r)) => WarningReason::parse(r).map(Outcome::Warning),
            ("down", Some(r)) => DownReason::parse(r).map(Outcome::Down),
            ("warning" | "down", None) => Err(format!("a {kind} outcome needs a reason")),
            (other, _) => Err(format!(
                "unknown outcome {other:?}: expected up, warning or down"
            )),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            Some(r) => write!(f, "{} ({r})", self.kind()),
            None => f.write_str(self.kind()),
        }
    }
}

macro_rules! reason_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// Every reason, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The reason's wire name.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// Parses a wire name.
            pub fn parse(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)*
                    other => Err(format!(concat!("unknown ", stringify!($name), " {:?}"), other)),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

reason_enum!(
    /// Why a check is down.
    DownReason {
        /// The name did not resolve (or a DNS check's answer was wrong or empty).
        Dns => "dns",
        /// The TCP connection could not be made (refused, unreachable, reset).
        Connect => "connect",
        /// The TLS handshake or certificate verification failed.
        Tls => "tls",
        /// The check's deadline passed.
        Timeout => "timeout",
        /// The status code was not in the accepted set.
        Status => "status",
        /// An assertion on body, headers, JSON, latency or a TCP reply failed.
        Assertion => "assertion",
        /// The body exceeded the limit and the spec says that fails.
        BodyTooLarge => "body_too_large",
        /// The address guard refused the target (private, loopback, metadata, ...).
        Blocked => "blocked",
        /// The server broke HTTP: malformed or oversized response head, bad encoding.
        Protocol => "protocol",
        /// More redirects than the spec allows.
        TooManyRedirects => "too_many_redirects",
        /// ICMP sockets are not allowed on this platform (for example AWS Lambda).
        IcmpUnavailable => "icmp_unavailable",
        /// No echo reply came back.
        NoReply => "no_reply",
        /// A heartbeat's ping did not come in time (its period plus grace).
        MissedPing => "missed_ping",
        /// The monitored job said it failed (a heartbeat's `/fail` ping).
        ReportedFailure => "reported_failure",
        /// The probe itself failed; a bug or resource exhaustion, never the target.
        Internal => "internal",
    }
);

reason_enum!(
    /// Why an up check still needs attention.
    WarningReason {
        /// The certificate expires within the warn threshold.
        CertExpiryWarn => "cert_expiry_warn",
        /// The certificate expires within the critical threshold.
        CertExpiryCritical => "cert_expiry_critical",
    }
);

/// Where a check's time went, in milliseconds with microsecond resolution, measured on a
/// fresh connection. A phase that did not happen (no DNS for an IP literal, no TLS for
/// http, nothing after a refused connect) is `None`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Timings {
    /// Name resolution.
    pub dns_ms: Option<f64>,
    /// TCP connect (SYN to established).
    pub connect_ms: Option<f64>,
    /// TLS handshake.
    pub tls_ms: Option<f64>,
    /// Request sent to first response byte.
    pub ttfb_ms: Option<f64>,
    /// The whole check, redirects and body included.
    pub total_ms: f64,
}

/// What the check engine reports about one check, before the probe adds whose it was.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    /// The verdict.
    pub outcome: Outcome,
    /// A short human message: `HTTP 503`, `connection refused`, `body lacks "ok"`.
    pub message: String,
    /// Final HTTP status, if a response came.
    pub status: Option<u16>,
    /// Timing breakdown.
    pub timings: Timings,
    /// Body bytes received (decoded, up to the limit).
    pub bytes: u64,
    /// The body was longer than the limit and cut.
    pub truncated: bool,
    /// Leaf certificate's expiry, Unix ms, where TLS was used.
    pub cert_expires_at_ms: Option<i64>,
    /// The registrable domain's registration expiry, Unix ms, from RDAP: only on the
    /// rare results of checks that opted into domain expiry and were looked up.
    pub domain_expires_at_ms: Option<i64>,
    /// SHA-256 of the watched value, hex, when the spec watches something (of the kept
    /// body for `hash_body` / a body watch; see [`crate::check_spec::watch`]).
    pub body_hash: Option<String>,
    /// A short excerpt of the watched value for people (at most
    /// [`crate::check_spec::watch::MAX_EXCERPT_CHARS`] characters); on the wire only when
    /// set.
    pub watch_excerpt: Option<String>,
    /// The address finally connected to.
    pub ip: Option<IpAddr>,
    /// Redirects followed.
    pub redirects: u8,
}

impl CheckReport {
    /// A report of a check that failed before anything was measured.
    pub fn down(reason: DownReason, message: impl Into<String>, total_ms: f64) -> Self {
        Self {
            outcome: Outcome::Down(reason),
            message: message.into(),
            status: None,
            timings: Timings {
                total_ms,
                ..Timings::default()
            },
            bytes: 0,
            truncated: false,
            cert_expires_at_ms: None,
            domain_expires_at_ms: None,
            body_hash: None,
            watch_excerpt: None,
            ip: None,
            redirects: 0,
        }
    }

    fn field_count() -> usize {
        13
    }

    fn serialize_fields<S: SerializeStruct>(&self, s: &mut S) -> Result<(), S::Error> {
        s.serialize_field("outcome", self.outcome.kind())?;
        s.serialize_field("reason", &self.outcome.reason())?;
        s.serialize_field("message", &self.message)?;
        s.serialize_field("status", &self.status)?;
        s.serialize_field("timings", &self.timings)?;
        s.serialize_field("bytes", &self.bytes)?;
        s.serialize_field("truncated", &self.truncated)?;
        s.serialize_field("cert_expires_at_ms", &self.cert_expires_at_ms)?;
        s.serialize_field("domain_expires_at_ms", &self.domain_expires_at_ms)?;
        s.serialize_field("body_hash", &self.body_hash)?;
        match &self.watch_excerpt {
            Some(e) => s.serialize_field("watch_excerpt", e)?,
            None => s.skip_field("watch_excerpt")?,
        }
        s.serialize_field("ip", &self.ip)?;
        s.serialize_field("redirects", &self.redirects)
    }
}

impl Serialize for CheckReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("CheckReport", Self::field_count())?;
        self.serialize_fields(&mut s)?;
        s.end()
    }
}

/// One check's result as sent to the receiver and the failure service.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "CheckResultRepr")]
pub struct CheckResult {
    /// The endpoint checked.
    pub endpoint_id: EndpointId,
    /// Its organization.
    pub org_id: OrgId,
    /// The region the probe ran in.
    pub region: Region,
    /// The probe round.
    pub run_id: RunId,
    /// When the check was due, Unix ms.
    pub scheduled_at_ms: i64,
    /// When it really started, Unix ms. Also the point's timestamp in the time series, so
    /// a redelivered result overwrites itself.
    pub started_at_ms: i64,
    /// The endpoint's Apdex threshold T when it was checked, so the sample is classified
    /// with the T then in force (the default T when absent).
    pub apdex_t_ms: Option<u32>,
    /// The endpoint's mean run time limit when it was checked (Pyng's rule), if any.
    pub mean_limit_ms: Option<u32>,
    /// What was found.
    pub report: CheckReport,
}

impl Serialize for CheckResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("CheckResult", 8 + CheckReport::field_count())?;
        s.serialize_field("endpoint_id", &self.endpoint_id)?;
        s.serialize_field("org_id", &self.org_id)?;
        s.serialize_field("region", &self.region)?;
        s.serialize_field("run_id", &self.run_id)?;
        s.serialize_field("scheduled_at_ms", &self.scheduled_at_ms)?;
        s.serialize_field("started_at_ms", &self.started_at_ms)?;
        s.serialize_field("apdex_t_ms", &self.apdex_t_ms)?;
        s.serialize_field("mean_limit_ms", &self.mean_limit_ms)?;
        self.report.serialize_fields(&mut s)?;
        s.end()
    }
}

impl CheckResult {
    /// The sample's Apdex class under the T it was checked with.
    pub fn apdex_class(&self) -> crate::ApdexClass {
        let t = self
            .apdex_t_ms
            .and_then(|t| crate::ApdexT::new(t).ok())
            .unwrap_or_default();
        t.classify(self.report.outcome, self.report.timings.total_ms)
    }
}

/// The flat wire form, checked in `TryFrom`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckResultRepr {
    endpoint_id: EndpointId,
    org_id: OrgId,
    region: Region,
    run_id: RunId,
    scheduled_at_ms: i64,
    started_at_ms: i64,
    #[serde(default)]
    apdex_t_ms: Option<crate::ApdexT>,
    #[serde(default)]
    mean_limit_ms: Option<u32>,
    outcome: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: Option<u16>,
    timings: Timings,
    #[serde(default)]
    bytes: u64,
    #[serde(default)]
    truncated: bool,
    #[serde(default)]
    cert_expires_at_ms: Option<i64>,
    #[serde(default)]
    domain_expires_at_ms: Option<i64>,
    #[serde(default)]
    body_hash: Option<String>,
    #[serde(default)]
    watch_excerpt: Option<String>,
    #[serde(default)]
    ip: Option<IpAddr>,
    #[serde(default)]
    redirects: u8,
}

impl TryFrom<CheckResultRepr> for CheckResult {
    type Error = String;
    fn try_from(r: CheckResultRepr) -> Result<Self, String> {
        let outcome = Outcome::from_parts(&r.outcome, r.reason.as_deref())?;
        let t = &r.timings;
        let phases = [
            t.dns_ms,
            t.connect_ms,
            t.tls_ms,
            t.ttfb_ms,
            Some(t.total_ms),
        ];
        if phases.iter().flatten().any(|v| !v.is_finite() || *v < 0.0) {
            return Err("timings must be finite and not negative".into());
        }
        if r.message.len() > 1024 {
            return Err("message is longer than 1024 bytes".into());
        }
        if r.watch_excerpt
            .as_deref()
            .is_some_and(|e| !crate::check_spec::watch::is_excerpt(e))
        {
            return Err(format!(
                "watch_excerpt must be one line of at most {} characters",
                crate::check_spec::watch::MAX_EXCERPT_CHARS
            ));
        }
        Ok(Self {
            endpoint_id: r.endpoint_id,
            org_id: r.org_id,
            region: r.region,
            run_id: r.run_id,
            scheduled_at_ms: r.scheduled_at_ms,
            started_at_ms: r.started_at_ms,
            apdex_t_ms: r.apdex_t_ms.map(crate::ApdexT::as_millis),
            mean_limit_ms: r.mean_limit_ms,
            report: CheckReport {
                outcome,
                message: r.message,
                status: r.status,
                timings: r.timings,
                bytes: r.bytes,
                truncated: r.truncated,
                cert_expires_at_ms: r.cert_expires_at_ms,
                domain_expires_at_ms: r.domain_expires_at_ms,
                body_hash: r.body_hash,
                watch_excerpt: r.watch_excerpt,
                ip: r.ip,
                redirects: r.redirects,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(outcome: Outcome) -> CheckResult {
        let mut report = CheckReport::down(DownReason::Timeout, "timed out", 5000.0);
        report.outcome = outcome;
        report.domain_expires_at_ms = Some(1_800_000_000_000);
        CheckResult {
            endpoint_id: EndpointId::parse("e1").unwrap(),
            org_id: OrgId::local(),
            region: Region::parse("eu-west-1").unwrap(),
            run_id: RunId::parse("r1").unwrap(),
            scheduled_at_ms: 1,
            started_at_ms: 2,
            apdex_t_ms: Some(300),
            mean_limit_ms: None,
            report,
        }
    }

    #[test]
    fn round_trips_flat() {
        for outcome in [
            Outcome::Up,
            Outcome::Down(DownReason::Timeout),
            Outcome::Warning(WarningReason::CertExpiryCritical),
        ] {
            let r = sample(outcome);
            let json = serde_json::to_value(&r).unwrap();
            assert_eq!(json["outcome"], outcome.kind());
            assert_eq!(json["timings"]["total_ms"], 5000.0);
            assert!(json["timings"]["dns_ms"].is_null());
            let back: CheckResult = serde_json::from_value(json).unwrap();
            assert_eq!(back, r);
        }
    }

    #[test]
    fn rejects_inconsistent_outcomes() {
        let mut json = serde_json::to_value(sample(Outcome::Down(DownReason::Dns))).unwrap();
        json["reason"] = serde_json::Value::Null;
        let err = crate::parse::from_value::<CheckResult>(json.clone()).unwrap_err();
        assert!(err.message.contains("needs a reason"), "{err}");
        json["outcome"] = "sideways".into();
        assert!(crate::parse::from_value::<CheckResult>(json).is_err());
    }

    #[test]
    fn rejects_negative_timings() {
        let mut json = serde_json::to_value(sample(Outcome::Up)).unwrap();
        json["timings"]["total_ms"] = (-1.0).into();
        assert!(serde_json::from_value::<CheckResult>(json).is_err());
    }
}
