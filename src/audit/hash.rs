//! The hash chain rule (spec §7.3): `sha256:` + hex(SHA-256(prev_hash ‖ JSON with hash "")).

use super::event::AuditEvent;
use sha2::{Digest, Sha256};

/// Prefix of every hash in the trail.
pub const HASH_PREFIX: &str = "sha256:";

/// `sha256:<hex>` of arbitrary bytes.
pub fn sha256_tagged(data: &[u8]) -> String {
    format!("{HASH_PREFIX}{}", hex::encode(Sha256::digest(data)))
}

/// Hash of an event given its pre-image JSON and the previous hash.
pub fn chain_hash(prev_hash: &str, preimage_json: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(preimage_json.as_bytes());
    format!("{HASH_PREFIX}{}", hex::encode(h.finalize()))
}

/// Hash of an event whose pre-image is given in pieces (avoids building one string).
pub fn chain_hash_parts(prev_hash: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    for p in parts {
        h.update(p.as_bytes());
    }
    format!("{HASH_PREFIX}{}", hex::encode(h.finalize()))
}

/// Computes the hash an event must carry (uses its own `prev_hash`).
pub fn event_hash(e: &AuditEvent) -> String {
    chain_hash(&e.prev_hash, &e.preimage_json())
}

/// Compares two hashes in constant time (for equal lengths).
pub fn hashes_equal(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
