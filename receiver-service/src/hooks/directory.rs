//! Which result hooks of an organization receive every result: the [`HookDirectory`]
//! port, read from the admin API (`GET /v1/service/hooks/{org}`, service token) by
//! [`AdminHookDirectory`], or given ([`StaticHookDirectory`], tests).
//!
//! The admin API's answers are kept for `ttl` (30 s by default: a new hook starts
//! receiving within that), at most [`MAX_ENTRIES`] orgs (cleared when full); past the TTL
//! the last answer is used while the API cannot be reached.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use scoville_core::OrgId;
use scoville_core::hook::{HookEvents, HookRef};
use scoville_service_kit::cache::StaleCache;
use scoville_service_kit::service_client::ServiceClient;

use super::HookError;

/// Most organizations kept.
pub const MAX_ENTRIES: usize = 100_000;

/// Most hooks read for one org (the admin API allows 20).
const MAX_BYTES: usize = 64 * 1024;

/// Looks up an org's `all` hooks.
pub trait HookDirectory: Send + Sync + std::fmt::Debug {
    /// The ids of the org's hooks that receive every result (none: none).
    fn all_hooks<'a>(
        &'a self,
        org: &'a OrgId,
    ) -> BoxFuture<'a, Result<Arc<Vec<String>>, HookError>>;
}

/// The admin API as the hook directory.
#[derive(Debug)]
pub struct AdminHookDirectory {
    client: ServiceClient,
    cache: StaleCache<OrgId, Arc<Vec<String>>>,
}

impl AdminHookDirectory {
    /// Reads from the admin API at `base` with `token`; calls time out after `timeout`,
    /// answers are kept for `ttl`.
    pub fn new(base: &str, token: &str, timeout: Duration, ttl: Duration) -> Result<Self, String> {
        Ok(Self {
            client: ServiceClient::new(base, token, timeout)?,
            cache: StaleCache::new(ttl, MAX_ENTRIES),
        })
    }

    async fn fetch(&self, org: &OrgId) -> Result<Arc<Vec<String>>, HookError> {
        let path = format!("/v1/service/hooks/{}", org.as_str());
        let hooks: Vec<HookRef> = self
            .client
            .get_json(&path, MAX_BYTES)
            .await
            .map_err(HookError::Directory)?
            .unwrap_or_default();
        Ok(Arc::new(
            hooks
                .into_iter()
                .filter(|h| h.events == HookEvents::All)
                .map(|h| h.id)
                .collect(),
        ))
    }
}

impl HookDirectory for AdminHookDirectory {
    fn all_hooks<'a>(
        &'a self,
        org: &'a OrgId,
    ) -> BoxFuture<'a, Result<Arc<Vec<String>>, HookError>> {
        Box::pin(async move {
            if let Some(hooks) = self.cache.fresh(org) {
                return Ok(hooks);
            }
            match self.fetch(org).await {
                Ok(hooks) => {
                    self.cache.insert(org.clone(), hooks.clone());
                    Ok(hooks)
                }
                Err(e) => match self.cache.any(org) {
                    Some(stale) => {
                        tracing::warn!(error = %e, org = %org, "admin API unreachable; using the last list of result hooks");
                        Ok(stale)
                    }
                    None => Err(e),
                },
            }
        })
    }
}

/// Hooks given up front, by org.
#[derive(Debug, Clone, Default)]
pub struct StaticHookDirectory {
    hooks: HashMap<OrgId, Arc<Vec<String>>>,
}

impl StaticHookDirectory {
    /// `org`'s `all` hooks are `ids`.
    pub fn with(mut self, org: OrgId, ids: Vec<String>) -> Self {
        self.hooks.insert(org, Arc::new(ids));
        self
    }
}

impl HookDirectory for StaticHookDirectory {
    fn all_hooks<'a>(
        &'a self,
        org: &'a OrgId,
    ) -> BoxFuture<'a, Result<Arc<Vec<String>>, HookError>> {
        let found = self.hooks.get(org).cloned().unwrap_or_default();
        Box::pin(async move { Ok(found) })
    }
}
