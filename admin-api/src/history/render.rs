//! Answers as JSON (serde), CSV (RFC 4180: a header row, CRLF line ends, fields quoted
//! when they hold a comma, quote, line break or edge space, quotes doubled; text that a
//! spreadsheet would run as a formula gets a leading `'`) and SVG badges in the style of
//! shields.io, every text XML-escaped.

use std::collections::HashMap;
use std::fmt::Write;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{EndpointStatus, FieldError, History, ResultRow, format_time};

/// A rendered answer: its media type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// `Content-Type`.
    pub content_type: &'static str,
    /// `Cache-Control`, if any.
    pub cache_control: Option<&'static str>,
    /// `Content-Disposition`, if any.
    pub content_disposition: Option<String>,
    /// The body.
    pub body: String,
}

impl IntoResponse for Rendered {
    fn into_response(self) -> Response {
        let mut r = (StatusCode::OK, self.body).into_response();
        let h = r.headers_mut();
        if let Ok(v) = HeaderValue::from_str(self.content_type) {
            h.insert(header::CONTENT_TYPE, v);
        }
        if let Some(v) = self
            .cache_control
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            h.insert(header::CACHE_CONTROL, v);
        }
        if let Some(v) = self
            .content_disposition
            .and_then(|d| HeaderValue::from_str(&d).ok())
        {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        r
    }
}

/// `application/json`.
pub const JSON: &str = "application/json";
/// `text/csv; charset=utf-8` (with `header=present`, RFC 4180).
pub const CSV: &str = "text/csv; charset=utf-8; header=present";
/// `image/svg+xml`.
pub const SVG: &str = "image/svg+xml; charset=utf-8";

/// The format of a history or results answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON, the default.
    Json,
    /// CSV.
    Csv,
}

impl Format {
    /// `format=json|csv` if given, else the `Accept` header's preference between
    /// `application/json` and `text/csv` (by q-value; JSON on a tie, for `*/*` or
    /// without a header).
    pub fn negotiate(
        params: &HashMap<String, String>,
        accept: Option<&str>,
    ) -> Result<Self, FieldError> {
        if let Some(f) = params
            .get("format")
            .map(|f| f.trim())
            .filter(|f| !f.is_empty())
        {
            return match f.to_ascii_lowercase().as_str() {
                "json" => Ok(Format::Json),
                "csv" => Ok(Format::Csv),
                _ => Err(FieldError::new(
                    "format",
                    format!("{f:?} is not a format; use json or csv"),
                )),
            };
        }
        let Some(accept) = accept else {
            return Ok(Format::Json);
        };
        let (mut json, mut csv) = (-1.0_f64, -1.0_f64);
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f64>().ok())
                .unwrap_or(1.0);
            match media.as_str() {
                "text/csv" => csv = csv.max(q),
                "application/json" | "application/*" | "*/*" => json = json.max(q),
                "text/*" => csv = csv.max(q),
                _ => {}
            }
        }
        Ok(if csv > 0.0 && csv > json {
            Format::Csv
        } else {
            Format::Json
        })
    }
}

/// Any serializable answer as JSON.
pub fn json<T: Serialize>(value: &T) -> Rendered {
    Rendered {
        content_type: JSON,
        cache_control: None,
        content_disposition: None,
        body: serde_json::to_string(value).unwrap_or_else(|e| {
            // Serializing these plain structs cannot fail; say so rather than panic.
            format!("{{\"error\":\"could not serialize the answer: {e}\"}}")
        }),
    }
}

/// A history answer as JSON: the [`History`] fields, steps and summary.
pub fn history_json(h: &History) -> Rendered {
    json(h)
}

/// Raw results as JSON: `{"results": [...]}`.
pub fn results_json(rows: &[ResultRow]) -> Rendered {
    #[derive(Serialize)]
    struct Results<'a> {
        results: &'a [ResultRow],
    }
    json(&Results { results: rows })
}

/// The header row of [`history_csv`].
pub const HISTORY_CSV_HEADER: &str = "start,start_ms,count,up,uptime,apdex,satisfied,tolerating,frustrated,p50_ms,p95_ms,p99_ms,mean_ms,percentiles_exact";

/// A history answer as CSV: one row per step; empty cells where a value is absent.
pub fn history_csv(h: &History) -> Rendered {
    let mut out = String::with_capacity(64 + h.steps.len() * 96);
    out.push_str(HISTORY_CSV_HEADER);
    out.push_str("\r\n");
    for s in &h.steps {
        let cells = [
            format_time(s.start_ms),
            s.start_ms.to_string(),
            s.count.to_string(),
            s.up.to_string(),
            num(s.uptime),
            num(s.apdex),
            s.satisfied.to_string(),
            s.tolerating.to_string(),
            s.frustrated.to_string(),
            num(s.p50_ms),
            num(s.p95_ms),
            num(s.p99_ms),
            num(s.mean_ms),
            s.percentiles_exact.to_string(),
        ];
        row(&mut out, &cells);
    }
    Rendered {
        content_type: CSV,
        cache_control: None,
        content_disposition: Some(format!(
            "attachment; filename=\"history-{}.csv\"",
            file_name_part(h.endpoint_id.as_str())
        )),
        body: out,
    }
}

/// The header row of [`results_csv`].
pub const RESULTS_CSV_HEADER: &str = "started_at,started_at_ms,region,outcome,reason,status,message,total_ms,dns_ms,connect_ms,tls_ms,ttfb_ms,bytes,apdex,run_id";

/// Raw results as CSV, newest first.
pub fn results_csv(rows: &[ResultRow]) -> Rendered {
    let mut out = String::with_capacity(128 + rows.len() * 160);
    out.push_str(RESULTS_CSV_HEADER);
    out.push_str("\r\n");
    for r in rows {
        let t = &r.timings;
        let apdex = match r.apdex {
            scoville_core::ApdexClass::Satisfied => "satisfied",
            scoville_core::ApdexClass::Tolerating => "tolerating",
            scoville_core::ApdexClass::Frustrated => "frustrated",
        };
        let cells = [
            format_time(r.started_at_ms),
            r.started_at_ms.to_string(),
            csv_text(&r.region),
            csv_text(&r.outcome),
            csv_text(r.reason.as_deref().unwrap_or("")),
            r.status.map(|s| s.to_string()).unwrap_or_default(),
            csv_text(&r.message),
            num(Some(t.total_ms)),
            num(t.dns_ms),
            num(t.connect_ms),
            num(t.tls_ms),
            num(t.ttfb_ms),
            r.bytes.to_string(),
            apdex.to_string(),
            csv_text(&r.run_id),
        ];
        row(&mut out, &cells);
    }
    Rendered {
        content_type: CSV,
        cache_control: None,
        content_disposition: Some("attachment; filename=\"results.csv\"".to_string()),
        body: out,
    }
}

/// Keeps only characters safe in a quoted file name.
fn file_name_part(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect()
}

fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => v.to_string(),
        _ => String::new(),
    }
}

/// Text a spreadsheet must not run as a formula: a leading `=`, `+`, `-`, `@`, tab or
/// carriage return gets a `'` in front (OWASP's advice for CSV injection).
pub(crate) fn csv_text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// Appends one CSV record, quoting the fields that need it.
pub(crate) fn row(out: &mut String, cells: &[String]) {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        quote_csv(c, out);
    }
    out.push_str("\r\n");
}

/// One CSV field: quoted when it holds a comma, quote, CR, LF or an edge space.
pub fn quote_csv(field: &str, out: &mut String) {
    let needs =
        field.contains([',', '"', '\r', '\n']) || field.starts_with(' ') || field.ends_with(' ');
    if !needs {
        out.push_str(field);
        return;
    }
    out.push('"');
    for ch in field.chars() {
        if ch == '"' {
            out.push('"');
        }
        out.push(ch);
    }
    out.push('"');
}

/// Badge colours (shields.io's).
pub mod color {
    /// ≥ 99.9 %, fast.
    pub const BRIGHT_GREEN: &str = "#4c1";
    /// Good.
    pub const GREEN: &str = "#97ca00";
    /// Fair.
    pub const YELLOW_GREEN: &str = "#a4a61d";
    /// Degraded.
    pub const YELLOW: &str = "#dfb317";
    /// Poor.
    pub const ORANGE: &str = "#fe7d37";
    /// Down, bad.
    pub const RED: &str = "#e05d44";
    /// Unknown.
    pub const GREY: &str = "#9f9f9f";
}

/// Escapes text for XML content and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Approximate width in px of `s` in 11 px Verdana (shields.io's font).
fn text_width(s: &str) -> u32 {
    let w: f64 = s
        .chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' => 3.5,
            ' ' | 'f' | 'r' | 't' | 'I' | '(' | ')' | '[' | ']' | '-' => 4.6,
            'm' | 'w' | 'M' | 'W' => 10.0,
            '%' => 11.9,
            '0'..='9' => 7.0,
            c if c.is_ascii_uppercase() => 7.6,
            c if c.is_ascii_lowercase() => 6.6,
            _ => 7.5,
        })
        .sum();
    w.ceil() as u32
}

/// A flat two-part badge: `label` on grey, `message` on `color` (a `#rgb` or `#rrggbb`
/// value; anything else becomes grey). Both texts are XML-escaped.
pub fn badge(label: &str, message: &str, color: &str) -> Rendered {
    let color = if color.len() <= 7
        && color.starts_with('#')
        && color[1..].bytes().all(|b| b.is_ascii_hexdigit())
        && matches!(color.len(), 4 | 7)
    {
        color
    } else {
        color::GREY
    };
    let (lw, mw) = (text_width(label) + 10, text_width(message) + 10);
    let w = lw + mw;
    let (l, m) = (xml_escape(label), xml_escape(message));
    // Text is drawn at 10x and scaled down, as shields.io does, for crisp rendering.
    let (lx, mx) = (lw * 5, lw * 10 + mw * 5);
    let (ltl, mtl) = ((lw - 10) * 10, (mw - 10) * 10);
    let mut s = String::with_capacity(1200);
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"20\" role=\"img\" aria-label=\"{l}: {m}\">\
<title>{l}: {m}</title>\
<linearGradient id=\"s\" x2=\"0\" y2=\"100%\"><stop offset=\"0\" stop-color=\"#bbb\" stop-opacity=\".1\"/><stop offset=\"1\" stop-opacity=\".1\"/></linearGradient>\
<clipPath id=\"r\"><rect width=\"{w}\" height=\"20\" rx=\"3\" fill=\"#fff\"/></clipPath>\
<g clip-path=\"url(#r)\"><rect width=\"{lw}\" height=\"20\" fill=\"#555\"/><rect x=\"{lw}\" width=\"{mw}\" height=\"20\" fill=\"{color}\"/><rect width=\"{w}\" height=\"20\" fill=\"url(#s)\"/></g>\
<g fill=\"#fff\" text-anchor=\"middle\" font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" text-rendering=\"geometricPrecision\" font-size=\"110\">\
<text aria-hidden=\"true\" x=\"{lx}\" y=\"150\" fill=\"#010101\" fill-opacity=\".3\" transform=\"scale(.1)\" textLength=\"{ltl}\">{l}</text>\
<text x=\"{lx}\" y=\"140\" transform=\"scale(.1)\" fill=\"#fff\" textLength=\"{ltl}\">{l}</text>\
<text aria-hidden=\"true\" x=\"{mx}\" y=\"150\" fill=\"#010101\" fill-opacity=\".3\" transform=\"scale(.1)\" textLength=\"{mtl}\">{m}</text>\
<text x=\"{mx}\" y=\"140\" transform=\"scale(.1)\" fill=\"#fff\" textLength=\"{mtl}\">{m}</text></g></svg>"
    );
    Rendered {
        content_type: SVG,
        // Badges are embedded in READMEs and status pages: let caches keep them briefly.
        cache_control: Some("max-age=60, s-maxage=60"),
        content_disposition: None,
        body: s,
    }
}

/// The status badge: `status | up` (green), `degraded` (yellow), `down` (red),
/// `unknown` (grey).
pub fn status_badge(status: EndpointStatus) -> Rendered {
    let c = match status {
        EndpointStatus::Up => color::BRIGHT_GREEN,
        EndpointStatus::Degraded => color::YELLOW,
        EndpointStatus::Down => color::RED,
        EndpointStatus::Unknown => color::GREY,
    };
    badge("status", status.as_str(), c)
}

/// Uptime as a badge's text: truncated (never rounded up) to two decimals, trailing zeros
/// dropped: `100%`, `99.95%`, `99.5%`, `n/a`.
pub fn format_uptime(uptime: Option<f64>) -> String {
    match uptime {
        Some(u) if u.is_finite() => {
            if u >= 1.0 {
                return "100%".into();
            }
            // +1e-9 so that 0.9995 (0.99949999... in binary) still reads 99.95.
            let hundredths = ((u.max(0.0) * 10_000.0) + 1e-9).floor() / 100.0;
            let s = format!("{hundredths:.2}");
            let s = s.trim_end_matches('0').trim_end_matches('.');
            format!("{s}%")
        }
        _ => "n/a".into(),
    }
}

/// The uptime badge: `uptime <window> | 99.95%`, coloured from 99.9 % (bright green) down
/// to under 90 % (red).
pub fn uptime_badge(window: &str, uptime: Option<f64>) -> Rendered {
    let c = match uptime {
        Some(u) if u >= 0.999 => color::BRIGHT_GREEN,
        Some(u) if u >= 0.99 => color::GREEN,
        Some(u) if u >= 0.97 => color::YELLOW_GREEN,
        Some(u) if u >= 0.95 => color::YELLOW,
        Some(u) if u >= 0.90 => color::ORANGE,
        Some(_) => color::RED,
        None => color::GREY,
    };
    badge(&format!("uptime {window}"), &format_uptime(uptime), c)
}

/// A latency as a badge's text: `123 ms` under a second, else `1.23 s`; `n/a`.
pub fn format_latency(ms: Option<f64>) -> String {
    match ms {
        Some(v) if v.is_finite() && v < 999.5 => format!("{:.0} ms", v.max(0.0)),
        Some(v) if v.is_finite() => format!("{:.2} s", v / 1000.0),
        _ => "n/a".into(),
    }
}

/// The response time badge: `response time <window> | 123 ms` (the mean latency of up
/// checks), bright green under 200 ms down to red from 2 s.
pub fn response_time_badge(window: &str, mean_ms: Option<f64>) -> Rendered {
    let c = match mean_ms {
        Some(v) if v < 200.0 => color::BRIGHT_GREEN,
        Some(v) if v < 400.0 => color::GREEN,
        Some(v) if v < 700.0 => color::YELLOW_GREEN,
        Some(v) if v < 1000.0 => color::YELLOW,
        Some(v) if v < 2000.0 => color::ORANGE,
        Some(_) => color::RED,
        None => color::GREY,
    };
    badge(
        &format!("response time {window}"),
        &format_latency(mean_ms),
        c,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn negotiates_the_format() {
        let none = p(&[]);
        assert_eq!(Format::negotiate(&none, None).unwrap(), Format::Json);
        assert_eq!(
            Format::negotiate(&none, Some("text/csv")).unwrap(),
            Format::Csv
        );
        assert_eq!(Format::negotiate(&none, Some("*/*")).unwrap(), Format::Json);
        assert_eq!(
            Format::negotiate(&none, Some("application/json;q=0.5, text/csv")).unwrap(),
            Format::Csv
        );
        assert_eq!(
            Format::negotiate(&none, Some("text/csv;q=0.2, application/json")).unwrap(),
            Format::Json
        );
        assert_eq!(
            Format::negotiate(&p(&[("format", "CSV")]), Some("application/json")).unwrap(),
            Format::Csv
        );
        assert_eq!(
            Format::negotiate(&p(&[("format", "xml")]), None)
                .unwrap_err()
                .path,
            "format"
        );
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let mut s = String::new();
        quote_csv("plain", &mut s);
        s.push('|');
        quote_csv("a \"quoted\", text\nline", &mut s);
        s.push('|');
        quote_csv(" edge", &mut s);
        assert_eq!(s, "plain|\"a \"\"quoted\"\", text\nline\"|\" edge\"");
        assert_eq!(csv_text("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_text("HTTP 200"), "HTTP 200");
    }

    #[test]
    fn badges_escape_and_format() {
        let b = badge("a<b>&\"c\"", "x'y", "red; stroke:url(evil)");
        assert!(
            b.body.contains("a&lt;b&gt;&amp;&quot;c&quot;: x&apos;y"),
            "{}",
            b.body
        );
        assert!(!b.body.contains("evil"));
        assert!(b.body.contains(color::GREY));
        assert_eq!(format_uptime(Some(1.0)), "100%");
        assert_eq!(
            format_uptime(Some(0.99999)),
            "99.99%",
            "never rounded up to 100"
        );
        assert_eq!(format_uptime(Some(0.9995)), "99.95%");
        assert_eq!(format_uptime(Some(0.995)), "99.5%");
        assert_eq!(format_uptime(Some(0.5)), "50%");
        assert_eq!(format_uptime(None), "n/a");
        assert_eq!(format_latency(Some(123.4)), "123 ms");
        assert_eq!(format_latency(Some(1234.0)), "1.23 s");
        let u = uptime_badge("30d", Some(0.9995));
        assert!(u.body.contains(">99.95%</text>") && u.body.contains(color::BRIGHT_GREEN));
        assert!(u.body.contains(">uptime 30d</text>"));
        let s = status_badge(EndpointStatus::Down);
        assert!(s.body.contains(">down</text>") && s.body.contains(color::RED));
        assert!(s.body.starts_with("<svg ") && s.body.ends_with("</svg>"));
    }
}
