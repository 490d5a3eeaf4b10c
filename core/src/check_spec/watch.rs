//! Change alerts: what of an HTTP response is watched for changes (`"watch"` on an HTTP
//! check), and how the watched value is shown to people.
//!
//! - `{"type": "body"}`: the kept body (what `"hash_body": true` has always meant; a
//!   check with `hash_body` and no `watch` watches the body, and `watch` wins when both
//!   are set).
//! - `{"type": "json_path", "path": "$.version"}`: the node the path selects (all of them,
//!   as a JSON array, when it selects several). A body that is not JSON, or a path that
//!   selects nothing, is a value too (`(not JSON)`, `(missing)`), never a failure.
//! - `{"type": "regex", "pattern": "v(\\d+)"}`: the first capture group of the first
//!   match, else the whole match; no match is the value `(missing)`.
//!
//! The engine reports a hash of the value (SHA-256, hex; for the body, of the body, as
//! before) and a short excerpt for people, at most [`MAX_EXCERPT_CHARS`] characters with
//! line breaks and control characters folded into spaces ([`excerpt`]). Only a
//! successful check's value is reported to the failure service: a failed check says
//! nothing about the content. Changing what is watched changes the hash, so it reads as
//! one change.

use serde::{Deserialize, Serialize};

use super::{JsonPathExpr, Pattern};

/// The longest excerpt of a watched value, in characters.
pub const MAX_EXCERPT_CHARS: usize = 200;

/// What of an HTTP response is watched for changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Watch {
    /// The (kept part of the) body.
    Body,
    /// The node(s) a JSON path selects.
    JsonPath {
        /// The path.
        path: JsonPathExpr,
    },
    /// A regex's first capture group (else its whole match).
    Regex {
        /// The expression.
        pattern: Pattern,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BodyRepr {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonPathRepr {
    path: JsonPathExpr,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegexRepr {
    pattern: Pattern,
}

impl<'de> Deserialize<'de> for Watch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use crate::parse::from_value;
        const KINDS: &[&str] = &["body", "json_path", "regex"];
        crate::parse::tagged(d, "type", KINDS, |kind, rest| {
            Ok(match kind {
                "body" => {
                    let BodyRepr {} = from_value(rest)?;
                    Watch::Body
                }
                "json_path" => Watch::JsonPath {
                    path: from_value::<JsonPathRepr>(rest)?.path,
                },
                _ => Watch::Regex {
                    pattern: from_value::<RegexRepr>(rest)?.pattern,
                },
            })
        })
    }
}

/// `text` made fit for a notice: whitespace runs (line breaks included) and control
/// characters become one space, the ends are trimmed, and past [`MAX_EXCERPT_CHARS`]
/// characters it is cut, ending in `…`.
pub fn excerpt(text: &str) -> String {
    let mut out: Vec<char> = Vec::new();
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
        if out.len() > MAX_EXCERPT_CHARS {
            out.truncate(MAX_EXCERPT_CHARS - 1);
            out.push('…');
            break;
        }
    }
    out.into_iter().collect()
}

/// Whether `text` could have come out of [`excerpt`]: at most [`MAX_EXCERPT_CHARS`]
/// characters and no control characters or line breaks (the failure service checks the
/// excerpts it is sent with this).
pub fn is_excerpt(text: &str) -> bool {
    text.chars().count() <= MAX_EXCERPT_CHARS
        && !text
            .chars()
            .any(|c| c.is_control() || (c.is_whitespace() && c != ' '))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::from_json;

    #[test]
    fn parses_each_kind_and_names_bad_fields() {
        let w: Watch = from_json(br#"{"type":"json_path","path":"$.version"}"#).unwrap();
        assert!(matches!(&w, Watch::JsonPath { path } if path.to_string() == "$.version"));
        let w: Watch = from_json(br#"{"type":"regex","pattern":"v(\\d+)"}"#).unwrap();
        assert!(matches!(w, Watch::Regex { .. }));
        assert_eq!(
            from_json::<Watch>(br#"{"type":"body"}"#).unwrap(),
            Watch::Body
        );
        let json = serde_json::to_value(&w).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type":"regex","pattern":"v(\\d+)"})
        );

        let err = from_json::<Watch>(br#"{"type":"regex","pattern":"("}"#).unwrap_err();
        assert_eq!(err.path, "pattern");
        assert!(err.message.contains("invalid regex"), "{err}");
        let err = from_json::<Watch>(br#"{"type":"json_path","path":"version"}"#).unwrap_err();
        assert_eq!(err.path, "path");
        let err = from_json::<Watch>(br#"{"type":"body","path":"$.a"}"#).unwrap_err();
        assert!(err.message.contains("unknown field"), "{err}");
        let err = from_json::<Watch>(br#"{"type":"headers"}"#).unwrap_err();
        assert!(err.message.contains("unknown variant"), "{err}");
    }

    #[test]
    fn http_checks_take_a_watch_and_hash_body_means_the_body() {
        use crate::CheckSpec;
        let http =
            |json: serde_json::Value| match from_json::<CheckSpec>(json.to_string().as_bytes()) {
                Ok(CheckSpec::Http(c)) => Ok(c),
                Ok(other) => panic!("{other:?}"),
                Err(e) => Err(e),
            };
        let url = "https://example.com/version";
        let c = http(serde_json::json!({"type": "http", "url": url})).unwrap();
        assert_eq!(c.watched(), None);
        let c = http(serde_json::json!({"type": "http", "url": url, "hash_body": true})).unwrap();
        assert_eq!(c.watched(), Some(&Watch::Body));
        let c = http(
            serde_json::json!({"type": "http", "url": url, "hash_body": true,
            "watch": {"type": "json_path", "path": "$.version"}}),
        )
        .unwrap();
        assert!(
            matches!(c.watched(), Some(Watch::JsonPath { .. })),
            "watch wins"
        );
        let back = serde_json::to_value(CheckSpec::Http(c)).unwrap();
        assert_eq!(back["watch"]["path"], "$.version");

        let err = http(serde_json::json!({"type": "http", "url": url,
            "watch": {"type": "regex", "pattern": "v(\\d+"}}))
        .unwrap_err();
        assert_eq!(err.path, "watch.pattern", "{err}");
        let err = http(serde_json::json!({"type": "http", "url": url,
            "watch": {"type": "json_path", "path": "$.v", "equals": 1}}))
        .unwrap_err();
        assert!(err.path.starts_with("watch"), "{err}");
        assert!(err.message.contains("unknown field"), "{err}");
    }

    #[test]
    fn results_carry_the_excerpt_only_when_set() {
        use crate::CheckResult;
        let mut json = serde_json::json!({
            "endpoint_id": "e1", "org_id": "o1", "region": "eu-west-1", "run_id": "r1",
            "scheduled_at_ms": 1, "started_at_ms": 2, "outcome": "up",
            "timings": {"total_ms": 3.0}, "body_hash": "ab"
        });
        let r: CheckResult = from_json(json.to_string().as_bytes()).unwrap();
        let out = serde_json::to_value(&r).unwrap();
        assert!(out.get("watch_excerpt").is_none(), "{out}");
        json["watch_excerpt"] = "1.5.0".into();
        let r: CheckResult = from_json(json.to_string().as_bytes()).unwrap();
        assert_eq!(r.report.watch_excerpt.as_deref(), Some("1.5.0"));
        assert_eq!(serde_json::to_value(&r).unwrap()["watch_excerpt"], "1.5.0");
        json["watch_excerpt"] = "two\nlines".into();
        let err = from_json::<CheckResult>(json.to_string().as_bytes()).unwrap_err();
        assert!(err.message.contains("watch_excerpt"), "{err}");
    }

    #[test]
    fn excerpts_are_short_single_lines() {
        assert_eq!(excerpt("  1.5.0\n"), "1.5.0");
        assert_eq!(excerpt("a\r\n\tb\u{0}c"), "a b c");
        let long = excerpt(&"é".repeat(500));
        assert_eq!(long.chars().count(), MAX_EXCERPT_CHARS);
        assert!(long.ends_with('…'));
        assert!(is_excerpt(&long) && is_excerpt("before: x"));
        assert!(!is_excerpt("a\nb") && !is_excerpt(&"x".repeat(201)));
        assert_eq!(excerpt(&"x".repeat(200)).chars().count(), MAX_EXCERPT_CHARS);
    }
}
