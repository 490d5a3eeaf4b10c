//! The admin store on DynamoDB: one table, string keys `pk` (hash) and `sk` (range), one
//! global secondary index [`GSI1`] (`gsi1pk`, `gsi1sk`, keys only: a user's sessions),
//! on-demand billing, TTL on `expires_at` (sessions and invitations; reads check
//! `expires_ms` themselves, TTL only sweeps). Semantics are those of
//! [`super::sqlite::SqliteAdmin`]; the contract test runs both.
//!
//! # Items
//!
//! | Item | `pk` | `sk` | Other attributes |
//! |---|---|---|---|
//! | organization | `ORG#<org>` | `ORG` | `id`, `name` |
//! | member (org side) | `ORG#<org>` | `MEMBER#<user>` | `user_id`, `email`, `role` |
//! | API key (org side) | `ORG#<org>` | `APIKEY#<id>` | `id`, `name`, `scope`, `key_hash` |
//! | endpoint | `ORG#<org>` | `ENDPOINT#<id>` | `id`, `doc` (JSON) |
//! | alert channel | `ORG#<org>` | `CHANNEL#<id>` | `id`, `name`, `kind`, `config` |
//! | maintenance window | `ORG#<org>` | `WINDOW#<id>` | `id`, `from_ms`, `doc` |
//! | status page | `ORG#<org>` | `PAGE#<id>` | `id`, `slug`, `doc` |
//! | result hook | `ORG#<org>` | `HOOK#<id>` | `id`, `doc` (JSON, secret included) |
//! | user | `USER#<user>` | `USER` | `id`, `email`, `password_hash`, `epoch` |
//! | membership (user side) | `USER#<user>` | `MEMBER#<org>` | `org_id`, `org_name`, `role` |
//! | email (unique) | `EMAIL#<email>` | `EMAIL` | `user_id` |
//! | session | `SESSION#<hash>` | `SESSION` | `user_id`, `expires_ms`, `epoch`, `expires_at`; `gsi1pk` = `SESSIONS#<user>`, `gsi1sk` = hash |
//! | invitation | `INVITE#<hash>` | `INVITE` | `org_id`, `email`, `role`, `expires_ms`, `expires_at` |
//! | API key by hash | `APIKEY#<hash>` | `APIKEY` | `org_id`, `id`, `name`, `scope` |
//! | probe token | `PROBE#<hash>` | `PROBE` | `org_id`, `id`, `name` |
//! | endpoint, in the list of all (id unique) | `ENDPOINTS#<shard>` | `<id>` | `org_id`, `doc` |
//! | status page slug (unique) | `SLUG#<slug>` | `SLUG` | `org_id`, `page_id`, `doc` |
//! | generation | `META` | `GENERATION` | `n` |
//!
//! # Access patterns
//!
//! | Access pattern | Key condition / index |
//! |---|---|
//! | sign up (email unique) | `TransactWriteItems`: email, user, org, both member items; the email item on `attribute_not_exists(pk)` (taken: `Conflict`) |
//! | user by email (login) | `GetItem EMAIL#<email>`, then `GetItem USER#<id>` |
//! | password hash | `GetItem USER#<id>` |
//! | set password | `UpdateItem USER#<id>` (`SET password_hash`, `ADD epoch 1`), then `Query GSI1 gsi1pk = SESSIONS#<id>` and `BatchWriteItem` deletes |
//! | session's user (every request) | `GetItem SESSION#<hash>`, then `GetItem USER#<id>`; live if not expired and its `epoch` is the user's |
//! | a user's orgs and roles | `Query pk = USER#<id> AND begins_with(sk, MEMBER#)` |
//! | an org's members | `Query pk = ORG#<org> AND begins_with(sk, MEMBER#)`, sorted by email |
//! | add / remove a member | `TransactWriteItems` on both member items |
//! | take an invitation | `DeleteItem INVITE#<hash>` returning the old item (one taker wins) |
//! | API key / probe token by hash (every API / probe request) | `GetItem APIKEY#<hash>` / `GetItem PROBE#<hash>` |
//! | an org's API keys, endpoints, channels, windows, pages, hooks | `Query pk = ORG#<org> AND begins_with(sk, <KIND>#)` |
//! | one thing of an org (never by id alone) | `GetItem ORG#<org>` / `<KIND>#<id>` |
//! | create / replace / delete an endpoint | `TransactWriteItems`: the endpoint (`attribute_not_exists` on create, `attribute_exists` with `must_exist` and on delete), its copy in the list of all (`attribute_not_exists` on create: ids are unique across orgs), `ADD n 1` on the generation |
//! | every endpoint (the probe's list) | `Query pk = ENDPOINTS#<shard>` for each of the [`ENDPOINT_SHARDS`] shards (shard: FNV-1a of the id), merged by id |
//! | status page by slug (public) | `GetItem SLUG#<slug>` (the slug item holds the page) |
//! | put a status page (slug unique) | `GetItem` the page, then `TransactWriteItems`: the slug item on `attribute_not_exists(pk) OR` it is this page's (else `Conflict`), the page on its slug being the one read, the old slug item deleted |
//! | generation (every probe list) | `GetItem META/GENERATION` |
//!
//! # Consistency
//!
//! Every base-table read is strongly consistent, so an instance reads what another just
//! wrote. In particular the list of all endpoints is read from the table, not from an
//! index: a cache that read generation `n` and then the list holds every write up to
//! `n` (the endpoint, its copy in the list and the bump are one transaction). The
//! shards spread that list over partitions. Only the index is eventually consistent,
//! and only where that is harmless: the sweep of a user's sessions on a password change
//! (revocation itself rests on the user's `epoch`: a session stores the epoch it was
//! created under and dies when the epoch moves, even one the sweep did not see). Unique values (email, endpoint id, API key hash, slug)
//! are items written with condition expressions inside the transaction, so of two
//! racing writers exactly one wins. A transaction cancelled for `TransactionConflict`
//! or throttling is retried with backoff; the SDK's idempotency token makes the SDK's
//! own retries safe.
//!
//! Emails and org names are copied into the member items: the store has no way to
//! change either. Unlike SQLite, API key ids and probe token ids are not checked for
//! uniqueness across organizations (they are random, and only ever used under their
//! org); endpoint ids are, since other services key on them.
//!
//! Every call is bounded by the adapter's timeout ([`DynamoAdmin::with_timeout`],
//! 5 s by default) on top of whatever the client's own timeout configuration says, and
//! every failure is [`StoreError::Unavailable`] with the SDK's message. Every `Query`
//! follows `LastEvaluatedKey` to the end.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, DeleteRequest, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put, ReturnValue, ScalarAttributeType,
    TimeToLiveSpecification, TimeToLiveStatus, TransactWriteItem, Update, WriteRequest,
};
use scoville_core::{EndpointId, OrgId};
use serde::de::DeserializeOwned;

use super::{AdminStore, Result, StoreError};
use crate::hook::StoredHook;
use crate::model::{
    AlertChannel, ApiKey, Endpoint, KeyScope, MaintenanceWindow, Member, Org, ProbeToken, Role,
    StatusPage, User,
};

/// The name of the table's global secondary index (`gsi1pk` hash, `gsi1sk` range, keys
/// only): a user's sessions.
pub const GSI1: &str = "gsi1";

/// Partitions the list of every endpoint is spread over (by FNV-1a of the id). Part of
/// the table's layout: changing it needs the items moved.
pub const ENDPOINT_SHARDS: u64 = 16;

/// The attribute DynamoDB's TTL sweeps on (Unix seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts of a transaction cancelled by a conflict or throttling, and of a batch with
/// unprocessed items.
const ATTEMPTS: u32 = 8;
const CONDITION_FAILED: &str = "ConditionalCheckFailed";

/// A DynamoDB item (the heartbeat store shares these helpers).
pub(crate) type Item = HashMap<String, AttributeValue>;

/// The DynamoDB admin store.
#[derive(Debug, Clone)]
pub struct DynamoAdmin {
    client: Client,
    table: String,
    timeout: Duration,
    page_size: Option<i32>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn sdk_error<E, R>(op: &'static str, e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let message = format!("DynamoDB {op}: {}", DisplayErrorContext(e));
    tracing::warn!(op, error = %message, "admin store call failed");
    StoreError::Unavailable(message)
}

/// `fut`, or `Unavailable` once `timeout` has passed.
pub(crate) async fn timed<F: Future>(
    timeout: Duration,
    op: &'static str,
    fut: F,
) -> Result<F::Output> {
    tokio::time::timeout(timeout, fut).await.map_err(|_| {
        tracing::warn!(
            op,
            timeout_ms = timeout.as_millis() as u64,
            "admin store call timed out"
        );
        StoreError::Unavailable(format!(
            "DynamoDB {op} timed out after {} ms",
            timeout.as_millis()
        ))
    })
}

/// Waits a little longer after each attempt (10 ms doubling, with jitter).
async fn backoff(attempt: u32) {
    let base = 10u64 << attempt.min(6);
    let jitter = rand::random::<u64>() % base.max(1);
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn num(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

fn item<const N: usize>(
    pk: String,
    sk: impl Into<String>,
    attrs: [(&str, AttributeValue); N],
) -> Item {
    let mut item = key(pk, sk);
    item.extend(attrs.into_iter().map(|(k, v)| (k.to_string(), v)));
    item
}

/// A string attribute, if the item has one.
pub(crate) fn text_of<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// A number attribute, if the item has one.
pub(crate) fn number_of(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}

fn text<'a>(item: &'a Item, name: &str) -> Result<&'a str> {
    text_of(item, name).ok_or_else(|| unavailable(format!("admin store item without {name}")))
}

fn number(item: &Item, name: &str) -> Result<i64> {
    number_of(item, name).ok_or_else(|| unavailable(format!("admin store item without {name}")))
}

/// A number that reads as 0 when absent (`epoch` of a user who never changed password).
fn number_or_zero(item: &Item, name: &str) -> Result<i64> {
    if item.contains_key(name) {
        number(item, name)
    } else {
        Ok(0)
    }
}

fn doc<T: DeserializeOwned>(item: &Item, what: &str) -> Result<T> {
    serde_json::from_str(text(item, "doc")?)
        .map_err(|e| unavailable(format!("unreadable {what}: {e}")))
}

fn org_of(item: &Item) -> Result<OrgId> {
    OrgId::parse(text(item, "org_id")?).map_err(unavailable)
}

fn role_of(item: &Item) -> Result<Role> {
    Ok(Role::parse(text(item, "role")?).unwrap_or(Role::Viewer))
}

fn scope_str(s: KeyScope) -> &'static str {
    match s {
        KeyScope::Read => "read",
        KeyScope::ReadWrite => "read_write",
    }
}

fn scope_of(item: &Item) -> Result<KeyScope> {
    Ok(if text(item, "scope")? == "read_write" {
        KeyScope::ReadWrite
    } else {
        KeyScope::Read
    })
}

/// The TTL attribute's value for an expiry in Unix ms (the second after it).
fn ttl_seconds(expires_ms: i64) -> AttributeValue {
    num(expires_ms.div_euclid(1000) + 1)
}

fn org_pk(org: &str) -> String {
    format!("ORG#{org}")
}

fn user_pk(user: &str) -> String {
    format!("USER#{user}")
}

/// The partition of `shard` of the list of every endpoint.
fn shard_pk(shard: u64) -> String {
    format!("ENDPOINTS#{shard:02}")
}

/// The partition of endpoint `id` in the list of every endpoint: FNV-1a, 64 bits
/// (stable across processes and versions).
fn endpoint_shard_pk(id: &str) -> String {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    shard_pk(hash % ENDPOINT_SHARDS)
}

/// A condition expression with its placeholders.
#[derive(Debug, Clone, Default)]
struct Cond {
    expr: Option<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Cond {
    fn none() -> Self {
        Self::default()
    }

    fn new(expr: &str) -> Self {
        Self {
            expr: Some(expr.to_string()),
            ..Self::default()
        }
    }

    /// The item must not exist yet.
    fn absent() -> Self {
        Self::new("attribute_not_exists(pk)")
    }

    /// The item must exist.
    fn present() -> Self {
        Self::new("attribute_exists(pk)")
    }

    fn name(mut self, placeholder: &str, name: &str) -> Self {
        self.names.insert(placeholder.to_string(), name.to_string());
        self
    }

    fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(placeholder.to_string(), value);
        self
    }

    // DynamoDB refuses empty placeholder maps: absent, not empty.
    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<Item> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// A transaction DynamoDB cancelled because a condition failed: the code of each item
/// in order (`None` for the items that passed).
#[derive(Debug)]
struct Refused(Vec<String>);

impl Refused {
    /// Whether the condition of item `i` failed.
    fn failed(&self, i: usize) -> bool {
        self.0.get(i).is_some_and(|c| c == CONDITION_FAILED)
    }
}

impl DynamoAdmin {
    /// A store on `table` through `client`, with a 5 s timeout on every call.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            timeout: DEFAULT_TIMEOUT,
            page_size: None,
        }
    }

    /// Bounds every call by `timeout` instead.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Reads lists `n` items per request (DynamoDB's 1 MB pages otherwise): lets tests
    /// go through the paging.
    pub fn with_page_size(mut self, n: i32) -> Self {
        self.page_size = Some(n.max(1));
        self
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table `name` (keys `pk`/`sk`, the index [`GSI1`], on-demand billing,
    /// TTL on [`TTL_ATTRIBUTE`]) and waits until it is active; a table that already
    /// exists is left as it is (and its TTL turned on). For tests, emulators and first
    /// runs; production tables come from `infra/`.
    pub async fn create_table(client: &Client, name: &str) -> Result<()> {
        const STEP: Duration = Duration::from_secs(30);
        let attr = |n: &str| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(unavailable)
        };
        let key = |n: &str, t: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(n)
                .key_type(t)
                .build()
                .map_err(unavailable)
        };
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(GSI1)
            .key_schema(key("gsi1pk", KeyType::Hash)?)
            .key_schema(key("gsi1sk", KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::KeysOnly)
                    .build(),
            )
            .build()
            .map_err(unavailable)?;
        let created = timed(
            STEP,
            "CreateTable",
            client
                .create_table()
                .table_name(name)
                .set_attribute_definitions(Some(vec![
                    attr("pk")?,
                    attr("sk")?,
                    attr("gsi1pk")?,
                    attr("gsi1sk")?,
                ]))
                .key_schema(key("pk", KeyType::Hash)?)
                .key_schema(key("sk", KeyType::Range)?)
                .global_secondary_indexes(gsi)
                .billing_mode(BillingMode::PayPerRequest)
                .send(),
        )
        .await?;
        match created {
            Ok(_) => tracing::info!(table = name, "created the admin table"),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) =>
            {
                tracing::debug!(table = name, "the admin table exists");
            }
            Err(e) => return Err(sdk_error("CreateTable", e)),
        }
        client
            .wait_until_table_exists()
            .table_name(name)
            .wait(Duration::from_secs(300))
            .await
            .map_err(|e| {
                unavailable(format!(
                    "DynamoDB DescribeTable: {}",
                    DisplayErrorContext(e)
                ))
            })?;
        let ttl = timed(
            STEP,
            "DescribeTimeToLive",
            client.describe_time_to_live().table_name(name).send(),
        )
        .await?
        .map_err(|e| sdk_error("DescribeTimeToLive", e))?;
        let status = ttl
            .time_to_live_description()
            .and_then(|d| d.time_to_live_status());
        if !matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
            timed(
                STEP,
                "UpdateTimeToLive",
                client
                    .update_time_to_live()
                    .table_name(name)
                    .time_to_live_specification(
                        TimeToLiveSpecification::builder()
                            .enabled(true)
                            .attribute_name(TTL_ATTRIBUTE)
                            .build()
                            .map_err(unavailable)?,
                    )
                    .send(),
            )
            .await?
            .map_err(|e| sdk_error("UpdateTimeToLive", e))?;
        }
        Ok(())
    }

    async fn call<T, E, R>(
        &self,
        op: &'static str,
        fut: impl Future<Output = std::result::Result<T, SdkError<E, R>>>,
    ) -> Result<T>
    where
        E: std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        timed(self.timeout, op, fut)
            .await?
            .map_err(|e| sdk_error(op, e))
    }

    /// One item, read consistently.
    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>> {
        let out = self
            .call(
                "GetItem",
                self.client
                    .get_item()
                    .table_name(&self.table)
                    .set_key(Some(key(pk, sk)))
                    .consistent_read(true)
                    .send(),
            )
            .await?;
        Ok(out.item.filter(|i| !i.is_empty()))
    }

    /// Writes an item; false when `cond` does not hold.
    async fn put(&self, item: Item, cond: Cond) -> Result<bool> {
        let sent = timed(
            self.timeout,
            "PutItem",
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .set_condition_expression(cond.expr.clone())
                .set_expression_attribute_names(cond.names())
                .set_expression_attribute_values(cond.values())
                .send(),
        )
        .await?;
        match sent {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error("PutItem", e)),
        }
    }

    /// Deletes an item if `cond` holds, returning what it held; none when it is absent
    /// or `cond` does not hold.
    async fn delete_if(&self, pk: String, sk: &str, cond: Cond) -> Result<Option<Item>> {
        let sent = timed(
            self.timeout,
            "DeleteItem",
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(pk, sk)))
                .set_condition_expression(cond.expr.clone())
                .set_expression_attribute_names(cond.names())
                .set_expression_attribute_values(cond.values())
                .return_values(ReturnValue::AllOld)
                .send(),
        )
        .await?;
        match sent {
            Ok(out) => Ok(out.attributes.filter(|i| !i.is_empty())),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(sdk_error("DeleteItem", e)),
        }
    }

    /// Deletes an item, returning what it held.
    async fn delete(&self, pk: String, sk: &str) -> Result<Option<Item>> {
        let out = self
            .call(
                "DeleteItem",
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key(pk, sk)))
                    .return_values(ReturnValue::AllOld)
                    .send(),
            )
            .await?;
        Ok(out.attributes.filter(|i| !i.is_empty()))
    }

    /// Every item of partition `pk` whose sort key starts with `prefix` (every item of
    /// it with none), in sort-key order, read consistently, all pages.
    async fn query(&self, pk: String, prefix: Option<&str>) -> Result<Vec<Item>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        let mut cond = Cond::new(match prefix {
            Some(_) => "pk = :pk AND begins_with(sk, :prefix)",
            None => "pk = :pk",
        })
        .value(":pk", s(pk));
        if let Some(p) = prefix {
            cond = cond.value(":prefix", s(p));
        }
        loop {
            let page = self
                .call(
                    "Query",
                    self.client
                        .query()
                        .table_name(&self.table)
                        .consistent_read(true)
                        .set_key_condition_expression(cond.expr.clone())
                        .set_expression_attribute_values(cond.values())
                        .set_limit(self.page_size)
                        .set_exclusive_start_key(start.take())
                        .send(),
                )
                .await?;
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    /// Every item of [`GSI1`] partition `gsi1pk`, in `gsi1sk` order, all pages.
    async fn query_index(&self, gsi1pk: String) -> Result<Vec<Item>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .call(
                    "Query",
                    self.client
                        .query()
                        .table_name(&self.table)
                        .index_name(GSI1)
                        .key_condition_expression("gsi1pk = :pk")
                        .expression_attribute_values(":pk", s(gsi1pk.clone()))
                        .set_limit(self.page_size)
                        .set_exclusive_start_key(start.take())
                        .send(),
                )
                .await?;
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    /// Deletes these items (keys only), 25 a request, until none is left unprocessed.
    async fn delete_all(&self, keys: Vec<Item>) -> Result<()> {
        for chunk in keys.chunks(25) {
            let mut requests = chunk
                .iter()
                .map(|k| {
                    DeleteRequest::builder()
                        .set_key(Some(k.clone()))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(unavailable)
                })
                .collect::<Result<Vec<_>>>()?;
            let mut attempt = 0;
            while !requests.is_empty() {
                if attempt == ATTEMPTS {
                    return Err(unavailable(format!(
                        "DynamoDB BatchWriteItem left {} items unprocessed",
                        requests.len()
                    )));
                }
                if attempt > 0 {
                    backoff(attempt).await;
                }
                let out = self
                    .call(
                        "BatchWriteItem",
                        self.client
                            .batch_write_item()
                            .request_items(&self.table, std::mem::take(&mut requests))
                            .send(),
                    )
                    .await?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
                attempt += 1;
            }
        }
        Ok(())
    }

    fn tx_put(&self, item: Item, cond: Cond) -> Result<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(cond.expr.clone())
            .set_expression_attribute_names(cond.names())
            .set_expression_attribute_values(cond.values())
            .build()
            .map_err(unavailable)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn tx_delete(&self, pk: String, sk: &str, cond: Cond) -> Result<TransactWriteItem> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .set_condition_expression(cond.expr.clone())
            .set_expression_attribute_names(cond.names())
            .set_expression_attribute_values(cond.values())
            .build()
            .map_err(unavailable)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Adds one to the generation.
    fn tx_bump(&self) -> Result<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key("META", "GENERATION")))
            .update_expression("ADD #n :one")
            .expression_attribute_names("#n", "n")
            .expression_attribute_values(":one", num(1))
            .build()
            .map_err(unavailable)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Runs a transaction: `Ok(Err(refused))` when a condition failed; retried when
    /// cancelled by a conflicting transaction or throttling.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<std::result::Result<(), Refused>> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = timed(
                self.timeout,
                "TransactWriteItems",
                self.client
                    .transact_write_items()
                    .set_transact_items(Some(items.clone()))
                    .send(),
            )
            .await?;
            let e = match sent {
                Ok(_) => return Ok(Ok(())),
                Err(e) => e,
            };
            let codes: Vec<String> = match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(t))
                    if !t.cancellation_reasons().is_empty() =>
                {
                    t.cancellation_reasons()
                        .iter()
                        .map(|r| r.code().unwrap_or("None").to_string())
                        .collect()
                }
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
                    vec!["TransactionConflict".to_string()]
                }
                _ => return Err(sdk_error("TransactWriteItems", e)),
            };
            if codes.iter().any(|c| c == CONDITION_FAILED) {
                return Ok(Err(Refused(codes)));
            }
            let retry = codes.iter().any(|c| {
                matches!(
                    c.as_str(),
                    "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
                )
            });
            if !retry || attempt >= ATTEMPTS {
                return Err(sdk_error("TransactWriteItems", e));
            }
            tracing::debug!(
                attempt,
                ?codes,
                "admin store transaction cancelled, retrying"
            );
            backoff(attempt).await;
        }
    }

    /// Runs a transaction whose refusal is an error: `what` already exists.
    async fn transact_new(&self, items: Vec<TransactWriteItem>, what: &str) -> Result<()> {
        self.transact(items)
            .await?
            .map_err(|_| unavailable(format!("{what} already exists")))
    }
}

#[async_trait::async_trait]
impl AdminStore for DynamoAdmin {
    async fn create_user_with_org(
        &self,
        user: &User,
        password_hash: &str,
        org: &Org,
    ) -> Result<()> {
        let o = org.id.as_str();
        let items = vec![
            self.tx_put(
                item(
                    format!("EMAIL#{}", user.email),
                    "EMAIL",
                    [("user_id", s(&user.id))],
                ),
                Cond::absent(),
            )?,
            self.tx_put(
                item(
                    user_pk(&user.id),
                    "USER",
                    [
                        ("id", s(&user.id)),
                        ("email", s(&user.email)),
                        ("password_hash", s(password_hash)),
                        ("epoch", num(0)),
                    ],
                ),
                Cond::absent(),
            )?,
            self.tx_put(
                item(org_pk(o), "ORG", [("id", s(o)), ("name", s(&org.name))]),
                Cond::absent(),
            )?,
            self.tx_put(
                item(
                    org_pk(o),
                    format!("MEMBER#{}", user.id),
                    [
                        ("user_id", s(&user.id)),
                        ("email", s(&user.email)),
                        ("role", s(Role::Owner.as_str())),
                    ],
                ),
                Cond::none(),
            )?,
            self.tx_put(
                item(
                    user_pk(&user.id),
                    format!("MEMBER#{o}"),
                    [
                        ("org_id", s(o)),
                        ("org_name", s(&org.name)),
                        ("role", s(Role::Owner.as_str())),
                    ],
                ),
                Cond::none(),
            )?,
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(refused) if refused.failed(0) => {
                Err(StoreError::Conflict("a user with this email"))
            }
            Err(_) => Err(unavailable(format!(
                "user {} or organization {o} already exists",
                user.id
            ))),
        }
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<(User, String)>> {
        let Some(by_email) = self.get(format!("EMAIL#{email}"), "EMAIL").await? else {
            return Ok(None);
        };
        let Some(u) = self
            .get(user_pk(text(&by_email, "user_id")?), "USER")
            .await?
        else {
            return Ok(None);
        };
        Ok(Some((
            User {
                id: text(&u, "id")?.to_string(),
                email: text(&u, "email")?.to_string(),
            },
            text(&u, "password_hash")?.to_string(),
        )))
    }

    async fn password_hash(&self, user_id: &str) -> Result<Option<String>> {
        self.get(user_pk(user_id), "USER")
            .await?
            .map(|u| text(&u, "password_hash").map(str::to_string))
            .transpose()
    }

    async fn set_password(&self, user_id: &str, password_hash: &str) -> Result<()> {
        // The epoch first: from here on no session created before it is live, whether or
        // not the sweep below (an eventually consistent index) sees it.
        let cond = Cond::present()
            .name("#h", "password_hash")
            .name("#e", "epoch")
            .value(":h", s(password_hash))
            .value(":one", num(1));
        let sent = timed(
            self.timeout,
            "UpdateItem",
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(user_pk(user_id), "USER")))
                .update_expression("SET #h = :h ADD #e :one")
                .set_condition_expression(cond.expr.clone())
                .set_expression_attribute_names(cond.names())
                .set_expression_attribute_values(cond.values())
                .send(),
        )
        .await?;
        match sent {
            Ok(_) => {}
            // No such user: nothing to update, as in SQLite.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
            Err(e) => return Err(sdk_error("UpdateItem", e)),
        }
        let sessions = self
            .query_index(format!("SESSIONS#{user_id}"))
            .await?
            .into_iter()
            .map(|i| {
                Ok(key(
                    text(&i, "pk")?.to_string(),
                    text(&i, "sk")?.to_string(),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        self.delete_all(sessions).await
    }

    async fn create_session(&self, token_hash: &str, user_id: &str, expires_ms: i64) -> Result<()> {
        // The session lives only while the user's epoch is the one read here.
        let epoch = match self.get(user_pk(user_id), "USER").await? {
            Some(u) => number_or_zero(&u, "epoch")?,
            None => 0,
        };
        let created = self
            .put(
                item(
                    format!("SESSION#{token_hash}"),
                    "SESSION",
                    [
                        ("user_id", s(user_id)),
                        ("expires_ms", num(expires_ms)),
                        ("epoch", num(epoch)),
                        (TTL_ATTRIBUTE, ttl_seconds(expires_ms)),
                        ("gsi1pk", s(format!("SESSIONS#{user_id}"))),
                        ("gsi1sk", s(token_hash)),
                    ],
                ),
                Cond::absent(),
            )
            .await?;
        if created {
            Ok(())
        } else {
            Err(unavailable("session already exists"))
        }
    }

    async fn session_user(&self, token_hash: &str, now_ms: i64) -> Result<Option<User>> {
        let Some(session) = self.get(format!("SESSION#{token_hash}"), "SESSION").await? else {
            return Ok(None);
        };
        if number(&session, "expires_ms")? <= now_ms {
            return Ok(None);
        }
        let Some(u) = self
            .get(user_pk(text(&session, "user_id")?), "USER")
            .await?
        else {
            return Ok(None);
        };
        if number_or_zero(&u, "epoch")? != number_or_zero(&session, "epoch")? {
            return Ok(None);
        }
        Ok(Some(User {
            id: text(&u, "id")?.to_string(),
            email: text(&u, "email")?.to_string(),
        }))
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        self.delete(format!("SESSION#{token_hash}"), "SESSION")
            .await
            .map(|_| ())
    }

    async fn memberships(&self, user_id: &str) -> Result<Vec<(Org, Role)>> {
        let mut out = self
            .query(user_pk(user_id), Some("MEMBER#"))
            .await?
            .iter()
            .map(|i| {
                Ok((
                    Org {
                        id: org_of(i)?,
                        name: text(i, "org_name")?.to_string(),
                    },
                    role_of(i)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.0.id.as_str().cmp(b.0.id.as_str()));
        Ok(out)
    }

    async fn members(&self, org: &OrgId) -> Result<Vec<Member>> {
        let mut out = self
            .query(org_pk(org.as_str()), Some("MEMBER#"))
            .await?
            .iter()
            .map(|i| {
                Ok(Member {
                    user_id: text(i, "user_id")?.to_string(),
                    email: text(i, "email")?.to_string(),
                    role: role_of(i)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.email.cmp(&b.email));
        Ok(out)
    }

    async fn set_member(&self, org: &OrgId, user_id: &str, role: Role) -> Result<()> {
        let o = org.as_str();
        let (u, org_item) = futures::try_join!(
            self.get(user_pk(user_id), "USER"),
            self.get(org_pk(o), "ORG")
        )?;
        // Both must exist (SQLite's foreign keys).
        let u = u.ok_or_else(|| unavailable(format!("no user {user_id}")))?;
        let org_item = org_item.ok_or_else(|| unavailable(format!("no organization {o}")))?;
        let items = vec![
            self.tx_put(
                item(
                    org_pk(o),
                    format!("MEMBER#{user_id}"),
                    [
                        ("user_id", s(user_id)),
                        ("email", s(text(&u, "email")?)),
                        ("role", s(role.as_str())),
                    ],
                ),
                Cond::none(),
            )?,
            self.tx_put(
                item(
                    user_pk(user_id),
                    format!("MEMBER#{o}"),
                    [
                        ("org_id", s(o)),
                        ("org_name", s(text(&org_item, "name")?)),
                        ("role", s(role.as_str())),
                    ],
                ),
                Cond::none(),
            )?,
        ];
        self.transact(items)
            .await?
            .map_err(|r| unavailable(format!("membership not written: {:?}", r.0)))
    }

    async fn remove_member(&self, org: &OrgId, user_id: &str) -> Result<bool> {
        let o = org.as_str();
        let items = vec![
            self.tx_delete(org_pk(o), &format!("MEMBER#{user_id}"), Cond::present())?,
            self.tx_delete(user_pk(user_id), &format!("MEMBER#{o}"), Cond::none())?,
        ];
        Ok(self.transact(items).await?.is_ok())
    }

    async fn create_invitation(
        &self,
        token_hash: &str,
        org: &OrgId,
        email: &str,
        role: Role,
        expires_ms: i64,
    ) -> Result<()> {
        let created = self
            .put(
                item(
                    format!("INVITE#{token_hash}"),
                    "INVITE",
                    [
                        ("org_id", s(org.as_str())),
                        ("email", s(email)),
                        ("role", s(role.as_str())),
                        ("expires_ms", num(expires_ms)),
                        (TTL_ATTRIBUTE, ttl_seconds(expires_ms)),
                    ],
                ),
                Cond::absent(),
            )
            .await?;
        if created {
            Ok(())
        } else {
            Err(unavailable("invitation already exists"))
        }
    }

    async fn take_invitation(
        &self,
        token_hash: &str,
        email: &str,
        now_ms: i64,
    ) -> Result<Option<(OrgId, String, Role)>> {
        // One conditional delete: of two takers only one gets the item back, and only
        // when it is addressed to them (or expired); otherwise it stays and is read back.
        let pk = format!("INVITE#{token_hash}");
        let cond = Cond::new("email = :email OR expires_ms <= :now")
            .value(":email", s(email))
            .value(":now", AttributeValue::N(now_ms.to_string()));
        let Some(i) = (match self.delete_if(pk.clone(), "INVITE", cond).await? {
            Some(taken) => Some(taken),
            None => self.get(pk, "INVITE").await?,
        }) else {
            return Ok(None);
        };
        if number(&i, "expires_ms")? <= now_ms {
            return Ok(None);
        }
        Ok(Some((
            org_of(&i)?,
            text(&i, "email")?.to_string(),
            role_of(&i)?,
        )))
    }

    async fn create_api_key(&self, org: &OrgId, key: &ApiKey, key_hash: &str) -> Result<()> {
        let o = org.as_str();
        let by = |mut i: Item| {
            if let Some(u) = &key.created_by {
                i.insert("created_by".into(), s(u));
            }
            i
        };
        let items = vec![
            self.tx_put(
                by(item(
                    org_pk(o),
                    format!("APIKEY#{}", key.id),
                    [
                        ("id", s(&key.id)),
                        ("name", s(&key.name)),
                        ("scope", s(scope_str(key.scope))),
                        ("key_hash", s(key_hash)),
                    ],
                )),
                Cond::absent(),
            )?,
            self.tx_put(
                by(item(
                    format!("APIKEY#{key_hash}"),
                    "APIKEY",
                    [
                        ("org_id", s(o)),
                        ("id", s(&key.id)),
                        ("name", s(&key.name)),
                        ("scope", s(scope_str(key.scope))),
                    ],
                )),
                Cond::absent(),
            )?,
        ];
        self.transact_new(items, "an API key with this id or hash")
            .await
    }

    async fn api_key(&self, key_hash: &str) -> Result<Option<(OrgId, ApiKey)>> {
        let Some(i) = self.get(format!("APIKEY#{key_hash}"), "APIKEY").await? else {
            return Ok(None);
        };
        Ok(Some((
            org_of(&i)?,
            ApiKey {
                id: text(&i, "id")?.to_string(),
                name: text(&i, "name")?.to_string(),
                scope: scope_of(&i)?,
                created_by: text(&i, "created_by").ok().map(str::to_string),
            },
        )))
    }

    async fn api_keys(&self, org: &OrgId) -> Result<Vec<ApiKey>> {
        let mut out = self
            .query(org_pk(org.as_str()), Some("APIKEY#"))
            .await?
            .iter()
            .map(|i| {
                Ok(ApiKey {
                    id: text(i, "id")?.to_string(),
                    name: text(i, "name")?.to_string(),
                    scope: scope_of(i)?,
                    created_by: text(i, "created_by").ok().map(str::to_string),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn delete_api_key(&self, org: &OrgId, id: &str) -> Result<bool> {
        let (pk, sk) = (org_pk(org.as_str()), format!("APIKEY#{id}"));
        let Some(i) = self.get(pk.clone(), &sk).await? else {
            return Ok(false);
        };
        let hash = text(&i, "key_hash")?;
        let items = vec![
            self.tx_delete(pk, &sk, Cond::present())?,
            self.tx_delete(format!("APIKEY#{hash}"), "APIKEY", Cond::none())?,
        ];
        // Refused: deleted meanwhile by another caller.
        Ok(self.transact(items).await?.is_ok())
    }

    async fn create_probe_token(
        &self,
        org: &OrgId,
        id: &str,
        name: &str,
        token_hash: &str,
    ) -> Result<()> {
        // The token's own item (what a probe's call reads) and one in the org's
        // partition (what the list and a delete read).
        let o = org.as_str();
        let items = vec![
            self.tx_put(
                item(
                    format!("PROBE#{token_hash}"),
                    "PROBE",
                    [("org_id", s(o)), ("id", s(id)), ("name", s(name))],
                ),
                Cond::absent(),
            )?,
            self.tx_put(
                item(
                    org_pk(o),
                    format!("PROBETOKEN#{id}"),
                    [
                        ("id", s(id)),
                        ("name", s(name)),
                        ("token_hash", s(token_hash)),
                    ],
                ),
                Cond::absent(),
            )?,
        ];
        self.transact_new(items, "a probe token with this id or hash")
            .await
    }

    async fn probe_tokens(&self, org: &OrgId) -> Result<Vec<ProbeToken>> {
        let mut out = self
            .query(org_pk(org.as_str()), Some("PROBETOKEN#"))
            .await?
            .iter()
            .map(|i| {
                Ok(ProbeToken {
                    id: text(i, "id")?.to_string(),
                    name: text(i, "name")?.to_string(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn delete_probe_token(&self, org: &OrgId, id: &str) -> Result<bool> {
        let (pk, sk) = (org_pk(org.as_str()), format!("PROBETOKEN#{id}"));
        let Some(i) = self.get(pk.clone(), &sk).await? else {
            return Ok(false);
        };
        let hash = text(&i, "token_hash")?;
        let items = vec![
            self.tx_delete(pk, &sk, Cond::present())?,
            self.tx_delete(format!("PROBE#{hash}"), "PROBE", Cond::none())?,
        ];
        // Refused: deleted meanwhile by another caller.
        Ok(self.transact(items).await?.is_ok())
    }

    async fn probe_token(&self, token_hash: &str) -> Result<Option<OrgId>> {
        self.get(format!("PROBE#{token_hash}"), "PROBE")
            .await?
            .map(|i| org_of(&i))
            .transpose()
    }

    async fn put_endpoint(&self, endpoint: &Endpoint, must_exist: bool) -> Result<bool> {
        let json = serde_json::to_string(endpoint).map_err(unavailable)?;
        let (o, id) = (endpoint.org_id.as_str(), endpoint.id.as_str());
        let record = item(
            org_pk(o),
            format!("ENDPOINT#{id}"),
            [("id", s(id)), ("doc", s(json.clone()))],
        );
        let listed = item(
            endpoint_shard_pk(id),
            id,
            [("org_id", s(o)), ("doc", s(json))],
        );
        if must_exist {
            // Refused on the record: the org has no such endpoint, and nothing is written.
            let items = vec![
                self.tx_put(record, Cond::present())?,
                self.tx_put(listed, Cond::none())?,
                self.tx_bump()?,
            ];
            return Ok(self.transact(items).await?.is_ok());
        }
        let items = vec![
            self.tx_put(record, Cond::absent())?,
            // The id is unique across organizations.
            self.tx_put(listed, Cond::absent())?,
            self.tx_bump()?,
        ];
        self.transact_new(items, &format!("endpoint {id}")).await?;
        Ok(true)
    }

    async fn endpoint(&self, org: &OrgId, id: &EndpointId) -> Result<Option<Endpoint>> {
        self.get(org_pk(org.as_str()), &format!("ENDPOINT#{id}"))
            .await?
            .map(|i| doc(&i, "endpoint"))
            .transpose()
    }

    async fn endpoints(&self, org: &OrgId) -> Result<Vec<Endpoint>> {
        let mut out = self
            .query(org_pk(org.as_str()), Some("ENDPOINT#"))
            .await?
            .iter()
            .map(|i| doc::<Endpoint>(i, "endpoint"))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        Ok(out)
    }

    async fn delete_endpoint(&self, org: &OrgId, id: &EndpointId) -> Result<bool> {
        let items = vec![
            self.tx_delete(
                org_pk(org.as_str()),
                &format!("ENDPOINT#{id}"),
                Cond::present(),
            )?,
            self.tx_delete(endpoint_shard_pk(id.as_str()), id.as_str(), Cond::none())?,
            self.tx_bump()?,
        ];
        Ok(self.transact(items).await?.is_ok())
    }

    async fn all_endpoints(&self, org: Option<&OrgId>) -> Result<Vec<Endpoint>> {
        if let Some(org) = org {
            return self.endpoints(org).await;
        }
        let shards = futures::future::try_join_all(
            (0..ENDPOINT_SHARDS).map(|shard| self.query(shard_pk(shard), None)),
        )
        .await?;
        let mut out = shards
            .iter()
            .flatten()
            .map(|i| doc::<Endpoint>(i, "endpoint"))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        Ok(out)
    }

    async fn put_channel(
        &self,
        org: &OrgId,
        channel: &AlertChannel,
        config_json: &str,
    ) -> Result<()> {
        self.put(
            item(
                org_pk(org.as_str()),
                format!("CHANNEL#{}", channel.id),
                [
                    ("id", s(&channel.id)),
                    ("name", s(&channel.name)),
                    ("kind", s(&channel.kind)),
                    ("config", s(config_json)),
                ],
            ),
            Cond::none(),
        )
        .await
        .map(|_| ())
    }

    async fn channels(&self, org: &OrgId) -> Result<Vec<AlertChannel>> {
        let mut out = self
            .query(org_pk(org.as_str()), Some("CHANNEL#"))
            .await?
            .iter()
            .map(channel_of)
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn channel(&self, org: &OrgId, id: &str) -> Result<Option<(AlertChannel, String)>> {
        let Some(i) = self
            .get(org_pk(org.as_str()), &format!("CHANNEL#{id}"))
            .await?
        else {
            return Ok(None);
        };
        Ok(Some((channel_of(&i)?, text(&i, "config")?.to_string())))
    }

    async fn delete_channel(&self, org: &OrgId, id: &str) -> Result<bool> {
        Ok(self
            .delete(org_pk(org.as_str()), &format!("CHANNEL#{id}"))
            .await?
            .is_some())
    }

    async fn put_window(&self, org: &OrgId, window: &MaintenanceWindow) -> Result<()> {
        let json = serde_json::to_string(window).map_err(unavailable)?;
        self.put(
            item(
                org_pk(org.as_str()),
                format!("WINDOW#{}", window.id),
                [
                    ("id", s(&window.id)),
                    ("from_ms", num(window.from_ms)),
                    ("doc", s(json)),
                ],
            ),
            Cond::none(),
        )
        .await
        .map(|_| ())
    }

    async fn windows(&self, org: &OrgId) -> Result<Vec<MaintenanceWindow>> {
        let mut out = self
            .query(org_pk(org.as_str()), Some("WINDOW#"))
            .await?
            .iter()
            .map(|i| doc::<MaintenanceWindow>(i, "window"))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| (a.from_ms, &a.id).cmp(&(b.from_ms, &b.id)));
        Ok(out)
    }

    async fn delete_window(&self, org: &OrgId, id: &str) -> Result<bool> {
        Ok(self
            .delete(org_pk(org.as_str()), &format!("WINDOW#{id}"))
            .await?
            .is_some())
    }

    async fn put_status_page(&self, org: &OrgId, page: &StatusPage) -> Result<()> {
        let o = org.as_str();
        let json = serde_json::to_string(page).map_err(unavailable)?;
        let (pk, sk) = (org_pk(o), format!("PAGE#{}", page.id));
        // Held by this page: org and id match.
        let ours = |c: Cond| {
            c.name("#o", "org_id")
                .name("#p", "page_id")
                .value(":o", s(o))
                .value(":p", s(&page.id))
        };
        for attempt in 1..=ATTEMPTS {
            let current = self.get(pk.clone(), &sk).await?;
            let old_slug = current
                .as_ref()
                .map(|i| text(i, "slug").map(str::to_string))
                .transpose()?;
            let mut items = vec![
                self.tx_put(
                    item(
                        format!("SLUG#{}", page.slug),
                        "SLUG",
                        [
                            ("org_id", s(o)),
                            ("page_id", s(&page.id)),
                            ("doc", s(json.clone())),
                        ],
                    ),
                    ours(Cond::new(
                        "attribute_not_exists(pk) OR (#o = :o AND #p = :p)",
                    )),
                )?,
                self.tx_put(
                    item(
                        pk.clone(),
                        sk.clone(),
                        [
                            ("id", s(&page.id)),
                            ("slug", s(&page.slug)),
                            ("doc", s(json.clone())),
                        ],
                    ),
                    // The page is as read: no other writer moved its slug meanwhile.
                    match &old_slug {
                        None => Cond::absent(),
                        Some(old) => Cond::new("#s = :old")
                            .name("#s", "slug")
                            .value(":old", s(old)),
                    },
                )?,
            ];
            if let Some(old) = old_slug.as_ref().filter(|old| **old != page.slug) {
                items.push(self.tx_delete(
                    format!("SLUG#{old}"),
                    "SLUG",
                    ours(Cond::new("#o = :o AND #p = :p")),
                )?);
            }
            match self.transact(items).await? {
                Ok(()) => return Ok(()),
                Err(refused) if refused.failed(0) => {
                    return Err(StoreError::Conflict("a status page with this slug"));
                }
                Err(refused) => {
                    tracing::debug!(attempt, codes = ?refused.0, "status page changed meanwhile, reading again");
                    backoff(attempt).await;
                }
            }
        }
        Err(unavailable(format!(
            "status page {} kept changing while being written",
            page.id
        )))
    }

    async fn status_pages(&self, org: &OrgId) -> Result<Vec<StatusPage>> {
        let mut out = self
            .query(org_pk(org.as_str()), Some("PAGE#"))
            .await?
            .iter()
            .map(|i| doc::<StatusPage>(i, "status page"))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.slug.cmp(&b.slug));
        Ok(out)
    }

    async fn status_page_by_slug(&self, slug: &str) -> Result<Option<(OrgId, StatusPage)>> {
        let Some(i) = self.get(format!("SLUG#{slug}"), "SLUG").await? else {
            return Ok(None);
        };
        Ok(Some((org_of(&i)?, doc(&i, "status page")?)))
    }

    async fn delete_status_page(&self, org: &OrgId, id: &str) -> Result<bool> {
        let o = org.as_str();
        let (pk, sk) = (org_pk(o), format!("PAGE#{id}"));
        for attempt in 1..=ATTEMPTS {
            let Some(current) = self.get(pk.clone(), &sk).await? else {
                return Ok(false);
            };
            let slug = text(&current, "slug")?;
            let items = vec![
                self.tx_delete(
                    pk.clone(),
                    &sk,
                    Cond::new("#s = :s").name("#s", "slug").value(":s", s(slug)),
                )?,
                self.tx_delete(
                    format!("SLUG#{slug}"),
                    "SLUG",
                    Cond::new("#o = :o AND #p = :p")
                        .name("#o", "org_id")
                        .name("#p", "page_id")
                        .value(":o", s(o))
                        .value(":p", s(id)),
                )?,
            ];
            match self.transact(items).await? {
                Ok(()) => return Ok(true),
                Err(refused) => {
                    tracing::debug!(attempt, codes = ?refused.0, "status page changed meanwhile, reading again");
                    backoff(attempt).await;
                }
            }
        }
        Err(unavailable(format!(
            "status page {id} kept changing while being deleted"
        )))
    }

    async fn put_hook(&self, org: &OrgId, hook: &StoredHook) -> Result<()> {
        let json = serde_json::to_string(hook).map_err(unavailable)?;
        self.put(
            item(
                org_pk(org.as_str()),
                format!("HOOK#{}", hook.id),
                [("id", s(&hook.id)), ("doc", s(json))],
            ),
            Cond::none(),
        )
        .await
        .map(|_| ())
    }

    async fn hooks(&self, org: &OrgId) -> Result<Vec<StoredHook>> {
        let mut out = self
            .query(org_pk(org.as_str()), Some("HOOK#"))
            .await?
            .iter()
            .map(|i| doc::<StoredHook>(i, "hook"))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn hook(&self, org: &OrgId, id: &str) -> Result<Option<StoredHook>> {
        self.get(org_pk(org.as_str()), &format!("HOOK#{id}"))
            .await?
            .map(|i| doc::<StoredHook>(&i, "hook"))
            .transpose()
    }

    async fn delete_hook(&self, org: &OrgId, id: &str) -> Result<bool> {
        Ok(self
            .delete(org_pk(org.as_str()), &format!("HOOK#{id}"))
            .await?
            .is_some())
    }

    async fn generation(&self) -> Result<u64> {
        match self.get("META".into(), "GENERATION").await? {
            Some(i) => Ok(number(&i, "n")?.max(0) as u64),
            None => Ok(0),
        }
    }
}

fn channel_of(i: &Item) -> Result<AlertChannel> {
    Ok(AlertChannel {
        id: text(i, "id")?.to_string(),
        name: text(i, "name")?.to_string(),
        kind: text(i, "kind")?.to_string(),
    })
}
