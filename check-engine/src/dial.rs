//! Dialling through the address guard: resolve a host, apply the address policy to every
//! address, and connect only to addresses that pass. A name whose every address is
//! refused ends the check as `down / blocked` before any packet is sent to it.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use scoville_core::DownReason;
use scoville_core::check_spec::Host;
use tokio::net::TcpStream;

use crate::engine::Context;
use crate::trace::{Failure, Phase, Trace, ms};

/// Resolves `host` and returns the addresses the policy allows, recording `dns_ms`.
pub(crate) async fn resolve_allowed(
    ctx: &Context,
    host: &Host,
    trace: &mut Trace,
) -> Result<Vec<IpAddr>, Failure> {
    trace.phase = Phase::Resolving;
    let ips = match host {
        Host::Ip(ip) => vec![*ip],
        Host::Name(name) => {
            let t0 = Instant::now();
            let ips = ctx.resolver.lookup_ip(name).await;
            trace.timings.dns_ms = Some(ms(t0.elapsed()));
            ips.map_err(|e| Failure::new(DownReason::Dns, e))?
        }
    };
    let mut first_block = None;
    let allowed: Vec<IpAddr> = ips
        .into_iter()
        .filter(|ip| match ctx.policy.check(*ip) {
            Ok(()) => true,
            Err(blocked) => {
                first_block.get_or_insert(blocked);
                false
            }
        })
        .collect();
    match (allowed.is_empty(), first_block) {
        (true, Some(blocked)) => {
            let via = match host {
                Host::Name(name) => format!("{name} resolves to an "),
                Host::Ip(_) => String::new(),
            };
            Err(Failure::new(DownReason::Blocked, format!("{via}{blocked}")))
        }
        (true, None) => Err(Failure::new(
            DownReason::Dns,
            format!("{host} has no addresses"),
        )),
        (false, _) => Ok(allowed),
    }
}

/// Resolves, checks and connects, trying each allowed address in turn; records
/// `connect_ms` and the address connected to.
pub(crate) async fn connect(
    ctx: &Context,
    host: &Host,
    port: u16,
    trace: &mut Trace,
) -> Result<TcpStream, Failure> {
    let ips = resolve_allowed(ctx, host, trace).await?;
    trace.phase = Phase::Connecting;
    let t0 = Instant::now();
    let mut last_error = None;
    for ip in ips {
        match TcpStream::connect(SocketAddr::new(ip, port)).await {
            Ok(stream) => {
                trace.timings.connect_ms = Some(ms(t0.elapsed()));
                trace.ip = Some(ip);
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last_error = Some((ip, e)),
        }
    }
    let message = match last_error {
        Some((ip, e)) => format!(
            "connect to {}: {}",
            SocketAddr::new(ip, port),
            describe_io(&e)
        ),
        None => format!("{host}: nothing to connect to"),
    };
    Err(Failure::new(DownReason::Connect, message))
}

/// A short description of an I/O error without the `(os error N)` noise.
pub(crate) fn describe_io(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".into(),
        ConnectionReset => "connection reset by peer".into(),
        ConnectionAborted => "connection aborted".into(),
        HostUnreachable => "host unreachable".into(),
        NetworkUnreachable => "network unreachable".into(),
        UnexpectedEof => "connection closed early".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}
