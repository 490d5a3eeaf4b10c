//! Layered configuration: built-in defaults, then the TOML file given with `--config`,
//! then environment variables `SCOVILLE_<SECTION>__<KEY>` (for example
//! `SCOVILLE_PROBE__REGION=eu-west-1`). A bad value is a [`ConfigError`] naming its key.

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::telemetry::LogFormat;

/// The configuration is invalid; `key` names the offending setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {key}: {message}")]
pub struct ConfigError {
    /// The key, e.g. `probe.max_in_flight`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// An error about `key`.
pub fn err(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        message: message.into(),
    }
}

/// The layered sources for `T`, for tests that add their own.
pub fn figment<T: Serialize + Default>(file: Option<&Path>) -> Figment {
    let mut f = Figment::from(Serialized::defaults(T::default()));
    if let Some(file) = file {
        f = f.merge(Toml::file_exact(file));
    }
    f.merge(Env::prefixed("SCOVILLE_").split("__"))
}

/// Loads defaults, then `file` if given, then `SCOVILLE_*` variables.
pub fn load<T>(file: Option<&Path>) -> Result<T, ConfigError>
where
    T: Serialize + for<'de> Deserialize<'de> + Default,
{
    figment::<T>(file).extract().map_err(|e| {
        let key = if e.path.is_empty() {
            "(file)".to_string()
        } else {
            e.path.join(".")
        };
        err(&key, e.kind.to_string())
    })
}

/// Defaults, then the TOML `text` (no file, no environment): what [`load`] does with a
/// file's contents, for tests and the configuration fuzzer (`fuzz/`).
pub fn from_toml<T>(text: &str) -> Result<T, ConfigError>
where
    T: Serialize + for<'de> Deserialize<'de> + Default,
{
    Figment::from(Serialized::defaults(T::default()))
        .merge(Toml::string(text))
        .extract()
        .map_err(|e| {
            let key = if e.path.is_empty() {
                "(file)".to_string()
            } else {
                e.path.join(".")
            };
            err(&key, e.kind.to_string())
        })
}

/// `[log]`, the same in every service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `text` or `json`.
    pub format: LogFormat,
    /// Level filter (overridden by `RUST_LOG`).
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}
