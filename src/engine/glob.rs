//! The three glob dialects of the policy language (spec/engine.md §4), compiled once at load.
//!
//! * [`CommandGlob`]: `command_matches`, `url_matches`, `session_*`, `tool_param_matches` and
//!   `match.*` — `*` alone, `**` NFA, trailing-`*` literal prefix, leading-`*` ordered
//!   substrings, else shell-style full match.
//! * [`PathGlob`]: `path_matches` — `**` crosses `/`, `*`/`?`/classes do not; a leading `**/`
//!   may match nothing.
//! * [`DomainGlob`]: `domain_matches` — trimmed, lower-cased, one trailing dot dropped, full match.
//!
//! Every matcher replaces `\` with `/` in pattern and value, so `\` never escapes. Matching is
//! an NFA simulation over code points: time is bounded by pattern length × value length and it
//! never backtracks.

use memchr::memmem;

pub use super::limits::{
    GlobLimitError, MAX_DOUBLESTAR_PATTERN_BYTES, MAX_DOUBLESTARS, MAX_PATTERN_BYTES,
    MAX_VALUE_BYTES, check_limits,
};

/// One step of a compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`: one character other than `/`.
    One,
    /// `*`: any run of characters other than `/`.
    Star,
    /// `**`: any run of characters.
    Any,
    /// `[...]` / `[^...]`.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled full-match wildcard pattern, simulated as an NFA.
#[derive(Debug, Clone)]
struct Nfa {
    toks: Vec<Tok>,
    /// Literal text every match must start with (prefilter).
    prefix: String,
    /// The longest literal run every match must contain (prefilter).
    needle: String,
    /// Whether classes may match `/` (shell-style `filepath.Match` lets them).
    class_matches_slash: bool,
    /// The same automaton as single-word bit masks, when it has at most 63 steps (built on
    /// first use, so compiling a policy stays cheap).
    masks: std::sync::OnceLock<Option<Masks>>,
}

/// A pattern of at most 63 steps as bit masks over its states (bit `s` = state `s`), so one
/// character advances every state at once (shift-and). Same transitions as [`Nfa::run`].
#[derive(Debug, Clone)]
struct Masks {
    /// Per literal character (sorted), the states that read it.
    lits: Vec<(char, u64)>,
    /// States reading any character but `/` (`?`).
    one: u64,
    /// States looping on any character but `/` (`*`).
    star: u64,
    /// States looping on any character (`**`).
    any: u64,
    /// Class states, by index into the token list.
    classes: Vec<usize>,
}

impl Masks {
    fn new(toks: &[Tok]) -> Option<Masks> {
        if toks.len() > 63 {
            return None;
        }
        let mut m = Masks {
            lits: Vec::new(),
            one: 0,
            star: 0,
            any: 0,
            classes: Vec::new(),
        };
        for (s, t) in toks.iter().enumerate() {
            let bit = 1u64 << s;
            match t {
                Tok::Lit(c) => match m.lits.iter_mut().find(|(l, _)| l == c) {
                    Some((_, b)) => *b |= bit,
                    None => m.lits.push((*c, bit)),
                },
                Tok::One => m.one |= bit,
                Tok::Star => m.star |= bit,
                Tok::Any => m.any |= bit,
                Tok::Class { .. } => m.classes.push(s),
            }
        }
        m.lits.sort_unstable_by_key(|(c, _)| *c);
        Some(m)
    }
}

impl Nfa {
    /// Compiles `pattern`; `None` when a class is malformed (the pattern then never matches).
    fn compile(pattern: &str, doublestar: bool, class_matches_slash: bool) -> Option<Nfa> {
        let mut chars: Vec<char> = Vec::with_capacity(pattern.len());
        chars.extend(pattern.chars());
        let mut toks = Vec::with_capacity(chars.len());
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' => {
                    let start = i;
                    while i < chars.len() && chars[i] == '*' {
                        i += 1;
                    }
                    let tok = if doublestar && i - start >= 2 {
                        Tok::Any
                    } else {
                        Tok::Star
                    };
                    // Consecutive stars collapse into the widest.
                    match (toks.last(), &tok) {
                        (Some(Tok::Any), _) => {}
                        (Some(Tok::Star), Tok::Any) => {
                            toks.pop();
                            toks.push(tok);
                        }
                        (Some(Tok::Star), Tok::Star) => {}
                        _ => toks.push(tok),
                    }
                    continue;
                }
                '?' => toks.push(Tok::One),
                '[' => {
                    let (tok, next) = parse_class(&chars, i + 1)?;
                    toks.push(tok);
                    i = next;
                    continue;
                }
                c => toks.push(Tok::Lit(c)),
            }
            i += 1;
        }
        let lit = |t: &Tok| match t {
            Tok::Lit(c) => Some(*c),
            _ => None,
        };
        let mut prefix = String::with_capacity(pattern.len());
        prefix.extend(toks.iter().map_while(lit));
        // The longest run of literals (the first of equal length).
        let (mut best, mut run_start) = ((0, 0, 0), 0);
        let mut run_bytes = 0;
        for (i, t) in toks.iter().enumerate() {
            match t {
                Tok::Lit(c) => run_bytes += c.len_utf8(),
                _ => {
                    if run_bytes > best.2 {
                        best = (run_start, i, run_bytes);
                    }
                    run_start = i + 1;
                    run_bytes = 0;
                }
            }
        }
        if run_bytes > best.2 {
            best = (run_start, toks.len(), run_bytes);
        }
        let mut needle = String::with_capacity(best.2);
        needle.extend(toks[best.0..best.1].iter().filter_map(lit));
        Some(Nfa {
            masks: std::sync::OnceLock::new(),
            toks,
            prefix,
            needle,
            class_matches_slash,
        })
    }

    /// Full match of `value` against the pattern.
    fn matches(&self, value: &str) -> bool {
        if !value.starts_with(self.prefix.as_str()) {
            return false;
        }
        if self.needle.len() > self.prefix.len()
            && memmem::find(value.as_bytes(), self.needle.as_bytes()).is_none()
        {
            return false;
        }
        if let Some(m) = self.masks.get_or_init(|| Masks::new(&self.toks)) {
            return self.run_masks(m, value);
        }
        let n = self.toks.len();
        let words = n / 64 + 1;
        if words <= 4 {
            let mut a = [0u64; 4];
            let mut b = [0u64; 4];
            return self.run(value, &mut a[..words], &mut b[..words]);
        }
        let mut cur = vec![0u64; words];
        let mut next = vec![0u64; words];
        self.run(value, &mut cur, &mut next)
    }

    fn run<'b>(&self, value: &str, mut cur: &'b mut [u64], mut next: &'b mut [u64]) -> bool {
        let n = self.toks.len();
        set(cur, 0);
        self.close(cur);
        for c in value.chars() {
            next.iter_mut().for_each(|w| *w = 0);
            let mut any = false;
            for s in iter_bits(cur) {
                if s >= n {
                    continue;
                }
                match &self.toks[s] {
                    Tok::Lit(l) => {
                        if *l == c {
                            set(next, s + 1);
                            any = true;
                        }
                    }
                    Tok::One => {
                        if c != '/' {
                            set(next, s + 1);
                            any = true;
                        }
                    }
                    Tok::Star => {
                        if c != '/' {
                            set(next, s);
                            any = true;
                        }
                    }
                    Tok::Any => {
                        set(next, s);
                        any = true;
                    }
                    Tok::Class { negated, ranges } => {
                        if c == '/' && !self.class_matches_slash {
                            continue;
                        }
                        let inside = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                        if inside != *negated {
                            set(next, s + 1);
                            any = true;
                        }
                    }
                }
            }
            if !any {
                return false;
            }
            self.close(next);
            std::mem::swap(&mut cur, &mut next);
        }
        get(cur, n)
    }

    /// The maximal runs of literal steps.
    fn runs(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut run = String::new();
        for t in &self.toks {
            match t {
                Tok::Lit(c) => run.push(*c),
                _ if !run.is_empty() => out.push(std::mem::take(&mut run)),
                _ => {}
            }
        }
        if !run.is_empty() {
            out.push(run);
        }
        out
    }

    /// [`Nfa::run`] with every state in one word.
    fn run_masks(&self, m: &Masks, value: &str) -> bool {
        let loops = m.star | m.any;
        // Letting stars match nothing (repeated, though stars never follow stars).
        let close = |mut x: u64| loop {
            let add = ((x & loops) << 1) & !x;
            if add == 0 {
                return x;
            }
            x |= add;
        };
        let mut cur = close(1);
        for c in value.chars() {
            let slash = c == '/';
            let mut read = match m.lits.binary_search_by_key(&c, |(l, _)| *l) {
                Ok(i) => m.lits[i].1,
                Err(_) => 0,
            };
            if !slash {
                read |= m.one;
            }
            for &s in &m.classes {
                if let Tok::Class { negated, ranges } = &self.toks[s]
                    && (!slash || self.class_matches_slash)
                    && ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
                {
                    read |= 1 << s;
                }
            }
            let stay = if slash { m.any } else { loops };
            let next = ((cur & read) << 1) | (cur & stay);
            if next == 0 {
                return false;
            }
            cur = close(next);
        }
        cur & (1 << self.toks.len()) != 0
    }

    /// Adds the states reachable by letting stars match nothing.
    fn close(&self, states: &mut [u64]) {
        for s in 0..self.toks.len() {
            if get(states, s) && matches!(self.toks[s], Tok::Star | Tok::Any) {
                set(states, s + 1);
            }
        }
    }
}

fn set(bits: &mut [u64], i: usize) {
    bits[i / 64] |= 1 << (i % 64);
}

fn get(bits: &[u64], i: usize) -> bool {
    bits[i / 64] & (1 << (i % 64)) != 0
}

fn iter_bits(bits: &[u64]) -> impl Iterator<Item = usize> + '_ {
    bits.iter().enumerate().flat_map(|(w, &word)| {
        let mut word = word;
        std::iter::from_fn(move || {
            if word == 0 {
                return None;
            }
            let b = word.trailing_zeros() as usize;
            word &= word - 1;
            Some(w * 64 + b)
        })
    })
}

/// Parses a class body starting after `[`; returns the token and the index after `]`.
fn parse_class(chars: &[char], mut i: usize) -> Option<(Tok, usize)> {
    let mut negated = false;
    if chars.get(i) == Some(&'^') {
        negated = true;
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        let c = *chars.get(i)?;
        if c == ']' && !ranges.is_empty() {
            return Some((Tok::Class { negated, ranges }, i + 1));
        }
        if c == '-' || c == ']' {
            return None;
        }
        let lo = c;
        i += 1;
        let mut hi = lo;
        if chars.get(i) == Some(&'-') {
            let h = *chars.get(i + 1)?;
            if h == '-' || h == ']' {
                return None;
            }
            if h < lo {
                return None;
            }
            hi = h;
            i += 2;
        }
        ranges.push((lo, hi));
    }
}

/// `s` with every `\\` read as `/` (borrowed when there is none).
fn slashed(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\\') {
        std::borrow::Cow::Owned(s.replace('\\', "/"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// A `**` pattern, with its tail after a leading `**/` (which may also match nothing).
#[derive(Debug, Clone)]
struct DoubleStarNfa {
    full: Nfa,
    tail: Option<Nfa>,
}

impl DoubleStarNfa {
    fn new(full: Nfa) -> DoubleStarNfa {
        let tail =
            (full.toks.len() >= 2 && full.toks[0] == Tok::Any && full.toks[1] == Tok::Lit('/'))
                .then(|| {
                    let toks = full.toks[2..].to_vec();
                    Nfa {
                        masks: std::sync::OnceLock::new(),
                        toks,
                        prefix: String::new(),
                        needle: String::new(),
                        class_matches_slash: full.class_matches_slash,
                    }
                });
        DoubleStarNfa { full, tail }
    }

    /// NFA match with the gitignore-style retry for a leading `**/`.
    fn matches(&self, v: &str) -> bool {
        self.full.matches(v) || self.tail.as_ref().is_some_and(|t| t.matches(v))
    }
}

/// How a [`CommandGlob`] matches.
#[derive(Debug, Clone)]
enum CommandKind {
    /// Exactly `*`.
    Everything,
    /// Contains `**`.
    DoubleStar(Option<DoubleStarNfa>),
    /// Ends with a single `*`: literal prefix, else fall through to `then`.
    Prefix {
        prefix: String,
        then: Box<CommandKind>,
    },
    /// Starts with `*`: pieces in order, unanchored.
    Substrings(Vec<String>),
    /// Shell-style full match.
    Shell(Option<Nfa>),
    /// Empty or over-limit pattern.
    Never,
}

/// A compiled command-style glob (spec §4.1).
#[derive(Debug, Clone)]
pub struct CommandGlob {
    source: String,
    kind: CommandKind,
}

impl CommandGlob {
    /// Compiles `pattern` (limits are checked separately by [`check_limits`]).
    pub fn new(pattern: &str) -> CommandGlob {
        let p = slashed(pattern);
        let kind = if p.is_empty() || check_limits(&p).is_err() {
            CommandKind::Never
        } else if p == "*" {
            CommandKind::Everything
        } else if p.contains("**") {
            CommandKind::DoubleStar(Nfa::compile(&p, true, false).map(DoubleStarNfa::new))
        } else {
            let rest = if p.starts_with('*') {
                CommandKind::Substrings(
                    p.split('*')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                )
            } else {
                CommandKind::Shell(Nfa::compile(&p, false, true))
            };
            if let Some(prefix) = p.strip_suffix('*') {
                CommandKind::Prefix {
                    prefix: prefix.to_string(),
                    then: Box::new(rest),
                }
            } else {
                rest
            }
        };
        CommandGlob {
            source: pattern.to_string(),
            kind,
        }
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Literals every matching value contains (after `\` → `/`): the maximal literal runs of a
    /// wildcard pattern (of its tail, when a leading `**/` may match nothing), or the pieces of
    /// a leading-`*` pattern. Empty when a value needs no literal.
    pub fn required_literals(&self) -> Vec<String> {
        fn of(kind: &CommandKind) -> Vec<String> {
            match kind {
                CommandKind::Everything | CommandKind::Never => Vec::new(),
                // A leading `**/` may match nothing, so only the tail's literals are required
                // (`**/.aws/credentials` matches `.aws/credentials`).
                CommandKind::DoubleStar(Some(d)) => match &d.tail {
                    Some(t) => t.runs(),
                    None => d.full.runs(),
                },
                CommandKind::Shell(Some(n)) => n.runs(),
                CommandKind::DoubleStar(None) | CommandKind::Shell(None) => Vec::new(),
                CommandKind::Prefix { then, .. } => of(then),
                CommandKind::Substrings(p) => p.clone(),
            }
        }
        of(&self.kind)
    }

    /// Whether `value` matches (case-sensitive).
    pub fn matches(&self, value: &str) -> bool {
        if value.len() > MAX_VALUE_BYTES {
            return false;
        }
        if value.contains('\\') {
            let v = value.replace('\\', "/");
            return kind_matches(&self.kind, &v);
        }
        kind_matches(&self.kind, value)
    }
}

fn kind_matches(kind: &CommandKind, v: &str) -> bool {
    match kind {
        CommandKind::Everything => true,
        CommandKind::Never => false,
        CommandKind::DoubleStar(nfa) => nfa.as_ref().is_some_and(|n| n.matches(v)),
        CommandKind::Prefix { prefix, then } => {
            v.starts_with(prefix.as_str()) || kind_matches(then, v)
        }
        CommandKind::Substrings(pieces) => {
            let mut rest = v.as_bytes();
            for piece in pieces {
                match memmem::find(rest, piece.as_bytes()) {
                    Some(at) => rest = &rest[at + piece.len()..],
                    None => return false,
                }
            }
            true
        }
        CommandKind::Shell(nfa) => nfa.as_ref().is_some_and(|n| n.matches(v)),
    }
}

/// Shell-style full match (`filepath.Match`): `*`/`?` do not cross `/`, classes allowed.
pub fn shell_match(pattern: &str, value: &str) -> bool {
    let p = pattern.replace('\\', "/");
    let v = value.replace('\\', "/");
    Nfa::compile(&p, false, true).is_some_and(|n| n.matches(&v))
}

/// A compiled path glob (spec §4.2).
#[derive(Debug, Clone)]
pub struct PathGlob {
    source: String,
    nfa: Option<Nfa>,
    /// The pattern without its leading `**/`, tried when the full pattern fails.
    tail: Option<Nfa>,
}

impl PathGlob {
    /// Compiles `pattern`; an empty, malformed or over-limit pattern never matches.
    pub fn new(pattern: &str) -> PathGlob {
        let p = pattern.replace('\\', "/");
        let ok = !p.is_empty() && check_limits(&p).is_ok();
        let nfa = if ok {
            Nfa::compile(&p, true, false)
        } else {
            None
        };
        let tail = match (&nfa, p.strip_prefix("**/")) {
            (Some(_), Some(rest)) => Nfa::compile(rest, true, false),
            _ => None,
        };
        PathGlob {
            source: pattern.to_string(),
            nfa,
            tail,
        }
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether `path` matches the whole pattern.
    pub fn matches(&self, path: &str) -> bool {
        if path.len() > MAX_VALUE_BYTES {
            return false;
        }
        let owned;
        let v = if path.contains('\\') {
            owned = path.replace('\\', "/");
            owned.as_str()
        } else {
            path
        };
        let Some(nfa) = &self.nfa else { return false };
        nfa.matches(v) || self.tail.as_ref().is_some_and(|t| t.matches(v))
    }
}

/// A compiled domain glob (spec §4.3).
#[derive(Debug, Clone)]
pub struct DomainGlob {
    source: String,
    nfa: Option<Nfa>,
}

/// Lower-cases, trims and drops one trailing dot, as domain matching does on both sides.
pub fn normalize_domain(s: &str) -> String {
    let t = s.trim().to_lowercase().replace('\\', "/");
    match t.strip_suffix('.') {
        Some(x) => x.to_string(),
        None => t,
    }
}

impl DomainGlob {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> DomainGlob {
        let p = normalize_domain(pattern);
        let nfa = if p.is_empty() || check_limits(&p).is_err() {
            None
        } else {
            Nfa::compile(&p, false, true)
        };
        DomainGlob {
            source: pattern.to_string(),
            nfa,
        }
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether `host` matches (case-insensitive).
    pub fn matches(&self, host: &str) -> bool {
        if host.len() > MAX_VALUE_BYTES {
            return false;
        }
        let h = normalize_domain(host);
        self.nfa.as_ref().is_some_and(|n| n.matches(&h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(p: &str, v: &str) -> bool {
        CommandGlob::new(p).matches(v)
    }

    #[test]
    fn command_rules_in_order() {
        assert!(cm("*", ""));
        assert!(cm("*", "anything at all"));
        assert!(!cm("", ""));
        // Rule 3: literal prefix crossing '/'.
        assert!(cm("rm -rf *", "rm -rf /a/b"));
        assert!(cm("dd if=*", "dd if=/dev/zero of=/x"));
        assert!(cm("rm -rf ./*", "rm -rf ./build"));
        // Rule 4: ordered substrings, unanchored, ? and [] literal.
        assert!(cm("*.env", "x.envrc"));
        assert!(cm("*foo", "foobar"));
        assert!(!cm("*[abc]*", "xbx"));
        assert!(cm("*[abc]*", "x[abc]x"));
        assert!(cm("*curl*localhost*", "curl http://localhost:8/x"));
        assert!(!cm("*curl*localhost*", "localhost curl"));
        // Rule 5: shell match, * does not cross '/'.
        assert!(!cm("git * --force", "git push origin/main --force"));
        assert!(cm("git * --force", "git push --force"));
        assert!(cm("git *", "git status"));
        assert!(cm("rm -rf /", "rm -rf /"));
        assert!(!cm("rm -rf /", "rm -rf /x"));
        assert!(cm("[!x]", "!"));
        assert!(!cm("[!x]", "y"));
        assert!(cm("[^x]", "y"));
        // Rule 2: ** NFA.
        assert!(cm("sudo **", "sudo rm -rf /"));
        assert!(cm("**pastebin.com**", "curl https://pastebin.com/x"));
        assert!(cm("curl ** | bash", "curl -s https://x/y.sh | bash"));
        assert!(!cm("curl ** | bash", "curl -s https://x/y.sh | bash2"));
    }

    #[test]
    fn backslash_is_a_slash() {
        assert!(cm(r"C:\Windows\*", "C:/Windows/x"));
        assert!(PathGlob::new(r"**\.ssh\id_*").matches(r"C:\Users\A\.ssh\id_rsa"));
    }

    #[test]
    fn path_table() {
        let pm = |p: &str, v: &str| PathGlob::new(p).matches(v);
        assert!(!pm("/approved/*", "/approved/nested/x"));
        assert!(!pm("/etc/**", "/etc"));
        assert!(pm("/etc/**", "/etc/"));
        assert!(pm("/etc/**", "/etc/ssh/sshd_config"));
        assert!(!pm("*.env", "nested/local.env"));
        assert!(pm("**/.env", "./.env"));
        assert!(pm("**/.env", ".env"));
        assert!(pm("**/.ssh/id_*", "C:\\Users\\A\\.ssh\\id_rsa"));
        assert!(!pm("**/.ssh/id_*", "/home/u/.ssh/id_rsa/x"));
        assert!(pm("**/*.[ch]", "src/a/b.c"));
        assert!(!pm("**/[]", "x"));
        assert!(!pm("/a/[z-a]", "/a/b"));
        assert!(!pm("/a/[b]", "/a//"));
    }

    #[test]
    fn domains() {
        let dm = |p: &str, v: &str| DomainGlob::new(p).matches(v);
        assert!(dm("*.example.com", "a.b.example.com"));
        assert!(!dm("*.example.com", "example.com"));
        assert!(dm("*.com", "evil.example.com"));
        assert!(dm("webhook.site", "WEBHOOK.SITE."));
        assert!(dm("*.webhook.site", "sub.webhook.site."));
    }

    #[test]
    fn limits() {
        assert!(check_limits("a**b**c").is_ok());
        assert!(check_limits("***a***").is_ok());
        assert!(matches!(
            check_limits("**a**b**"),
            Err(GlobLimitError::TooManyDoubleStars(_, 3))
        ));
        let long = format!("**{}", "a".repeat(300));
        assert!(matches!(
            check_limits(&long),
            Err(GlobLimitError::DoubleStarTooLong(302))
        ));
        assert!(matches!(
            check_limits(&"a".repeat(9000)),
            Err(GlobLimitError::TooLong(9000))
        ));
        assert!(!cm("a*", &"a".repeat(9000)));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20000))]
        #[test]
        fn mask_automaton_matches_the_state_list(
            p in "[ab/*?é]{0,6}(\\[\\^?[a-cé/]{1,3}(-[b-z])?\\])?[ab/*?é]{0,6}",
            v in "[abcé/ -]{0,12}",
            doublestar in proptest::bool::ANY,
            slash in proptest::bool::ANY,
        ) {
            if let Some(n) = Nfa::compile(&p, doublestar, slash) {
                let mut a = [0u64; 4];
                let mut b = [0u64; 4];
                let words = n.toks.len() / 64 + 1;
                let slow = n.run(&v, &mut a[..words], &mut b[..words]);
                let m = Masks::new(&n.toks).expect("short pattern");
                let m = &m;
                proptest::prop_assert_eq!(n.run_masks(m, &v), slow, "pattern {:?} value {:?}", p, v);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20000))]
        /// The prefilter relies on this: a matching value contains every required literal.
        #[test]
        fn matching_values_contain_the_required_literals(
            p in "(\\*\\*/)?[ab/*?]{0,8}(\\[ab\\])?[ab/*]{0,4}",
            v in "[ab/.]{0,10}",
        ) {
            let g = CommandGlob::new(&p);
            if g.matches(&v) {
                for l in g.required_literals() {
                    proptest::prop_assert!(v.contains(&l), "pattern {:?} value {:?} literal {:?}", p, v, l);
                }
            }
        }
    }

    #[test]
    fn leading_doublestar_slash_needs_only_its_tail() {
        let g = CommandGlob::new("**/.aws/credentials");
        assert!(g.matches(".aws/credentials"));
        assert_eq!(g.required_literals(), vec![".aws/credentials"]);
    }

    #[test]
    fn hostile_inputs_are_bounded() {
        let p = "*a*a*a*a*a*a*a*a*a*a*b";
        assert!(!cm(p, &"a".repeat(8000)));
        let p2 = "**a**";
        assert!(cm(p2, &"a".repeat(8000)));
        assert!(!PathGlob::new("**/*a*a*a*a*a*b").matches(&"a/".repeat(4000)));
    }
}
