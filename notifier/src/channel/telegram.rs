//! Telegram, through the Bot API: `POST {api_base}/bot{token}/sendMessage` with
//! `chat_id`, `parse_mode: HTML`, the text (user text escaped with [`crate::escape::html`]) and
//! `disable_web_page_preview`. The bot token is part of the URL, so the URL is never
//! logged (errors are rendered without it).
//!
//! Telegram limits a message to 4096 characters and a group to about 20 messages a
//! minute; a digest lists up to 15 notices in lines of bounded length, and a 429's
//! `parameters.retry_after` is honoured like `Retry-After`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::render;
use super::{
    Channel, ChannelConfigError, Message, Pace, Secret, SendError, check_http_url, check_secret,
    parsed_url,
};
use crate::escape::{fit, html, truncate};
use crate::http::SendContext;

/// The public Bot API.
pub const DEFAULT_API_BASE: &str = "https://api.telegram.org";

/// `{"type": "telegram", "bot_token": "123456:ABC...", "chat_id": "-1001234567890"}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    /// The bot's token from @BotFather.
    pub bot_token: Secret,
    /// The chat: a numeric id (groups and channels are negative) or `@channelname`.
    pub chat_id: String,
    /// The Bot API's base URL (a self-hosted Bot API server, or a test server).
    #[serde(default = "default_api_base")]
    pub api_base: String,
}

fn default_api_base() -> String {
    DEFAULT_API_BASE.into()
}

/// Telegram's limit on a message's visible text.
pub const TEXT_MAX: usize = 4096;

impl Channel for TelegramConfig {
    fn kind(&self) -> &'static str {
        "telegram"
    }

    fn digest_max(&self) -> Option<usize> {
        Some(15)
    }

    fn default_pace(&self) -> Pace {
        Pace::new(1.0 / 3.0, 3)
    }

    fn validate(&self) -> Result<(), ChannelConfigError> {
        check_secret("bot_token", &self.bot_token)?;
        let token = self.bot_token.expose();
        if !token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'))
        {
            return Err(ChannelConfigError::new(
                "bot_token",
                "must look like 123456:ABC-DEF... (letters, digits, ':', '_', '-')",
            ));
        }
        let chat = self.chat_id.trim();
        let numeric = chat.strip_prefix('-').unwrap_or(chat);
        let valid = (!numeric.is_empty() && numeric.chars().all(|c| c.is_ascii_digit()))
            || (chat.len() > 1
                && chat.starts_with('@')
                && chat[1..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if !valid {
            return Err(ChannelConfigError::new(
                "chat_id",
                "must be a numeric chat id or @channelname",
            ));
        }
        check_http_url("api_base", &self.api_base).map(|_| ())
    }

    async fn send(&self, ctx: &SendContext, msg: &Message) -> Result<(), SendError> {
        let mut url = parsed_url(&self.api_base)?;
        url.path_segments_mut()
            .map_err(|_| SendError::Permanent("api_base cannot be a base URL".into()))?
            .pop_if_empty()
            .push(&format!("bot{}", self.bot_token.expose()))
            .push("sendMessage");
        let req = ctx.http().post(url.clone()).json(&json!({
            "chat_id": self.chat_id.trim(),
            "text": text(msg),
            "parse_mode": "HTML",
            "disable_web_page_preview": true,
        }));
        let answer = ctx.execute_raw(&url, req).await?;
        answer.classify_with(|body| {
            let v: serde_json::Value = serde_json::from_str(body).ok()?;
            v.pointer("/parameters/retry_after")?
                .as_u64()
                .map(Duration::from_secs)
        })
    }
}

/// The message text (Telegram's HTML subset: `b`, `i`, `code`, `pre`, `a`).
pub(crate) fn text(msg: &Message) -> String {
    if msg.is_digest() {
        let notices: Vec<_> = msg.items.iter().map(|i| &i.notice).collect();
        let mut out = format!(
            "<b>{}</b>\n",
            html(&render::digest_title(&notices, msg.test))
        );
        for n in &notices {
            // At most 60 + 140 visible characters a line: 15 lines fit in 4096.
            let (name, rest) = render::digest_line(n, 60);
            let name = if render::is_http(&n.link) {
                format!("<a href=\"{}\">{}</a>", html(&n.link), html(&name))
            } else {
                html(&name)
            };
            out.push_str(&format!(
                "• <b>{name}</b>: {}\n",
                html(&truncate(&rest, 140))
            ));
        }
        return out;
    }
    let f = render::facts(&msg.first().notice, msg.test);
    let mut out = format!(
        "<b>{}</b>\n<b>What:</b> {}\n<b>Where:</b> {}\n<b>Since:</b> {}\n<b>Regions:</b> {}\n",
        html(&f.title),
        html(f.what),
        fit(&f.target, html, 600),
        html(&f.since),
        html(&f.regions)
    );
    if let Some(error) = &f.error {
        out.push_str(&format!(
            "<b>Error:</b>\n<pre>{}</pre>\n",
            fit(error, html, 1500)
        ));
    }
    if let Some(detail) = &f.detail {
        out.push_str(&format!("{}\n", fit(detail, html, 1000)));
    }
    if render::is_http(&f.link) {
        out.push_str(&format!(
            "<a href=\"{}\">Open in Scoville</a>",
            html(&f.link)
        ));
    }
    // Visible text is at most 200 + 600 + 1500 + 1000 characters plus labels, within
    // TEXT_MAX (Telegram counts the text after parsing the markup).
    out
}
