//! Minimal URL splitting for the fields policies read (scheme and host), with Go `net/url`
//! semantics where they matter: a scheme-less URL has no host, userinfo and port are dropped,
//! IPv6 brackets are removed.

/// The parts of a URL the engine uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// Scheme as written (e.g. `https`).
    pub scheme: &'a str,
    /// Host without userinfo, port or IPv6 brackets; empty when the URL has no authority.
    pub host: &'a str,
}

/// Splits `url` into scheme and host; `None` when it has no valid scheme.
pub fn parse(url: &str) -> Option<UrlParts<'_>> {
    let url = url.trim();
    let colon = url.find(':')?;
    let scheme = &url[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    if !first.is_ascii_alphabetic()
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')
    {
        return None;
    }
    let rest = &url[colon + 1..];
    let Some(after) = rest.strip_prefix("//") else {
        return Some(UrlParts { scheme, host: "" });
    };
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let authority = &after[..end];
    let hostport = match authority.rfind('@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let host = if let Some(stripped) = hostport.strip_prefix('[') {
        match stripped.find(']') {
            Some(close) => &stripped[..close],
            None => return None,
        }
    } else {
        match hostport.rfind(':') {
            Some(i) => &hostport[..i],
            None => hostport,
        }
    };
    Some(UrlParts { scheme, host })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_hosts_like_go() {
        assert_eq!(parse("https://a.b/c").unwrap().host, "a.b");
        assert_eq!(parse("https://u:p@a.b:8080/c?x").unwrap().host, "a.b");
        assert_eq!(parse("http://[::1]:80/").unwrap().host, "::1");
        assert_eq!(
            parse("https://sub.webhook.site./x").unwrap().host,
            "sub.webhook.site."
        );
        assert!(parse("evil.com/x").is_none());
        assert_eq!(parse("mailto:x@y").unwrap().host, "");
        assert_eq!(parse("https://h?q=webhook.site").unwrap().host, "h");
    }
}
