//! Fault tests of the alerting path on real parts (issue 10, part 2). Every test starts
//! its own set of services, each its own process from its binary on free ports, as
//! `e2e.rs` does:
//!
//! ```text
//!   probe ──GET /v1/probe/endpoints──► admin-api (SQLite; reads the failure service's
//!     │                                  incident log from its SQLite file)
//!     ├──POST /v1/results ──► receiver (in-process queue: history is not the subject)
//!     └──POST /v1/failures ─► failure-service (SQLite state + incident log, durable
//!                               across a restart) ──► SQS (moto) ──► notifier (DynamoDB
//!                               dedup on moto, channels from the admin API) ──► recorders
//! ```
//!
//! Adapters: tests 1 and 3 use the production notification path (SQS with a
//! dead-letter queue and a redrive policy, DynamoDB dedup, both on moto's server; the
//! notifier its own process). Test 2 keeps the jobs in the failure service's in-process
//! queue, drained by the same notifier worker inside that process (`--notifier-config`,
//! memory dedup): it is about incidents, digests and pacing, and 2,000 jobs through
//! moto's one Python process cost minutes of CPU (see its docs). The failure service
//! keeps its state and incident log in SQLite (a file that survives the process: the
//! durable store test 3 needs, and the log the admin API reads); the admin API stores on
//! SQLite and the receiver queues in process, since neither is what these tests are
//! about.
//!
//! What they prove:
//! 1. [`slow_webhook_channel_holds_up_no_one`]: an endpoint with three channels, one a
//!    webhook that answers only after 30 s. The two fast channels get the "down" within
//!    seconds; the slow one is tried exactly as the notifier's documented policy says
//!    (the per-request timeout `notifier.timeout_ms`, 10 s by default, cuts every attempt;
//!    `delivery.max_attempts` (4) attempts per receive, `queue.max_receives` receives (2
//!    here, 10 by default), then the dead-letter queue), always with the same delivery
//!    id; nothing is doubled on the fast channels. A *second* incident, decided while the
//!    slow delivery is still being tried, reaches the fast channels as promptly as the
//!    first (the worker keeps receiving while a cycle delivers; before that fix it waited
//!    about 40 s behind the slow channel's attempts).
//! 2. [`thousand_endpoints_down_at_once`]: 1,000 targets fail in the same round: exactly
//!    1,000 incidents are opened in the incident log, the Slack channel receives digests
//!    (at most 25 notices a message, as the notifier promises) that mention every endpoint
//!    exactly once, paced at Slack's rate; then all recover: exactly 1,000 resolved and
//!    each endpoint's "recovered" once. Each storm must be out within 150 s.
//! 3. [`failure_service_down_two_minutes`]: a long-running `probe run` keeps checking
//!    while the failure service is SIGKILLed and restarted two minutes later on the same
//!    port and the same SQLite file. An endpoint already down before the outage is not
//!    notified again (the state survived); one that goes down during the outage gets
//!    exactly one "down" after the service returns, from the failures the probe kept in
//!    its carry-over buffer; the receiver got every result and nothing was dropped.
//!
//! Run: `cargo nextest run -p scoville-tests --test faults_alerting` (about 3 minutes on
//! 2 cores once the binaries are built; figures in BENCHMARKS.md, "Fault suite
//! (alerting)"). When something fails, the panic message carries the tail of every
//! service's log; `SCOVILLE_FAULTS_KEEP_LOGS=1` keeps the logs of passing runs too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use scoville_tests::launch::{
    Failure, Notifier, Plan, Probe, Receiver, Sqs, Stores, System, metric_in,
};
use scoville_tests::recorder::{Recorded, Recorder};
use serde_json::{Value, json};
use tokio::time::Instant;

/// The platform probe token (admin API, receiver, failure service).
const PROBE_TOKEN: &str = "faults-probe-token-0123456789abcdef";
/// Scoville's own service token (failure service and notifier read the admin API).
const SERVICE_TOKEN: &str = "faults-service-token-0123456789abcdef";
/// The one probe region.
const PROBE_REGION: &str = "eu-west-1";

// ---------------------------------------------------------------------------------
// Targets

/// A controllable HTTP target server on 127.0.0.1:0: paths listed as down answer 503,
/// everything else 200 `ok`. Stops when dropped.
#[derive(Debug)]
struct Targets {
    addr: SocketAddr,
    down: Arc<Mutex<BTreeSet<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Targets {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn target(State(down): State<Arc<Mutex<BTreeSet<String>>>>, uri: Uri) -> Response {
    if down.lock().unwrap().contains(uri.path()) {
        (StatusCode::SERVICE_UNAVAILABLE, "down").into_response()
    } else {
        (StatusCode::OK, "ok").into_response()
    }
}

impl Targets {
    async fn start() -> Self {
        let down = Arc::new(Mutex::new(BTreeSet::new()));
        let app = Router::new().fallback(target).with_state(down.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, down, task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn set_down<'a>(&self, paths: impl IntoIterator<Item = &'a str>, down: bool) {
        let mut set = self.down.lock().unwrap();
        for p in paths {
            if down {
                set.insert(p.to_string());
            } else {
                set.remove(p);
            }
        }
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

// ---------------------------------------------------------------------------------
// The stack

/// What differs between the tests' stacks.
#[derive(Debug, Clone)]
struct Options {
    /// Extra keys of the notifier's `[notifier]` section.
    notifier: &'static str,
    /// Keys of the notifier's `[delivery]` section.
    delivery: &'static str,
    /// The queue's redrive `maxReceiveCount` (and the notifier's `queue.max_receives`).
    max_receives: u32,
    /// Extra keys of the probe's `[probe]` section.
    probe: &'static str,
    /// The notifier's dedup store: `dynamodb` (on moto) or `memory`.
    dedup: &'static str,
    /// The notification jobs stay in the failure service's process (its in-process
    /// queue, drained by a notifier in the same process: `--notifier-config`), and no
    /// moto runs; else SQS on moto and the notifier its own process.
    in_process: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            notifier: "",
            delivery: "",
            max_receives: 10,
            probe: "",
            dedup: "dynamodb",
            in_process: false,
        }
    }
}

/// Every part, started by the shared launcher, with the targets; everything is stopped
/// when dropped (the logs kept when the test failed or `SCOVILLE_FAULTS_KEEP_LOGS` is
/// set).
struct Stack {
    /// The services first: they are killed before the servers they use stop.
    sys: System,
    targets: Targets,
    /// The first simulated minute (Unix ms, a whole minute an hour ago).
    t0: i64,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack").field("dir", &self.dir).finish()
    }
}

scoville_tests::deref_to_system!(Stack, sys);

impl Stack {
    /// The admin API and the failure service on SQLite (the failure service's file is
    /// the incident log the admin API reads; the failure service on a fixed free port,
    /// so that it can come back on the same one); the receiver on its in-process queue
    /// (nothing drains it: only its count of accepted results matters here); the
    /// notifier on SQS with a dead-letter queue (the visibility timeout covers the
    /// longest notifier cycle here, 4 attempts of 10 s plus backoff, as the notifier's
    /// worker docs ask) or inside the failure service (`opts.in_process`, no moto); the
    /// probe's file. Then signs up.
    async fn start(name: &str, opts: Options) -> Self {
        let sys = System::start(Plan {
            moto: (!opts.in_process).then_some(Sqs::DeadLetters {
                max_receives: opts.max_receives,
            }),
            stores: Stores::Sqlite,
            admin: true,
            failure: Some(Failure {
                fixed_port: true,
                sqs_endpoint: None,
            }),
            receiver: Some(Receiver::default()),
            notifier: Some(Notifier {
                notifier: opts.notifier.into(),
                delivery: opts.delivery.into(),
                dedup: opts.dedup,
            }),
            probe: Some(Probe {
                region: PROBE_REGION,
                extra: opts.probe.into(),
            }),
            ..Plan::new(format!("faults-{name}"), PROBE_TOKEN, SERVICE_TOKEN)
        })
        .await;
        let mut stack = Self {
            sys,
            targets: Targets::start().await,
            t0: (unix_ms() - 3_600_000) / 60_000 * 60_000,
        };
        stack
            .sign_up("ops@faults.example", "Faults", "faults")
            .await;
        stack
    }

    async fn channel(&self, name: &str, config: Value) -> String {
        self.api(
            reqwest::Method::POST,
            "/v1/channels",
            Some(json!({"name": name, "config": config})),
            201,
        )
        .await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// An HTTP endpoint on `path` of the targets, checked from the one region, one
    /// failed round confirming an outage.
    async fn endpoint(&self, name: &str, path: &str, channels: &[&str], interval_s: u32) -> String {
        let body = json!({
            "name": name,
            "check": {"type": "http", "url": self.targets.url(path)},
            "regions": [PROBE_REGION],
            "confirm_regions": 1,
            "interval_s": interval_s,
            "channels": channels,
        });
        self.api(reqwest::Method::POST, "/v1/endpoints", Some(body), 201)
            .await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The probe's list (with the probe token), by endpoint id.
    async fn probe_list(&self) -> Result<BTreeMap<String, Value>, String> {
        let (status, page) = self
            .call(
                reqwest::Method::GET,
                &format!("/v1/probe/endpoints?region={PROBE_REGION}&limit=5000"),
                PROBE_TOKEN,
                None,
            )
            .await;
        if status != 200 {
            return Err(format!("probe list: {status} {page}"));
        }
        Ok(page["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["id"].as_str().unwrap().to_string(), e.clone()))
            .collect())
    }

    /// Every incident with `status` (open, resolved, all), through the API's pages.
    async fn incidents(&self, status: &str) -> Result<Vec<Value>, String> {
        let mut all = Vec::new();
        let mut after = String::new();
        loop {
            let mut path = format!("/v1/incidents?status={status}&limit=500");
            if !after.is_empty() {
                path.push_str(&format!("&after={after}"));
            }
            let (code, page) = self
                .call(reqwest::Method::GET, &path, &self.key, None)
                .await;
            if code != 200 {
                return Err(format!("{path}: {code} {page}"));
            }
            all.extend(page["incidents"].as_array().cloned().unwrap_or_default());
            match page["next_after"].as_str() {
                Some(next) if !next.is_empty() => after = next.to_string(),
                _ => return Ok(all),
            }
        }
    }

    /// Waits until `status` incidents number exactly `n`, one per endpoint of `ids`.
    async fn expect_incidents(&self, status: &str, ids: &BTreeSet<String>, patience: Duration) {
        self.eventually(
            &format!("{} {status} incidents", ids.len()),
            patience,
            || async {
                let got = self.incidents(status).await?;
                let endpoints: BTreeSet<String> = got
                    .iter()
                    .map(|i| i["endpoint_id"].as_str().unwrap_or_default().to_string())
                    .collect();
                if got.len() == ids.len() && endpoints == *ids {
                    Ok(())
                } else {
                    Err(format!(
                        "{} incidents over {} endpoints",
                        got.len(),
                        endpoints.len()
                    ))
                }
            },
        )
        .await;
    }

    // -- Probes and metrics -------------------------------------------------------------

    /// One `probe run --once` round at simulated minute `round`; returns its summary
    /// after checking that it checked `endpoints` and delivered everything.
    async fn probe_once(&self, round: i64, endpoints: u64) -> Value {
        let at = self.t0 + round * 60_000;
        let what = format!("probe round {round}");
        self.sys
            .probe_once(&what, at, None, endpoints, Duration::from_secs(90))
            .await
    }

    /// Messages waiting in the dead-letter queue.
    async fn dead_letters(&self) -> Result<u64, String> {
        let attrs = self
            .sqs
            .as_ref()
            .ok_or("no SQS here")?
            .get_queue_attributes()
            .queue_url(&self.dlq_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .attributes
            .unwrap_or_default();
        Ok(attrs
            .get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    // -- The failure service's outage ---------------------------------------------------

    /// SIGKILLs the failure service.
    fn kill_failure_service(&mut self) {
        self.service("failure-service").kill();
    }

    /// Starts the failure service again on the same port and file; waits until it
    /// listens (binding is retried while the old socket lingers).
    async fn restart_failure_service(&mut self) {
        self.restart_listening("failure-service").await;
    }
}

/// Webhook notices (the `scoville.notice.v1` JSON) as (kind, endpoint id, delivery id).
fn webhook_notices(requests: &[Recorded]) -> Vec<(String, String, String)> {
    requests
        .iter()
        .map(|r| {
            let v = r.json();
            (
                v["kind"].as_str().unwrap_or_default().to_string(),
                v["endpoint_id"].as_str().unwrap_or_default().to_string(),
                r.header("x-scoville-delivery")
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

/// The endpoint names (`fault-NNNN`) a text mentions.
fn fault_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("fault-") {
        let tail = &rest[i + 6..];
        let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
        if digits.len() == 4 {
            names.insert(format!("fault-{digits}"));
        }
        rest = tail;
    }
    names
}

/// The notices of one Slack message, as (kind, endpoint name).
///
/// A digest lists one section per notice (`*<link|name>*: down since ...`); a single
/// notice is a message of its own whose header names it.
fn slack_notices(message: &Value) -> Vec<(String, String)> {
    let blocks = message["blocks"].as_array().cloned().unwrap_or_default();
    let digest = blocks.iter().any(|b| {
        b["type"] == "context"
            && b["elements"][0]["text"]
                .as_str()
                .is_some_and(|t| t.contains("arrived together"))
    });
    let mut out = Vec::new();
    if digest {
        for b in blocks.iter().filter(|b| b["type"] == "section") {
            let text = b["text"]["text"].as_str().unwrap_or_default();
            let kind = if text.contains("*: down since") {
                "down"
            } else if text.contains("*: recovered since") {
                "recovered"
            } else {
                "other"
            };
            for name in fault_names(text) {
                out.push((kind.to_string(), name));
            }
        }
    } else {
        let title = blocks
            .first()
            .and_then(|b| b["text"]["text"].as_str())
            .unwrap_or_default();
        let kind = if title.contains("is down") {
            "down"
        } else if title.contains("is back up") {
            "recovered"
        } else {
            "other"
        };
        for name in fault_names(title) {
            out.push((kind.to_string(), name));
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// 1. One webhook channel answering after 30 s

/// The slow webhook's answer delay.
const SLOW_ANSWER: Duration = Duration::from_secs(30);
/// The notifier's documented defaults this test relies on (notifier/src/config.rs and
/// notifier/src/delivery.rs): `notifier.timeout_ms` and `delivery.max_attempts`.
const NOTIFIER_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_ATTEMPTS: usize = 4;
/// The queue's `maxReceiveCount` here (10 by default; 2 keeps the test short).
const MAX_RECEIVES: usize = 2;
/// Longest backoff ceiling within a delivery and of the requeue delay here (30 s by
/// default; 2 s keeps the test short).
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// "Promptly": a fast channel's notice after the probe's round that decided it.
const PROMPT: Duration = Duration::from_secs(6);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_webhook_channel_holds_up_no_one() {
    let started = Instant::now();
    let fast_hook = Recorder::start().await;
    let fast_slack = Recorder::start().await;
    let slow_hook = Recorder::with_delay(SLOW_ANSWER).await;
    let stack = Stack::start(
        "slow-channel",
        Options {
            delivery: "max_backoff_ms = 2000",
            max_receives: MAX_RECEIVES as u32,
            ..Options::default()
        },
    )
    .await;
    eprintln!("stack up in {:?}", started.elapsed());

    let hook = stack
        .channel(
            "fast-webhook",
            json!({"type": "webhook", "url": fast_hook.url("/hook")}),
        )
        .await;
    let slack = stack
        .channel(
            "fast-slack",
            json!({"type": "slack", "webhook_url": fast_slack.url("/slack")}),
        )
        .await;
    let slow = stack
        .channel(
            "slow-webhook",
            json!({"type": "webhook", "url": slow_hook.url("/slow")}),
        )
        .await;
    let outage = stack
        .endpoint("fault-0001", "/outage", &[&hook, &slack, &slow], 60)
        .await;
    let second = stack
        .endpoint("fault-0002", "/second", &[&hook, &slack], 60)
        .await;

    // A good round, then the outage target fails: one round confirms it.
    stack.probe_once(0, 2).await;
    stack.targets.set_down(["/outage"], true);
    let summary = stack.probe_once(1, 2).await;
    let decided = Instant::now();
    stack.check(summary["by_outcome"]["down"] == 1, || format!("{summary}"));

    // Both fast channels have it promptly, once.
    let arrived = |r: &Recorder| r.requests().first().map(|q| q.at);
    let (hook_at, slack_at) = stack
        .eventually("the fast channels' \"down\"", PROMPT * 3, || async {
            match (arrived(&fast_hook), arrived(&fast_slack)) {
                (Some(a), Some(b)) => Ok((a, b)),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
    let hook_ms = hook_at.saturating_duration_since(decided);
    let slack_ms = slack_at.saturating_duration_since(decided);
    eprintln!("fast channels: webhook after {hook_ms:?}, slack after {slack_ms:?}");
    stack.check(hook_ms <= PROMPT && slack_ms <= PROMPT, || {
        format!("the fast channels were held up: webhook {hook_ms:?}, slack {slack_ms:?}")
    });
    let notices = webhook_notices(&fast_hook.requests());
    stack.check(
        notices.len() == 1 && notices[0].0 == "down" && notices[0].1 == outage,
        || format!("the fast webhook: {notices:?}"),
    );
    let slack_text = fast_slack.requests()[0].json();
    stack.check(
        fault_names(&slack_text.to_string()) == BTreeSet::from(["fault-0001".to_string()]),
        || format!("the Slack message: {slack_text}"),
    );
    // The slow channel was tried at the same time.
    let slow_first = stack
        .eventually("the slow channel's first attempt", PROMPT * 3, || async {
            arrived(&slow_hook).ok_or_else(|| "none yet".to_string())
        })
        .await;
    eprintln!(
        "slow channel: first attempt after {:?}",
        slow_first.saturating_duration_since(decided)
    );

    // A second incident while the slow delivery is still being tried: the worker keeps
    // receiving while a cycle delivers, so it is not held up.
    stack.targets.set_down(["/second"], true);
    let summary = stack.probe_once(2, 2).await;
    let second_decided = Instant::now();
    stack.check(summary["by_outcome"]["down"] == 2, || format!("{summary}"));
    let second_at = stack
        .eventually(
            "the second incident at the fast webhook",
            Duration::from_secs(120),
            || async {
                fast_hook
                    .requests()
                    .iter()
                    .find(|r| r.json()["endpoint_id"] == second.as_str())
                    .map(|r| r.at)
                    .ok_or_else(|| "not yet".to_string())
            },
        )
        .await;
    let second_wait = second_at.saturating_duration_since(second_decided);
    // As prompt as the first: a gathering and a delivery, not the slow channel's 40 s.
    stack.check(second_wait <= PROMPT, || {
        format!("the second incident waited {second_wait:?}")
    });
    eprintln!(
        "second incident (fast channels only), decided {:?} after the first: at the fast webhook after {second_wait:?}",
        second_decided - decided
    );

    // The slow channel: every attempt cut by the 10-s timeout; 4 attempts per receive,
    // 2 receives, then the dead-letter queue: 8 requests, all the same delivery.
    let want = MAX_ATTEMPTS * MAX_RECEIVES;
    stack
        .eventually(
            "the slow channel's job in the dead-letter queue",
            Duration::from_secs(150),
            || async {
                let dead = stack.dead_letters().await?;
                let tries = slow_hook.count();
                if dead == 1 && tries == want {
                    Ok(())
                } else {
                    Err(format!("{dead} dead letters, {tries} attempts"))
                }
            },
        )
        .await;
    let slow_done = Instant::now();
    // Nothing more comes (the notifier's cycle and a receive wait are over by then).
    let quiet_until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < quiet_until {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stack.check(slow_hook.count() == want, || {
            format!("more than {want} attempts: {}", slow_hook.count())
        });
    }
    let attempts = slow_hook.requests();
    let tried = webhook_notices(&attempts);
    stack.check(
        tried
            .iter()
            .all(|(k, e, d)| k == "down" && *e == outage && *d == tried[0].2 && !d.is_empty()),
        || format!("every attempt is the same delivery: {tried:?}"),
    );
    // Within a receive, attempts are a timeout plus a backoff (at most its ceiling,
    // 0.5, 1, 2 s) apart; between receives, also the requeue delay (at most 2 s here)
    // and the worker's gathering (2 s).
    let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1].at - w[0].at).collect();
    eprintln!("slow channel: gaps between attempts {gaps:?}");
    for (i, gap) in gaps.iter().enumerate() {
        let slack = if (i + 1) % MAX_ATTEMPTS == 0 {
            MAX_BACKOFF + Duration::from_secs(6)
        } else {
            MAX_BACKOFF + Duration::from_secs(2)
        };
        stack.check(
            *gap >= NOTIFIER_TIMEOUT - Duration::from_millis(200)
                && *gap <= NOTIFIER_TIMEOUT + slack,
            || format!("attempt gap {i}: {gap:?} (all: {gaps:?})"),
        );
    }
    // The dead letter is the slow channel's job, with the reason.
    let dead = stack
        .sqs
        .as_ref()
        .unwrap()
        .receive_message()
        .queue_url(&stack.dlq_url)
        .message_attribute_names("All")
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    let body = dead
        .first()
        .and_then(|m| m.body.clone())
        .unwrap_or_default();
    let job: Value = serde_json::from_str(&body).unwrap_or_default();
    let reason = dead
        .first()
        .and_then(|m| {
            m.message_attributes
                .as_ref()?
                .get("reason")?
                .string_value
                .clone()
        })
        .unwrap_or_default();
    stack.check(
        dead.len() == 1
            && job["channel_id"] == slow.as_str()
            && job["notice"]["endpoint_id"] == outage.as_str()
            && reason.contains("gave up after 2 deliveries"),
        || format!("the dead letter: {body} (reason {reason:?})"),
    );
    // The notifier's own count agrees (it used to count such a job as retried only).
    let counted = stack
        .metric(
            &stack.notifier_url,
            "scoville_notifier_jobs_total{outcome=\"dead_lettered\"}",
        )
        .await
        .unwrap();
    eprintln!("scoville_notifier_jobs_total{{outcome=\"dead_lettered\"}} = {counted}");
    stack.check(counted >= 1, || {
        format!("scoville_notifier_jobs_total{{outcome=\"dead_lettered\"}} = {counted}")
    });

    // Nothing doubled on the fast channels: one notice per incident each.
    let notices = webhook_notices(&fast_hook.requests());
    let mut by: Vec<(String, String)> = notices
        .iter()
        .map(|(k, e, _)| (k.clone(), e.clone()))
        .collect();
    by.sort();
    let mut want_fast = vec![
        ("down".to_string(), outage.clone()),
        ("down".to_string(), second.clone()),
    ];
    want_fast.sort();
    stack.check(by == want_fast, || format!("the fast webhook: {notices:?}"));
    let slack_names: Vec<BTreeSet<String>> = fast_slack
        .requests()
        .iter()
        .map(|r| fault_names(&r.json().to_string()))
        .collect();
    stack.check(slack_names.len() == 2, || {
        format!("the fast Slack channel: {slack_names:?}")
    });
    eprintln!(
        "figures: fast webhook {hook_ms:?}, fast slack {slack_ms:?}; slow channel {} attempts over {:?}, dead-lettered; second incident waited {second_wait:?}; test {:?}",
        attempts.len(),
        slow_done - slow_first,
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------
// 2. 1,000 endpoints failing at once

const STORM: usize = 1_000;
/// Slack's digest size (notifier/src/channel/slack.rs, within `notifier.digest_max`).
const SLACK_DIGEST: usize = 25;

/// Waits until the Slack recorder has `kind` notices for every name; returns (messages
/// carrying `kind`, arrival of the first and of the last).
async fn slack_storm(
    stack: &Stack,
    slack: &Recorder,
    kind: &str,
    names: &BTreeSet<String>,
    patience: Duration,
) -> (Vec<Vec<String>>, Instant, Instant) {
    stack
        .eventually(
            &format!("{} \"{kind}\" notices at Slack", names.len()),
            patience,
            || async {
                let mut messages = Vec::new();
                let (mut first, mut last) = (None, None);
                for r in slack.requests() {
                    let ours: Vec<String> = slack_notices(&r.json())
                        .into_iter()
                        .filter(|(k, _)| k == kind)
                        .map(|(_, n)| n)
                        .collect();
                    if !ours.is_empty() {
                        first.get_or_insert(r.at);
                        last = Some(r.at);
                        messages.push(ours);
                    }
                }
                let seen: BTreeSet<&String> = messages.iter().flatten().collect();
                if seen.len() == names.len() {
                    Ok((messages, first.unwrap(), last.unwrap()))
                } else {
                    Err(format!(
                        "{} endpoints in {} messages",
                        seen.len(),
                        messages.len()
                    ))
                }
            },
        )
        .await
}

/// Checks one storm's messages: every endpoint exactly once, at most 25 a message, and
/// as few messages as the digests allow (one more per extra notifier cycle the storm
/// was split over, and per chunk left over in each).
fn check_storm(stack: &Stack, kind: &str, messages: &[Vec<String>], names: &BTreeSet<String>) {
    let mut count: HashMap<&String, usize> = HashMap::new();
    for n in messages.iter().flatten() {
        *count.entry(n).or_default() += 1;
    }
    let doubled: Vec<_> = count.iter().filter(|(_, c)| **c != 1).collect();
    stack.check(doubled.is_empty() && count.len() == names.len(), || {
        format!(
            "{kind}: every endpoint exactly once; doubled {doubled:?}, {} of {}",
            count.len(),
            names.len()
        )
    });
    let biggest = messages.iter().map(Vec::len).max().unwrap_or(0);
    stack.check(biggest <= SLACK_DIGEST, || {
        format!("{kind}: a message with {biggest} notices")
    });
    let least = names.len().div_ceil(SLACK_DIGEST);
    stack.check(
        messages.len() >= least && messages.len() <= least + 10,
        || {
            format!(
                "{kind}: {} messages for {} notices (digests of {SLACK_DIGEST}: {least})",
                messages.len(),
                names.len()
            )
        },
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_endpoints_down_at_once() {
    let started = Instant::now();
    let slack = Recorder::start().await;
    // The notification queue is the failure service's in-process one, drained by the
    // notifier's worker in that process (`--notifier-config`, memory dedup): the same
    // dispatcher, digests and pacing as the notifier binary, without moto. On moto's
    // SQS (one Python process, here on 2 busy cores) the failure service needed 20-36 s
    // to queue the 1,000 jobs, past the probe's 10-s POST timeout, and the notifier's
    // cycles stalled for minutes: a test of moto. SQS, its dead-letter queue and the
    // DynamoDB dedup run in the other two tests.
    let stack = Arc::new(
        Stack::start(
            "storm",
            Options {
                dedup: "memory",
                in_process: true,
                ..Options::default()
            },
        )
        .await,
    );
    eprintln!("stack up in {:?}", started.elapsed());
    let channel = stack
        .channel(
            "ops-slack",
            json!({"type": "slack", "webhook_url": slack.url("/slack")}),
        )
        .await;

    // 1,000 endpoints through the API, eight at a time.
    let mut ids = BTreeSet::new();
    let mut names = BTreeSet::new();
    let mut paths = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..8 {
        let stack = stack.clone();
        let channel = channel.clone();
        let next = next.clone();
        tasks.spawn(async move {
            let mut made = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= STORM {
                    return made;
                }
                let name = format!("fault-{i:04}");
                let id = stack
                    .endpoint(&name, &format!("/t/{i}"), &[&channel], 60)
                    .await;
                made.push((id, name));
            }
        });
    }
    while let Some(made) = tasks.join_next().await {
        for (id, name) in made.unwrap() {
            ids.insert(id);
            names.insert(name);
        }
    }
    for i in 0..STORM {
        paths.push(format!("/t/{i}"));
    }
    eprintln!("{} endpoints made at {:?}", ids.len(), started.elapsed());
    assert_eq!(ids.len(), STORM);

    // Every target fails in the same round.
    stack
        .targets
        .set_down(paths.iter().map(String::as_str), true);
    let round_started = Instant::now();
    let summary = stack.probe_once(0, STORM as u64).await;
    stack.check(
        summary["by_outcome"]["down"] == STORM
            && summary["delivery"]["failures_delivered"] == STORM,
        || format!("the failing round: {summary}"),
    );
    let round_ms = &summary["duration_ms"];
    eprintln!(
        "failing round done at {:?} (the round, delivery included: {round_ms} ms)",
        started.elapsed()
    );

    // Exactly 1,000 incidents opened, one per endpoint.
    stack
        .expect_incidents("open", &ids, Duration::from_secs(60))
        .await;
    let notices = stack
        .metric(&stack.failure_url, "scoville_failure_notices_total")
        .await
        .unwrap();
    stack.check(notices == STORM as u64, || {
        format!("{notices} notices decided")
    });

    // The probes learn of the open incidents, then every target recovers: two good
    // rounds close them all, while the "down" digests are still being paced out (the
    // recovery's notices queue behind them; this keeps the test short, and a channel
    // still gets "down" before "recovered").
    stack
        .eventually(
            "every endpoint flagged open in the probe's list",
            Duration::from_secs(30),
            || async {
                let list = stack.probe_list().await?;
                let open = list.values().filter(|e| e["open_incident"] == true).count();
                if open == STORM {
                    Ok(())
                } else {
                    Err(format!("{open} open"))
                }
            },
        )
        .await;
    stack
        .targets
        .set_down(paths.iter().map(String::as_str), false);
    let recovery_started = Instant::now();
    let r1 = stack.probe_once(1, STORM as u64).await;
    let r2 = stack.probe_once(2, STORM as u64).await;
    eprintln!(
        "recovery rounds: {} ms, {} ms",
        r1["duration_ms"], r2["duration_ms"]
    );
    stack
        .expect_incidents("resolved", &ids, Duration::from_secs(60))
        .await;
    stack
        .expect_incidents("open", &BTreeSet::new(), Duration::from_secs(10))
        .await;

    // Slack: digests mentioning every endpoint once per kind, at the channel's pace.
    let (downs, first, last) =
        slack_storm(&stack, &slack, "down", &names, Duration::from_secs(150)).await;
    check_storm(&stack, "down", &downs, &names);
    let down_first = first.saturating_duration_since(round_started);
    let down_last = last.saturating_duration_since(round_started);
    eprintln!(
        "down: {} Slack messages (sizes {:?}), first after {down_first:?}, last after {down_last:?}",
        downs.len(),
        downs.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let (ups, first, last) = slack_storm(
        &stack,
        &slack,
        "recovered",
        &names,
        Duration::from_secs(150),
    )
    .await;
    check_storm(&stack, "recovered", &ups, &names);
    let up_first = first.saturating_duration_since(recovery_started);
    let up_last = last.saturating_duration_since(recovery_started);
    eprintln!(
        "recovered: {} Slack messages, first after {up_first:?}, last after {up_last:?}",
        ups.len()
    );

    // Exactly the notices decided (2,000), each delivered once (above), and nothing
    // else at Slack.
    let decided = stack
        .metric(&stack.failure_url, "scoville_failure_notices_total")
        .await
        .unwrap();
    stack.check(decided == 2 * STORM as u64, || {
        format!("{decided} notices decided")
    });
    let all = slack.requests();
    let stray: Vec<Value> = all
        .iter()
        .map(Recorded::json)
        .filter(|m| {
            let notices = slack_notices(m);
            notices.is_empty() || notices.iter().any(|(k, _)| k == "other")
        })
        .collect();
    stack.check(stray.is_empty(), || {
        format!("Slack messages that are not these notices: {stray:?}")
    });
    let mixed = downs.len() + ups.len() - all.len();
    eprintln!(
        "{} Slack messages in all, {mixed} with both kinds",
        all.len()
    );
    eprintln!(
        "figures: failing round {round_ms} ms; {STORM} down -> {} messages in {down_last:?} (first {down_first:?}); recovered -> {} messages in {up_last:?} (first {up_first:?}); test {:?}",
        downs.len(),
        ups.len(),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------
// 3. The failure service down for two minutes while the probe keeps running

/// How long the failure service stays down.
const OUTAGE: Duration = Duration::from_secs(120);
/// The long-running probe's round interval.
const PROBE_INTERVAL_S: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_service_down_two_minutes() {
    let started = Instant::now();
    let hook = Recorder::start().await;
    let mut stack = Stack::start(
        "outage",
        Options {
            probe: "interval_secs = 5", // PROBE_INTERVAL_S
            ..Options::default()
        },
    )
    .await;
    eprintln!("stack up in {:?}", started.elapsed());
    let channel = stack
        .channel("hook", json!({"type": "webhook", "url": hook.url("/hook")}))
        .await;
    // 30-s endpoints (the shortest interval): a round of the incident state machine is
    // 30 s; the probe checks every 5 s.
    let before = stack
        .endpoint("fault-0001", "/before", &[&channel], 30)
        .await;
    let during = stack
        .endpoint("fault-0002", "/during", &[&channel], 30)
        .await;
    let _steady = stack
        .endpoint("fault-0003", "/steady", &[&channel], 30)
        .await;
    stack.targets.set_down(["/before"], true);

    // The long-running probe, with its metrics.
    let probe_config = stack.probe_config.to_string_lossy().into_owned();
    stack.spawn(
        "probe",
        "probe",
        &["run", "--listen", "127.0.0.1:0", "--config", &probe_config],
    );
    let probe_url = stack.wait_line("probe", "listening on ").await;

    // The endpoint down before the outage: its "down", once.
    stack
        .eventually(
            "the first endpoint's \"down\"",
            Duration::from_secs(30),
            || async {
                let n = webhook_notices(&hook.requests());
                if n.len() == 1 && n[0].0 == "down" && n[0].1 == before {
                    Ok(())
                } else {
                    Err(format!("{n:?}"))
                }
            },
        )
        .await;
    eprintln!("first \"down\" at {:?}", started.elapsed());

    // The failure service dies; a second target goes down during its outage.
    stack.kill_failure_service();
    let killed = Instant::now();
    stack.targets.set_down(["/during"], true);
    eprintln!("failure service killed at {:?}", started.elapsed());
    let mut most_buffered = 0;
    let mut rounds_during = 0;
    let rounds_at_kill = metric_in(
        &stack.metrics_text(&probe_url).await.unwrap(),
        "scoville_probe_rounds_total",
    );
    while killed.elapsed() < OUTAGE {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Ok(text) = stack.metrics_text(&probe_url).await {
            most_buffered = most_buffered.max(metric_in(
                &text,
                "scoville_probe_results_buffered{service=\"failure_service\"}",
            ));
            rounds_during = metric_in(&text, "scoville_probe_rounds_total") - rounds_at_kill;
            let dropped = metric_in(&text, "scoville_probe_results_dropped_total");
            stack.check(dropped == 0, || format!("{dropped} results dropped"));
        }
        let n = hook.count();
        stack.check(n == 1, || {
            format!(
                "a notice during the outage: {:?}",
                webhook_notices(&hook.requests())
            )
        });
    }
    eprintln!(
        "outage over: {rounds_during} probe rounds, up to {most_buffered} failures kept for the failure service"
    );
    let expected_rounds = OUTAGE.as_secs() / PROBE_INTERVAL_S;
    stack.check(most_buffered > 0 && rounds_during + 4 >= expected_rounds, || {
        format!("the probe kept checking and kept failures: {rounds_during} rounds, {most_buffered} buffered")
    });

    // The failure service comes back on the same port and file.
    stack.restart_failure_service().await;
    let back = Instant::now();
    eprintln!("failure service back at {:?}", started.elapsed());
    let down_at = stack
        .eventually(
            "the second endpoint's \"down\" after the return",
            Duration::from_secs(60),
            || async {
                hook.requests()
                    .iter()
                    .find(|r| r.json()["endpoint_id"] == during.as_str())
                    .map(|r| r.at)
                    .ok_or_else(|| "not yet".to_string())
            },
        )
        .await;
    let after_return = down_at.saturating_duration_since(back);
    eprintln!("second \"down\" {after_return:?} after the return");

    // Everything kept has been delivered; three more rounds bring nothing new.
    let (rounds_then, receiver_got) = stack
        .eventually(
            "the carry-over drained and every result at the receiver",
            Duration::from_secs(60),
            || async {
                let text = stack.metrics_text(&probe_url).await?;
                let buffered = metric_in(&text, "scoville_probe_results_buffered");
                let checks = metric_in(&text, "scoville_probe_checks_total");
                let down = metric_in(&text, "scoville_probe_checks_total{outcome=\"down\"");
                let to_receiver = metric_in(
                    &text,
                    "scoville_probe_results_delivered_total{service=\"receiver\"}",
                );
                let to_failures = metric_in(
                    &text,
                    "scoville_probe_results_delivered_total{service=\"failure_service\"}",
                );
                let queued = stack
                    .metric(&stack.receiver_url, "scoville_receiver_results_queued_total")
                    .await?;
                if buffered == 0 && checks == to_receiver && queued == checks && to_failures == down
                {
                    Ok((metric_in(&text, "scoville_probe_rounds_total"), queued))
                } else {
                    Err(format!(
                        "buffered {buffered}, checks {checks} (down {down}), to the receiver {to_receiver} (it queued {queued}), to the failure service {to_failures}"
                    ))
                }
            },
        )
        .await;
    stack
        .eventually(
            "three more probe rounds",
            Duration::from_secs(30),
            || async {
                let rounds = metric_in(
                    &stack.metrics_text(&probe_url).await?,
                    "scoville_probe_rounds_total",
                );
                if rounds >= rounds_then + 3 {
                    Ok(())
                } else {
                    Err(format!("{rounds} rounds"))
                }
            },
        )
        .await;
    let notices = webhook_notices(&hook.requests());
    let mut got: Vec<(String, String)> = notices
        .iter()
        .map(|(k, e, _)| (k.clone(), e.clone()))
        .collect();
    got.sort();
    let mut want = vec![
        ("down".to_string(), before.clone()),
        ("down".to_string(), during.clone()),
    ];
    want.sort();
    stack.check(got == want, || {
        format!("exactly one \"down\" per endpoint: {notices:?}")
    });
    let text = stack.metrics_text(&probe_url).await.unwrap();
    let dropped = metric_in(&text, "scoville_probe_results_dropped_total");
    stack.check(dropped == 0, || format!("{dropped} results dropped"));
    eprintln!(
        "figures: outage {OUTAGE:?}, {rounds_during} rounds during it, up to {most_buffered} failures carried over, \"down\" {after_return:?} after the return, {receiver_got} results at the receiver (all), 0 dropped; test {:?}",
        started.elapsed()
    );
}
