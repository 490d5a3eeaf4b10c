//! The HTTP(S) check: requests on fresh connections, redirects followed hop by hop (each
//! through the address guard, credentials dropped when the host changes), the body read
//! under its limit, the watched value taken (change alerts, [`watch`]), then the status
//! and the assertions judged.
//!
//! Timings: `dns_ms`, `connect_ms`, `tls_ms` and `ttfb_ms` describe the final hop;
//! `total_ms` covers every hop from the first lookup to the last body byte.

mod assert;
mod exchange;
mod stream;
mod watch;

use http::Method;
use scoville_core::DownReason;
use scoville_core::check_spec::{BodyOverLimit, HttpCheck, HttpUrl};

use crate::engine::Context;
use crate::kind::Check;
use crate::tls::expiry_warning;
use crate::trace::{Failure, Success, Trace, Verdict, ms};
use exchange::Outgoing;

impl Check for HttpCheck {
    async fn run(&self, ctx: &Context, trace: &mut Trace) -> Verdict {
        let mut url = self.url.url().clone();
        let mut method = Method::from_bytes(self.method.as_str().as_bytes())
            .map_err(|e| Failure::new(DownReason::Internal, e.to_string()))?;
        let mut body = self.body.as_deref();
        let mut strip_credentials = false;
        let head = loop {
            let out = Outgoing {
                url: &url,
                method: &method,
                headers: &self.headers,
                body,
                strip_credentials,
                tls_verify: self.tls_verify,
            };
            let head = exchange::send(ctx, out, trace).await?;
            let location = head.headers.get(http::header::LOCATION);
            let redirect = matches!(head.status, 301 | 302 | 303 | 307 | 308);
            let (true, true, Some(location)) = (self.follow_redirects, redirect, location) else {
                break head;
            };
            if trace.redirects >= self.max_redirects.get() {
                return Err(Failure::new(
                    DownReason::TooManyRedirects,
                    format!("more than {} redirects", self.max_redirects.get()),
                ));
            }
            let next = redirect_target(&url, location)?;
            strip_credentials |= next.host_str() != url.host_str() || next.port() != url.port();
            if head.status == 303 || (matches!(head.status, 301 | 302) && method == Method::POST) {
                method = Method::GET;
                body = None;
            }
            trace.redirects += 1;
            url = next;
        };
        let status = head.status;
        let headers = head.headers;
        let collected = head.reader.read(&headers, self.body_limit, trace).await?;
        if collected.truncated && self.body_limit.on_exceed() == BodyOverLimit::Fail {
            return Err(Failure::new(
                DownReason::BodyTooLarge,
                format!("body larger than {} bytes", self.body_limit.max_bytes()),
            ));
        }
        if let Some(watch) = self.watched() {
            let seen = watch::observe(watch, &collected.bytes, collected.truncated);
            trace.body_hash = Some(seen.hash);
            trace.watch_excerpt = Some(seen.excerpt);
        }
        let total_ms = ms(trace.total.unwrap_or_else(|| trace.start.elapsed()));
        assert::judge(self, status, &headers, &collected.bytes, total_ms)?;
        let mut message = format!("HTTP {status}");
        if collected.truncated {
            message.push_str(&format!(
                ", body cut at {} bytes",
                self.body_limit.max_bytes()
            ));
        }
        Ok(
            match expiry_warning(self.cert_expiry, trace.cert_expires_at_ms) {
                Some((warning, text)) => Success {
                    message: format!("{message}, {text}"),
                    warning: Some(warning),
                },
                None => Success::new(message),
            },
        )
    }
}

pub(crate) fn redirect_target(
    current: &url::Url,
    location: &http::HeaderValue,
) -> Result<url::Url, Failure> {
    let location = location
        .to_str()
        .map_err(|_| Failure::new(DownReason::Protocol, "redirect Location is not text"))?;
    let next = current.join(location).map_err(|e| {
        Failure::new(
            DownReason::Protocol,
            format!("bad redirect Location {location:?}: {e}"),
        )
    })?;
    HttpUrl::from_url(next)
        .map(|u| u.url().clone())
        .map_err(|e| Failure::new(DownReason::Blocked, format!("redirect refused: {e}")))
}
