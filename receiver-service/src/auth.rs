//! Probe tokens: the shared implementation in `scoville_service_kit::auth` (SHA-256
//! hashes, compared in constant time).

pub use scoville_service_kit::auth::{TokenHash, TokenSet};
