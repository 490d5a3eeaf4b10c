//! Endpoints from the admin API: `GET /v1/probe/endpoints?region=&shard=&shards=&cursor=`
//! with the probe token, page after page until there is no `next_cursor`, every page
//! under a timeout and the number of pages bounded.

use futures::FutureExt;
use futures::future::BoxFuture;
use scoville_core::ProbeEndpoint;
use scoville_core::wire::{EndpointPage, ProbeScope};

use super::{EndpointSource, SourceError};

/// The admin API as a source.
#[derive(Debug, Clone)]
pub struct ApiSource {
    client: reqwest::Client,
    base: url::Url,
    token: Option<String>,
    max_pages: u32,
}

/// Largest page body accepted (a page of 1,000 endpoints is well under 1 MiB).
const MAX_PAGE_BYTES: usize = 32 * 1024 * 1024;

impl ApiSource {
    /// A source asking `base` (the admin API's base URL).
    pub fn new(
        base: &str,
        token: Option<String>,
        timeout: std::time::Duration,
        max_pages: u32,
    ) -> Result<Self, SourceError> {
        let error = |message: String| SourceError::Api {
            url: base.to_string(),
            message,
        };
        let base = url::Url::parse(base).map_err(|e| error(e.to_string()))?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("Scoville-Probe/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| error(e.to_string()))?;
        Ok(Self {
            client,
            base,
            token,
            max_pages,
        })
    }

    async fn page(
        &self,
        scope: &ProbeScope,
        cursor: Option<&str>,
        at_ms: Option<i64>,
    ) -> Result<EndpointPage, SourceError> {
        let mut url = self
            .base
            .join("v1/probe/endpoints")
            .map_err(|e| self.error(e.to_string()))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("region", scope.region.as_str());
            q.append_pair("shard", &scope.shard.index().to_string());
            q.append_pair("shards", &scope.shard.count().to_string());
            if let Some(c) = cursor {
                q.append_pair("cursor", c);
            }
            if let Some(at) = at_ms {
                q.append_pair("at", &at.to_string());
            }
        }
        let mut req = self.client.get(url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| self.error(e.to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(self.error(format!("HTTP {status}")));
        }
        if resp
            .content_length()
            .is_some_and(|l| l as usize > MAX_PAGE_BYTES)
        {
            return Err(self.error("page larger than 32 MiB".into()));
        }
        let body = resp.bytes().await.map_err(|e| self.error(e.to_string()))?;
        if body.len() > MAX_PAGE_BYTES {
            return Err(self.error("page larger than 32 MiB".into()));
        }
        scoville_core::parse::from_json(&body).map_err(|e| self.error(format!("bad page: {e}")))
    }

    fn error(&self, message: String) -> SourceError {
        SourceError::Api {
            url: self.base.to_string(),
            message,
        }
    }
}

impl EndpointSource for ApiSource {
    fn fetch<'a>(
        &'a self,
        scope: &'a ProbeScope,
    ) -> BoxFuture<'a, Result<Vec<ProbeEndpoint>, SourceError>> {
        self.fetch_at(scope, None)
    }

    /// Asks for the list due at `at_ms` (the admin API's `at`), so a simulated round
    /// (`probe run --at`, tests) gets the endpoints due then.
    fn fetch_at<'a>(
        &'a self,
        scope: &'a ProbeScope,
        at_ms: Option<i64>,
    ) -> BoxFuture<'a, Result<Vec<ProbeEndpoint>, SourceError>> {
        async move {
            let mut all = Vec::new();
            let mut cursor: Option<String> = None;
            for _ in 0..self.max_pages {
                let page = self.page(scope, cursor.as_deref(), at_ms).await?;
                all.extend(page.endpoints);
                match page.next_cursor {
                    Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
                    Some(_) => return Err(self.error("the cursor did not advance".into())),
                    None => return Ok(all),
                }
            }
            Err(self.error(format!("more than {} pages", self.max_pages)))
        }
        .boxed()
    }
}
