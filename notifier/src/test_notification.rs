//! "Send a test notification" for the admin API: one clearly marked message through a
//! channel configuration (saved or about to be saved), so a user sees at once whether
//! the webhook URL, token or SMTP settings work.
//!
//! The message is a made-up "down" notice for an endpoint named
//! `Scoville test notification`, sent with [`Message::test`] set, so every channel marks
//! it (`[TEST]` in the title or subject, `"test": true` in webhook and PagerDuty
//! payloads) and says in its error line that nothing is down. It is sent once, without
//! retries or dedup, and the result (including whether a failure is permanent) is
//! returned for the API to show.
//!
//! A PagerDuty test *triggers* an alert (PagerDuty has no test event); its dedup key is
//! unique per test, and the admin UI should say so.

use std::time::{SystemTime, UNIX_EPOCH};

use scoville_core::notice::{Notice, NoticeKind, NotificationJob};
use scoville_core::{EndpointId, OrgId};

use crate::channel::{Channel, ChannelConfig, ChannelConfigError, Message, SendError};
use crate::http::SendContext;

/// Why a test notification was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestError {
    /// The configuration is invalid (the field is named).
    #[error("invalid channel configuration: {0}")]
    Invalid(ChannelConfigError),
    /// The channel refused or could not be reached.
    #[error("test notification failed: {0}")]
    Failed(SendError),
}

/// The notice a test sends, for `org_id`, linking to `link`.
pub fn test_notice(org_id: &OrgId, link: &str) -> Notice {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Notice {
        kind: NoticeKind::Down,
        org_id: org_id.clone(),
        endpoint_id: EndpointId::parse("scoville-test")
            .unwrap_or_else(|_| unreachable!("a valid literal id")),
        endpoint_name: "Scoville test notification".into(),
        target: "https://example.com/".into(),
        incident_id: format!("test-{now}-{:08x}", rand::random::<u32>()),
        since_ms: now,
        at_ms: now,
        regions: Vec::new(),
        error: Some("This is a test notification from Scoville: nothing is down.".into()),
        detail: None,
        link: link.into(),
    }
}

/// Validates `channel` and sends it one test notification.
pub async fn send_test(
    channel: &ChannelConfig,
    ctx: &SendContext,
    org_id: &OrgId,
    link: &str,
) -> Result<(), TestError> {
    channel.validate().map_err(TestError::Invalid)?;
    let job = NotificationJob {
        channel_id: "test".into(),
        notice: test_notice(org_id, link),
    };
    let mut msg = Message::single(&job);
    msg.test = true;
    let result = channel.send(ctx, &msg).await;
    match &result {
        Ok(()) => tracing::info!(channel = channel.kind(), "test notification sent"),
        Err(e) => tracing::info!(channel = channel.kind(), error = %e, "test notification failed"),
    }
    result.map_err(TestError::Failed)
}
