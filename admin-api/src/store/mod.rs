//! Where the admin API keeps its data, as one port with two adapters of the same
//! contract: [`sqlite::SqliteAdmin`], the embedded default, and
//! [`dynamodb::DynamoAdmin`], one DynamoDB table (its module documents the key design
//! and how each access pattern below is served). `[store] kind` chooses.
//!
//! Access patterns: a user by email (login) and by session hash (every request); an
//! org's members; an API key or probe token by its hash (every API or probe request);
//! an org's endpoints (list), one endpoint by org and id (never by id alone: tenant
//! isolation lives in the key); every endpoint (the probe's list, cached); invitations
//! by token hash. Secrets are stored as SHA-256 hashes only.

pub mod dynamodb;
pub mod sqlite;

use scoville_core::{EndpointId, OrgId};

use crate::hook::StoredHook;
use crate::model::{
    AlertChannel, ApiKey, Endpoint, MaintenanceWindow, Member, Org, ProbeToken, Role, StatusPage,
    User,
};

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A unique value is taken (an email).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The store failed.
    #[error("admin store unavailable: {0}")]
    Unavailable(String),
}

/// Result of a store call.
pub type Result<T> = std::result::Result<T, StoreError>;

/// The admin store.
#[async_trait::async_trait]
pub trait AdminStore: Send + Sync + std::fmt::Debug {
    /// Creates a user with a new organization they own.
    async fn create_user_with_org(&self, user: &User, password_hash: &str, org: &Org)
    -> Result<()>;
    /// A user and their password hash, by email.
    async fn user_by_email(&self, email: &str) -> Result<Option<(User, String)>>;
    /// A user's password hash.
    async fn password_hash(&self, user_id: &str) -> Result<Option<String>>;
    /// Sets a user's password and revokes every session of theirs.
    async fn set_password(&self, user_id: &str, password_hash: &str) -> Result<()>;
    /// Stores a session.
    async fn create_session(&self, token_hash: &str, user_id: &str, expires_ms: i64) -> Result<()>;
    /// The user of a live session.
    async fn session_user(&self, token_hash: &str, now_ms: i64) -> Result<Option<User>>;
    /// Ends a session.
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// A user's organizations and roles.
    async fn memberships(&self, user_id: &str) -> Result<Vec<(Org, Role)>>;
    /// An organization's members.
    async fn members(&self, org: &OrgId) -> Result<Vec<Member>>;
    /// Adds a member or changes their role.
    async fn set_member(&self, org: &OrgId, user_id: &str, role: Role) -> Result<()>;
    /// Removes a member; false if they were not one.
    async fn remove_member(&self, org: &OrgId, user_id: &str) -> Result<bool>;
    /// Stores an invitation.
    async fn create_invitation(
        &self,
        token_hash: &str,
        org: &OrgId,
        email: &str,
        role: Role,
        expires_ms: i64,
    ) -> Result<()>;
    /// Takes (deletes and returns) a live invitation addressed to `email`. A live one
    /// addressed to another email is returned but kept, so whoever it is for can still
    /// accept it; the caller refuses the mismatch.
    async fn take_invitation(
        &self,
        token_hash: &str,
        email: &str,
        now_ms: i64,
    ) -> Result<Option<(OrgId, String, Role)>>;
    /// Stores an API key.
    async fn create_api_key(&self, org: &OrgId, key: &ApiKey, key_hash: &str) -> Result<()>;
    /// An API key by its hash.
    async fn api_key(&self, key_hash: &str) -> Result<Option<(OrgId, ApiKey)>>;
    /// An organization's API keys.
    async fn api_keys(&self, org: &OrgId) -> Result<Vec<ApiKey>>;
    /// Deletes an API key; false if the org has none with that id.
    async fn delete_api_key(&self, org: &OrgId, id: &str) -> Result<bool>;
    /// Stores a probe token of an organization (its private probes).
    async fn create_probe_token(
        &self,
        org: &OrgId,
        id: &str,
        name: &str,
        token_hash: &str,
    ) -> Result<()>;
    /// The organization of a probe token.
    async fn probe_token(&self, token_hash: &str) -> Result<Option<OrgId>>;
    /// An organization's probe tokens, by id.
    async fn probe_tokens(&self, org: &OrgId) -> Result<Vec<ProbeToken>>;
    /// Deletes a probe token; false if the org has none with that id.
    async fn delete_probe_token(&self, org: &OrgId, id: &str) -> Result<bool>;
    /// Creates or replaces an endpoint; with `must_exist`, false (and nothing written)
    /// when the org has no endpoint with that id.
    async fn put_endpoint(&self, endpoint: &Endpoint, must_exist: bool) -> Result<bool>;
    /// One endpoint of an org.
    async fn endpoint(&self, org: &OrgId, id: &EndpointId) -> Result<Option<Endpoint>>;
    /// An org's endpoints, by id.
    async fn endpoints(&self, org: &OrgId) -> Result<Vec<Endpoint>>;
    /// Deletes an endpoint; false if the org has none with that id.
    async fn delete_endpoint(&self, org: &OrgId, id: &EndpointId) -> Result<bool>;
    /// Every endpoint (of one org if given), by id: the probe's list.
    async fn all_endpoints(&self, org: Option<&OrgId>) -> Result<Vec<Endpoint>>;
    /// Every endpoint as stored (the JSON of [`Endpoint`]), by id: the probe's list
    /// cache reads only what it sends, without checking every check spec again.
    async fn all_endpoint_docs(&self) -> Result<Vec<String>> {
        self.all_endpoints(None)
            .await?
            .iter()
            .map(|e| serde_json::to_string(e).map_err(|e| StoreError::Unavailable(e.to_string())))
            .collect()
    }
    /// Stores an alert channel with its configuration (JSON).
    async fn put_channel(
        &self,
        org: &OrgId,
        channel: &AlertChannel,
        config_json: &str,
    ) -> Result<()>;
    /// An org's alert channels.
    async fn channels(&self, org: &OrgId) -> Result<Vec<AlertChannel>>;
    /// One alert channel and its configuration.
    async fn channel(&self, org: &OrgId, id: &str) -> Result<Option<(AlertChannel, String)>>;
    /// Deletes an alert channel; false if the org has none with that id.
    async fn delete_channel(&self, org: &OrgId, id: &str) -> Result<bool>;
    /// Stores a maintenance window.
    async fn put_window(&self, org: &OrgId, window: &MaintenanceWindow) -> Result<()>;
    /// An org's maintenance windows, by start.
    async fn windows(&self, org: &OrgId) -> Result<Vec<MaintenanceWindow>>;
    /// Deletes a window; false if the org has none with that id.
    async fn delete_window(&self, org: &OrgId, id: &str) -> Result<bool>;
    /// Stores a status page; `Conflict` when another page has the slug.
    async fn put_status_page(&self, org: &OrgId, page: &StatusPage) -> Result<()>;
    /// An org's status pages.
    async fn status_pages(&self, org: &OrgId) -> Result<Vec<StatusPage>>;
    /// A status page and its org, by its public slug.
    async fn status_page_by_slug(&self, slug: &str) -> Result<Option<(OrgId, StatusPage)>>;
    /// Deletes a status page; false if the org has none with that id.
    async fn delete_status_page(&self, org: &OrgId, id: &str) -> Result<bool>;
    /// Stores a result hook (created or replaced).
    async fn put_hook(&self, org: &OrgId, hook: &StoredHook) -> Result<()>;
    /// An org's result hooks, by id.
    async fn hooks(&self, org: &OrgId) -> Result<Vec<StoredHook>>;
    /// One result hook of an org.
    async fn hook(&self, org: &OrgId, id: &str) -> Result<Option<StoredHook>>;
    /// Deletes a result hook; false if the org has none with that id.
    async fn delete_hook(&self, org: &OrgId, id: &str) -> Result<bool>;
    /// Bumped on every endpoint write, so caches know when to reload.
    async fn generation(&self) -> Result<u64>;
}
