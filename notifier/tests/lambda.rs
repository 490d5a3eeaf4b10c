//! The Lambda handler called directly with SQS events: retryable failures are reported in
//! `batchItemFailures` (and delayed by their backoff), permanent failures and poison
//! messages are dead-lettered and not reported, sent and duplicate messages are not
//! reported.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use scoville_notifier::lambda::{LambdaDeps, handle};
use scoville_notifier::queue::sqs::{SqsJobQueue, SqsSettings};
use scoville_tests::moto::MotoServer;
use serde_json::{Value, json};
use support::*;

struct Channels {
    ok: Recorder,
    bad: Recorder,
    flaky: Recorder,
}

async fn channels() -> (Channels, scoville_notifier::directory::MemoryDirectory) {
    let ok = Recorder::start().await;
    let bad = Recorder::with_script(vec![Reply::status(400).with_body("bad request")]).await;
    let flaky = Recorder::with_script(vec![Reply::status(500); 10]).await;
    let dir = directory(&[
        ("ok", json!({"type": "webhook", "url": ok.url("/ok")})),
        ("bad", json!({"type": "webhook", "url": bad.url("/bad")})),
        (
            "flaky",
            json!({"type": "webhook", "url": flaky.url("/flaky")}),
        ),
    ]);
    (Channels { ok, bad, flaky }, dir)
}

fn record(id: &str, handle: &str, body: &str, receive_count: u32) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": handle,
        "body": body,
        "attributes": {"ApproximateReceiveCount": receive_count.to_string(), "SentTimestamp": "1714564800000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:jobs",
        "awsRegion": "us-east-1",
    })
}

fn body(channel: &str, i: usize) -> String {
    serde_json::to_string(&job(channel, i)).unwrap()
}

fn failures(resp: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    let mut ids: Vec<String> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn only_retryable_failures_are_reported() {
    let (ch, dir) = channels().await;
    let deps = LambdaDeps {
        dispatcher: dispatcher(dir, memory_dedup(), fast_policy(2), fast_grouping()),
        queue: None,
    };
    let event: SqsEvent = serde_json::from_value(json!({"Records": [
        record("m1", "h1", &body("ok", 1), 1),
        record("m2", "h2", &body("bad", 2), 1),
        record("m3", "h3", &body("flaky", 3), 1),
        record("m4", "h4", "this is not a job", 1),
        record("m5", "h5", &body("ok", 1), 2),
    ]}))
    .unwrap();
    let resp = handle(event, &deps).await;
    assert_eq!(failures(&resp), vec!["m3"]);
    // m1 and its duplicate m5: one request. m2: one attempt (permanent). m3: two
    // attempts (max_attempts), then back to SQS.
    assert_eq!((ch.ok.count(), ch.bad.count(), ch.flaky.count()), (1, 1, 2));
    // The wire format Lambda expects.
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": "m3"}]})
    );

    // Redelivered after the failure: the flaky channel answers 500 again, the sent one
    // is a duplicate now.
    let again: SqsEvent = serde_json::from_value(json!({"Records": [
        record("m1", "h1b", &body("ok", 1), 2),
        record("m3", "h3b", &body("flaky", 3), 2),
    ]}))
    .unwrap();
    assert_eq!(failures(&handle(again, &deps).await), vec!["m3"]);
    assert_eq!((ch.ok.count(), ch.flaky.count()), (1, 4));
}

#[tokio::test]
async fn with_the_queue_failures_are_delayed_and_permanent_ones_dead_lettered() {
    let moto = MotoServer::start();
    let client = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    let dlq_url = client
        .create_queue()
        .queue_name("jobs-dlq")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let url = client
        .create_queue()
        .queue_name("jobs")
        .attributes(QueueAttributeName::VisibilityTimeout, "30")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    for b in [
        body("ok", 1),
        body("bad", 2),
        body("flaky", 3),
        "{\"garbage\": true}".to_string(),
    ] {
        client
            .send_message()
            .queue_url(&url)
            .message_body(b)
            .send()
            .await
            .unwrap();
    }
    // What Lambda's poller would have received.
    let mut records = Vec::new();
    let mut ids = std::collections::HashMap::new();
    while records.len() < 4 {
        let out = client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .unwrap();
        for m in out.messages() {
            let b = m.body().unwrap();
            let key = ["\"ok\"", "\"bad\"", "\"flaky\"", "garbage"]
                .into_iter()
                .find(|k| b.contains(k))
                .unwrap();
            ids.insert(key, m.message_id().unwrap().to_string());
            records.push(record(
                m.message_id().unwrap(),
                m.receipt_handle().unwrap(),
                b,
                1,
            ));
        }
    }
    let (ch, dir) = channels().await;
    let queue = Arc::new(SqsJobQueue::new(
        client.clone(),
        SqsSettings {
            queue_url: url.clone(),
            dead_letter_url: Some(dlq_url.clone()),
            max_receives: 5,
        },
    ));
    let deps = LambdaDeps {
        dispatcher: dispatcher(dir, memory_dedup(), fast_policy(2), fast_grouping()),
        queue: Some(queue),
    };
    let event: SqsEvent = serde_json::from_value(json!({ "Records": records })).unwrap();
    let resp = handle(event, &deps).await;
    assert_eq!(failures(&resp), vec![ids["\"flaky\""].clone()]);
    assert_eq!((ch.ok.count(), ch.bad.count(), ch.flaky.count()), (1, 1, 2));

    // The retryable message's visibility went from the queue's 30 s to its short
    // backoff: it is back within a couple of seconds.
    let back = client
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .wait_time_seconds(3)
        .send()
        .await
        .unwrap();
    let back_ids: Vec<&str> = back
        .messages()
        .iter()
        .filter_map(|m| m.message_id())
        .collect();
    assert_eq!(back_ids, vec![ids["\"flaky\""].as_str()]);

    // The permanent failure and the poison message were copied to the dead-letter queue
    // with their reasons.
    let dead = client
        .receive_message()
        .queue_url(&dlq_url)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap();
    let mut reasons: Vec<String> = dead
        .messages()
        .iter()
        .map(|m| {
            m.message_attributes().unwrap()["reason"]
                .string_value()
                .unwrap()
                .to_string()
        })
        .collect();
    reasons.sort();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].starts_with("not a notification job"),
        "{reasons:?}"
    );
    assert_eq!(
        reasons[1],
        "webhook after 1 attempt(s): HTTP 400: bad request"
    );
}
