//! One contract, both adapters: the SQLite log on a real file and the DynamoDB log on
//! moto's server answer the same writes with the same incidents and timelines.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use scoville_core::notice::NoticeKind;
use scoville_core::{EndpointId, OrgId, Region};
use scoville_incident_log::dynamodb::DynamoLog;
use scoville_incident_log::sqlite::SqliteLog;
use scoville_incident_log::{
    EntryKind, Incident, IncidentLog, IncidentQuery, LogWrite, TimelineEntry,
};

fn org(s: &str) -> OrgId {
    OrgId::parse(s).unwrap()
}

fn incident(o: &str, endpoint: &str, slot: i64, resolved: Option<i64>) -> Incident {
    Incident {
        id: format!("{endpoint}~{slot}"),
        org_id: org(o),
        endpoint_id: EndpointId::parse(endpoint).unwrap(),
        started_at_ms: slot * 60_000 - 30_000,
        confirmed_at_ms: slot * 60_000,
        resolved_at_ms: resolved,
        regions: vec![Region::parse("eu-west-1").unwrap()],
        error: Some("connect: refused <b>".into()),
    }
}

fn entry(at_ms: i64, kind: EntryKind, notice: Option<NoticeKind>) -> TimelineEntry {
    TimelineEntry {
        at_ms,
        kind,
        notice,
        muted: false,
        regions: Vec::new(),
        detail: None,
    }
}

fn all(limit: usize) -> IncidentQuery {
    IncidentQuery {
        limit,
        ..IncidentQuery::default()
    }
}

async fn contract(log: &dyn IncidentLog) {
    let a1 = incident("org-a", "ep-1", 100, None);
    let opened = LogWrite {
        incident: a1.clone(),
        entry: entry(6_000_000, EntryKind::Confirmed, None),
    };
    let notified = LogWrite {
        incident: a1.clone(),
        entry: entry(6_000_001, EntryKind::Notified, Some(NoticeKind::Down)),
    };
    log.append(&[opened.clone(), notified.clone()])
        .await
        .unwrap();
    // Another org's incident on an endpoint with the same id.
    let b1 = incident("org-b", "ep-1", 101, None);
    log.append(&[LogWrite {
        incident: b1.clone(),
        entry: entry(6_060_000, EntryKind::Confirmed, None),
    }])
    .await
    .unwrap();

    let mut open = log.open_endpoints().await.unwrap();
    open.sort();
    assert_eq!(
        open,
        vec![
            (org("org-a"), EndpointId::parse("ep-1").unwrap()),
            (org("org-b"), EndpointId::parse("ep-1").unwrap())
        ]
    );
    // ... with when each was confirmed (the probe's list backs off endpoints down long).
    let mut since = log.open_endpoints_since().await.unwrap();
    since.sort();
    assert_eq!(
        since,
        vec![
            (
                org("org-a"),
                EndpointId::parse("ep-1").unwrap(),
                Some(6_000_000)
            ),
            (
                org("org-b"),
                EndpointId::parse("ep-1").unwrap(),
                Some(6_060_000)
            )
        ]
    );

    // Resolution, then the opening write again (a redelivered outbox): still resolved,
    // and no entry twice.
    let resolved = LogWrite {
        incident: incident("org-a", "ep-1", 100, Some(6_300_000)),
        entry: entry(6_300_000, EntryKind::Resolved, None),
    };
    log.append(std::slice::from_ref(&resolved)).await.unwrap();
    log.append(&[opened, notified, resolved]).await.unwrap();
    let (got, timeline) = log.incident(&org("org-a"), &a1.id).await.unwrap().unwrap();
    assert_eq!(got.resolved_at_ms, Some(6_300_000));
    assert_eq!(got.confirmed_at_ms, a1.confirmed_at_ms);
    assert_eq!(got.error.as_deref(), Some("connect: refused <b>"));
    assert_eq!(
        timeline.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![
            EntryKind::Confirmed,
            EntryKind::Notified,
            EntryKind::Resolved
        ]
    );
    assert_eq!(timeline[1].notice, Some(NoticeKind::Down));
    assert_eq!(
        log.open_endpoints().await.unwrap(),
        vec![(org("org-b"), EndpointId::parse("ep-1").unwrap())]
    );

    // Org isolation: org B can't read org A's incident by id.
    assert!(log.incident(&org("org-b"), &a1.id).await.unwrap().is_none());
    assert_eq!(
        log.incidents(&org("org-b"), &all(10)).await.unwrap(),
        vec![b1]
    );

    // Listing: newest first, filters, paging by time.
    let a2 = incident("org-a", "ep-2", 200, None);
    let a3 = incident("org-a", "ep-1", 300, None);
    for i in [&a2, &a3] {
        log.append(&[LogWrite {
            incident: i.clone(),
            entry: entry(i.confirmed_at_ms, EntryKind::Confirmed, None),
        }])
        .await
        .unwrap();
    }
    let ids = |v: Vec<Incident>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    let a = org("org-a");
    assert_eq!(
        ids(log.incidents(&a, &all(10)).await.unwrap()),
        vec!["ep-1~300", "ep-2~200", "ep-1~100"]
    );
    assert_eq!(
        ids(log.incidents(&a, &all(2)).await.unwrap()),
        vec!["ep-1~300", "ep-2~200"]
    );
    let page2 = IncidentQuery {
        after: Some((a2.confirmed_at_ms, a2.id.clone())),
        ..all(2)
    };
    assert_eq!(
        ids(log.incidents(&a, &page2).await.unwrap()),
        vec!["ep-1~100"]
    );
    let ep1 = IncidentQuery {
        endpoint_id: Some(EndpointId::parse("ep-1").unwrap()),
        ..all(10)
    };
    assert_eq!(
        ids(log.incidents(&a, &ep1).await.unwrap()),
        vec!["ep-1~300", "ep-1~100"]
    );
    let open_only = IncidentQuery {
        open: Some(true),
        ..all(10)
    };
    assert_eq!(
        ids(log.incidents(&a, &open_only).await.unwrap()),
        vec!["ep-1~300", "ep-2~200"]
    );
    let resolved_only = IncidentQuery {
        open: Some(false),
        ..all(10)
    };
    assert_eq!(
        ids(log.incidents(&a, &resolved_only).await.unwrap()),
        vec!["ep-1~100"]
    );
    assert!(log.incident(&a, "ep-1~1").await.unwrap().is_none());

    // Incidents confirmed in the same millisecond page one by one, none skipped.
    let c = org("org-c");
    for ep in ["ep-7", "ep-8", "ep-9"] {
        let i = Incident {
            confirmed_at_ms: 9_000_000,
            ..incident("org-c", ep, 150, None)
        };
        log.append(&[LogWrite {
            incident: i,
            entry: entry(9_000_000, EntryKind::Confirmed, None),
        }])
        .await
        .unwrap();
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = log
            .incidents(
                &c,
                &IncidentQuery {
                    after: after.clone(),
                    ..all(1)
                },
            )
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.confirmed_at_ms, last.id.clone()));
        seen.extend(ids(page));
    }
    assert_eq!(seen, vec!["ep-9~150", "ep-8~150", "ep-7~150"]);
}

#[tokio::test]
async fn sqlite_keeps_incidents_and_their_timeline() {
    let dir = std::env::temp_dir().join(format!("scoville-incident-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("log.db");
    let _ = std::fs::remove_file(&path);
    contract(&SqliteLog::open(&path).unwrap()).await;
    // On disk, and readable from a second connection (the admin API's).
    let reader = SqliteLog::open(&path).unwrap();
    assert_eq!(
        reader
            .incidents(&org("org-a"), &all(10))
            .await
            .unwrap()
            .len(),
        3
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn dynamodb_keeps_incidents_and_their_timeline() {
    let moto = scoville_tests::moto::MotoServer::start();
    let sdk = moto.sdk_config().await;
    let log = DynamoLog::new(&sdk, "incident-log", Duration::from_secs(5));
    log.ensure_table().await.unwrap();
    contract(&log).await;
}
