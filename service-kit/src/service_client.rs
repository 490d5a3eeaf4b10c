//! Reading another Scoville service's JSON over HTTP with a service token: one client
//! with timeouts, the answer read chunk by chunk up to a size limit (never buffered past
//! it), 404 as "no such thing", any other non-2xx as an error naming the status.

use std::time::Duration;

use serde::de::DeserializeOwned;

/// A client of one service.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl ServiceClient {
    /// A client of the service at `base`, sending `token`; every call times out after
    /// `timeout`.
    pub fn new(base: &str, token: &str, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
        })
    }

    /// `GET <base><path>` as JSON: `None` on 404; an error when unreachable, on another
    /// non-2xx status, past `max_bytes`, or when the body is not a `T`.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        max_bytes: usize,
    ) -> Result<Option<T>, String> {
        let mut resp = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(format!("{} answered {status}", self.base));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > max_bytes {
                return Err(format!("answer of {path} over {max_bytes} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}
