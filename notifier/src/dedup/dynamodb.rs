//! Dedup keys in DynamoDB, shared by every notifier (Lambda invocations, workers).
//!
//! One item per key in a table whose partition key is the string attribute `pk`:
//! `state` (`in_flight` or `sent`), `token` (the holder's [`ClaimToken`]),
//! `lease_until_ms`, and `expires_at` (Unix seconds), the table's TTL attribute, so
//! DynamoDB deletes old keys by itself.
//!
//! - claim: `PutItem` with the condition `attribute_not_exists(pk) OR expires_at < :now_s
//!   OR (state = in_flight AND lease_until_ms < :now_ms)`. TTL deletion runs late (up to
//!   days), hence the explicit expiry test. When the condition fails, the item that
//!   stopped it comes back (`ReturnValuesOnConditionCheckFailure: ALL_OLD`; a consistent
//!   `GetItem` where the server does not return it) and says sent or in flight.
//! - confirm: `UpdateItem` to `sent` with a new `expires_at`, on condition that `token` is
//!   ours; release: `DeleteItem` on the same condition. A failed condition means our
//!   lease ran out and someone else holds the key: nothing to do.
//!
//! [`DynamoDedup::create_table`] creates the table (on-demand billing) and turns TTL on,
//! for tests and self-hosted setups; the AWS deployment creates it from `infra/`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TimeToLiveSpecification,
};
use futures::future::BoxFuture;

use super::{Claim, ClaimToken, DedupError, DedupSettings, DedupStore};

const IN_FLIGHT: &str = "in_flight";
const SENT: &str = "sent";

/// Dedup keys in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoDedup {
    client: Client,
    table: String,
    settings: DedupSettings,
}

fn now() -> (i64, i64) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    (d.as_millis() as i64, d.as_secs() as i64)
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn err<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>(
    what: &str,
    e: SdkError<E, R>,
) -> DedupError {
    DedupError(format!("{what}: {}", DisplayErrorContext(&e)))
}

impl DynamoDedup {
    /// A store on `table` (partition key `pk`, string).
    pub fn new(client: Client, table: impl Into<String>, settings: DedupSettings) -> Self {
        Self {
            client,
            table: table.into(),
            settings,
        }
    }

    /// Creates the table if it does not exist and enables TTL on `expires_at`.
    pub async fn create_table(client: &Client, table: &str) -> Result<(), DedupError> {
        let created = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(|e| DedupError(e.to_string()))?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(|e| DedupError(e.to_string()))?,
            )
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) => {}
            Err(e) => return Err(err("creating the dedup table", e)),
        }
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name("expires_at")
                    .build()
                    .map_err(|e| DedupError(e.to_string()))?,
            )
            .send()
            .await
            .map(|_| ())
            .or_else(|e| {
                // Already enabled is fine.
                if format!("{}", DisplayErrorContext(&e)).contains("already enabled") {
                    Ok(())
                } else {
                    Err(err("enabling TTL on the dedup table", e))
                }
            })
    }

    async fn claim_key(&self, key: &str) -> Result<Claim, DedupError> {
        let (now_ms, now_s) = now();
        let token = ClaimToken::random();
        let lease_until = now_ms + self.settings.lease.as_millis() as i64;
        // An in-flight item must outlive its lease; a sent one lives for the TTL.
        let expires_at = now_s + self.settings.lease.as_secs() as i64 + 3600;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
            .item("state", s(IN_FLIGHT))
            .item("token", s(&token.0))
            .item("lease_until_ms", n(lease_until))
            .item("expires_at", n(expires_at))
            .condition_expression(
                "attribute_not_exists(pk) OR #e < :now_s OR (#s = :in_flight AND #l < :now_ms)",
            )
            .expression_attribute_names("#e", "expires_at")
            .expression_attribute_names("#s", "state")
            .expression_attribute_names("#l", "lease_until_ms")
            .expression_attribute_values(":now_s", n(now_s))
            .expression_attribute_values(":now_ms", n(now_ms))
            .expression_attribute_values(":in_flight", s(IN_FLIGHT))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Acquired(token)),
            Err(SdkError::ServiceError(se)) => match se.into_err() {
                PutItemError::ConditionalCheckFailedException(e) => {
                    let item = match e.item() {
                        Some(item) => item.clone(),
                        None => self.get(key).await?,
                    };
                    Ok(held(&item, now_ms))
                }
                other => Err(DedupError(format!(
                    "claiming a key: {}",
                    DisplayErrorContext(&other)
                ))),
            },
            Err(e) => Err(err("claiming a key", e)),
        }
    }

    async fn get(&self, key: &str) -> Result<HashMap<String, AttributeValue>, DedupError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| err("reading a key", e))?;
        Ok(out.item.unwrap_or_default())
    }
}

/// What an existing item that refused a claim says.
fn held(item: &HashMap<String, AttributeValue>, now_ms: i64) -> Claim {
    let state = item.get("state").and_then(|v| v.as_s().ok());
    if state.map(String::as_str) == Some(SENT) {
        return Claim::AlreadySent;
    }
    let until = item
        .get("lease_until_ms")
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(now_ms);
    Claim::InFlight {
        retry_in: Duration::from_millis((until - now_ms).max(0) as u64),
    }
}

impl DedupStore for DynamoDedup {
    fn claim<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Claim, DedupError>> {
        Box::pin(self.claim_key(key))
    }

    fn confirm<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), DedupError>> {
        Box::pin(async move {
            let (_, now_s) = now();
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(key))
                .update_expression("SET #s = :sent, #e = :exp REMOVE #l")
                .condition_expression("#t = :token")
                .expression_attribute_names("#s", "state")
                .expression_attribute_names("#e", "expires_at")
                .expression_attribute_names("#l", "lease_until_ms")
                .expression_attribute_names("#t", "token")
                .expression_attribute_values(":sent", s(SENT))
                .expression_attribute_values(":exp", n(now_s + self.settings.ttl.as_secs() as i64))
                .expression_attribute_values(":token", s(&token.0))
                .send()
                .await;
            match result {
                Ok(_) => Ok(()),
                Err(SdkError::ServiceError(se))
                    if matches!(
                        se.err(),
                        UpdateItemError::ConditionalCheckFailedException(_)
                    ) =>
                {
                    tracing::warn!(
                        dedup_key = key,
                        "lease lost before confirming: another worker holds the key"
                    );
                    Ok(())
                }
                Err(e) => Err(err("confirming a key", e)),
            }
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), DedupError>> {
        Box::pin(async move {
            let result = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key("pk", s(key))
                .condition_expression("#t = :token AND #s = :in_flight")
                .expression_attribute_names("#t", "token")
                .expression_attribute_names("#s", "state")
                .expression_attribute_values(":token", s(&token.0))
                .expression_attribute_values(":in_flight", s(IN_FLIGHT))
                .send()
                .await;
            match result {
                Ok(_) => Ok(()),
                Err(SdkError::ServiceError(se))
                    if matches!(
                        se.err(),
                        DeleteItemError::ConditionalCheckFailedException(_)
                    ) =>
                {
                    Ok(())
                }
                Err(e) => Err(err("releasing a key", e)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scoville_tests::moto::MotoServer;

    #[tokio::test]
    async fn conforms_on_moto() {
        let moto = MotoServer::start();
        let client = Client::new(&moto.sdk_config().await);
        DynamoDedup::create_table(&client, "dedup").await.unwrap();
        // Twice: idempotent.
        DynamoDedup::create_table(&client, "dedup").await.unwrap();
        let lease = Duration::from_millis(1500);
        let store = DynamoDedup::new(
            client,
            "dedup",
            DedupSettings {
                lease,
                ttl: Duration::from_secs(3600),
            },
        );
        super::super::conformance::check(&store, lease, "ddb").await;
    }
}
