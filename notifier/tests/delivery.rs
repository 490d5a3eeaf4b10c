//! Delivery through the worker loop over the in-process queue, against the recording
//! server: retries and their limits, `Retry-After`, permanent failures dead-lettered,
//! and dedup (the same job delivered twice, or fifty times, sends once per channel).

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use scoville_core::notice::{NoticeKind, NotificationJob};
use scoville_notifier::dispatch::Grouping;
use scoville_notifier::queue::JobQueue;
use scoville_notifier::worker::CycleReport;
use serde_json::json;
use support::*;

fn hook(rec: &Recorder) -> serde_json::Value {
    json!({"type": "webhook", "url": rec.url("/hook")})
}

#[tokio::test]
async fn answers_500_500_500_200_make_four_attempts() {
    let rec = Recorder::with_script(vec![
        Reply::status(500),
        Reply::status(500),
        Reply::status(500),
    ])
    .await;
    let queue = memory_queue(Duration::from_secs(30), 5);
    let d = dispatcher(
        directory(&[("h", hook(&rec))]),
        memory_dedup(),
        fast_policy(4),
        fast_grouping(),
    );
    let w = worker(queue.clone(), d.clone(), 100);
    queue.send(&[job("h", 1)]).await.unwrap();
    let report = w.run_cycle().await.unwrap();
    assert_eq!(
        report,
        CycleReport {
            received: 1,
            sent: 1,
            ..CycleReport::default()
        }
    );
    let reqs = rec.requests();
    assert_eq!(reqs.len(), 4);
    // All four carry the same delivery id.
    let ids: Vec<_> = reqs
        .iter()
        .map(|r| r.header("x-scoville-delivery").unwrap().to_string())
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]));
    assert!(queue.is_empty());
    let m = d.metrics().render();
    assert!(m.contains("scoville_notifier_attempts_total 4\n"), "{m}");
    assert!(
        m.contains("scoville_notifier_attempt_failures_total 3\n"),
        "{m}"
    );
}

#[tokio::test]
async fn retries_continue_across_receives_then_dead_letter() {
    // Two attempts per delivery, three receives: six attempts at most.
    let rec = Recorder::with_script(vec![Reply::status(503); 10]).await;
    let queue = memory_queue(Duration::from_secs(30), 3);
    let d = dispatcher(
        directory(&[("h", hook(&rec))]),
        memory_dedup(),
        fast_policy(2),
        fast_grouping(),
    );
    let d_metrics = d.metrics().clone();
    let w = worker(queue.clone(), d, 100);
    queue.send(&[job("h", 1)]).await.unwrap();
    let mut reports = Vec::new();
    for _ in 0..3 {
        // The job comes back after its (short) requeue delay.
        reports.push(w.run_cycle().await.unwrap());
    }
    assert_eq!(reports[0].retried, 1);
    assert_eq!(reports[1].retried, 1);
    assert_eq!(reports[2].dead_lettered, 1, "{reports:?}");
    assert!(
        d_metrics
            .render()
            .contains("scoville_notifier_jobs_total{outcome=\"dead_lettered\"} 1\n"),
        "a job that used up its receives counts as dead-lettered"
    );
    assert_eq!(rec.count(), 6);
    let dead = queue.dead_letters();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0]
            .reason
            .starts_with("gave up after 3 deliveries: HTTP 503"),
        "{}",
        dead[0].reason
    );
    assert!(queue.is_empty());
}

#[tokio::test]
async fn a_400_is_tried_once_then_dead_lettered() {
    let rec = Recorder::with_script(vec![Reply::status(400).with_body("invalid_payload")]).await;
    let queue = memory_queue(Duration::from_secs(30), 5);
    let d = dispatcher(
        directory(&[("h", hook(&rec))]),
        memory_dedup(),
        fast_policy(4),
        fast_grouping(),
    );
    let w = worker(queue.clone(), d, 100);
    queue.send(&[job("h", 1)]).await.unwrap();
    let report = w.run_cycle().await.unwrap();
    assert_eq!(report.dead_lettered, 1);
    assert_eq!(rec.count(), 1);
    let dead = queue.dead_letters();
    assert_eq!(dead[0].job, job("h", 1));
    assert_eq!(
        dead[0].reason,
        "webhook after 1 attempt(s): HTTP 400: invalid_payload"
    );
    // Nothing comes back.
    assert_eq!(w.run_cycle().await.unwrap(), CycleReport::default());
    assert_eq!(rec.count(), 1);
}

#[tokio::test]
async fn retry_after_is_respected() {
    let rec = Recorder::with_script(vec![Reply::status(429).with_header("retry-after", "1")]).await;
    let queue = memory_queue(Duration::from_secs(30), 5);
    let d = dispatcher(
        directory(&[("h", hook(&rec))]),
        memory_dedup(),
        fast_policy(4),
        fast_grouping(),
    );
    let w = worker(queue.clone(), d, 100);
    queue.send(&[job("h", 1)]).await.unwrap();
    assert_eq!(w.run_cycle().await.unwrap().sent, 1);
    let reqs = rec.requests();
    assert_eq!(reqs.len(), 2);
    let gap = reqs[1].at - reqs[0].at;
    assert!(gap >= Duration::from_secs(1), "next attempt after {gap:?}");
    assert!(gap < Duration::from_secs(3), "{gap:?}");
}

#[tokio::test]
async fn a_long_retry_after_sends_the_job_back_to_the_queue_for_that_long() {
    // Longer than max_retry_after (5 s in fast_policy): not slept through in process.
    let rec =
        Recorder::with_script(vec![Reply::status(503).with_header("retry-after", "30")]).await;
    let queue = memory_queue(Duration::from_secs(1), 5);
    let d = dispatcher(
        directory(&[("h", hook(&rec))]),
        memory_dedup(),
        fast_policy(4),
        fast_grouping(),
    );
    let w = worker(queue.clone(), d, 100);
    queue.send(&[job("h", 1)]).await.unwrap();
    let started = tokio::time::Instant::now();
    let report = w.run_cycle().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(report.retried, 1);
    assert_eq!(rec.count(), 1);
    // Still invisible well past the queue's 1 s visibility timeout: the delay is the
    // server's 30 s.
    assert!(
        queue
            .receive(10, Duration::from_millis(1500))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(queue.len(), 1);
}

#[tokio::test]
async fn the_same_job_delivered_twice_sends_once() {
    let rec = Recorder::start().await;
    let queue = memory_queue(Duration::from_secs(30), 5);
    let d = dispatcher(
        directory(&[("h", hook(&rec))]),
        memory_dedup(),
        fast_policy(4),
        fast_grouping(),
    );
    let w = worker(queue.clone(), d, 100);
    // Twice in one batch.
    queue.send(&[job("h", 1), job("h", 1)]).await.unwrap();
    let report = w.run_cycle().await.unwrap();
    assert_eq!((report.sent, report.duplicates), (1, 1));
    // And again later (the failure service retried its send, or SQS redelivered).
    queue.send(&[job("h", 1)]).await.unwrap();
    let report = w.run_cycle().await.unwrap();
    assert_eq!((report.sent, report.duplicates), (0, 1));
    assert_eq!(rec.count(), 1);
    assert!(queue.is_empty());
    // A different transition of the same incident is a different notification.
    let mut recovered = job("h", 1);
    recovered.notice.kind = NoticeKind::Recovered;
    queue.send(&[recovered]).await.unwrap();
    assert_eq!(w.run_cycle().await.unwrap().sent, 1);
    assert_eq!(rec.count(), 2);
}

#[tokio::test]
async fn fifty_failures_of_one_endpoint_one_notification_per_channel_across_workers() {
    let slack = Recorder::start().await;
    let hook_rec = Recorder::start().await;
    let queue = memory_queue(Duration::from_secs(30), 5);
    // A short lease: a copy received while the other worker is sending waits in the
    // queue until the lease ends (then it is a duplicate), not for the default 10 min.
    let dedup: std::sync::Arc<dyn scoville_notifier::dedup::DedupStore> =
        std::sync::Arc::new(scoville_notifier::dedup::MemoryDedup::new(
            scoville_notifier::dedup::DedupSettings {
                lease: Duration::from_millis(500),
                ttl: Duration::from_secs(3600),
            },
            1000,
        ));
    let dir = directory(&[
        (
            "slack",
            json!({"type": "slack", "webhook_url": slack.url("/s")}),
        ),
        ("hook", hook(&hook_rec)),
    ]);
    // Two workers with their own dispatchers, sharing the queue and the dedup store.
    let w1 = worker(
        queue.clone(),
        dispatcher(dir.clone(), dedup.clone(), fast_policy(4), fast_grouping()),
        7,
    );
    let w2 = worker(
        queue.clone(),
        dispatcher(dir, dedup, fast_policy(4), fast_grouping()),
        7,
    );
    // The same (incident, transition) queued 50 times for each channel, in bursts.
    let mut jobs: Vec<NotificationJob> = Vec::new();
    for _ in 0..50 {
        jobs.push(job("slack", 9));
        jobs.push(job("hook", 9));
    }
    for chunk in jobs.chunks(10) {
        queue.send(chunk).await.unwrap();
    }
    let mut total = CycleReport::default();
    for _ in 0..40 {
        let (a, b) = tokio::join!(w1.run_cycle(), w2.run_cycle());
        for r in [a.unwrap(), b.unwrap()] {
            total.received += r.received;
            total.sent += r.sent;
            total.duplicates += r.duplicates;
            total.retried += r.retried;
            total.dead_lettered += r.dead_lettered;
        }
        if queue.is_empty() {
            break;
        }
    }
    assert!(queue.is_empty(), "{total:?}");
    assert_eq!(total.sent, 2, "{total:?}");
    // Every other copy is dropped as a duplicate, some after waiting out a lease.
    assert_eq!(total.received, 100 + total.retried, "{total:?}");
    assert_eq!(total.duplicates, 98, "{total:?}");
    assert_eq!(total.dead_lettered, 0);
    assert_eq!(slack.count(), 1);
    assert_eq!(hook_rec.count(), 1);
}

#[tokio::test]
async fn a_job_for_an_unknown_channel_is_dead_lettered() {
    let queue = memory_queue(Duration::from_secs(30), 5);
    let d = dispatcher(
        directory(&[]),
        memory_dedup(),
        fast_policy(4),
        fast_grouping(),
    );
    let w = worker(queue.clone(), d, 100);
    queue.send(&[job("gone", 1)]).await.unwrap();
    assert_eq!(w.run_cycle().await.unwrap().dead_lettered, 1);
    assert_eq!(
        queue.dead_letters()[0].reason,
        "no channel \"gone\" (deleted?)"
    );
}

#[tokio::test]
async fn digests_start_above_the_threshold() {
    let rec = Recorder::start().await;
    let queue = memory_queue(Duration::from_secs(30), 5);
    let d = dispatcher(
        directory(&[("s", json!({"type": "slack", "webhook_url": rec.url("/s")}))]),
        memory_dedup(),
        fast_policy(4),
        Grouping {
            digest_threshold: 10,
            ..fast_grouping()
        },
    );
    let w = worker(queue.clone(), d, 100);
    // Ten: one message each.
    queue
        .send(&(0..10).map(|i| job("s", i)).collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(w.run_cycle().await.unwrap().sent, 10);
    assert_eq!(rec.count(), 10);
    // Eleven: one digest.
    queue
        .send(&(10..21).map(|i| job("s", i)).collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(w.run_cycle().await.unwrap().sent, 11);
    assert_eq!(rec.count(), 11);
    let digest = rec.requests()[10].json();
    assert_eq!(
        digest["blocks"][0]["text"]["text"],
        "Scoville: 11 notices (11 down)"
    );
}

#[tokio::test]
async fn a_test_notification_is_marked_and_reports_failures() {
    use scoville_core::OrgId;
    use scoville_notifier::channel::{ChannelConfig, SendError};
    use scoville_notifier::test_notification::{TestError, send_test};

    let rec = Recorder::with_script(vec![
        Reply::status(200),
        Reply::status(403).with_body("invalid_token"),
    ])
    .await;
    let ch =
        ChannelConfig::parse_value(json!({"type": "slack", "webhook_url": rec.url("/s")})).unwrap();
    send_test(
        &ch,
        &ctx(),
        &OrgId::parse("org-1").unwrap(),
        "https://scoville.example.com/channels/s",
    )
    .await
    .unwrap();
    let body = rec.requests()[0].json();
    assert_eq!(
        body["blocks"][0]["text"]["text"],
        "[TEST] Scoville test notification is down"
    );
    assert!(
        body["blocks"][2]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("nothing is down")
    );
    assert_eq!(
        send_test(&ch, &ctx(), &OrgId::local(), "https://x").await,
        Err(TestError::Failed(SendError::Permanent(
            "HTTP 403: invalid_token".into()
        )))
    );
    // An invalid configuration is refused before anything is sent, naming the field.
    let bad: ChannelConfig =
        serde_json::from_value(json!({"type": "slack", "webhook_url": "not a url"})).unwrap();
    match send_test(&bad, &ctx(), &OrgId::local(), "https://x").await {
        Err(TestError::Invalid(e)) => assert_eq!(e.field, "webhook_url"),
        other => panic!("{other:?}"),
    }
    assert_eq!(rec.count(), 2);
    // The webhook payload says it is a test.
    let hook_rec = Recorder::start().await;
    let hook = ChannelConfig::parse_value(hook(&hook_rec)).unwrap();
    send_test(&hook, &ctx(), &OrgId::local(), "https://x")
        .await
        .unwrap();
    assert_eq!(hook_rec.requests()[0].json()["test"], true);
}
