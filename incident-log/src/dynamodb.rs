//! The incident log on DynamoDB, one table:
//!
//! | item | `pk` (S) | `sk` (S) | other attributes |
//! |---|---|---|---|
//! | incident | org id | `i#<incident id>` | `endpoint_id`, `started_at_ms`, `confirmed_at_ms` (N), `resolved_at_ms`, `regions`, `error`, `open` = `"open"` while unresolved |
//! | timeline entry | org id | `t#<incident id>#<entry key>` | `entry` (JSON) |
//!
//! | access pattern | how |
//! |---|---|
//! | an incident of an org | `GetItem pk, sk = i#id` |
//! | its timeline, in order | `Query pk, begins_with(sk, t#id#)` (the entry key starts with the zero-padded time) |
//! | an org's incidents, newest first | GSI `by_time` (`pk`, `confirmed_at_ms`), descending; only incidents carry `confirmed_at_ms` |
//! | endpoints with an open incident | sparse GSI `open` (`open`, `sk`): only unresolved incidents carry `open` |
//!
//! An incident is put with `attribute_not_exists(pk)` (a repeated "opened" write is a
//! no-op); a resolution sets `resolved_at_ms` if not set and removes `open`; timeline
//! entries are plain puts of identical items. The `open` index is one partition: at
//! the scale where open incidents exceed a partition's throughput, shard its key.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use scoville_core::{EndpointId, OrgId};

use crate::{
    Incident, IncidentLog, IncidentQuery, LogError, LogWrite, Result, TimelineEntry, unavailable,
};

type Item = HashMap<String, AttributeValue>;

/// The DynamoDB incident log.
#[derive(Debug, Clone)]
pub struct DynamoLog {
    client: Client,
    table: String,
}

fn sdk_err<E: std::error::Error + 'static, R: std::fmt::Debug>(
    e: aws_sdk_dynamodb::error::SdkError<E, R>,
) -> LogError {
    unavailable(DisplayErrorContext(e))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn get_s<'a>(item: &'a Item, key: &str) -> Result<&'a str> {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| unavailable(format!("incident item without {key}")))
}

fn get_n(item: &Item, key: &str) -> Result<Option<i64>> {
    item.get(key)
        .map(|v| {
            v.as_n()
                .ok()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| unavailable(format!("incident item with a bad {key}")))
        })
        .transpose()
}

fn incident(item: &Item) -> Result<Incident> {
    let id = get_s(item, "sk")?
        .strip_prefix("i#")
        .ok_or_else(|| unavailable("incident item with a bad sk"))?;
    Ok(Incident {
        id: id.to_string(),
        org_id: OrgId::parse(get_s(item, "pk")?).map_err(unavailable)?,
        endpoint_id: EndpointId::parse(get_s(item, "endpoint_id")?).map_err(unavailable)?,
        started_at_ms: get_n(item, "started_at_ms")?.unwrap_or_default(),
        confirmed_at_ms: get_n(item, "confirmed_at_ms")?.unwrap_or_default(),
        resolved_at_ms: get_n(item, "resolved_at_ms")?,
        regions: serde_json::from_str(get_s(item, "regions")?).map_err(unavailable)?,
        error: item.get("error").and_then(|v| v.as_s().ok()).cloned(),
    })
}

impl DynamoLog {
    /// A log on `table`, with `timeout` on every call.
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

    /// Creates the table and its indexes (on-demand billing) if it does not exist: for
    /// first runs and tests; production tables come from `infra/`.
    pub async fn ensure_table(&self) -> Result<()> {
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
        let attr = |name: &str, t: ScalarAttributeType| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(t)
                .build()
                .map_err(unavailable)
        };
        let key = |name: &str, t: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(t)
                .build()
                .map_err(unavailable)
        };
        let index = |name: &str, hash: &str, range: &str| -> Result<GlobalSecondaryIndex> {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(hash, KeyType::Hash)?)
                .key_schema(key(range, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(unavailable)
        };
        self.client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(attr("pk", ScalarAttributeType::S)?)
            .attribute_definitions(attr("sk", ScalarAttributeType::S)?)
            .attribute_definitions(attr("confirmed_at_ms", ScalarAttributeType::N)?)
            .attribute_definitions(attr("open", ScalarAttributeType::S)?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .global_secondary_indexes(index("by_time", "pk", "confirmed_at_ms")?)
            .global_secondary_indexes(index("open", "open", "sk")?)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn put_incident(&self, i: &Incident) -> Result<()> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(i.org_id.as_str()))
            .item("sk", s(format!("i#{}", i.id)))
            .item("endpoint_id", s(i.endpoint_id.as_str()))
            .item("started_at_ms", n(i.started_at_ms))
            .item("confirmed_at_ms", n(i.confirmed_at_ms))
            .item(
                "regions",
                s(serde_json::to_string(&i.regions).map_err(unavailable)?),
            )
            .condition_expression("attribute_not_exists(pk)");
        if let Some(e) = &i.error {
            put = put.item("error", s(e));
        }
        put = match i.resolved_at_ms {
            Some(r) => put.item("resolved_at_ms", n(r)),
            None => put.item("open", s("open")),
        };
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_err(e)),
        }
    }

    async fn resolve(&self, i: &Incident, at_ms: i64) -> Result<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(i.org_id.as_str()))
            .key("sk", s(format!("i#{}", i.id)))
            .update_expression("SET resolved_at_ms = if_not_exists(resolved_at_ms, :r) REMOVE #o")
            .expression_attribute_names("#o", "open")
            .expression_attribute_values(":r", n(at_ms))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn put_entry(&self, i: &Incident, entry: &TimelineEntry) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(i.org_id.as_str()))
            .item("sk", s(format!("t#{}#{}", i.id, entry.key())))
            .item(
                "entry",
                s(serde_json::to_string(entry).map_err(unavailable)?),
            )
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl IncidentLog for DynamoLog {
    async fn append(&self, writes: &[LogWrite]) -> Result<()> {
        for w in writes {
            self.put_incident(&w.incident).await?;
            if let Some(at) = w.incident.resolved_at_ms {
                self.resolve(&w.incident, at).await?;
            }
            self.put_entry(&w.incident, &w.entry).await?;
        }
        Ok(())
    }

    async fn open_endpoints(&self) -> Result<Vec<(OrgId, EndpointId)>> {
        let mut out: Vec<_> = self
            .open_endpoints_since()
            .await?
            .into_iter()
            .map(|(org, endpoint, _)| (org, endpoint))
            .collect();
        out.dedup();
        Ok(out)
    }

    async fn open_endpoints_since(&self) -> Result<Vec<(OrgId, EndpointId, Option<i64>)>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("open")
                .key_condition_expression("#o = :open")
                .expression_attribute_names("#o", "open")
                .expression_attribute_values(":open", s("open"))
                .projection_expression("pk, endpoint_id, confirmed_at_ms")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_err)?;
            for item in page.items() {
                out.push((
                    OrgId::parse(get_s(item, "pk")?).map_err(unavailable)?,
                    EndpointId::parse(get_s(item, "endpoint_id")?).map_err(unavailable)?,
                    get_n(item, "confirmed_at_ms")?,
                ));
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        // One entry per endpoint: its latest confirmation.
        out.sort();
        out.dedup_by(|later, kept| {
            let same = later.0 == kept.0 && later.1 == kept.1;
            if same {
                kept.2 = kept.2.max(later.2);
            }
            same
        });
        Ok(out)
    }

    async fn incidents(&self, org: &OrgId, query: &IncidentQuery) -> Result<Vec<Incident>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let mut out: Vec<Incident> = Vec::new();
        let mut start: Option<Item> = None;
        let mut condition = "pk = :org".to_string();
        if query.after.is_some() {
            condition.push_str(" AND confirmed_at_ms <= :before");
        }
        let mut filters = Vec::new();
        if query.endpoint_id.is_some() {
            filters.push("endpoint_id = :endpoint");
        }
        match query.open {
            Some(true) => filters.push("attribute_exists(#o)"),
            Some(false) => filters.push("attribute_not_exists(#o)"),
            None => {}
        }
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("by_time")
                .key_condition_expression(&condition)
                .expression_attribute_values(":org", s(org.as_str()))
                .scan_index_forward(false)
                .limit(i32::try_from((query.limit + 1).clamp(1, 1000)).unwrap_or(1000))
                .set_exclusive_start_key(start.take());
            if let Some((ms, _)) = &query.after {
                q = q.expression_attribute_values(":before", n(*ms));
            }
            if let Some(e) = &query.endpoint_id {
                q = q.expression_attribute_values(":endpoint", s(e.as_str()));
            }
            if query.open.is_some() {
                q = q.expression_attribute_names("#o", "open");
            }
            if !filters.is_empty() {
                q = q.filter_expression(filters.join(" AND "));
            }
            let page = q.send().await.map_err(sdk_err)?;
            for item in page.items() {
                let i = incident(item)?;
                // At the cursor's own time, only the ids after it.
                if let Some((ms, id)) = &query.after
                    && i.confirmed_at_ms == *ms
                    && i.id >= *id
                {
                    continue;
                }
                out.push(i);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
            // The index orders by time only: read on while the page's boundary time
            // goes on, so that ties are ordered by id below as on SQLite.
            if out.len() > query.limit
                && out.last().map(|i| i.confirmed_at_ms)
                    < Some(out[query.limit - 1].confirmed_at_ms)
            {
                break;
            }
        }
        out.sort_by(|a, b| (b.confirmed_at_ms, &b.id).cmp(&(a.confirmed_at_ms, &a.id)));
        out.truncate(query.limit);
        Ok(out)
    }

    async fn incident(
        &self,
        org: &OrgId,
        id: &str,
    ) -> Result<Option<(Incident, Vec<TimelineEntry>)>> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(org.as_str()))
            .key("sk", s(format!("i#{id}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_err)?;
        let Some(item) = got.item else {
            return Ok(None);
        };
        let found = incident(&item)?;
        let mut entries = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :org AND begins_with(sk, :prefix)")
                .expression_attribute_values(":org", s(org.as_str()))
                .expression_attribute_values(":prefix", s(format!("t#{id}#")))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_err)?;
            for item in page.items() {
                entries.push(
                    serde_json::from_str::<TimelineEntry>(get_s(item, "entry")?)
                        .map_err(unavailable)?,
                );
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(Some((found, entries)))
    }
}
