//! The DynamoDB state store on moto's server (the real AWS SDK client): conditional
//! writes refuse a stale version, and two failure-service instances racing on one
//! endpoint open exactly one incident.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use scoville_core::notice::NoticeKind;
use scoville_failure_service::router;
use scoville_failure_service::store::dynamodb::DynamoStore;
use scoville_failure_service::store::{IncidentStore, Record, StoreError};
use scoville_tests::moto::MotoServer;
use support::*;
use tower::ServiceExt;

async fn store(moto: &MotoServer, table: &str) -> DynamoStore {
    let s = DynamoStore::new(&moto.sdk_config().await, table, Duration::from_secs(5));
    s.ensure_table().await.unwrap();
    s
}

#[tokio::test]
async fn a_save_with_a_stale_version_is_refused() {
    let moto = MotoServer::start();
    let s = store(&moto, "incidents-a").await;
    let fresh = s.load("org-1/ep-1").await.unwrap();
    assert_eq!(fresh.version, 0);
    let v1 = s.save("org-1/ep-1", &fresh).await.unwrap();
    assert_eq!(v1, 1);
    // A second writer that also read version 0 loses.
    assert_eq!(
        s.save("org-1/ep-1", &fresh).await,
        Err(StoreError::Conflict)
    );
    let mut current = s.load("org-1/ep-1").await.unwrap();
    assert_eq!(current.version, 1);
    current.outbox = Vec::new();
    assert_eq!(s.save("org-1/ep-1", &current).await.unwrap(), 2);
    let stale = Record {
        version: 1,
        ..Record::default()
    };
    assert_eq!(
        s.save("org-1/ep-1", &stale).await,
        Err(StoreError::Conflict)
    );
    s.ping().await.unwrap();
}

#[tokio::test]
async fn two_instances_racing_on_one_endpoint_open_one_incident() {
    let moto = MotoServer::start();
    let sink = Queue::new(10_000);
    // Two instances, each with its own client, on one table.
    let log = scoville_incident_log::dynamodb::DynamoLog::new(
        &moto.sdk_config().await,
        "incident-log-b",
        std::time::Duration::from_secs(5),
    );
    log.ensure_table().await.unwrap();
    let log: Arc<dyn scoville_incident_log::IncidentLog> = Arc::new(log);
    let a = router(state(
        Arc::new(store(&moto, "incidents-b").await),
        log.clone(),
        &sink,
        &["ops"],
    ));
    let b = router(state(
        Arc::new(store(&moto, "incidents-b").await),
        log.clone(),
        &sink,
        &["ops"],
    ));
    let post = |app: axum::Router, body: String| async move {
        app.oneshot(
            axum::http::Request::post("/v1/failures")
                .header("authorization", format!("Bearer {TOKEN}"))
                .body(axum::body::Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap()
        .status()
    };
    // Each round, region A's failure reaches one instance and region B's the other, at
    // the same moment; 5 endpoints so that the instances also interleave.
    for round in 0..4 {
        let mut tasks = Vec::new();
        for ep in 0..5 {
            let ep = format!("ep-{ep}");
            let ra = batch(vec![result(&ep, "eu-west-1", round, false)]).to_string();
            let rb = batch(vec![result(&ep, "us-east-1", round, false)]).to_string();
            tasks.push(tokio::spawn(post(a.clone(), ra)));
            tasks.push(tokio::spawn(post(b.clone(), rb)));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), axum::http::StatusCode::ACCEPTED);
        }
    }
    // The race really happened: saves were refused and re-applied.
    let mut conflicts = 0;
    for app in [a, b] {
        let resp = app
            .oneshot(
                axum::http::Request::get("/metrics")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let text = String::from_utf8(
            axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .unwrap()
                .to_vec(),
        )
        .unwrap();
        conflicts += text
            .lines()
            .find_map(|l| l.strip_prefix("scoville_failure_store_conflicts_total "))
            .unwrap()
            .parse::<u64>()
            .unwrap();
    }
    eprintln!("conflicts: {conflicts}");
    assert!(
        conflicts > 0,
        "no save was ever refused: the instances did not race"
    );
    let downs: Vec<_> = sink.distinct();
    assert_eq!(downs.len(), 5, "one incident per endpoint: {downs:#?}");
    // The log agrees: five open incidents, each confirmed once and notified once.
    let org = scoville_core::OrgId::parse("org-1").unwrap();
    let query = scoville_incident_log::IncidentQuery {
        limit: 100,
        ..Default::default()
    };
    let incidents = log.incidents(&org, &query).await.unwrap();
    assert_eq!(incidents.len(), 5, "{incidents:#?}");
    assert_eq!(log.open_endpoints().await.unwrap().len(), 5);
    for i in &incidents {
        let (_, timeline) = log.incident(&org, &i.id).await.unwrap().unwrap();
        let kinds: Vec<_> = timeline.iter().map(|e| (e.kind, e.notice)).collect();
        assert_eq!(
            kinds,
            vec![
                (scoville_incident_log::EntryKind::Confirmed, None),
                (
                    scoville_incident_log::EntryKind::Notified,
                    Some(NoticeKind::Down)
                ),
            ]
        );
    }
    assert!(
        sink.jobs()
            .iter()
            .all(|j| j.notice.kind == NoticeKind::Down)
    );
    let check = store(&moto, "incidents-b").await;
    for ep in 0..5 {
        let rec = check.load(&format!("org-1/ep-{ep}")).await.unwrap();
        let incident = rec.state.incident().expect("open");
        assert_eq!(
            incident.regions.len(),
            2,
            "both regions confirmed: {incident:?}"
        );
        assert!(rec.outbox.is_empty());
    }
}
