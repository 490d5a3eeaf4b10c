//! Microsoft Teams, through an incoming webhook (or a Workflows "post to a channel when a
//! webhook request is received" URL, which takes the same body): a `message` with one
//! Adaptive Card attachment (`application/vnd.microsoft.card.adaptive`, card version
//! 1.4): the headline in a coloured TextBlock, a FactSet (what, where, since, regions),
//! the error in monospace, the detail, and an `Action.OpenUrl` to the endpoint's page.
//!
//! User text is escaped with [`crate::escape::adaptive_card`]: Markdown is backslash-escaped and
//! `{{` / `${` are broken, since TextBlocks expand `{{DATE(..)}}` and the templating
//! language expands `${..}`. A digest is one card with a container per notice (up to 25,
//! well inside the 28 KB card limit). Teams webhooks take about 4 requests a second.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::render;
use super::{
    Channel, ChannelConfigError, Message, Pace, Secret, SendError, check_http_url, parsed_url,
};
use crate::escape::{adaptive_card, fit};
use crate::http::SendContext;

/// `{"type": "teams", "webhook_url": "https://....webhook.office.com/..."}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsConfig {
    /// The webhook URL (a secret: it is the credential).
    pub webhook_url: Secret,
}

/// The attachment's content type.
pub const ADAPTIVE_CARD: &str = "application/vnd.microsoft.card.adaptive";

impl Channel for TeamsConfig {
    fn kind(&self) -> &'static str {
        "teams"
    }

    fn digest_max(&self) -> Option<usize> {
        Some(25)
    }

    fn default_pace(&self) -> Pace {
        Pace::new(1.0, 4)
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
    let (body, link) = if msg.is_digest() {
        digest(msg)
    } else {
        let n = &msg.first().notice;
        let f = render::facts(n, msg.test);
        let mut body = vec![
            json!({
                "type": "TextBlock",
                "text": adaptive_card(&f.title),
                "weight": "Bolder",
                "size": "Large",
                "wrap": true,
                "color": color(n.kind),
            }),
            json!({
                "type": "FactSet",
                "facts": [
                    { "title": "What", "value": f.what },
                    { "title": "Where", "value": fit(&f.target, adaptive_card, 1000) },
                    { "title": "Since", "value": f.since },
                    // Region ids are validated ([a-z0-9-]): nothing to escape.
                    { "title": "Regions", "value": f.regions },
                ]
            }),
        ];
        if let Some(error) = &f.error {
            body.push(json!({
                "type": "TextBlock",
                "text": fit(error, adaptive_card, 4000),
                "wrap": true,
                "fontType": "Monospace",
                "color": "Attention",
            }));
        }
        if let Some(detail) = &f.detail {
            body.push(json!({ "type": "TextBlock", "text": fit(detail, adaptive_card, 4000), "wrap": true }));
        }
        (body, f.link)
    };
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": { "width": "Full" },
        "body": body,
    });
    if render::is_http(&link) {
        card["actions"] =
            json!([{ "type": "Action.OpenUrl", "title": "Open in Scoville", "url": link }]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": ADAPTIVE_CARD,
            "contentUrl": null,
            "content": card,
        }]
    })
}

fn digest(msg: &Message) -> (Vec<Value>, String) {
    let notices: Vec<_> = msg.items.iter().map(|i| &i.notice).collect();
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": adaptive_card(&render::digest_title(&notices, msg.test)),
        "weight": "Bolder",
        "size": "Large",
        "wrap": true,
    })];
    for n in &notices {
        let (name, rest) = render::digest_line(n, 100);
        let mut container = json!({
            "type": "Container",
            "separator": true,
            "items": [
                { "type": "TextBlock", "text": adaptive_card(&name), "weight": "Bolder", "wrap": true, "color": color(n.kind) },
                { "type": "TextBlock", "text": adaptive_card(&rest), "wrap": true, "spacing": "None", "isSubtle": true },
            ]
        });
        if render::is_http(&n.link) {
            container["selectAction"] = json!({ "type": "Action.OpenUrl", "url": n.link });
        }
        body.push(container);
    }
    (body, String::new())
}

fn color(kind: scoville_core::notice::NoticeKind) -> &'static str {
    use scoville_core::notice::NoticeKind as K;
    match kind {
        K::Down => "Attention",
        K::Recovered | K::Settled => "Good",
        K::Flapping | K::Degraded | K::CertificateExpiring | K::DomainExpiring => "Warning",
        K::Changed => "Accent",
    }
}
