//! The services' TOML configurations as the system suites write them (`tests/e2e.rs`,
//! `tests/faults_pipeline.rs`, `tests/faults_alerting.rs`), one function a service, so
//! that a suite says which adapters it wants (a [`Plan`](super::Plan)) instead of
//! spelling out each file. Every adapter here is chosen by what the plan starts:
//! DynamoDB and SQS when it runs moto, Redis Streams when it runs Redis, InfluxDB
//! history and rollups when it runs influxd; the few keys a suite tunes come in as
//! extra lines of their section.

use std::path::Path;

use scoville_service_kit::auth::TokenHash;

/// The Redis stream the receiver and its worker share (the receiver's default, written
/// out so that a suite reading the stream's keys names the same one).
pub const STREAM: &str = "scoville:results";

/// The DynamoDB table of the failure service's incident log, which the admin API reads.
const INCIDENT_LOG_TABLE: &str = "scoville-incident-log";

/// `["a", "b"]`.
pub fn toml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// Where state is kept: the admin API's store, the failure service's state and the
/// incident log they share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stores {
    /// SQLite files in the test's directory (`admin.db`; `incidents.db`, the failure
    /// service's state and incident log, which the admin API reads).
    Sqlite,
    /// DynamoDB tables on moto, each call bounded by `timeout_ms` when given.
    DynamoDb {
        /// The stores' `timeout_ms` (their default when `None`).
        timeout_ms: Option<u64>,
    },
}

/// The shared inputs of every configuration: the test's directory, the tokens, the
/// backing servers' addresses.
#[derive(Debug, Clone)]
pub(super) struct Env<'a> {
    pub(super) dir: &'a Path,
    pub(super) probe_token: &'a str,
    pub(super) service_token: &'a str,
    pub(super) stores: Stores,
    /// moto's endpoint, when it runs.
    pub(super) aws: Option<&'a str>,
    /// The region the AWS clients name (moto's).
    pub(super) aws_region: &'a str,
    pub(super) redis: Option<String>,
    pub(super) influx: Option<String>,
}

impl Env<'_> {
    pub(super) fn path(&self, file: &str) -> String {
        self.dir.join(file).to_string_lossy().into_owned()
    }

    fn aws(&self) -> &str {
        self.aws.expect("DynamoDB and SQS need moto in the plan")
    }

    fn probe_hash(&self) -> String {
        TokenHash::of(self.probe_token).to_config_string()
    }

    fn service_hash(&self) -> String {
        TokenHash::of(self.service_token).to_config_string()
    }

    fn timeout(&self) -> String {
        match self.stores {
            Stores::DynamoDb {
                timeout_ms: Some(ms),
            } => format!("timeout_ms = {ms}\n"),
            _ => String::new(),
        }
    }

    /// The `[directory]` section of the services reading the admin API.
    fn directory(&self, admin_url: &str) -> String {
        format!(
            "[directory]\nadmin_url = \"{admin_url}\"\nadmin_token = \"{}\"\n",
            self.service_token
        )
    }
}

/// The admin API: its store and the incident log as [`Stores`] says; history from
/// InfluxDB when it runs, else from an empty SQLite results file (`history.db`, which
/// the caller creates: the admin API opens it read-only).
pub(super) fn admin(env: &Env<'_>) -> String {
    let mut text = format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\npublic_url = \"http://scoville.test\"\n\
         allow_private_channels = true\nprobe_token_hashes = {}\nservice_token_hashes = {}\n\
         sqlite_path = \"{}\"\n",
        toml_list(&[env.probe_hash()]),
        toml_list(&[env.service_hash()]),
        env.path("admin.db"),
    );
    text += &match env.stores {
        Stores::Sqlite => "[store]\nkind = \"sqlite\"\n".to_string(),
        Stores::DynamoDb { .. } => format!(
            "[store]\nkind = \"dynamodb\"\ntable = \"scoville-admin\"\nendpoint_url = \"{}\"\n\
             region = \"{}\"\ncreate_table = true\n{}",
            env.aws(),
            env.aws_region,
            env.timeout(),
        ),
    };
    text += &match &env.influx {
        Some(url) => format!(
            "[history]\nkind = \"influx\"\ninflux_url = \"{url}\"\ninflux_database = \"scoville\"\n"
        ),
        None => format!(
            "[history]\nkind = \"sqlite\"\nsqlite_path = \"{}\"\n",
            env.path("history.db")
        ),
    };
    text += &match env.stores {
        Stores::Sqlite => format!(
            "[incidents]\nkind = \"sqlite\"\nsqlite_path = \"{}\"\n",
            env.path("incidents.db")
        ),
        Stores::DynamoDb { .. } => format!(
            "[incidents]\nkind = \"dynamodb\"\ntable = \"{INCIDENT_LOG_TABLE}\"\n\
             endpoint_url = \"{}\"\ncreate_table = true\n",
            env.aws()
        ),
    };
    text
}

/// The failure service on `listen`: state and incident log as [`Stores`] says, the
/// notification jobs on SQS (`queue_url`, through `sqs_endpoint` when given, else
/// moto's) or, without one, in its own process; the admin API as its directory.
pub(super) fn failure(
    env: &Env<'_>,
    listen: &str,
    queue_url: Option<&str>,
    sqs_endpoint: Option<&str>,
    admin_url: &str,
) -> String {
    let mut text = format!(
        "[failure]\nlisten = \"{listen}\"\ntoken_hashes = {}\n",
        toml_list(&[env.probe_hash(), env.service_hash()]),
    );
    text += &match env.stores {
        Stores::Sqlite => format!(
            "[store]\nkind = \"sqlite\"\nsqlite_path = \"{}\"\n",
            env.path("incidents.db")
        ),
        Stores::DynamoDb { .. } => format!(
            "[store]\nkind = \"dynamodb\"\ndynamodb_table = \"scoville-incidents\"\n\
             dynamodb_log_table = \"{INCIDENT_LOG_TABLE}\"\naws_endpoint_url = \"{}\"\n\
             create_table = true\n{}",
            env.aws(),
            env.timeout(),
        ),
    };
    text += &match queue_url {
        Some(url) => format!(
            "[queue]\nkind = \"sqs\"\nsqs_queue_url = \"{url}\"\naws_endpoint_url = \"{}\"\n",
            sqs_endpoint.unwrap_or_else(|| env.aws())
        ),
        None => "[queue]\nkind = \"memory\"\n".to_string(),
    };
    text + &env.directory(admin_url)
}

/// The receiver: Redis Streams when Redis runs, else its in-process queue. With
/// `worker` (the `[worker]` section's keys) also the worker's sections: InfluxDB, and
/// trend reports to the failure service at `failure_url` (off without one).
pub(super) fn receiver(env: &Env<'_>, worker: Option<&str>, failure_url: Option<&str>) -> String {
    let mut text = format!(
        "[receiver]\nlisten = \"127.0.0.1:0\"\nprobe_token_hashes = {}\n",
        toml_list(&[env.probe_hash()]),
    );
    text += &match &env.redis {
        Some(url) => {
            format!("[queue]\nkind = \"redis\"\nredis_url = \"{url}\"\nstream = \"{STREAM}\"\n")
        }
        None => "[queue]\nkind = \"memory\"\n".to_string(),
    };
    let Some(worker) = worker else {
        return text;
    };
    text += &format!(
        "[worker]\n{}\n[influx]\nurl = \"{}\"\ndatabase = \"scoville\"\n",
        worker.trim_end(),
        env.influx
            .as_deref()
            .expect("the receiver's worker needs InfluxDB in the plan"),
    );
    text += &match failure_url {
        Some(url) => format!(
            "[trend]\nenabled = true\nfailure_url = \"{url}\"\n\
             service_token = \"{}\"\nmax_backoff_ms = 2000\n",
            env.service_token
        ),
        None => "[trend]\nenabled = false\n".to_string(),
    };
    text
}

/// The notification queue as the notifier reads it.
#[derive(Debug, Clone)]
pub(super) struct NotifierQueue<'a> {
    pub(super) url: &'a str,
    /// The dead-letter queue and the redrive's `maxReceiveCount`, when there is one.
    pub(super) dead_letters: Option<(&'a str, u32)>,
}

/// The notifier: `[notifier]` keys and `[delivery]` keys from the plan, SQS (`queue`;
/// none when it runs inside the failure service), its dedup store, channels from the
/// admin API.
pub(super) fn notifier(
    env: &Env<'_>,
    plan: &super::Notifier,
    queue: Option<NotifierQueue<'_>>,
    admin_url: &str,
) -> String {
    let mut text = format!(
        "[notifier]\nlisten = \"127.0.0.1:0\"\nallow_private = true\n{}\n",
        plan.notifier.trim_end()
    );
    if !plan.delivery.is_empty() {
        text += &format!("[delivery]\n{}\n", plan.delivery.trim_end());
    }
    if let Some(q) = queue {
        text += &format!("[queue]\nurl = \"{}\"\n", q.url);
        if let Some((dlq, max_receives)) = q.dead_letters {
            text += &format!("dead_letter_url = \"{dlq}\"\nmax_receives = {max_receives}\n");
        }
        text += &format!("endpoint_url = \"{}\"\n", env.aws());
    }
    text += &format!(
        "[dedup]\nkind = \"{}\"\ntable = \"scoville-notification-dedup\"\ncreate_table = true\n",
        plan.dedup
    );
    if let Some(aws) = env.aws {
        text += &format!("endpoint_url = \"{aws}\"\n");
    }
    text + &env.directory(admin_url)
}

/// The probe: `region` (a run may override it with `SCOVILLE_PROBE__REGION`), extra
/// `[probe]` keys, the admin API's list, the receiver and the failure service.
pub(super) fn probe(
    env: &Env<'_>,
    region: &str,
    extra: &str,
    [admin_url, receiver_url, failure_url]: [&str; 3],
) -> String {
    let token = env.probe_token;
    format!(
        "[probe]\nregion = \"{region}\"\nspread = 0.0\nallow_private = true\n{}\n\
         [endpoints]\napi_url = \"{admin_url}\"\ntoken = \"{token}\"\n\
         [receiver]\nurl = \"{receiver_url}\"\ntoken = \"{token}\"\n\
         [failure_service]\nurl = \"{failure_url}\"\ntoken = \"{token}\"\n\
         [delivery]\nflush_ms = 50\n",
        extra.trim_end()
    )
}
