//! Parsing JSON and other serde formats into the core types with errors that name the
//! offending field (`check.assertions[1].pattern: invalid regex ...`), so that an API can
//! answer 400/422 with the field and a CLI can say which line of a file is wrong.

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A value could not be parsed; `path` names the field (`.` for the whole document).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FieldError {
    /// Dotted path of the bad field, e.g. `endpoints[3].check.url`.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// An error about the field at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Parses JSON into `T`, naming the field where parsing failed.
pub fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, FieldError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de)
        .map_err(|e| field_error(e.path().to_string(), &e.into_inner().to_string()))
}

/// Parses an already-built JSON value into `T`, naming the field where parsing failed.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value)
        .map_err(|e| field_error(e.path().to_string(), &e.into_inner().to_string()))
}

/// Marks an error raised inside a hand-written tagged-enum deserializer, which carries
/// the path below the enum: `SEP inner_path SEP message`.
const SEP: char = '\u{1f}';

/// Builds a [`FieldError`], splicing in the path below a tagged enum if there is one.
fn field_error(outer: String, message: &str) -> FieldError {
    let message = strip_position(message);
    match message
        .strip_prefix(SEP)
        .and_then(|rest| rest.split_once(SEP))
    {
        Some((inner, msg)) => {
            let path = match (outer.as_str(), inner) {
                (".", inner) => inner.to_string(),
                (outer, ".") => outer.to_string(),
                (outer, inner) if inner.starts_with('[') => format!("{outer}{inner}"),
                (outer, inner) => format!("{outer}.{inner}"),
            };
            FieldError::new(path, msg)
        }
        None => FieldError::new(outer, message),
    }
}

/// Deserializes an internally tagged enum (`{"type": "...", ...}`) by hand, so that an
/// error inside the variant keeps its field path (serde's derived tagged enums buffer
/// the content and lose it). `build` gets the tag and the rest of the object.
pub(crate) fn tagged<'de, D, T>(
    d: D,
    tag: &'static str,
    variants: &'static [&'static str],
    build: impl FnOnce(&str, serde_json::Value) -> Result<T, FieldError>,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error;
    let mut map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
    let kind = match map.remove(tag) {
        Some(serde_json::Value::String(kind)) => kind,
        Some(_) => return Err(D::Error::custom(format!("`{tag}` must be a string"))),
        None => return Err(D::Error::missing_field(tag)),
    };
    if !variants.contains(&kind.as_str()) {
        return Err(D::Error::unknown_variant(&kind, variants));
    }
    build(&kind, serde_json::Value::Object(map))
        .map_err(|e| D::Error::custom(format!("{SEP}{}{SEP}{}", e.path, e.message)))
}

/// serde_json appends " at line L column C"; the field path is more useful to people.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(" column ") => msg[..i].to_string(),
        _ => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        items: Vec<Inner>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: u8,
    }

    #[test]
    fn names_the_nested_field() {
        let err = from_json::<Outer>(br#"{"items":[{"n":1},{"n":"x"}]}"#).unwrap_err();
        assert_eq!(err.path, "items[1].n");
        assert!(err.message.contains("invalid type"), "{err}");
        assert!(!err.message.contains("line"), "{err}");
    }
}
