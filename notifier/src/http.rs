//! The outbound HTTP client every channel shares ([`SendContext`]), built once per process
//! so connections are pooled, with the rules every notifier request follows:
//!
//! - **Address guard.** Like the probe, a notifier never reaches loopback, private,
//!   link-local (cloud metadata) or other non-global addresses unless the operator's
//!   [`AddressPolicy`] allows it: a resolver filters every DNS answer through the policy
//!   and IP-literal hosts are checked before the request is made. A webhook URL typed by
//!   a user therefore cannot be used to probe the operator's network. Redirects are not
//!   followed (a 3xx is a permanent failure), so no hop escapes the check.
//! - **Timeouts.** Every request has a total timeout and a connect timeout; response
//!   bodies are read up to [`MAX_RESPONSE_BYTES`] only.
//! - **No secrets in errors.** Webhook URLs and bot tokens are the credentials, so errors
//!   are rendered with reqwest's URL stripped ([`reqwest::Error::without_url`]).
//! - No system proxy: a proxy would resolve names itself and bypass the guard.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::HeaderMap;
use scoville_core::{AddressPolicy, BlockedAddress};
use url::{Host, Url};

use crate::channel::{SendError, classify};

/// Largest response body read (the rest is dropped): enough for any error message.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// What channels need to send: the shared HTTP client, the address policy (also applied
/// to SMTP servers) and the per-request timeout.
#[derive(Debug, Clone)]
pub struct SendContext {
    http: reqwest::Client,
    policy: Arc<AddressPolicy>,
    timeout: Duration,
}

/// The HTTP client could not be built (TLS backend initialisation).
#[derive(Debug, thiserror::Error)]
#[error("building the HTTP client: {0}")]
pub struct ClientBuildError(String);

impl SendContext {
    /// A context whose requests obey `policy` and give up after `timeout`.
    pub fn new(policy: AddressPolicy, timeout: Duration) -> Result<Self, ClientBuildError> {
        let policy = Arc::new(policy);
        let http = reqwest::Client::builder()
            .user_agent(concat!("Scoville-Notifier/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                policy: Arc::clone(&policy),
            }))
            .build()
            .map_err(|e| ClientBuildError(e.without_url().to_string()))?;
        Ok(Self {
            http,
            policy,
            timeout,
        })
    }

    /// The shared client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The address policy.
    pub fn policy(&self) -> &AddressPolicy {
        &self.policy
    }

    /// Timeout of one request (and of one SMTP session).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Refuses URLs whose host is an IP literal the policy does not allow (names are
    /// checked by the resolver once resolved).
    pub(crate) fn check_url(&self, url: &Url) -> Result<(), SendError> {
        let ip = match url.host() {
            Some(Host::Ipv4(ip)) => ip.into(),
            Some(Host::Ipv6(ip)) => ip.into(),
            Some(Host::Domain(_)) => return Ok(()),
            None => return Err(SendError::Permanent("URL has no host".into())),
        };
        self.policy
            .check(ip)
            .map_err(|b| SendError::Permanent(b.to_string()))
    }

    /// Sends one request built from `req` to `url` (checked with the policy first) and
    /// classifies the answer with [`classify`]: the answer on 2xx, [`SendError`]
    /// otherwise.
    pub(crate) async fn execute(
        &self,
        url: &Url,
        req: reqwest::RequestBuilder,
    ) -> Result<Answer, SendError> {
        let answer = self.execute_raw(url, req).await?;
        answer.classify()?;
        Ok(answer)
    }

    /// Like [`Self::execute`] but returns any answer the server gave, for channels that
    /// read more from an error body (a retry delay) before classifying.
    pub(crate) async fn execute_raw(
        &self,
        url: &Url,
        req: reqwest::RequestBuilder,
    ) -> Result<Answer, SendError> {
        self.check_url(url)?;
        let resp = req.send().await.map_err(request_error)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = read_limited(resp).await;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// A server's answer.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// Status code.
    pub(crate) status: reqwest::StatusCode,
    /// Headers.
    pub(crate) headers: HeaderMap,
    /// Body, up to [`MAX_RESPONSE_BYTES`], lossily decoded.
    pub(crate) body: String,
}

impl Answer {
    /// [`classify`] applied to this answer.
    pub(crate) fn classify(&self) -> Result<(), SendError> {
        classify(self.status, &self.headers, &self.body)
    }

    /// [`Self::classify`], with `retry_after` filled from `from_body` when the server
    /// sent no `Retry-After` header but said it in the body.
    pub(crate) fn classify_with(
        &self,
        from_body: impl FnOnce(&str) -> Option<Duration>,
    ) -> Result<(), SendError> {
        match self.classify() {
            Err(SendError::Retryable {
                retry_after: None,
                reason,
            }) => Err(SendError::Retryable {
                retry_after: from_body(&self.body),
                reason,
            }),
            other => other,
        }
    }
}

/// Reads at most [`MAX_RESPONSE_BYTES`] of the body (the client's timeout bounds the time).
pub(crate) async fn read_limited(mut resp: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = MAX_RESPONSE_BYTES - buf.len();
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if buf.len() >= MAX_RESPONSE_BYTES {
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Maps a transport error: a refused address or a malformed request is permanent,
/// anything on the way (connect, timeout, reset) retryable. The URL is stripped.
pub(crate) fn request_error(e: reqwest::Error) -> SendError {
    if let Some(blocked) = find_source::<BlockedAddress>(&e) {
        return SendError::Permanent(blocked.to_string());
    }
    let permanent = e.is_builder() || e.is_redirect();
    let timeout = e.is_timeout();
    let reason = error_chain(&e.without_url());
    if permanent {
        SendError::Permanent(reason)
    } else if timeout {
        SendError::retryable(format!("timed out: {reason}"))
    } else {
        SendError::retryable(reason)
    }
}

/// The error and its sources, joined with `: `.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

fn find_source<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        cur = err.source();
    }
    None
}

/// Resolves with the system resolver and keeps only the addresses the policy allows.
#[derive(Debug)]
struct GuardedResolver {
    policy: Arc<AddressPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let addrs = allowed_addresses(&policy, name.as_str(), 0).await?;
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Resolves `host` and keeps the addresses `policy` allows; when every address is refused
/// the error is the first [`BlockedAddress`].
pub(crate) async fn allowed_addresses(
    policy: &AddressPolicy,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
    // The system resolver has its own timeouts; this bounds a stuck one.
    let resolved: Vec<SocketAddr> = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::lookup_host((host, port)),
    )
    .await
    .map_err(|_| format!("resolving {host} timed out"))??
    .collect();
    let mut blocked = None;
    let mut allowed = Vec::with_capacity(resolved.len());
    for addr in resolved {
        match policy.check(addr.ip()) {
            Ok(()) => allowed.push(addr),
            Err(b) => {
                blocked.get_or_insert(b);
            }
        }
    }
    match (allowed.is_empty(), blocked) {
        (false, _) => Ok(allowed),
        (true, Some(b)) => Err(Box::new(b)),
        (true, None) => Err(format!("{host} has no addresses").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_guard_refuses_loopback_by_name_and_by_literal() {
        let ctx = SendContext::new(AddressPolicy::global_only(), Duration::from_secs(2)).unwrap();
        let url = Url::parse("http://127.0.0.1:9/hook").unwrap();
        let err = ctx
            .execute(&url, ctx.http().post(url.clone()))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, SendError::Permanent(r) if r.contains("loopback")),
            "{err:?}"
        );
        let url = Url::parse("http://localhost:9/hook").unwrap();
        let err = ctx
            .execute(&url, ctx.http().post(url.clone()))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, SendError::Permanent(r) if r.contains("not allowed")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn errors_do_not_carry_the_url() {
        let ctx = SendContext::new(AddressPolicy::allow_private(), Duration::from_secs(2)).unwrap();
        // Nothing listens on port 9 of loopback (discard): connection refused.
        let url = Url::parse("http://127.0.0.1:9/services/SECRET-TOKEN").unwrap();
        let err = ctx
            .execute(&url, ctx.http().post(url.clone()))
            .await
            .unwrap_err();
        let text = format!("{err:?} {err}");
        assert!(matches!(err, SendError::Retryable { .. }), "{text}");
        assert!(!text.contains("SECRET-TOKEN"), "{text}");
    }
}
