//! Per-agent tokens in `~/.rampart/tokens.json`: the CLI's read-modify-write operations and the
//! server's lookup, which follows the file while the server runs.
//!
//! File format (shared with earlier releases, so existing files keep working):
//! `{"tokens":[{"hash","agent","policy"?,"scopes","created_at","expires_at"?,"note"?,
//! "revoked"?,"masked_prefix"}]}`, pretty-printed with two spaces and a trailing newline.
//! Only the SHA-256 of a token is stored; the plaintext is shown once, at creation.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::admin::{RELOAD_RETRY, rampart_dir};
use super::error::{AuthError, CredError};
use super::identity::{AgentIdentity, Scope};
use super::secret::{TOKEN_PREFIX, digest_eq, generate_token, sha256, sha256_hex};
use super::secure_file::{FileLock, FileStamp, STORE_FILE_CAP, read_private, write_private};

/// Longest note accepted on a new token, in characters.
pub const MAX_NOTE_CHARS: usize = 1024;
/// Fewest hex characters accepted as an id or hash prefix by revoke and info.
pub const MIN_QUERY_HEX: usize = 4;
/// Hex characters of the token kept in `masked_prefix`.
pub const MASKED_HEX: usize = 8;

/// `<home>/.rampart/tokens.json`.
pub fn agent_tokens_path(home: &Path) -> PathBuf {
    rampart_dir(home).join("tokens.json")
}

/// True when `name` matches `^[A-Za-z0-9_-]{1,64}$` (agent and policy names).
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// One stored token, field for field as in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// SHA-256 hex of the full plaintext token, prefix included.
    pub hash: String,
    /// Agent the token identifies.
    pub agent: String,
    /// Policy the token is restricted to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Scope names (`eval`, `admin`).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// When it was created.
    #[serde(with = "rfc3339")]
    pub created_at: DateTime<FixedOffset>,
    /// When it stops working, if ever.
    #[serde(default, with = "rfc3339_opt", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<FixedOffset>>,
    /// Free-text note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Set by `token revoke`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoked: bool,
    /// First 8 hex characters after `rampart_`, for display and lookup.
    #[serde(default)]
    pub masked_prefix: String,
    /// Fields this version does not know, kept on rewrite.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Whether a token can be used right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    /// Usable.
    Active,
    /// Revoked by `token revoke`.
    Revoked,
    /// Past `expires_at`.
    Expired,
}

impl TokenStatus {
    /// Lowercase name as shown by `token list`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Revoked => "revoked",
            TokenStatus::Expired => "expired",
        }
    }
}

impl TokenRecord {
    /// The display id: `rampart_` + the masked prefix.
    pub fn id(&self) -> String {
        format!("{TOKEN_PREFIX}{}", self.masked_prefix)
    }

    /// Status at `now`; revocation wins over expiry.
    pub fn status(&self, now: DateTime<Utc>) -> TokenStatus {
        if self.revoked {
            TokenStatus::Revoked
        } else if self.expires_at.is_some_and(|e| e <= now) {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
    }

    /// The known scopes of the record; a record without scopes (older files) has `eval`.
    pub fn scope_set(&self) -> Vec<Scope> {
        if self.scopes.is_empty() {
            return vec![Scope::Eval];
        }
        let mut out: Vec<Scope> = self.scopes.iter().filter_map(|s| Scope::parse(s)).collect();
        out.sort();
        out.dedup();
        out
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StoreFile {
    #[serde(default, deserialize_with = "null_as_empty")]
    tokens: Vec<TokenRecord>,
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<TokenRecord>, D::Error> {
    Ok(Option::<Vec<TokenRecord>>::deserialize(d)?.unwrap_or_default())
}

mod rfc3339 {
    use chrono::{DateTime, FixedOffset, SecondsFormat};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<FixedOffset>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<FixedOffset>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

mod rfc3339_opt {
    use chrono::{DateTime, FixedOffset};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        t: &Option<DateTime<FixedOffset>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::rfc3339::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => DateTime::parse_from_rfc3339(&s)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Parses and checks the store file; whitespace-only content is an empty store.
fn parse_store(bytes: &[u8], path: &Path) -> Result<StoreFile, CredError> {
    let corrupt = |reason: String| CredError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(StoreFile::default());
    }
    let mut file: StoreFile =
        serde_json::from_slice(bytes).map_err(|e| corrupt(format!("invalid JSON: {e}")))?;
    for (i, r) in file.tokens.iter_mut().enumerate() {
        if r.hash.len() != 64
            || !r
                .hash
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(corrupt(format!(
                "token {i}: hash is not 64 lowercase hex characters"
            )));
        }
        if r.agent.is_empty() {
            return Err(corrupt(format!("token {i}: empty agent")));
        }
        // Earlier writers omit empty strings; treat an explicit "" the same way.
        if r.policy.as_deref() == Some("") {
            r.policy = None;
        }
        if r.note.as_deref() == Some("") {
            r.note = None;
        }
    }
    Ok(file)
}

fn serialize_store(file: &StoreFile, path: &Path) -> Result<Vec<u8>, CredError> {
    let mut out = serde_json::to_vec_pretty(file).map_err(|e| CredError::Corrupt {
        path: path.to_path_buf(),
        reason: format!("cannot serialise: {e}"),
    })?;
    out.push(b'\n');
    if out.len() as u64 > STORE_FILE_CAP {
        return Err(CredError::TooLarge {
            path: path.to_path_buf(),
            limit: STORE_FILE_CAP,
        });
    }
    Ok(out)
}

/// What to issue with [`TokenStore::create`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// Agent name (`^[A-Za-z0-9_-]{1,64}$`).
    pub agent: String,
    /// Policy restriction, same name rules.
    pub policy: Option<String>,
    /// Scopes; empty means `[eval]`.
    pub scopes: Vec<Scope>,
    /// Expiry instant, which must be in the future.
    pub expires_at: Option<DateTime<Utc>>,
    /// Free-text note (no control characters, at most [`MAX_NOTE_CHARS`]).
    pub note: Option<String>,
}

impl NewToken {
    /// A token for `agent` with defaults: global policy, `[eval]`, no expiry, no note.
    pub fn for_agent(agent: &str) -> NewToken {
        NewToken {
            agent: agent.to_string(),
            policy: None,
            scopes: Vec::new(),
            expires_at: None,
            note: None,
        }
    }
}

/// A newly created token: the plaintext (shown once) and the stored record.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    /// `rampart_` + 48 hex; never stored.
    pub token: String,
    /// The record written to the file.
    pub record: TokenRecord,
}

/// One token as the server keeps it for lookups.
#[derive(Debug)]
struct Entry {
    digest: [u8; 32],
    hash_hex: String,
    agent: String,
    policy: Option<String>,
    scopes: Vec<Scope>,
    expires_at: Option<DateTime<Utc>>,
    revoked: bool,
}

#[derive(Debug, Default)]
struct Cache {
    /// Whether `seen` describes a version that was examined.
    loaded: bool,
    seen: Option<FileStamp>,
    failed_at: Option<Instant>,
    entries: Vec<Entry>,
}

/// The per-agent token store at one path.
///
/// CLI operations lock `<file>.rampart.lock`, re-read the file, change it and replace it
/// atomically. [`TokenStore::identify`] keeps a parsed copy and re-reads the file whenever its
/// stamp (device, inode, size, mtime, ctime, mode) changes. A changed file that is unreadable,
/// corrupt, a symlink or deleted leaves **no** per-agent token valid until it is fixed (fail
/// closed); the bootstrap admin token is unaffected.
#[derive(Debug)]
pub struct TokenStore {
    path: PathBuf,
    cache: Mutex<Cache>,
}

impl TokenStore {
    /// The store at `path`.
    pub fn new(path: impl Into<PathBuf>) -> TokenStore {
        TokenStore {
            path: path.into(),
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The store at `<home>/.rampart/tokens.json`.
    pub fn for_home(home: &Path) -> TokenStore {
        TokenStore::new(agent_tokens_path(home))
    }

    /// The file this store uses.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Issues a token and records its hash; returns the plaintext once.
    pub fn create(&self, req: NewToken, now: DateTime<Utc>) -> Result<CreatedToken, CredError> {
        if !valid_name(&req.agent) {
            return Err(CredError::InvalidName {
                what: "agent",
                name: req.agent,
            });
        }
        if let Some(p) = &req.policy
            && !valid_name(p)
        {
            return Err(CredError::InvalidName {
                what: "policy",
                name: p.clone(),
            });
        }
        let note = match req.note {
            Some(n) if n.trim().is_empty() => None,
            Some(n) => {
                if n.chars().any(char::is_control) || n.chars().count() > MAX_NOTE_CHARS {
                    return Err(CredError::InvalidToken(
                        "note must be at most 1024 characters without control characters",
                    ));
                }
                Some(n)
            }
            None => None,
        };
        if let Some(e) = req.expires_at
            && e <= now
        {
            return Err(CredError::InvalidToken("expiry must be in the future"));
        }
        let mut scopes = if req.scopes.is_empty() {
            vec![Scope::Eval]
        } else {
            req.scopes
        };
        scopes.sort();
        scopes.dedup();

        let token = generate_token()?;
        let masked: String = token[TOKEN_PREFIX.len()..]
            .chars()
            .take(MASKED_HEX)
            .collect();
        let record = TokenRecord {
            hash: sha256_hex(&token),
            agent: req.agent,
            policy: req.policy,
            scopes: scopes.iter().map(|s| s.as_str().to_string()).collect(),
            created_at: now.fixed_offset(),
            expires_at: req.expires_at.map(|e| e.fixed_offset()),
            note,
            revoked: false,
            masked_prefix: masked,
            extra: serde_json::Map::new(),
        };
        self.modify(|file| {
            file.tokens.push(record.clone());
            Ok(())
        })?;
        Ok(CreatedToken { token, record })
    }

    /// Every stored token, in file order; a missing file is an empty store.
    pub fn list(&self) -> Result<Vec<TokenRecord>, CredError> {
        Ok(self.read_file()?.tokens)
    }

    /// Revokes the single *active* token matching `query` (see [`find_token`]).
    pub fn revoke(&self, query: &str, now: DateTime<Utc>) -> Result<TokenRecord, CredError> {
        self.modify(|file| {
            let i = find_token(&file.tokens, query, Some(now))?;
            file.tokens[i].revoked = true;
            Ok(file.tokens[i].clone())
        })
    }

    /// The single token (any status) matching `query` (see [`find_token`]).
    pub fn info(&self, query: &str) -> Result<TokenRecord, CredError> {
        let file = self.read_file()?;
        let i = find_token(&file.tokens, query, None)?;
        Ok(file.tokens[i].clone())
    }

    /// Server-side lookup of a presented token (constant-time hash comparison against every
    /// record); picks up changes to the file first.
    pub fn identify(
        &self,
        presented: &str,
        now: DateTime<Utc>,
    ) -> Result<AgentIdentity, AuthError> {
        if presented.is_empty() {
            return Err(AuthError::Missing);
        }
        let digest = sha256(presented);
        let mut cache = self.lock_cache();
        self.refresh_locked(&mut cache);
        let mut found = None;
        for (i, e) in cache.entries.iter().enumerate() {
            // No early exit: every record is compared.
            if digest_eq(&e.digest, &digest) && found.is_none() {
                found = Some(i);
            }
        }
        let e = found
            .and_then(|i| cache.entries.get(i))
            .ok_or(AuthError::Invalid)?;
        if e.revoked {
            return Err(AuthError::Revoked);
        }
        if e.expires_at.is_some_and(|x| x <= now) {
            return Err(AuthError::Expired {
                agent: e.agent.clone(),
            });
        }
        Ok(AgentIdentity {
            agent: e.agent.clone(),
            policy: e.policy.clone(),
            scopes: e.scopes.clone(),
            token_hash: e.hash_hex.clone(),
        })
    }

    /// Re-reads the file if it changed; `Err` when the current version is unusable (and so no
    /// per-agent token is accepted). Lets the server log the problem.
    pub fn refresh(&self) -> Result<(), CredError> {
        let mut cache = self.lock_cache();
        match self.refresh_locked(&mut cache) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn lock_cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Brings the cache up to date; returns the error that left it empty, if any.
    fn refresh_locked(&self, cache: &mut Cache) -> Option<CredError> {
        let stamp = match FileStamp::of(&self.path) {
            Ok(s) => s,
            Err(e) => {
                cache.entries.clear();
                cache.loaded = false;
                return Some(e);
            }
        };
        let retry_due = cache.failed_at.is_some_and(|t| t.elapsed() >= RELOAD_RETRY);
        if cache.loaded && stamp == cache.seen && !retry_due {
            return cache.failed_at.map(|_| CredError::Corrupt {
                path: self.path.clone(),
                reason: "unusable since last change; per-agent tokens disabled".into(),
            });
        }
        cache.entries.clear();
        cache.loaded = true;
        cache.seen = stamp;
        cache.failed_at = None;
        let result = read_private(&self.path, STORE_FILE_CAP).and_then(|f| match f {
            None => Ok(None),
            Some(f) => {
                cache.seen = Some(f.stamp);
                parse_store(&f.bytes, &self.path).map(Some)
            }
        });
        match result {
            Ok(None) => None,
            Ok(Some(file)) => {
                cache.entries = file.tokens.iter().filter_map(entry_of).collect();
                None
            }
            Err(e) => {
                cache.failed_at = Some(Instant::now());
                Some(e)
            }
        }
    }

    fn read_file(&self) -> Result<StoreFile, CredError> {
        match read_private(&self.path, STORE_FILE_CAP)? {
            None => Ok(StoreFile::default()),
            Some(f) => parse_store(&f.bytes, &self.path),
        }
    }

    /// Locked read-modify-write; nothing is written when `change` fails.
    fn modify<T>(
        &self,
        change: impl FnOnce(&mut StoreFile) -> Result<T, CredError>,
    ) -> Result<T, CredError> {
        let _lock = FileLock::acquire(&self.path)?;
        let mut file = self.read_file()?;
        let out = change(&mut file)?;
        write_private(&self.path, &serialize_store(&file, &self.path)?)?;
        Ok(out)
    }
}

fn entry_of(r: &TokenRecord) -> Option<Entry> {
    let mut digest = [0u8; 32];
    hex::decode_to_slice(&r.hash, &mut digest).ok()?;
    Some(Entry {
        digest,
        hash_hex: r.hash.clone(),
        agent: r.agent.clone(),
        policy: r.policy.clone(),
        scopes: r.scope_set(),
        expires_at: r.expires_at.map(|e| e.with_timezone(&Utc)),
        revoked: r.revoked,
    })
}

/// Finds the one record `query` designates: the full token (by hash), or a prefix of the id
/// (`rampart_` + masked prefix), of the masked prefix, or of the hash. A trailing `...`/`…`
/// (as `token list` prints ids) is ignored and prefixes are case-insensitive; prefixes need at
/// least [`MIN_QUERY_HEX`] hex characters. With `active_at`, only tokens active then count.
pub fn find_token(
    records: &[TokenRecord],
    query: &str,
    active_at: Option<DateTime<Utc>>,
) -> Result<usize, CredError> {
    let q = query.trim();
    let full_hash = sha256_hex(q);
    let core = q
        .trim_end_matches('…')
        .trim_end_matches("...")
        .to_ascii_lowercase();
    let bare = core.strip_prefix(TOKEN_PREFIX).unwrap_or(&core);
    let prefix_ok = bare.len() >= MIN_QUERY_HEX && bare.bytes().all(|b| b.is_ascii_hexdigit());
    let candidates: Vec<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| active_at.is_none_or(|now| r.status(now) == TokenStatus::Active))
        .filter(|(_, r)| {
            r.hash == full_hash
                || (prefix_ok
                    && ((!r.masked_prefix.is_empty() && r.masked_prefix.starts_with(bare))
                        || r.hash.starts_with(bare)))
        })
        .map(|(i, _)| i)
        .collect();
    match candidates.as_slice() {
        [i] => Ok(*i),
        [] if !prefix_ok => Err(CredError::QueryTooShort(q.to_string())),
        [] => Err(CredError::NoMatch {
            which: if active_at.is_some() { "active " } else { "" },
            query: q.to_string(),
        }),
        many => Err(CredError::Ambiguous {
            query: q.to_string(),
            count: many.len(),
        }),
    }
}

/// Formats an instant as the store writes it (RFC 3339, `Z` for UTC).
pub fn format_time(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests;
