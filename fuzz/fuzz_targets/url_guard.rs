//! URL handling and the address guard (what stands between a user's URL and an
//! internal address):
//!
//! - a user's URL (`HttpUrl::parse`): no panic; what is accepted is http(s) with a host
//!   and no credentials, and parsing its own text again gives the same URL;
//! - a redirect (`Location` against the current URL, as the HTTP check follows it):
//!   what is followed is again an acceptable `HttpUrl`;
//! - the guard (`AddressPolicy::check`) on the address of an IP-literal host, and on
//!   raw addresses: an IPv6 address that embeds an IPv4 one (mapped, compatible,
//!   NAT64, 6to4) is never allowed when that IPv4 address is refused.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use scoville_check_engine::fuzzing::redirect_target;
use scoville_core::address_policy::AddressPolicy;
use scoville_core::check_spec::{Host, HttpUrl};

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let low = Ipv4Addr::new(
        (s[6] >> 8) as u8,
        s[6] as u8,
        (s[7] >> 8) as u8,
        s[7] as u8,
    );
    match s {
        // `::` and `::1` are the unspecified and loopback addresses, not IPv4-compatible
        // forms (RFC 4291 2.5.5.1); the guard judges them as such. (The first run found
        // this: `::1` is allowed with private addresses, `0.0.0.1` never is.)
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _] => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, a, b, ..] => Some(Ipv4Addr::new(
            (a >> 8) as u8,
            a as u8,
            (b >> 8) as u8,
            b as u8,
        )),
        _ => None,
    }
}

fn guard(ip: IpAddr) {
    for policy in [AddressPolicy::global_only(), AddressPolicy::allow_private()] {
        let allowed = policy.check(ip).is_ok();
        if let IpAddr::V6(v6) = ip
            && let Some(v4) = embedded_v4(v6)
            && policy.check(IpAddr::V4(v4)).is_err()
        {
            assert!(!allowed, "{v6} embeds the refused {v4} but is allowed");
        }
    }
}

fn accepted(url: &HttpUrl) {
    let u = url.url();
    assert!(matches!(u.scheme(), "http" | "https"), "{u}");
    assert!(u.host().is_some(), "{u}");
    assert!(u.username().is_empty() && u.password().is_none(), "{u}");
    let again = HttpUrl::parse(u.as_str()).expect("an accepted URL's text parses again");
    assert_eq!(again.url(), u);
    if let Some(Host::Ip(ip)) = u.host().map(Host::from_url_host) {
        guard(ip);
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        // Raw addresses for the guard.
        Some((0, rest)) if rest.len() >= 16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(&rest[..16]);
            guard(IpAddr::V6(Ipv6Addr::from(b)));
            guard(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])));
        }
        // A redirect: `current URL \n Location`.
        Some((1, rest)) => {
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                return;
            };
            let Ok(current) = std::str::from_utf8(&rest[..nl]) else {
                return;
            };
            let Ok(current) = HttpUrl::parse(current) else {
                return;
            };
            if let Ok(next) = redirect_target(current.url(), &rest[nl + 1..]) {
                let next = HttpUrl::from_url(next).expect("a followed redirect is an HttpUrl");
                accepted(&next);
            }
        }
        // A user's URL.
        _ => {
            if let Ok(s) = std::str::from_utf8(data)
                && let Ok(url) = HttpUrl::parse(s)
            {
                accepted(&url);
            }
        }
    }
});
