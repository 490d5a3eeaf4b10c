//! Dedup: the notification queue delivers at least once, and a [`DedupStore`] makes that
//! effectively once. The key is [`NotificationJob::dedup_key`] (incident, transition,
//! since, channel): the same job delivered twice, by SQS or by the failure service
//! retrying a send, has the same key and is sent once.
//!
//! A key goes through two states, so that a worker dying mid-send cannot lose a
//! notification and two workers cannot both send it:
//!
//! 1. [`DedupStore::claim`] (first claim wins) marks it *in flight* for a lease and hands
//!    back a [`ClaimToken`]. A second claim while the lease runs gets
//!    [`Claim::InFlight`] (the job goes back to the queue for later, it is **not**
//!    dropped); once the lease has expired without a confirmation, the next claim wins
//!    (the first worker died).
//! 2. After a successful send, [`DedupStore::confirm`] marks it *sent* for the store's
//!    TTL: any later claim gets [`Claim::AlreadySent`] and the duplicate is deleted.
//!    After a failed send, [`DedupStore::release`] forgets the claim so a retry can claim
//!    again.
//!
//! Confirm and release only act when the token is still the holder's, so a worker whose
//! lease ran out cannot undo a newer claim. The lease must outlast one delivery (all
//! attempts and their waits); the TTL must outlast the queue's redelivery window.
//!
//! Adapters: [`memory::MemoryDedup`] (one process: the all-in-one mode, tests) and
//! [`dynamodb::DynamoDedup`] (conditional `PutItem`, a TTL attribute; shared by every
//! Lambda invocation and worker).
//!
//! [`NotificationJob::dedup_key`]: scoville_core::notice::NotificationJob::dedup_key

pub mod dynamodb;
pub mod memory;

use std::time::Duration;

use futures::future::BoxFuture;

pub use dynamodb::DynamoDedup;
pub use memory::MemoryDedup;

/// Proof of a claim, needed to confirm or release it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimToken(pub(crate) String);

impl ClaimToken {
    /// A fresh random token.
    pub(crate) fn random() -> Self {
        Self(format!("{:032x}", rand::random::<u128>()))
    }
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This caller sends; confirm or release with the token afterwards.
    Acquired(ClaimToken),
    /// Already sent: drop the duplicate.
    AlreadySent,
    /// Someone else is sending it now; try again after about `retry_in` (when their
    /// lease expires) rather than dropping it.
    InFlight {
        /// Time left on the holder's lease.
        retry_in: Duration,
    },
}

/// The dedup store could not be reached or answered oddly; the job is retried later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dedup store: {0}")]
pub struct DedupError(pub String);

/// Lease and retention of keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupSettings {
    /// How long a claim holds without confirmation.
    pub lease: Duration,
    /// How long a sent key is remembered.
    pub ttl: Duration,
}

impl Default for DedupSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(10 * 60),
            ttl: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Where dedup keys live.
pub trait DedupStore: Send + Sync + std::fmt::Debug {
    /// Claims `key` for sending (see the module docs).
    fn claim<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Claim, DedupError>>;

    /// Marks `key` as sent, if `token` still holds it.
    fn confirm<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), DedupError>>;

    /// Forgets the claim on `key` after a failed send, if `token` still holds it.
    fn release<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), DedupError>>;
}

/// The conformance tests every adapter passes.
#[cfg(test)]
pub(crate) mod conformance {
    use super::*;

    /// Runs the shared checks against `store`, whose lease is `lease` (short).
    pub(crate) async fn check(store: &dyn DedupStore, lease: Duration, prefix: &str) {
        let k = format!("{prefix}/inc-1/down/1/ch");
        let Claim::Acquired(t1) = store.claim(&k).await.unwrap() else {
            panic!("first claim must win");
        };
        match store.claim(&k).await.unwrap() {
            Claim::InFlight { retry_in } => assert!(retry_in <= lease),
            other => panic!("second claim while in flight: {other:?}"),
        }
        store.confirm(&k, &t1).await.unwrap();
        assert_eq!(store.claim(&k).await.unwrap(), Claim::AlreadySent);

        // Released claims can be claimed again; a stale token changes nothing.
        let k2 = format!("{prefix}/inc-2/down/1/ch");
        let Claim::Acquired(t2) = store.claim(&k2).await.unwrap() else {
            panic!("claim");
        };
        store.release(&k2, &t2).await.unwrap();
        let Claim::Acquired(t3) = store.claim(&k2).await.unwrap() else {
            panic!("a released key is claimable");
        };
        store.release(&k2, &t2).await.unwrap(); // stale: must not free t3's claim
        assert!(matches!(
            store.claim(&k2).await.unwrap(),
            Claim::InFlight { .. }
        ));
        store.confirm(&k2, &t3).await.unwrap();
        assert_eq!(store.claim(&k2).await.unwrap(), Claim::AlreadySent);

        // An expired lease lets the next claim win; the old holder cannot confirm.
        let k3 = format!("{prefix}/inc-3/down/1/ch");
        let Claim::Acquired(old) = store.claim(&k3).await.unwrap() else {
            panic!("claim");
        };
        tokio::time::sleep(lease + Duration::from_millis(50)).await;
        let Claim::Acquired(new) = store.claim(&k3).await.unwrap() else {
            panic!("an expired lease must be claimable");
        };
        store.confirm(&k3, &old).await.unwrap();
        assert!(
            matches!(store.claim(&k3).await.unwrap(), Claim::InFlight { .. }),
            "a stale confirm must not mark the key sent"
        );
        store.confirm(&k3, &new).await.unwrap();
        assert_eq!(store.claim(&k3).await.unwrap(), Claim::AlreadySent);
    }
}
