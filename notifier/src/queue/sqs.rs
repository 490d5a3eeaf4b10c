//! The notification queue on Amazon SQS (a standard queue with a redrive policy to a
//! dead-letter queue).
//!
//! - send: `SendMessageBatch` in chunks of at most 10 entries and 256 KiB, entries the
//!   service failed for its own reasons retried up to three times;
//! - receive: `ReceiveMessage` with long polling (up to 20 s) for the first call and
//!   more immediate calls while full batches keep coming, 10 messages a call, with
//!   `ApproximateReceiveCount`. A body that is not a job is moved to the dead-letter
//!   queue at once (it can never succeed);
//! - retry later: `ChangeMessageVisibility` (capped at SQS's 12 hours);
//! - depth (for `/metrics`): `GetQueueAttributes`, the approximate numbers of visible,
//!   in-flight and delayed messages summed;
//! - dead letter: the job is sent to `dead_letter_url` with a `reason` attribute and
//!   deleted from the queue (SQS's own redrive moves jobs received more than
//!   `maxReceiveCount` times; `max_receives` must equal it). Without a dead-letter URL the
//!   job is logged at error level and deleted.
//!
//! Timeouts come from the SDK configuration the client is built with (the binaries set
//! an operation timeout above the long-poll wait).

use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};
use futures::future::BoxFuture;
use scoville_core::hook::QueuedJob;

use super::{JobQueue, MAX_VISIBILITY, QueueError, ReceiptHandle, ReceivedJob};

/// SQS's message (and batch) size limit.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Entries per `SendMessageBatch`.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// Where the queue is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsSettings {
    /// The queue's URL.
    pub queue_url: String,
    /// The dead-letter queue's URL (the redrive target), for explicit dead-lettering.
    pub dead_letter_url: Option<String>,
    /// The redrive policy's `maxReceiveCount`.
    pub max_receives: u32,
}

/// The SQS adapter.
#[derive(Debug, Clone)]
pub struct SqsJobQueue {
    client: Client,
    settings: SqsSettings,
}

fn unavailable(what: &str, e: impl std::error::Error) -> QueueError {
    QueueError::Unavailable(format!("{what}: {}", DisplayErrorContext(e)))
}

impl SqsJobQueue {
    /// The queue at `settings.queue_url`.
    pub fn new(client: Client, settings: SqsSettings) -> Self {
        Self { client, settings }
    }

    /// The queue at `settings.queue_url`, with a client for `aws` pointed at
    /// `endpoint_url` when given (an emulator's).
    pub fn connect(
        aws: &aws_config::SdkConfig,
        endpoint_url: Option<&str>,
        settings: SqsSettings,
    ) -> Self {
        let mut b = aws_sdk_sqs::config::Builder::from(aws);
        if let Some(url) = endpoint_url {
            b = b.endpoint_url(url);
        }
        Self::new(Client::from_conf(b.build()), settings)
    }

    /// The settings.
    pub fn settings(&self) -> &SqsSettings {
        &self.settings
    }

    /// Sends `body` to the dead-letter queue with `reason` (without touching the source
    /// message): for the Lambda handler, whose source messages SQS deletes itself.
    pub async fn park(
        &self,
        body: &str,
        reason: &str,
        receive_count: u32,
    ) -> Result<(), QueueError> {
        let Some(dlq) = &self.settings.dead_letter_url else {
            tracing::error!(
                reason,
                receive_count,
                body = %crate::escape::truncate(body, 2000),
                "notification job failed permanently and no dead-letter queue is configured"
            );
            return Ok(());
        };
        let attr = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| QueueError::Unavailable(e.to_string()))
        };
        self.client
            .send_message()
            .queue_url(dlq)
            .message_body(body)
            .message_attributes("reason", attr(&crate::escape::truncate(reason, 1000))?)
            .message_attributes("receive_count", attr(&receive_count.to_string())?)
            .send()
            .await
            .map_err(|e| unavailable("sending to the dead-letter queue", e))?;
        Ok(())
    }

    async fn send_chunk(&self, chunk: &[(usize, String)]) -> Result<(), QueueError> {
        let mut pending: Vec<&(usize, String)> = chunk.iter().collect();
        for round in 0..3 {
            let entries = pending
                .iter()
                .map(|(i, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(format!("j{i}"))
                        .message_body(body)
                        .build()
                        .map_err(|e| QueueError::Unavailable(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.settings.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| unavailable("SendMessageBatch", e))?;
            if out.failed().is_empty() {
                return Ok(());
            }
            if let Some(bad) = out.failed().iter().find(|f| f.sender_fault()) {
                return Err(QueueError::Unavailable(format!(
                    "SendMessageBatch refused a job: {} {}",
                    bad.code(),
                    bad.message().unwrap_or("")
                )));
            }
            let failed: Vec<&str> = out.failed().iter().map(|f| f.id()).collect();
            pending.retain(|(i, _)| failed.contains(&format!("j{i}").as_str()));
            tracing::warn!(
                round,
                failed = pending.len(),
                "SendMessageBatch: retrying failed entries"
            );
            tokio::time::sleep(Duration::from_millis(100 << round)).await;
        }
        Err(QueueError::Unavailable(format!(
            "SendMessageBatch: {} jobs not accepted after 3 tries",
            pending.len()
        )))
    }

    async fn receive_jobs(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedJob>, QueueError> {
        let mut out = Vec::new();
        let mut wait_s = wait.as_secs().min(20) as i32;
        while out.len() < max {
            let ask = (max - out.len()).min(10) as i32;
            let resp = self
                .client
                .receive_message()
                .queue_url(&self.settings.queue_url)
                .max_number_of_messages(ask)
                .wait_time_seconds(wait_s)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send()
                .await
                .map_err(|e| unavailable("ReceiveMessage", e))?;
            let messages = resp.messages();
            let got = messages.len();
            for m in messages {
                let (Some(handle), Some(body)) = (m.receipt_handle(), m.body()) else {
                    continue;
                };
                let receive_count = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse::<u32>().ok())
                    .unwrap_or(1);
                match serde_json::from_str::<QueuedJob>(body) {
                    Ok(job) => out.push(ReceivedJob {
                        handle: ReceiptHandle(handle.to_string()),
                        job,
                        receive_count,
                    }),
                    Err(e) => {
                        let reason = format!("not a notification job: {e}");
                        tracing::error!(message_id = m.message_id().unwrap_or(""), %reason, "poison message");
                        self.park(body, &reason, receive_count).await?;
                        self.delete_handle(handle).await?;
                    }
                }
            }
            if got < ask as usize {
                break;
            }
            wait_s = 0;
        }
        Ok(out)
    }

    async fn delete_handle(&self, handle: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.settings.queue_url)
            .receipt_handle(handle)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|s| s.is_receipt_handle_is_invalid())
                {
                    QueueError::StaleHandle
                } else {
                    unavailable("DeleteMessage", e)
                }
            })?;
        Ok(())
    }
}

impl JobQueue for SqsJobQueue {
    fn send_jobs<'a>(&'a self, jobs: &'a [QueuedJob]) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            let mut chunk: Vec<(usize, String)> = Vec::new();
            let mut chunk_bytes = 0;
            for (i, job) in jobs.iter().enumerate() {
                let body = serde_json::to_string(job)
                    .map_err(|e| QueueError::Unavailable(format!("encoding a job: {e}")))?;
                if body.len() > MAX_MESSAGE_BYTES {
                    return Err(QueueError::TooLarge {
                        bytes: body.len(),
                        limit: MAX_MESSAGE_BYTES,
                    });
                }
                if chunk.len() == MAX_BATCH_ENTRIES || chunk_bytes + body.len() > MAX_MESSAGE_BYTES
                {
                    self.send_chunk(&chunk).await?;
                    chunk.clear();
                    chunk_bytes = 0;
                }
                chunk_bytes += body.len();
                chunk.push((i, body));
            }
            if !chunk.is_empty() {
                self.send_chunk(&chunk).await?;
            }
            Ok(())
        })
    }

    fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> BoxFuture<'_, Result<Vec<ReceivedJob>, QueueError>> {
        Box::pin(self.receive_jobs(max.max(1), wait))
    }

    fn delete<'a>(&'a self, handle: &'a ReceiptHandle) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(self.delete_handle(&handle.0))
    }

    fn retry_later<'a>(
        &'a self,
        handle: &'a ReceiptHandle,
        delay: Duration,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            let secs = delay.min(MAX_VISIBILITY).as_secs_f64().ceil() as i32;
            self.client
                .change_message_visibility()
                .queue_url(&self.settings.queue_url)
                .receipt_handle(&handle.0)
                .visibility_timeout(secs)
                .send()
                .await
                .map_err(|e| {
                    if e.as_service_error()
                        .is_some_and(|s| s.is_receipt_handle_is_invalid())
                    {
                        QueueError::StaleHandle
                    } else {
                        unavailable("ChangeMessageVisibility", e)
                    }
                })?;
            Ok(())
        })
    }

    fn dead_letter<'a>(
        &'a self,
        job: &'a ReceivedJob,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            let body = serde_json::to_string(&job.job)
                .map_err(|e| QueueError::Unavailable(format!("encoding a job: {e}")))?;
            self.park(&body, reason, job.receive_count).await?;
            self.delete_handle(&job.handle.0).await
        })
    }

    fn max_receives(&self) -> u32 {
        self.settings.max_receives
    }

    fn depth(&self) -> BoxFuture<'_, Result<Option<u64>, QueueError>> {
        Box::pin(async move {
            use aws_sdk_sqs::types::QueueAttributeName as A;
            let names = [
                A::ApproximateNumberOfMessages,
                A::ApproximateNumberOfMessagesNotVisible,
                A::ApproximateNumberOfMessagesDelayed,
            ];
            let answer = self
                .client
                .get_queue_attributes()
                .queue_url(&self.settings.queue_url)
                .set_attribute_names(Some(names.to_vec()))
                .send()
                .await
                .map_err(|e| unavailable("GetQueueAttributes", e))?;
            let attrs = answer.attributes();
            let total = names
                .iter()
                .filter_map(|n| attrs.and_then(|a| a.get(n)))
                .filter_map(|v| v.parse::<u64>().ok())
                .sum();
            Ok(Some(total))
        })
    }
}
