//! [`Secret`]: a string that must never reach a log line or a `Debug` dump (webhook URLs,
//! bot tokens, routing keys, SMTP passwords, signing secrets).
//!
//! It serializes as the plain string, because channel configurations are stored and
//! loaded; every other way of looking at it (`Debug`, `Display`-free by design) shows
//! `***`. Code that needs the value calls [`Secret::expose`] at the one place it builds
//! the request.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A secret string; `Debug` prints `"***"`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for building a request. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty (a configuration error for every field that holds one).
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value_and_serde_keeps_it() {
        let s = Secret::new("https://hooks.slack.com/services/T0/B0/xyz");
        assert_eq!(format!("{s:?}"), "\"***\"");
        assert!(!format!("{:?}", Some(&s)).contains("hooks"));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"https://hooks.slack.com/services/T0/B0/xyz\"");
        let back: Secret = serde_json::from_str(&json).unwrap();
        assert_eq!(back.expose(), s.expose());
        assert!(Secret::new("  ").is_empty());
    }
}
