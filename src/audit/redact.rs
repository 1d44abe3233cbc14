//! Secret redaction (spec §7.7), pure functions used before JSONL, syslog, CEF and SSE.

use super::event::AuditEvent;
use regex::{Captures, Regex};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::OnceLock;

/// The replacement text for a secret.
pub const REDACTED: &str = "[REDACTED]";

const EXACT_KEYS: &[&str] = &[
    "authorization",
    "proxyauthorization",
    "password",
    "passwd",
    "passphrase",
    "token",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "apikey",
    "secret",
    "clientsecret",
    "cookie",
    "setcookie",
    "privatekey",
    "credential",
    "commandb64",
];
const KEY_SUFFIXES: &[&str] = &["password", "token", "apikey", "secret", "privatekey"];

/// Whether a map key names a secret (lowercased, alphanumerics only, exact or suffix match).
pub fn is_secret_key(key: &str) -> bool {
    let norm: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    EXACT_KEYS.contains(&norm.as_str()) || KEY_SUFFIXES.iter().any(|s| norm.ends_with(s))
}

enum Rep {
    /// Replace with fixed text (may use `$n` group references).
    Text(&'static str),
}

/// One redaction rule: ASCII words at least one of which must occur (case-insensitively) for
/// the pattern to match, the pattern, compiled on first need, and its replacement.
struct Rule {
    triggers: &'static [&'static str],
    pattern: &'static str,
    re: OnceLock<Option<Regex>>,
    rep: Rep,
}

const fn rule(triggers: &'static [&'static str], pattern: &'static str, rep: Rep) -> Rule {
    Rule {
        triggers,
        pattern,
        re: OnceLock::new(),
        rep,
    }
}

impl Rule {
    fn regex(&self) -> Option<&Regex> {
        self.re
            .get_or_init(|| Regex::new(self.pattern).ok())
            .as_ref()
    }
}

// Most audited text (commands, paths) contains none of the trigger words, so a one-shot process
// such as the hook never pays for compiling these patterns.
static RULES: [Rule; 15] = [
    // PEM private keys (whole block, or a header whose body was cut off).
    rule(
        &["private key"],
        r"(?s)-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)",
        Rep::Text("[REDACTED PRIVATE KEY]"),
    ),
    // Quoted Authorization headers.
    rule(
        &["authorization"],
        r"(?i)'(?:proxy-)?authorization:\s*(?:bearer|basic)\s[^']*'",
        Rep::Text("'[REDACTED]'"),
    ),
    rule(
        &["authorization"],
        r#"(?i)"(?:proxy-)?authorization:\s*(?:bearer|basic)\s[^"]*""#,
        Rep::Text("\"[REDACTED]\""),
    ),
    // MySQL-style -pSECRET (only on mysql-family commands, so `mkdir -p`/`find -print` survive).
    rule(
        &["mysql", "mariadb"],
        r#"(?i)(\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mariadb|mariadb-dump)\b[^|;&\n]*?)\s-p(?:'[^']*'|"[^"]*"|[^\s'"]+)"#,
        Rep::Text("$1 [REDACTED]"),
    ),
    // --password=VALUE / --password VALUE
    rule(
        &["--password"],
        r#"(?i)(--password)(=|\s+)(?:'[^']*'|"[^"]*"|[^\s'"]+)"#,
        Rep::Text("$1$2[REDACTED]"),
    ),
    // Vendor token shapes.
    rule(
        &["gho_", "ghp_", "ghs_", "ghu_", "ghr_"],
        r"\bgh[opsur]_[A-Za-z0-9]{36,}\b",
        Rep::Text(REDACTED),
    ),
    rule(
        &["github_pat_"],
        r"\bgithub_pat_[A-Za-z0-9_]{22,}",
        Rep::Text(REDACTED),
    ),
    rule(
        &["xox"],
        r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
        Rep::Text(REDACTED),
    ),
    rule(&["sk-"], r"\bsk-[A-Za-z0-9_-]{20,}", Rep::Text(REDACTED)),
    rule(
        &["akia", "asia"],
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        Rep::Text(REDACTED),
    ),
    // Connection strings with an inline password: scheme://user:PASSWORD@host
    rule(
        &["://"],
        r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@",
        Rep::Text("${1}[REDACTED]@"),
    ),
    // Bare Authorization header: keep the scheme.
    rule(
        &["authorization"],
        r#"(?i)((?:proxy-)?authorization:\s*(?:bearer|basic)\s+)[^\s'"]+"#,
        Rep::Text("${1}[REDACTED]"),
    ),
    // key=LONGBASE64
    rule(
        &["key", "token", "secret"],
        r"(?i)\b(api_?key|auth_?token|token|secret|access_?token)(\s*[=:]\s*)[A-Za-z0-9+/=_-]{40,}",
        Rep::Text("$1$2[REDACTED]"),
    ),
    // --api-key VALUE and friends: keep the flag.
    rule(
        &[
            "--api-key",
            "--auth-token",
            "--access-token",
            "--token",
            "--secret",
        ],
        r#"(?i)(--(?:api-key|auth-token|access-token|token|secret))(=|\s+)(?:'[^']*'|"[^"]*"|[^\s'"]+)"#,
        Rep::Text("$1$2[REDACTED]"),
    ),
    // key=value / key: value for secret-named words.
    rule(
        &["key", "token", "pass", "secret"],
        r#"(?i)\b(api_key|apikey|auth_token|access_token|password|passwd|token|secret)(\s*[=:]\s*)(?:'[^']*'|"[^"]*"|[^\s&'"]+)"#,
        Rep::Text("$1$2[REDACTED]"),
    ),
];

/// Replaces secret-shaped substrings of free text; borrows when nothing matched.
pub fn sanitize(s: &str) -> Cow<'_, str> {
    // The trigger words are ASCII; case-insensitive patterns also match the two non-ASCII
    // letters whose simple case folding is ASCII (`ſ` is `s`, the Kelvin sign is `k`).
    let folded: String = s
        .chars()
        .map(|c| match c {
            '\u{017F}' => 's',
            '\u{212A}' => 'k',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    let mut cur: Cow<'_, str> = Cow::Borrowed(s);
    for rule in RULES.iter() {
        if !rule.triggers.iter().any(|t| folded.contains(t)) {
            continue;
        }
        // A pattern that fails to compile is a bug caught by the tests below.
        let Some(re) = rule.regex() else { continue };
        if !re.is_match(&cur) {
            continue;
        }
        let Rep::Text(t) = rule.rep;
        let replaced = re
            .replace_all(&cur, |c: &Captures<'_>| {
                let mut out = String::new();
                c.expand(t, &mut out);
                out
            })
            .into_owned();
        cur = Cow::Owned(replaced);
    }
    cur
}

/// Redacts a JSON value in place: secret keys get `[REDACTED]`, every other string is sanitised.
pub fn redact_value(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Cow::Owned(n) = sanitize(s) {
                *s = n;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_value),
        Value::Object(m) => redact_map(m),
        _ => {}
    }
}

/// Redacts a JSON object in place (see [`redact_value`]).
pub fn redact_map(m: &mut Map<String, Value>) {
    for (k, v) in m.iter_mut() {
        if is_secret_key(k) {
            *v = Value::String(REDACTED.to_string());
        } else {
            redact_value(v);
        }
    }
}

/// Redacts an event in place: request, approval owner, message and suggestions.
pub fn redact_event(e: &mut AuditEvent) {
    if let Some(m) = e.request.as_mut() {
        redact_map(m);
    }
    if let Some(m) = e.approval_owner.as_mut() {
        redact_map(m);
    }
    if let Cow::Owned(n) = sanitize(&e.decision.message) {
        e.decision.message = n;
    }
    for s in e.decision.suggestions.iter_mut() {
        if let Cow::Owned(n) = sanitize(s) {
            *s = n;
        }
    }
}

/// Returns a redacted copy of an event (for streaming to SSE clients).
pub fn redacted(e: &AuditEvent) -> AuditEvent {
    let mut c = e.clone();
    redact_event(&mut c);
    c
}

#[cfg(test)]
mod rule_tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for r in RULES.iter() {
            assert!(r.regex().is_some(), "{}", r.pattern);
        }
    }

    #[test]
    fn prefilter_does_not_hide_secrets() {
        for (text, secret) in [
            ("curl -H 'Authorization: Bearer abc.def'", "abc.def"),
            ("mysql -u root -phunter2 db", "hunter2"),
            ("x --password=hunter2", "hunter2"),
            (
                "export T=ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "ghp_aaaa",
            ),
            ("key AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
            ("psql postgres://me:s3cret@db/x", "s3cret"),
            ("tool --api-key zzz", "zzz"),
            ("PASSWORD=hunter2", "hunter2"),
            // `ſ` folds to `s` and the Kelvin sign to `k` under (?i).
            ("paſſword=hunter2", "hunter2"),
            ("api_\u{212A}ey=hunter2", "hunter2"),
            ("⚠️ note: password=hunter2", "hunter2"),
        ] {
            let out = sanitize(text);
            assert!(!out.contains(secret), "{text} -> {out}");
        }
        assert!(matches!(sanitize("git status"), Cow::Borrowed(_)));
    }
}
