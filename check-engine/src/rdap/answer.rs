//! The pure half of RDAP lookups: the registrable domain of a host name (by the ICANN
//! section of the Public Suffix List), the RDAP server for it from IANA's bootstrap file
//! (RFC 9224), and the expiry in a domain answer (RFC 9083: the `eventDate` of the event
//! whose `eventAction` is `expiration`).

use std::collections::HashMap;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::RdapError;

/// The registrable domain of `host` (`www.shop.example.co.uk` → `example.co.uk`), lower
/// case, or `None` for IP literals, single labels and names under an unknown suffix.
///
/// Only ICANN suffixes count: for `user.github.io` (a private suffix) it is `github.io`,
/// the name a registrar holds and RDAP knows.
pub fn registrable_domain(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() || host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return None;
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return None;
    }
    // The longest candidate that is itself an ICANN suffix is the public suffix; the
    // registrable domain is it plus one label.
    for i in 0..labels.len() {
        let candidate = labels[i..].join(".");
        let Some(suffix) = psl::suffix(candidate.as_bytes()) else {
            continue;
        };
        if suffix.as_bytes() == candidate.as_bytes()
            && suffix.is_known()
            && suffix.typ() == Some(psl::Type::Icann)
        {
            // The host itself being a public suffix (`co.uk`) has no registrable domain.
            return i.checked_sub(1).map(|from| labels[from..].join("."));
        }
    }
    None
}

/// IANA's bootstrap file: label suffix (`com`, `co.uk`) → RDAP base URL (ending in `/`).
#[derive(Debug, Clone, Default)]
pub struct Bootstrap {
    servers: HashMap<String, url::Url>,
}

impl Bootstrap {
    /// Parses `{"services": [[["com", "net"], ["https://rdap.example/com/v1/"]], ...]}`.
    /// Each entry's https URL is preferred (plain http only with `allow_http`).
    pub fn parse(body: &[u8], allow_http: bool) -> Result<Self, RdapError> {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| RdapError::BadBody(e.to_string()))?;
        let services = v
            .get("services")
            .and_then(Value::as_array)
            .ok_or_else(|| RdapError::BadBody("no services array".into()))?;
        let mut servers = HashMap::new();
        for service in services {
            let (Some(names), Some(urls)) = (
                service.get(0).and_then(Value::as_array),
                service.get(1).and_then(Value::as_array),
            ) else {
                continue;
            };
            let mut parsed: Vec<url::Url> = urls
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|u| url::Url::parse(u).ok())
                .filter(|u| u.scheme() == "https" || (allow_http && u.scheme() == "http"))
                .collect();
            parsed.sort_by_key(|u| u.scheme() != "https");
            let Some(mut base) = parsed.into_iter().next() else {
                continue;
            };
            if !base.path().ends_with('/') {
                base.set_path(&format!("{}/", base.path()));
            }
            for name in names.iter().filter_map(Value::as_str) {
                let key = name.trim_matches('.').to_ascii_lowercase();
                servers.insert(key, base.clone());
            }
        }
        Ok(Self { servers })
    }

    /// The base URL serving `domain`: the longest matching label suffix.
    pub fn server_for(&self, domain: &str) -> Option<&url::Url> {
        let mut rest = domain;
        loop {
            if let Some(u) = self.servers.get(rest) {
                return Some(u);
            }
            rest = rest.split_once('.')?.1;
        }
    }

    /// Suffixes known.
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }
}

/// The registration's expiry in a domain answer, Unix ms: the earliest `expiration`
/// event (there is normally one).
pub fn expiry_from_answer(body: &[u8]) -> Result<i64, RdapError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| RdapError::BadBody(e.to_string()))?;
    let events = v
        .get("events")
        .and_then(Value::as_array)
        .ok_or(RdapError::NoExpiration)?;
    let mut found = None;
    for e in events {
        let action = e.get("eventAction").and_then(Value::as_str);
        if !action.is_some_and(|a| a.eq_ignore_ascii_case("expiration")) {
            continue;
        }
        let date = e
            .get("eventDate")
            .and_then(Value::as_str)
            .ok_or_else(|| RdapError::BadDate("expiration event without eventDate".into()))?;
        let ms = parse_date(date)?;
        found = Some(found.map_or(ms, |f: i64| f.min(ms)));
    }
    found.ok_or(RdapError::NoExpiration)
}

/// RFC 3339, and the offset-less form some servers send (read as UTC).
fn parse_date(s: &str) -> Result<i64, RdapError> {
    let s = s.trim();
    let t = OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339))
        .map_err(|e| RdapError::BadDate(format!("{s:?}: {e}")))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `rdap.verisign.com/com/v1/domain/example.com` answers (trimmed of notices
    /// and remarks, shape and event list as served).
    pub(crate) const VERISIGN_EXAMPLE_COM: &str = r#"{
      "objectClassName": "domain",
      "handle": "2336799_DOMAIN_COM-VRSN",
      "ldhName": "EXAMPLE.COM",
      "links": [{"value": "https://rdap.verisign.com/com/v1/domain/EXAMPLE.COM",
                 "rel": "self", "href": "https://rdap.verisign.com/com/v1/domain/EXAMPLE.COM",
                 "type": "application/rdap+json"}],
      "status": ["client delete prohibited", "client transfer prohibited", "client update prohibited"],
      "entities": [{"objectClassName": "entity", "handle": "376", "roles": ["registrar"],
                    "publicIds": [{"type": "IANA Registrar ID", "identifier": "376"}],
                    "vcardArray": ["vcard", [["version", {}, "text", "4.0"],
                                             ["fn", {}, "text", "RESERVED-Internet Assigned Numbers Authority"]]]}],
      "events": [
        {"eventAction": "registration", "eventDate": "1995-08-14T04:00:00Z"},
        {"eventAction": "expiration", "eventDate": "2026-08-13T04:00:00Z"},
        {"eventAction": "last update of RDAP database", "eventDate": "2026-12-04T20:10:11Z"}
      ],
      "secureDNS": {"delegationSigned": true, "dsData": [{"keyTag": 370, "algorithm": 13, "digestType": 2,
                    "digest": "BE74359954660069D5C63D200C39F5603827D7DD02B56F120EE9F3A86764247C"}]},
      "nameservers": [{"objectClassName": "nameserver", "ldhName": "A.IANA-SERVERS.NET"},
                      {"objectClassName": "nameserver", "ldhName": "B.IANA-SERVERS.NET"}],
      "rdapConformance": ["rdap_level_0", "icann_rdap_technical_implementation_guide_0",
                          "icann_rdap_response_profile_0"],
      "notices": [{"title": "Terms of Use", "description": ["Service subject to Terms of Use."]}]
    }"#;

    #[test]
    fn registrable_domains() {
        for (host, want) in [
            ("example.com", Some("example.com")),
            ("WWW.Example.COM.", Some("example.com")),
            ("a.b.shop.example.co.uk", Some("example.co.uk")),
            ("user.github.io", Some("github.io")),
            ("xn--bcher-kva.ch", Some("xn--bcher-kva.ch")),
            ("com", None),
            ("co.uk", None),
            ("localhost", None),
            ("shop.internal", None),
            ("127.0.0.1", None),
            ("::1", None),
            ("", None),
            ("a..example.com", None),
        ] {
            assert_eq!(registrable_domain(host).as_deref(), want, "{host}");
        }
    }

    #[test]
    fn verisign_answer() {
        let ms = expiry_from_answer(VERISIGN_EXAMPLE_COM.as_bytes()).unwrap();
        assert_eq!(ms, 1_786_593_600_000);
    }

    #[test]
    fn answers_without_or_with_bad_expiry() {
        let no = br#"{"objectClassName":"domain","events":[{"eventAction":"registration","eventDate":"1995-08-14T04:00:00Z"}]}"#;
        assert!(matches!(
            expiry_from_answer(no),
            Err(RdapError::NoExpiration)
        ));
        assert!(matches!(
            expiry_from_answer(br#"{"objectClassName":"domain"}"#),
            Err(RdapError::NoExpiration)
        ));
        let bad = br#"{"events":[{"eventAction":"expiration","eventDate":"next summer"}]}"#;
        assert!(matches!(
            expiry_from_answer(bad),
            Err(RdapError::BadDate(_))
        ));
        assert!(matches!(
            expiry_from_answer(b"<html>"),
            Err(RdapError::BadBody(_))
        ));
        // Offsets, fractions, no offset at all (read as UTC), and two expirations.
        let odd = br#"{"events":[
            {"eventAction":"expiration","eventDate":"2027-01-02T03:04:05.678+02:00"},
            {"eventAction":"EXPIRATION","eventDate":"2027-01-02T00:00:00"}]}"#;
        assert_eq!(expiry_from_answer(odd).unwrap(), 1_798_848_000_000);
    }

    #[test]
    fn bootstrap_longest_match_and_https() {
        let b = Bootstrap::parse(
            br#"{"version":"1.0","publication":"2026-11-30T20:00:02Z","description":"RDAP bootstrap file for Domain Name System registrations",
                "services":[
                  [["com","net"],["https://rdap.verisign.com/com/v1/"]],
                  [["uk"],["http://rdap.nominet.uk/uk","https://rdap.nominet.uk/uk"]],
                  [["co.uk"],["https://rdap.example/couk/"]],
                  [["plain"],["http://only.http.example/"]],
                  ["garbage"]]}"#,
            false,
        )
        .unwrap();
        assert_eq!(
            b.server_for("example.com").unwrap().as_str(),
            "https://rdap.verisign.com/com/v1/"
        );
        assert_eq!(
            b.server_for("example.org.uk").unwrap().as_str(),
            "https://rdap.nominet.uk/uk/"
        );
        assert_eq!(
            b.server_for("example.co.uk").unwrap().as_str(),
            "https://rdap.example/couk/"
        );
        assert!(b.server_for("example.plain").is_none());
        assert!(b.server_for("example.org").is_none());
        assert_eq!(b.len(), 4);
    }
}
