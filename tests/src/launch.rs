//! The launcher of the system suites (`tests/e2e.rs`, `tests/faults_pipeline.rs`,
//! `tests/faults_alerting.rs`): from a [`Plan`] (which services, which backing servers
//! and so which adapters, the few keys a suite tunes) it starts the servers, writes
//! every service's TOML configuration (`launch/config.rs`) into a fresh directory,
//! starts the services as [`procs::Service`] processes in the order their addresses are
//! needed, and hands back a [`System`] that knows their addresses, restarts one of them
//! with the same configuration, and stops everything when dropped (keeping the logs
//! when the test failed). The suites' common talk to a started system (failing with the
//! logs, polling, the admin API, metrics, one probe round) is in `launch/client.rs`;
//! what each suite asks of it stays in the suite. It lives here so that the three suites
//! share one way of standing the system up instead of three copies of it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

mod client;
mod config;
mod plan;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use client::metric_in;
pub use config::{STREAM, Stores, toml_list};
pub use plan::{Failure, Notifier, Plan, Probe, Receiver, Redis, Sqs};

use crate::influx::InfluxServer;
use crate::moto::{self, MotoServer};
use crate::procs::{self, Service};
use crate::redis::RedisServer;

/// Lets a suite's fixture, a struct holding the [`System`] in field `$field` beside its
/// own parts (targets, recorders), be used as the system (`Deref` and `DerefMut`), so
/// that its tests call the launcher's helpers on it directly.
#[macro_export]
macro_rules! deref_to_system {
    ($fixture:ty, $field:tt) => {
        impl ::std::ops::Deref for $fixture {
            type Target = $crate::launch::System;
            fn deref(&self) -> &Self::Target {
                &self.$field
            }
        }

        impl ::std::ops::DerefMut for $fixture {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.$field
            }
        }
    };
}

/// A started system; everything is stopped when dropped, and its directory removed
/// unless the test failed or `SCOVILLE_FAULTS_KEEP_LOGS` is set.
#[derive(Debug)]
pub struct System {
    /// Child processes first: they are killed before the servers they use stop.
    services: Vec<Service>,
    moto: Option<MotoServer>,
    redis: Option<RedisServer>,
    influx: Option<InfluxServer>,
    /// The logs and data files.
    pub dir: PathBuf,
    /// A client with the plan's timeout.
    pub http: reqwest::Client,
    /// The services' addresses (`http://127.0.0.1:<port>`; empty when not started).
    pub admin_url: String,
    pub failure_url: String,
    pub receiver_url: String,
    pub notifier_url: String,
    /// The notification queue and its dead-letter queue (empty without them).
    pub queue_url: String,
    pub dlq_url: String,
    /// An SQS client on moto.
    pub sqs: Option<aws_sdk_sqs::Client>,
    /// `probe.toml` (when planned).
    pub probe_config: PathBuf,
    /// The API key [`System::api`] calls with (the suite sets it once it has one).
    pub key: String,
    failure_listen: String,
    log_lines: usize,
    poll: Duration,
    /// Set once the logs went into a panic message.
    dumped: AtomicBool,
}

impl Drop for System {
    fn drop(&mut self) {
        if let Some(moto) = &self.moto {
            moto.resume();
        }
        self.services.clear();
        let panicking = std::thread::panicking();
        if panicking || std::env::var_os("SCOVILLE_FAULTS_KEEP_LOGS").is_some() {
            if panicking && !self.dumped.load(Ordering::Relaxed) {
                eprintln!("{}", self.logs());
            }
            eprintln!("service logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl System {
    /// Starts what `plan` says: the binaries (built once) and the backing servers side
    /// by side, the notification queues, then the admin API, the failure service, the
    /// receiver and its worker and the notifier, each waited for once a later one needs
    /// its address; finally writes the probe's configuration.
    pub async fn start(mut plan: Plan) -> Self {
        let bins = tokio::task::spawn_blocking(procs::binaries);
        let moto = plan
            .moto
            .map(|_| tokio::task::spawn_blocking(MotoServer::start));
        let redis = match std::mem::take(&mut plan.redis) {
            Redis::No => None,
            Redis::Start => Some(tokio::task::spawn_blocking(RedisServer::start)),
            Redis::Running(r) => Some(tokio::task::spawn(async move { r })),
        };
        let influx = plan
            .influx
            .then(|| tokio::task::spawn_blocking(InfluxServer::start));
        let dir = procs::temp_dir(&format!("scoville-{}", plan.name));
        bins.await.unwrap();
        let mut sys = Self {
            services: Vec::new(),
            moto: match moto {
                Some(m) => Some(m.await.unwrap()),
                None => None,
            },
            redis: match redis {
                Some(r) => Some(r.await.unwrap()),
                None => None,
            },
            influx: match influx {
                Some(i) => Some(i.await.unwrap()),
                None => None,
            },
            dir,
            http: reqwest::Client::builder()
                .timeout(plan.http_timeout)
                .build()
                .unwrap(),
            admin_url: String::new(),
            failure_url: String::new(),
            receiver_url: String::new(),
            notifier_url: String::new(),
            queue_url: String::new(),
            dlq_url: String::new(),
            sqs: None,
            probe_config: PathBuf::new(),
            key: String::new(),
            failure_listen: String::new(),
            log_lines: plan.log_lines,
            poll: plan.poll,
            dumped: AtomicBool::new(false),
        };
        if let Some(queue) = plan.moto {
            sys.create_queues(queue).await;
        }
        sys.launch(&plan).await;
        sys
    }

    /// The notification queue (and its dead-letter queue) on moto.
    async fn create_queues(&mut self, queue: Sqs) {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let client = aws_sdk_sqs::Client::new(&self.moto().sdk_config().await);
        let mut create = client.create_queue().queue_name("scoville-notifications");
        if let Sqs::DeadLetters { max_receives } = queue {
            self.dlq_url = client
                .create_queue()
                .queue_name("scoville-notifications-dlq")
                .send()
                .await
                .unwrap()
                .queue_url
                .unwrap();
            let dlq_arn = client
                .get_queue_attributes()
                .queue_url(&self.dlq_url)
                .attribute_names(A::QueueArn)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap()[&A::QueueArn]
                .clone();
            let redrive = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives});
            create = create
                .attributes(A::VisibilityTimeout, "120")
                .attributes(A::RedrivePolicy, redrive.to_string());
        }
        self.queue_url = create.send().await.unwrap().queue_url.unwrap();
        self.sqs = Some(client);
    }

    /// Writes the configurations and starts the services of `plan`.
    async fn launch(&mut self, plan: &Plan) {
        let aws = self.moto.as_ref().map(MotoServer::endpoint);
        let dir = self.dir.clone();
        let env = config::Env {
            dir: &dir,
            probe_token: plan.probe_token,
            service_token: plan.service_token,
            stores: plan.stores,
            aws: aws.as_deref(),
            aws_region: moto::REGION,
            redis: self.redis.as_ref().map(RedisServer::url),
            influx: self.influx.as_ref().map(InfluxServer::url),
        };
        let write = |file: &str, text: String| {
            std::fs::write(dir.join(file), text).unwrap();
            env.path(file)
        };
        if plan.admin {
            if self.influx.is_none() {
                // The results file the admin API opens read-only for history.
                std::fs::write(dir.join("history.db"), b"").unwrap();
            }
            let admin = write("admin.toml", config::admin(&env));
            self.spawn("admin-api", "admin-api", &["--config", &admin]);
            self.admin_url = self.wait_line("admin-api", "listening on ").await;
        }
        // The notifier's file first: without SQS it runs inside the failure service.
        let notifier = plan.notifier.as_ref().map(|n| {
            let queue = self.moto.is_some().then(|| config::NotifierQueue {
                url: &self.queue_url,
                dead_letters: match plan.moto {
                    Some(Sqs::DeadLetters { max_receives }) => {
                        Some((self.dlq_url.as_str(), max_receives))
                    }
                    _ => None,
                },
            });
            write(
                "notifier.toml",
                config::notifier(&env, n, queue, &self.admin_url),
            )
        });
        if let Some(failure) = &plan.failure {
            self.failure_listen = if failure.fixed_port {
                format!("127.0.0.1:{}", procs::free_port())
            } else {
                "127.0.0.1:0".to_string()
            };
            let queue = self.moto.is_some().then_some(self.queue_url.as_str());
            let text = config::failure(
                &env,
                &self.failure_listen,
                queue,
                failure.sqs_endpoint.as_deref(),
                &self.admin_url,
            );
            let path = write("failure.toml", text);
            let mut args = vec!["--config", path.as_str()];
            if let (Some(n), None) = (&notifier, &self.moto) {
                args.extend(["--notifier-config", n.as_str()]);
            }
            self.spawn("failure-service", "failure-service", &args);
        }
        if let Some(receiver) = &plan.receiver {
            let worker = receiver.worker.as_deref();
            // The worker reports trends to the failure service: its address first.
            if worker.is_some() && plan.failure.is_some() {
                self.failure_url = self.wait_line("failure-service", "listening on ").await;
            }
            let failure_url = Some(self.failure_url.as_str()).filter(|u| !u.is_empty());
            let path = write("receiver.toml", config::receiver(&env, worker, failure_url));
            self.spawn("receiver", "receiver", &["--config", &path]);
            self.receiver_url = self.wait_line("receiver", "listening on ").await;
            if worker.is_some() {
                self.spawn(
                    "receiver-worker",
                    "receiver",
                    &["worker", "--config", &path],
                );
            }
        }
        if let (Some(path), Some(_)) = (&notifier, &self.moto) {
            self.spawn("notifier", "notifier", &["--config", path]);
        }
        if plan.failure.is_some() && self.failure_url.is_empty() {
            self.failure_url = self.wait_line("failure-service", "listening on ").await;
        }
        if plan.receiver.as_ref().is_some_and(|r| r.worker.is_some()) {
            self.wait_line("receiver-worker", "worker ").await;
        }
        if notifier.is_some() && self.moto.is_some() {
            self.notifier_url = self.wait_line("notifier", "listening on ").await;
        }
        if let Some(probe) = &plan.probe {
            let urls = [
                self.admin_url.as_str(),
                &self.receiver_url,
                &self.failure_url,
            ];
            let text = config::probe(&env, probe.region, &probe.extra, urls);
            self.probe_config = PathBuf::from(write("probe.toml", text));
        }
    }

    /// Starts binary `binary` with `args` as service `name` (logs in the directory,
    /// killed with the system).
    pub fn spawn(&mut self, name: &str, binary: &str, args: &[&str]) -> &mut Service {
        self.services
            .push(Service::spawn(&self.dir, name, binary, args));
        self.services.last_mut().unwrap()
    }

    /// Service `name`.
    pub fn service(&mut self, name: &str) -> &mut Service {
        self.services
            .iter_mut()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no service {name}"))
    }

    /// Waits until this life of service `name` printed a line starting with `prefix`
    /// and returns the rest of it (see [`Service::wait_line`]).
    pub async fn wait_line(&mut self, name: &str, prefix: &str) -> String {
        self.service(name).wait_line(prefix).await
    }

    /// Starts service `name` again (SIGKILL first if it runs) with the same arguments
    /// and configuration, on the same address when it has a fixed one (the failure
    /// service with [`Failure::fixed_port`]), and waits until it prints `listening on `:
    /// each try gets 20 s; one that exits first (its port may still be held) is retried
    /// after 500 ms, for up to 30 s.
    pub async fn restart_listening(&mut self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let svc = self.service(name);
            svc.restart();
            if svc
                .try_wait_line("listening on ", Duration::from_secs(20))
                .await
                .is_ok()
            {
                return;
            }
            svc.kill();
            let listen = if name == "failure-service" {
                self.failure_listen.clone()
            } else {
                String::new()
            };
            self.check(Instant::now() < deadline, || {
                format!("{name} did not come back on {listen}")
            });
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// moto's server.
    pub fn moto(&self) -> &MotoServer {
        self.moto.as_ref().expect("moto in the plan")
    }

    /// The Redis server.
    pub fn redis(&self) -> &RedisServer {
        self.redis.as_ref().expect("Redis in the plan")
    }

    /// The Redis server, to stop or restart it.
    pub fn redis_mut(&mut self) -> &mut RedisServer {
        self.redis.as_mut().expect("Redis in the plan")
    }

    /// The InfluxDB server.
    pub fn influx(&self) -> &InfluxServer {
        self.influx.as_ref().expect("InfluxDB in the plan")
    }

    /// The InfluxDB server, to stop or restart it.
    pub fn influx_mut(&mut self) -> &mut InfluxServer {
        self.influx.as_mut().expect("InfluxDB in the plan")
    }
}
