//! The heartbeat port: each heartbeat endpoint's ping token (hashed) and what was last
//! heard from its job. One adapter per file beside this one (SQLite, DynamoDB); the
//! contract test in `admin-api/tests/heartbeat.rs` runs both.

use async_trait::async_trait;
use scoville_core::{EndpointId, OrgId};

use crate::store::StoreError;

/// What was last heard from one heartbeat endpoint's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beat {
    /// The organization.
    pub org_id: OrgId,
    /// The endpoint.
    pub endpoint_id: EndpointId,
    /// The last finishing ping (success, `/fail` or a failed payload), Unix ms.
    pub last_ping_ms: Option<i64>,
    /// Whether that ping was a success.
    pub last_ok: Option<bool>,
    /// The last `/start` ping, Unix ms.
    pub last_start_ms: Option<i64>,
    /// The latest deadline a missed ping was reported for, Unix ms.
    pub reported_ms: Option<i64>,
}

impl Beat {
    /// A beat that has heard nothing yet.
    pub fn new(org_id: OrgId, endpoint_id: EndpointId) -> Self {
        Self {
            org_id,
            endpoint_id,
            last_ping_ms: None,
            last_ok: None,
            last_start_ms: None,
            reported_ms: None,
        }
    }
}

/// What a ping changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// `/start`: the job began at this time.
    Start(i64),
    /// The job finished (or said it failed) at this time.
    Finish {
        /// When.
        at_ms: i64,
        /// Whether it went well.
        ok: bool,
    },
    /// A missed ping was reported for this deadline.
    Reported(i64),
}

/// Store results.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Where heartbeat tokens and state live.
#[async_trait]
pub trait HeartbeatStore: Send + Sync + std::fmt::Debug {
    /// Gives the endpoint a new token (its hash), retiring the previous one; keeps what
    /// was heard.
    async fn set_token(&self, org: &OrgId, id: &EndpointId, token_hash: &str) -> Result<()>;
    /// The beat a token belongs to.
    async fn by_token(&self, token_hash: &str) -> Result<Option<Beat>>;
    /// One endpoint's beat.
    async fn beat(&self, org: &OrgId, id: &EndpointId) -> Result<Option<Beat>>;
    /// Records what was heard; times only move forward (a late, reordered request
    /// never moves a time back). No-op for an endpoint without a token.
    async fn record(&self, org: &OrgId, id: &EndpointId, heard: Heard) -> Result<()>;
    /// Every beat (the sweep), at most `limit`.
    async fn all(&self, limit: usize) -> Result<Vec<Beat>>;
    /// Forgets the endpoint's token and state.
    async fn remove(&self, org: &OrgId, id: &EndpointId) -> Result<()>;
}
