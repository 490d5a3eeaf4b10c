//! A non-empty set of accepted HTTP status codes, written as codes and ranges:
//! `[200, "200-299", "301-302"]` or the string `"200-299,301"`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Accepted HTTP status codes; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StatusSetRepr", into = "Vec<String>")]
pub struct StatusSet(Vec<(u16, u16)>);

/// What a status set may be written as.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StatusSetRepr {
    One(u16),
    Text(String),
    List(Vec<StatusItem>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StatusItem {
    Code(u16),
    Text(String),
}

impl StatusSet {
    /// `200-299`, the default.
    pub fn success() -> Self {
        Self(vec![(200, 299)])
    }

    /// Parses `"200-299,301"`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let ranges = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(parse_range)
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_ranges(ranges)
    }

    fn from_ranges(ranges: Vec<(u16, u16)>) -> Result<Self, String> {
        if ranges.is_empty() {
            return Err("status set must not be empty".into());
        }
        Ok(Self(ranges))
    }

    /// Whether `code` is accepted.
    pub fn contains(&self, code: u16) -> bool {
        self.0.iter().any(|&(lo, hi)| (lo..=hi).contains(&code))
    }
}

impl Default for StatusSet {
    fn default() -> Self {
        Self::success()
    }
}

fn parse_code(s: &str) -> Result<u16, String> {
    let code: u16 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a status code"))?;
    check_code(code)
}

fn check_code(code: u16) -> Result<u16, String> {
    if (100..=599).contains(&code) {
        Ok(code)
    } else {
        Err(format!("{code} is not an HTTP status code (100-599)"))
    }
}

fn parse_range(s: &str) -> Result<(u16, u16), String> {
    match s.split_once('-') {
        Some((lo, hi)) => {
            let (lo, hi) = (parse_code(lo)?, parse_code(hi)?);
            if lo > hi {
                return Err(format!("range {s:?} is backwards"));
            }
            Ok((lo, hi))
        }
        None => parse_code(s).map(|c| (c, c)),
    }
}

impl TryFrom<StatusSetRepr> for StatusSet {
    type Error = String;
    fn try_from(repr: StatusSetRepr) -> Result<Self, String> {
        match repr {
            StatusSetRepr::One(code) => Self::from_ranges(vec![(check_code(code)?, code)]),
            StatusSetRepr::Text(text) => Self::parse(&text),
            StatusSetRepr::List(items) => {
                let ranges = items
                    .into_iter()
                    .map(|item| match item {
                        StatusItem::Code(c) => check_code(c).map(|c| (c, c)),
                        StatusItem::Text(t) => parse_range(&t),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Self::from_ranges(ranges)
            }
        }
    }
}

impl From<StatusSet> for Vec<String> {
    fn from(set: StatusSet) -> Self {
        set.0.iter().map(|&(lo, hi)| fmt_range(lo, hi)).collect()
    }
}

fn fmt_range(lo: u16, hi: u16) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}-{hi}")
    }
}

impl fmt::Display for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|&(lo, hi)| fmt_range(lo, hi)).collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_ranges() {
        let set: StatusSet = serde_json::from_str(r#"[204, "300-302"]"#).unwrap();
        assert!(set.contains(204) && set.contains(301) && !set.contains(200));
        let set: StatusSet = serde_json::from_str(r#""200-299, 418""#).unwrap();
        assert!(set.contains(418) && set.contains(250) && !set.contains(300));
        assert_eq!(set.to_string(), "200-299,418");
    }

    #[test]
    fn rejects_empty_and_bad() {
        let e = serde_json::from_str::<StatusSet>("[]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("must not be empty"), "{e}");
        assert!(serde_json::from_str::<StatusSet>(r#""""#).is_err());
        assert!(serde_json::from_str::<StatusSet>(r#""299-200""#).is_err());
        assert!(serde_json::from_str::<StatusSet>("[700]").is_err());
    }
}
