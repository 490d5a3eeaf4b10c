//! Domain expiry notices, opt-in on HTTP and TLS checks: `"domain_expiry": {}` (or with
//! `warn_days` / `critical_days`) asks the probe to look the registration of the check's
//! registrable domain up over RDAP now and then, and the failure service to announce its
//! coming expiry once `warn_days` before it and once more `critical_days` before it.
//!
//! Unlike [`super::CertExpiry`] this never changes the check's outcome: registration
//! data is looked up about once a day and may be missing altogether, so it only feeds
//! notices. Defaults are 30 and 7 days (renewals take longer to arrange than a
//! certificate's); both are at most 365 and `critical_days` may not exceed `warn_days`.

use serde::{Deserialize, Serialize};

use super::{CheckSpec, Host};

/// When a domain's coming expiry is announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DomainExpiryRepr")]
pub struct DomainExpiry {
    warn_days: u16,
    critical_days: u16,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainExpiryRepr {
    #[serde(default = "default_warn_days")]
    warn_days: u16,
    #[serde(default = "default_critical_days")]
    critical_days: u16,
}

fn default_warn_days() -> u16 {
    30
}
fn default_critical_days() -> u16 {
    7
}

impl DomainExpiry {
    /// The most days ahead a notice may be asked for.
    pub const MAX_DAYS: u16 = 365;

    /// Builds the thresholds: both at most [`Self::MAX_DAYS`], `critical_days` not above
    /// `warn_days`.
    pub fn new(warn_days: u16, critical_days: u16) -> Result<Self, String> {
        if warn_days > Self::MAX_DAYS {
            return Err(format!(
                "warn_days must be at most {}, not {warn_days}",
                Self::MAX_DAYS
            ));
        }
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

    /// Days before expiry at which the first notice goes out.
    pub fn warn_days(&self) -> u16 {
        self.warn_days
    }

    /// Days before expiry at which the critical notice goes out.
    pub fn critical_days(&self) -> u16 {
        self.critical_days
    }
}

impl Default for DomainExpiry {
    fn default() -> Self {
        Self {
            warn_days: default_warn_days(),
            critical_days: default_critical_days(),
        }
    }
}

impl TryFrom<DomainExpiryRepr> for DomainExpiry {
    type Error = String;
    fn try_from(r: DomainExpiryRepr) -> Result<Self, String> {
        Self::new(r.warn_days, r.critical_days)
    }
}

impl CheckSpec {
    /// The domain expiry thresholds, where the check asks for them (HTTP and TLS only).
    pub fn domain_expiry(&self) -> Option<DomainExpiry> {
        match self {
            CheckSpec::Http(c) => c.domain_expiry,
            CheckSpec::Tls(c) => c.domain_expiry,
            _ => None,
        }
    }

    /// The host name whose domain registration matters: the URL's host, or the TLS
    /// check's `server_name` (the name the certificate is for), else its host. `None` for
    /// IP literals and for kinds without domain expiry.
    pub fn domain_host(&self) -> Option<String> {
        match self {
            CheckSpec::Http(c) => match c.url.url().host()? {
                url::Host::Domain(d) => Some(d.to_string()),
                _ => None,
            },
            CheckSpec::Tls(c) => match (&c.server_name, &c.host) {
                (Some(name), _) => Some(name.clone()),
                (None, Host::Name(n)) => Some(n.clone()),
                (None, Host::Ip(_)) => None,
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::from_json;

    #[test]
    fn opt_in_with_defaults_and_validation() {
        let spec: CheckSpec = from_json(
            br#"{"type":"http","url":"https://www.shop.example.co.uk/","domain_expiry":{}}"#,
        )
        .unwrap();
        let d = spec.domain_expiry().unwrap();
        assert_eq!((d.warn_days(), d.critical_days()), (30, 7));
        assert_eq!(
            spec.domain_host().as_deref(),
            Some("www.shop.example.co.uk")
        );
        let back: CheckSpec = from_json(&serde_json::to_vec(&spec).unwrap()).unwrap();
        assert_eq!(back, spec);

        let plain: CheckSpec = from_json(br#"{"type":"http","url":"https://x.example/"}"#).unwrap();
        assert_eq!(plain.domain_expiry(), None);
        assert!(
            !serde_json::to_string(&plain)
                .unwrap()
                .contains("domain_expiry")
        );

        let tls: CheckSpec = from_json(
            br#"{"type":"tls","host":"192.0.2.1","server_name":"api.example.com","domain_expiry":{"warn_days":60,"critical_days":10}}"#,
        )
        .unwrap();
        assert_eq!(tls.domain_expiry().unwrap().warn_days(), 60);
        assert_eq!(tls.domain_host().as_deref(), Some("api.example.com"));
        let ip: CheckSpec = from_json(br#"{"type":"http","url":"https://192.0.2.1/"}"#).unwrap();
        assert_eq!(ip.domain_host(), None);

        for bad in [
            r#"{"type":"http","url":"https://x.example/","domain_expiry":{"warn_days":5,"critical_days":6}}"#,
            r#"{"type":"http","url":"https://x.example/","domain_expiry":{"warn_days":400}}"#,
            r#"{"type":"http","url":"https://x.example/","domain_expiry":{"days":4}}"#,
            r#"{"type":"tcp","host":"x.example","port":1,"domain_expiry":{}}"#,
        ] {
            assert!(from_json::<CheckSpec>(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
