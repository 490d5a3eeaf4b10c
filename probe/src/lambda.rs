//! The probe on AWS Lambda: one invocation runs one round for the region and shard in
//! the event and returns its summary. [`handle`] is a plain async fn over the event, so
//! tests call it directly; `bin/probe-lambda.rs` only wires it to `lambda_runtime`.
//!
//! The event (from the EventBridge schedule's constant input):
//! `{"region": "eu-west-1", "shard": 0, "shards": 4}`; `region` defaults to the
//! configured one, the shard to 0 of 1. ICMP checks report `icmp_unavailable` on Lambda.

use std::time::Duration;

use scoville_core::Region;
use scoville_core::wire::{ProbeScope, Shard};
use serde::{Deserialize, Serialize};

use crate::round::{Probe, RoundSummary};
use crate::source::SourceError;

/// The scheduled event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeEvent {
    /// Region to report; the configured one if absent.
    #[serde(default)]
    pub region: Option<String>,
    /// Shard index.
    #[serde(default)]
    pub shard: u32,
    /// Shard count.
    #[serde(default = "one")]
    pub shards: u32,
}

fn one() -> u32 {
    1
}

/// The invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event is malformed.
    #[error("bad event: {0}")]
    BadEvent(String),
    /// The endpoint list could not be fetched.
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// Why ICMP cannot work on Lambda, as reported by ICMP checks there.
pub const LAMBDA_ICMP: &str = "AWS Lambda does not allow raw or datagram ICMP sockets";

/// Runs one round for the event's region and shard.
pub async fn handle(
    probe: &Probe,
    default_region: &Region,
    window: Duration,
    event: ProbeEvent,
) -> Result<RoundSummary, HandlerError> {
    let region = match event.region {
        Some(r) => Region::parse(r).map_err(HandlerError::BadEvent)?,
        None => default_region.clone(),
    };
    let shard = Shard::new(event.shard, event.shards).map_err(HandlerError::BadEvent)?;
    Ok(probe
        .run_round(&ProbeScope { region, shard }, window, None)
        .await?)
}
