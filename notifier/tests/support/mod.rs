//! Shared test support: the recording HTTP server (`scoville_tests::recorder`); notices
//! and jobs; a send context that may reach loopback; fast delivery settings.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::time::Duration;

use scoville_core::notice::{Notice, NoticeKind, NotificationJob};
use scoville_core::{AddressPolicy, EndpointId, OrgId, Region};
use scoville_notifier::delivery::DeliveryPolicy;
use scoville_notifier::http::SendContext;
#[allow(unused_imports)]
pub use scoville_tests::recorder::{Recorded, Recorder, Reply};

/// A send context allowed to reach loopback, 5 s timeout.
pub fn ctx() -> SendContext {
    SendContext::new(AddressPolicy::allow_private(), Duration::from_secs(5)).unwrap()
}

/// Small backoffs so retry tests are quick.
pub fn fast_policy(max_attempts: u32) -> DeliveryPolicy {
    DeliveryPolicy {
        max_attempts,
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(5),
        requeue_max: Duration::from_millis(200),
    }
}

/// A notice about endpoint `ep-<i>`.
pub fn notice(i: usize, name: &str, kind: NoticeKind) -> Notice {
    Notice {
        kind,
        org_id: OrgId::parse("org-1").unwrap(),
        endpoint_id: EndpointId::parse(format!("ep-{i}")).unwrap(),
        endpoint_name: name.into(),
        target: format!("https://api{i}.example.com/health"),
        incident_id: format!("inc-{i}"),
        since_ms: 1_714_564_800_000,
        at_ms: 1_714_564_860_000 + i as i64,
        regions: vec![
            Region::parse("eu-west-1").unwrap(),
            Region::parse("us-east-1").unwrap(),
        ],
        error: Some("HTTP 503 Service Unavailable".into()),
        detail: None,
        link: format!("https://scoville.example.com/endpoints/ep-{i}"),
    }
}

/// A down notice for endpoint `i` to `channel`.
pub fn job(channel: &str, i: usize) -> NotificationJob {
    NotificationJob {
        channel_id: channel.into(),
        notice: notice(i, &format!("Endpoint {i}"), NoticeKind::Down),
    }
}

/// Text that tries every trick on every channel.
pub const NASTY_NAME: &str = "<script>alert(1)</script> *bold* & {{ x }} ${x} @everyone";
pub const NASTY_ERROR: &str =
    "<b>boom</b> `code` _it_ [link](http://evil.example) {{DATE(2017-02-14T06:08:39Z, SHORT)}}";

use std::sync::Arc as StdArc;

use scoville_notifier::channel::{ChannelConfig, Pace};
use scoville_notifier::dedup::{DedupStore, MemoryDedup};
use scoville_notifier::directory::MemoryDirectory;
use scoville_notifier::dispatch::{Dispatcher, Grouping};
use scoville_notifier::queue::JobQueue;
use scoville_notifier::queue::memory::{MemoryJobQueue, MemoryQueueSettings};
use scoville_notifier::worker::{Worker, WorkerSettings};

/// A directory from `(id, config JSON)` pairs.
pub fn directory(channels: &[(&str, serde_json::Value)]) -> MemoryDirectory {
    let mut dir = MemoryDirectory::new();
    for (id, v) in channels {
        dir.insert(id, ChannelConfig::parse_value(v.clone()).unwrap())
            .unwrap();
    }
    dir
}

/// Grouping defaults with a fast pace, so tests measure grouping, not waiting.
pub fn fast_grouping() -> Grouping {
    Grouping {
        pace: Some(Pace::new(100_000.0, 100_000)),
        ..Grouping::default()
    }
}

/// A dispatcher over `dir` with in-memory dedup.
pub fn dispatcher(
    dir: MemoryDirectory,
    dedup: StdArc<dyn DedupStore>,
    policy: DeliveryPolicy,
    grouping: Grouping,
) -> StdArc<Dispatcher> {
    StdArc::new(Dispatcher::new(
        StdArc::new(dir),
        dedup,
        ctx(),
        policy,
        grouping,
    ))
}

/// An in-memory queue: `visibility` timeout, dead letter after `max_receives`.
pub fn memory_queue(visibility: Duration, max_receives: u32) -> StdArc<MemoryJobQueue> {
    StdArc::new(MemoryJobQueue::new(MemoryQueueSettings {
        capacity: 20_000,
        visibility_timeout: visibility,
        max_receives,
        dead_letter_capacity: 1000,
    }))
}

/// A worker with short waits.
pub fn worker(
    queue: StdArc<MemoryJobQueue>,
    dispatcher: StdArc<Dispatcher>,
    batch_max: usize,
) -> Worker {
    let q: StdArc<dyn JobQueue> = queue;
    Worker::new(
        q,
        dispatcher,
        WorkerSettings {
            batch_max,
            wait: Duration::from_millis(200),
            gather: Duration::from_millis(50),
        },
    )
}

/// Fresh in-memory dedup.
pub fn memory_dedup() -> StdArc<dyn DedupStore> {
    StdArc::new(MemoryDedup::default())
}
