//! Slack, through an incoming webhook: a `text` fallback (what notifications and old
//! clients show) and Block Kit `blocks`: a `header` (plain text, which Slack never
//! formats), a `section` of fields (what, since, where, regions), a section each for the
//! error and the detail, and a `context` line with the link. User text in mrkdwn is
//! escaped with [`escape::slack_mrkdwn`].
//!
//! A digest is a header counting the notices, one section per notice (name linked to its
//! page) and a context line; Slack allows 50 blocks, so a digest carries up to 25.
//! Slack allows about one message per second per webhook, with short bursts.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::render::{self, Facts};
use super::{
    Channel, ChannelConfigError, Message, Pace, Secret, SendError, check_http_url, parsed_url,
};
use crate::escape::{self, fit, slack_code, slack_mrkdwn};
use crate::http::SendContext;

/// `{"type": "slack", "webhook_url": "https://hooks.slack.com/services/..."}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The incoming webhook URL (a secret: it is the credential).
    pub webhook_url: Secret,
}

/// Slack's limits, in characters.
const HEADER_MAX: usize = 150;
const FIELD_MAX: usize = 2000;
const SECTION_MAX: usize = 3000;
const TEXT_MAX: usize = 3000;

impl Channel for SlackConfig {
    fn kind(&self) -> &'static str {
        "slack"
    }

    fn digest_max(&self) -> Option<usize> {
        Some(25)
    }

    fn default_pace(&self) -> Pace {
        Pace::new(1.0, 5)
    }

    fn validate(&self) -> Result<(), ChannelConfigError> {
        check_http_url("webhook_url", self.webhook_url.expose()).map(|_| ())
    }

    async fn send(&self, ctx: &SendContext, msg: &Message) -> Result<(), SendError> {
        let url = parsed_url(self.webhook_url.expose())?;
        let body = payload(msg);
        ctx.execute(&url, ctx.http().post(url.clone()).json(&body))
            .await
            .map(|_| ())
    }
}

/// The webhook body for `msg`.
pub(crate) fn payload(msg: &Message) -> Value {
    if msg.is_digest() {
        return digest(msg);
    }
    let n = &msg.first().notice;
    let f = render::facts(n, msg.test);
    let mut blocks = vec![
        header(&f.title),
        json!({
            "type": "section",
            "fields": [
                mrkdwn(&format!("*What*\n{}", f.what)),
                mrkdwn(&format!("*Since*\n{}", f.since)),
                mrkdwn(&format!("*Where*\n`{}`", fit(&f.target, slack_code, FIELD_MAX - 20))),
                mrkdwn(&format!("*Regions*\n{}", slack_mrkdwn(&f.regions))),
            ]
        }),
    ];
    if let Some(error) = &f.error {
        blocks.push(section(&format!(
            "*Error*\n```{}```",
            fit(error, slack_code, SECTION_MAX - 20)
        )));
    }
    if let Some(detail) = &f.detail {
        blocks.push(section(&format!(
            "*Detail*\n{}",
            fit(detail, slack_mrkdwn, SECTION_MAX - 10)
        )));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [mrkdwn(&format!(
            "{} · incident {}",
            link(&f.link, "Open in Scoville"),
            slack_mrkdwn(&escape::truncate(&n.incident_id, 100))
        ))]
    }));
    json!({ "text": fallback(&f), "blocks": blocks })
}

fn digest(msg: &Message) -> Value {
    let notices: Vec<_> = msg.items.iter().map(|i| &i.notice).collect();
    let title = render::digest_title(&notices, msg.test);
    let mut blocks = vec![header(&title)];
    for n in &notices {
        let (name, rest) = render::digest_line(n, 80);
        let mut text = format!("*{}*: {}", link(&n.link, &name), slack_mrkdwn(&rest));
        if let Some(error) = n.error.as_deref().map(|e| escape::one_line(e.trim())) {
            if !error.is_empty() {
                text.push_str("\n`");
                text.push_str(&fit(&error, slack_code, 300));
                text.push('`');
            }
        }
        blocks.push(section(&text));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [mrkdwn(&format!(
            "{} notices arrived together and were sent as one message.",
            notices.len()
        ))]
    }));
    json!({ "text": fit(&title, slack_mrkdwn, TEXT_MAX), "blocks": blocks })
}

fn fallback(f: &Facts) -> String {
    format!(
        "{} ({}, since {}) {}",
        fit(&f.title, slack_mrkdwn, 500),
        slack_mrkdwn(&f.regions),
        f.since,
        link(&f.link, "open")
    )
}

fn header(text: &str) -> Value {
    json!({
        "type": "header",
        "text": { "type": "plain_text", "text": escape::truncate(text, HEADER_MAX), "emoji": false }
    })
}

fn section(text: &str) -> Value {
    json!({ "type": "section", "text": mrkdwn(text) })
}

fn mrkdwn(text: &str) -> Value {
    json!({ "type": "mrkdwn", "text": text })
}

/// `<url|label>`: the label escaped as mrkdwn, the URL's `&`, `<`, `>` as entities and
/// `|` percent-encoded (nothing else: a zero-width space would break the URL); the label
/// alone when the URL is not http(s).
fn link(url: &str, label: &str) -> String {
    let label = fit(label, slack_mrkdwn, 200);
    if render::is_http(url) {
        let url = url
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('|', "%7C");
        format!("<{url}|{label}>")
    } else {
        label
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Item;
    use crate::channel::render::tests::notice;
    use scoville_core::notice::NoticeKind;

    #[test]
    fn single_message_blocks() {
        let mut n = notice("Checkout <api> & *co*", NoticeKind::Down);
        n.detail = Some("p95 doubled".into());
        let msg = Message::of_items(vec![Item {
            notice: n,
            dedup_key: "k".into(),
        }]);
        let v = payload(&msg);
        let blocks = v["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(blocks[0]["text"]["type"], "plain_text");
        assert_eq!(blocks[0]["text"]["text"], "Checkout <api> & *co* is down");
        assert_eq!(blocks[1]["fields"][0]["text"], "*What*\nDown");
        assert_eq!(
            blocks[1]["fields"][1]["text"],
            "*Since*\n2024-05-01 12:00:00 UTC"
        );
        assert_eq!(
            blocks[2]["text"]["text"],
            "*Error*\n```HTTP 503\nService Unavailable```"
        );
        assert_eq!(blocks[3]["text"]["text"], "*Detail*\np95 doubled");
        assert_eq!(blocks[4]["type"], "context");
        let text = v["text"].as_str().unwrap();
        assert!(
            text.contains("Checkout &lt;api&gt; &amp; *\u{200B}co*\u{200B} is down"),
            "{text}"
        );
        assert!(text.contains("<https://scoville.example.com/endpoints/ep-1|open>"));
    }

    #[test]
    fn link_escapes_the_separator() {
        assert_eq!(link("https://x/a|b>c", "n|m"), "<https://x/a%7Cb&gt;c|n|m>");
        assert_eq!(
            link("https://x/ep_1?a=1&b=2", "n"),
            "<https://x/ep_1?a=1&amp;b=2|n>"
        );
        assert_eq!(link("javascript:alert(1)", "n"), "n");
    }
}
