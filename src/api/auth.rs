//! Request authentication: the Host-header check (DNS rebinding), bearer-token identification
//! and the eval/admin scope gates (spec/server.md §1.5).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;

use super::ApiState;
use super::error::ApiError;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// The bootstrap admin token (all scopes, hosted-approval flags, no default-deny).
    pub bootstrap: bool,
    /// The per-agent token's agent.
    pub agent: Option<String>,
    /// The per-agent token's policy filter.
    pub policy: Option<String>,
    /// May call `/v1/tool` and `/v1/preflight`.
    pub eval: bool,
    /// May call everything else.
    pub admin: bool,
    /// SHA-256 hex of the per-agent token; empty for the bootstrap token.
    pub token_hash: String,
}

impl Identity {
    /// The bootstrap admin identity.
    pub fn bootstrap() -> Identity {
        Identity {
            bootstrap: true,
            eval: true,
            admin: true,
            ..Identity::default()
        }
    }
}

/// Maps a presented bearer token to an identity, or a 401 message.
pub trait Authenticator: Send + Sync + std::fmt::Debug {
    /// Identifies `token`; `Err` carries the 401 message.
    fn identify(&self, token: &str) -> Result<Identity, String>;
}

/// One fixed admin token (tests, in-process servers of `wrap`/`preload`).
#[derive(Debug)]
pub struct StaticToken(pub String);

impl Authenticator for StaticToken {
    fn identify(&self, token: &str) -> Result<Identity, String> {
        use subtle::ConstantTimeEq;
        if bool::from(token.as_bytes().ct_eq(self.0.as_bytes())) {
            Ok(Identity::bootstrap())
        } else {
            Err("invalid authorization token".into())
        }
    }
}

/// An in-process server's credentials (`wrap`, `preload`): a fresh per-run token handed to the
/// agent's environment, which may evaluate calls but never resolve approvals or read the audit
/// trail, plus the user's own credentials (dashboard, `rampart approve`).
#[derive(Debug)]
pub struct RunToken {
    run: StaticToken,
    home: Credentials,
}

impl RunToken {
    /// Accepts `run` (eval scope only) and everything `home` accepts.
    pub fn new(run: String, home: Credentials) -> RunToken {
        RunToken {
            run: StaticToken(run),
            home,
        }
    }
}

impl Authenticator for RunToken {
    fn identify(&self, token: &str) -> Result<Identity, String> {
        match self.run.identify(token) {
            // Bootstrap: the agent's calls carry their own agent name and no default-deny.
            Ok(_) => Ok(Identity {
                bootstrap: true,
                eval: true,
                admin: false,
                ..Identity::default()
            }),
            Err(_) => self.home.identify(token),
        }
    }
}

/// The server's credentials: the bootstrap admin token (following rotation) and the
/// per-agent token store (re-read when it changes; fail closed when corrupt).
pub struct Credentials {
    /// The admin token.
    pub admin: crate::credentials::AdminToken,
    /// Per-agent tokens.
    pub tokens: crate::credentials::TokenStore,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials { .. }")
    }
}

impl Authenticator for Credentials {
    fn identify(&self, token: &str) -> Result<Identity, String> {
        use crate::credentials::identity::{Scope, identify};
        let id = identify(&self.admin, &self.tokens, token, chrono::Utc::now())
            .map_err(|e| e.to_string())?;
        Ok(Identity {
            bootstrap: id.admin,
            eval: id.has_scope(Scope::Eval),
            admin: id.has_scope(Scope::Admin),
            agent: id.agent.clone(),
            policy: id.policy.clone(),
            token_hash: id.token_hash.clone(),
        })
    }
}

/// The scope a route group requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `/v1/tool`, `/v1/preflight`.
    Eval,
    /// Everything else under `/v1` and `/metrics`.
    Admin,
}

/// Whether `host` (a Host header value) names this server: a loopback name or the bound address.
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        rest.split(']').next().unwrap_or("")
    } else {
        match host.rsplit_once(':') {
            Some((n, port)) if port.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => host,
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    matches!(name.as_str(), "localhost" | "127.0.0.1" | "::1")
        || name.ends_with(".localhost")
        || allowed.iter().any(|a| a.eq_ignore_ascii_case(&name))
}

/// Middleware for every route: refuse foreign Host headers (DNS rebinding).
pub async fn check_host(
    State(st): State<Arc<ApiState>>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(h) = req.headers().get(header::HOST) {
        let ok = h
            .to_str()
            .is_ok_and(|h| host_allowed(h, &st.config.allowed_hosts));
        if !ok {
            return Err(ApiError::forbidden(
                "host not allowed: requests must address this server by a loopback name or its bound address",
            ));
        }
    }
    Ok(next.run(req).await)
}

fn presented_token(req: &Request, allow_query: bool) -> Option<String> {
    if let Some(v) = req.headers().get(header::AUTHORIZATION) {
        let v = v.to_str().ok()?.trim();
        return v.strip_prefix("Bearer ").map(|t| t.trim().to_string());
    }
    if allow_query && (req.method() == Method::GET || req.method() == Method::HEAD) {
        let q = req.uri().query()?;
        for pair in q.split('&') {
            if let Some(v) = pair.strip_prefix("token=") {
                return percent_decode(v).map(|t| t.trim().to_string());
            }
        }
    }
    None
}

/// Decodes `%XX` escapes and `+` in a query value.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Identifies the caller of an authenticated route and checks the scope.
pub fn authenticate(st: &ApiState, req: &Request, need: Need) -> Result<Identity, ApiError> {
    let sse = req.uri().path() == "/v1/events/stream";
    let token = presented_token(req, sse);
    check(st, token, need)
}

/// Header-only authentication for handlers that have other ways in (signed links).
pub fn authenticate_parts(
    st: &ApiState,
    headers: &axum::http::HeaderMap,
    need: Need,
) -> Result<Identity, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    check(st, token, need)
}

fn check(st: &ApiState, token: Option<String>, need: Need) -> Result<Identity, ApiError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(ApiError::unauthorized("missing authorization token"));
    };
    let id = st.auth.identify(&token).map_err(ApiError::unauthorized)?;
    match need {
        Need::Eval if !id.eval && !id.bootstrap => {
            Err(ApiError::forbidden("this endpoint requires eval scope"))
        }
        Need::Admin if !id.admin => Err(ApiError::forbidden("this endpoint requires admin scope")),
        _ => Ok(id),
    }
}

/// Middleware: eval scope.
pub async fn require_eval(
    State(st): State<Arc<ApiState>>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let id = authenticate(&st, &req, Need::Eval)?;
    req.extensions_mut().insert(id);
    Ok(next.run(req).await)
}

/// Middleware: admin scope.
pub async fn require_admin(
    State(st): State<Arc<ApiState>>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let id = authenticate(&st, &req, Need::Admin)?;
    req.extensions_mut().insert(id);
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let allowed = vec!["10.0.0.5".to_string()];
        for ok in [
            "localhost",
            "localhost:9090",
            "127.0.0.1:9090",
            "[::1]:9090",
            "LOCALHOST",
            "10.0.0.5:9090",
            "app.localhost:1",
        ] {
            assert!(host_allowed(ok, &allowed), "{ok}");
        }
        for bad in [
            "evil.com",
            "evil.com:9090",
            "127.0.0.1.evil.com",
            "localhost.evil.com",
            "10.0.0.6",
        ] {
            assert!(!host_allowed(bad, &allowed), "{bad}");
        }
    }
}
