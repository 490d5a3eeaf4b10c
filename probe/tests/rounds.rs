//! Probe rounds against the target farm: every result delivered, failures routed,
//! the in-flight bound kept, retries, carry-over and its bound, and invalid batches.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use scoville_check_engine::{AddressPolicy, Engine, EngineConfig};
use scoville_core::Region;
use scoville_core::wire::{ProbeScope, Shard};
use scoville_probe::Probe;
use scoville_probe::config::Config;
use scoville_probe::delivery::{Delivery, Service};
use scoville_probe::metrics::Metrics;
use scoville_probe::source::EndpointSource;
use scoville_probe::source::api::ApiSource;
use scoville_target_farm::{Farm, FarmConfig, profile};

async fn farm(n: u64) -> Farm {
    let config = FarmConfig {
        endpoints: n,
        timeout_ms: 1000,
        hang: Duration::from_secs(5),
        ..FarmConfig::default()
    };
    Farm::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn scope() -> ProbeScope {
    ProbeScope {
        region: Region::parse("test-1").unwrap(),
        shard: Shard::whole(),
    }
}

fn probe(farm: &Farm, max_in_flight: usize, tweak: impl FnOnce(&mut Config)) -> Probe {
    let mut config = Config::default();
    config.receiver.url = Some(farm.url());
    config.failure_service.url = Some(farm.url());
    config.delivery.flush_ms = 100;
    tweak(&mut config);
    let engine = Engine::new(EngineConfig {
        policy: AddressPolicy::allow_private(),
        ..EngineConfig::default()
    })
    .unwrap();
    let source: Arc<dyn EndpointSource> = Arc::new(
        ApiSource::new(
            &farm.url(),
            Some("probe-token".into()),
            Duration::from_secs(5),
            100,
        )
        .unwrap(),
    );
    let metrics = Arc::new(Metrics::default());
    let delivery = Arc::new(Delivery::new(&config, metrics.clone()).unwrap());
    Probe::new(engine, source, delivery, metrics, max_in_flight)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_checks_everything_and_delivers_every_result() {
    let n = 600;
    let farm = farm(n).await;
    let probe = probe(&farm, 1000, |_| {});
    let summary = probe
        .run_round(&scope(), Duration::ZERO, None)
        .await
        .unwrap();
    let hangs = (0..n).filter(|i| profile(7, *i).hang).count();
    let errors = (0..n)
        .filter(|i| !profile(7, *i).hang && profile(7, *i).status == 500)
        .count();
    let slow = (0..n)
        .filter(|i| !profile(7, *i).hang && profile(7, *i).delay_ms >= 1000.0)
        .count();
    assert_eq!(summary.endpoints, n as usize);
    assert_eq!(
        summary.by_reason.get("status").copied().unwrap_or(0),
        errors
            - (0..n)
                .filter(|i| {
                    let p = profile(7, *i);
                    !p.hang && p.status == 500 && p.delay_ms >= 1000.0
                })
                .count()
    );
    assert_eq!(
        summary.by_reason.get("timeout").copied().unwrap_or(0),
        hangs + slow
    );
    let sink = farm.sink();
    assert_eq!(sink.results, n);
    assert_eq!(sink.distinct_results, n);
    let down = summary.by_outcome.get("down").copied().unwrap_or(0) as u64;
    assert_eq!(
        sink.failures, down,
        "every failure goes to the failure service"
    );
    assert_eq!(summary.delivery.results_delivered, n);
    assert_eq!(summary.delivery.carried_over, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_flight_bound_is_kept_and_starts_are_spread() {
    let farm = farm(200).await;
    let probe = probe(&farm, 20, |_| {});
    let started = std::time::Instant::now();
    probe
        .run_round(&scope(), Duration::from_millis(500), None)
        .await
        .unwrap();
    assert!(
        farm.max_in_flight() <= 20,
        "{} in flight",
        farm.max_in_flight()
    );
    assert!(
        farm.max_in_flight() >= 10,
        "the bound was not even approached: {}",
        farm.max_in_flight()
    );
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "starts were not spread"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_posts_are_retried() {
    let farm = farm(100).await;
    farm.fail_next_posts(2, 503);
    let probe = probe(&farm, 1000, |c| c.delivery.attempts = 4);
    let summary = probe
        .run_round(&scope(), Duration::ZERO, None)
        .await
        .unwrap();
    let sink = farm.sink();
    assert_eq!(sink.rejected_posts, 2);
    assert_eq!(sink.results, 100);
    assert_eq!(summary.delivery.carried_over, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeliverable_results_are_carried_to_the_next_round() {
    let farm = farm(100).await;
    farm.fail_next_posts(1_000, 503);
    let probe = probe(&farm, 1000, |c| c.delivery.attempts = 2);
    let first = probe
        .run_round(&scope(), Duration::ZERO, None)
        .await
        .unwrap();
    assert_eq!(farm.sink().results, 0);
    let down = first.by_outcome.get("down").copied().unwrap_or(0) as u64;
    assert_eq!(first.delivery.carried_over, 100 + down);
    assert_eq!(probe.delivery().carried_over(Service::Receiver), 100);
    farm.fail_next_posts(0, 503);
    let second = probe
        .run_round(&scope(), Duration::ZERO, None)
        .await
        .unwrap();
    let sink = farm.sink();
    assert_eq!(sink.results, 200, "both rounds' results arrive");
    assert_eq!(sink.distinct_results, 200, "nothing doubled");
    assert_eq!(second.delivery.carried_over, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_carry_over_buffer_is_bounded_and_drops_are_counted() {
    let farm = farm(100).await;
    farm.fail_next_posts(1_000, 503);
    let probe = probe(&farm, 1000, |c| {
        c.delivery.attempts = 1;
        c.delivery.buffer_max = 30;
        c.delivery.batch_size = 10;
    });
    let summary = probe
        .run_round(&scope(), Duration::ZERO, None)
        .await
        .unwrap();
    assert_eq!(probe.delivery().carried_over(Service::Receiver), 30);
    assert_eq!(probe.metrics().dropped_total(Service::Receiver), 70);
    assert!(summary.delivery.dropped >= 70);
    assert!(
        probe
            .metrics()
            .render()
            .contains("scoville_probe_results_dropped_total{service=\"receiver\"} 70")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_refused_as_invalid_are_not_retried() {
    let farm = farm(50).await;
    farm.fail_next_posts(1, 400);
    let probe = probe(&farm, 1000, |c| {
        c.delivery.attempts = 5;
        c.failure_service.url = None;
    });
    let summary = probe
        .run_round(&scope(), Duration::ZERO, None)
        .await
        .unwrap();
    let sink = farm.sink();
    assert_eq!(sink.rejected_posts, 1, "a 400 is not retried");
    let dropped = summary.delivery.dropped;
    assert!(dropped > 0, "the refused batch is dropped, not delivered");
    assert_eq!(sink.results + dropped, 50, "everything else is delivered");
    let line = format!("scoville_probe_results_rejected_total{{service=\"receiver\"}} {dropped}");
    assert!(probe.metrics().render().contains(&line));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_run_at_another_time_carries_that_time() {
    let farm = farm(20).await;
    let probe = probe(&farm, 100, |_| {});
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let hook = {
        let seen = seen.clone();
        Box::new(move |r: &scoville_core::CheckResult| {
            seen.lock()
                .unwrap()
                .push((r.scheduled_at_ms, r.started_at_ms));
        }) as scoville_probe::delivery::ResultHook
    };
    let at = 1_700_000_000_000i64;
    probe
        .run_round_at(&scope(), Duration::from_millis(200), Some(hook), Some(at))
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 20);
    for (scheduled, started) in seen.iter() {
        assert!((at..at + 200).contains(scheduled), "{scheduled}");
        // Started after it was scheduled, within the round's real duration.
        assert!(
            *started >= *scheduled && *started < at + 30_000,
            "{started}"
        );
    }
}
