//! Logging setup: the one every Scoville binary uses (see `scoville-service-kit`).

pub use scoville_service_kit::telemetry::*;
