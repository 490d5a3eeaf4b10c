//! `infra/` checked: both templates cfn-lint clean; the core template translated with
//! aws-sam-translator (no AWS calls) and deployed into moto's CloudFormation, its tables
//! compared with the ones the adapters create themselves, and then used by the services'
//! own adapters (names and URLs from the stack's outputs); the deploy script's
//! `--dry-run` plan. `.ci/run` installs cfn-lint, aws-sam-translator and moto.
//!
//! moto runs the data resources only (tables, queues, alarms, log groups, roles): the
//! Lambda functions, HTTP APIs, permissions, the event source mapping and the alarms on
//! functions are left out by `infra/check.py` (see infra/README.md).

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

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
            "AWS::ApiGatewayV2::Stage",
            "AWS::CloudWatch::Alarm",
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
    let mut got: Vec<_> = received.iter().map(|r| r.job.clone()).collect();
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
    assert_eq!(bins.len(), 5, "{bins:?}");
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
    let first_deploy = lines.iter().position(|l| l.contains("sam deploy")).unwrap();
    for bin in &bins {
        let builds: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                l.starts_with("+ cargo lambda build --release --arm64 --bin ")
                    && l.split(' ').any(|w| w == bin.as_str())
            })
            .map(|(i, _)| i)
            .collect();
        assert_eq!(builds.len(), 1, "{bin} built once:\n{plan}");
        assert!(builds[0] < first_deploy, "built before deploying:\n{plan}");
    }

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
