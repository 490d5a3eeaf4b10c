//! Apdex: with a threshold T per endpoint, a sample is satisfied at or under T,
//! tolerating at or under 4T, frustrated above 4T or when the check failed.
//! Apdex = (satisfied + tolerating / 2) / total.

use serde::{Deserialize, Serialize};

use crate::Outcome;

/// An endpoint's Apdex threshold T in milliseconds (1 ms to 60 s, 500 ms by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct ApdexT(u32);

impl ApdexT {
    /// Parses a threshold.
    pub fn new(ms: u32) -> Result<Self, String> {
        if ms == 0 || ms > 60_000 {
            return Err(format!("apdex_t_ms must be between 1 and 60000, not {ms}"));
        }
        Ok(Self(ms))
    }

    /// T in milliseconds.
    pub fn as_millis(self) -> u32 {
        self.0
    }

    /// Classifies one sample.
    pub fn classify(self, outcome: Outcome, total_ms: f64) -> ApdexClass {
        let t = f64::from(self.0);
        if !outcome.is_up() || total_ms > 4.0 * t {
            ApdexClass::Frustrated
        } else if total_ms > t {
            ApdexClass::Tolerating
        } else {
            ApdexClass::Satisfied
        }
    }
}

impl Default for ApdexT {
    fn default() -> Self {
        Self(500)
    }
}

impl TryFrom<u32> for ApdexT {
    type Error = String;
    fn try_from(ms: u32) -> Result<Self, String> {
        Self::new(ms)
    }
}

impl From<ApdexT> for u32 {
    fn from(t: ApdexT) -> u32 {
        t.0
    }
}

/// A sample's Apdex class.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApdexClass {
    /// At or under T.
    Satisfied,
    /// Over T, at or under 4T.
    Tolerating,
    /// Over 4T, or failed.
    Frustrated,
}

/// Counts of samples per class, which add up across minutes and regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApdexCounts {
    /// Satisfied samples.
    pub satisfied: u64,
    /// Tolerating samples.
    pub tolerating: u64,
    /// Frustrated samples.
    pub frustrated: u64,
}

impl ApdexCounts {
    /// Adds one sample.
    pub fn add(&mut self, class: ApdexClass) {
        match class {
            ApdexClass::Satisfied => self.satisfied += 1,
            ApdexClass::Tolerating => self.tolerating += 1,
            ApdexClass::Frustrated => self.frustrated += 1,
        }
    }

    /// All samples.
    pub fn total(&self) -> u64 {
        self.satisfied + self.tolerating + self.frustrated
    }

    /// The Apdex score, or `None` without samples.
    pub fn score(&self) -> Option<f64> {
        let total = self.total();
        (total > 0).then(|| (self.satisfied as f64 + self.tolerating as f64 / 2.0) / total as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DownReason;

    #[test]
    fn classifies_at_the_boundaries() {
        let t = ApdexT::new(100).unwrap();
        assert_eq!(t.classify(Outcome::Up, 100.0), ApdexClass::Satisfied);
        assert_eq!(t.classify(Outcome::Up, 100.1), ApdexClass::Tolerating);
        assert_eq!(t.classify(Outcome::Up, 400.0), ApdexClass::Tolerating);
        assert_eq!(t.classify(Outcome::Up, 400.1), ApdexClass::Frustrated);
        assert_eq!(
            t.classify(Outcome::Down(DownReason::Status), 1.0),
            ApdexClass::Frustrated
        );
    }

    #[test]
    fn score_is_the_apdex_formula() {
        let c = ApdexCounts {
            satisfied: 6,
            tolerating: 2,
            frustrated: 2,
        };
        assert_eq!(c.score(), Some(0.7));
        assert_eq!(ApdexCounts::default().score(), None);
        assert!(ApdexT::new(0).is_err());
    }
}
