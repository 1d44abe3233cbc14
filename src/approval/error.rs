//! Error types of the approval service.

use std::path::PathBuf;

/// Errors of the store, its journal, replay grants and the signing key.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// The pending cap is reached.
    #[error("approval: too many pending requests (limit: {limit})")]
    Full {
        /// The cap.
        limit: usize,
    },
    /// A file-system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A path is a symlink or not a regular file/directory.
    #[error("refusing {0}: symlink or not a regular file")]
    NotRegular(PathBuf),
    /// The signing key file does not hold exactly 32 bytes.
    #[error("signing key {path}: expected 32 bytes, found {len}")]
    KeyLength {
        /// The key file.
        path: PathBuf,
        /// Bytes found (capped at 33).
        len: usize,
    },
    /// The journal exceeds a restore limit; move it aside to start.
    #[error("approval journal {path}: {reason}; move the file aside to start")]
    JournalLimit {
        /// The journal.
        path: PathBuf,
        /// Which limit.
        reason: String,
    },
    /// A value could not be encoded for the journal or a grant file.
    #[error("encode {what}: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's message.
        reason: String,
    },
    /// A replay grant for this exact call is already published or was already used.
    #[error("approval: a replay grant for this exact call was already published or used")]
    GrantExists,
    /// The operating system's random source failed.
    #[error("random source: {0}")]
    Random(String),
}

impl ApprovalError {
    /// Wraps an I/O error with the operation and path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> ApprovalError {
        ApprovalError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// Why resolving one approval failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// No approval with this id (never existed or already cleaned up).
    #[error("approval: unknown id {0:?}")]
    NotFound(String),
    /// It is approved, denied or expired already (including past its deadline).
    #[error("approval already resolved; URL cannot be reused")]
    AlreadyResolved,
    /// It is still pending: journal, audit record or replay grant failed.
    #[error("{0}")]
    Unavailable(String),
}

impl ResolveError {
    /// The HTTP status the API should answer with (404, 410 or 503).
    pub fn http_status(&self) -> u16 {
        match self {
            ResolveError::NotFound(_) => 404,
            ResolveError::AlreadyResolved => 410,
            ResolveError::Unavailable(_) => 503,
        }
    }
}
