//! Assertions on an HTTP response beyond its status: body contains / regex, JSON path,
//! response headers, and maximum total latency. Regexes and JSON paths are compiled when
//! the spec is parsed, so a bad one is a parse error naming the field.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One assertion; all of a check's assertions must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Assertion {
    /// The (kept part of the) body contains this text.
    BodyContains {
        /// Text to find.
        value: String,
    },
    /// The body does not contain this text.
    BodyNotContains {
        /// Text that must be absent.
        value: String,
    },
    /// The body matches this regular expression.
    BodyRegex {
        /// The expression.
        pattern: Pattern,
    },
    /// A JSON path into the body.
    JsonPath(JsonPathAssertion),
    /// A response header equals a value or matches a regex.
    Header(HeaderAssertion),
    /// The check's total time is at most this many milliseconds.
    MaxLatencyMs {
        /// The limit.
        value: u32,
    },
}

/// A body parsed as JSON once for all of its JSON path assertions (or why it is not JSON).
pub type JsonCache = Option<Result<Value, String>>;

/// How much of a value is quoted in a failure message.
const QUOTE: usize = 80;

/// At most 80 bytes of `s` (cut on a character boundary, ending in `…`), for messages.
pub fn clip(s: &str) -> String {
    if s.len() <= QUOTE {
        return s.to_string();
    }
    let mut end = QUOTE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

impl Assertion {
    /// Judges a body assertion on `body` (an HTTP response's, a heartbeat's payload),
    /// calling it `what` in the error; none for an assertion not on the body (headers,
    /// latency). Shared by the check engine and heartbeat payloads.
    pub fn judge_body(
        &self,
        what: &str,
        body: &[u8],
        json: &mut JsonCache,
    ) -> Option<Result<(), String>> {
        let contains = |needle: &str| memchr::memmem::find(body, needle.as_bytes()).is_some();
        Some(match self {
            Assertion::BodyContains { value } if contains(value) => Ok(()),
            Assertion::BodyContains { value } => Err(format!("{what} lacks {:?}", clip(value))),
            Assertion::BodyNotContains { value } if contains(value) => {
                Err(format!("{what} contains {:?}", clip(value)))
            }
            Assertion::BodyNotContains { .. } => Ok(()),
            Assertion::BodyRegex { pattern } => {
                if pattern.regex().is_match(&String::from_utf8_lossy(body)) {
                    Ok(())
                } else {
                    Err(format!("{what} does not match /{pattern}/"))
                }
            }
            Assertion::JsonPath(a) => {
                let doc = json.get_or_insert_with(|| {
                    serde_json::from_slice(body).map_err(|e| format!("{what} is not JSON: {e}"))
                });
                match doc {
                    Ok(doc) => a.judge(doc),
                    Err(e) => Err(e.clone()),
                }
            }
            Assertion::Header(_) | Assertion::MaxLatencyMs { .. } => return None,
        })
    }

    /// Whether evaluating this assertion needs the response body.
    pub fn needs_body(&self) -> bool {
        matches!(
            self,
            Assertion::BodyContains { .. }
                | Assertion::BodyNotContains { .. }
                | Assertion::BodyRegex { .. }
                | Assertion::JsonPath(_)
        )
    }
}

/// A compiled regular expression (size-limited, so that a pathological pattern is
/// rejected when parsed rather than eating the probe's memory).
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Pattern {
    source: String,
    regex: regex::Regex,
}

impl Pattern {
    /// Compiles a pattern.
    pub fn new(source: &str) -> Result<Self, String> {
        let regex = regex::RegexBuilder::new(source)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("invalid regex {source:?}: {e}"))?;
        Ok(Self {
            source: source.to_string(),
            regex,
        })
    }

    /// The compiled expression.
    pub fn regex(&self) -> &regex::Regex {
        &self.regex
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.source)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl TryFrom<String> for Pattern {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::new(&s)
    }
}

impl From<Pattern> for String {
    fn from(p: Pattern) -> String {
        p.source
    }
}

/// A compiled JSON path (RFC 9535), such as `$.status` or `$.items[0].id`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JsonPathExpr {
    source: String,
    path: serde_json_path::JsonPath,
}

impl JsonPathExpr {
    /// Parses a path.
    pub fn new(source: &str) -> Result<Self, String> {
        let path = serde_json_path::JsonPath::parse(source)
            .map_err(|e| format!("invalid JSON path {source:?}: {e}"))?;
        Ok(Self {
            source: source.to_string(),
            path,
        })
    }

    /// The nodes of `doc` the path selects.
    pub fn select<'a>(&self, doc: &'a Value) -> Vec<&'a Value> {
        self.path.query(doc).all()
    }
}

impl PartialEq for JsonPathExpr {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl fmt::Debug for JsonPathExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonPath({:?})", self.source)
    }
}

impl fmt::Display for JsonPathExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl TryFrom<String> for JsonPathExpr {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::new(&s)
    }
}

impl From<JsonPathExpr> for String {
    fn from(p: JsonPathExpr) -> String {
        p.source
    }
}

/// `{"path": "$.a", "exists": true}`, `{"path": "$.a", "equals": "ok"}` or numeric
/// comparisons `gt`, `ge`, `lt`, `le` (several may be combined: `ge` and `le` make a
/// range). With no comparison at all the path must exist. Comparisons apply to the first
/// node selected.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonPathAssertion {
    /// The path.
    pub path: JsonPathExpr,
    /// Whether the path must select something (`true`) or nothing (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
    /// The first selected node equals this JSON value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
    /// The first selected node is a number greater than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt: Option<f64>,
    /// ... greater than or equal to this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ge: Option<f64>,
    /// ... less than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lt: Option<f64>,
    /// ... less than or equal to this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub le: Option<f64>,
}

impl JsonPathAssertion {
    /// Judges a parsed document; the error says what does not hold (values quoted up
    /// to 80 bytes). Shared by the HTTP check and heartbeat payloads.
    pub fn judge(&self, doc: &Value) -> Result<(), String> {
        let nodes = self.path.select(doc);
        let first = nodes.first();
        let compares = self.equals.is_some()
            || [self.gt, self.ge, self.lt, self.le]
                .iter()
                .any(Option::is_some);
        match (self.exists, first) {
            (Some(false), Some(_)) => return Err(format!("{} exists", self.path)),
            (Some(false), None) => return Ok(()),
            (_, None) if compares || self.exists != Some(false) => {
                return Err(format!("{} selects nothing", self.path));
            }
            _ => {}
        }
        let Some(node) = first else { return Ok(()) };
        if let Some(want) = &self.equals
            && *node != want
        {
            return Err(format!(
                "{} is {}, not {}",
                self.path,
                clip(&node.to_string()),
                clip(&want.to_string())
            ));
        }
        let numeric = [
            ("gt", self.gt),
            ("ge", self.ge),
            ("lt", self.lt),
            ("le", self.le),
        ];
        if numeric.iter().any(|(_, v)| v.is_some()) {
            let Some(n) = node.as_f64() else {
                return Err(format!(
                    "{} is {}, not a number",
                    self.path,
                    clip(&node.to_string())
                ));
            };
            for (op, bound) in numeric {
                let Some(bound) = bound else { continue };
                let (ok, sym) = match op {
                    "gt" => (n > bound, ">"),
                    "ge" => (n >= bound, ">="),
                    "lt" => (n < bound, "<"),
                    _ => (n <= bound, "<="),
                };
                if !ok {
                    return Err(format!("{} is {n}, expected {sym} {bound}", self.path));
                }
            }
        }
        Ok(())
    }
}

/// `{"name": "content-type", "equals": "application/json"}` or
/// `{"name": "server", "matches": "^nginx"}`; exactly one of `equals` and `matches`.
/// Header names compare case-insensitively; a missing header fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "HeaderAssertionRepr", into = "HeaderAssertionRepr")]
pub struct HeaderAssertion {
    name: String,
    check: HeaderCheck,
}

/// What a header assertion compares against.
#[derive(Debug, Clone, PartialEq)]
pub enum HeaderCheck {
    /// Exact value.
    Equals(String),
    /// Regex match.
    Matches(Pattern),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderAssertionRepr {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    equals: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    matches: Option<Pattern>,
}

impl HeaderAssertion {
    /// The header's name, lower-cased.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The comparison.
    pub fn check(&self) -> &HeaderCheck {
        &self.check
    }
}

impl TryFrom<HeaderAssertionRepr> for HeaderAssertion {
    type Error = String;
    fn try_from(r: HeaderAssertionRepr) -> Result<Self, String> {
        if r.name.is_empty() {
            return Err("header assertion needs a name".into());
        }
        let check = match (r.equals, r.matches) {
            (Some(v), None) => HeaderCheck::Equals(v),
            (None, Some(p)) => HeaderCheck::Matches(p),
            _ => return Err("header assertion needs exactly one of equals, matches".into()),
        };
        Ok(Self {
            name: r.name.to_ascii_lowercase(),
            check,
        })
    }
}

impl From<HeaderAssertion> for HeaderAssertionRepr {
    fn from(h: HeaderAssertion) -> Self {
        let (equals, matches) = match h.check {
            HeaderCheck::Equals(v) => (Some(v), None),
            HeaderCheck::Matches(p) => (None, Some(p)),
        };
        Self {
            name: h.name,
            equals,
            matches,
        }
    }
}
