//! Change alerts end to end in one process: the probe checks a real local target whose
//! JSON changes between rounds, posts the watched values to a real failure service
//! (`POST /v1/changes`, over HTTP), and exactly one "changed" job comes out, with the
//! before / after line. A failed check sends no value.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use scoville_check_engine::{AddressPolicy, Engine, EngineConfig};
use scoville_core::incident::IncidentPolicy;
use scoville_core::notice::{NoticeKind, NotificationJob};
use scoville_core::wire::{ProbeScope, Shard};
use scoville_core::{ProbeEndpoint, Region};
use scoville_failure_service::config::Limits;
use scoville_failure_service::directory::ConfigDirectory;
use scoville_failure_service::engine::{Engine as FailureEngine, EngineSettings};
use scoville_failure_service::store::sqlite::SqliteStore;
use scoville_failure_service::{AppState, router};
use scoville_notifier::queue::{JobQueue, MemoryJobQueue, memory::MemoryQueueSettings};
use scoville_probe::Probe;
use scoville_probe::config::Config;
use scoville_probe::delivery::Delivery;
use scoville_probe::metrics::Metrics;
use scoville_probe::source::{EndpointSource, SourceError};
use scoville_service_kit::auth::{TokenHash, TokenSet};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TOKEN: &str = "probe-token-0123456789";
const MIN: i64 = 60_000;
const T0: i64 = 1_790_000_000_000 / MIN * MIN;

/// A target answering every request with the current `(status, body)`.
async fn target(content: Arc<Mutex<(u16, String)>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (status, body) = content.lock().unwrap().clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).await.unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/status")
}

/// The failure service on a real socket, with its notification queue.
async fn failure_service() -> (String, Arc<MemoryJobQueue>) {
    let queue = Arc::new(MemoryJobQueue::new(MemoryQueueSettings {
        capacity: 10_000,
        ..MemoryQueueSettings::default()
    }));
    let metrics = Arc::new(scoville_failure_service::metrics::Metrics::default());
    let directory = ConfigDirectory::new(
        "https://scoville.example",
        IncidentPolicy::default(),
        vec!["ops".into()],
        Vec::new(),
    );
    let log = Arc::new(
        scoville_incident_log::sqlite::SqliteLog::open(std::path::Path::new(":memory:")).unwrap(),
    );
    let store = Arc::new(SqliteStore::open(std::path::Path::new(":memory:")).unwrap());
    let state = AppState {
        engine: FailureEngine::new(
            store,
            log,
            Arc::new(directory),
            queue.clone(),
            EngineSettings::default(),
            metrics.clone(),
        ),
        tokens: Arc::new(TokenSet::new(vec![TokenHash::of(TOKEN)])),
        limits: Limits {
            max_body_bytes: 64 * 1024,
            max_batch: 100,
        },
        metrics,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    (url, queue)
}

/// Every job on the queue so far (taken off it, as a notifier would).
async fn jobs(queue: &MemoryJobQueue, seen: &mut Vec<NotificationJob>) {
    for r in queue.receive(1000, Duration::ZERO).await.unwrap() {
        queue.delete(&r.handle).await.unwrap();
        seen.extend(r.job.into_notification());
    }
}

/// One endpoint watching `$.version` of the target.
#[derive(Debug)]
struct Watched(ProbeEndpoint);

impl EndpointSource for Watched {
    fn fetch<'a>(
        &'a self,
        _: &'a ProbeScope,
    ) -> BoxFuture<'a, Result<Vec<ProbeEndpoint>, SourceError>> {
        Box::pin(async move { Ok(vec![self.0.clone()]) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_version_becomes_one_notice_with_before_and_after() {
    let content = Arc::new(Mutex::new((
        200,
        r#"{"version":"1.4.2","n":0}"#.to_string(),
    )));
    let url = target(content.clone()).await;
    let (fs_url, queue) = failure_service().await;

    let endpoint: ProbeEndpoint = serde_json::from_value(serde_json::json!({
        "id": "ep-1", "org_id": "org-1", "name": "api",
        "check": {"type": "http", "url": url,
                  "watch": {"type": "json_path", "path": "$.version"}}
    }))
    .unwrap();
    let mut config = Config::default();
    config.failure_service.url = Some(fs_url);
    config.failure_service.token = Some(TOKEN.into());
    config.delivery.flush_ms = 50;
    let engine = Engine::new(EngineConfig {
        policy: AddressPolicy::allow_private(),
        ..EngineConfig::default()
    })
    .unwrap();
    let metrics = Arc::new(Metrics::default());
    let delivery = Arc::new(Delivery::new(&config, metrics.clone()).unwrap());
    let probe = Probe::new(engine, Arc::new(Watched(endpoint)), delivery, metrics, 10);
    let scope = ProbeScope {
        region: Region::parse("eu-west-1").unwrap(),
        shard: Shard::whole(),
    };

    let mut seen = Vec::new();
    let round = |n: i64| {
        let probe = &probe;
        let scope = &scope;
        async move {
            probe
                .run_round_at(scope, Duration::ZERO, None, Some(T0 + n * MIN))
                .await
                .unwrap()
        }
    };
    // The baseline and a round where only an unwatched field changed: nothing to say.
    for n in 0..2 {
        content.lock().unwrap().1 = format!(r#"{{"version":"1.4.2","n":{n}}}"#);
        let summary = round(n).await;
        assert_eq!(summary.delivery.changes_delivered, 1, "{summary:?}");
    }
    jobs(&queue, &mut seen).await;
    assert!(seen.is_empty(), "{seen:#?}");

    // The deploy, seen in two rounds: one notice.
    content.lock().unwrap().1 = r#"{"version":"1.5.0","n":2}"#.into();
    for n in 2..4 {
        assert_eq!(round(n).await.delivery.changes_delivered, 1);
    }
    // A failing round sends its failure but no value.
    *content.lock().unwrap() = (500, r#"{"version":"9.9.9"}"#.into());
    let failed = round(4).await;
    assert_eq!(
        (
            failed.delivery.changes_delivered,
            failed.delivery.failures_delivered
        ),
        (0, 1),
        "{failed:?}"
    );

    jobs(&queue, &mut seen).await;
    let changed: Vec<_> = seen
        .iter()
        .filter(|j| j.notice.kind == NoticeKind::Changed)
        .collect();
    assert_eq!(changed.len(), 1, "{seen:#?}");
    let n = &changed[0].notice;
    assert_eq!(n.detail.as_deref(), Some("before: 1.4.2 → after: 1.5.0"));
    assert_eq!(n.endpoint_id.as_str(), "ep-1");
    assert_eq!(n.regions[0].as_str(), "eu-west-1");
}
