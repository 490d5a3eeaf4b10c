//! Bearer tokens (probe and service tokens). A service never stores a token, only its
//! SHA-256 hash (tokens are long random strings, so a fast hash is right here; passwords
//! get Argon2 in the admin API). A presented token is hashed and compared with each known
//! hash in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A token's SHA-256, as 64 hex digits.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl TokenHash {
    /// The hash of `token`.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Parses 64 hex digits (optionally prefixed `sha256:`).
    pub fn parse(hex_digits: &str) -> Result<Self, String> {
        let digits = hex_digits.trim().trim_start_matches("sha256:");
        let bytes = hex::decode(digits).map_err(|_| "a token hash is 64 hex digits".to_string())?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "a token hash is 64 hex digits".to_string())?;
        Ok(Self(bytes))
    }

    /// As `sha256:` and hex, the form the configuration takes.
    pub fn to_config_string(&self) -> String {
        format!("sha256:{}", hex::encode(self.0))
    }
}

/// The set of accepted token hashes.
#[derive(Debug, Clone, Default)]
pub struct TokenSet(Vec<TokenHash>);

impl TokenSet {
    /// Accepts tokens with these hashes.
    pub fn new(hashes: Vec<TokenHash>) -> Self {
        Self(hashes)
    }

    /// Whether `presented` is one of them. Every known hash is compared, in constant
    /// time, so the answer takes as long whichever matches.
    pub fn accepts(&self, presented: &str) -> bool {
        let h = TokenHash::of(presented);
        self.0
            .iter()
            .fold(0u8, |found, known| found | known.0.ct_eq(&h.0).unwrap_u8())
            == 1
    }

    /// Whether no token is configured (every request is refused).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The set configured under `key` (a list of `sha256:<64 hex>`); an error names the
    /// key. An empty list is allowed (with a warning): every request is then refused.
    pub fn from_config(hashes: &[String], key: &str) -> Result<Self, crate::config::ConfigError> {
        let hashes = hashes
            .iter()
            .map(|h| TokenHash::parse(h).map_err(|m| crate::config::err(key, m)))
            .collect::<Result<Vec<_>, _>>()?;
        if hashes.is_empty() {
            tracing::warn!(
                key,
                "no token hashes configured: every request will be refused with 401"
            );
        }
        Ok(Self(hashes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_round_trip_and_match() {
        let h = TokenHash::of("probe-secret");
        let parsed = TokenHash::parse(&h.to_config_string()).unwrap();
        let set = TokenSet::new(vec![TokenHash::of("other"), parsed]);
        assert!(set.accepts("probe-secret"));
        assert!(!set.accepts("probe-secreT"));
        assert!(!TokenSet::default().accepts("probe-secret"));
        assert!(TokenHash::parse("abc").is_err());
    }
}
