//! A strict reader of the Prometheus text exposition format (0.0.4), for tests: every
//! service's test parses its own `/metrics` with [`parse`], so a malformed line, a
//! sample without its `# HELP` and `# TYPE`, a counter not named `..._total`, a
//! histogram whose buckets are not cumulative or lack `+Inf`, or a series written twice
//! fails the test (Prometheus would refuse the whole scrape). It also answers values
//! ([`Parsed::value`]), so tests can read back what they caused.
//!
//! Stricter than Prometheus where Scoville's own conventions are (HELP and TYPE on
//! every family, `_total` on counters); as strict where the format is (names, label
//! syntax and escapes, values, one TYPE per family, families not interleaved).

use std::collections::{BTreeMap, HashMap, HashSet};

/// Why a text is not a valid exposition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}: {text:?}")]
pub struct ExpositionError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
    /// The line.
    pub text: String,
}

/// One sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's name (`x_bucket` for a histogram `x`).
    pub name: String,
    /// Its labels, sorted by name, values unescaped.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// A family: its TYPE, HELP and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The name on the TYPE line.
    pub name: String,
    /// `counter`, `gauge`, `histogram`, `summary` or `untyped`.
    pub kind: String,
    /// Help text, unescaped.
    pub help: String,
    /// The samples, in order.
    pub samples: Vec<Sample>,
}

/// A parsed exposition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    /// Families in order of appearance.
    pub families: Vec<Family>,
}

impl Parsed {
    /// The family named `name`.
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.name == name)
    }

    /// The value of the sample named `name` whose labels include all of `labels`
    /// (the first such sample).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples(name, labels).first().map(|s| s.value)
    }

    /// Every sample named `name` whose labels include all of `labels`.
    pub fn samples(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.families
            .iter()
            .flat_map(|f| &f.samples)
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).is_some_and(|x| x == v))
            })
            .collect()
    }
}

fn valid_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        // Rust also reads "inf", "infinity" and "nan" in any case: the format does not.
        s if s
            .bytes()
            .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E') =>
        {
            None
        }
        s => s.parse().ok(),
    }
}

/// Splits a sample line into name, labels and the rest.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ', '\t']).ok_or("no value")?;
    let name = &line[..name_end];
    if !valid_metric_name(name) {
        return Err(format!("invalid metric name {name:?}"));
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices().peekable();
        let end;
        loop {
            // A label name, `=`, a quoted value; then `,` or `}`.
            match chars.peek() {
                Some((i, '}')) => {
                    end = *i;
                    break;
                }
                None => return Err("unterminated label set".into()),
                _ => {}
            }
            let start = chars.peek().map(|(i, _)| *i).unwrap_or(0);
            let mut eq = None;
            for (i, c) in chars.by_ref() {
                if c == '=' {
                    eq = Some(i);
                    break;
                }
            }
            let eq = eq.ok_or("a label without `=`")?;
            let key = &after[start..eq];
            if !valid_label_name(key) {
                return Err(format!("invalid label name {key:?}"));
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!("label {key}'s value is not quoted"));
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => {
                            return Err(format!(
                                "invalid escape in label {key}: \\{}",
                                other.map(|(_, c)| c).unwrap_or(' ')
                            ));
                        }
                    },
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("label {key}'s value is not terminated")),
                }
            }
            if labels.insert(key.to_string(), value).is_some() {
                return Err(format!("label {key} given twice"));
            }
            match chars.next() {
                Some((_, ',')) => {}
                Some((i, '}')) => {
                    end = i;
                    break;
                }
                _ => return Err("expected `,` or `}` after a label".into()),
            }
        }
        rest = &after[end + 1..];
    }
    if !rest.starts_with([' ', '\t']) {
        return Err("no blank before the value".into());
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("no value")?;
    let value = parse_value(value).ok_or_else(|| format!("invalid value {value:?}"))?;
    if let Some(ts) = fields.next() {
        ts.parse::<i64>()
            .map_err(|_| format!("invalid timestamp {ts:?}"))?;
    }
    if fields.next().is_some() {
        return Err("text after the timestamp".into());
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// The family a sample belongs to: itself, or the histogram/summary it is a part of.
fn family_of<'a>(name: &'a str, types: &HashMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && let Some(kind) = types.get(base)
            && (kind == "histogram" || (kind == "summary" && suffix != "_bucket"))
        {
            return base;
        }
    }
    name
}

/// Reads `text` strictly; the first problem is the error.
pub fn parse(text: &str) -> Result<Parsed, ExpositionError> {
    let mut parsed = Parsed::default();
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helps: HashSet<String> = HashSet::new();
    let mut closed: HashSet<String> = HashSet::new();
    let mut series: HashSet<(String, BTreeMap<String, String>)> = HashSet::new();
    let mut current: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let err = |reason: String| ExpositionError {
            line: i + 1,
            reason,
            text: line.to_string(),
        };
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut parts = comment.trim_start().splitn(3, ' ');
            let keyword = parts.next().unwrap_or("");
            if keyword != "HELP" && keyword != "TYPE" {
                continue;
            }
            let name = parts.next().unwrap_or("");
            let rest = parts.next().unwrap_or("");
            if !valid_metric_name(name) {
                return Err(err(format!("invalid metric name {name:?}")));
            }
            if closed.contains(name) {
                return Err(err(format!("family {name} continues after another began")));
            }
            if current.as_deref() != Some(name)
                && let Some(prev) = current.replace(name.to_string())
            {
                closed.insert(prev);
            }
            let family = match parsed.families.iter_mut().find(|f| f.name == name) {
                Some(f) => f,
                None => {
                    parsed.families.push(Family {
                        name: name.to_string(),
                        kind: String::new(),
                        help: String::new(),
                        samples: Vec::new(),
                    });
                    parsed.families.last_mut().expect("just pushed")
                }
            };
            if !family.samples.is_empty() {
                return Err(err(format!("{keyword} of {name} after its samples")));
            }
            if keyword == "HELP" {
                if !helps.insert(name.to_string()) {
                    return Err(err(format!("a second HELP for {name}")));
                }
                let mut help = String::new();
                let mut chars = rest.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some('\\') => help.push('\\'),
                            Some('n') => help.push('\n'),
                            other => {
                                return Err(err(format!(
                                    "invalid escape in help: \\{}",
                                    other.unwrap_or(' ')
                                )));
                            }
                        },
                        c => help.push(c),
                    }
                }
                family.help = help;
            } else {
                let kind = rest.trim();
                if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                    return Err(err(format!("unknown type {kind:?}")));
                }
                if types.insert(name.to_string(), kind.to_string()).is_some() {
                    return Err(err(format!("a second TYPE for {name}")));
                }
                if kind == "counter" && !name.ends_with("_total") {
                    return Err(err(format!("counter {name} is not named ..._total")));
                }
                family.kind = kind.to_string();
            }
            continue;
        }
        let sample = parse_sample(line).map_err(err)?;
        let fam = family_of(&sample.name, &types).to_string();
        if closed.contains(&fam) {
            return Err(err(format!("family {fam} continues after another began")));
        }
        if current.as_deref() != Some(fam.as_str())
            && let Some(prev) = current.replace(fam.clone())
        {
            closed.insert(prev);
        }
        let Some(family) = parsed.families.iter_mut().find(|f| f.name == fam) else {
            return Err(err(format!("{fam} has no # TYPE line")));
        };
        if family.kind.is_empty() {
            return Err(err(format!("{fam} has no # TYPE line")));
        }
        if !helps.contains(&fam) {
            return Err(err(format!("{fam} has no # HELP line")));
        }
        if family.kind == "histogram" && sample.name == fam {
            return Err(err(format!(
                "histogram {fam}: only _bucket, _sum and _count samples"
            )));
        }
        if family.kind == "counter" && (sample.value.is_nan() || sample.value < 0.0) {
            return Err(err(format!("counter {fam} is negative or NaN")));
        }
        if sample.name.ends_with("_bucket") && family.kind == "histogram" {
            match sample.labels.get("le").map(|v| parse_value(v)) {
                Some(Some(_)) => {}
                _ => return Err(err(format!("bucket of {fam} without a numeric le"))),
            }
        }
        if !series.insert((sample.name.clone(), sample.labels.clone())) {
            return Err(err("the same series twice".into()));
        }
        family.samples.push(sample);
    }
    for family in &parsed.families {
        if family.kind.is_empty() {
            return Err(ExpositionError {
                line: 0,
                reason: format!("{} has HELP but no TYPE", family.name),
                text: String::new(),
            });
        }
        if family.kind == "histogram" {
            check_histogram(family).map_err(|reason| ExpositionError {
                line: 0,
                reason,
                text: family.name.clone(),
            })?;
        }
    }
    Ok(parsed)
}

/// Each series of a histogram: increasing bounds, cumulative counts, `+Inf` equal to
/// `_count`, a `_sum`.
fn check_histogram(f: &Family) -> Result<(), String> {
    type Key = BTreeMap<String, String>;
    let mut buckets: BTreeMap<Key, Vec<(f64, f64)>> = BTreeMap::new();
    let mut sums: HashMap<Key, f64> = HashMap::new();
    let mut counts: HashMap<Key, f64> = HashMap::new();
    for s in &f.samples {
        let mut key = s.labels.clone();
        if s.name.ends_with("_bucket") {
            let le = key
                .remove("le")
                .and_then(|v| parse_value(&v))
                .ok_or("a bucket without le")?;
            buckets.entry(key).or_default().push((le, s.value));
        } else if s.name.ends_with("_sum") {
            sums.insert(key, s.value);
        } else {
            counts.insert(key, s.value);
        }
    }
    for (key, list) in &buckets {
        for pair in list.windows(2) {
            if pair[1].0 <= pair[0].0 {
                return Err(format!("{}{key:?}: bucket bounds not increasing", f.name));
            }
            if pair[1].1 < pair[0].1 {
                return Err(format!("{}{key:?}: buckets not cumulative", f.name));
            }
        }
        let last = list.last().ok_or("no buckets")?;
        if last.0 != f64::INFINITY {
            return Err(format!("{}{key:?}: no +Inf bucket", f.name));
        }
        if counts.get(key) != Some(&last.1) {
            return Err(format!("{}{key:?}: _count differs from +Inf", f.name));
        }
        if !sums.contains_key(key) {
            return Err(format!("{}{key:?}: no _sum", f.name));
        }
    }
    if buckets.len() != counts.len() || buckets.len() != sums.len() {
        return Err(format!("{}: _sum or _count without buckets", f.name));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const GOOD: &str = "\
# HELP a_total Things \\\\ done.\\nMore.
# TYPE a_total counter
a_total{k=\"v \\\"q\\\" \\\\ \\n\",z=\"\"} 3
a_total 1 1700000000000
# some comment
# HELP g A gauge.
# TYPE g gauge
g -1.5e3
g{x=\"y\",} NaN
# HELP h_seconds Latency.
# TYPE h_seconds histogram
h_seconds_bucket{r=\"/\",le=\"0.1\"} 1
h_seconds_bucket{r=\"/\",le=\"1\"} 2
h_seconds_bucket{r=\"/\",le=\"+Inf\"} 3
h_seconds_sum{r=\"/\"} 7.5
h_seconds_count{r=\"/\"} 3
";

    #[test]
    fn reads_a_good_exposition() {
        let p = parse(GOOD).unwrap();
        assert_eq!(p.families.len(), 3);
        assert_eq!(p.value("a_total", &[("k", "v \"q\" \\ \n")]), Some(3.0));
        assert_eq!(p.value("h_seconds_count", &[("r", "/")]), Some(3.0));
        assert_eq!(p.family("a_total").unwrap().help, "Things \\ done.\nMore.");
        assert_eq!(p.value("g", &[]), Some(-1500.0));
    }

    #[test]
    fn refuses_malformed_lines() {
        let bad = [
            ("a_total 1\n", "no # TYPE"),
            ("# TYPE a_total counter\na_total 1\n", "no # HELP"),
            ("# HELP a x\n# TYPE a counter\na 1\n", "not named ..._total"),
            ("# HELP a x\n# TYPE a gauge\na{b=\"c} 1\n", "not terminated"),
            ("# HELP a x\n# TYPE a gauge\na{b=c} 1\n", "not quoted"),
            (
                "# HELP a x\n# TYPE a gauge\na{b=\"\\t\"} 1\n",
                "invalid escape",
            ),
            (
                "# HELP a x\n# TYPE a gauge\na{b=\"1\",b=\"2\"} 1\n",
                "twice",
            ),
            (
                "# HELP a x\n# TYPE a gauge\na{1b=\"1\"} 1\n",
                "invalid label name",
            ),
            ("# HELP a x\n# TYPE a gauge\na one\n", "invalid value"),
            ("# HELP a x\n# TYPE a gauge\na inf\n", "invalid value"),
            ("# HELP a x\n# TYPE a gauge\na\n", "no value"),
            (
                "# HELP a x\n# TYPE a gauge\na 1 2 3\n",
                "after the timestamp",
            ),
            (
                "# HELP a x\n# TYPE a gauge\na 1\na 2\n",
                "same series twice",
            ),
            ("# HELP a x\n# TYPE a foo\n", "unknown type"),
            (
                "# HELP a x\n# TYPE a gauge\n# TYPE a gauge\n",
                "second TYPE",
            ),
            ("# HELP 9a x\n", "invalid metric name"),
            (
                "# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\na{c=\"d\"} 1\n",
                "continues after",
            ),
            (
                "# HELP a_total x\n# TYPE a_total counter\na_total -1\n",
                "negative",
            ),
            (
                "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
                "not cumulative",
            ),
            (
                "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
                "no +Inf",
            ),
            (
                "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",
                "_count differs",
            ),
            (
                "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
                "no _sum",
            ),
            (
                "# HELP h x\n# TYPE h histogram\nh_bucket 1\n",
                "without a numeric le",
            ),
        ];
        for (text, why) in bad {
            let e = parse(text).expect_err(text);
            assert!(
                e.to_string().contains(why),
                "{text:?}: {e} (wanted {why:?})"
            );
        }
    }
}
