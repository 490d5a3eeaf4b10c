//! A small cache for answers read from another service: an entry is fresh for `ttl`,
//! and kept past that as a fallback for when the service cannot be reached (a stale
//! answer beats none for names, channels and policies). Bounded: when full it is
//! cleared, which costs one read per key.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The cache.
#[derive(Debug)]
pub struct StaleCache<K, V> {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> StaleCache<K, V> {
    /// Entries fresh for `ttl`, at most `max_entries` of them.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries: max_entries.max(1),
            entries: Mutex::default(),
        }
    }

    /// The entry of `key` if it is fresh.
    pub fn fresh(&self, key: &K) -> Option<V> {
        self.lock()
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    /// The entry of `key` however old.
    pub fn any(&self, key: &K) -> Option<V> {
        self.lock().get(key).map(|(_, v)| v.clone())
    }

    /// Stores `value` for `key`, fresh from now.
    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.lock();
        if entries.len() >= self.max_entries {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), value));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (Instant, V)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_then_stale_then_bounded() {
        let c = StaleCache::new(Duration::from_millis(30), 2);
        c.insert("a", 1);
        assert_eq!(c.fresh(&"a"), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(c.fresh(&"a"), None);
        assert_eq!(c.any(&"a"), Some(1));
        c.insert("b", 2);
        c.insert("c", 3);
        assert_eq!(
            (c.any(&"a"), c.any(&"b"), c.any(&"c")),
            (None, None, Some(3))
        );
    }
}
