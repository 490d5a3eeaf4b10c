//! Name resolution for checks: fixed overrides first (like curl's `--resolve`), then
//! hickory's resolver with the system configuration and the hosts file. Answers are
//! cached for their TTL; a check's `dns_ms` is the time this lookup took, cache hits
//! included.

use std::collections::HashMap;
use std::net::IpAddr;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;

use crate::engine::EngineError;

/// The engine's resolver.
pub(crate) struct Resolver {
    overrides: HashMap<String, Vec<IpAddr>>,
    system: TokioResolver,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("overrides", &self.overrides)
            .finish_non_exhaustive()
    }
}

impl Resolver {
    pub(crate) fn new(
        overrides: HashMap<String, Vec<IpAddr>>,
        cache_size: usize,
    ) -> Result<Self, EngineError> {
        let overrides = overrides
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let mut builder = match TokioResolver::builder_tokio() {
            Ok(b) => b,
            // No /etc/resolv.conf (minimal containers): fall back to public resolvers.
            Err(_) => TokioResolver::builder_with_config(
                ResolverConfig::cloudflare(),
                TokioConnectionProvider::default(),
            ),
        };
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.cache_size = cache_size;
        opts.attempts = 2;
        Ok(Self {
            overrides,
            system: builder.build(),
        })
    }

    /// The addresses of `name`, in the resolver's preference order.
    pub(crate) async fn lookup_ip(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        if let Some(ips) = self.overrides.get(name) {
            return Ok(ips.clone());
        }
        let answer = self
            .system
            .lookup_ip(name)
            .await
            .map_err(|e| lookup_error(name, &e))?;
        let ips: Vec<IpAddr> = answer.iter().collect();
        if ips.is_empty() {
            return Err(format!("{name} has no addresses"));
        }
        Ok(ips)
    }

    /// The system resolver, for DNS checks that use it.
    pub(crate) fn system(&self) -> &TokioResolver {
        &self.system
    }
}

pub(crate) fn lookup_error(name: &str, e: &hickory_resolver::ResolveError) -> String {
    if e.is_no_records_found() {
        if e.is_nx_domain() {
            format!("{name}: no such name (NXDOMAIN)")
        } else {
            format!("{name}: no records of that type")
        }
    } else {
        format!("{name}: lookup failed: {e}")
    }
}
