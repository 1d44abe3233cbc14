//! The HTTP client behind CLI commands that talk to a running `rampart serve`: where the server
//! is (URL discovery), which token to send and whether it may be sent there, and how transport
//! and HTTP failures read to a person (spec/server.md §12.1, §13.2).
//!
//! Every request uses an agent that never follows redirects, never uses an environment proxy,
//! never turns a status into a transport error, and has short timeouts.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::serve_process;
use crate::credentials::admin::{TOKEN_ENV, validate_token};
use crate::credentials::client::{client_token_with, may_send};
use crate::credentials::{CredError, TokenSource};

/// Environment variable naming the server URL (checked first).
pub const URL_ENV: &str = "RAMPART_URL";
/// Environment variable naming the server URL (checked after [`URL_ENV`]).
pub const SERVE_URL_ENV: &str = "RAMPART_SERVE_URL";
/// URL used when nothing else names one.
pub const DEFAULT_URL: &str = "http://localhost:9090";
/// Connect timeout for ordinary requests.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Whole-request timeout for ordinary requests.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response body read (a full pending list stays far below this).
pub const MAX_RESPONSE: u64 = 16 * 1024 * 1024;
/// Longest server error message echoed back, in characters.
const MAX_ERROR_CHARS: usize = 300;

/// Where the server URL came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlSource {
    /// `--api` / `--url` on the command line.
    Flag,
    /// `RAMPART_URL`.
    UrlEnv,
    /// `RAMPART_SERVE_URL`.
    ServeUrlEnv,
    /// `~/.rampart/serve.state`, written by a running server.
    ServeState,
    /// Nothing named one: [`DEFAULT_URL`].
    Default,
}

/// The outcome of URL discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The URL as found (not yet validated).
    pub url: String,
    /// Where it came from.
    pub source: UrlSource,
    /// Why `serve.state` was skipped, when it exists but could not be used.
    pub warning: Option<String>,
}

/// Why a client request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server URL is not usable.
    #[error("invalid server URL {url:?}: {reason}")]
    BadUrl {
        /// The URL as given (without query, fragment or userinfo).
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// This build has no TLS support.
    #[error(
        "cannot use {url}: this build of rampart speaks plain http only (use a loopback http URL)"
    )]
    TlsUnsupported {
        /// The base URL.
        url: String,
    },
    /// Nothing accepted the connection.
    #[error("cannot reach rampart serve at {url} — is it running? (start it with 'rampart serve')")]
    Unreachable {
        /// The base URL.
        url: String,
    },
    /// The server did not answer in time.
    #[error("rampart serve at {url} did not answer within {}", fmt_timeout(*.timeout))]
    Timeout {
        /// The base URL.
        url: String,
        /// The timeout that expired.
        timeout: Duration,
    },
    /// Any other transport failure.
    #[error("request to {url} failed: {detail}")]
    Transport {
        /// The base URL.
        url: String,
        /// The underlying error.
        detail: String,
    },
    /// The server answered with a non-2xx status.
    #[error("proxy returned {code}: {message}")]
    Status {
        /// The HTTP status code.
        code: u16,
        /// The `error` field of the JSON body (or a printable excerpt of the body).
        message: String,
    },
    /// The server answered 2xx with a body that is not the expected JSON.
    #[error("unexpected response from {url}: {reason}")]
    BadResponse {
        /// The base URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// No token was given and `~/.rampart/token` does not exist.
    #[error(
        "no token: pass --token, set RAMPART_TOKEN, or start 'rampart serve' once to create ~/.rampart/token"
    )]
    NoToken,
    /// The token could not be read, or may not be sent to this URL.
    #[error(transparent)]
    Credential(#[from] CredError),
}

impl ClientError {
    /// The HTTP status, when the server answered with an error status.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

fn fmt_timeout(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", d.as_secs())
    }
}

/// Finds the server URL: `flag` > `RAMPART_URL` > `RAMPART_SERVE_URL` > `<home>/.rampart/serve.state`
/// > [`DEFAULT_URL`]. Blank values count as absent.
pub fn discover_url(flag: Option<&str>, home: Option<&Path>) -> Discovered {
    discover_url_with(flag, |k| std::env::var(k).ok(), home)
}

/// [`discover_url`] with the environment passed in as a lookup function.
pub fn discover_url_with(
    flag: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Discovered {
    let found = |url: String, source| Discovered {
        url,
        source,
        warning: None,
    };
    if let Some(f) = flag.map(str::trim).filter(|f| !f.is_empty()) {
        return found(f.to_string(), UrlSource::Flag);
    }
    for (key, source) in [
        (URL_ENV, UrlSource::UrlEnv),
        (SERVE_URL_ENV, UrlSource::ServeUrlEnv),
    ] {
        if let Some(v) = env(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
        {
            return found(v, source);
        }
    }
    let mut warning = None;
    if let Some(home) = home {
        match serve_process::read_state(home) {
            Ok(Some(st)) if !st.url.trim().is_empty() => {
                return found(st.url.trim().to_string(), UrlSource::ServeState);
            }
            Ok(_) => {}
            Err(e) => warning = Some(format!("ignoring serve.state: {e}")),
        }
    }
    Discovered {
        url: DEFAULT_URL.to_string(),
        source: UrlSource::Default,
        warning,
    }
}

/// Validates a server base URL and returns it without a trailing `/`: `http`/`https` with a
/// host, and no userinfo, query or fragment.
pub fn normalize_base(url: &str) -> Result<String, ClientError> {
    let shown = url.split(['?', '#']).next().unwrap_or_default();
    let shown = match shown.split_once("://") {
        Some((scheme, rest)) if rest.contains('@') => {
            let host = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or_default();
            format!("{scheme}://…@{host}")
        }
        _ => shown.to_string(),
    };
    let bad = |reason| ClientError::BadUrl {
        url: shown.clone(),
        reason,
    };
    let trimmed = url.trim();
    let parsed = url::Url::parse(trimmed).map_err(|_| bad("not a valid URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("only http and https URLs are supported"));
    }
    if parsed.host().is_none() {
        return Err(bad("the URL has no host"));
    }
    if trimmed.contains('@') || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("URLs with user information are not allowed"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("URLs with a query string or fragment are not allowed"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// The token to send: `--token` > `RAMPART_TOKEN` > `<home>/.rampart/token` (the file only when
/// a home directory is known).
pub fn resolve_token(
    flag: Option<&str>,
    home: Option<&Path>,
) -> Result<Option<(String, TokenSource)>, CredError> {
    let env = std::env::var(TOKEN_ENV).ok();
    match home {
        Some(h) => client_token_with(flag, env.as_deref(), h),
        None => {
            for (value, source) in [
                (flag, TokenSource::Flag),
                (env.as_deref(), TokenSource::Env),
            ] {
                if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
                    return Ok(Some((validate_token(v)?.to_string(), source)));
                }
            }
            Ok(None)
        }
    }
}

/// What `/healthz` reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Gate mode (`enforce`, `monitor`, `disabled`).
    pub mode: String,
    /// Server version.
    pub version: String,
    /// Seconds since the server started.
    pub uptime_seconds: u64,
}

/// A client for one server.
pub struct Client {
    base: String,
    token: Option<(String, TokenSource)>,
    agent: ureq::Agent,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token_source", &self.token.as_ref().map(|(_, s)| *s))
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `base` (validated with [`normalize_base`]) sending `token` on API calls.
    pub fn new(
        base: &str,
        token: Option<(String, TokenSource)>,
        timeout: Duration,
    ) -> Result<Client, ClientError> {
        let base = normalize_base(base)?;
        Ok(Client {
            agent: agent(timeout),
            base,
            token,
            timeout,
        })
    }

    /// The validated base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET <base><path>` with the token; the JSON body of a 2xx answer.
    pub fn get_json(&self, path: &str) -> Result<Value, ClientError> {
        self.call("GET", path, None)
    }

    /// `POST <base><path>` with the token and a JSON body; the JSON body of a 2xx answer.
    pub fn post_json(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.call("POST", path, Some(body))
    }

    /// `GET <base>/healthz` without a token. `Ok(None)` when something answered that is not a
    /// healthy Rampart server (§11.1: `service` absent or `rampart`, status `ok`, a valid mode,
    /// a version).
    pub fn health(&self) -> Result<Option<Health>, ClientError> {
        self.check_tls()?;
        let url = format!("{}/healthz", self.base);
        let req = ureq::http::Request::builder()
            .method("GET")
            .uri(&url)
            .header("Accept", "application/json")
            .body(())
            .map_err(|e| self.transport(e.to_string()))?;
        let resp = self.agent.run(req).map_err(|e| self.map_err(e))?;
        if resp.status().as_u16() != 200 {
            return Ok(None);
        }
        let Ok(v) = serde_json::from_slice::<Value>(&read_limited(resp, 64 * 1024, &self.base)?)
        else {
            return Ok(None);
        };
        Ok(parse_health(&v))
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let (token, source) = self.token.as_ref().ok_or(ClientError::NoToken)?;
        // The binding rules are about where the server is; the path and query are ours.
        may_send(*source, &self.base)?;
        self.check_tls()?;
        let mut b = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Accept", "application/json")
            .header("Authorization", format!("Bearer {token}"));
        let payload = match body {
            Some(v) => {
                b = b.header("Content-Type", "application/json");
                v.to_string()
            }
            None => String::new(),
        };
        let req = b.body(payload).map_err(|e| self.transport(e.to_string()))?;
        let resp = self.agent.run(req).map_err(|e| self.map_err(e))?;
        let code = resp.status().as_u16();
        let bytes = read_limited(resp, MAX_RESPONSE, &self.base)?;
        if !(200..300).contains(&code) {
            return Err(ClientError::Status {
                code,
                message: error_message(&bytes),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::BadResponse {
            url: self.base.clone(),
            reason: format!("invalid JSON: {e}"),
        })
    }

    fn check_tls(&self) -> Result<(), ClientError> {
        if self.base.starts_with("https:") {
            return Err(ClientError::TlsUnsupported {
                url: self.base.clone(),
            });
        }
        Ok(())
    }

    fn transport(&self, detail: String) -> ClientError {
        ClientError::Transport {
            url: self.base.clone(),
            detail,
        }
    }

    fn map_err(&self, e: ureq::Error) -> ClientError {
        use std::io::ErrorKind;
        let url = self.base.clone();
        match e {
            ureq::Error::Timeout(_) => ClientError::Timeout {
                url,
                timeout: self.timeout,
            },
            ureq::Error::Io(io) if io.kind() == ErrorKind::TimedOut => ClientError::Timeout {
                url,
                timeout: self.timeout,
            },
            ureq::Error::Io(io)
                if matches!(
                    io.kind(),
                    ErrorKind::ConnectionRefused
                        | ErrorKind::ConnectionReset
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::AddrNotAvailable
                        | ErrorKind::HostUnreachable
                        | ErrorKind::NetworkUnreachable
                ) =>
            {
                ClientError::Unreachable { url }
            }
            ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
                ClientError::Unreachable { url }
            }
            other => ClientError::Transport {
                url,
                detail: other.to_string(),
            },
        }
    }
}

/// An agent that never follows redirects, ignores proxy environment variables, returns error
/// statuses as responses, and gives up after `timeout` (connect: at most [`CONNECT_TIMEOUT`]).
fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .proxy(None)
        .timeout_connect(Some(timeout.min(CONNECT_TIMEOUT)))
        .timeout_global(Some(timeout))
        .build()
        .into()
}

fn read_limited(
    resp: ureq::http::Response<ureq::Body>,
    limit: u64,
    url: &str,
) -> Result<Vec<u8>, ClientError> {
    let mut buf = Vec::new();
    resp.into_body()
        .into_reader()
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ClientError::BadResponse {
            url: url.to_string(),
            reason: format!("reading the response: {e}"),
        })?;
    if buf.len() as u64 > limit {
        return Err(ClientError::BadResponse {
            url: url.to_string(),
            reason: format!("response larger than {limit} bytes"),
        });
    }
    Ok(buf)
}

/// The `error` field of a JSON error body, else a printable excerpt of the body.
fn error_message(body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        v.get("error")
            .and_then(Value::as_str)
            .map(str::to_string)
            .filter(|s| !s.trim().is_empty())
    });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    if text.is_empty() {
        return "(empty response)".to_string();
    }
    let mut out = printable(&text);
    if out.chars().count() > MAX_ERROR_CHARS {
        out = out.chars().take(MAX_ERROR_CHARS).collect::<String>() + "…";
    }
    out
}

fn parse_health(v: &Value) -> Option<Health> {
    let service = v.get("service");
    if service.is_some_and(|s| s.as_str() != Some("rampart")) {
        return None;
    }
    if v.get("status").and_then(Value::as_str) != Some("ok") {
        return None;
    }
    let mode = v.get("mode").and_then(Value::as_str)?;
    if !matches!(mode, "enforce" | "monitor" | "disabled") {
        return None;
    }
    let version = v.get("version").and_then(Value::as_str)?;
    if version.trim().is_empty() {
        return None;
    }
    let uptime_seconds = v.get("uptime_seconds").and_then(Value::as_u64)?;
    Some(Health {
        mode: mode.to_string(),
        version: version.to_string(),
        uptime_seconds,
    })
}

/// `s` safe to print on a terminal: control characters and bidirectional overrides (which an
/// agent could use to disguise a command shown to a human approver) are shown as escapes.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_bidi_control(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::serve_process::{ServeState, write_state};
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    fn state(home: &Path, url: &str) {
        write_state(
            home,
            &ServeState {
                url: url.into(),
                port: 1,
                pid: 1,
                started: "2026-01-01T00:00:00Z".into(),
                executable: "/bin/rampart".into(),
            },
        )
        .unwrap();
    }

    #[test]
    fn discovery_order_flag_env_serve_env_state_default() {
        let h = tempfile::tempdir().unwrap();
        let home = Some(h.path());
        let all = env_of(&[(URL_ENV, "http://a:1"), (SERVE_URL_ENV, "http://b:2")]);

        let d = discover_url_with(None, env_of(&[]), home);
        assert_eq!(
            (d.url.as_str(), d.source),
            (DEFAULT_URL, UrlSource::Default)
        );

        state(h.path(), "http://localhost:4242");
        let d = discover_url_with(None, env_of(&[]), home);
        assert_eq!(
            (d.url.as_str(), d.source),
            ("http://localhost:4242", UrlSource::ServeState)
        );

        let d = discover_url_with(None, env_of(&[(SERVE_URL_ENV, "http://b:2")]), home);
        assert_eq!(
            (d.url.as_str(), d.source),
            ("http://b:2", UrlSource::ServeUrlEnv)
        );

        let d = discover_url_with(None, &all, home);
        assert_eq!(
            (d.url.as_str(), d.source),
            ("http://a:1", UrlSource::UrlEnv)
        );

        let d = discover_url_with(Some(" http://f:3 "), &all, home);
        assert_eq!((d.url.as_str(), d.source), ("http://f:3", UrlSource::Flag));
    }

    #[test]
    fn blank_values_are_skipped() {
        let h = tempfile::tempdir().unwrap();
        state(h.path(), "http://localhost:4242");
        let env = env_of(&[(URL_ENV, "  "), (SERVE_URL_ENV, "")]);
        let d = discover_url_with(Some(""), env, Some(h.path()));
        assert_eq!(d.source, UrlSource::ServeState);
    }

    #[test]
    fn bad_serve_state_falls_back_to_default_with_warning() {
        let h = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(h.path().join(".rampart")).unwrap();
        std::fs::write(h.path().join(".rampart/serve.state"), "{not json").unwrap();
        let d = discover_url_with(None, env_of(&[]), Some(h.path()));
        assert_eq!(d.source, UrlSource::Default);
        assert!(d.warning.unwrap().contains("serve.state"));
        let d = discover_url_with(None, env_of(&[]), None);
        assert_eq!((d.source, d.warning), (UrlSource::Default, None));
    }

    #[test]
    fn normalize_base_accepts_and_trims() {
        assert_eq!(
            normalize_base("http://localhost:9090/").unwrap(),
            "http://localhost:9090"
        );
        assert_eq!(
            normalize_base(" http://127.0.0.1:1/prefix/ ").unwrap(),
            "http://127.0.0.1:1/prefix"
        );
        for bad in [
            "localhost:9090",
            "ftp://localhost/",
            "http://u:secret@localhost/",
            "http://localhost/?token=secret",
            "http://localhost/#x",
            "garbage",
        ] {
            let e = normalize_base(bad).unwrap_err().to_string();
            assert!(!e.contains("secret"), "{e}");
        }
    }

    #[test]
    fn error_message_prefers_json_error_and_escapes() {
        assert_eq!(
            error_message(br#"{"error":"approval not found"}"#),
            "approval not found"
        );
        assert_eq!(
            error_message(b"plain \x1b[2Jtext\n"),
            "plain \\u{1b}[2Jtext"
        );
        assert_eq!(error_message(b""), "(empty response)");
        let long = "x".repeat(1000);
        assert_eq!(error_message(long.as_bytes()).chars().count(), 301);
    }

    #[test]
    fn health_requires_a_rampart_shape() {
        let ok = serde_json::json!({"service":"rampart","status":"ok","mode":"enforce","uptime_seconds":3,"version":"1.0"});
        assert_eq!(parse_health(&ok).unwrap().mode, "enforce");
        let mut no_service = ok.clone();
        no_service.as_object_mut().unwrap().remove("service");
        assert!(parse_health(&no_service).is_some());
        for (k, v) in [
            ("service", serde_json::json!("other")),
            ("status", serde_json::json!("degraded")),
            ("mode", serde_json::json!("party")),
            ("version", serde_json::json!("")),
            ("uptime_seconds", serde_json::json!(-1)),
        ] {
            let mut bad = ok.clone();
            bad[k] = v;
            assert!(parse_health(&bad).is_none(), "{k}");
        }
    }

    #[test]
    fn printable_escapes_controls_and_bidi() {
        assert_eq!(printable("ls -la"), "ls -la");
        assert_eq!(printable("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(printable("rm \u{202e}fdp"), "rm \\u{202e}fdp");
        assert_eq!(printable("\x1b[31mred"), "\\u{1b}[31mred");
        assert_eq!(printable("héllo ✓"), "héllo ✓");
    }

    #[test]
    fn file_token_refused_for_remote_before_connecting() {
        let c = Client::new(
            "https://203.0.113.9:9",
            Some(("t".into(), TokenSource::File)),
            Duration::from_millis(50),
        )
        .unwrap();
        let e = c.get_json("/v1/approvals").unwrap_err();
        assert!(matches!(e, ClientError::Credential(_)), "{e}");
        assert!(e.to_string().contains("loopback"), "{e}");
    }

    #[test]
    fn missing_token_is_a_clear_error() {
        let c = Client::new("http://127.0.0.1:9", None, Duration::from_millis(50)).unwrap();
        assert!(matches!(
            c.get_json("/v1/approvals"),
            Err(ClientError::NoToken)
        ));
    }
}
