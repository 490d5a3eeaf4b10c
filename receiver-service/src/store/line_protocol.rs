//! InfluxDB line protocol for check results, with the escaping the format asks for:
//! measurement names escape commas and spaces; tag keys and values escape commas, spaces
//! and equals signs; string fields are double-quoted with quotes and backslashes escaped
//! (and line breaks turned into spaces, since a raw newline would end the line).
//!
//! One result is one point in `check_result`, tagged `org_id`, `endpoint_id`, `region`,
//! timestamped with the check's start in ms (write with `precision=ms`).

use std::fmt::Write;

use scoville_core::{ApdexClass, CheckResult};

/// The raw measurement.
pub const MEASUREMENT: &str = "check_result";

/// Appends one result's line (with its trailing newline) to `out`.
pub fn encode(r: &CheckResult, out: &mut String) {
    out.push_str(MEASUREMENT);
    for (key, value) in [
        ("org_id", r.org_id.as_str()),
        ("endpoint_id", r.endpoint_id.as_str()),
        ("region", r.region.as_str()),
    ] {
        out.push(',');
        out.push_str(key);
        out.push('=');
        escape_tag(value, out);
    }
    let rep = &r.report;
    let t = &rep.timings;
    let class = r.apdex_class();
    let _ = write!(out, " total_ms={}", float(t.total_ms));
    for (name, v) in [
        ("dns_ms", t.dns_ms),
        ("connect_ms", t.connect_ms),
        ("tls_ms", t.tls_ms),
        ("ttfb_ms", t.ttfb_ms),
    ] {
        if let Some(v) = v {
            let _ = write!(out, ",{name}={}", float(v));
        }
    }
    let _ = write!(
        out,
        ",up={}i,satisfied={}i,tolerating={}i,frustrated={}i,bytes={}i",
        u8::from(rep.outcome.is_up()),
        u8::from(class == ApdexClass::Satisfied),
        u8::from(class == ApdexClass::Tolerating),
        u8::from(class == ApdexClass::Frustrated),
        rep.bytes,
    );
    if let Some(status) = rep.status {
        let _ = write!(out, ",status={status}i");
    }
    if let Some(limit) = r.mean_limit_ms {
        let _ = write!(out, ",mean_limit_ms={limit}i");
    }
    if let Some(exp) = rep.cert_expires_at_ms {
        let _ = write!(out, ",cert_expires_at_ms={exp}i");
    }
    if let Some(exp) = rep.domain_expires_at_ms {
        let _ = write!(out, ",domain_expires_at_ms={exp}i");
    }
    out.push_str(",outcome=");
    escape_string(rep.outcome.kind(), out);
    if let Some(reason) = rep.outcome.reason() {
        out.push_str(",reason=");
        escape_string(reason, out);
    }
    out.push_str(",message=");
    escape_string(&rep.message, out);
    out.push_str(",run_id=");
    escape_string(r.run_id.as_str(), out);
    if let Some(hash) = &rep.body_hash {
        out.push_str(",body_hash=");
        escape_string(hash, out);
    }
    let _ = writeln!(out, " {}", r.started_at_ms);
}

/// A float field that InfluxDB reads back as a float (never as an integer).
fn float(v: f64) -> String {
    if v.is_finite() {
        let s = format!("{v}");
        if s.contains(['.', 'e', 'E']) {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        "0.0".to_string()
    }
}

fn escape_tag(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            ',' | ' ' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
}

fn escape_string(value: &str, out: &mut String) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_the_format_needs() {
        let mut s = String::new();
        escape_string("say \"hi\" \\ then\nleave", &mut s);
        assert_eq!(s, r#""say \"hi\" \\ then leave""#);
        let mut t = String::new();
        escape_tag("a b,c=d", &mut t);
        assert_eq!(t, r"a\ b\,c\=d");
        assert_eq!(float(3.0), "3.0");
        assert_eq!(float(0.25), "0.25");
    }
}
