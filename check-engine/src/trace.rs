//! What a check has measured so far. A check fills its [`Trace`] as it goes, so that a
//! check cut off by its deadline still reports the phases it finished and the phase it
//! was in.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use scoville_core::{DownReason, Timings, WarningReason};

/// The phase a check is in, named in timeout messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Resolving,
    Connecting,
    TlsHandshake,
    WaitingForResponse,
    ReadingBody,
    Exchanging,
}

impl Phase {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Phase::Resolving => "resolving the name",
            Phase::Connecting => "connecting",
            Phase::TlsHandshake => "in the TLS handshake",
            Phase::WaitingForResponse => "waiting for the response",
            Phase::ReadingBody => "reading the body",
            Phase::Exchanging => "waiting for the reply",
        }
    }
}

/// Partial results of a running check.
#[derive(Debug)]
pub(crate) struct Trace {
    pub(crate) start: Instant,
    pub(crate) phase: Phase,
    pub(crate) timings: Timings,
    /// Set when the check knows its exact end (last body byte), else taken at the end.
    pub(crate) total: Option<Duration>,
    pub(crate) status: Option<u16>,
    pub(crate) bytes: u64,
    pub(crate) truncated: bool,
    pub(crate) cert_expires_at_ms: Option<i64>,
    pub(crate) body_hash: Option<String>,
    pub(crate) watch_excerpt: Option<String>,
    pub(crate) ip: Option<IpAddr>,
    pub(crate) redirects: u8,
}

impl Trace {
    pub(crate) fn new() -> Self {
        Self {
            start: Instant::now(),
            phase: Phase::Resolving,
            timings: Timings::default(),
            total: None,
            status: None,
            bytes: 0,
            truncated: false,
            cert_expires_at_ms: None,
            body_hash: None,
            watch_excerpt: None,
            ip: None,
            redirects: 0,
        }
    }
}

/// Milliseconds with microsecond resolution.
pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

/// A check that did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) reason: DownReason,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(reason: DownReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

/// A check that passed, possibly with a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Success {
    pub(crate) message: String,
    pub(crate) warning: Option<WarningReason>,
}

impl Success {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            warning: None,
        }
    }
}

pub(crate) type Verdict = Result<Success, Failure>;
