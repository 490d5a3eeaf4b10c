//! Alert channels read from the admin API (`GET /v1/service/channels/{org}/{id}` with a
//! service token), where people create them.
//!
//! Each configuration is kept for `ttl` (30 s by default): an edit reaches notifiers
//! within that time. When the API cannot be reached the last configuration is used
//! however old; with none the lookup fails and the jobs are retried later (never
//! dropped). A channel the API does not know (deleted) is `None`: its jobs are
//! dead-lettered. Configurations are parsed and validated as they arrive. The cache is
//! bounded (cleared when full).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use scoville_core::OrgId;

use crate::channel::ChannelConfig;
use crate::directory::{Directory, DirectoryError};

/// Most channels kept.
const MAX_ENTRIES: usize = 100_000;

type Cached = (Instant, Option<Arc<ChannelConfig>>);

/// The admin API as the channel directory.
#[derive(Debug)]
pub struct AdminChannelDirectory {
    client: reqwest::Client,
    base: String,
    token: String,
    ttl: Duration,
    cache: Mutex<HashMap<(OrgId, String), Cached>>,
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
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| DirectoryError(e.to_string()))?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            ttl,
            cache: Mutex::default(),
        })
    }

    fn cached(
        &self,
        key: &(OrgId, String),
        fresh_only: bool,
    ) -> Option<Option<Arc<ChannelConfig>>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(key)
            .filter(|(at, _)| !fresh_only || at.elapsed() < self.ttl)
            .map(|(_, c)| c.clone())
    }

    async fn fetch(
        &self,
        org: &OrgId,
        channel_id: &str,
    ) -> Result<Option<Arc<ChannelConfig>>, DirectoryError> {
        crate::directory::check_channel_id(channel_id).map_err(DirectoryError)?;
        let url = format!(
            "{}/v1/service/channels/{}/{channel_id}",
            self.base,
            org.as_str()
        );
        let resp = self
            .client
            .get(&url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| DirectoryError(e.to_string()))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(DirectoryError(format!("admin API answered {status}")));
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| DirectoryError(e.to_string()))?;
        if bytes.len() > 256 * 1024 {
            return Err(DirectoryError("channel configuration over 256 KiB".into()));
        }
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| DirectoryError(e.to_string()))?;
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
            if let Some(c) = self.cached(&key, true) {
                return Ok(c);
            }
            match self.fetch(org, channel_id).await {
                Ok(c) => {
                    let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                    if cache.len() >= MAX_ENTRIES {
                        cache.clear();
                    }
                    cache.insert(key, (Instant::now(), c.clone()));
                    Ok(c)
                }
                Err(e) => match self.cached(&key, false) {
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
