//! The admin API's domain: organizations, users, roles, API keys, probe tokens and
//! endpoints. Inputs are parsed into these types (parse, don't validate); an invalid
//! field is a [`Invalid`] naming it, answered with 422.

use scoville_core::incident::IncidentPolicy;
use scoville_core::{ApdexT, CheckSpec, EndpointId, OrgId, Region};
use serde::{Deserialize, Serialize};

use crate::backoff::Backoff;

/// A field that does not hold: answered with 422.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    /// The field, e.g. `check.url` or `regions[2]`.
    pub field: String,
    /// Why.
    pub reason: String,
}

impl Invalid {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// A member's role in an organization.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads.
    Viewer,
    /// Reads and writes, invites, manages keys.
    Admin,
    /// All of it, and cannot be removed by an admin.
    Owner,
}

impl Role {
    /// Stable name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    /// Parses a stored or given name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Self::Viewer),
            "admin" => Some(Self::Admin),
            "owner" => Some(Self::Owner),
            _ => None,
        }
    }

    /// Whether the role may change things.
    pub fn can_write(&self) -> bool {
        *self >= Self::Admin
    }
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyScope {
    /// GET only.
    Read,
    /// Everything an admin may do.
    ReadWrite,
}

/// An organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Org {
    /// Its id.
    pub id: OrgId,
    /// Its name.
    pub name: String,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    /// Its id.
    pub id: String,
    /// Login, lower-cased.
    pub email: String,
}

/// A member of an organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Member {
    /// The user.
    pub user_id: String,
    /// Their email.
    pub email: String,
    /// Their role.
    pub role: Role,
}

/// An API key as listed (never the key itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKey {
    /// Its id.
    pub id: String,
    /// A label.
    pub name: String,
    /// What it may do.
    pub scope: KeyScope,
    /// The user who made it, when a signed-in user did (not another key). Removing
    /// that user from the organization deletes the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// A probe token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProbeToken {
    /// Its id.
    pub id: String,
    /// A label.
    pub name: String,
}

/// An alert channel as listed and returned: never its configuration, which holds
/// secrets (webhook URLs, tokens, passwords).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertChannel {
    /// Its id (what endpoints list in `channels`).
    pub id: String,
    /// A label.
    pub name: String,
    /// `slack`, `email`, ...
    #[serde(rename = "type")]
    pub kind: String,
}

/// A maintenance window: notices about its endpoints (all of the org's when none are
/// listed) are muted in `[from_ms, to_ms)`; their state keeps moving.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MaintenanceWindow {
    /// Its id.
    pub id: String,
    /// Start, Unix ms.
    pub from_ms: i64,
    /// End, Unix ms.
    pub to_ms: i64,
    /// The endpoints it covers; empty: every endpoint of the org.
    pub endpoint_ids: Vec<EndpointId>,
    /// Why (shown to people).
    pub reason: String,
}

/// A status page: a public slug showing some of an org's endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusPage {
    /// Its id.
    pub id: String,
    /// The public address part: `/v1/public/status/{slug}`.
    pub slug: String,
    /// Its title (shown publicly).
    pub title: String,
    /// The endpoints shown, in order.
    pub endpoint_ids: Vec<EndpointId>,
}

/// An endpoint as stored and returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Endpoint {
    /// Its id.
    pub id: EndpointId,
    /// Its organization.
    pub org_id: OrgId,
    /// Display name.
    pub name: String,
    /// What to check.
    pub check: CheckSpec,
    /// Where from.
    pub regions: Vec<Region>,
    /// Seconds between checks.
    pub interval_s: u32,
    /// Apdex threshold T.
    pub apdex_t_ms: ApdexT,
    /// Pyng's mean-run-time limit, if any.
    pub mean_limit_ms: Option<u32>,
    /// Consecutive failed rounds a region needs.
    pub failure_threshold: u32,
    /// Consecutive good rounds a region needs.
    pub recovery_threshold: u32,
    /// Regions that must agree.
    pub confirm_regions: u32,
    /// Labels.
    pub tags: Vec<String>,
    /// Alert channel ids.
    pub channels: Vec<String>,
    /// Paused endpoints are not checked.
    pub paused: bool,
    /// Checked less often while down for long (see [`crate::backoff`]); none: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    /// A heartbeat endpoint's ping URL, only in the answer that creates the endpoint or
    /// issues a new token (`POST /v1/endpoints/{id}/ping-token`): the token is stored
    /// hashed, so it is shown once.
    #[serde(default, skip_serializing_if = "Option::is_none", skip_deserializing)]
    #[schema(read_only)]
    pub ping_url: Option<String>,
}

impl Endpoint {
    /// Its incident policy.
    pub fn policy(&self) -> IncidentPolicy {
        // The certificate thresholds are the check's own (HTTP and TLS checks say them).
        let cert = match &self.check {
            scoville_core::CheckSpec::Http(c) => c.cert_expiry,
            scoville_core::CheckSpec::Tls(c) => c.cert_expiry,
            _ => scoville_core::check_spec::CertExpiry::default(),
        };
        // So are the domain's (opt-in; without it no result carries a domain expiry).
        let domain = self.check.domain_expiry().unwrap_or_default();
        if let scoville_core::CheckSpec::Heartbeat(h) = &self.check {
            return crate::heartbeat::policy(h);
        }
        IncidentPolicy {
            failure_threshold: self.failure_threshold,
            recovery_threshold: self.recovery_threshold,
            confirm_regions: self.confirm_regions,
            round_ms: i64::from(self.interval_s) * 1000,
            window_ms: (i64::from(self.interval_s) * 1000 * 5).max(300_000),
            cert_warn_days: u32::from(cert.warn_days()),
            cert_critical_days: u32::from(cert.critical_days()),
            domain_warn_days: u32::from(domain.warn_days()),
            domain_critical_days: u32::from(domain.critical_days()),
            ..IncidentPolicy::default()
        }
    }
}

/// The body of a create or a full update.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointInput {
    /// Display name, 1-200 characters (trimmed).
    #[schema(min_length = 1, example = "shop")]
    name: String,
    /// What to check.
    check: CheckSpec,
    /// Where from: 1-16 regions, each once (left out for heartbeats, which are pushed).
    #[schema(max_items = 16)]
    #[serde(default)]
    regions: Vec<Region>,
    /// Seconds between checks.
    #[serde(default = "default_interval")]
    #[schema(minimum = 30, maximum = 3600, default = 60)]
    interval_s: u32,
    /// Apdex threshold T.
    #[serde(default)]
    apdex_t_ms: ApdexT,
    /// Pyng's mean-run-time limit, if any.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 600_000)]
    mean_limit_ms: Option<u32>,
    /// Consecutive failed rounds a region needs.
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 50, default = 1)]
    failure_threshold: u32,
    /// Consecutive good rounds a region needs.
    #[serde(default = "two")]
    #[schema(minimum = 1, maximum = 50, default = 2)]
    recovery_threshold: u32,
    /// Regions that must agree: 1 up to the number of regions listed.
    #[serde(default = "confirm")]
    #[schema(minimum = 1, maximum = 16, default = 2)]
    confirm_regions: u32,
    /// Labels: at most 20, each 1-64 letters, digits or `- _ . : /`.
    #[serde(default)]
    #[schema(max_items = 20)]
    tags: Vec<String>,
    /// Alert channel ids: at most 20.
    #[serde(default)]
    #[schema(max_items = 20)]
    channels: Vec<String>,
    /// Paused endpoints are not checked.
    #[serde(default)]
    paused: bool,
    /// Check less often while down for long: after `after_s` seconds of an open
    /// incident, every `interval_s × factor^k` seconds (k grows every `after_s`), at most
    /// `max_interval_s`; back to `interval_s` as soon as a check succeeds or the incident
    /// closes. Off when absent; `{}` takes the defaults.
    #[serde(default)]
    backoff: Option<Backoff>,
}

fn default_interval() -> u32 {
    60
}
fn one() -> u32 {
    1
}
fn two() -> u32 {
    2
}
fn confirm() -> u32 {
    2
}

impl EndpointInput {
    /// Checks what serde could not and builds the endpoint.
    pub fn into_endpoint(self, id: EndpointId, org_id: OrgId) -> Result<Endpoint, Invalid> {
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Invalid::new("name", "must be 1-200 characters"));
        }
        let heartbeat = matches!(self.check, CheckSpec::Heartbeat(_));
        let mut regions = self.regions;
        let mut confirm_regions = self.confirm_regions;
        if heartbeat {
            // Pushed, not probed: one pseudo-region, confirmed by itself.
            let push = crate::heartbeat::region();
            if regions.iter().any(|r| *r != push) {
                return Err(Invalid::new(
                    "regions",
                    "a heartbeat is pushed by the job, not checked from regions: leave it out",
                ));
            }
            regions = vec![push];
            confirm_regions = 1;
        }
        if regions.is_empty() || regions.len() > 16 {
            return Err(Invalid::new("regions", "must list 1-16 regions"));
        }
        for (i, r) in regions.iter().enumerate() {
            if regions[..i].contains(r) {
                return Err(Invalid::new(format!("regions[{i}]"), "is listed twice"));
            }
        }
        if !(30..=3600).contains(&self.interval_s) {
            return Err(Invalid::new("interval_s", "must be between 30 and 3600"));
        }
        if self.mean_limit_ms.is_some_and(|m| m == 0 || m > 600_000) {
            return Err(Invalid::new(
                "mean_limit_ms",
                "must be between 1 and 600000",
            ));
        }
        for (field, v) in [
            ("failure_threshold", self.failure_threshold),
            ("recovery_threshold", self.recovery_threshold),
        ] {
            if !(1..=50).contains(&v) {
                return Err(Invalid::new(field, "must be between 1 and 50"));
            }
        }
        if confirm_regions == 0 || confirm_regions as usize > regions.len() {
            return Err(Invalid::new(
                "confirm_regions",
                format!("must be between 1 and the {} regions listed", regions.len()),
            ));
        }
        check_labels("tags", &self.tags, 20, 64)?;
        check_labels("channels", &self.channels, 20, 64)?;
        if let Some(b) = &self.backoff {
            if heartbeat {
                return Err(Invalid::new(
                    "backoff",
                    "does not apply to heartbeat checks (they are pushed, not probed)",
                ));
            }
            b.check(self.interval_s)?;
        }
        Ok(Endpoint {
            id,
            org_id,
            name,
            check: self.check,
            regions,
            interval_s: self.interval_s,
            apdex_t_ms: self.apdex_t_ms,
            mean_limit_ms: self.mean_limit_ms,
            failure_threshold: self.failure_threshold,
            recovery_threshold: self.recovery_threshold,
            confirm_regions,
            tags: self.tags,
            channels: self.channels,
            paused: self.paused,
            backoff: self.backoff,
            ping_url: None,
        })
    }
}

fn check_labels(
    field: &str,
    values: &[String],
    most: usize,
    longest: usize,
) -> Result<(), Invalid> {
    if values.len() > most {
        return Err(Invalid::new(field, format!("must list at most {most}")));
    }
    for (i, v) in values.iter().enumerate() {
        let ok = !v.is_empty()
            && v.len() <= longest
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:/".contains(&b));
        if !ok {
            return Err(Invalid::new(
                format!("{field}[{i}]"),
                format!("must be 1-{longest} letters, digits or - _ . : /"),
            ));
        }
    }
    Ok(())
}

/// A new random id with a prefix (`ep_`, `org_`, ...): 16 random bytes in hex.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(rand::random::<[u8; 12]>()))
}

/// A new secret (a session, an API key, a probe token): 32 random bytes in hex, with a
/// prefix that says what it is.
pub fn new_secret(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(rand::random::<[u8; 32]>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(check: serde_json::Value) -> Endpoint {
        let input: EndpointInput = serde_json::from_value(serde_json::json!({
            "name": "shop", "check": check, "regions": ["eu-west-1"], "confirm_regions": 1,
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        input
            .into_endpoint(
                EndpointId::parse("ep_1").unwrap_or_else(|e| panic!("{e}")),
                OrgId::parse("org_1").unwrap_or_else(|e| panic!("{e}")),
            )
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn the_policy_takes_the_checks_certificate_thresholds() {
        let e = endpoint(
            serde_json::json!({"type": "http", "url": "https://a.example/",
            "cert_expiry": {"warn_days": 30, "critical_days": 7}}),
        );
        let p = e.policy();
        assert_eq!((p.cert_warn_days, p.cert_critical_days), (30, 7));
        let e = endpoint(serde_json::json!({"type": "tls", "host": "a.example",
            "cert_expiry": {"warn_days": 21, "critical_days": 2}}));
        assert_eq!(e.policy().cert_critical_days, 2);
        let e = endpoint(serde_json::json!({"type": "tcp", "host": "a.example", "port": 22}));
        let p = e.policy();
        assert_eq!((p.cert_warn_days, p.cert_critical_days), (14, 3));
    }

    #[test]
    fn the_policy_takes_the_checks_domain_thresholds() {
        let e = endpoint(
            serde_json::json!({"type": "http", "url": "https://a.example/",
            "domain_expiry": {"warn_days": 45, "critical_days": 10}}),
        );
        let p = e.policy();
        assert_eq!((p.domain_warn_days, p.domain_critical_days), (45, 10));
        let e =
            endpoint(serde_json::json!({"type": "tls", "host": "a.example", "domain_expiry": {}}));
        let p = e.policy();
        assert_eq!((p.domain_warn_days, p.domain_critical_days), (30, 7));
        let e = endpoint(serde_json::json!({"type": "http", "url": "https://a.example/"}));
        assert_eq!(e.policy().domain_warn_days, 30);
    }
}
