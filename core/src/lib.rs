//! Scoville's shared core: the domain types every part agrees on, the wire types of the
//! REST contracts in `DESIGN.md`, and the pure logic (Apdex, the address policy) that
//! needs no network, no web framework and no AWS SDK.
//!
//! Everything here is validated when it is parsed ("parse, don't validate"): a value of
//! one of these types is known to be well-formed, and a bad input is rejected with a
//! message that names the field ([`parse::from_json`]).

pub mod address_policy;
pub mod apdex;
pub mod check_spec;
pub mod degradation;
pub mod endpoint;
pub mod ids;
pub mod hook;
pub mod incident;
pub mod notice;
#[cfg(feature = "openapi")]
mod openapi;
pub mod parse;
pub mod result;
pub mod status_set;
pub mod trend;
pub mod wire;

pub use address_policy::{AddressPolicy, BlockedAddress};
pub use apdex::{ApdexClass, ApdexCounts, ApdexT};
pub use check_spec::CheckSpec;
pub use endpoint::ProbeEndpoint;
pub use ids::{EndpointId, OrgId, Region, RunId};
pub use result::{CheckReport, CheckResult, DownReason, Outcome, Timings, WarningReason};
pub use status_set::StatusSet;
