//! Identifiers: endpoint, organization, region and probe run. Each is a validated string
//! newtype so that an id read from the network can be used as a key, a tag value or a
//! path segment without further checks.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Characters allowed in ids: ASCII letters, digits and `-`, `_`, `.`, `:`.
fn valid_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr, $valid:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses an id, rejecting empty, overlong or oddly-charactered values.
            pub fn parse(s: impl Into<String>) -> Result<Self, String> {
                let s = s.into();
                if s.is_empty() {
                    return Err(format!("{} must not be empty", $what));
                }
                if s.len() > $max {
                    return Err(format!("{} is longer than {} characters", $what, $max));
                }
                let valid: fn(char) -> bool = $valid;
                if let Some(bad) = s.chars().find(|c| !valid(*c)) {
                    return Err(format!("{} contains the character {:?}", $what, bad));
                }
                Ok(Self(s))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// An endpoint's id: unique across Scoville, stable for the endpoint's life.
    EndpointId, "endpoint id", 64, valid_id_char
);
string_id!(
    /// An organization's id.
    OrgId, "org id", 64, valid_id_char
);
string_id!(
    /// A probe region's name, such as `eu-west-1` or `home-lab`: lowercase letters,
    /// digits and `-`.
    Region, "region", 32, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
);
string_id!(
    /// One probe round's id, shared by every result of that round.
    RunId, "run id", 64, valid_id_char
);

impl OrgId {
    /// The org that standalone endpoint files belong to when they name none.
    pub fn local() -> Self {
        Self("local".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_ids_naming_the_kind() {
        assert!(EndpointId::parse("api-health_1.v2").is_ok());
        assert_eq!(
            EndpointId::parse("").unwrap_err(),
            "endpoint id must not be empty"
        );
        assert!(EndpointId::parse("a b").unwrap_err().contains("' '"));
        assert!(
            EndpointId::parse("x".repeat(65))
                .unwrap_err()
                .contains("longer")
        );
        assert!(Region::parse("EU").unwrap_err().contains("region"));
        assert!(Region::parse("eu-west-1").is_ok());
    }

    #[test]
    fn serde_round_trip_validates() {
        let id: EndpointId = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"abc\"");
        assert!(serde_json::from_str::<EndpointId>("\"a/b\"").is_err());
    }
}
