//! What a system suite asks the [launcher](super) for: a [`Plan`] of the services to
//! start, the backing servers (and so the adapters: DynamoDB and SQS on moto, Redis
//! Streams, InfluxDB), and the few keys the suite tunes. Apart from the launcher so that
//! a suite reads the choices it can make in one place.

use std::time::Duration;

use super::Stores;
use crate::redis::RedisServer;

/// The notification queue created on moto.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sqs {
    /// `scoville-notifications` with SQS's defaults.
    Plain,
    /// `scoville-notifications` with a 120-s visibility timeout (longer than any
    /// notifier cycle of the suites) and a redrive policy to
    /// `scoville-notifications-dlq` after `max_receives` receives (also the notifier's
    /// `queue.max_receives`).
    DeadLetters {
        /// The redrive's `maxReceiveCount`.
        max_receives: u32,
    },
}

/// The Redis server of a plan.
#[derive(Debug, Default)]
pub enum Redis {
    /// None: the receiver queues in its process.
    #[default]
    No,
    /// A fresh redis-server ([`RedisServer::start`]).
    Start,
    /// One the test started its own way.
    Running(RedisServer),
}

/// The failure service's part of a plan.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    /// On a free port chosen up front instead of port 0, so that a restart comes back
    /// on the same address.
    pub fixed_port: bool,
    /// Where its SQS calls go (moto's endpoint when `None`).
    pub sqs_endpoint: Option<String>,
}

/// The receiver's part of a plan.
#[derive(Debug, Clone, Default)]
pub struct Receiver {
    /// The `[worker]` section's keys: with them the worker runs too (`receiver worker`,
    /// service `receiver-worker`, on InfluxDB; trend reports to the failure service when
    /// the plan has one).
    pub worker: Option<String>,
}

/// The notifier's part of a plan: its own process on the SQS queue when the plan runs
/// moto, else inside the failure service on its in-process queue
/// (`failure-service --notifier-config`).
#[derive(Debug, Clone)]
pub struct Notifier {
    /// Extra keys of its `[notifier]` section.
    pub notifier: String,
    /// Keys of its `[delivery]` section.
    pub delivery: String,
    /// Its dedup store: `dynamodb` (on moto) or `memory`.
    pub dedup: &'static str,
}

impl Default for Notifier {
    fn default() -> Self {
        Self {
            notifier: String::new(),
            delivery: String::new(),
            dedup: "dynamodb",
        }
    }
}

/// The probe's configuration file (`probe.toml`; the probe is run by the test).
#[derive(Debug, Clone)]
pub struct Probe {
    /// Its region.
    pub region: &'static str,
    /// Extra keys of its `[probe]` section.
    pub extra: String,
}

/// What to start. [`Plan::new`] starts nothing; a suite sets what it needs.
#[derive(Debug)]
pub struct Plan {
    /// The directory's name starts `scoville-<name>-`.
    pub name: String,
    /// The platform probe token (admin API, receiver, failure service, probe).
    pub probe_token: &'static str,
    /// Scoville's own service token (failure service and notifier read the admin API
    /// with it; the receiver's worker reports trends with it).
    pub service_token: &'static str,
    /// moto's server (DynamoDB, SQS) with this notification queue.
    pub moto: Option<Sqs>,
    /// Redis for the results queue.
    pub redis: Redis,
    /// influxd (the worker's results and rollups, the admin API's history).
    pub influx: bool,
    /// Where the admin API and the failure service keep their state.
    pub stores: Stores,
    /// The admin API (service `admin-api`).
    pub admin: bool,
    /// The failure service (`failure-service`).
    pub failure: Option<Failure>,
    /// The receiver (`receiver`) and maybe its worker.
    pub receiver: Option<Receiver>,
    /// The notifier (`notifier`, or inside the failure service).
    pub notifier: Option<Notifier>,
    /// The probe's configuration.
    pub probe: Option<Probe>,
    /// How many lines of each log a failure shows.
    pub log_lines: usize,
    /// How often [`System::eventually`] asks again.
    pub poll: Duration,
    /// The HTTP client's timeout.
    pub http_timeout: Duration,
}

impl Plan {
    /// Nothing started yet: SQLite stores, 60 log lines, polls every 100 ms, HTTP
    /// timeout 30 s.
    pub fn new(
        name: impl Into<String>,
        probe_token: &'static str,
        service_token: &'static str,
    ) -> Self {
        Self {
            name: name.into(),
            probe_token,
            service_token,
            moto: None,
            redis: Redis::No,
            influx: false,
            stores: Stores::Sqlite,
            admin: false,
            failure: None,
            receiver: None,
            notifier: None,
            probe: None,
            log_lines: 60,
            poll: Duration::from_millis(100),
            http_timeout: Duration::from_secs(30),
        }
    }
}
