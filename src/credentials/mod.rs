//! Credentials: the bootstrap admin token, per-agent tokens, and how a request is identified.
//!
//! No HTTP here: the API layer extracts the header with [`bearer`], calls [`identify`], and
//! maps an [`AuthError`] to a status with [`AuthError::http_status`]. Every file read or written
//! here goes through [`secure_file`] (owner-only, no symlinks, atomic replace).

pub mod admin;
pub mod client;
pub mod error;
pub mod identity;
pub mod secret;
pub mod secure_file;
pub mod store;

pub use admin::{AdminToken, admin_token_path, rampart_dir, rotate};
pub use client::{TokenSource, client_token, may_send};
pub use error::{AuthError, CredError};
pub use identity::{AgentIdentity, Identity, Scope, bearer, identify};
pub use store::{NewToken, TokenRecord, TokenStatus, TokenStore, agent_tokens_path};

/// The home directory from `$HOME`; `None` when unset or empty.
pub fn home_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(std::path::PathBuf::from)
}
