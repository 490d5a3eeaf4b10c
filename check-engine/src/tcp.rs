//! The TCP check: connect through the guard; optionally send text and expect text in the
//! reply (read until it appears, the peer closes, or 64 KiB have arrived).

use scoville_core::DownReason;
use scoville_core::check_spec::TcpCheck;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::dial::{self, describe_io};
use crate::engine::Context;
use crate::kind::Check;
use crate::trace::{Failure, Phase, Success, Trace, Verdict, ms};

const MAX_REPLY: usize = 64 * 1024;

impl Check for TcpCheck {
    async fn run(&self, ctx: &Context, trace: &mut Trace) -> Verdict {
        let mut stream = dial::connect(ctx, &self.host, self.port.get(), trace).await?;
        if self.send.is_none() && self.expect.is_none() {
            return Ok(Success::new("connected"));
        }
        trace.phase = Phase::Exchanging;
        let sent_at = std::time::Instant::now();
        if let Some(send) = &self.send {
            stream.write_all(send.as_bytes()).await.map_err(|e| {
                Failure::new(DownReason::Connect, format!("send: {}", describe_io(&e)))
            })?;
        }
        let Some(expect) = &self.expect else {
            return Ok(Success::new("connected, sent"));
        };
        let mut reply = Vec::with_capacity(1024);
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.map_err(|e| {
                Failure::new(DownReason::Connect, format!("read: {}", describe_io(&e)))
            })?;
            if trace.timings.ttfb_ms.is_none() && n > 0 {
                trace.timings.ttfb_ms = Some(ms(sent_at.elapsed()));
            }
            reply.extend_from_slice(&buf[..n]);
            trace.bytes = reply.len() as u64;
            if memchr::memmem::find(&reply, expect.as_bytes()).is_some() {
                return Ok(Success::new("reply matched"));
            }
            if n == 0 || reply.len() >= MAX_REPLY {
                let got = String::from_utf8_lossy(&reply[..reply.len().min(60)]).into_owned();
                return Err(Failure::new(
                    DownReason::Assertion,
                    format!("reply lacks {expect:?} (got {got:?})"),
                ));
            }
        }
    }
}
