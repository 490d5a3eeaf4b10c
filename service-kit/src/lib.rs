//! What every Scoville binary shares, so each service states only its own settings:
//! [`config`] loads a configuration in layers (defaults, the `--config` TOML file, then
//! `SCOVILLE_<SECTION>__<KEY>` variables) and names the key of anything invalid;
//! [`telemetry`] sets up logs, human-readable or JSON.

pub mod config;
pub mod telemetry;
