//! Token generation, hashing and constant-time comparison.
//!
//! Randomness comes from the OS generator through the `getrandom` crate; a failure is an error,
//! never a fallback to something weaker.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::CredError;

/// Prefix of every token this implementation generates.
pub const TOKEN_PREFIX: &str = "rampart_";
/// Random bytes in a generated token (48 hex characters).
pub const TOKEN_RANDOM_BYTES: usize = 24;

/// A new token: `rampart_` followed by 48 lowercase hex characters from the OS RNG.
pub fn generate_token() -> Result<String, CredError> {
    let mut bytes = [0u8; TOKEN_RANDOM_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| CredError::Random(e.to_string()))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
}

/// True when `s` has the exact shape of a generated token.
pub fn is_generated_shape(s: &str) -> bool {
    s.strip_prefix(TOKEN_PREFIX).is_some_and(|h| {
        h.len() == 2 * TOKEN_RANDOM_BYTES
            && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// SHA-256 of the token's UTF-8 bytes.
pub fn sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Lowercase hex SHA-256 of the token, as stored in `tokens.json`.
pub fn sha256_hex(token: &str) -> String {
    hex::encode(sha256(token))
}

/// Compares two digests in constant time.
///
/// Every secret comparison in this module goes through here; both sides are fixed-length
/// digests, so not even the length of the secret is revealed by timing.
pub fn digest_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    #[cfg(test)]
    probe::hit();
    bool::from(a.ct_eq(b))
}

/// Counts calls of [`digest_eq`] per thread so tests can prove secret checks go through it.
#[cfg(test)]
pub mod probe {
    use std::cell::Cell;

    thread_local! {
        static HITS: Cell<usize> = const { Cell::new(0) };
    }

    /// Records one constant-time comparison.
    pub fn hit() {
        HITS.with(|h| h.set(h.get() + 1));
    }

    /// Comparisons made on this thread so far.
    pub fn hits() -> usize {
        HITS.with(|h| h.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_the_format_and_differ() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_eq!(a.len(), 8 + 48);
        assert!(is_generated_shape(&a), "{a}");
        assert_ne!(a, b);
        assert!(!is_generated_shape("rampart_ABCDEF"));
        assert!(!is_generated_shape(&a.to_uppercase()));
        assert!(!is_generated_shape(&"a".repeat(64)));
    }

    #[test]
    fn sha256_hex_matches_known_vector() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn digest_eq_compares() {
        let a = sha256("x");
        assert!(digest_eq(&a, &sha256("x")));
        assert!(!digest_eq(&a, &sha256("y")));
    }
}
