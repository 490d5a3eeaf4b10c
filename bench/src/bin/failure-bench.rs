//! `failure-bench`: failure results per second through the incident state machine on the
//! embedded storage (SQLite in a file), the way the failure service handles a request:
//! the engine groups a batch by endpoint, reads each endpoint's record, applies its
//! results, saves it with a version check, and hands notices to the queue (the in-process
//! notification queue).
//!
//! The load: `--endpoints` endpoints, 3 regions each, every one failing in 2 of them (so
//! that incidents open and stay open), `--rounds` rounds, sent in batches of `--batch`
//! results (one region's results per batch, as probes send them).

use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use scoville_core::incident::{Event, IncidentPolicy, Observation};
use scoville_core::{EndpointId, OrgId, Region};
use scoville_failure_service::directory::ConfigDirectory;
use scoville_failure_service::engine::{Engine, EngineSettings, Keyed};
use scoville_failure_service::metrics::Metrics;
use scoville_failure_service::store::sqlite::SqliteStore;
use scoville_notifier::queue::MemoryJobQueue;
use scoville_notifier::queue::memory::MemoryQueueSettings;

/// Measure the failure service's engine on SQLite.
#[derive(Debug, Parser)]
struct Args {
    /// Endpoints.
    #[arg(long, default_value_t = 2000)]
    endpoints: usize,
    /// Rounds.
    #[arg(long, default_value_t = 10)]
    rounds: i64,
    /// Results per batch.
    #[arg(long, default_value_t = 500)]
    batch: usize,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("scoville-failure-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(SqliteStore::open(&dir.join("incidents.db"))?);
    let queue = Arc::new(MemoryJobQueue::new(MemoryQueueSettings {
        capacity: 1_000_000,
        ..MemoryQueueSettings::default()
    }));
    let directory = ConfigDirectory::new(
        "http://localhost",
        IncidentPolicy::default(),
        vec!["ops".into()],
        Vec::new(),
    );
    let log = Arc::new(scoville_incident_log::sqlite::SqliteLog::open(
        &dir.join("incidents.db"),
    )?);
    let engine = Engine::new(
        store,
        log,
        Arc::new(directory),
        queue.clone(),
        EngineSettings::default(),
        Arc::new(Metrics::default()),
    );
    let org = OrgId::parse("org-1").map_err(anyhow::Error::msg)?;
    let ids: Vec<EndpointId> = (0..args.endpoints)
        .map(|i| EndpointId::parse(format!("ep-{i}")).map_err(anyhow::Error::msg))
        .collect::<Result<_, _>>()?;
    let regions: Vec<Region> = ["eu-west-1", "us-east-1"]
        .iter()
        .map(|r| Region::parse(*r).map_err(anyhow::Error::msg))
        .collect::<Result<_, _>>()?;
    let t0 = 1_790_000_000_000i64;
    let mut batches = Vec::new();
    for round in 0..args.rounds {
        for region in &regions {
            let events: Vec<Keyed> = ids
                .iter()
                .map(|id| {
                    let at = t0 + round * 60_000 + 1000;
                    Keyed {
                        org_id: org.clone(),
                        endpoint_id: id.clone(),
                        at_ms: at,
                        event: Event::Check(Observation {
                            region: region.clone(),
                            scheduled_at_ms: at,
                            started_at_ms: at,
                            ok: false,
                            error: Some("connect: connection refused".into()),
                            cert_expires_at_ms: None,
                            domain_expires_at_ms: None,
                        }),
                    }
                })
                .collect();
            for chunk in events.chunks(args.batch) {
                batches.push(chunk.to_vec());
            }
        }
    }
    let total: usize = batches.iter().map(Vec::len).sum();
    let started = Instant::now();
    for b in batches {
        engine.handle(b).await.map_err(anyhow::Error::msg)?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{total} failure results ({} endpoints x 2 regions x {} rounds, batches of {}) in {secs:.2} s: {:.0} results/s; {} notification jobs",
        args.endpoints,
        args.rounds,
        args.batch,
        total as f64 / secs,
        queue.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
