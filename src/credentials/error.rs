//! Error types of the credentials module: local-state failures and request authentication.

use std::path::PathBuf;

use super::identity::Scope;

/// Failures reading, writing or using local credentials (token files, the agent-token store).
#[derive(Debug, thiserror::Error)]
pub enum CredError {
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
    /// The path is a symbolic link; credential files are never followed through links.
    #[error("refusing {0}: it is a symbolic link")]
    Symlink(PathBuf),
    /// The path is not a regular file (directory, FIFO, device, socket).
    #[error("refusing {0}: not a regular file")]
    NotRegular(PathBuf),
    /// The file was replaced between the check and the open.
    #[error("refusing {0}: file changed while it was being opened")]
    Changed(PathBuf),
    /// The file is larger than the cap for its kind.
    #[error("refusing {path}: larger than {limit} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The cap in bytes.
        limit: u64,
    },
    /// The file's content is not what it should be.
    #[error("{path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The OS random number generator failed.
    #[error("cannot generate a token: OS random number generator failed: {0}")]
    Random(String),
    /// Another process held the lock for too long.
    #[error("timed out waiting for lock {0}")]
    LockTimeout(PathBuf),
    /// An agent or policy name is not `^[A-Za-z0-9_-]{{1,64}}$`.
    #[error("invalid {what} name {name:?}: use 1-64 letters, digits, '_' or '-'")]
    InvalidName {
        /// "agent" or "policy".
        what: &'static str,
        /// The rejected name.
        name: String,
    },
    /// A scope other than `eval` or `admin`.
    #[error("invalid scope {0:?}: expected eval or admin")]
    InvalidScope(String),
    /// A token string that cannot be used (empty, control characters).
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// No token matched an id or prefix.
    #[error("no {which}token matches {query:?}")]
    NoMatch {
        /// "active " when only active tokens were searched, else "".
        which: &'static str,
        /// What was searched for.
        query: String,
    },
    /// More than one token matched an id or prefix.
    #[error("{count} tokens match {query:?}; give more characters")]
    Ambiguous {
        /// What was searched for.
        query: String,
        /// How many matched.
        count: usize,
    },
    /// The id or prefix is too short to pick a token safely.
    #[error("token id or prefix {0:?} is too short: give at least 4 hex characters")]
    QueryTooShort(String),
    /// A URL the client was asked to send a token to is not acceptable.
    #[error("refusing to send a token to {url}: {reason}")]
    UnsafeUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: &'static str,
    },
}

impl CredError {
    /// Wraps an I/O error with the operation and path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> CredError {
        CredError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// True when the error is "the file does not exist".
    pub fn is_not_found(&self) -> bool {
        matches!(self, CredError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Why a request's credential was not accepted; `Display` is the exact client-facing message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token was presented.
    #[error("missing authorization token")]
    Missing,
    /// The token is neither the admin token nor a known per-agent token.
    #[error("invalid authorization token")]
    Invalid,
    /// The per-agent token was revoked.
    #[error("token has been revoked")]
    Revoked,
    /// The per-agent token is past its expiry.
    #[error("token expired — create a new one with: rampart token create --agent {agent}")]
    Expired {
        /// The agent the token belonged to.
        agent: String,
    },
    /// The credential is valid but lacks the scope the endpoint needs.
    #[error("this endpoint requires {0} scope")]
    MissingScope(Scope),
}

impl AuthError {
    /// The HTTP status for this error: 401 for authentication failures, 403 for a missing scope.
    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::MissingScope(_) => 403,
            _ => 401,
        }
    }
}
