//! Email over SMTP with lettre's async transport (`AsyncSmtpTransport<Tokio1Executor>`,
//! rustls). The message is `multipart/alternative`: a plain-text part and an HTML part
//! (user text escaped with [`crate::escape::html`]); the subject is the headline.
//!
//! Transport security is the channel's `starttls`:
//! - `required` (default): STARTTLS must succeed before anything else is sent;
//! - `opportunistic`: STARTTLS when the server offers it, plaintext otherwise;
//! - `none`: plaintext, for a trusted relay on the same host or network only (credentials
//!   are refused in this mode, so a password never travels in clear).
//!
//! `ca_pem` adds a trusted root for a relay with a private CA. The SMTP server is reached
//! through the same address guard as HTTP channels: its name is resolved here, every
//! address checked against the policy, and the connection made to an allowed address
//! while TLS still verifies the configured host name. Each SMTP command has the context's
//! timeout, and the whole session three times that.
//!
//! SMTP answers map onto [`SendError`]: 5xx (permanent negative completion) is permanent,
//! 4xx, connection and TLS trouble and timeouts are retryable. A digest lists up to 50
//! notices in one mail; about one mail a second is sent to one channel.

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};

use super::render;
use super::{Channel, ChannelConfigError, Message, Pace, Secret, SendError};
use crate::escape::{html, one_line, truncate};
use crate::http::{SendContext, allowed_addresses, error_chain};

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartTls {
    /// STARTTLS must succeed.
    #[default]
    Required,
    /// STARTTLS if offered.
    Opportunistic,
    /// Plaintext only (local trusted relays; no credentials).
    None,
}

/// `{"type": "email", "smtp_host": "smtp.example.com", "from": "Scoville <alerts@example.com>", "to": ["ops@example.com"]}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The SMTP server's host name (or address).
    pub smtp_host: String,
    /// Its port (587, the submission port, by default).
    #[serde(default = "default_port")]
    pub smtp_port: u16,
    /// Transport security.
    #[serde(default)]
    pub starttls: StartTls,
    /// SMTP user, if the server wants authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// SMTP password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// The sender, `Name <address>` or `address`.
    pub from: String,
    /// Recipients (1 to 50).
    pub to: Vec<String>,
    /// An extra trusted root certificate (PEM), for a relay with a private CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
}

fn default_port() -> u16 {
    587
}

/// Most recipients per channel.
pub const MAX_RECIPIENTS: usize = 50;

impl Channel for EmailConfig {
    fn kind(&self) -> &'static str {
        "email"
    }

    fn digest_max(&self) -> Option<usize> {
        Some(50)
    }

    fn default_pace(&self) -> Pace {
        Pace::new(1.0, 5)
    }

    fn validate(&self) -> Result<(), ChannelConfigError> {
        let host = self.smtp_host.trim();
        if host.is_empty()
            || host.len() > 253
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        {
            return Err(ChannelConfigError::new(
                "smtp_host",
                "must be a host name or IP address",
            ));
        }
        if self.smtp_port == 0 {
            return Err(ChannelConfigError::new("smtp_port", "must not be 0"));
        }
        self.from
            .parse::<Mailbox>()
            .map_err(|e| ChannelConfigError::new("from", format!("not an email address ({e})")))?;
        if self.to.is_empty() || self.to.len() > MAX_RECIPIENTS {
            return Err(ChannelConfigError::new(
                "to",
                format!("must list 1 to {MAX_RECIPIENTS} recipients"),
            ));
        }
        for (i, to) in self.to.iter().enumerate() {
            to.parse::<Mailbox>().map_err(|e| {
                ChannelConfigError::new(&format!("to[{i}]"), format!("not an email address ({e})"))
            })?;
        }
        match (&self.username, &self.password) {
            (Some(u), Some(p)) if !u.trim().is_empty() && !p.is_empty() => {
                if self.starttls == StartTls::None {
                    return Err(ChannelConfigError::new(
                        "starttls",
                        "credentials would be sent in clear; use \"required\"",
                    ));
                }
            }
            (None, None) => {}
            (_, None) => {
                return Err(ChannelConfigError::new(
                    "password",
                    "required with a username",
                ));
            }
            (None, _) => {
                return Err(ChannelConfigError::new(
                    "username",
                    "required with a password",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(ChannelConfigError::new(
                    "username",
                    "username and password must not be empty",
                ));
            }
        }
        if let Some(pem) = &self.ca_pem {
            Certificate::from_pem(pem.as_bytes()).map_err(|e| {
                ChannelConfigError::new("ca_pem", format!("not a PEM certificate ({e})"))
            })?;
        }
        Ok(())
    }

    async fn send(&self, ctx: &SendContext, msg: &Message) -> Result<(), SendError> {
        let email = self.build(msg)?;
        let host = self
            .smtp_host
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let addrs = allowed_addresses(ctx.policy(), host, self.smtp_port)
            .await
            .map_err(|e| {
                if e.downcast_ref::<scoville_core::BlockedAddress>().is_some() {
                    SendError::Permanent(format!("SMTP server: {e}"))
                } else {
                    SendError::retryable(format!("resolving the SMTP server: {e}"))
                }
            })?;
        let ip = addrs[0].ip();
        let tls = self.tls(host)?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(ip.to_string())
            .port(self.smtp_port)
            .timeout(Some(ctx.timeout()))
            .tls(tls);
        if let (Some(user), Some(password)) = (&self.username, &self.password) {
            builder = builder.credentials(Credentials::new(
                user.trim().to_string(),
                password.expose().to_string(),
            ));
        }
        let transport = builder.build();
        match tokio::time::timeout(ctx.timeout() * 3, transport.send(email)).await {
            Err(_) => Err(SendError::retryable("SMTP session timed out")),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => {
                Err(SendError::Permanent(format!("SMTP: {}", error_chain(&e))))
            }
            Ok(Err(e)) => Err(SendError::retryable(format!("SMTP: {}", error_chain(&e)))),
        }
    }
}

impl EmailConfig {
    fn tls(&self, host: &str) -> Result<Tls, SendError> {
        if self.starttls == StartTls::None {
            return Ok(Tls::None);
        }
        let mut params = TlsParameters::builder(host.to_string());
        if let Some(pem) = &self.ca_pem {
            let cert = Certificate::from_pem(pem.as_bytes())
                .map_err(|e| SendError::Permanent(format!("ca_pem: {e}")))?;
            params = params.add_root_certificate(cert);
        }
        let params = params
            .build_rustls()
            .map_err(|e| SendError::Permanent(format!("TLS parameters: {e}")))?;
        Ok(match self.starttls {
            StartTls::Required => Tls::Required(params),
            StartTls::Opportunistic => Tls::Opportunistic(params),
            StartTls::None => Tls::None,
        })
    }

    /// The email for `msg`.
    pub(crate) fn build(&self, msg: &Message) -> Result<lettre::Message, SendError> {
        let bad = |field: &str| SendError::Permanent(format!("{field}: not an email address"));
        let mut builder = lettre::Message::builder()
            .from(self.from.parse::<Mailbox>().map_err(|_| bad("from"))?)
            .subject(subject(msg));
        for to in &self.to {
            builder = builder.to(to.parse::<Mailbox>().map_err(|_| bad("to"))?);
        }
        let (plain, rich) = bodies(msg);
        builder
            .multipart(MultiPart::alternative_plain_html(plain, rich))
            .map_err(|e| SendError::Permanent(format!("building the email: {e}")))
    }
}

/// The subject: the headline, or the digest's title.
pub(crate) fn subject(msg: &Message) -> String {
    if msg.is_digest() {
        let notices: Vec<_> = msg.items.iter().map(|i| &i.notice).collect();
        render::digest_title(&notices, msg.test)
    } else {
        render::facts(&msg.first().notice, msg.test).title
    }
}

/// The plain-text and HTML bodies.
pub(crate) fn bodies(msg: &Message) -> (String, String) {
    let mut plain = String::new();
    let mut rich = String::from(
        "<!DOCTYPE html><html><body style=\"font-family: sans-serif; font-size: 14px\">",
    );
    if msg.is_digest() {
        let notices: Vec<_> = msg.items.iter().map(|i| &i.notice).collect();
        let title = render::digest_title(&notices, msg.test);
        plain.push_str(&format!("{title}\n\n"));
        rich.push_str(&format!("<h2>{}</h2><ul>", html(&title)));
        for n in &notices {
            let (name, rest) = render::digest_line(n, 120);
            plain.push_str(&format!("- {name}: {rest}\n  {}\n", one_line(&n.link)));
            let name = if render::is_http(&n.link) {
                format!("<a href=\"{}\">{}</a>", html(&n.link), html(&name))
            } else {
                html(&name)
            };
            rich.push_str(&format!(
                "<li><strong>{name}</strong>: {}</li>",
                html(&rest)
            ));
        }
        rich.push_str("</ul>");
    } else {
        let n = &msg.first().notice;
        let f = render::facts(n, msg.test);
        plain.push_str(&format!(
            "{}\n\nWhat:    {}\nWhere:   {}\nSince:   {}\nRegions: {}\n",
            f.title, f.what, f.target, f.since, f.regions
        ));
        rich.push_str(&format!(
            "<h2 style=\"color: #{:06x}\">{}</h2><table cellpadding=\"4\">",
            render::color(n.kind),
            html(&f.title)
        ));
        for (label, value) in [
            ("What", f.what.to_string()),
            ("Where", f.target.clone()),
            ("Since", f.since.clone()),
            ("Regions", f.regions.clone()),
        ] {
            rich.push_str(&format!(
                "<tr><th align=\"left\">{label}</th><td>{}</td></tr>",
                html(&value)
            ));
        }
        rich.push_str("</table>");
        if let Some(error) = &f.error {
            plain.push_str(&format!("\nError:\n{error}\n"));
            rich.push_str(&format!("<h3>Error</h3><pre>{}</pre>", html(error)));
        }
        if let Some(detail) = &f.detail {
            plain.push_str(&format!("\n{detail}\n"));
            rich.push_str(&format!("<p>{}</p>", html(detail)));
        }
        plain.push_str(&format!("\nOpen in Scoville: {}\n", f.link));
        if render::is_http(&f.link) {
            rich.push_str(&format!(
                "<p><a href=\"{}\">Open in Scoville</a></p>",
                html(&f.link)
            ));
        }
        plain.push_str(&format!(
            "Incident: {}\n",
            truncate(&one_line(&n.incident_id), 200)
        ));
    }
    if msg.test {
        let note = "This is a test notification sent from Scoville to check this channel.";
        plain.push_str(&format!("\n{note}\n"));
        rich.push_str(&format!("<p><em>{note}</em></p>"));
    }
    rich.push_str("</body></html>");
    (plain, rich)
}
