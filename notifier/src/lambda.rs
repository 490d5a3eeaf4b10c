//! The notifier on AWS Lambda, fed by an SQS event source mapping with
//! `ReportBatchItemFailures` on: [`handle`] gets a batch of SQS messages, dispatches them
//! like the worker does (grouping, dedup, pacing, retries), and returns the messages that
//! must come back as `batchItemFailures`. Lambda deletes every other message of the batch.
//!
//! Which outcome is a "failure" for SQS:
//!
//! | outcome | reported? | what else |
//! | --- | --- | --- |
//! | sent, duplicate | no | SQS deletes it |
//! | retryable failure (408/429/5xx/network), deferred by pacing or another holder | **yes** | its visibility is set to the backoff delay first (`ChangeMessageVisibility`), so it comes back after that delay rather than after the queue's default timeout; past `maxReceiveCount`, SQS's redrive moves it to the dead-letter queue |
//! | permanent failure (other 4xx, unknown channel), undecodable body | no | a copy goes to the dead-letter queue with the reason (or an error log without one); retrying could only fail again. If that copy cannot be written, the message **is** reported, so it is not lost |
//!
//! The handler is a plain async function so that tests call it directly with an
//! [`SqsEvent`]; `notifier-lambda` only wires clients and runs it under `lambda_runtime`.
//! The Lambda's timeout must cover one batch's deliveries (keep `max_attempts` and
//! backoff small there: the queue does the long waits).

use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use scoville_core::hook::QueuedJob;

use crate::dispatch::{Dispatcher, Incoming, Outcome};
use crate::queue::{JobQueue, ReceiptHandle, SqsJobQueue};

/// What the handler needs.
#[derive(Debug, Clone)]
pub struct LambdaDeps {
    /// Delivers.
    pub dispatcher: Arc<Dispatcher>,
    /// The source queue, for visibility changes and dead-letter copies; without it
    /// retryable messages come back after the queue's visibility timeout and permanent
    /// failures are only logged.
    pub queue: Option<Arc<SqsJobQueue>>,
}

/// Handles one batch; see the module docs for what is reported.
pub async fn handle(event: SqsEvent, deps: &LambdaDeps) -> SqsBatchResponse {
    let mut failures: Vec<String> = Vec::new();
    // (message id, receipt handle, raw body, incoming job)
    let mut decoded: Vec<(String, Option<String>, String, Incoming)> = Vec::new();
    for record in event.records {
        let Some(message_id) = record.message_id.clone() else {
            tracing::error!("SQS record without a message id: cannot be reported, skipped");
            continue;
        };
        let receive_count = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse::<u32>().ok())
            .unwrap_or(1);
        let body = record.body.unwrap_or_default();
        match serde_json::from_str::<QueuedJob>(&body) {
            Ok(job) => decoded.push((
                message_id,
                record.receipt_handle,
                body,
                Incoming { job, receive_count },
            )),
            Err(e) => {
                let reason = format!("not a notification job: {e}");
                tracing::error!(%message_id, %reason, "poison message");
                if !park(deps, &body, &reason, receive_count).await {
                    failures.push(message_id);
                }
            }
        }
    }
    let incoming: Vec<Incoming> = decoded.iter().map(|d| d.3.clone()).collect();
    let outcomes = deps.dispatcher.dispatch(&incoming).await;
    for ((message_id, handle, body, incoming), outcome) in decoded.into_iter().zip(outcomes) {
        match outcome {
            Outcome::Sent | Outcome::Duplicate => {}
            Outcome::Retry { after, .. } | Outcome::Deferred { after, .. } => {
                if let (Some(queue), Some(handle)) = (&deps.queue, handle) {
                    if let Err(e) = queue.retry_later(&ReceiptHandle(handle), after).await {
                        tracing::warn!(%message_id, error = %e, "could not set the retry delay");
                    }
                }
                failures.push(message_id);
            }
            Outcome::DeadLetter { reason } => {
                if !park(deps, &body, &reason, incoming.receive_count).await {
                    failures.push(message_id);
                }
            }
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures
        .into_iter()
        .map(|id| {
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            f
        })
        .collect();
    response
}

/// Copies a message to the dead-letter queue; false when that failed (report it).
async fn park(deps: &LambdaDeps, body: &str, reason: &str, receive_count: u32) -> bool {
    match &deps.queue {
        Some(queue) => match queue.park(body, reason, receive_count).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "could not dead-letter a message: reporting it as failed");
                false
            }
        },
        None => {
            tracing::error!(
                reason,
                receive_count,
                body = %crate::escape::truncate(body, 2000),
                "notification job failed permanently (no dead-letter queue configured)"
            );
            true
        }
    }
}
