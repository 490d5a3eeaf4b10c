//! Result hooks as an organization's resource (issue 9): a name, a URL, what it receives
//! ([`HookEvents`]: every result, or only state changes) and a signing secret.
//!
//! Decisions:
//! - A hook is delivered as an alert channel of type `webhook` with its secret (see
//!   `scoville_core::hook`): `GET /v1/service/channels/{org}/{hook id}` answers that
//!   configuration, and every endpoint's directory entry lists the org's hooks, so no
//!   endpoint has to name them. Ids start with [`ID_PREFIX`], which is how the service
//!   route tells a hook from a channel.
//! - The URL is checked by the notifier's own webhook parser (http or https with a host:
//!   422 names `url`). Private, loopback and metadata addresses are refused when sent, by
//!   the notifier's address guard (`notifier.allow_private` opens them for self-hosters),
//!   exactly as for webhook channels: DNS can change between now and then.
//! - The secret (`whsec_` + 32 random bytes in hex) is made by the API and shown once, in
//!   the answer to `POST /v1/hooks`; it is stored as is (the notifier needs it to sign,
//!   so it cannot be hashed; encrypting it at rest is the same "to do" as channels').
//!   Reads answer the URL without its query string or user info, which often carry
//!   tokens.
//! - `PUT` replaces name, URL and events and keeps the secret.
//! - A hook hears what the org's notifications hear: maintenance windows mute its state
//!   changes too (results keep flowing to `all` hooks). Caches bound how soon an edit
//!   counts: the failure service's directory entries, the notifier's channel
//!   configurations and the receiver worker's hook lists are each kept about 30 s. Jobs
//!   still queued for a deleted hook are dead-lettered by the notifier ("no channel").
//! - At most 20 hooks per org (`routes::hooks::MAX_HOOKS`): each multiplies the org's
//!   jobs.

use scoville_core::hook::HookEvents;
use serde::{Deserialize, Serialize};

/// Prefix of hook ids.
pub const ID_PREFIX: &str = "hk_";

/// A hook as answered (no secret; the URL without query or user info).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Hook {
    /// Its id.
    pub id: String,
    /// A label.
    pub name: String,
    /// Where results and state changes are posted (query string and user info left out).
    pub url: String,
    /// What it receives.
    pub events: HookEvents,
    /// When it was created, Unix ms.
    pub created_ms: i64,
}

/// The answer to `POST /v1/hooks`: the hook and its signing secret, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedHook {
    /// The hook.
    #[serde(flatten)]
    pub hook: Hook,
    /// The HMAC-SHA256 key of `X-Scoville-Signature`; never answered again.
    pub secret: String,
}

/// A hook as stored: with its full URL and secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredHook {
    /// Its id.
    pub id: String,
    /// A label.
    pub name: String,
    /// The full URL.
    pub url: String,
    /// What it receives.
    pub events: HookEvents,
    /// The signing secret.
    pub secret: String,
    /// When it was created, Unix ms.
    pub created_ms: i64,
}

impl StoredHook {
    /// The hook as answered.
    pub fn public(&self) -> Hook {
        Hook {
            id: self.id.clone(),
            name: self.name.clone(),
            url: display_url(&self.url),
            events: self.events,
            created_ms: self.created_ms,
        }
    }

    /// The notifier's configuration: a signed webhook.
    pub fn channel_config(&self) -> serde_json::Value {
        serde_json::json!({"type": "webhook", "url": self.url, "secret": self.secret})
    }
}

/// The URL without its query string, fragment and user info.
fn display_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_never_show_tokens_in_the_url() {
        let h = StoredHook {
            id: "hk_1".into(),
            name: "n".into(),
            url: "https://user:pw@example.com/in?token=abc#x".into(),
            events: HookEvents::All,
            secret: "s".into(),
            created_ms: 1,
        };
        assert_eq!(h.public().url, "https://example.com/in");
        assert_eq!(h.channel_config()["type"], "webhook");
    }
}
