//! The directory read from the admin API (`GET /v1/service/endpoints/{org}/{id}` with a
//! service token): names, targets, incident policies, alert channels and maintenance
//! windows as people set them there.
//!
//! Each answer is kept for `ttl` (30 s by default), so an edit reaches the failure service
//! within that time and a burst of results costs one request per endpoint. When the API
//! cannot be reached, the last answer is used however old (logged); with none, the call
//! fails and the caller answers 503, so the probe retries rather than a notice going out
//! without its channels. An endpoint the API does not know (deleted) gets the defaults:
//! no channels. The cache is bounded (`max_entries`; cleared when full).

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use scoville_core::incident::IncidentPolicy;
use scoville_core::wire::DirectoryEntry;
use scoville_core::{EndpointId, OrgId};
use scoville_service_kit::cache::StaleCache;
use scoville_service_kit::service_client::ServiceClient;

use crate::directory::{Directory, DirectoryError, EndpointInfo, Window};

/// Most entries kept.
const MAX_ENTRIES: usize = 100_000;

/// The admin API as the directory.
#[derive(Debug)]
pub struct AdminDirectory {
    client: ServiceClient,
    cache: StaleCache<(OrgId, EndpointId), EndpointInfo>,
}

impl AdminDirectory {
    /// Reads from the admin API at `base` with `token`; each call times out after
    /// `timeout`, answers are kept for `ttl`.
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
        endpoint: &EndpointId,
    ) -> Result<EndpointInfo, DirectoryError> {
        let path = format!(
            "/v1/service/endpoints/{}/{}",
            org.as_str(),
            endpoint.as_str()
        );
        let Some(e) = self
            .client
            .get_json::<DirectoryEntry>(&path, 1024 * 1024)
            .await
            .map_err(DirectoryError)?
        else {
            return Ok(EndpointInfo {
                name: endpoint.as_str().to_string(),
                target: String::new(),
                policy: IncidentPolicy::default(),
                channels: Vec::new(),
                maintenance: Vec::new(),
                link: String::new(),
            });
        };
        Ok(EndpointInfo {
            name: e.name,
            target: e.target,
            policy: e.policy,
            channels: e.channels,
            maintenance: e
                .maintenance
                .into_iter()
                .map(|w| Window {
                    from_ms: w.from_ms,
                    to_ms: w.to_ms,
                })
                .collect(),
            link: e.link,
        })
    }
}

impl Directory for AdminDirectory {
    fn endpoint<'a>(
        &'a self,
        org: &'a OrgId,
        endpoint: &'a EndpointId,
    ) -> BoxFuture<'a, Result<EndpointInfo, DirectoryError>> {
        async move {
            let key = (org.clone(), endpoint.clone());
            if let Some(info) = self.cache.fresh(&key) {
                return Ok(info);
            }
            match self.fetch(org, endpoint).await {
                Ok(info) => {
                    self.cache.insert(key, info.clone());
                    Ok(info)
                }
                Err(e) => match self.cache.any(&key) {
                    Some(stale) => {
                        tracing::warn!(error = %e, org = org.as_str(), endpoint = endpoint.as_str(), "admin API unreachable; using the last directory entry");
                        Ok(stale)
                    }
                    None => Err(e),
                },
            }
        }
        .boxed()
    }
}
