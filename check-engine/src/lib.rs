//! Scoville's check engine: runs one [`CheckSpec`] and reports a typed
//! [`CheckReport`] with a timing breakdown measured on a fresh connection.
//!
//! - One module per check kind (`http`, `tcp`, `tls_check`, `dns`, `icmp`), all behind
//!   the [`kind::Check`] trait and dispatched by one exhaustive match in [`Engine::check`].
//! - Every address is dialled through [`dial`], which resolves the name, applies the
//!   [`AddressPolicy`] to each address and only then connects; HTTP redirects go through
//!   it again on every hop.
//! - Every check runs under its own deadline; a server that hangs or trickles bytes ends
//!   the check at the deadline with `down / timeout`, and dropping the check closes its
//!   socket at once (connections are driven in the check's own task, never spawned).
//!
//! - [`rdap`]: domain registration expiry over RDAP, for the opt-in domain expiry
//!   notices (the probe decides when to ask; never part of a check's verdict).
//!
//! HTTP is spoken with hyper's HTTP/1.1 client connection over tokio and tokio-rustls,
//! not reqwest, because the engine needs each phase's time and full control of connect,
//! TLS, redirects and body reads.

mod body;
mod dial;
mod dns;
mod engine;
mod http;
mod icmp;
mod kind;
pub mod rdap;
mod resolve;
mod tcp;
mod tls;
mod tls_check;
mod trace;

pub use engine::{Engine, EngineConfig, EngineError, IcmpMode};

/// Entry points for the fuzzers in `fuzz/` (not an API: hidden, may change).
#[doc(hidden)]
pub mod fuzzing {
    /// Where a redirect from `current` with this `Location` goes, as the HTTP check
    /// decides it (an error names why it is refused).
    pub fn redirect_target(current: &url::Url, location: &[u8]) -> Result<url::Url, String> {
        let location = ::http::HeaderValue::from_bytes(location)
            .map_err(|e| format!("not a header value: {e}"))?;
        crate::http::redirect_target(current, &location).map_err(|f| f.message)
    }
}
pub use scoville_core::address_policy::AddressPolicy;
pub use scoville_core::check_spec::CheckSpec;
pub use scoville_core::result::CheckReport;
