//! Domain registration expiry over RDAP, for the opt-in domain expiry notices.
//!
//! [`Rdap::domain_expiry`] takes a check's host name, finds its registrable domain (the
//! ICANN part of the Public Suffix List; IP literals have none), the RDAP server for it
//! from IANA's bootstrap file (`https://data.iana.org/rdap/dns.json`, configurable so
//! tests serve their own; fetched once and kept for `bootstrap_ttl`), and asks
//! `GET {base}domain/{name}` with `Accept: application/rdap+json` for the `expiration`
//! event.
//!
//! - **Bounded.** Every request has `timeout`, bodies are cut at `max_body_bytes` (then
//!   the answer is refused), at most `max_redirects` redirects are followed (https only),
//!   and at most `max_concurrent` lookups run at once (one that cannot start within
//!   `timeout` is skipped, so a slow server holds a probe round up by at most about three
//!   timeouts: turn, bootstrap file, answer). Answers are kept per domain for
//!   `cache_ttl` (24 h) and failures for `failure_ttl` (1 h), and concurrent askers of one
//!   domain share one request. How often a domain is asked at all is the probe's rule
//!   (about once a day per endpoint): RDAP servers rate-limit.
//! - **Never a check failure.** Any error means "unknown": it is logged with the domain
//!   and the reason, and the result carries no domain expiry.
//! - **Address rules.** RDAP servers are public services named by IANA's file (or by the
//!   operator's configured bootstrap URL), not by users, so the probe's address guard for
//!   check targets does not apply to them; a plain-http server or redirect is refused
//!   unless the bootstrap URL itself is plain http (a local test setup).

mod answer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OnceCell, Semaphore};

pub use answer::{Bootstrap, expiry_from_answer, registrable_domain};

/// IANA's bootstrap file for domain names.
pub const IANA_BOOTSTRAP: &str = "https://data.iana.org/rdap/dns.json";

/// Most domains kept in the cache; past it, stale entries are dropped first.
const MAX_CACHED: usize = 100_000;

/// How RDAP lookups are made.
#[derive(Debug, Clone)]
pub struct RdapConfig {
    /// The bootstrap file listing RDAP servers by top-level domain.
    pub bootstrap_url: url::Url,
    /// Deadline of each request (bootstrap file or domain answer), redirects included.
    pub timeout: Duration,
    /// Largest body read; a longer one is refused.
    pub max_body_bytes: usize,
    /// Most redirects followed.
    pub max_redirects: usize,
    /// Most lookups at once.
    pub max_concurrent: usize,
    /// How long an answer is kept.
    pub cache_ttl: Duration,
    /// How long a failed lookup is remembered (not retried).
    pub failure_ttl: Duration,
    /// How long the bootstrap file is kept.
    pub bootstrap_ttl: Duration,
    /// `User-Agent` sent.
    pub user_agent: String,
}

impl Default for RdapConfig {
    fn default() -> Self {
        Self {
            bootstrap_url: url::Url::parse(IANA_BOOTSTRAP).unwrap_or_else(|_| unreachable!()),
            timeout: Duration::from_secs(5),
            max_body_bytes: 1024 * 1024,
            max_redirects: 3,
            max_concurrent: 4,
            cache_ttl: Duration::from_secs(24 * 3600),
            failure_ttl: Duration::from_secs(3600),
            bootstrap_ttl: Duration::from_secs(24 * 3600),
            user_agent: concat!("Scoville-Probe/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// Why a lookup gave no expiry.
#[derive(Debug, thiserror::Error)]
pub enum RdapError {
    /// The HTTP client could not be built.
    #[error("RDAP client: {0}")]
    Client(String),
    /// The request failed (connect, TLS, timeout, too many redirects).
    #[error("request to {url} failed: {message}")]
    Request {
        /// The URL asked.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The server answered with an error status (404: not registered there).
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL asked.
        url: String,
        /// The status.
        status: u16,
    },
    /// The body was longer than allowed.
    #[error("body longer than {0} bytes")]
    TooLarge(usize),
    /// The body was not the JSON expected.
    #[error("bad body: {0}")]
    BadBody(String),
    /// The answer has no expiration event.
    #[error("the answer has no expiration event")]
    NoExpiration,
    /// The expiration date could not be read.
    #[error("bad expiration date {0}")]
    BadDate(String),
    /// The bootstrap file names no server for the domain's suffix.
    #[error("no RDAP server for {0}")]
    NoServer(String),
}

/// A cached lookup: when it was started, and its outcome once known.
type Entry = (Instant, Arc<OnceCell<Option<i64>>>);

/// RDAP lookups with their caches; share one per process.
#[derive(Debug)]
pub struct Rdap {
    client: reqwest::Client,
    config: RdapConfig,
    bootstrap: tokio::sync::Mutex<Option<(Instant, Arc<Bootstrap>)>>,
    cache: Mutex<HashMap<String, Entry>>,
    permits: Semaphore,
}

impl Rdap {
    /// Builds the client.
    pub fn new(config: RdapConfig) -> Result<Self, RdapError> {
        let allow_http = config.bootstrap_url.scheme() == "http";
        let max_redirects = config.max_redirects;
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max_redirects {
                attempt.error("too many redirects")
            } else if attempt.url().scheme() != "https" && !allow_http {
                attempt.error("redirect to a non-https URL")
            } else {
                attempt.follow()
            }
        });
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(redirects)
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(|e| RdapError::Client(e.to_string()))?;
        let permits = Semaphore::new(config.max_concurrent.max(1));
        Ok(Self {
            client,
            config,
            bootstrap: tokio::sync::Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
            permits,
        })
    }

    /// The expiry of `host`'s domain registration, Unix ms, from the cache or RDAP;
    /// `None` when unknown (no registrable domain, no server, any error: logged).
    pub async fn domain_expiry(&self, host: &str) -> Option<i64> {
        let Some(domain) = registrable_domain(host) else {
            tracing::debug!(host, "no registrable domain; no RDAP lookup");
            return None;
        };
        let cell = self.cache_cell(&domain);
        let looked_up = cell
            .get_or_try_init(|| async {
                // Waiting for a turn is bounded too: a lookup that cannot start within
                // `timeout` is skipped (and not remembered), so lookups never hold a
                // round up for long.
                let Ok(Ok(_permit)) =
                    tokio::time::timeout(self.config.timeout, self.permits.acquire()).await
                else {
                    tracing::warn!(domain = %domain, "RDAP lookups busy; domain expiry unknown this time");
                    return Err(());
                };
                Ok(match self.lookup(&domain).await {
                    Ok(ms) => {
                        tracing::info!(domain = %domain, expires_at_ms = ms, "RDAP domain expiry");
                        Some(ms)
                    }
                    Err(e) => {
                        tracing::warn!(domain = %domain, error = %e, "RDAP lookup failed; domain expiry unknown");
                        None
                    }
                })
            })
            .await;
        looked_up.ok().copied().flatten()
    }

    /// The shared cell of `domain`: a fresh or in-flight one, else a new one.
    fn cache_cell(&self, domain: &str) -> Arc<OnceCell<Option<i64>>> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let fresh = |(at, cell): &Entry| match cell.get() {
            None => true,
            Some(Some(_)) => now.duration_since(*at) < self.config.cache_ttl,
            Some(None) => now.duration_since(*at) < self.config.failure_ttl,
        };
        if let Some(entry) = cache.get(domain).filter(|e| fresh(e)) {
            return entry.1.clone();
        }
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, e| fresh(e));
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        let cell = Arc::new(OnceCell::new());
        cache.insert(domain.to_string(), (now, cell.clone()));
        cell
    }

    /// One uncached lookup of a registrable domain (bootstrap file from its cache).
    pub async fn lookup(&self, domain: &str) -> Result<i64, RdapError> {
        let bootstrap = self.bootstrap().await?;
        let base = bootstrap
            .server_for(domain)
            .ok_or_else(|| RdapError::NoServer(domain.to_string()))?;
        let url = base
            .join(&format!("domain/{domain}"))
            .map_err(|e| RdapError::NoServer(format!("{domain}: {e}")))?;
        let body = self.get(&url, "application/rdap+json").await?;
        expiry_from_answer(&body)
    }

    async fn bootstrap(&self) -> Result<Arc<Bootstrap>, RdapError> {
        let mut slot = self.bootstrap.lock().await;
        if let Some((_, b)) = slot
            .as_ref()
            .filter(|(at, _)| at.elapsed() < self.config.bootstrap_ttl)
        {
            return Ok(b.clone());
        }
        let url = &self.config.bootstrap_url;
        let body = self.get(url, "application/json").await?;
        let parsed = Arc::new(Bootstrap::parse(&body, url.scheme() == "http")?);
        tracing::info!(url = %url, suffixes = parsed.len(), "RDAP bootstrap file loaded");
        *slot = Some((Instant::now(), parsed.clone()));
        Ok(parsed)
    }

    /// A GET with the body read up to the limit.
    async fn get(&self, url: &url::Url, accept: &str) -> Result<Vec<u8>, RdapError> {
        let failed = |e: reqwest::Error| RdapError::Request {
            url: url.to_string(),
            message: e.to_string(),
        };
        let mut response = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, accept)
            .send()
            .await
            .map_err(failed)?;
        let status = response.status();
        if !status.is_success() {
            return Err(RdapError::Status {
                url: url.to_string(),
                status: status.as_u16(),
            });
        }
        let limit = self.config.max_body_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(RdapError::TooLarge(limit));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > limit {
                return Err(RdapError::TooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
