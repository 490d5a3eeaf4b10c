//! The DNS check: ask the configured resolver (or the system's) for one record type and
//! compare the answer with the expected values. Names are compared without case and
//! trailing dots; MX answers as `PREFERENCE EXCHANGE`; TXT records as their strings
//! joined.
//!
//! A name that does not resolve is `down / dns`; an answer that lacks what is expected is
//! `down / assertion`.

use std::collections::BTreeSet;
use std::time::Instant;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType as HickoryType};
use scoville_core::DownReason;
use scoville_core::check_spec::{DnsCheck, DnsMatch, RecordType};

use crate::engine::Context;
use crate::kind::Check;
use crate::resolve::lookup_error;
use crate::trace::{Failure, Success, Trace, Verdict, ms};

impl Check for DnsCheck {
    async fn run(&self, ctx: &Context, trace: &mut Trace) -> Verdict {
        if let Some(server) = self.resolver {
            // The resolver is named by the user: the guard applies to it like any target.
            ctx.policy
                .check(server.ip())
                .map_err(|b| Failure::new(DownReason::Blocked, format!("resolver {b}")))?;
        }
        let name = format!("{}.", self.name.as_str());
        let t0 = Instant::now();
        let lookup = match self.resolver {
            Some(server) => {
                let group =
                    NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true);
                let config = ResolverConfig::from_parts(None, vec![], group);
                let mut builder =
                    TokioResolver::builder_with_config(config, TokioConnectionProvider::default());
                let opts: &mut ResolverOpts = builder.options_mut();
                opts.cache_size = 0;
                opts.attempts = 1;
                opts.timeout = self.timeout_ms.as_duration();
                builder
                    .build()
                    .lookup(name.as_str(), hickory_type(self.record_type))
                    .await
            }
            None => {
                ctx.resolver
                    .system()
                    .lookup(name.as_str(), hickory_type(self.record_type))
                    .await
            }
        };
        trace.timings.dns_ms = Some(ms(t0.elapsed()));
        let lookup = lookup
            .map_err(|e| Failure::new(DownReason::Dns, lookup_error(self.name.as_str(), &e)))?;
        let answers: BTreeSet<String> = lookup
            .record_iter()
            .filter_map(|r| render(r.data()))
            .collect();
        if answers.is_empty() {
            return Err(Failure::new(
                DownReason::Dns,
                format!("{}: empty answer", self.name.as_str()),
            ));
        }
        let expected: BTreeSet<String> = self
            .expected
            .iter()
            .map(|v| {
                if self.record_type == RecordType::Txt {
                    v.clone()
                } else {
                    normalise(v)
                }
            })
            .collect();
        let ok = expected.is_empty()
            || match self.match_mode {
                DnsMatch::ContainsAll => expected.is_subset(&answers),
                DnsMatch::Any => !expected.is_disjoint(&answers),
                DnsMatch::Exact => expected == answers,
            };
        let shown = answers.iter().cloned().collect::<Vec<_>>().join(", ");
        if ok {
            Ok(Success::new(format!("{:?} {}", self.record_type, shown)))
        } else {
            let want = self.expected.join(", ");
            Err(Failure::new(
                DownReason::Assertion,
                format!("answer [{shown}] does not match [{want}]"),
            ))
        }
    }
}

fn hickory_type(t: RecordType) -> HickoryType {
    match t {
        RecordType::A => HickoryType::A,
        RecordType::Aaaa => HickoryType::AAAA,
        RecordType::Cname => HickoryType::CNAME,
        RecordType::Mx => HickoryType::MX,
        RecordType::Txt => HickoryType::TXT,
        RecordType::Ns => HickoryType::NS,
    }
}

fn normalise(v: &str) -> String {
    v.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn render(data: &RData) -> Option<String> {
    Some(match data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(a) => a.0.to_string(),
        RData::CNAME(n) => normalise(&n.0.to_ascii()),
        RData::NS(n) => normalise(&n.0.to_ascii()),
        RData::MX(mx) => format!(
            "{} {}",
            mx.preference(),
            normalise(&mx.exchange().to_ascii())
        ),
        RData::TXT(txt) => txt
            .txt_data()
            .iter()
            .map(|part| String::from_utf8_lossy(part).into_owned())
            .collect::<String>(),
        _ => return None,
    })
}
