//! The email channel against a real SMTP server on loopback: Python's aiosmtpd, started
//! by the test with a small handler script that parses every received message with
//! Python's `email` package and writes what it found as JSON. Plaintext (a local relay)
//! and STARTTLS with a test CA and SMTP authentication.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use scoville_core::notice::{NoticeKind, NotificationJob};
use scoville_notifier::channel::{Channel, ChannelConfig, Item, Message, SendError};
use serde_json::{Value, json};
use support::{NASTY_ERROR, NASTY_NAME, ctx, notice};

const HANDLER: &str = r#"
import email, email.policy, json, os, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

out_dir, port = sys.argv[1], int(sys.argv[2])
cert = sys.argv[3] if len(sys.argv) > 4 else None
key = sys.argv[4] if len(sys.argv) > 4 else None
logins = []

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"alerts" and auth_data.password == b"hunter2"
    if ok:
        logins.append(auth_data.login.decode())
    return AuthResult(success=ok, handled=False)

class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        rec = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(msg["subject"]),
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "content_type": msg.get_content_type(),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
            "tls": session.ssl is not None,
            "logins": list(logins),
        }
        n = len([f for f in os.listdir(out_dir) if f.endswith(".json")])
        tmp = os.path.join(out_dir, ".tmp")
        with open(tmp, "w") as f:
            json.dump(rec, f)
        os.rename(tmp, os.path.join(out_dir, "%d.json" % n))
        return "250 Message accepted for delivery"

kwargs = {}
if cert:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    kwargs = dict(tls_context=ctx, require_starttls=True, authenticator=authenticator, auth_require_tls=True)
controller = Controller(Handler(), hostname="127.0.0.1", port=port, **kwargs)
controller.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"#;

/// aiosmtpd on a free loopback port; killed when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpServer {
    fn start(tls: Option<(&Path, &Path)>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("smtpd.py");
        std::fs::write(&script, HANDLER).unwrap();
        let out = dir.path().join("mail");
        std::fs::create_dir(&out).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new("python3");
        cmd.arg(&script).arg(&out).arg(port.to_string());
        if let Some((cert, key)) = tls {
            cmd.arg(cert).arg(key);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 with aiosmtpd (pip install aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "aiosmtpd did not start");
        Self { child, port, dir }
    }

    fn mail_dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// The messages received so far, in order.
    fn received(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for n in 0.. {
            let p = self.mail_dir().join(format!("{n}.json"));
            let Ok(text) = std::fs::read_to_string(&p) else {
                break;
            };
            let mut v: Value = serde_json::from_str(&text).unwrap();
            // SMTP carries lines as CRLF; compare with LF.
            for part in ["text", "html"] {
                if let Some(s) = v[part].as_str() {
                    v[part] = Value::String(s.replace("\r\n", "\n"));
                }
            }
            out.push(v);
        }
        out
    }
}

fn test_pki(dir: &Path) -> (PathBuf, PathBuf, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Scoville Test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    (cert, key, ca.pem())
}

fn email_channel(port: u16, extra: Value) -> ChannelConfig {
    let mut v = json!({
        "type": "email",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "from": "Scoville <alerts@scoville.example>",
        "to": ["ops@example.com", "Oncall <oncall@example.com>"],
    });
    for (k, val) in extra.as_object().unwrap() {
        v[k] = val.clone();
    }
    ChannelConfig::parse_value(v).unwrap()
}

#[tokio::test]
async fn plaintext_relay_gets_a_multipart_message_with_escaped_html() {
    let smtp = SmtpServer::start(None);
    let ch = email_channel(smtp.port, json!({"starttls": "none"}));
    let mut n = notice(1, NASTY_NAME, NoticeKind::Down);
    n.error = Some(NASTY_ERROR.into());
    n.detail = Some("Seen from 2 of 3 regions".into());
    let msg = Message::single(&NotificationJob {
        channel_id: "mail".into(),
        notice: n,
    });
    ch.send(&ctx(), &msg).await.unwrap();
    let got = smtp.received();
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m["mail_from"], "alerts@scoville.example");
    assert_eq!(
        m["rcpt_tos"],
        json!(["ops@example.com", "oncall@example.com"])
    );
    assert_eq!(m["subject"], format!("{NASTY_NAME} is down"));
    assert_eq!(m["from"], "Scoville <alerts@scoville.example>");
    assert_eq!(m["to"], "ops@example.com, Oncall <oncall@example.com>");
    assert_eq!(m["content_type"], "multipart/alternative");
    assert_eq!(m["tls"], false);

    let text = m["text"].as_str().unwrap();
    assert!(text.starts_with(&format!("{NASTY_NAME} is down\n\nWhat:    Down\nWhere:   https://api1.example.com/health\nSince:   2024-05-01 12:00:00 UTC\nRegions: eu-west-1, us-east-1\n")), "{text}");
    assert!(text.contains(&format!("Error:\n{NASTY_ERROR}\n")), "{text}");
    assert!(text.contains("Seen from 2 of 3 regions"));
    assert!(text.contains("Open in Scoville: https://scoville.example.com/endpoints/ep-1"));

    let html = m["html"].as_str().unwrap();
    assert!(
        html.contains(
            "&lt;script&gt;alert(1)&lt;/script&gt; *bold* &amp; {{ x }} ${x} @everyone is down</h2>"
        ),
        "{html}"
    );
    assert!(html.contains("<pre>&lt;b&gt;boom&lt;/b&gt; `code` _it_ [link](http://evil.example) {{DATE(2017-02-14T06:08:39Z, SHORT)}}</pre>"), "{html}");
    assert!(
        !html.contains("<script>") && !html.contains("<b>boom"),
        "{html}"
    );
    assert!(html.contains(
        "<tr><th align=\"left\">Where</th><td>https://api1.example.com/health</td></tr>"
    ));
    assert!(
        html.contains(
            "<a href=\"https://scoville.example.com/endpoints/ep-1\">Open in Scoville</a>"
        )
    );
}

#[tokio::test]
async fn starttls_with_a_private_ca_and_login() {
    let pki_dir = tempfile::tempdir().unwrap();
    let (cert, key, ca_pem) = test_pki(pki_dir.path());
    let smtp = SmtpServer::start(Some((&cert, &key)));

    // Without trusting the test CA, STARTTLS fails before anything is sent. It counts as
    // retryable (a server's certificate can be fixed or rotated); the queue's receive
    // limit bounds the retries.
    let untrusted = email_channel(
        smtp.port,
        json!({"starttls": "required", "username": "alerts", "password": "hunter2"}),
    );
    let digest = Message::of_items(
        (0..3)
            .map(|i| {
                Item::of(&NotificationJob {
                    channel_id: "mail".into(),
                    notice: notice(i, &format!("Service {i}"), NoticeKind::Down),
                })
            })
            .collect(),
    );
    let err = untrusted.send(&ctx(), &digest).await.unwrap_err();
    assert!(matches!(err, SendError::Retryable { .. }), "{err:?}");
    assert!(smtp.received().is_empty());

    let ch = email_channel(
        smtp.port,
        json!({"starttls": "required", "username": "alerts", "password": "hunter2", "ca_pem": ca_pem}),
    );
    ch.send(&ctx(), &digest).await.unwrap();
    let got = smtp.received();
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m["tls"], true);
    assert_eq!(m["logins"], json!(["alerts"]));
    assert_eq!(m["subject"], "Scoville: 3 notices (3 down)");
    let text = m["text"].as_str().unwrap();
    for i in 0..3 {
        assert!(text.contains(&format!("- Service {i}: down since 2024-05-01 12:00:00 UTC (eu-west-1, us-east-1)\n  https://scoville.example.com/endpoints/ep-{i}\n")), "{text}");
    }
    let html = m["html"].as_str().unwrap();
    assert!(html.contains("<li><strong><a href=\"https://scoville.example.com/endpoints/ep-2\">Service 2</a></strong>: down since"), "{html}");

    // A wrong password is a permanent SMTP failure (535).
    let wrong = email_channel(
        smtp.port,
        json!({"starttls": "required", "username": "alerts", "password": "wrong", "ca_pem": ca_pem}),
    );
    let err = wrong.send(&ctx(), &digest).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent(r) if r.contains("535")),
        "{err:?}"
    );
    assert_eq!(smtp.received().len(), 1);
    // And the password never shows in the error or the channel's Debug output.
    assert!(!format!("{err} {wrong:?}").contains("wrong\""));
    assert!(!format!("{ch:?}").contains("hunter2"));
}

#[tokio::test]
async fn opportunistic_falls_back_to_plaintext_and_required_refuses_it() {
    let smtp = SmtpServer::start(None);
    let opportunistic = email_channel(smtp.port, json!({"starttls": "opportunistic"}));
    let msg = Message::single(&support::job("mail", 7));
    opportunistic.send(&ctx(), &msg).await.unwrap();
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(smtp.received()[0]["subject"], "Endpoint 7 is down");

    let required = email_channel(smtp.port, json!({"starttls": "required"}));
    let err = required.send(&ctx(), &msg).await.unwrap_err();
    assert!(err.to_string().to_lowercase().contains("tls"), "{err}");
    assert_eq!(smtp.received().len(), 1, "nothing sent in clear");
    tokio::time::sleep(Duration::from_millis(10)).await;
}
