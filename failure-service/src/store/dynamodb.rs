//! The state store on DynamoDB: one item per endpoint, `pk` (S, `org/endpoint`),
//! `record` (S, JSON) and `version` (N). A save is a `PutItem` conditioned on
//! `attribute_not_exists(pk)` for a new record or `version = :expected` otherwise, so
//! of two instances racing on one endpoint exactly one wins and the other gets
//! [`StoreError::Conflict`], reads again and re-applies its events. Reads are strongly
//! consistent. Every call has the client's operation timeout.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use futures::FutureExt;
use futures::future::BoxFuture;

use super::{IncidentStore, Record, StoreError, decode, encode};

/// The DynamoDB store.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl DynamoStore {
    /// A store on `table`, with `timeout` on every call.
    pub fn new(sdk: &aws_config::SdkConfig, table: &str, timeout: Duration) -> Self {
        let config = aws_sdk_dynamodb::config::Builder::from(sdk)
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_timeout(timeout)
                    .connect_timeout(timeout)
                    .build(),
            )
            .build();
        Self {
            client: Client::from_conf(config),
            table: table.to_string(),
        }
    }

    /// Creates the table (on-demand billing) if it does not exist: for first runs and
    /// tests; production tables come from `infra/`.
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
        if self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        self.client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(unavailable)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(unavailable)?,
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        Ok(())
    }
}

impl IncidentStore for DynamoStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Record, StoreError>> {
        async move {
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(key.to_string()))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
            let Some(item) = out.item else {
                return Ok(Record::default());
            };
            let json = item
                .get("record")
                .and_then(|v| v.as_s().ok())
                .ok_or_else(|| unavailable("item without record"))?;
            let version = item
                .get("version")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| unavailable("item without version"))?;
            decode(json, version)
        }
        .boxed()
    }

    fn save<'a>(
        &'a self,
        key: &'a str,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        async move {
            let next = record.version + 1;
            let mut put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", AttributeValue::S(key.to_string()))
                .item("record", AttributeValue::S(encode(record)?))
                .item("version", AttributeValue::N(next.to_string()));
            put = if record.version == 0 {
                put.condition_expression("attribute_not_exists(pk)")
            } else {
                put.condition_expression("#v = :expected")
                    .expression_attribute_names("#v", "version")
                    .expression_attribute_values(
                        ":expected",
                        AttributeValue::N(record.version.to_string()),
                    )
            };
            match put.send().await {
                Ok(_) => Ok(next),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                {
                    Err(StoreError::Conflict)
                }
                Err(e) => Err(unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e))),
            }
        }
        .boxed()
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        async move {
            self.client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))
        }
        .boxed()
    }
}
