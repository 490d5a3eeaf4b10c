//! The running API against its own OpenAPI document, with schemathesis: the API is served
//! on a real port (SQLite stores in a temporary directory, a little history written by
//! the receiver's own writer), two organizations are set up with API keys, endpoints of
//! every check kind, channels, windows and a status page, and schemathesis generates
//! requests for every operation of `GET /v1/openapi.json` (examples, boundary and
//! invalid values, random ones, and sequences that reuse what answers returned). It must
//! find no 5xx and no answer that the document does not describe (status, content type,
//! headers, body schema); the API must also reject what the document calls invalid,
//! refuse requests without their credentials, answer 405 to undocumented methods, and
//! forget what it deleted.
//!
//! Schemathesis (4.x) is a Python tool: `.ci/run` installs it (`pip install
//! schemathesis`). Without it this test fails when `CI` is set, and only warns otherwise.
//! `PYTHON` names the interpreter (`python3`); `SCOVILLE_SCHEMATHESIS_SEED` and
//! `SCOVILLE_SCHEMATHESIS_EXAMPLES` (25 per operation) explore further than CI's fixed
//! run; `SCOVILLE_SCHEMATHESIS_REPORTS=DIR` keeps every request and answer (HAR, JUnit).
//!
//! One operation is left out: `DELETE /v1/api-keys/{id}`, since schemathesis reads the
//! ids of `GET /v1/api-keys` and would delete the key the whole run authenticates with.
//! The rest runs: logout ends only the session of a cookie sent (the run authenticates
//! with an API key), a password change needs a signed-in user (an API key gets 403), and
//! test notifications go to a local webhook sink (the channels set up here) or to
//! channels schemathesis manages to create with a valid configuration, which it does not
//! (the configuration's fields are the channel kind's, not in the schema).
//!
//! One check is off: `positive_data_acceptance` (every request the schema allows gets a
//! 2xx). Some rules cannot be written in a schema: an invitation or a current password
//! must be the right one, `confirm_regions` at most the regions listed, a maintenance
//! window at most 31 days long, endpoint ids of the caller's organization; such requests
//! are well-formed and answered 422 naming the field, as documented.

#![allow(clippy::unwrap_used)]

// Its InfluxDB server is not used here.
#[allow(unused_imports)]
mod support_history;

use scoville_incident_log::IncidentLog;
use scoville_incident_log::sqlite::SqliteLog;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use scoville_admin_api::history::sqlite::SqliteHistory;
use scoville_admin_api::store::sqlite::SqliteAdmin;
use scoville_admin_api::{AppState, router};
use scoville_receiver_service::store::ResultStore;
use scoville_receiver_service::store::sqlite::SqliteStore;
use scoville_service_kit::auth::{TokenHash, TokenSet};
use scoville_service_kit::http::Server;
use scoville_tests::recorder::Recorder;
use serde_json::{Value, json};
use support_history::{MINUTE, Rng, TempDir, result};

/// The whole schemathesis run may take this long.
const RUN_LIMIT: Duration = Duration::from_secs(20 * 60);

/// The command that starts schemathesis, or why it cannot be.
fn schemathesis() -> Result<Vec<String>, String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let probe = std::process::Command::new(&python)
        .args(["-m", "schemathesis.cli", "--version"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout);
            // The options below are schemathesis 4's.
            if !version.contains("version 4.") {
                return Err(format!("schemathesis 4.x is needed, found {version}"));
            }
            Ok(vec![python, "-m".into(), "schemathesis.cli".into()])
        }
        Ok(out) => Err(format!(
            "`{python} -m schemathesis.cli --version` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(e) => Err(format!("could not run {python}: {e}")),
    }
}

/// A client of the API under test, for the setup.
struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn send(&self, method: reqwest::Method, path: &str, cookie: &str, body: Value) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .json(&body);
        if !cookie.is_empty() {
            req = req.header("cookie", cookie);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        answer
    }

    async fn post(&self, path: &str, cookie: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, cookie, body).await
    }

    /// Signs up an organization and gives it a read-write key, endpoints of every
    /// kind, a webhook channel to `hook`, a probe token and a maintenance window.
    async fn organization(&self, email: &str, name: &str, hook: &Recorder) -> Org {
        let resp = self
            .http
            .post(format!("{}/v1/signup", self.base))
            .json(&json!({"email": email, "password": "correct horse battery", "org_name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let cookie = resp
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let signed_up: Value = resp.json().await.unwrap();
        let text = |v: &Value, key: &str| v[key].as_str().unwrap().to_string();
        let key_body = json!({"name": "schemathesis", "scope": "read_write"});
        let key = text(&self.post("/v1/api-keys", &cookie, key_body).await, "key");
        let mut endpoints = Vec::new();
        for body in endpoint_bodies() {
            endpoints.push(text(&self.post("/v1/endpoints", &cookie, body).await, "id"));
        }
        let hook = json!({"name": "hook", "config": {"type": "webhook", "url": hook.url("/hook")}});
        let channel = text(&self.post("/v1/channels", &cookie, hook).await, "id");
        self.post("/v1/probe-tokens", &cookie, json!({"name": "private"}))
            .await;
        let now = scoville_admin_api::app::now_ms();
        self.post(
            "/v1/maintenance",
            &cookie,
            json!({"from_ms": now, "to_ms": now + 3_600_000, "endpoint_ids": [endpoints[1]], "reason": "upgrade"}),
        )
        .await;
        Org {
            org_id: signed_up["org"]["id"].as_str().unwrap().to_string(),
            cookie,
            key,
            endpoints,
            channel,
        }
    }
}

/// An organization set up for the run.
struct Org {
    org_id: String,
    /// The owner's session cookie, `scoville_session=...`.
    cookie: String,
    /// A read-write API key.
    key: String,
    /// Its endpoints' ids, in the order of [`endpoint_bodies`].
    endpoints: Vec<String>,
    /// Its webhook channel's id.
    channel: String,
}

/// The organization's endpoints: one of every check kind, with most options set, so
/// that the answers schemathesis checks carry them.
fn endpoint_bodies() -> Vec<Value> {
    vec![
        json!({
            "name": "shop",
            "check": {
                "type": "http",
                "url": "https://shop.example.com/health?deep=1",
                "method": "post",
                "headers": {"x-probe": "scoville"},
                "body": "{}",
                "timeout_ms": 5000,
                "max_redirects": 3,
                "cert_expiry": {"warn_days": 20, "critical_days": 5},
                "expect_status": [200, "300-302"],
                "assertions": [
                    {"type": "body_contains", "value": "ok"},
                    {"type": "body_not_contains", "value": "error"},
                    {"type": "body_regex", "pattern": "^\\{"},
                    {"type": "json_path", "path": "$.status", "equals": "ok"},
                    {"type": "json_path", "path": "$.load", "ge": 0, "lt": 0.9},
                    {"type": "header", "name": "Content-Type", "matches": "json"},
                    {"type": "header", "name": "server", "equals": "nginx"},
                    {"type": "max_latency_ms", "value": 800}
                ],
                "body_limit": {"max_bytes": 65536, "on_exceed": "fail"},
                "hash_body": true,
                "watch": {"type": "regex", "pattern": "v(\\d+)"}
            },
            "regions": ["eu-west-1", "us-east-1"],
            "apdex_t_ms": 300,
            "mean_limit_ms": 1000,
            "tags": ["team:web", "prod"]
        }),
        json!({
            "name": "db",
            "check": {"type": "tcp", "host": "db.example.com", "port": 5432, "send": "PING\n", "expect": "PONG"},
            "regions": ["eu-west-1"],
            "confirm_regions": 1,
            "interval_s": 300
        }),
        json!({
            "name": "certificate",
            "check": {"type": "tls", "host": "shop.example.com", "server_name": "www.example.com"},
            "regions": ["eu-west-1", "us-east-1", "ap-south-1"],
            "paused": true
        }),
        json!({
            "name": "mail",
            "check": {"type": "dns", "name": "example.com", "record_type": "MX", "expected": ["10 mx.example.com"], "match": "any", "resolver": "192.0.2.53:53"},
            "regions": ["eu-west-1", "us-east-1"]
        }),
        json!({
            "name": "router",
            "check": {"type": "icmp", "host": "192.0.2.1", "count": 3},
            "regions": ["eu-west-1", "us-east-1"]
        }),
    ]
}

/// A TOML string.
fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_api_answers_as_its_openapi_document_says() {
    let command = match schemathesis() {
        Ok(c) => c,
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("schemathesis is required in CI (.ci/run installs it): {why}")
        }
        Err(why) => {
            eprintln!("WARNING: skipping the schemathesis run: {why}; `pip install schemathesis`");
            return;
        }
    };

    // The stores (history is written below, once the endpoints' ids are known), and the
    // API on a real port.
    let dir = TempDir::new("openapi");
    let admin = Arc::new(SqliteAdmin::open(&dir.0.join("admin.db")).unwrap());
    let results_path = dir.0.join("results.db");
    let writer = SqliteStore::open(&results_path).unwrap();
    let history = Arc::new(SqliteHistory::open(&results_path).unwrap());
    let incidents: Arc<dyn IncidentLog> =
        Arc::new(SqliteLog::open(&dir.0.join("incidents.db")).unwrap());
    const PLATFORM_TOKEN: &str = "platform-probe-token-for-openapi-0123456789";
    let state = AppState::new(
        admin,
        TokenSet::new(vec![TokenHash::of(PLATFORM_TOKEN)]),
        3_600_000,
        false,
    )
    .await
    .unwrap()
    // Test notifications go to the webhook sink below, on loopback.
    .allowing_private_channels()
    .unwrap()
    .with_history(history)
    .with_incidents(incidents.clone())
    // Heartbeats with nowhere to hand results: unknown ping tokens are 404, and
    // schemathesis cannot know a real one.
    .with_heartbeats(scoville_admin_api::heartbeat::Heartbeats::new(
        Arc::new(
            scoville_admin_api::heartbeat::sqlite::SqliteHeartbeats::open(&dir.0.join("admin.db"))
                .unwrap(),
        ),
        None,
    ));
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), router(state))
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    let base = format!("http://{addr}");

    // Two organizations. Schemathesis works in "main" with its read-write key, and may
    // delete whatever it finds there. "reader" holds what the reading operations are
    // pointed at half of the time (its endpoints, the first with history, a webhook
    // channel to a sink answering 200, a public status page), out of reach of the
    // deleting ones: those operations are sent with reader's key.
    let hook = Recorder::start().await;
    let client = Client {
        http: reqwest::Client::new(),
        base: base.clone(),
    };
    let main = client.organization("main@example.com", "Main", &hook).await;
    let reader = client
        .organization("reader@example.com", "Reader", &hook)
        .await;
    let slug = "reader-status";
    client
        .post(
            "/v1/status-pages",
            &reader.cookie,
            json!({"slug": slug, "title": "Reader status", "endpoint_ids": [reader.endpoints[0], reader.endpoints[3]]}),
        )
        .await;

    // An incident of reader's first endpoint, resolved, as the failure service logs it.
    let incident = scoville_incident_log::Incident {
        id: format!("{}~29833333", reader.endpoints[0]),
        org_id: scoville_core::OrgId::parse(reader.org_id.as_str()).unwrap(),
        endpoint_id: scoville_core::EndpointId::parse(reader.endpoints[0].as_str()).unwrap(),
        started_at_ms: 1_789_999_940_000,
        confirmed_at_ms: 1_790_000_000_000,
        resolved_at_ms: Some(1_790_000_300_000),
        regions: vec![scoville_core::Region::parse("eu-west-1").unwrap()],
        error: Some("connect: connection refused".into()),
    };
    let entry = |at_ms, kind| scoville_incident_log::TimelineEntry {
        at_ms,
        kind,
        notice: None,
        muted: false,
        regions: Vec::new(),
        detail: None,
    };
    incidents
        .append(&[
            scoville_incident_log::LogWrite {
                incident: incident.clone(),
                entry: entry(
                    1_790_000_000_000,
                    scoville_incident_log::EntryKind::Confirmed,
                ),
            },
            scoville_incident_log::LogWrite {
                incident: incident.clone(),
                entry: entry(
                    1_790_000_300_000,
                    scoville_incident_log::EntryKind::Resolved,
                ),
            },
        ])
        .await
        .unwrap();

    // Two hours of results of reader's first endpoint, in two regions, rolled up.
    let now = scoville_admin_api::app::now_ms();
    let mut rng = Rng::new(11);
    let start = now - now % MINUTE - 120 * MINUTE;
    let mut written = Vec::new();
    for m in 0..120 {
        for (i, region) in ["eu-west-1", "us-east-1"].iter().enumerate() {
            let at = start + m * MINUTE + 1_000 * i as i64 + 17;
            let (org, endpoint) = (&reader.org_id, &reader.endpoints[0]);
            written.push(result(&mut rng, org, endpoint, region, 80.0, at));
        }
    }
    writer.write(&written).await.unwrap();
    writer.rollup_minutes(start, now + MINUTE).await.unwrap();
    writer.rollup_hours(start, now + MINUTE).await.unwrap();

    // Schemathesis' configuration.
    let list = |ids: &[String]| {
        ids.iter()
            .map(|i| toml_string(i))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let config = format!(
        r#"
headers = {{ Authorization = {main_key} }}
request-timeout = 20

[generation]
# The key above authenticates every request: a generated session cookie beside it would
# be ignored, which schemathesis would take for accepting a made-up credential.
with-security-parameters = false
database = "none"

[dictionaries.endpoints]
values = [{endpoints}]

[dictionaries.channels]
values = [{channel}]

[dictionaries.slugs]
values = [{slug}]

[dictionaries.incidents]
values = [{incident}]

# Deleting the run's own key would leave every later request without credentials
# (schemathesis reads its id from `GET /v1/api-keys`).
[[operations]]
include-operation-id = "delete_api_key"
enabled = false

# The platform token lists every organization's endpoints due.
[[operations]]
include-operation-id = "probe_endpoints"
headers = {{ Authorization = {platform} }}

[[operations]]
include-operation-id = [
    "get_endpoint", "replace_endpoint", "pause_endpoint", "resume_endpoint",
    "endpoint_history", "endpoint_results", "status_badge", "uptime_badge",
    "response_time_badge",
]
headers = {{ Authorization = {reader_key} }}
parameters = {{ "path.id" = {{ dictionary = "endpoints", probability = 0.5 }} }}

[[operations]]
include-operation-id = ["get_channel", "test_channel"]
headers = {{ Authorization = {reader_key} }}
parameters = {{ "path.id" = {{ dictionary = "channels", probability = 0.5 }} }}

[[operations]]
include-operation-id = ["get_incident", "list_incidents"]
headers = {{ Authorization = {reader_key} }}
parameters = {{ "path.id" = {{ dictionary = "incidents", probability = 0.5 }}, "query.endpoint_id" = {{ dictionary = "endpoints", probability = 0.5 }} }}

[[operations]]
include-operation-id = "public_status_page"
parameters = {{ "path.slug" = {{ dictionary = "slugs", probability = 0.5 }} }}
"#,
        main_key = toml_string(&format!("Bearer {}", main.key)),
        reader_key = toml_string(&format!("Bearer {}", reader.key)),
        platform = toml_string(&format!("Bearer {PLATFORM_TOKEN}")),
        endpoints = list(&reader.endpoints),
        channel = toml_string(&reader.channel),
        slug = toml_string(slug),
        incident = toml_string(&incident.id),
    );
    let config_path = dir.0.join("schemathesis.toml");
    std::fs::write(&config_path, config).unwrap();

    // A fixed seed keeps CI's run the same from one commit to the next; another seed, or
    // more examples, explore further.
    let seed = std::env::var("SCOVILLE_SCHEMATHESIS_SEED").unwrap_or_else(|_| "20260101".into());
    let examples = std::env::var("SCOVILLE_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "25".into());
    let mut cmd = tokio::process::Command::new(&command[0]);
    cmd.args(&command[1..])
        .arg("--config-file")
        .arg(&config_path)
        .arg("--no-color")
        .arg("run")
        .arg(format!("{base}/v1/openapi.json"))
        .args(["--checks", "all"])
        .args(["--exclude-checks", "positive_data_acceptance"])
        .args(["--max-examples", &examples])
        .args(["--seed", &seed])
        .args(["--workers", "2"])
        .args(["--request-timeout", "20"])
        // The key and tokens are this run's own: show them, for `curl` to reproduce.
        .args(["--output-sanitize", "false"])
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    // Every request and answer, kept for a look when something fails.
    if let Ok(reports) = std::env::var("SCOVILLE_SCHEMATHESIS_REPORTS") {
        cmd.args(["--report", "junit,har", "--report-dir", &reports]);
    }
    let output = tokio::time::timeout(RUN_LIMIT, cmd.output())
        .await
        .expect("schemathesis took too long")
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
    assert!(
        output.status.success(),
        "schemathesis found problems ({}):\n{text}",
        output.status
    );
    // The run's summary, for the log.
    println!("{text}");
}
