//! The watched value of a response (change alerts, see
//! [`scoville_core::check_spec::watch`]): its hash, which the failure service compares,
//! and a short excerpt for the notice's before / after line.
//!
//! Hashes are SHA-256, hex. The body's is the hash of the kept body itself (what
//! `hash_body` always reported). A JSON path's is the hash of the selected node's JSON
//! text (an array of the nodes when several are selected), so `"1"` and `1` differ; a
//! regex's is the hash of `=` and the capture. A missing value hashes zero bytes and a
//! body that is not JSON hashes a NUL-prefixed marker: neither can collide with a value.
//!
//! Watching never fails a check: a missing path or match is the value `(missing)`.

use scoville_core::check_spec::Watch;
use scoville_core::check_spec::watch::excerpt;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// What a watch saw in one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Watched {
    /// SHA-256 of the value, hex.
    pub(crate) hash: String,
    /// The value for people, one short line.
    pub(crate) excerpt: String,
}

const MISSING: &str = "(missing)";

/// The value `watch` selects from `body` (`truncated`: the body was cut at its limit).
pub(crate) fn observe(watch: &Watch, body: &[u8], truncated: bool) -> Watched {
    match watch {
        Watch::Body => {
            let hash = sha256(body);
            let text = String::from_utf8_lossy(body);
            let cut = if truncated { " (cut at the limit)" } else { "" };
            let short = hash.get(..12).unwrap_or(&hash);
            Watched {
                excerpt: shown(&format!(
                    "{} bytes{cut}, sha256 {short}: {text}",
                    body.len()
                )),
                hash,
            }
        }
        Watch::JsonPath { path } => match serde_json::from_slice::<Value>(body) {
            Err(_) => Watched {
                hash: sha256(b"\0not JSON"),
                excerpt: "(not JSON)".into(),
            },
            Ok(doc) => {
                let nodes = path.select(&doc);
                let value = match nodes.as_slice() {
                    [] => None,
                    [one] => Some((*one).clone()),
                    many => Some(Value::Array(many.iter().map(|v| (*v).clone()).collect())),
                };
                match value {
                    None => missing(),
                    Some(v) => {
                        let json = v.to_string();
                        Watched {
                            hash: sha256(json.as_bytes()),
                            excerpt: shown(v.as_str().unwrap_or(&json)),
                        }
                    }
                }
            }
        },
        Watch::Regex { pattern } => {
            let text = String::from_utf8_lossy(body);
            let found = pattern
                .regex()
                .captures(&text)
                .and_then(|c| c.get(1).or_else(|| c.get(0)));
            match found {
                None => missing(),
                Some(m) => Watched {
                    hash: sha256(format!("={}", m.as_str()).as_bytes()),
                    excerpt: shown(m.as_str()),
                },
            }
        }
    }
}

fn missing() -> Watched {
    Watched {
        hash: sha256(b""),
        excerpt: MISSING.into(),
    }
}

/// The excerpt of `text`, `(empty)` for nothing visible.
fn shown(text: &str) -> String {
    let e = excerpt(text);
    if e.is_empty() { "(empty)".into() } else { e }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use scoville_core::check_spec::watch::MAX_EXCERPT_CHARS;

    fn watch(json: &str) -> Watch {
        scoville_core::parse::from_json(json.as_bytes()).unwrap()
    }

    #[test]
    fn json_path_values() {
        let w = watch(r#"{"type":"json_path","path":"$.version"}"#);
        let a = observe(&w, br#"{"version":"1.4.2","t":1}"#, false);
        let b = observe(&w, br#"{"t":2, "version": "1.4.2"}"#, false);
        let c = observe(&w, br#"{"version":"1.5.0"}"#, false);
        assert_eq!(a.excerpt, "1.4.2");
        assert_eq!(a, b, "only the selected node counts");
        assert_eq!(c.excerpt, "1.5.0");
        assert_ne!(a.hash, c.hash);
        let number = observe(&w, br#"{"version":1.5}"#, false);
        let text = observe(&w, br#"{"version":"1.5"}"#, false);
        assert_eq!(
            (number.excerpt.as_str(), text.excerpt.as_str()),
            ("1.5", "1.5")
        );
        assert_ne!(number.hash, text.hash);
        let gone = observe(&w, br#"{"v":"1.5.0"}"#, false);
        assert_eq!(gone.excerpt, "(missing)");
        let junk = observe(&w, b"<html>", false);
        assert_eq!(junk.excerpt, "(not JSON)");
        assert_ne!(gone.hash, junk.hash);
        let all = observe(
            &watch(r#"{"type":"json_path","path":"$.items[*].id"}"#),
            br#"{"items":[{"id":1},{"id":2}]}"#,
            false,
        );
        assert_eq!(all.excerpt, "[1,2]");
    }

    #[test]
    fn regex_captures() {
        let w = watch(r#"{"type":"regex","pattern":"v(\\d+)"}"#);
        assert_eq!(observe(&w, b"build v12 ok", false).excerpt, "12");
        let whole = watch(r#"{"type":"regex","pattern":"v\\d+"}"#);
        assert_eq!(observe(&whole, b"build v12 ok", false).excerpt, "v12");
        let none = observe(&w, b"no version here", false);
        assert_eq!(none, missing());
        // An empty capture is a value, not a missing one.
        let empty = observe(
            &watch(r#"{"type":"regex","pattern":"v(\\d*)"}"#),
            b"v",
            false,
        );
        assert_eq!(empty.excerpt, "(empty)");
        assert_ne!(empty.hash, none.hash);
    }

    #[test]
    fn body_values() {
        let body = format!("<!doctype html>\n<p>{}</p>", "x".repeat(1000));
        let a = observe(&Watch::Body, body.as_bytes(), false);
        assert_eq!(a.hash, sha256(body.as_bytes()), "what hash_body reported");
        let head = format!("{} bytes, sha256 {}: ", body.len(), &a.hash[..12]);
        assert!(a.excerpt.starts_with(&head), "{}", a.excerpt);
        assert!(
            a.excerpt.contains(": <!doctype html> <p>xxx"),
            "{}",
            a.excerpt
        );
        assert_eq!(a.excerpt.chars().count(), MAX_EXCERPT_CHARS);
        let b = observe(&Watch::Body, b"short", true);
        assert!(b.excerpt.starts_with("5 bytes (cut at the limit), sha256 "));
        assert!(b.excerpt.ends_with(": short"));
    }
}
