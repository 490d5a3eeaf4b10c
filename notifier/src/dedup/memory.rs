//! In-process dedup keys for one process (the all-in-one mode, a single worker, tests):
//! a map from key to state with lease and TTL deadlines, bounded to `max_keys` entries
//! (expired entries go first, then those closest to expiring).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use futures::future::BoxFuture;

use super::{Claim, ClaimToken, DedupError, DedupSettings, DedupStore};

/// Dedup keys in memory.
#[derive(Debug)]
pub struct MemoryDedup {
    settings: DedupSettings,
    max_keys: usize,
    keys: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Clone)]
struct Entry {
    sent: bool,
    token: ClaimToken,
    /// End of the lease (in flight) or of retention (sent).
    until: Instant,
}

impl MemoryDedup {
    /// A store with `settings`, remembering at most `max_keys` keys.
    pub fn new(settings: DedupSettings, max_keys: usize) -> Self {
        Self {
            settings,
            max_keys: max_keys.max(1),
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Keys currently remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock leaves the map consistent (single inserts and
        // removals), so a poisoned lock is still usable.
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn claim_now(&self, key: &str, now: Instant) -> Claim {
        let mut keys = self.lock();
        if let Some(e) = keys.get(key) {
            if e.until > now {
                return if e.sent {
                    Claim::AlreadySent
                } else {
                    Claim::InFlight {
                        retry_in: e.until - now,
                    }
                };
            }
        }
        if keys.len() >= self.max_keys && !keys.contains_key(key) {
            keys.retain(|_, e| e.until > now);
            if keys.len() >= self.max_keys {
                let mut by_age: Vec<(Instant, String)> =
                    keys.iter().map(|(k, e)| (e.until, k.clone())).collect();
                by_age.sort();
                let drop = (self.max_keys / 10).max(1);
                for (_, k) in by_age.into_iter().take(drop) {
                    keys.remove(&k);
                }
            }
        }
        let token = ClaimToken::random();
        keys.insert(
            key.to_string(),
            Entry {
                sent: false,
                token: token.clone(),
                until: now + self.settings.lease,
            },
        );
        Claim::Acquired(token)
    }
}

impl DedupStore for MemoryDedup {
    fn claim<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Claim, DedupError>> {
        let claim = self.claim_now(key, Instant::now());
        Box::pin(async move { Ok(claim) })
    }

    fn confirm<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), DedupError>> {
        let mut keys = self.lock();
        if let Some(e) = keys.get_mut(key) {
            if &e.token == token {
                e.sent = true;
                e.until = Instant::now() + self.settings.ttl;
            }
        }
        Box::pin(async { Ok(()) })
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), DedupError>> {
        let mut keys = self.lock();
        if keys.get(key).is_some_and(|e| &e.token == token && !e.sent) {
            keys.remove(key);
        }
        Box::pin(async { Ok(()) })
    }
}

/// Retention long enough for tests and one-process use.
impl Default for MemoryDedup {
    fn default() -> Self {
        Self::new(DedupSettings::default(), 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn conforms() {
        let lease = Duration::from_millis(100);
        let store = MemoryDedup::new(
            DedupSettings {
                lease,
                ttl: Duration::from_secs(60),
            },
            1000,
        );
        super::super::conformance::check(&store, lease, "mem").await;
    }

    #[tokio::test]
    async fn stays_bounded() {
        let store = MemoryDedup::new(DedupSettings::default(), 100);
        for i in 0..1000 {
            assert!(matches!(
                store.claim(&format!("k{i}")).await.unwrap(),
                Claim::Acquired(_)
            ));
        }
        assert!(store.len() <= 100, "{}", store.len());
        // The newest key is still remembered.
        assert!(matches!(
            store.claim("k999").await.unwrap(),
            Claim::InFlight { .. }
        ));
    }
}
