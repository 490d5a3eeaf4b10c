//! `[hooks]`: where the worker finds result hooks and queues their results. Off unless
//! `admin_url` is set; then `service_token` and `sqs_queue_url` (the notification queue,
//! the one the notifiers drain) are needed. `scoville up` wires an in-process queue
//! instead.
//!
//! ```toml
//! [hooks]
//! admin_url = "https://admin.example.com"
//! service_token = "..."
//! sqs_queue_url = "https://sqs.eu-west-1.amazonaws.com/123/scoville-notifications"
//! # sqs_endpoint_url = "http://127.0.0.1:5000"   # an emulator
//! # cache_ttl_ms = 30000
//! # timeout_ms = 10000
//! ```

use std::sync::Arc;
use std::time::Duration;

use scoville_service_kit::config::{ConfigError, err};
use serde::{Deserialize, Serialize};

use super::{AdminHookDirectory, ResultHooks};

/// `[hooks]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HooksSection {
    /// The admin API's base URL; unset: no result hooks.
    pub admin_url: Option<String>,
    /// A service token the admin API accepts.
    pub service_token: Option<String>,
    /// The notification queue's SQS URL.
    pub sqs_queue_url: Option<String>,
    /// An SQS-compatible endpoint instead of AWS's.
    pub sqs_endpoint_url: Option<String>,
    /// How long an org's list of hooks is kept, ms.
    pub cache_ttl_ms: u64,
    /// Timeout of each admin API call, ms.
    pub timeout_ms: u64,
}

impl Default for HooksSection {
    fn default() -> Self {
        Self {
            admin_url: None,
            service_token: None,
            sqs_queue_url: None,
            sqs_endpoint_url: None,
            cache_ttl_ms: 30_000,
            timeout_ms: 10_000,
        }
    }
}

fn set(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl HooksSection {
    /// The admin API as the hook directory, or none when `admin_url` is unset.
    pub fn directory(&self) -> Result<Option<AdminHookDirectory>, ConfigError> {
        let Some(url) = set(&self.admin_url) else {
            return Ok(None);
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(err("hooks.admin_url", "must be an http(s) URL"));
        }
        let token = set(&self.service_token)
            .ok_or_else(|| err("hooks.service_token", "is needed with hooks.admin_url"))?;
        if self.timeout_ms == 0 || self.timeout_ms > 120_000 {
            return Err(err("hooks.timeout_ms", "must be between 1 and 120000"));
        }
        if self.cache_ttl_ms > 3_600_000 {
            return Err(err("hooks.cache_ttl_ms", "must be at most 3600000"));
        }
        AdminHookDirectory::new(
            url,
            token,
            Duration::from_millis(self.timeout_ms),
            Duration::from_millis(self.cache_ttl_ms),
        )
        .map(Some)
        .map_err(|m| err("hooks.admin_url", m))
    }

    /// The publisher over SQS, or none when `admin_url` is unset.
    pub async fn publisher(&self) -> Result<Option<Arc<ResultHooks>>, ConfigError> {
        let Some(directory) = self.directory()? else {
            return Ok(None);
        };
        let queue_url = set(&self.sqs_queue_url)
            .ok_or_else(|| err("hooks.sqs_queue_url", "is needed with hooks.admin_url"))?;
        let aws = scoville_notifier::config::aws_config().await;
        let queue = scoville_notifier::queue::SqsJobQueue::connect(
            &aws,
            set(&self.sqs_endpoint_url),
            scoville_notifier::queue::sqs::SqsSettings {
                queue_url: queue_url.to_string(),
                dead_letter_url: None,
                max_receives: 10,
            },
        );
        Ok(Some(Arc::new(ResultHooks::new(
            Arc::new(directory),
            Arc::new(queue),
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_and_keys_named() {
        assert!(HooksSection::default().directory().unwrap().is_none());
        let mut h = HooksSection {
            admin_url: Some("ftp://x".into()),
            ..HooksSection::default()
        };
        assert_eq!(h.directory().unwrap_err().key, "hooks.admin_url");
        h.admin_url = Some("http://127.0.0.1:1".into());
        assert_eq!(h.directory().unwrap_err().key, "hooks.service_token");
        h.service_token = Some("t".into());
        assert!(h.directory().unwrap().is_some());
    }
}
