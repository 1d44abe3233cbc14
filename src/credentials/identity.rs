//! Request authentication: bearer extraction, identification order, scopes.

use chrono::{DateTime, Utc};

use super::admin::AdminToken;
use super::error::AuthError;
use super::store::TokenStore;

/// A permission a credential can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// May evaluate tool calls (`/v1/tool`, `/v1/preflight`).
    Eval,
    /// May use every other authenticated endpoint.
    Admin,
}

impl Scope {
    /// Every scope, in canonical order.
    pub const ALL: [Scope; 2] = [Scope::Eval, Scope::Admin];

    /// The scope's name as stored and shown (`eval`, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Eval => "eval",
            Scope::Admin => "admin",
        }
    }

    /// Parses an exact scope name.
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "eval" => Some(Scope::Eval),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A per-agent token that was accepted by the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentIdentity {
    /// The agent the token was issued to.
    pub agent: String,
    /// Policy the token is restricted to, if any.
    pub policy: Option<String>,
    /// Scopes of the token.
    pub scopes: Vec<Scope>,
    /// SHA-256 hex of the token, as stored.
    pub token_hash: String,
}

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// True for the bootstrap admin token (all scopes, exempt from per-agent restrictions).
    pub admin: bool,
    /// Agent name of a per-agent token.
    pub agent: Option<String>,
    /// Policy restriction of a per-agent token.
    pub policy: Option<String>,
    /// Scopes held (both for the bootstrap token).
    pub scopes: Vec<Scope>,
    /// SHA-256 hex of the per-agent token; empty for the bootstrap token.
    pub token_hash: String,
}

impl Identity {
    /// The bootstrap admin identity.
    pub fn bootstrap() -> Identity {
        Identity {
            admin: true,
            agent: None,
            policy: None,
            scopes: Scope::ALL.to_vec(),
            token_hash: String::new(),
        }
    }

    /// True when the credential may use endpoints needing `scope` (always for bootstrap).
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.admin || self.scopes.contains(&scope)
    }

    /// `Ok` when [`Identity::has_scope`], else the 403 error naming the scope.
    pub fn require(&self, scope: Scope) -> Result<(), AuthError> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(AuthError::MissingScope(scope))
        }
    }
}

impl From<AgentIdentity> for Identity {
    fn from(a: AgentIdentity) -> Identity {
        Identity {
            admin: false,
            agent: Some(a.agent),
            policy: a.policy,
            scopes: a.scopes,
            token_hash: a.token_hash,
        }
    }
}

/// The token in an `Authorization` header value: trimmed, exact case-sensitive `Bearer `
/// prefix, non-empty remainder.
pub fn bearer(header_value: &str) -> Option<&str> {
    header_value
        .trim()
        .strip_prefix("Bearer ")
        .filter(|t| !t.is_empty())
}

/// Identifies a presented token: bootstrap admin token first (constant time), then the
/// per-agent store (revoked / expired have their own errors), else invalid. An empty token is
/// "missing".
pub fn identify(
    admin: &AdminToken,
    store: &TokenStore,
    presented: &str,
    now: DateTime<Utc>,
) -> Result<Identity, AuthError> {
    if presented.is_empty() {
        return Err(AuthError::Missing);
    }
    if admin.matches(presented) {
        return Ok(Identity::bootstrap());
    }
    store.identify(presented, now).map(Identity::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_rules() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("  Bearer abc \r\n"), Some("abc"));
        assert_eq!(bearer("bearer abc"), None);
        assert_eq!(bearer("BEARER abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearerabc"), None);
        assert_eq!(bearer("Bearer  abc"), Some(" abc"));
        assert_eq!(bearer(""), None);
    }

    #[test]
    fn scopes() {
        let b = Identity::bootstrap();
        assert!(b.has_scope(Scope::Eval) && b.has_scope(Scope::Admin));
        let e = Identity {
            admin: false,
            agent: Some("a".into()),
            policy: None,
            scopes: vec![Scope::Eval],
            token_hash: "h".into(),
        };
        assert!(e.has_scope(Scope::Eval));
        assert!(!e.has_scope(Scope::Admin));
        let err = e.require(Scope::Admin).unwrap_err();
        assert_eq!(err.to_string(), "this endpoint requires admin scope");
        assert_eq!(err.http_status(), 403);
        let a = Identity {
            scopes: vec![Scope::Admin],
            ..e
        };
        assert_eq!(
            a.require(Scope::Eval).unwrap_err().to_string(),
            "this endpoint requires eval scope"
        );
        assert_eq!(Scope::parse("eval"), Some(Scope::Eval));
        assert_eq!(Scope::parse("Eval"), None);
    }

    #[test]
    fn identification_order_and_messages() {
        use crate::credentials::store::NewToken;
        let h = tempfile::tempdir().unwrap();
        let (admin, admin_tok) = AdminToken::load_for_serve_with(h.path(), None).unwrap();
        let store = TokenStore::for_home(h.path());
        let now = Utc::now();
        let mut req = NewToken::for_agent("cline");
        req.scopes = vec![Scope::Admin];
        let c = store.create(req, now).unwrap();

        let id = identify(&admin, &store, &admin_tok, now).unwrap();
        assert_eq!(id, Identity::bootstrap());
        assert!(id.token_hash.is_empty());

        let id = identify(&admin, &store, &c.token, now).unwrap();
        assert!(!id.admin);
        assert_eq!(id.agent.as_deref(), Some("cline"));
        assert!(id.has_scope(Scope::Admin) && !id.has_scope(Scope::Eval));
        assert_eq!(
            id.token_hash,
            crate::credentials::secret::sha256_hex(&c.token)
        );

        assert_eq!(
            identify(&admin, &store, "", now).unwrap_err().to_string(),
            "missing authorization token"
        );
        assert_eq!(
            identify(&admin, &store, "guess", now)
                .unwrap_err()
                .to_string(),
            "invalid authorization token"
        );
        store.revoke(&c.token, now).unwrap();
        assert_eq!(
            identify(&admin, &store, &c.token, now)
                .unwrap_err()
                .to_string(),
            "token has been revoked"
        );

        // Rotation is honoured through the same holder.
        let new = crate::credentials::rotate(h.path()).unwrap();
        assert!(identify(&admin, &store, &new, now).unwrap().admin);
        assert_eq!(
            identify(&admin, &store, &admin_tok, now),
            Err(AuthError::Invalid)
        );
    }
}
