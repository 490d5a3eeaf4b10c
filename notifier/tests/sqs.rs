//! The SQS adapter on moto's server (the AWS API emulator): send in batches, receive,
//! visibility timeout, retry later, dead-letter redrive, explicit dead-lettering, poison
//! messages; and the worker draining a real queue into digests.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use scoville_notifier::queue::sqs::{SqsJobQueue, SqsSettings};
use scoville_notifier::queue::{JobQueue, QueueError, ReceivedJob};
use scoville_notifier::worker::{Worker, WorkerSettings};
use scoville_tests::moto::MotoServer;
use serde_json::json;
use support::*;

struct Queues {
    client: Client,
    url: String,
    dlq_url: String,
}

/// A queue with `visibility` seconds and, when `max_receives` is set, a redrive policy
/// to its own dead-letter queue.
async fn queues(
    moto: &MotoServer,
    name: &str,
    visibility: u32,
    max_receives: Option<u32>,
) -> Queues {
    let client = Client::new(&moto.sdk_config().await);
    let dlq_url = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let mut create = client.create_queue().queue_name(name).attributes(
        QueueAttributeName::VisibilityTimeout,
        visibility.to_string(),
    );
    if let Some(max) = max_receives {
        create = create.attributes(
            QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": arn, "maxReceiveCount": max.to_string()}).to_string(),
        );
    }
    let url = create.send().await.unwrap().queue_url.unwrap();
    Queues {
        client,
        url,
        dlq_url,
    }
}

impl Queues {
    fn queue(&self, max_receives: u32) -> SqsJobQueue {
        SqsJobQueue::new(
            self.client.clone(),
            SqsSettings {
                queue_url: self.url.clone(),
                dead_letter_url: Some(self.dlq_url.clone()),
                max_receives,
            },
        )
    }

    fn dlq(&self) -> SqsJobQueue {
        SqsJobQueue::new(
            self.client.clone(),
            SqsSettings {
                queue_url: self.dlq_url.clone(),
                dead_letter_url: None,
                max_receives: 100,
            },
        )
    }

    /// Raw messages on the dead-letter queue: (body, reason attribute).
    async fn dlq_raw(&self) -> Vec<(String, Option<String>)> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.dlq_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .unwrap();
        out.messages()
            .iter()
            .map(|m| {
                let reason = m
                    .message_attributes()
                    .and_then(|a| a.get("reason"))
                    .and_then(|v| v.string_value())
                    .map(str::to_string);
                (m.body().unwrap_or("").to_string(), reason)
            })
            .collect()
    }
}

/// Receives until `n` jobs arrived (moto hands out at most 10 a call).
async fn receive_n(q: &SqsJobQueue, n: usize) -> Vec<ReceivedJob> {
    let mut got = Vec::new();
    for _ in 0..20 {
        got.extend(q.receive(n - got.len(), Duration::ZERO).await.unwrap());
        if got.len() >= n {
            break;
        }
    }
    got
}

#[tokio::test]
async fn send_in_batches_receive_and_delete() {
    let moto = MotoServer::start();
    let qs = queues(&moto, "jobs", 30, None).await;
    let q = qs.queue(5);
    let jobs: Vec<_> = (0..25).map(|i| job("ch", i)).collect();
    q.send(&jobs).await.unwrap();
    let got = receive_n(&q, 25).await;
    assert_eq!(got.len(), 25);
    let mut received: Vec<_> = got
        .iter()
        .filter_map(|r| r.job.as_notification().cloned())
        .collect();
    received.sort_by_key(|j| j.notice.at_ms);
    assert_eq!(received, jobs);
    assert!(got.iter().all(|r| r.receive_count == 1));
    for r in &got {
        q.delete(&r.handle).await.unwrap();
    }
    assert!(
        q.receive(10, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty()
    );

    // A job too large for one message is refused before anything is sent.
    let mut big = job("ch", 99);
    big.notice.error = Some("x".repeat(300 * 1024));
    assert!(matches!(
        q.send(&[big]).await,
        Err(QueueError::TooLarge { limit: 262_144, .. })
    ));
}

#[tokio::test]
async fn visibility_timeout_and_retry_later() {
    let moto = MotoServer::start();
    let qs = queues(&moto, "vis", 1, None).await;
    let q = qs.queue(5);
    q.send(&[job("ch", 1)]).await.unwrap();
    let first = q.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(first.len(), 1);
    // Not deleted: invisible for the 1 s timeout, then back with a higher count.
    assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let second = q.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].job, job("ch", 1));
    assert_eq!(second[0].receive_count, 2);
    // retry_later sets the delay explicitly: 3 s, past the queue's 1 s timeout.
    q.retry_later(&second[0].handle, Duration::from_secs(3))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let third = q.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(third.len(), 1);
    assert_eq!(third[0].receive_count, 3);
    // retry_later(0) makes it visible at once.
    q.retry_later(&third[0].handle, Duration::ZERO)
        .await
        .unwrap();
    let fourth = q.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(fourth[0].receive_count, 4);
    q.delete(&fourth[0].handle).await.unwrap();
}

#[tokio::test]
async fn redrive_moves_a_job_to_the_dead_letter_queue_after_max_receives() {
    let moto = MotoServer::start();
    let qs = queues(&moto, "redrive", 30, Some(2)).await;
    let q = qs.queue(2);
    q.send(&[job("ch", 1)]).await.unwrap();
    for count in 1..=2 {
        let got = q.receive(10, Duration::ZERO).await.unwrap();
        assert_eq!(got.len(), 1, "receive {count}");
        assert_eq!(got[0].receive_count, count);
        q.retry_later(&got[0].handle, Duration::ZERO).await.unwrap();
    }
    // The third receive finds it gone: SQS moved it to the dead-letter queue.
    assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());
    let dead = qs.dlq().receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job, job("ch", 1));
}

#[tokio::test]
async fn explicit_dead_letters_and_poison_messages_carry_a_reason() {
    let moto = MotoServer::start();
    let qs = queues(&moto, "dl", 30, Some(5)).await;
    let q = qs.queue(5);
    q.send(&[job("ch", 1)]).await.unwrap();
    let got = q.receive(10, Duration::ZERO).await.unwrap();
    q.dead_letter(
        &got[0],
        "slack after 1 attempt(s): HTTP 400: invalid_payload",
    )
    .await
    .unwrap();
    // It left the queue.
    assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());
    // A message that is not a job never reaches a worker.
    qs.client
        .send_message()
        .queue_url(&qs.url)
        .message_body("{\"not\": \"a job\"}")
        .send()
        .await
        .unwrap();
    assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());
    assert!(
        q.receive(10, Duration::ZERO).await.unwrap().is_empty(),
        "deleted, not just hidden"
    );
    let mut dead = qs.dlq_raw().await;
    dead.sort();
    assert_eq!(dead.len(), 2, "{dead:?}");
    let job_body = serde_json::to_string(&job("ch", 1)).unwrap();
    let (poison, job_entry): (Vec<_>, Vec<_>) =
        dead.into_iter().partition(|(b, _)| b.contains("\"not\""));
    assert_eq!(job_entry[0].0, job_body);
    assert_eq!(
        job_entry[0].1.as_deref(),
        Some("slack after 1 attempt(s): HTTP 400: invalid_payload")
    );
    assert!(
        poison[0]
            .1
            .as_deref()
            .unwrap()
            .starts_with("not a notification job"),
        "{poison:?}"
    );
}

#[tokio::test]
async fn the_worker_drains_sqs_into_digests() {
    let moto = MotoServer::start();
    let qs = queues(&moto, "work", 30, Some(5)).await;
    let q = Arc::new(qs.queue(5));
    let rec = Recorder::start().await;
    let d = dispatcher(
        directory(&[("s", json!({"type": "slack", "webhook_url": rec.url("/s")}))]),
        memory_dedup(),
        fast_policy(4),
        fast_grouping(),
    );
    let queue: Arc<dyn JobQueue> = q.clone();
    let w = Worker::new(
        queue,
        d,
        WorkerSettings {
            batch_max: 100,
            wait: Duration::from_secs(1),
            gather: Duration::from_millis(1500),
        },
    );
    // 12 jobs: more than one receive call (10 at most) and over the digest threshold.
    q.send(&(0..12).map(|i| job("s", i)).collect::<Vec<_>>())
        .await
        .unwrap();
    let report = w.run_cycle().await.unwrap();
    assert_eq!((report.received, report.sent), (12, 12), "{report:?}");
    assert_eq!(rec.count(), 1);
    assert_eq!(
        rec.requests()[0].json()["blocks"][0]["text"]["text"],
        "Scoville: 12 notices (12 down)"
    );
    assert!(
        q.receive(10, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn results_batches_for_hooks_share_the_queue_with_notifications() {
    use scoville_core::hook::{QueuedJob, ResultsJob};
    let moto = MotoServer::start();
    let qs = queues(&moto, "hooks", 30, None).await;
    let q = qs.queue(5);
    // A full batch of results with long messages still fits one message.
    let results: Vec<scoville_core::CheckResult> = (0..100)
        .map(|i| {
            serde_json::from_value(json!({
                "endpoint_id": format!("e{i}"), "org_id": "org-1", "region": "eu-west-1",
                "run_id": "r1", "scheduled_at_ms": 1_700_000_000_000i64,
                "started_at_ms": 1_700_000_000_000i64 + i, "outcome": "down", "reason": "status",
                "message": "m".repeat(1000), "status": 503, "timings": {"total_ms": 13.0}
            }))
            .unwrap()
        })
        .collect();
    let batch = ResultsJob::new(
        "hk_1",
        scoville_core::OrgId::parse("org-1").unwrap(),
        5,
        results,
    );
    let sent = vec![QueuedJob::from(job("ch", 1)), QueuedJob::from(batch)];
    q.send_jobs(&sent).await.unwrap();
    let got = receive_n(&q, 2).await;
    let mut jobs: Vec<QueuedJob> = got.iter().map(|r| r.job.clone()).collect();
    jobs.sort_by_key(|j| j.dedup_key());
    let mut want = sent.clone();
    want.sort_by_key(|j| j.dedup_key());
    assert_eq!(jobs, want);
}
