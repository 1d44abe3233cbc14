//! Client side: which token a CLI command sends, and whether it may send it to a URL.

use std::net::IpAddr;
use std::path::Path;

use super::admin::{TOKEN_ENV, admin_token_path, read_token_file, validate_token};
use super::error::CredError;

/// Where a client's token came from; decides where it may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `--token` on the command line.
    Flag,
    /// The `RAMPART_TOKEN` environment variable.
    Env,
    /// `~/.rampart/token`, found rather than given: never sent off this machine.
    File,
}

/// The token a client sends: `--token` flag → `RAMPART_TOKEN` → `<home>/.rampart/token`.
/// Blank values count as absent; `Ok(None)` when there is no token anywhere.
pub fn client_token(
    flag: Option<&str>,
    home: &Path,
) -> Result<Option<(String, TokenSource)>, CredError> {
    let env = std::env::var(TOKEN_ENV).ok();
    client_token_with(flag, env.as_deref(), home)
}

/// [`client_token`] with the environment value passed in.
pub fn client_token_with(
    flag: Option<&str>,
    env: Option<&str>,
    home: &Path,
) -> Result<Option<(String, TokenSource)>, CredError> {
    for (value, source) in [(flag, TokenSource::Flag), (env, TokenSource::Env)] {
        if let Some(v) = value
            && !v.trim().is_empty()
        {
            return Ok(Some((validate_token(v)?.to_string(), source)));
        }
    }
    Ok(read_token_file(&admin_token_path(home))?.map(|t| (t, TokenSource::File)))
}

/// Decides whether a token from `source` may be sent to `url`.
///
/// * the URL must be `http` or `https` with a host, and carry no userinfo, query or fragment
///   (each an easy way to leak or misdirect a credential);
/// * a non-loopback host requires `https`, whatever the token's source;
/// * a token discovered in `~/.rampart/token` is never sent to a non-loopback host — only an
///   explicitly given token (flag or environment) may leave the machine.
///
/// Loopback means `localhost`, `127.0.0.0/8` or `::1`; every other name counts as remote, since
/// resolving it could lead anywhere.
pub fn may_send(source: TokenSource, url: &str) -> Result<(), CredError> {
    let refuse = |reason: &'static str| CredError::UnsafeUrl {
        url: redact_url(url),
        reason,
    };
    let parsed = url::Url::parse(url.trim()).map_err(|_| refuse("not a valid URL"))?;
    let https = match parsed.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err(refuse("only http and https URLs are allowed")),
    };
    if !parsed.username().is_empty() || parsed.password().is_some() || has_raw_userinfo(url) {
        return Err(refuse("URLs with user information are not allowed"));
    }
    if parsed.query().is_some() {
        return Err(refuse("URLs with a query string are not allowed"));
    }
    if parsed.fragment().is_some() {
        return Err(refuse("URLs with a fragment are not allowed"));
    }
    let loopback = match parsed.host() {
        None => return Err(refuse("the URL has no host")),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
    };
    if loopback {
        return Ok(());
    }
    if source == TokenSource::File {
        return Err(refuse(
            "the token from ~/.rampart/token is only sent to loopback hosts; pass --token or set RAMPART_TOKEN",
        ));
    }
    if !https {
        return Err(refuse("a non-loopback host requires https"));
    }
    Ok(())
}

/// True when the authority part of `url` contains `@` (even an empty userinfo).
fn has_raw_userinfo(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    rest[..end].contains('@')
}

/// The URL for an error message, without anything after `?`/`#` or before `@`.
fn redact_url(url: &str) -> String {
    let cut = url.find(['?', '#']).unwrap_or(url.len());
    let mut s = url[..cut].to_string();
    if let Some((scheme, rest)) = s.split_once("://")
        && let Some(at) = rest.rfind('@')
    {
        s = format!("{scheme}://…@{}", &rest[at + 1..]);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::secure_file::write_private;

    #[test]
    fn precedence_flag_env_file() {
        let h = tempfile::tempdir().unwrap();
        assert_eq!(client_token_with(None, None, h.path()).unwrap(), None);
        write_private(&admin_token_path(h.path()), b"filetok").unwrap();
        assert_eq!(
            client_token_with(None, None, h.path()).unwrap(),
            Some(("filetok".into(), TokenSource::File))
        );
        assert_eq!(
            client_token_with(None, Some(" envtok "), h.path()).unwrap(),
            Some(("envtok".into(), TokenSource::Env))
        );
        assert_eq!(
            client_token_with(Some("flagtok"), Some("envtok"), h.path()).unwrap(),
            Some(("flagtok".into(), TokenSource::Flag))
        );
        assert_eq!(
            client_token_with(Some(""), Some(""), h.path()).unwrap(),
            Some(("filetok".into(), TokenSource::File))
        );
    }

    #[test]
    fn symlinked_file_is_refused_for_clients() {
        let h = tempfile::tempdir().unwrap();
        let real = h.path().join("real");
        std::fs::write(&real, "x").unwrap();
        std::fs::create_dir_all(h.path().join(".rampart")).unwrap();
        std::os::unix::fs::symlink(&real, admin_token_path(h.path())).unwrap();
        assert!(matches!(
            client_token_with(None, None, h.path()),
            Err(CredError::Symlink(_))
        ));
    }

    #[test]
    fn loopback_accepts_any_source_over_http() {
        for url in [
            "http://127.0.0.1:9090",
            "http://127.0.0.1:9090/v1/tool/exec",
            "http://localhost:9090/",
            "http://LOCALHOST:9090/",
            "http://[::1]:9090/",
            "http://127.8.9.10/",
            "https://localhost/",
        ] {
            for src in [TokenSource::Flag, TokenSource::Env, TokenSource::File] {
                may_send(src, url).unwrap_or_else(|e| panic!("{url} {src:?}: {e}"));
            }
        }
    }

    #[test]
    fn file_token_never_leaves_loopback() {
        for url in [
            "https://rampart.example.com/",
            "https://10.0.0.5:9090/",
            "https://localhost.evil.com/",
            "https://127.0.0.1.nip.io/",
            "https://[::ffff:7f00:1]/",
        ] {
            assert!(may_send(TokenSource::File, url).is_err(), "{url}");
            may_send(TokenSource::Flag, url).unwrap();
            may_send(TokenSource::Env, url).unwrap();
        }
    }

    #[test]
    fn remote_requires_https() {
        for src in [TokenSource::Flag, TokenSource::Env, TokenSource::File] {
            let e = may_send(src, "http://10.0.0.5:9090/").unwrap_err();
            assert!(e.to_string().contains("refusing"), "{e}");
        }
        assert!(
            may_send(TokenSource::Flag, "http://10.0.0.5:9090/")
                .unwrap_err()
                .to_string()
                .contains("https")
        );
    }

    #[test]
    fn userinfo_query_fragment_and_odd_schemes_refused() {
        for url in [
            "http://user:pw@127.0.0.1:9090/",
            "http://user@127.0.0.1:9090/",
            "http://@127.0.0.1:9090/",
            "https://127.0.0.1@evil.com/",
            "http://127.0.0.1:9090/?token=x",
            "http://127.0.0.1:9090/?",
            "http://127.0.0.1:9090/#frag",
            "ftp://127.0.0.1/",
            "file:///etc/passwd",
            "unix:/tmp/sock",
            "127.0.0.1:9090",
            "not a url",
        ] {
            assert!(may_send(TokenSource::Flag, url).is_err(), "{url}");
        }
    }

    #[test]
    fn error_messages_do_not_echo_secrets() {
        let e = may_send(TokenSource::Flag, "http://u:hunter2@h/?token=abc").unwrap_err();
        let msg = e.to_string();
        assert!(!msg.contains("hunter2") && !msg.contains("abc"), "{msg}");
    }
}
