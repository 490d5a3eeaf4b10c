//! Heartbeat state on DynamoDB, in the admin store's table (keys `pk`, `sk`):
//!
//! | Item | `pk` | `sk` | Other attributes |
//! |---|---|---|---|
//! | beat | `HEARTBEATS` | `<org>#<endpoint>` | `org_id`, `endpoint_id`, `token_hash`, `last_ping_ms`, `last_ok`, `last_start_ms`, `reported_ms` |
//! | token | `PING#<hash>` | `PING` | `org_id`, `endpoint_id` |
//!
//! A ping reads the token item, then the beat (strongly consistent) and checks the beat
//! still holds that hash (a retired token's item may outlive a crash between writes).
//! Times move forward only: each update is conditional on the stored time being older.
//! The sweep queries the one `HEARTBEATS` partition (heartbeats are few next to checks;
//! past some thousands it should be sharded like the endpoint list).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use scoville_core::{EndpointId, OrgId};

use super::store::{Beat, Heard, HeartbeatStore, Result};
use crate::store::StoreError;
use crate::store::dynamodb::{Item, key, number_of as number, s, text_of as text, timed};

const BEATS: &str = "HEARTBEATS";

/// The DynamoDB heartbeat store.
#[derive(Debug, Clone)]
pub struct DynamoHeartbeats {
    client: Client,
    table: String,
    timeout: Duration,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn beat_key(org: &OrgId, id: &EndpointId) -> Item {
    key(BEATS, format!("{org}#{id}"))
}

fn token_key(hash: &str) -> Item {
    key(format!("PING#{hash}"), "PING")
}

fn beat_of(item: &Item) -> Result<Beat> {
    let org = text(item, "org_id").ok_or_else(|| unavailable("beat without org_id"))?;
    let id = text(item, "endpoint_id").ok_or_else(|| unavailable("beat without endpoint_id"))?;
    Ok(Beat {
        org_id: OrgId::parse(org).map_err(unavailable)?,
        endpoint_id: EndpointId::parse(id).map_err(unavailable)?,
        last_ping_ms: number(item, "last_ping_ms"),
        last_ok: item.get("last_ok").and_then(|v| v.as_bool().ok()).copied(),
        last_start_ms: number(item, "last_start_ms"),
        reported_ms: number(item, "reported_ms"),
    })
}

impl DynamoHeartbeats {
    /// Over the admin store's `table`, each call bounded by `timeout`.
    pub fn new(client: Client, table: impl Into<String>, timeout: Duration) -> Self {
        Self {
            client,
            table: table.into(),
            timeout,
        }
    }

    async fn timed<T, E: std::fmt::Display>(
        &self,
        op: &'static str,
        fut: impl Future<Output = std::result::Result<T, E>>,
    ) -> Result<T> {
        timed(self.timeout, op, fut)
            .await?
            .map_err(|e| unavailable(format!("DynamoDB {op}: {e}")))
    }

    async fn get(&self, key: Item) -> Result<Option<Item>> {
        let out = self
            .timed(
                "GetItem",
                self.client
                    .get_item()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .consistent_read(true)
                    .send(),
            )
            .await?;
        Ok(out.item)
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<()> {
        self.timed("TransactWriteItems", async {
            self.client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
                .map_err(|e| DisplayErrorContext(e).to_string())
        })
        .await
        .map(|_| ())
    }
}

#[async_trait]
impl HeartbeatStore for DynamoHeartbeats {
    async fn set_token(&self, org: &OrgId, id: &EndpointId, token_hash: &str) -> Result<()> {
        let old = self
            .get(beat_key(org, id))
            .await?
            .and_then(|i| text(&i, "token_hash").map(str::to_string));
        let mut token = token_key(token_hash);
        token.insert("org_id".into(), s(org.as_str()));
        token.insert("endpoint_id".into(), s(id.as_str()));
        let mut items = vec![
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(token))
                        .build()
                        .map_err(unavailable)?,
                )
                .build(),
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(beat_key(org, id)))
                        .update_expression("SET token_hash = :h, org_id = :o, endpoint_id = :e")
                        .expression_attribute_values(":h", s(token_hash))
                        .expression_attribute_values(":o", s(org.as_str()))
                        .expression_attribute_values(":e", s(id.as_str()))
                        .build()
                        .map_err(unavailable)?,
                )
                .build(),
        ];
        if let Some(old) = old.filter(|o| o != token_hash) {
            items.push(
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(token_key(&old)))
                            .build()
                            .map_err(unavailable)?,
                    )
                    .build(),
            );
        }
        self.transact(items).await
    }

    async fn by_token(&self, token_hash: &str) -> Result<Option<Beat>> {
        let Some(token) = self.get(token_key(token_hash)).await? else {
            return Ok(None);
        };
        let (Some(org), Some(id)) = (text(&token, "org_id"), text(&token, "endpoint_id")) else {
            return Ok(None);
        };
        let org = OrgId::parse(org).map_err(unavailable)?;
        let id = EndpointId::parse(id).map_err(unavailable)?;
        match self.get(beat_key(&org, &id)).await? {
            Some(beat) if text(&beat, "token_hash") == Some(token_hash) => beat_of(&beat).map(Some),
            _ => Ok(None),
        }
    }

    async fn beat(&self, org: &OrgId, id: &EndpointId) -> Result<Option<Beat>> {
        self.get(beat_key(org, id))
            .await?
            .map(|i| beat_of(&i))
            .transpose()
    }

    async fn record(&self, org: &OrgId, id: &EndpointId, heard: Heard) -> Result<()> {
        let (set, cond, at, ok) = match heard {
            Heard::Start(at) => ("SET last_start_ms = :t", "last_start_ms", at, None),
            Heard::Finish { at_ms, ok } => (
                "SET last_ping_ms = :t, last_ok = :ok",
                "last_ping_ms",
                at_ms,
                Some(ok),
            ),
            Heard::Reported(at) => ("SET reported_ms = :t", "reported_ms", at, None),
        };
        let strict = if matches!(heard, Heard::Finish { .. }) {
            "<="
        } else {
            "<"
        };
        let mut call = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(beat_key(org, id)))
            .update_expression(set)
            .condition_expression(format!(
                "attribute_exists(pk) AND (attribute_not_exists({cond}) OR {cond} {strict} :t)"
            ))
            .expression_attribute_values(":t", AttributeValue::N(at.to_string()));
        if let Some(ok) = ok {
            call = call.expression_attribute_values(":ok", AttributeValue::Bool(ok));
        }
        let out = timed(self.timeout, "UpdateItem", call.send()).await?;
        match out {
            Ok(_) => Ok(()),
            // No token (removed meanwhile) or a newer time stored: nothing to do.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(unavailable(format!(
                "DynamoDB UpdateItem: {}",
                DisplayErrorContext(e)
            ))),
        }
    }

    async fn all(&self, limit: usize) -> Result<Vec<Beat>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .timed(
                    "Query",
                    self.client
                        .query()
                        .table_name(&self.table)
                        .key_condition_expression("pk = :pk")
                        .expression_attribute_values(":pk", s(BEATS))
                        .consistent_read(true)
                        .set_exclusive_start_key(start.take())
                        .send(),
                )
                .await?;
            for item in page.items() {
                out.push(beat_of(item)?);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    async fn remove(&self, org: &OrgId, id: &EndpointId) -> Result<()> {
        let Some(beat) = self.get(beat_key(org, id)).await? else {
            return Ok(());
        };
        let mut items = vec![
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(beat_key(org, id)))
                        .build()
                        .map_err(unavailable)?,
                )
                .build(),
        ];
        if let Some(hash) = text(&beat, "token_hash") {
            items.push(
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(token_key(hash)))
                            .build()
                            .map_err(unavailable)?,
                    )
                    .build(),
            );
        }
        self.transact(items).await
    }
}
