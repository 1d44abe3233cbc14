//! Error types of the audit trail.

use std::path::PathBuf;

/// Why one line could not be read as a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The line is not valid JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// The line is JSON but not an object.
    #[error("not a JSON object")]
    NotObject,
    /// A field has the wrong type.
    #[error("field {0}: {1}")]
    Field(&'static str, &'static str),
}

/// Errors of the audit writer and readers.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
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
    /// The chain on disk is broken; the writer refuses to extend it.
    #[error("audit chain broken: {0}")]
    Broken(Box<super::verify::ChainBreak>),
    /// The event does not fit in the record size cap even after compaction.
    #[error("record exceeds {limit} bytes after compaction ({size} bytes)")]
    TooLarge {
        /// Serialised size after compaction.
        size: usize,
        /// The cap.
        limit: usize,
    },
    /// The writer has shut down (or its flusher thread died).
    #[error("audit sink is closed")]
    Closed,
    /// The batch containing this event failed to reach disk.
    #[error("audit write failed: {0}")]
    WriteFailed(String),
    /// Another writer held the audit directory lock for longer than the configured wait.
    #[error(
        "timed out after {} ms waiting for the audit directory lock {} (another Rampart writer is holding it)",
        waited.as_millis(),
        path.display()
    )]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: std::time::Duration,
    },
    /// An event field the writer needs is invalid.
    #[error("invalid event: {0}")]
    InvalidEvent(String),
}

impl AuditError {
    /// Wraps an I/O error with the operation and path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> AuditError {
        AuditError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
