//! One HTTP request on a fresh connection: dial through the guard, TLS for https, send,
//! wait for the response head (`ttfb_ms`), and hand back a [`BodyReader`] that reads the
//! body under the limit, or is dropped (closing the socket) for a redirect.

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::Bytes;
use futures::FutureExt;
use futures::future::Fuse;
use http::header::{ACCEPT, ACCEPT_ENCODING, CONNECTION, CONTENT_ENCODING, HOST, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use scoville_core::DownReason;
use scoville_core::check_spec::{BodyLimit, Host};
use url::{Position, Url};

use super::stream::{Stream, with_conn};
use crate::body::{BodyCollector, Collected};
use crate::dial;
use crate::engine::Context;
use crate::tls::handshake;
use crate::trace::{Failure, Phase, Trace, ms};

/// The largest response head accepted (hyper's minimum buffer is 8 KiB).
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;

type Conn = Fuse<http1::Connection<TokioIo<Stream>, Full<Bytes>>>;

/// What to send.
#[derive(Debug)]
pub(crate) struct Outgoing<'a> {
    pub(crate) url: &'a Url,
    pub(crate) method: &'a Method,
    pub(crate) headers: &'a BTreeMap<String, String>,
    pub(crate) body: Option<&'a str>,
    /// Leave out `Authorization` and `Cookie` (a redirect went to another host).
    pub(crate) strip_credentials: bool,
    pub(crate) tls_verify: bool,
}

/// A response head with its still-unread body.
pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) reader: BodyReader,
}

/// The unread body and the connection it arrives on.
pub(crate) struct BodyReader {
    body: Incoming,
    conn: Conn,
}

/// Sends one request and waits for the response head.
pub(crate) async fn send(
    ctx: &Context,
    out: Outgoing<'_>,
    trace: &mut Trace,
) -> Result<Head, Failure> {
    let url = out.url;
    let host = url
        .host()
        .map(Host::from_url_host)
        .ok_or_else(|| Failure::new(DownReason::Protocol, "URL has no host"))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let tcp = dial::connect(ctx, &host, port, trace).await?;
    let stream = if url.scheme() == "https" {
        let host_str = url.host_str().unwrap_or_default();
        Stream::Tls(Box::new(
            handshake(&ctx.tls, tcp, host_str, out.tls_verify, trace).await?,
        ))
    } else {
        Stream::Plain(tcp)
    };
    let (mut sender, conn) = http1::Builder::new()
        .max_buf_size(MAX_HEAD_BYTES)
        .handshake::<_, Full<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(|e| hyper_failure(&e))?;
    let mut conn = conn.fuse();
    let request = build_request(ctx, &out)?;

    trace.phase = Phase::WaitingForResponse;
    let t0 = Instant::now();
    let response = with_conn(&mut conn, sender.send_request(request))
        .await
        .map_err(|e| hyper_failure(&e))?;
    trace.timings.ttfb_ms = Some(ms(t0.elapsed()));
    let (parts, body) = response.into_parts();
    trace.status = Some(parts.status.as_u16());
    // hyper bounds its read buffer, but not always the head itself: check it here.
    let head_size: usize = parts
        .headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if head_size > MAX_HEAD_BYTES {
        return Err(Failure::new(
            DownReason::Protocol,
            format!("response head larger than {} KiB", MAX_HEAD_BYTES / 1024),
        ));
    }
    Ok(Head {
        status: parts.status.as_u16(),
        headers: parts.headers,
        reader: BodyReader { body, conn },
    })
}

fn build_request(ctx: &Context, out: &Outgoing<'_>) -> Result<Request<Full<Bytes>>, Failure> {
    let url = out.url;
    let path = &url[Position::BeforePath..Position::AfterQuery];
    let host_header = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let bad = |what: String| Failure::new(DownReason::Internal, what);
    let mut builder = Request::builder().method(out.method.clone()).uri(path);
    let headers = builder
        .headers_mut()
        .ok_or_else(|| bad("invalid request".into()))?;
    headers.insert(
        HOST,
        HeaderValue::from_str(&host_header).map_err(|e| bad(e.to_string()))?,
    );
    headers.insert(USER_AGENT, ctx.user_agent.clone());
    headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
    headers.insert(
        ACCEPT_ENCODING,
        HeaderValue::from_static("gzip, deflate, br"),
    );
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    for (name, value) in out.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| bad(e.to_string()))?;
        if out.strip_credentials
            && (name == http::header::AUTHORIZATION || name == http::header::COOKIE)
        {
            continue;
        }
        headers.insert(
            name,
            HeaderValue::from_str(value).map_err(|e| bad(e.to_string()))?,
        );
    }
    let body = out
        .body
        .map(|b| Bytes::copy_from_slice(b.as_bytes()))
        .unwrap_or_default();
    builder
        .body(Full::new(body))
        .map_err(|e| bad(e.to_string()))
}

impl BodyReader {
    /// Reads the body, decoding it, until its end or the limit; records `total_ms` at
    /// the last byte read.
    pub(crate) async fn read(
        self,
        headers: &HeaderMap,
        limit: BodyLimit,
        trace: &mut Trace,
    ) -> Result<Collected, Failure> {
        let Self { mut body, mut conn } = self;
        trace.phase = Phase::ReadingBody;
        let encoding = headers.get(CONTENT_ENCODING).and_then(|v| v.to_str().ok());
        let mut collector = BodyCollector::new(encoding, limit.max_bytes());
        let complete = loop {
            match with_conn(&mut conn, body.frame()).await {
                None => break true,
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        collector
                            .push(data)
                            .map_err(|e| Failure::new(DownReason::Protocol, e))?;
                        if collector.is_over() {
                            break false;
                        }
                    }
                }
                Some(Err(e)) => return Err(hyper_failure(&e)),
            }
        };
        trace.total = Some(trace.start.elapsed());
        // Dropping body and conn here closes the socket without reading the rest.
        let collected = collector
            .finish(complete)
            .map_err(|e| Failure::new(DownReason::Protocol, e))?;
        trace.bytes = collected.bytes.len() as u64;
        trace.truncated = collected.truncated;
        Ok(collected)
    }
}

fn hyper_failure(e: &hyper::Error) -> Failure {
    let message = if e.is_parse_too_large() {
        format!("response head larger than {} KiB", MAX_HEAD_BYTES / 1024)
    } else if e.is_parse() {
        format!("malformed response: {e}")
    } else if e.is_incomplete_message() {
        "connection closed before the response was complete".to_string()
    } else {
        let io = std::error::Error::source(e).and_then(|s| s.downcast_ref::<std::io::Error>());
        match io {
            Some(io) => {
                return Failure::new(
                    DownReason::Connect,
                    format!("connection failed: {}", dial::describe_io(io)),
                );
            }
            None => format!("HTTP error: {e}"),
        }
    };
    Failure::new(DownReason::Protocol, message)
}
