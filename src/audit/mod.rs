//! The audit trail: a hash-chained JSONL log with group commit, recovery, redaction and SIEM.
//!
//! Front ends never write here directly; the gate builds an [`AuditEvent`] and calls
//! [`AuditSink::append`], which returns once the event is fsynced.

pub mod anchor;
pub mod cap;
pub mod cef;
pub mod checkpoint;
pub mod cli;
pub mod error;
pub mod event;
pub mod files;
pub mod gojson;
pub mod hash;
pub mod reader;
pub mod recovery;
pub mod redact;
pub mod siem;
pub mod syslog;
pub mod verify;
pub mod writer;

pub use error::{AuditError, RecordError};
pub use event::{AuditEvent, EventDecision, EventResponse, HostInfo, SCHEMA_VERSION};
pub use redact::{redact_event, redacted, sanitize};
pub use siem::SiemConfig;
pub use syslog::Transport;
pub use verify::{ChainBreak, VerifyReport, verify_dir};
pub use writer::{AuditSink, Receipt, SinkConfig, SinkStats, Ticket};
