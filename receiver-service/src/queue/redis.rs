//! The Redis adapter: Redis Streams with a consumer group.
//!
//! Why streams and not lists with BLMOVE: a stream keeps every entry until it is
//! acknowledged *and* deleted, a consumer group remembers which consumer holds which
//! entry, and XAUTOCLAIM hands entries a dead worker left pending to a live one, all
//! server-side. With lists the same needs a processing list per worker and a reaper that
//! guesses which worker died. Streams also give each entry an id, which makes
//! redelivery visible.
//!
//! The receiver's side: one Lua script checks the backlog counter, XADDs the batch (fields
//! `n`, the count, and `b`, the body) and raises the counter, atomically; past
//! `max_backlog` results it refuses and the receiver answers 503. The worker lowers the
//! counter when it acknowledges and deletes an entry. Every call has a timeout.
//!
//! TLS: a `rediss://` URL connects over rustls, trusting the system's roots (what
//! ElastiCache's in-transit encryption needs) or, with [`RedisEndpoint::with_ca_pem`]
//! (`queue.redis_ca_file`), only the given CA (a self-hosted Redis with its own CA).

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use redis::aio::ConnectionManager;
use tokio::sync::Mutex;

use super::{QueueError, QueuedBatch, ResultQueue};

const PUSH: &str = r"
local backlog = tonumber(redis.call('GET', KEYS[2]) or '0')
local n = tonumber(ARGV[2])
if backlog + n > tonumber(ARGV[1]) then
  return {0, backlog}
end
redis.call('XADD', KEYS[1], '*', 'n', ARGV[2], 'b', ARGV[3])
redis.call('INCRBY', KEYS[2], n)
return {1, backlog + n}
";

/// Where Redis is: its URL and, for `rediss://` with a private CA, that CA's PEM.
#[derive(Clone)]
pub struct RedisEndpoint {
    url: String,
    ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for RedisEndpoint {
    // The URL may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEndpoint")
            .field("tls", &self.url.starts_with("rediss://"))
            .field("private_ca", &self.ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

impl RedisEndpoint {
    /// Redis at `url` (`redis://` or `rediss://`).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ca_pem: None,
        }
    }

    /// Trusts only the CA certificate(s) in `pem` for `rediss://`.
    #[must_use]
    pub fn with_ca_pem(mut self, pem: Vec<u8>) -> Self {
        self.ca_pem = Some(pem);
        self
    }

    fn client(self) -> Result<redis::Client, QueueError> {
        let tls = self.url.starts_with("rediss://");
        if tls {
            // The AWS SDK and reqwest each enable a rustls provider, so rustls cannot
            // pick one by itself: name it (once per process; a second call is a no-op).
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let unavailable = |e: redis::RedisError| QueueError::Unavailable(e.to_string());
        match self.ca_pem {
            Some(_) if !tls => Err(QueueError::Unavailable(
                "a CA for Redis needs a rediss:// URL".into(),
            )),
            Some(pem) => redis::Client::build_with_tls(
                self.url.as_str(),
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                },
            )
            .map_err(unavailable),
            None => redis::Client::open(self.url.as_str()).map_err(unavailable),
        }
    }
}

impl From<&str> for RedisEndpoint {
    fn from(url: &str) -> Self {
        Self::new(url)
    }
}

impl From<&String> for RedisEndpoint {
    fn from(url: &String) -> Self {
        Self::new(url.as_str())
    }
}

impl From<String> for RedisEndpoint {
    fn from(url: String) -> Self {
        Self::new(url)
    }
}

/// A lazily made, self-healing Redis connection whose every call has a timeout.
pub(crate) struct RedisConn {
    client: redis::Client,
    conn: Mutex<Option<ConnectionManager>>,
    pub(crate) timeout: Duration,
}

impl RedisConn {
    pub(crate) fn new(at: RedisEndpoint, timeout: Duration) -> Result<Self, QueueError> {
        let client = at.client()?;
        Ok(Self {
            client,
            conn: Mutex::new(None),
            timeout,
        })
    }

    pub(crate) async fn connection(&self) -> Result<ConnectionManager, QueueError> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let conn = tokio::time::timeout(self.timeout, ConnectionManager::new(self.client.clone()))
            .await
            .map_err(|_| QueueError::Unavailable("connecting to Redis timed out".into()))?
            .map_err(|e| QueueError::Unavailable(e.to_string()))?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    pub(crate) async fn timed<T>(
        &self,
        f: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, QueueError> {
        self.timed_for(self.timeout, f).await
    }

    pub(crate) async fn timed_for<T>(
        &self,
        limit: Duration,
        f: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, QueueError> {
        tokio::time::timeout(limit, f)
            .await
            .map_err(|_| QueueError::Unavailable("Redis did not answer in time".into()))?
            .map_err(|e| QueueError::Unavailable(e.to_string()))
    }
}

/// The key of a stream's backlog counter.
pub(crate) fn backlog_key(stream: &str) -> String {
    format!("{stream}:backlog")
}

/// Results queued in a Redis stream.
pub struct RedisQueue {
    redis: RedisConn,
    stream: String,
    backlog_key: String,
    max_backlog: u64,
    push: redis::Script,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl RedisQueue {
    /// A queue on stream `stream` at `url`. Connects lazily, so the receiver starts (and
    /// answers 503) while Redis is down.
    pub fn new(
        at: impl Into<RedisEndpoint>,
        stream: &str,
        max_backlog: u64,
        timeout: Duration,
    ) -> Result<Self, QueueError> {
        Ok(Self {
            redis: RedisConn::new(at.into(), timeout)?,
            stream: stream.to_string(),
            backlog_key: backlog_key(stream),
            max_backlog,
            push: redis::Script::new(PUSH),
        })
    }

    /// The stream's key.
    pub fn stream(&self) -> &str {
        &self.stream
    }
}

impl ResultQueue for RedisQueue {
    fn push(&self, batch: QueuedBatch) -> BoxFuture<'_, Result<(), QueueError>> {
        async move {
            let mut conn = self.redis.connection().await?;
            let mut invocation = self.push.key(&self.stream);
            invocation
                .key(&self.backlog_key)
                .arg(self.max_backlog)
                .arg(batch.count)
                .arg(batch.body.as_ref());
            let (accepted, backlog): (u8, u64) =
                self.redis.timed(invocation.invoke_async(&mut conn)).await?;
            if accepted == 1 {
                Ok(())
            } else {
                Err(QueueError::Full { backlog })
            }
        }
        .boxed()
    }

    fn backlog(&self) -> BoxFuture<'_, Result<u64, QueueError>> {
        async move {
            let mut conn = self.redis.connection().await?;
            let n: Option<u64> = self
                .redis
                .timed(
                    redis::cmd("GET")
                        .arg(&self.backlog_key)
                        .query_async(&mut conn),
                )
                .await?;
            Ok(n.unwrap_or(0))
        }
        .boxed()
    }
}
