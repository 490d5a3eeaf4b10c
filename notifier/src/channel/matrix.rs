//! Matrix, through the client-server API as a bot user:
//! `PUT {homeserver}/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{txn_id}` with
//! `Authorization: Bearer <access_token>` and an `m.notice` (the message type meant for
//! bots) carrying a plain `body` and an HTML `formatted_body`
//! (`format: org.matrix.custom.html`), all user text escaped with [`escape::html`].
//!
//! The transaction id is a hash of the message's idempotency key (the job's dedup key),
//! so a retried attempt is the same transaction and the homeserver stores it once even
//! if our first attempt got through but its answer was lost. A 429 carries its delay as
//! `retry_after_ms` in the body, which is honoured like `Retry-After`. Synapse lets a
//! user send 0.2 messages a second with bursts of 10 by default.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::render;
use super::{
    Channel, ChannelConfigError, Message, Pace, Secret, SendError, check_http_url, check_secret,
    parsed_url,
};
use crate::escape::{self, html};
use crate::http::SendContext;

/// `{"type": "matrix", "homeserver": "https://matrix.example.org", "room_id": "!abc:example.org", "access_token": "..."}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixConfig {
    /// The homeserver's base URL (client-server API).
    pub homeserver: String,
    /// The room's id (`!...`; aliases are not accepted by the send API).
    pub room_id: String,
    /// The bot user's access token.
    pub access_token: Secret,
}

impl Channel for MatrixConfig {
    fn kind(&self) -> &'static str {
        "matrix"
    }

    fn digest_max(&self) -> Option<usize> {
        Some(25)
    }

    fn default_pace(&self) -> Pace {
        Pace::new(0.2, 10)
    }

    fn validate(&self) -> Result<(), ChannelConfigError> {
        let url = check_http_url("homeserver", &self.homeserver)?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ChannelConfigError::new(
                "homeserver",
                "must be a base URL without query or fragment",
            ));
        }
        let room = self.room_id.trim();
        if !room.starts_with('!') || room.len() < 2 || room.len() > 255 {
            return Err(ChannelConfigError::new(
                "room_id",
                "must be a room id starting with '!' (find it in the room's settings)",
            ));
        }
        check_secret("access_token", &self.access_token)
    }

    async fn send(&self, ctx: &SendContext, msg: &Message) -> Result<(), SendError> {
        let mut url = parsed_url(&self.homeserver)?;
        let txn = txn_id(&msg.idempotency_key());
        url.path_segments_mut()
            .map_err(|_| SendError::Permanent("homeserver URL cannot be a base".into()))?
            .pop_if_empty()
            .extend([
                "_matrix",
                "client",
                "v3",
                "rooms",
                self.room_id.trim(),
                "send",
                "m.room.message",
                &txn,
            ]);
        let (body, formatted) = content(msg);
        let req = ctx
            .http()
            .put(url.clone())
            .bearer_auth(self.access_token.expose())
            .json(&json!({
                "msgtype": "m.notice",
                "body": body,
                "format": "org.matrix.custom.html",
                "formatted_body": formatted,
            }));
        let answer = ctx.execute_raw(&url, req).await?;
        answer.classify_with(|body| {
            let v: serde_json::Value = serde_json::from_str(body).ok()?;
            v.get("retry_after_ms")?.as_u64().map(Duration::from_millis)
        })
    }
}

/// The transaction id for an idempotency key: 32 hex characters.
pub fn txn_id(key: &str) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..16])
}

/// The plain `body` and the HTML `formatted_body`.
pub(crate) fn content(msg: &Message) -> (String, String) {
    if msg.is_digest() {
        let notices: Vec<_> = msg.items.iter().map(|i| &i.notice).collect();
        let title = render::digest_title(&notices, msg.test);
        let mut plain = format!("{title}\n");
        let mut rich = format!("<p><strong>{}</strong></p><ul>", html(&title));
        for n in &notices {
            let (name, rest) = render::digest_line(n, 100);
            plain.push_str(&format!("- {name}: {rest} {}\n", escape::one_line(&n.link)));
            let name = if render::is_http(&n.link) {
                format!("<a href=\"{}\">{}</a>", html(&n.link), html(&name))
            } else {
                html(&name)
            };
            rich.push_str(&format!("<li>{name}: {}</li>", html(&rest)));
        }
        rich.push_str("</ul>");
        return (plain, rich);
    }
    let f = render::facts(&msg.first().notice, msg.test);
    let mut plain = format!(
        "{}\nWhat: {}\nWhere: {}\nSince: {}\nRegions: {}\n",
        f.title, f.what, f.target, f.since, f.regions
    );
    let mut rich = format!(
        "<p><strong>{}</strong></p><ul><li><strong>What:</strong> {}</li><li><strong>Where:</strong> {}</li><li><strong>Since:</strong> {}</li><li><strong>Regions:</strong> {}</li></ul>",
        html(&f.title),
        html(f.what),
        html(&f.target),
        html(&f.since),
        html(&f.regions)
    );
    if let Some(error) = &f.error {
        plain.push_str(&format!("Error: {error}\n"));
        rich.push_str(&format!(
            "<p><strong>Error:</strong></p><pre><code>{}</code></pre>",
            html(error)
        ));
    }
    if let Some(detail) = &f.detail {
        plain.push_str(&format!("{detail}\n"));
        rich.push_str(&format!("<p>{}</p>", html(detail)));
    }
    plain.push_str(&format!("Open in Scoville: {}", f.link));
    if render::is_http(&f.link) {
        rich.push_str(&format!(
            "<p><a href=\"{}\">Open in Scoville</a></p>",
            html(&f.link)
        ));
    }
    (plain, rich)
}
