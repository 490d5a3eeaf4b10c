//! The ICMP echo check. It opens an unprivileged datagram ICMP socket (Linux allows it
//! for groups in `net.ipv4.ping_group_range`) and falls back to a raw socket (root or
//! CAP_NET_RAW). Where neither is allowed, as on AWS Lambda, or where the engine was told
//! so, the outcome is `down / icmp_unavailable` with a message saying why: a clear "not
//! possible here", never a false "down".

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use scoville_core::DownReason;
use scoville_core::check_spec::IcmpCheck;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use crate::dial::resolve_allowed;
use crate::engine::{Context, IcmpMode};
use crate::kind::Check;
use crate::trace::{Failure, Phase, Success, Trace, Verdict, ms};

impl Check for IcmpCheck {
    async fn run(&self, ctx: &Context, trace: &mut Trace) -> Verdict {
        if let IcmpMode::Unavailable(why) = &ctx.icmp {
            return Err(Failure::new(
                DownReason::IcmpUnavailable,
                format!("ICMP not available here: {why}"),
            ));
        }
        let ip = resolve_allowed(ctx, &self.host, trace).await?[0];
        trace.ip = Some(ip);
        let (socket, raw) = open(ip)?;
        // A datagram or raw ICMP socket is message-based like UDP, so tokio's UdpSocket
        // drives it: send_to and recv work on any such socket.
        let fd = UdpSocket::from_std(std::net::UdpSocket::from(socket))
            .map_err(|e| Failure::new(DownReason::Internal, e.to_string()))?;
        trace.phase = Phase::Exchanging;
        let count = self.count.clamp(1, 10);
        let per_echo = self.timeout_ms.as_duration() / u32::from(count);
        let token: [u8; 8] = rand_token(trace.start);
        let mut rtts = Vec::new();
        for seq in 0..u16::from(count) {
            let packet = echo_request(ip, seq, &token);
            let sent = Instant::now();
            send(&fd, &packet, ip).await?;
            if let Ok(Ok(())) =
                tokio::time::timeout(per_echo, wait_reply(&fd, ip, raw, seq, &token)).await
            {
                rtts.push(sent.elapsed());
            }
        }
        if rtts.is_empty() {
            return Err(Failure::new(
                DownReason::NoReply,
                format!("no echo reply from {ip} to {count} requests"),
            ));
        }
        let avg = rtts.iter().sum::<Duration>() / rtts.len() as u32;
        trace.total = Some(avg);
        Ok(Success::new(format!(
            "{}/{count} replies, average {:.2} ms",
            rtts.len(),
            ms(avg)
        )))
    }
}

fn open(ip: IpAddr) -> Result<(Socket, bool), Failure> {
    let (domain, proto) = match ip {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
    };
    let (socket, raw) = match Socket::new(domain, Type::DGRAM, Some(proto)) {
        Ok(s) => (s, false),
        Err(dgram) => match Socket::new(domain, Type::RAW, Some(proto)) {
            Ok(s) => (s, true),
            Err(raw) => {
                return Err(Failure::new(
                    DownReason::IcmpUnavailable,
                    format!(
                        "ICMP not available here: no datagram ICMP socket ({dgram}) and no raw socket ({raw}); \
                         allow it with sysctl net.ipv4.ping_group_range or CAP_NET_RAW"
                    ),
                ));
            }
        },
    };
    socket
        .set_nonblocking(true)
        .map_err(|e| Failure::new(DownReason::Internal, e.to_string()))?;
    Ok((socket, raw))
}

fn rand_token(start: Instant) -> [u8; 8] {
    // Unique enough to tell our replies from others' on a raw socket.
    let nanos = start.elapsed().as_nanos() as u64 ^ (std::process::id() as u64) << 32;
    let addr = &start as *const Instant as u64;
    (nanos ^ addr.rotate_left(17)).to_be_bytes()
}

fn echo_request(ip: IpAddr, seq: u16, token: &[u8; 8]) -> Vec<u8> {
    let kind = if ip.is_ipv4() { 8 } else { 128 };
    let id = (std::process::id() & 0xffff) as u16;
    let mut p = vec![kind, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(token);
    if ip.is_ipv4() {
        let sum = checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

async fn send(fd: &UdpSocket, packet: &[u8], ip: IpAddr) -> Result<(), Failure> {
    fd.send_to(packet, SocketAddr::new(ip, 0))
        .await
        .map(|_| ())
        .map_err(|e| Failure::new(DownReason::Connect, format!("ICMP send to {ip}: {e}")))
}

async fn wait_reply(
    fd: &UdpSocket,
    ip: IpAddr,
    raw: bool,
    seq: u16,
    token: &[u8; 8],
) -> std::io::Result<()> {
    let mut buf = [0u8; 1500];
    loop {
        let n = fd.recv(&mut buf).await?;
        let mut packet = &buf[..n];
        if raw && ip.is_ipv4() && !packet.is_empty() {
            let header = usize::from(packet[0] & 0x0f) * 4;
            packet = packet.get(header..).unwrap_or_default();
        }
        let reply_kind = if ip.is_ipv4() { 0 } else { 129 };
        if packet.len() >= 16
            && packet[0] == reply_kind
            && packet[6..8] == seq.to_be_bytes()
            && packet[8..16] == token[..]
        {
            return Ok(());
        }
    }
}
