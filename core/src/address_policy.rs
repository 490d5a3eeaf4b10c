//! The address policy behind the probe's and the notifiers' address guard: which IP
//! addresses Scoville may connect to. By default only globally routable unicast
//! addresses pass; loopback, private (RFC 1918), CGNAT, link-local (and so the cloud
//! metadata service at 169.254.169.254), unique-local, documentation, benchmarking,
//! IPv4-mapped / -compatible IPv6, multicast, broadcast and reserved ranges are refused.
//!
//! The policy is pure; the engine applies it to every address it is about to dial, after
//! DNS resolution and again on every redirect hop, so neither a DNS answer nor a redirect
//! can lead a check somewhere it must not go.
//!
//! `allow_private` is for self-hosters who monitor their own network: it lets loopback,
//! private, CGNAT, link-local and unique-local addresses through, but never the cloud
//! metadata endpoints, unspecified, multicast or broadcast addresses.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which addresses may be dialled.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddressPolicy {
    allow_private: bool,
    /// Single addresses let through whatever their range (an operator's one internal
    /// target, without opening every private range).
    allow_list: Vec<IpAddr>,
}

/// Why an address was refused: the name of the range it falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockedAddress {
    /// The address.
    pub ip: IpAddr,
    /// The range it is in, e.g. `loopback` or `cloud metadata`.
    pub range: &'static str,
}

impl fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "address {} is {} and not allowed", self.ip, self.range)
    }
}

impl std::error::Error for BlockedAddress {}

/// How a non-global range is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Globally routable.
    Global,
    /// Allowed when private targets are.
    Private(&'static str),
    /// Never allowed.
    Never(&'static str),
}

impl AddressPolicy {
    /// Only global addresses: the default, and what the SaaS probe runs with.
    pub fn global_only() -> Self {
        Self {
            allow_private: false,
            allow_list: Vec::new(),
        }
    }

    /// Also private, loopback and link-local addresses, for self-hosted monitoring.
    pub fn allow_private() -> Self {
        Self {
            allow_private: true,
            allow_list: Vec::new(),
        }
    }

    /// Also lets these exact addresses through, whatever their range.
    pub fn allowing(mut self, ips: impl IntoIterator<Item = IpAddr>) -> Self {
        self.allow_list.extend(ips);
        self
    }

    /// Whether private targets are allowed.
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Checks one address.
    pub fn check(&self, ip: IpAddr) -> Result<(), BlockedAddress> {
        if self.allow_list.contains(&ip) {
            return Ok(());
        }
        match classify(ip) {
            Class::Global => Ok(()),
            Class::Private(_) if self.allow_private => Ok(()),
            Class::Private(range) | Class::Never(range) => Err(BlockedAddress { ip, range }),
        }
    }
}

fn classify(ip: IpAddr) -> Class {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn classify_v4(ip: Ipv4Addr) -> Class {
    use Class::{Global, Never, Private};
    const RANGES: &[([u8; 4], u32, Class)] = &[
        ([169, 254, 169, 254], 32, Never("cloud metadata")),
        ([169, 254, 170, 2], 32, Never("cloud metadata")),
        ([100, 100, 100, 200], 32, Never("cloud metadata")),
        ([0, 0, 0, 0], 8, Never("unspecified / this network")),
        ([255, 255, 255, 255], 32, Never("broadcast")),
        ([224, 0, 0, 0], 4, Never("multicast")),
        ([240, 0, 0, 0], 4, Never("reserved")),
        ([127, 0, 0, 0], 8, Private("loopback")),
        ([10, 0, 0, 0], 8, Private("private")),
        ([172, 16, 0, 0], 12, Private("private")),
        ([192, 168, 0, 0], 16, Private("private")),
        ([100, 64, 0, 0], 10, Private("carrier-grade NAT")),
        ([169, 254, 0, 0], 16, Private("link-local")),
        ([192, 0, 0, 0], 24, Never("IETF protocol assignments")),
        ([192, 0, 2, 0], 24, Never("documentation")),
        ([198, 51, 100, 0], 24, Never("documentation")),
        ([203, 0, 113, 0], 24, Never("documentation")),
        ([192, 88, 99, 0], 24, Never("6to4 relay anycast")),
        ([198, 18, 0, 0], 15, Never("benchmarking")),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map_or(Global, |(_, _, class)| *class)
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    (u128::from(ip) & mask) == (u128::from(Ipv6Addr::from(net)) & mask)
}

fn classify_v6(ip: Ipv6Addr) -> Class {
    use Class::{Global, Never, Private};
    if ip.is_unspecified() {
        return Never("unspecified");
    }
    if ip.is_loopback() {
        return Private("loopback");
    }
    // Forms that embed an IPv4 address are refused outright: a real target is dialled
    // over IPv4 directly, and these forms are a classic way around v4-only filters.
    const RANGES: &[([u16; 8], u32, Class)] = &[
        (
            [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254],
            128,
            Never("cloud metadata"),
        ),
        ([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, Never("IPv4-mapped IPv6")),
        ([0, 0, 0, 0, 0, 0, 0, 0], 96, Never("IPv4-compatible IPv6")),
        (
            [0, 0, 0, 0, 0xffff, 0, 0, 0],
            96,
            Never("IPv4-translated IPv6"),
        ),
        ([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, Never("NAT64")),
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, Never("local NAT64")),
        ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, Never("6to4")),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, Never("Teredo")),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, Never("discard-only")),
        (
            [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
            32,
            Never("documentation"),
        ),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Never("documentation")),
        ([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28, Never("ORCHID")),
        ([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, Never("ORCHIDv2")),
        (
            [0x2001, 0, 0, 0, 0, 0, 0, 0],
            23,
            Never("IETF protocol assignments"),
        ),
        ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, Never("segment routing")),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Never("multicast")),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Private("unique-local")),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, Private("link-local")),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, Private("site-local")),
    ];
    if let Some((_, _, class)) = RANGES
        .iter()
        .find(|(net, prefix, _)| in_v6(ip, *net, *prefix))
    {
        return *class;
    }
    // Only 2000::/3 is allocated global unicast; everything else is reserved.
    if in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        Global
    } else {
        Never("reserved")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(s: &str) -> bool {
        AddressPolicy::global_only()
            .check(s.parse().unwrap())
            .is_err()
    }

    #[test]
    fn global_addresses_pass() {
        for ok in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "2a00:1450::1",
        ] {
            assert!(!blocked(ok), "{ok} should pass");
        }
    }

    #[test]
    fn non_global_addresses_are_refused() {
        for bad in [
            "127.0.0.1",
            "127.255.255.254",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "169.254.1.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "2001:db8::1",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "fd00:ec2::254",
            "2001::1",
            "100::1",
            "3fff::1",
        ] {
            assert!(blocked(bad), "{bad} should be refused");
        }
    }

    #[test]
    fn allow_private_opens_private_ranges_but_never_metadata() {
        let p = AddressPolicy::allow_private();
        for ok in [
            "127.0.0.1",
            "10.0.0.1",
            "192.168.0.10",
            "fd00::1",
            "::1",
            "169.254.1.1",
        ] {
            assert!(p.check(ok.parse().unwrap()).is_ok(), "{ok}");
        }
        for bad in [
            "169.254.169.254",
            "fd00:ec2::254",
            "0.0.0.0",
            "224.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(p.check(bad.parse().unwrap()).is_err(), "{bad}");
        }
        let e = AddressPolicy::global_only()
            .check("127.0.0.1".parse().unwrap())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "address 127.0.0.1 is loopback and not allowed"
        );
    }
}
