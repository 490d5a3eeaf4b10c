//! Discord, through a channel webhook: one embed with the headline as its title (linked to
//! the endpoint's page), the target as its description, a colour per kind, and fields for
//! what, since, regions, the error and the detail. User text is escaped with
//! [`escape::markdown`], or shown as code ([`escape::code_span`]: the target, the error); `allowed_mentions: {"parse": []}` makes sure no `@everyone` in
//! an endpoint's name or an error pings anybody.
//!
//! A digest is one embed whose description lists the notices, one line each; Discord's
//! 4096-character description holds 10 such lines with room to spare. Webhooks allow
//! 5 requests per 2 seconds and channels about 30 messages a minute.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::render;
use super::{
    Channel, ChannelConfigError, Message, Pace, Secret, SendError, check_http_url, parsed_url,
};
use crate::escape::{self, code_span, fit, markdown};
use crate::http::SendContext;

/// `{"type": "discord", "webhook_url": "https://discord.com/api/webhooks/..."}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    /// The webhook URL (a secret: it is the credential).
    pub webhook_url: Secret,
    /// The name the messages are posted under (default `Scoville`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 4096;
const FIELD_MAX: usize = 1024;

impl Channel for DiscordConfig {
    fn kind(&self) -> &'static str {
        "discord"
    }

    fn digest_max(&self) -> Option<usize> {
        Some(10)
    }

    fn default_pace(&self) -> Pace {
        Pace::new(0.5, 5)
    }

    fn validate(&self) -> Result<(), ChannelConfigError> {
        check_http_url("webhook_url", self.webhook_url.expose())?;
        if let Some(name) = &self.username {
            let n = name.trim();
            if n.is_empty() || n.chars().count() > 80 {
                return Err(ChannelConfigError::new(
                    "username",
                    "must be 1 to 80 characters",
                ));
            }
        }
        Ok(())
    }

    async fn send(&self, ctx: &SendContext, msg: &Message) -> Result<(), SendError> {
        let url = parsed_url(self.webhook_url.expose())?;
        let body = payload(msg, self.username.as_deref().unwrap_or("Scoville"));
        ctx.execute(&url, ctx.http().post(url.clone()).json(&body))
            .await
            .map(|_| ())
    }
}

/// The webhook body for `msg`.
pub(crate) fn payload(msg: &Message, username: &str) -> Value {
    let embed = if msg.is_digest() {
        digest(msg)
    } else {
        let n = &msg.first().notice;
        let f = render::facts(n, msg.test);
        let mut fields = vec![
            field("What", f.what, true),
            field("Since", &f.since, true),
            // Region ids are validated ([a-z0-9-]): nothing to escape.
            field("Regions", &f.regions, true),
        ];
        if let Some(error) = &f.error {
            fields.push(field(
                "Error",
                &format!("```\n{}\n```", fit(error, code_span, FIELD_MAX - 8)),
                false,
            ));
        }
        if let Some(detail) = &f.detail {
            fields.push(field("Detail", &fit(detail, markdown, FIELD_MAX), false));
        }
        let mut embed = json!({
            "title": fit(&f.title, markdown, TITLE_MAX),
            "description": format!("`{}`", fit(&f.target, code_span, DESCRIPTION_MAX - 2)),
            "color": render::color(n.kind),
            "timestamp": render::rfc3339(n.at_ms),
            "fields": fields,
            "footer": { "text": escape::truncate(&format!("Scoville · incident {}", n.incident_id), 200) },
        });
        if render::is_http(&f.link) {
            embed["url"] = json!(f.link);
        }
        embed
    };
    json!({
        "username": escape::truncate(&escape::one_line(username), 80),
        "allowed_mentions": { "parse": [] },
        "embeds": [embed],
    })
}

fn digest(msg: &Message) -> Value {
    let notices: Vec<_> = msg.items.iter().map(|i| &i.notice).collect();
    let title = render::digest_title(&notices, msg.test);
    let lines: Vec<String> = notices
        .iter()
        .map(|n| {
            // At most 3 + 100 + 2 + 120 + 5 + 140 characters, so ten lines always fit.
            let (name, rest) = render::digest_line(n, 50);
            let name = markdown(&name);
            let name = if render::is_http(&n.link) && n.link.len() <= 120 && !n.link.contains(')') {
                format!("[{name}]({})", n.link)
            } else {
                name
            };
            // `rest` is our own words, a date and region ids ([a-z0-9-]): nothing to escape.
            format!("**{name}**: {}", escape::truncate(&rest, 140))
        })
        .collect();
    // Any bad news sets the colour.
    let worst = notices
        .iter()
        .find(|n| !render::is_good_news(n.kind))
        .unwrap_or(&notices[0]);
    json!({
        "title": fit(&title, markdown, TITLE_MAX),
        "description": escape::truncate(&lines.join("\n"), DESCRIPTION_MAX),
        "color": render::color(worst.kind),
        "timestamp": render::rfc3339(notices.iter().map(|n| n.at_ms).max().unwrap_or(0)),
    })
}

fn field(name: &str, value: &str, inline: bool) -> Value {
    let value = if value.is_empty() { "-" } else { value };
    json!({ "name": name, "value": value, "inline": inline })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Item;
    use crate::channel::render::tests::notice;
    use scoville_core::notice::NoticeKind;

    #[test]
    fn digest_lists_every_notice_within_limits() {
        let items: Vec<Item> = (0..10)
            .map(|i| Item {
                notice: notice(&format!("{}-{i}", "n".repeat(300)), NoticeKind::Down),
                dedup_key: format!("k{i}"),
            })
            .collect();
        let v = payload(&Message::of_items(items), "Scoville");
        let d = v["embeds"][0]["description"].as_str().unwrap();
        assert!(d.chars().count() <= DESCRIPTION_MAX);
        assert_eq!(d.lines().count(), 10);
        assert!(!d.ends_with('…'), "nothing was cut");
        assert_eq!(v["allowed_mentions"]["parse"], json!([]));
    }
}
