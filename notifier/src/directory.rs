//! Where a job's `channel_id` is looked up: the [`Directory`] port. The admin API owns
//! alert channels; a notifier only reads them. [`MemoryDirectory`] holds channels given
//! in the notifier's configuration (self-hosted setups, tests); a directory reading the
//! admin API's config store plugs in behind the same trait.
//!
//! Configurations are validated when they enter a directory, so a bad one is refused at
//! start with the field named (`channels.ops-slack.webhook_url: ...`), not at the first
//! outage.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::future::BoxFuture;
use scoville_core::OrgId;

use crate::channel::{Channel, ChannelConfig, ChannelConfigError};

/// The directory could not answer; the job is retried later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("channel directory: {0}")]
pub struct DirectoryError(pub String);

/// Looks channels up by organization and id.
pub trait Directory: Send + Sync + std::fmt::Debug {
    /// The channel's configuration, or `None` when there is no such channel (deleted).
    fn channel<'a>(
        &'a self,
        org: &'a OrgId,
        channel_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<ChannelConfig>>, DirectoryError>>;
}

/// Channels held in memory.
#[derive(Debug, Clone, Default)]
pub struct MemoryDirectory {
    channels: HashMap<String, Arc<ChannelConfig>>,
}

/// Checks a channel id: 1 to 128 characters of letters, digits, `-`, `_`, `.`, `:`.
pub fn check_channel_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 128 {
        return Err("channel id must be 1 to 128 characters".into());
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
    {
        return Err(format!("channel id contains the character {c:?}"));
    }
    Ok(())
}

impl MemoryDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a channel after validating it; the error names the field
    /// under `id`.
    pub fn insert(&mut self, id: &str, config: ChannelConfig) -> Result<(), ChannelConfigError> {
        check_channel_id(id).map_err(|m| ChannelConfigError::new(id, m))?;
        config.validate().map_err(|e| e.within(id))?;
        self.channels.insert(id.to_string(), Arc::new(config));
        Ok(())
    }

    /// Builds a directory from `id -> {"type": ..., ...}` values (a configuration file's
    /// `[channels.<id>]` tables); errors name `<prefix>.<id>.<field>`.
    pub fn from_values(
        values: BTreeMap<String, serde_json::Value>,
        prefix: &str,
    ) -> Result<Self, ChannelConfigError> {
        let mut dir = Self::new();
        for (id, value) in values {
            let at = format!("{prefix}.{id}");
            check_channel_id(&id).map_err(|m| ChannelConfigError::new(&at, m))?;
            let config = ChannelConfig::parse_value(value).map_err(|e| e.within(&at))?;
            dir.channels.insert(id, Arc::new(config));
        }
        Ok(dir)
    }

    /// Number of channels.
    pub fn len(&self) -> usize {
        self.channels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// The ids, sorted.
    pub fn ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.channels.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }

    /// A channel, synchronously.
    pub fn get(&self, id: &str) -> Option<Arc<ChannelConfig>> {
        self.channels.get(id).cloned()
    }
}

/// The configuration's channels serve every organization (self-hosted setups).
impl Directory for MemoryDirectory {
    fn channel<'a>(
        &'a self,
        _org: &'a OrgId,
        channel_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<ChannelConfig>>, DirectoryError>> {
        let found = self.get(channel_id);
        Box::pin(async move { Ok(found) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn from_values_names_the_bad_field() {
        let mut values = BTreeMap::new();
        values.insert(
            "ops".to_string(),
            json!({"type": "slack", "webhook_url": "https://hooks.slack.com/services/x"}),
        );
        let dir = MemoryDirectory::from_values(values.clone(), "channels").unwrap();
        assert_eq!(dir.ids(), vec!["ops"]);
        assert!(dir.get("ops").is_some());
        values.insert(
            "pd".to_string(),
            json!({"type": "pagerduty", "routing_key": ""}),
        );
        let e = MemoryDirectory::from_values(values.clone(), "channels").unwrap_err();
        assert_eq!(e.to_string(), "channels.pd.routing_key: must not be empty");
        values.remove("pd");
        values.insert(
            "bad id".to_string(),
            json!({"type": "pagerduty", "routing_key": "k"}),
        );
        let e = MemoryDirectory::from_values(values, "channels").unwrap_err();
        assert_eq!(e.field, "channels.bad id");
    }
}
