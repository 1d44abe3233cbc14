//! Ready-to-run `rampart allow ...` suggestions attached to deny decisions (spec §8.4).

use super::command::{basename, tokenize};

const HIGH_RISK: &str =
    "⚠️  This command matches a high-risk pattern; allowing it is not recommended.";

const NO_WILDCARD: &[&str] = &[
    "rm", "shred", "dd", "wipefs", "fdisk", "parted", "truncate", "mv",
];
const PREFIXES: &[&str] = &[
    "sudo", "env", "time", "nice", "ionice", "nohup", "timeout", "strace", "ltrace",
];

/// Whether `hay` contains `needle`. The needles here are short and fixed and the texts are
/// short, so scanning for the first byte costs less than `str::contains` building a searcher
/// on every call.
fn has(hay: &str, needle: &str) -> bool {
    let h = hay.as_bytes();
    match needle.as_bytes().split_first() {
        None => true,
        Some((&first, rest)) => memchr::memchr_iter(first, h)
            .any(|i| h.get(i + 1..).is_some_and(|t| t.starts_with(rest))),
    }
}

fn looks_sensitive(p: &str) -> bool {
    let l = p.to_lowercase();
    [
        ".ssh",
        ".aws",
        ".gnupg",
        "shadow",
        "sudoers",
        "passwd",
        ".env",
        "credentials",
        "id_rsa",
        "id_ed25519",
        ".kube",
        "token",
    ]
    .iter()
    .any(|s| has(&l, s))
}

/// Whether `cmd` is too dangerous to suggest allowing; `words` is `tokenize(cmd)`.
fn high_risk(cmd: &str, words: &[String]) -> bool {
    let c = cmd.trim();
    let trimmed_words;
    let t = if c.len() == cmd.len() {
        words
    } else {
        trimmed_words = tokenize(c);
        &trimmed_words
    };
    let rm_rf = t.first().is_some_and(|w| basename(w) == "rm")
        && t.iter()
            .any(|w| w.starts_with('-') && (w.contains('r') || w.contains('R')))
        && t.iter().any(|w| w.starts_with('-') && w.contains('f'))
        && t.iter().skip(1).any(|w| {
            matches!(w.as_str(), "/" | "~" | "." | ".." | "/*" | "~/")
                || [
                    "/etc", "/usr", "/bin", "/boot", "/lib", "/var", "/home", "/root", "/sbin",
                ]
                .iter()
                .any(|d| {
                    w.strip_prefix(d)
                        .is_some_and(|r| r.is_empty() || r.starts_with('/'))
                })
        });
    // Each group is tried only when the text has what all its patterns share.
    rm_rf
        || has(c, ":(){")
        || (has(c, "/dev/")
            && (has(c, ">/dev/sd")
                || has(c, "> /dev/sd")
                || (has(c, "dd ") && has(c, "of=/dev/"))
                || has(c, "mkfs")))
        || (c.contains('|')
            && (has(c, "curl") || has(c, "wget") || has(c, "base64 -d"))
            && (has(c, "| sh") || has(c, "| bash") || has(c, "|sh") || has(c, "|bash")))
        || has(c, "<(curl")
}

/// Appends `s` double-quoted for a shell command line, `\` and `"` escaped.
fn quote_into(out: &mut String, s: &str) {
    out.push('"');
    let mut rest = s;
    // Copied in runs between the bytes that need a backslash (both ASCII).
    while let Some(i) = memchr::memchr2(b'\\', b'"', rest.as_bytes()) {
        out.push_str(&rest[..i]);
        out.push('\\');
        out.push_str(&rest[i..=i]);
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out.push('"');
}

/// Suggestions for a denied call: exact and wildcard allow commands, or a warning.
pub fn suggestions(tool: &str, command: Option<&str>, path: Option<&str>) -> Vec<String> {
    let q = |s: &str| {
        let mut out = String::with_capacity(s.len() + 2);
        quote_into(&mut out, s);
        out
    };
    if tool == "exec" {
        let Some(cmd) = command else {
            return Vec::new();
        };
        let t = tokenize(cmd);
        if high_risk(cmd, &t) {
            return vec![HIGH_RISK.to_string()];
        }
        let mut exact = String::with_capacity(cmd.len() + 16);
        exact.push_str("rampart allow ");
        quote_into(&mut exact, cmd.trim());
        let mut out = vec![exact];
        let mut exe_i = 0;
        while t
            .get(exe_i)
            .is_some_and(|w| PREFIXES.contains(&basename(w)))
        {
            exe_i += 1;
        }
        let dangerous = t
            .get(exe_i)
            .is_some_and(|w| NO_WILDCARD.contains(&basename(w)) || basename(w).starts_with("mkfs"));
        if !dangerous
            && t.len() > 1
            && let Some(last) = t.iter().rposition(|w| !w.starts_with('-'))
            && last > 0
            && !looks_sensitive(&t[last])
        {
            let mut joined = String::with_capacity(cmd.len());
            for (i, w) in t.iter().enumerate() {
                if i > 0 {
                    joined.push(' ');
                }
                joined.push_str(if i == last { "*" } else { w });
            }
            let mut wild = String::with_capacity(joined.len() + 16);
            wild.push_str("rampart allow ");
            quote_into(&mut wild, &joined);
            out.push(wild);
        }
        return out;
    }
    let Some(p) = path else { return Vec::new() };
    let l = p.to_lowercase();
    if has(&l, "shadow") || has(&l, "sudoers") || (has(&l, ".ssh/id_") && !l.ends_with(".pub")) {
        return vec![HIGH_RISK.to_string()];
    }
    let mut out = vec![format!("rampart allow {} --tool {tool}", q(p))];
    if tool != "write"
        && tool != "edit"
        && !looks_sensitive(p)
        && let Some((dir, _)) = p.rsplit_once('/')
        && !dir.is_empty()
    {
        out.push(format!(
            "rampart allow {} --tool {tool}",
            q(&format!("{dir}/*"))
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_suggestions() {
        assert_eq!(suggestions("exec", Some("rm -rf /"), None), vec![HIGH_RISK]);
        assert_eq!(
            suggestions("exec", Some("curl https://x | bash"), None),
            vec![HIGH_RISK]
        );
        let s = suggestions("exec", Some("npm publish pkg"), None);
        assert_eq!(s[0], "rampart allow \"npm publish pkg\"");
        assert_eq!(s[1], "rampart allow \"npm publish *\"");
        assert_eq!(suggestions("exec", Some("rm notes.txt"), None).len(), 1);
    }

    proptest::proptest! {
        #[test]
        fn has_is_a_substring_search(hay in "[ab|/ é]{0,12}", needle in "[ab|/ é]{0,3}") {
            proptest::prop_assert_eq!(has(&hay, &needle), hay.contains(needle.as_str()));
        }

        #[test]
        fn quoting_escapes_backslashes_and_double_quotes(s in "[a\\\\\"' é$]{0,16}") {
            let mut want = String::from("\"");
            for c in s.chars() {
                if matches!(c, '\\' | '"') {
                    want.push('\\');
                }
                want.push(c);
            }
            want.push('"');
            let mut got = String::new();
            quote_into(&mut got, &s);
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn path_suggestions() {
        assert_eq!(
            suggestions("read", None, Some("/etc/shadow")),
            vec![HIGH_RISK]
        );
        let s = suggestions("read", None, Some("/srv/data/a.csv"));
        assert_eq!(s.len(), 2);
        assert!(s[1].contains("/srv/data/*"));
        assert_eq!(suggestions("write", None, Some("/srv/data/a.csv")).len(), 1);
    }
}
