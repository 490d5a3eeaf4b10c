//! Uptime Kuma's JSON backup (Settings → Backup → Export in Kuma 1.x: `version`,
//! `notificationList`, `monitorList`) read as Scoville endpoints, where the format allows.
//!
//! Each monitor becomes the body of a `POST /v1/endpoints` (then checked by the same
//! parser), or a reason it was skipped:
//!
//! | Kuma `type` | Scoville check |
//! | --- | --- |
//! | `http` | `http`: `url`, `method`, `body`, `headers` (Kuma keeps them as a JSON string), `accepted_statuscodes` → `expect_status`, `ignoreTls` → `tls_verify: false`, `maxredirects` (0: do not follow) |
//! | `keyword` | `http` and a `body_contains` assertion (`body_not_contains` when `invertKeyword`) |
//! | `port` | `tcp`: `hostname`, `port` |
//! | `ping` | `icmp`: `hostname` |
//! | `dns` | `dns`: `hostname`, `dns_resolve_type`, `dns_resolve_server` (port 53) |
//! | `push` | `heartbeat`: `interval` → `period_s` (at least 30), 60 s grace; its new ping URL comes from `POST /v1/endpoints/{id}/ping-token` (Kuma's push token is not carried over) |
//! | anything else (`docker`, `group`, `json-query`, databases, game servers ...) | skipped, with the reason |
//!
//! Common fields: `interval` (seconds) clamped to 30-3600; `maxretries` + 1 →
//! `failure_threshold` (1-50); `active` false → paused; `timeout` (seconds) → the check's
//! `timeout_ms`; `tags` → tags (`name` or `name:value`, characters Scoville's labels do
//! not allow replaced by `-`). `upsideDown` monitors (up when the check fails) are
//! skipped: Scoville has no such mode. Notifications are not imported: Kuma keeps each
//! provider's settings in its own shape, and the channels' secrets are better entered
//! again than carried in a backup file.

use serde_json::{Map, Value, json};

/// One monitor: the endpoint's JSON body, or why it was skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct Monitor {
    /// Its index in `monitorList`.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// A `POST /v1/endpoints` body, or the reason it was skipped.
    pub body: Result<Value, String>,
}

/// Whether `file` looks like a Kuma backup (it has a `monitorList` array).
pub fn is_backup(file: &Value) -> bool {
    file.get("monitorList").is_some_and(Value::is_array)
}

/// Every monitor of `backup`, checked from `regions`.
pub fn monitors(backup: &Value, regions: &[String]) -> Vec<Monitor> {
    backup
        .get("monitorList")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .enumerate()
                .map(|(index, m)| Monitor {
                    index,
                    name: text(m, "name").unwrap_or_else(|| format!("monitor {index}")),
                    body: endpoint(m, regions),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn text(m: &Value, key: &str) -> Option<String> {
    m.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn number(m: &Value, key: &str) -> Option<f64> {
    match m.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Kuma writes booleans as `true`/`false` or `1`/`0`.
fn flag(m: &Value, key: &str) -> Option<bool> {
    match m.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        _ => None,
    }
}

fn required(m: &Value, key: &str) -> Result<String, String> {
    text(m, key).ok_or_else(|| format!("`{key}` is missing"))
}

/// A tag as a Scoville label: 1-64 of letters, digits and `- _ . : /`.
fn label(tag: &Value) -> Option<String> {
    let name = text(tag, "name")?;
    let raw = match text(tag, "value") {
        Some(v) => format!("{name}:{v}"),
        None => name,
    };
    let clean: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.:/".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    (!clean.trim_matches('-').is_empty()).then_some(clean)
}

fn endpoint(m: &Value, regions: &[String]) -> Result<Value, String> {
    if flag(m, "upsideDown") == Some(true) {
        return Err("upside-down mode (up when the check fails) has no Scoville equivalent".into());
    }
    let kind = text(m, "type").unwrap_or_else(|| "http".into());
    let mut check = match kind.as_str() {
        "http" | "keyword" => http(m, &kind)?,
        "port" => json!({"type": "tcp", "host": required(m, "hostname")?, "port": port(m)?}),
        "ping" => json!({"type": "icmp", "host": required(m, "hostname")?}),
        "dns" => dns(m)?,
        // Kuma wants a push every `interval`; Scoville gives a minute's grace on top.
        "push" => json!({"type": "heartbeat", "period_s": interval_of(m), "grace_s": 60}),
        other => return Err(format!("monitor type `{other}` has no Scoville equivalent")),
    };
    if let Some(t) = number(m, "timeout").filter(|t| *t > 0.0)
        && let Some(c) = check.as_object_mut()
    {
        c.insert("timeout_ms".into(), json!((t * 1000.0).round() as u64));
    }
    let interval = number(m, "interval")
        .unwrap_or(60.0)
        .round()
        .clamp(30.0, 3600.0) as u32;
    let pushed = kind == "push";
    let failure_threshold = (number(m, "maxretries").unwrap_or(0.0).max(0.0) as u32 + 1).min(50);
    let mut tags: Vec<String> = m
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(label).collect())
        .unwrap_or_default();
    tags.dedup();
    tags.truncate(20);
    let mut body = Map::new();
    body.insert(
        "name".into(),
        json!(text(m, "name").unwrap_or_else(|| kind.clone())),
    );
    body.insert("check".into(), check);
    if !pushed {
        // A heartbeat is pushed: it has no regions.
        body.insert("regions".into(), json!(regions));
        body.insert("confirm_regions".into(), json!(regions.len().min(2)));
    }
    body.insert("interval_s".into(), json!(interval));
    body.insert("failure_threshold".into(), json!(failure_threshold));
    body.insert("tags".into(), json!(tags));
    body.insert("paused".into(), json!(flag(m, "active") == Some(false)));
    Ok(Value::Object(body))
}

/// A push monitor's period: its interval, at least 30 s.
fn interval_of(m: &Value) -> u64 {
    number(m, "interval").unwrap_or(60.0).round().max(30.0) as u64
}

fn port(m: &Value) -> Result<u64, String> {
    number(m, "port")
        .filter(|p| (1.0..=65535.0).contains(p))
        .map(|p| p as u64)
        .ok_or_else(|| "`port` must be 1-65535".into())
}

fn http(m: &Value, kind: &str) -> Result<Value, String> {
    let mut c = Map::new();
    c.insert("type".into(), json!("http"));
    c.insert("url".into(), json!(required(m, "url")?));
    if let Some(method) = text(m, "method") {
        c.insert("method".into(), json!(method.to_ascii_uppercase()));
    }
    if let Some(body) = text(m, "body") {
        c.insert("body".into(), json!(body));
    }
    if let Some(headers) = text(m, "headers") {
        let parsed: Value = serde_json::from_str(&headers)
            .map_err(|_| "`headers` is not a JSON object".to_string())?;
        if !parsed.is_object() {
            return Err("`headers` is not a JSON object".into());
        }
        c.insert("headers".into(), parsed);
    }
    if let Some(codes) = m.get("accepted_statuscodes").and_then(Value::as_array)
        && !codes.is_empty()
    {
        c.insert("expect_status".into(), Value::Array(codes.clone()));
    }
    if flag(m, "ignoreTls") == Some(true) {
        c.insert("tls_verify".into(), json!(false));
    }
    if let Some(n) = number(m, "maxredirects") {
        if n <= 0.0 {
            c.insert("follow_redirects".into(), json!(false));
        } else {
            c.insert("max_redirects".into(), json!(n.min(20.0) as u64));
        }
    }
    if kind == "keyword" {
        let keyword = required(m, "keyword")?;
        let kind = if flag(m, "invertKeyword") == Some(true) {
            "body_not_contains"
        } else {
            "body_contains"
        };
        c.insert(
            "assertions".into(),
            json!([{"type": kind, "value": keyword}]),
        );
    }
    Ok(Value::Object(c))
}

fn dns(m: &Value) -> Result<Value, String> {
    let mut c = Map::new();
    c.insert("type".into(), json!("dns"));
    c.insert("name".into(), json!(required(m, "hostname")?));
    if let Some(t) = text(m, "dns_resolve_type") {
        c.insert("record_type".into(), json!(t.to_ascii_uppercase()));
    }
    if let Some(server) = text(m, "dns_resolve_server") {
        let addr = if server.contains(':')
            && !server.starts_with('[')
            && server.parse::<std::net::Ipv6Addr>().is_ok()
        {
            format!("[{server}]:53")
        } else if server.contains(':') {
            server
        } else {
            format!("{server}:53")
        };
        c.insert("resolver".into(), json!(addr));
    }
    Ok(Value::Object(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions() -> Vec<String> {
        vec!["eu-west-1".into(), "us-east-1".into()]
    }

    #[test]
    fn each_kind_maps_or_says_why_not() {
        let backup = json!({"version": "1.23.11", "notificationList": [], "monitorList": [
            {"id": 1, "name": "shop", "type": "http", "url": "https://shop.example/health", "method": "post",
             "body": "{}", "headers": "{\"x-a\": \"1\"}", "interval": 20, "maxretries": 2, "active": 1,
             "accepted_statuscodes": ["200-299", "301"], "ignoreTls": 1, "maxredirects": 0, "timeout": 16,
             "tags": [{"name": "team", "value": "web shop", "color": "#fff"}, {"name": "prod", "value": ""}]},
            {"id": 2, "name": "kw", "type": "keyword", "url": "https://a.example/", "keyword": "OK", "invertKeyword": true, "active": 0},
            {"id": 3, "name": "db", "type": "port", "hostname": "db.example", "port": 5432},
            {"id": 4, "name": "gw", "type": "ping", "hostname": "10.0.0.1"},
            {"id": 5, "name": "mx", "type": "dns", "hostname": "example.com", "dns_resolve_type": "mx", "dns_resolve_server": "1.1.1.1"},
            {"id": 6, "name": "cron", "type": "push"},
            {"id": 7, "name": "ctr", "type": "docker"},
            {"id": 8, "name": "flip", "type": "http", "url": "https://b.example/", "upsideDown": true},
            {"id": 9, "name": "bad port", "type": "port", "hostname": "h.example", "port": 70000},
        ]});
        assert!(is_backup(&backup));
        let m = monitors(&backup, &regions());
        assert_eq!(m.len(), 9);
        let shop = m[0].body.as_ref().unwrap();
        assert_eq!(shop["check"]["method"], "POST");
        assert_eq!(shop["check"]["headers"]["x-a"], "1");
        assert_eq!(shop["check"]["expect_status"], json!(["200-299", "301"]));
        assert_eq!(shop["check"]["tls_verify"], false);
        assert_eq!(shop["check"]["follow_redirects"], false);
        assert_eq!(shop["check"]["timeout_ms"], 16_000);
        assert_eq!(shop["interval_s"], 30, "clamped to Scoville's minimum");
        assert_eq!(shop["failure_threshold"], 3);
        assert_eq!(shop["paused"], false);
        assert_eq!(shop["tags"], json!(["team:web-shop", "prod"]));
        assert_eq!(shop["regions"], json!(regions()));
        let kw = m[1].body.as_ref().unwrap();
        assert_eq!(
            kw["check"]["assertions"],
            json!([{"type": "body_not_contains", "value": "OK"}])
        );
        assert_eq!(kw["paused"], true);
        assert_eq!(
            m[2].body.as_ref().unwrap()["check"],
            json!({"type": "tcp", "host": "db.example", "port": 5432})
        );
        assert_eq!(m[3].body.as_ref().unwrap()["check"]["type"], "icmp");
        let mx = &m[4].body.as_ref().unwrap()["check"];
        assert_eq!(
            (mx["record_type"].as_str(), mx["resolver"].as_str()),
            (Some("MX"), Some("1.1.1.1:53"))
        );
        let cron = m[5].body.as_ref().unwrap();
        assert_eq!(
            cron["check"],
            json!({"type": "heartbeat", "period_s": 60, "grace_s": 60})
        );
        assert!(cron.get("regions").is_none(), "{cron}");
        assert!(m[6].body.as_ref().unwrap_err().contains("docker"));
        assert!(m[7].body.as_ref().unwrap_err().contains("upside-down"));
        assert!(m[8].body.as_ref().unwrap_err().contains("port"));
        assert!(!is_backup(&json!({"endpoints": []})));
    }
}
