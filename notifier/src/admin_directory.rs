//! Alert channels read from the admin API (`GET /v1/service/channels/{org}/{id}` with a
//! service token), where people create them.
//!
//! Each configuration is kept for `ttl` (30 s by default): an edit reaches notifiers
//! within that time. When the API cannot be reached the last configuration is used
//! however old; with none the lookup fails and the jobs are retried later (never
//! dropped). A channel the API does not know (deleted) is `None`: its jobs are
//! dead-lettered. Configurations are parsed and validated as they arrive. The cache is
//! bounded (cleared when full).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use scoville_core::OrgId;
use scoville_service_kit::cache::StaleCache;
use scoville_service_kit::service_client::ServiceClient;

use crate::channel::ChannelConfig;
use crate::directory::{Directory, DirectoryError};

/// Most channels kept.
const MAX_ENTRIES: usize = 100_000;

/// The admin API as the channel directory.
#[derive(Debug)]
pub struct AdminChannelDirectory {
    client: ServiceClient,
    cache: StaleCache<(OrgId, String), Option<Arc<ChannelConfig>>>,
}

impl AdminChannelDirectory {
    /// Reads from the admin API at `base` with `token`; calls time out after `timeout`,
    /// answers are kept for `ttl`.
    pub fn new(
        base: &str,
        token: &str,
        timeout: Duration,
        ttl: Duration,
    ) -> Result<Self, DirectoryError> {
        Ok(Self {
            client: ServiceClient::new(base, token, timeout).map_err(DirectoryError)?,
            cache: StaleCache::new(ttl, MAX_ENTRIES),
        })
    }

    async fn fetch(
        &self,
        org: &OrgId,
        channel_id: &str,
    ) -> Result<Option<Arc<ChannelConfig>>, DirectoryError> {
        crate::directory::check_channel_id(channel_id).map_err(DirectoryError)?;
        let path = format!("/v1/service/channels/{}/{channel_id}", org.as_str());
        let Some(value) = self
            .client
            .get_json::<serde_json::Value>(&path, 256 * 1024)
            .await
            .map_err(DirectoryError)?
        else {
            return Ok(None);
        };
        // A configuration the notifier refuses is the admin API's bug: report it as a
        // lookup failure (retried), the dispatcher validates again anyway.
        let config =
            ChannelConfig::parse_value(value).map_err(|e| DirectoryError(e.to_string()))?;
        Ok(Some(Arc::new(config)))
    }
}

impl Directory for AdminChannelDirectory {
    fn channel<'a>(
        &'a self,
        org: &'a OrgId,
        channel_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<ChannelConfig>>, DirectoryError>> {
        Box::pin(async move {
            let key = (org.clone(), channel_id.to_string());
            if let Some(c) = self.cache.fresh(&key) {
                return Ok(c);
            }
            match self.fetch(org, channel_id).await {
                Ok(c) => {
                    self.cache.insert(key, c.clone());
                    Ok(c)
                }
                Err(e) => match self.cache.any(&key) {
                    Some(stale) => {
                        tracing::warn!(error = %e, channel_id, "admin API unreachable; using the last channel configuration");
                        Ok(stale)
                    }
                    None => Err(e),
                },
            }
        })
    }
}
