//! `infra/` checked: both templates cfn-lint clean; the core template translated with
//! aws-sam-translator (no AWS calls) and deployed into moto's CloudFormation, its tables
//! compared with the ones the adapters create themselves, and then used by the services'
//! own adapters (names and URLs from the stack's outputs); the deploy script's
//! `--dry-run` plan; `cargo lambda build --arm64` of every function; the probe's
//! bootstrap under `cargo lambda watch`, invoked with the scheduled events probe.yaml
//! sends, against a real admin API and receiver and the target farm. `.ci/run` installs
//! cfn-lint, aws-sam-translator, moto, cargo-lambda and ziglang (pip) and rustup's
//! aarch64 target.
//!
//! moto runs the data resources only (tables, queues, alarms, log groups, roles): the
//! Lambda functions, HTTP APIs, permissions, the event source mapping and the alarms on
//! functions are left out by `infra/check.py` (see infra/README.md).

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
use scoville_core::notice::{Notice, NoticeKind, NotificationJob};
use scoville_core::{EndpointId, OrgId, Region};
use scoville_tests::moto::MotoServer;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("running {program} (.ci/run installs it): {e}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The workspace's Lambda functions: every `<crate>/src/bin/*-lambda.rs`.
fn lambda_bins() -> BTreeSet<String> {
    let mut bins = BTreeSet::new();
    for entry in std::fs::read_dir(root()).unwrap() {
        let bin_dir = entry.unwrap().path().join("src/bin");
        for f in std::fs::read_dir(&bin_dir).into_iter().flatten() {
            let name = f.unwrap().file_name().to_string_lossy().into_owned();
            if let Some(bin) = name.strip_suffix("-lambda.rs") {
                bins.insert(format!("{bin}-lambda"));
            }
        }
    }
    assert_eq!(bins.len(), 6, "{bins:?}");
    bins
}

/// `cargo` for a nested build, without the variables Cargo and nextest set for this test
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, ...): build scripts that track one of them
/// (ring's tracks `CARGO_MANIFEST_DIR`) would otherwise see it change between a build
/// run here and one run from a shell, and rebuild everything above them.
fn cargo(target_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        let set_for_tests = [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "OUT_DIR",
            "NEXTEST",
            "__NEXTEST",
            "RUST_TEST_",
        ];
        if set_for_tests.iter().any(|p| k.starts_with(p)) {
            cmd.env_remove(&*k);
        }
    }
    cmd.current_dir(root())
        // `--target-dir` is not passed on to cargo-lambda's `cargo metadata` (1.9.2).
        .env("CARGO_TARGET_DIR", target_dir);
    cmd
}

/// `$HOME/.cache/scoville/<name>`: kept between CI runs on one machine (so a build there
/// is incremental), built from nothing on a fresh one.
fn cache_dir(name: &str) -> PathBuf {
    std::env::var_os("HOME")
        .map_or_else(std::env::temp_dir, PathBuf::from)
        .join(".cache/scoville")
        .join(name)
}

#[test]
fn templates_are_cfn_lint_clean() {
    // cfn-lint's own entry point, through python3 so no script on PATH is needed.
    let out = run(
        "python3",
        &[
            "-c",
            "import sys; from cfnlint.runner import main; sys.exit(main())",
            "infra/template.yaml",
            "infra/probe.yaml",
        ],
    );
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "cfn-lint reported:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// What the adapter and the stack must agree on: keys, attribute types, indexes with
/// their keys and projections, billing, TTL.
fn shape(d: &DescribeTableOutput, ttl: Option<String>) -> String {
    let t = d.table().unwrap();
    let keys = |ks: &[aws_sdk_dynamodb::types::KeySchemaElement]| {
        ks.iter()
            .map(|k| format!("{}:{}", k.attribute_name(), k.key_type().as_str()))
            .collect::<Vec<_>>()
    };
    let attrs: BTreeMap<_, _> = t
        .attribute_definitions()
        .iter()
        .map(|a| (a.attribute_name(), a.attribute_type().as_str()))
        .collect();
    let indexes: BTreeMap<_, _> = t
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            (
                g.index_name().unwrap_or_default(),
                (
                    keys(g.key_schema()),
                    g.projection()
                        .and_then(|p| p.projection_type())
                        .map(|p| p.as_str().to_string()),
                ),
            )
        })
        .collect();
    let billing = t
        .billing_mode_summary()
        .and_then(|b| b.billing_mode())
        .map(|b| b.as_str().to_string());
    format!(
        "keys {:?}; attributes {attrs:?}; indexes {indexes:?}; local indexes {}; billing {billing:?}; ttl {ttl:?}",
        keys(t.key_schema()),
        t.local_secondary_indexes().len()
    )
}

/// The table's shape; its TTL attribute as `declared` when given, else as DynamoDB
/// reports it.
async fn table_shape(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    declared: Option<Option<String>>,
) -> String {
    let d = client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .unwrap();
    if let Some(ttl) = declared {
        return shape(&d, ttl);
    }
    let ttl = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .filter(|t| {
            t.time_to_live_status()
                .is_some_and(|s| s.as_str() == "ENABLED")
        })
        .and_then(|t| t.attribute_name().map(str::to_string));
    shape(&d, ttl)
}

fn notice(i: usize) -> Notice {
    Notice {
        kind: NoticeKind::Down,
        org_id: OrgId::parse("org_infra").unwrap(),
        endpoint_id: EndpointId::parse(format!("ep-{i}")).unwrap(),
        endpoint_name: format!("Endpoint {i}"),
        target: format!("https://api{i}.example.com/health"),
        incident_id: format!("ep-{i}~1"),
        since_ms: 1_714_564_800_000,
        at_ms: 1_714_564_860_000,
        regions: vec![Region::parse("eu-west-1").unwrap()],
        error: Some("HTTP 503".into()),
        detail: None,
        link: format!("https://scoville.example.com/endpoints/ep-{i}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_stack_deploys_on_moto_and_the_services_use_its_tables_and_queue() {
    use scoville_failure_service::store::IncidentStore;
    use scoville_incident_log::IncidentLog;
    use scoville_notifier::dedup::DedupStore;
    use scoville_notifier::queue::JobQueue;

    let dir = std::env::temp_dir().join(format!("scoville-infra-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let translated = dir.join("core.json");
    let out = run(
        "python3",
        &[
            "infra/check.py",
            "translate",
            "infra/template.yaml",
            translated.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "translate: {}", text(&out.stderr));

    let moto = MotoServer::start();
    let endpoint = moto.endpoint();
    let out = run(
        "python3",
        &[
            "infra/check.py",
            "moto-deploy",
            &endpoint,
            translated.to_str().unwrap(),
            "scoville-core",
            "ProbeTokenHashes=sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "ServiceTokenHashes=sha256:1111111111111111111111111111111111111111111111111111111111111111",
        ],
    );
    // moto's CloudFormation does not apply TimeToLiveSpecification: the stack tables'
    // TTL is taken from the translated template, the adapters' from DynamoDB.
    let template: Value = serde_json::from_slice(&std::fs::read(&translated).unwrap()).unwrap();
    let declared_ttl = |logical: &str| -> Option<String> {
        let spec = &template["Resources"][logical]["Properties"]["TimeToLiveSpecification"];
        (spec["Enabled"] == Value::Bool(true))
            .then(|| spec["AttributeName"].as_str().unwrap().to_string())
    };
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "moto-deploy: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Exactly what was left out, by type: the compute and the HTTP front, nothing of
    // the data.
    let dropped: BTreeSet<&str> = report["dropped"]
        .as_object()
        .unwrap()
        .values()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(
        dropped,
        BTreeSet::from([
            "AWS::ApiGatewayV2::Api",
            "AWS::ApiGatewayV2::Integration",
            "AWS::ApiGatewayV2::Route",
            "AWS::ApiGatewayV2::Stage",
            "AWS::CloudWatch::Alarm",
            "AWS::Events::Rule",
            "AWS::Lambda::EventSourceMapping",
            "AWS::Lambda::Function",
            "AWS::Lambda::Permission",
        ]),
        "{report}"
    );
    let kept: BTreeSet<&str> = report["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    for id in [
        "IncidentsTable",
        "IncidentLogTable",
        "AdminTable",
        "DedupTable",
        "NotificationQueue",
        "NotificationDeadLetterQueue",
        "DeadLetterAlarm",
        "NotificationBacklogAlarm",
        "ResultHooksSendPolicy",
    ] {
        assert!(kept.contains(id), "{id} not deployed: {report}");
    }
    let output = |k: &str| -> String {
        report["outputs"][k]
            .as_str()
            .unwrap_or_else(|| panic!("no output {k}: {report}"))
            .to_string()
    };

    let sdk = moto.sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let timeout = Duration::from_secs(10);

    // The stack's tables are the tables the adapters create for themselves.
    scoville_failure_service::store::dynamodb::DynamoStore::new(&sdk, "ref-incidents", timeout)
        .ensure_table()
        .await
        .unwrap();
    scoville_incident_log::dynamodb::DynamoLog::new(&sdk, "ref-log", timeout)
        .ensure_table()
        .await
        .unwrap();
    scoville_admin_api::store::dynamodb::DynamoAdmin::create_table(&ddb, "ref-admin")
        .await
        .unwrap();
    scoville_notifier::dedup::DynamoDedup::create_table(&ddb, "ref-dedup")
        .await
        .unwrap();
    for (reference, key) in [
        ("ref-incidents", "IncidentsTableName"),
        ("ref-log", "IncidentLogTableName"),
        ("ref-admin", "AdminTableName"),
        ("ref-dedup", "DedupTableName"),
    ] {
        let logical = key.strip_suffix("Name").unwrap();
        assert_eq!(
            table_shape(&ddb, &output(key), Some(declared_ttl(logical))).await,
            table_shape(&ddb, reference, None).await,
            "{key}"
        );
    }

    // The failure service's state store: a new record, then a racing stale save.
    let store = scoville_failure_service::store::dynamodb::DynamoStore::new(
        &sdk,
        &output("IncidentsTableName"),
        timeout,
    );
    let record = scoville_failure_service::store::Record::default();
    assert_eq!(store.save("org_infra/ep-1", &record).await.unwrap(), 1);
    assert_eq!(store.load("org_infra/ep-1").await.unwrap().version, 1);
    assert_eq!(
        store.save("org_infra/ep-1", &record).await,
        Err(scoville_failure_service::store::StoreError::Conflict)
    );
    store.ping().await.unwrap();

    // The incident log: an incident and its timeline, through both indexes.
    let log = scoville_incident_log::dynamodb::DynamoLog::new(
        &sdk,
        &output("IncidentLogTableName"),
        timeout,
    );
    let org = OrgId::parse("org_infra").unwrap();
    let incident = scoville_incident_log::Incident {
        id: "ep-1~100".into(),
        org_id: org.clone(),
        endpoint_id: EndpointId::parse("ep-1").unwrap(),
        started_at_ms: 1_714_564_800_000,
        confirmed_at_ms: 1_714_564_860_000,
        resolved_at_ms: None,
        regions: vec![Region::parse("eu-west-1").unwrap()],
        error: Some("HTTP 503".into()),
    };
    let entry = scoville_incident_log::TimelineEntry {
        at_ms: 1_714_564_860_000,
        kind: scoville_incident_log::EntryKind::Confirmed,
        notice: None,
        muted: false,
        regions: vec![Region::parse("eu-west-1").unwrap()],
        detail: None,
    };
    log.append(&[scoville_incident_log::LogWrite {
        incident: incident.clone(),
        entry: entry.clone(),
    }])
    .await
    .unwrap();
    let listed = log
        .incidents(
            &org,
            &scoville_incident_log::IncidentQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed, vec![incident.clone()]);
    assert_eq!(
        log.open_endpoints().await.unwrap(),
        vec![(org.clone(), incident.endpoint_id.clone())]
    );
    assert_eq!(
        log.incident(&org, "ep-1~100").await.unwrap(),
        Some((incident, vec![entry]))
    );

    // The admin store: a user, a session, and the session swept through gsi1 on a
    // password change.
    {
        use scoville_admin_api::store::AdminStore;
        let admin = scoville_admin_api::store::dynamodb::DynamoAdmin::new(
            ddb.clone(),
            output("AdminTableName"),
        );
        let alice = scoville_admin_api::model::User {
            id: "usr_alice".into(),
            email: "alice@a.example".into(),
        };
        let admin_org = scoville_admin_api::model::Org {
            id: org.clone(),
            name: "Infra".into(),
        };
        admin
            .create_user_with_org(&alice, "old", &admin_org)
            .await
            .unwrap();
        admin
            .create_session("sess-1", &alice.id, i64::MAX)
            .await
            .unwrap();
        assert_eq!(
            admin.session_user("sess-1", 0).await.unwrap(),
            Some(alice.clone())
        );
        admin.set_password(&alice.id, "new").await.unwrap();
        assert_eq!(admin.session_user("sess-1", 0).await.unwrap(), None);
        assert_eq!(admin.memberships(&alice.id).await.unwrap().len(), 1);
    }

    // The notifier's dedup keys.
    let dedup = scoville_notifier::dedup::DynamoDedup::new(
        ddb.clone(),
        output("DedupTableName"),
        scoville_notifier::dedup::DedupSettings::default(),
    );
    let scoville_notifier::dedup::Claim::Acquired(token) = dedup.claim("k1").await.unwrap() else {
        panic!("a fresh key is acquired")
    };
    dedup.confirm("k1", &token).await.unwrap();
    assert_eq!(
        dedup.claim("k1").await.unwrap(),
        scoville_notifier::dedup::Claim::AlreadySent
    );

    // The notification queue: the stack's redrive policy is the notifier's, and a job
    // goes through it (sent by the failure service's adapter, received and deleted by
    // the notifier's); a job dead-lettered lands in the stack's dead-letter queue.
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(output("NotificationQueueUrl"))
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let redrive: Value =
        serde_json::from_str(&attrs[&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy])
            .unwrap();
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        output("MaxReceives")
    );
    assert!(
        redrive["deadLetterTargetArn"].as_str().unwrap().ends_with(
            output("NotificationDeadLetterQueueUrl")
                .rsplit('/')
                .next()
                .unwrap()
        ),
        "{redrive}"
    );
    let queue = scoville_notifier::queue::sqs::SqsJobQueue::new(
        sqs.clone(),
        scoville_notifier::queue::sqs::SqsSettings {
            queue_url: output("NotificationQueueUrl"),
            dead_letter_url: Some(output("NotificationDeadLetterQueueUrl")),
            max_receives: output("MaxReceives").parse().unwrap(),
        },
    );
    let jobs: Vec<NotificationJob> = (0..2)
        .map(|i| NotificationJob {
            channel_id: "ops".into(),
            notice: notice(i),
        })
        .collect();
    queue.send(&jobs).await.unwrap();
    let mut received = Vec::new();
    for _ in 0..10 {
        received.extend(queue.receive(10, Duration::from_secs(1)).await.unwrap());
        if received.len() >= 2 {
            break;
        }
    }
    let mut got: Vec<_> = received
        .iter()
        .filter_map(|r| r.job.as_notification().cloned())
        .collect();
    got.sort_by_key(|j| j.notice.endpoint_id.as_str().to_string());
    assert_eq!(got, jobs);
    queue.delete(&received[0].handle).await.unwrap();
    queue.dead_letter(&received[1], "infra test").await.unwrap();
    let parked = sqs
        .receive_message()
        .queue_url(output("NotificationDeadLetterQueueUrl"))
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(parked.len(), 1);
}

#[test]
fn deploy_script_dry_run_builds_every_function_and_deploys_core_once_and_a_probe_per_region() {
    let out = run(
        "bash",
        &[
            "infra/deploy.sh",
            "--dry-run",
            "--regions",
            "eu-west-1,us-east-1",
            "--home",
            "eu-west-1",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    let lines: Vec<&str> = plan.lines().collect();

    // Every Lambda binary of the workspace is built, and is what a template deploys.
    let bins = lambda_bins();
    let mut code_uris = BTreeSet::new();
    for t in ["infra/template.yaml", "infra/probe.yaml"] {
        let yaml = std::fs::read_to_string(root().join(t)).unwrap();
        for l in yaml.lines() {
            if let Some(uri) = l.trim().strip_prefix("CodeUri: ../target/lambda/") {
                code_uris.insert(uri.trim_end_matches('/').to_string());
            }
        }
    }
    assert_eq!(code_uris, bins, "every function deployed, none missing");
    // One build of all of them (dependencies compiled once), before any deploy; the
    // same command `every_function_builds_for_arm64_with_cargo_lambda` runs, in release.
    let first_deploy = lines.iter().position(|l| l.contains("sam deploy")).unwrap();
    let builds: Vec<(usize, &&str)> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("+ cargo lambda build "))
        .collect();
    assert_eq!(builds.len(), 1, "one build:\n{plan}");
    let (at, build) = builds[0];
    assert!(at < first_deploy, "built before deploying:\n{plan}");
    assert!(
        build.starts_with("+ cargo lambda build --release --arm64 --locked "),
        "{build}"
    );
    let words: Vec<&str> = build.split(' ').collect();
    let built: BTreeSet<String> = words
        .windows(2)
        .filter(|w| w[0] == "--bin")
        .map(|w| w[1].to_string())
        .collect();
    assert_eq!(built, bins, "{build}");

    let core: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("sam deploy") && l.contains("--template-file infra/template.yaml"))
        .collect();
    assert_eq!(core.len(), 1, "{plan}");
    assert!(core[0].contains("--region eu-west-1"), "{plan}");
    let probes: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("sam deploy") && l.contains("--template-file infra/probe.yaml"))
        .collect();
    assert_eq!(probes.len(), 2, "{plan}");
    for (p, region) in probes.iter().zip(["eu-west-1", "us-east-1"]) {
        assert!(p.contains(&format!("--region {region}")), "{plan}");
        assert!(
            p.contains(" Shards=0 ") && p.ends_with("ShardCount=1"),
            "{p}"
        );
        assert!(
            p.contains("--no-fail-on-empty-changeset"),
            "idempotent: {p}"
        );
    }
    assert_eq!(
        lines.iter().filter(|l| l.starts_with('+')).count(),
        lines.len()
    );

    // The shard rule: 25,000 endpoints are three shards of at most 10,000.
    let out = run(
        "bash",
        &[
            "infra/deploy.sh",
            "--dry-run",
            "--regions",
            "eu-west-1",
            "--endpoints",
            "25000",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    let probe = plan
        .lines()
        .find(|l| l.contains("--template-file infra/probe.yaml"))
        .unwrap();
    assert!(
        probe.contains("Shards=0\\,1\\,2") && probe.ends_with("ShardCount=3"),
        "{probe}"
    );
}

/// `cargo lambda build --arm64` of every function, as `deploy.sh` builds them but in the
/// dev profile (`deploy.sh` builds `--release`; see infra/README.md for the timings):
/// each `bootstrap` is a 64-bit little-endian ELF for aarch64 (`e_machine` 0xB7), linked
/// with zig from the `ziglang` pip package. Its own target directory under
/// `$HOME/.cache/scoville/`, so that it does not rebuild the test suite's artifacts.
#[test]
fn every_function_builds_for_arm64_with_cargo_lambda() {
    let bins = lambda_bins();
    let target = cache_dir("lambda-arm64");
    let out_dir = target.join("lambda");
    // cargo-lambda copies each binary out of the target directory on every build, so a
    // `bootstrap` found below is this build's.
    let _ = std::fs::remove_dir_all(&out_dir);
    let mut build = cargo(&target);
    build
        .args(["lambda", "build", "--arm64", "--locked", "--lambda-dir"])
        .arg(&out_dir);
    for bin in &bins {
        build.args(["--bin", bin]);
    }
    let started = Instant::now();
    let out = build
        .output()
        .unwrap_or_else(|e| panic!("running cargo lambda (.ci/run installs it): {e}"));
    eprintln!("cargo lambda build --arm64: {:?}", started.elapsed());
    assert!(
        out.status.success(),
        "cargo lambda build --arm64 failed:\n{}",
        text(&out.stderr)
    );
    for bin in &bins {
        let path = out_dir.join(bin).join("bootstrap");
        let elf = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", path.display(), text(&out.stderr)));
        assert!(elf.len() > 64, "{}: {} bytes", path.display(), elf.len());
        assert_eq!(&elf[..4], b"\x7fELF", "{}: not an ELF file", path.display());
        assert_eq!(elf[4], 2, "{}: not 64-bit", path.display());
        assert_eq!(elf[5], 1, "{}: not little-endian", path.display());
        assert_eq!(
            u16::from_le_bytes([elf[18], elf[19]]),
            0xB7,
            "{}: e_machine is not EM_AARCH64",
            path.display()
        );
    }
}

/// A process group started by this test (`cargo lambda watch` and the function it
/// runs), ended when dropped.
struct Group(std::process::Child);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The event probe.yaml's schedule for `shard` of `shards` sends in `region`: its
/// `Input`, with the `!Sub` variables filled in.
fn scheduled_event(region: &str, shard: u32, shards: u32) -> String {
    let yaml = std::fs::read_to_string(root().join("infra/probe.yaml")).unwrap();
    let input = yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("Input: !Sub "))
        .expect("probe.yaml: the rule's Input");
    input
        .trim_matches('\'')
        .replace("${AWS::Region}", region)
        .replace("${Index}", &shard.to_string())
        .replace("${ShardCount}", &shards.to_string())
}

/// The probe's Lambda bootstrap run by `cargo lambda watch` (its runtime emulator, the
/// function built for the host), invoked with `cargo lambda invoke` with the scheduled
/// events probe.yaml sends (two shards): it lists its endpoints from a real admin API
/// (SQLite store, probe token), checks them on the target farm, posts every result to a
/// real receiver (in-memory queue) and the failure to the failure service's contract (the
/// farm's recording sink), and answers with the round's summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_bootstrap_under_cargo_lambda_watch_runs_a_scheduled_round() {
    use scoville_receiver_service::queue::QueueConsumer;
    use scoville_service_kit::auth::TokenHash;
    use serde_json::json;

    const PROBE_TOKEN: &str = "infra-probe-token-0123456789abcdef";
    const REGION: &str = "eu-west-1";
    const RUN: &str = "lambda";
    let dir = std::env::temp_dir().join(format!("scoville-infra-watch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("scoville.db");
    let hash = TokenHash::of(PROBE_TOKEN).to_config_string();

    // The target farm: eight targets that answer 200 in under a second, one that answers
    // 500.
    let farm_config = scoville_target_farm::FarmConfig::default();
    let seed = farm_config.seed;
    let farm = scoville_target_farm::Farm::start(farm_config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let profile = |i: u64| scoville_target_farm::profile(seed, i);
    let mut targets: Vec<u64> = (0..10_000)
        .filter(|&i| {
            let p = profile(i);
            !p.hang && p.status == 200 && p.delay_ms < 1_000.0
        })
        .take(8)
        .collect();
    let failing = (0..10_000)
        .find(|&i| {
            let p = profile(i);
            !p.hang && p.status == 500 && p.delay_ms < 1_000.0
        })
        .unwrap();
    targets.push(failing);

    // The admin API (SQLite; the results store first, it creates the history's tables).
    let _results = scoville_receiver_service::store::sqlite::SqliteStore::open(&db).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_url = format!("http://{}", listener.local_addr().unwrap());
    let mut admin = scoville_admin_api::Config::default();
    admin.admin.listen = listener.local_addr().unwrap();
    admin.admin.public_url = admin_url.clone();
    admin.admin.sqlite_path = db.clone();
    admin.admin.probe_token_hashes = vec![hash.clone()];
    admin.history.sqlite_path = db.clone();
    admin.incidents.sqlite_path = db.clone();
    let state = scoville_admin_api::AppState::from_config(&admin)
        .await
        .unwrap();
    let server = scoville_service_kit::http::Server::from_listener(
        listener,
        scoville_admin_api::router(state),
    );
    tokio::spawn(server.run_until(std::future::pending()));

    // The receiver, its queue in memory and read by this test.
    let mut receiver = scoville_receiver_service::config::Config::default();
    receiver.receiver.probe_token_hashes = vec![hash];
    receiver.queue.kind = scoville_receiver_service::config::QueueKind::Memory;
    let queue = std::sync::Arc::new(scoville_receiver_service::queue::memory::MemoryQueue::new(
        receiver.queue.max_backlog,
    ));
    let receiver_state = scoville_receiver_service::app::AppState {
        queue: queue.clone(),
        ..scoville_receiver_service::app::AppState::from_config(&receiver).unwrap()
    };
    let server = scoville_service_kit::http::Server::bind(
        "127.0.0.1:0".parse().unwrap(),
        scoville_receiver_service::app::router(receiver_state),
    )
    .await
    .unwrap();
    let receiver_url = format!("http://{}", server.local_addr().unwrap());
    tokio::spawn(server.run_until(std::future::pending()));

    // An organization, an API key and the endpoints, through the public API.
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{admin_url}/v1/signup"))
        .json(&json!({"email": "ops@infra.example", "password": "correct horse battery", "org_name": "Infra"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let key: Value = http
        .post(format!("{admin_url}/v1/api-keys"))
        .header("cookie", cookie)
        .json(&json!({"name": "infra", "scope": "read_write"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().expect("an API key").to_string();
    let mut by_id = BTreeMap::new();
    for &i in &targets {
        let resp = http
            .post(format!("{admin_url}/v1/endpoints"))
            .bearer_auth(&key)
            .json(&json!({
                "name": format!("farm {i}"),
                "check": {"type": "http", "url": farm.target_url(i, RUN)},
                "regions": [REGION],
                "confirm_regions": 1,
                "interval_s": 60,
            }))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        by_id.insert(body["id"].as_str().unwrap().to_string(), i);
    }

    // `cargo lambda watch` runs the function as probe.yaml configures it (the probe
    // token, the three URLs, the region), plus what loopback targets need: private
    // addresses allowed, and checks started at once rather than spread over 30 s.
    // The function is built first with plain cargo, in the same target directory and
    // profile, so that the emulator is up with the function at once rather than after
    // a build the invoke might time out on.
    let target = cache_dir("lambda-watch");
    let out = cargo(&target)
        .args([
            "build",
            "--locked",
            "-p",
            "scoville-probe",
            "--bin",
            "probe-lambda",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building probe-lambda: {}",
        text(&out.stderr)
    );
    let port = free_port().to_string();
    let log_path = dir.join("watch.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut watch = cargo(&target);
    watch.args([
        "lambda",
        "watch",
        "--ignore-changes",
        "--package",
        "scoville-probe",
        "--bin",
        "probe-lambda",
        "--invoke-address",
        "127.0.0.1",
        "--invoke-port",
        &port,
    ]);
    for (k, v) in [
        ("SCOVILLE_LOG__FORMAT", "json".to_string()),
        ("SCOVILLE_PROBE__REGION", REGION.to_string()),
        ("SCOVILLE_ENDPOINTS__API_URL", admin_url.clone()),
        ("SCOVILLE_ENDPOINTS__TOKEN", PROBE_TOKEN.to_string()),
        ("SCOVILLE_RECEIVER__URL", receiver_url.clone()),
        ("SCOVILLE_RECEIVER__TOKEN", PROBE_TOKEN.to_string()),
        ("SCOVILLE_FAILURE_SERVICE__URL", farm.url()),
        ("SCOVILLE_FAILURE_SERVICE__TOKEN", PROBE_TOKEN.to_string()),
        ("SCOVILLE_PROBE__ALLOW_PRIVATE", "true".to_string()),
        ("SCOVILLE_PROBE__SPREAD", "0".to_string()),
    ] {
        watch.args(["--env-var", &format!("{k}={v}")]);
    }
    std::os::unix::process::CommandExt::process_group(&mut watch, 0);
    let _watch = Group(
        watch
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let watch_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err() {
        assert!(
            Instant::now() < deadline,
            "cargo lambda watch did not listen:\n{}",
            watch_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Both shards' scheduled events, as EventBridge sends them.
    let mut checked = Vec::new();
    for shard in 0..2 {
        let event = scheduled_event(REGION, shard, 2);
        let started = Instant::now();
        let out = tokio::process::Command::new(env!("CARGO"))
            .current_dir(root())
            .args([
                "lambda",
                "invoke",
                "probe-lambda",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                &port,
                "--output-format",
                "json",
                "--data-ascii",
                &event,
            ])
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "invoke {event}: {}{}\ncargo lambda watch:\n{}",
            text(&out.stdout),
            text(&out.stderr),
            watch_log()
        );
        eprintln!("invoked {event} in {:?}", started.elapsed());
        let summary: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
        assert_eq!(summary["region"], REGION, "{summary}");
        assert_eq!(summary["shard"], shard, "{summary}");
        assert_eq!(summary["shards"], 2, "{summary}");
        checked.push((shard, summary));
    }

    // Together the shards checked every endpoint once: the farm saw each target once,
    // the summaries count 8 up and 1 down.
    let endpoints: u64 = checked
        .iter()
        .map(|(_, s)| s["endpoints"].as_u64().unwrap())
        .sum();
    assert_eq!(endpoints, 9, "{checked:?}");
    let count = |outcome: &str| -> u64 {
        checked
            .iter()
            .map(|(_, s)| s["by_outcome"][outcome].as_u64().unwrap_or(0))
            .sum()
    };
    assert_eq!((count("up"), count("down")), (8, 1), "{checked:?}");
    let mut held: Vec<u64> = farm.holds(RUN).iter().map(|h| h.index).collect();
    held.sort_unstable();
    let mut expected = targets.clone();
    expected.sort_unstable();
    assert_eq!(held, expected, "each target checked once");

    // Every result reached the receiver's queue, and the failure the failure service.
    let mut results = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while results.len() < 9 && Instant::now() < deadline {
        let taken = queue.take(100, Duration::from_millis(200)).await.unwrap();
        for batch in &taken {
            let doc: Value = serde_json::from_slice(&batch.body).unwrap();
            for r in doc["results"].as_array().unwrap() {
                assert_eq!(r["region"], REGION, "{r}");
                let id = r["endpoint_id"].as_str().unwrap().to_string();
                assert!(results.insert(id, r.clone()).is_none(), "once: {r}");
            }
        }
    }
    assert_eq!(
        results.keys().collect::<BTreeSet<_>>(),
        by_id.keys().collect::<BTreeSet<_>>(),
        "a result for each endpoint"
    );
    let failed: Vec<u64> = results
        .iter()
        .filter(|(_, r)| r["outcome"] != "up")
        .map(|(id, _)| by_id[id])
        .collect();
    assert_eq!(failed, [failing], "{results:?}");
    for r in results.values() {
        let (outcome, status) = if r["outcome"] == "up" {
            ("up", 200)
        } else {
            ("down", 500)
        };
        assert_eq!(
            (r["outcome"].as_str(), r["status"].as_u64()),
            (Some(outcome), Some(status)),
            "{r}"
        );
    }
    let sink = farm.sink();
    assert_eq!(sink.results, 0, "results go to the receiver: {sink:?}");
    let failure_targets: Vec<u64> = sink.failure_ids.iter().map(|id| by_id[id]).collect();
    assert_eq!(failure_targets, [failing], "{sink:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
