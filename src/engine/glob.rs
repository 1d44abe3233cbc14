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

use std::sync::OnceLock;

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
    /// The longest literal run every match must contain (prefilter), when it is longer than
    /// `prefix` (searched for, so built once).
    needle: Option<memmem::Finder<'static>>,
    /// Whether classes may match `/` (shell-style `filepath.Match` lets them).
    class_matches_slash: bool,
    /// The same automaton as single-word bit masks, when it has at most 63 steps (built on
    /// first use, so compiling a policy stays cheap).
    masks: OnceLock<Option<Masks>>,
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
        let b = pattern.as_bytes();
        let mut toks = Vec::with_capacity(pattern.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'*' => {
                    let start = i;
                    while i < b.len() && b[i] == b'*' {
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
                b'?' => {
                    toks.push(Tok::One);
                    i += 1;
                }
                b'[' => {
                    let mut ranges = Vec::new();
                    let (negated, next) = parse_class(pattern, i + 1, &mut ranges)?;
                    toks.push(Tok::Class { negated, ranges });
                    i = next;
                }
                _ => {
                    let c = char_at(pattern, i);
                    toks.push(Tok::Lit(c));
                    i += c.len_utf8();
                }
            }
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
        let needle = (needle.len() > prefix.len())
            .then(|| memmem::Finder::new(needle.as_bytes()).into_owned());
        Some(Nfa {
            masks: OnceLock::new(),
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
        if self
            .needle
            .as_ref()
            .is_some_and(|n| n.find(value.as_bytes()).is_none())
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
    #[cfg(test)]
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

/// The character starting at byte `i` of `s` (`i` is a character boundary inside `s`).
fn char_at(s: &str, i: usize) -> char {
    s[i..].chars().next().unwrap_or('\0')
}

/// Parses a class body starting at byte `i` (after `[`) into `ranges`; returns whether it is
/// negated and the byte index after `]`, or `None` when the class is malformed.
fn parse_class(p: &str, mut i: usize, ranges: &mut Vec<(char, char)>) -> Option<(bool, usize)> {
    let at = |i: usize| p.get(i..).and_then(|r| r.chars().next());
    let mut negated = false;
    if at(i) == Some('^') {
        negated = true;
        i += 1;
    }
    loop {
        let c = at(i)?;
        if c == ']' && !ranges.is_empty() {
            return Some((negated, i + 1));
        }
        if c == '-' || c == ']' {
            return None;
        }
        let lo = c;
        i += c.len_utf8();
        let mut hi = lo;
        if at(i) == Some('-') {
            let h = at(i + 1)?;
            if h == '-' || h == ']' {
                return None;
            }
            if h < lo {
                return None;
            }
            hi = h;
            i += 1 + h.len_utf8();
        }
        ranges.push((lo, hi));
    }
}

/// Calls `f` with each maximal run of literal characters of a wildcard pattern (what
/// [`Nfa::compile`] turns into consecutive literal steps), in order; calls it with nothing when
/// a class is malformed (the pattern then never matches). `classes` says whether the pattern
/// may hold a `[`; without one nothing is allocated.
fn literal_runs(p: &str, classes: bool, f: &mut dyn FnMut(&str)) {
    let b = p.as_bytes();
    let mut ranges = Vec::new();
    // A malformed class anywhere means no literal at all: check before emitting any.
    if classes {
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'[' {
                ranges.clear();
                match parse_class(p, i + 1, &mut ranges) {
                    Some((_, next)) => i = next,
                    None => return,
                }
            } else {
                i += 1;
            }
        }
    }
    let (mut i, mut run) = (0, 0);
    while i < b.len() {
        match b[i] {
            b'*' | b'?' => {
                if i > run {
                    f(&p[run..i]);
                }
                i += 1;
                run = i;
            }
            b'[' => {
                if i > run {
                    f(&p[run..i]);
                }
                ranges.clear();
                i = parse_class(p, i + 1, &mut ranges).map_or(b.len(), |(_, next)| next);
                run = i;
            }
            _ => i += 1,
        }
    }
    if b.len() > run {
        f(&p[run..]);
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

/// Whether a `**` pattern starts with a star run of two or more followed by `/` (its compiled
/// steps start `**`, `/`): the gitignore-style retry then also tries the rest.
fn leading_doublestar_slash(p: &str) -> Option<&str> {
    let stars = p.bytes().take_while(|&b| b == b'*').count();
    (stars >= 2).then(|| p[stars..].strip_prefix('/')).flatten()
}

impl DoubleStarNfa {
    fn new(full: Nfa) -> DoubleStarNfa {
        let tail =
            (full.toks.len() >= 2 && full.toks[0] == Tok::Any && full.toks[1] == Tok::Lit('/'))
                .then(|| {
                    let toks = full.toks[2..].to_vec();
                    Nfa {
                        masks: OnceLock::new(),
                        toks,
                        prefix: String::new(),
                        needle: None,
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
    /// No wildcard at all: the value equals the pattern.
    Exact,
    /// Contains `**`.
    DoubleStar(Option<Box<DoubleStarNfa>>),
    /// Ends with a single `*`: literal prefix, else fall through to the second.
    Prefix(Box<(String, CommandKind)>),
    /// Starts with `*`: pieces in order, unanchored (each searched for, so built once).
    Substrings(Box<[memmem::Finder<'static>]>),
    /// Shell-style full match.
    Shell(Option<Box<Nfa>>),
    /// Empty or over-limit pattern.
    Never,
}

impl CommandKind {
    /// Compiles a pattern whose `\` are already read as `/`.
    fn new(p: &str) -> CommandKind {
        if p.is_empty() || check_limits(p).is_err() {
            CommandKind::Never
        } else if p == "*" {
            CommandKind::Everything
        } else if p.contains("**") {
            CommandKind::DoubleStar(
                Nfa::compile(p, true, false).map(|n| Box::new(DoubleStarNfa::new(n))),
            )
        } else if !p.contains(['*', '?', '[']) {
            CommandKind::Exact
        } else {
            let rest = if p.starts_with('*') {
                CommandKind::Substrings(
                    p.split('*')
                        .filter(|s| !s.is_empty())
                        .map(|s| memmem::Finder::new(s).into_owned())
                        .collect(),
                )
            } else {
                CommandKind::Shell(Nfa::compile(p, false, true).map(Box::new))
            };
            if let Some(prefix) = p.strip_suffix('*') {
                CommandKind::Prefix(Box::new((prefix.to_string(), rest)))
            } else {
                rest
            }
        }
    }
}

/// A compiled command-style glob (spec §4.1). Construction only stores the pattern; it is
/// compiled on first match, so loading a policy does not pay for patterns no call reaches.
#[derive(Debug, Clone)]
pub struct CommandGlob {
    source: String,
    kind: OnceLock<Box<CommandKind>>,
}

impl CommandGlob {
    /// A glob for `pattern` (limits are checked separately by [`check_limits`]).
    pub fn new(pattern: &str) -> CommandGlob {
        CommandGlob::from_string(pattern.to_string())
    }

    /// [`CommandGlob::new`] for a pattern the caller gives away.
    pub fn from_string(pattern: String) -> CommandGlob {
        CommandGlob {
            source: pattern,
            kind: OnceLock::new(),
        }
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    fn kind(&self) -> &CommandKind {
        self.kind
            .get_or_init(|| Box::new(CommandKind::new(&slashed(&self.source))))
    }

    /// Compiles the pattern now instead of on first match.
    pub fn prepare(&self) {
        self.kind();
    }

    /// Calls `f` with every literal each matching value contains (after `\` → `/`): the maximal
    /// literal runs of a wildcard pattern (of its tail, when a leading `**/` may match nothing),
    /// or the pieces of a leading-`*` pattern; nothing when a value needs no literal. Reads the
    /// pattern text only: nothing is compiled.
    pub fn for_each_required_literal(&self, f: &mut dyn FnMut(&str)) {
        if self.source.as_bytes().contains(&b'\\') {
            return literals_of(&self.source.replace('\\', "/"), f);
        }
        literals_of(&self.source, f)
    }

    /// The literals of [`CommandGlob::for_each_required_literal`], collected.
    pub fn required_literals(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_required_literal(&mut |l| out.push(l.to_string()));
        out
    }

    /// Whether `value` matches (case-sensitive).
    pub fn matches(&self, value: &str) -> bool {
        if value.contains('\\') {
            let v = value.replace('\\', "/");
            return self.matches_without_backslash(&v);
        }
        self.matches_without_backslash(value)
    }

    /// [`CommandGlob::matches`] of a value the caller knows holds no `\` (so it need not look).
    pub fn matches_without_backslash(&self, value: &str) -> bool {
        value.len() <= MAX_VALUE_BYTES && kind_matches(self.kind(), &self.source, value)
    }
}

/// Bytes that end a literal run in some dialect: `*`, `?` and `[`.
const RUN_ENDS: [bool; 256] = {
    let mut t = [false; 256];
    t[b'*' as usize] = true;
    t[b'?' as usize] = true;
    t[b'[' as usize] = true;
    t
};

/// [`CommandGlob::for_each_required_literal`] of a pattern whose `\\` are read as `/`.
fn literals_of(p: &str, f: &mut dyn FnMut(&str)) {
    let b = p.as_bytes();
    if b.is_empty() || p == "*" || b.len() > MAX_PATTERN_BYTES {
        return;
    }
    // One pass: the literal runs between `*`, `?` and classes (kept for later: nothing may be
    // reported before the limits are known to hold), the `**` runs and whether there is a class.
    let mut runs = [(0u32, 0u32); 16];
    let (mut nruns, mut doublestars, mut classes, mut stars_at_start) = (0, 0, false, 0);
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && !RUN_ENDS[usize::from(b[i])] {
            i += 1;
        }
        if i > start {
            if nruns < runs.len() {
                runs[nruns] = (start as u32, i as u32);
            }
            nruns += 1;
        }
        if i == b.len() {
            break;
        }
        match b[i] {
            b'*' => {
                let star = i;
                while i < b.len() && b[i] == b'*' {
                    i += 1;
                }
                doublestars += usize::from(i - star >= 2);
                if star == 0 {
                    stars_at_start = i;
                }
            }
            b'[' => {
                classes = true;
                i += 1;
            }
            _ => i += 1,
        }
    }
    if doublestars > MAX_DOUBLESTARS || (doublestars > 0 && b.len() > MAX_DOUBLESTAR_PATTERN_BYTES)
    {
        return;
    }
    if doublestars > 0 {
        // A leading `**/` may match nothing, so only the tail's literals are required
        // (`**/.aws/credentials` matches `.aws/credentials`). The tail's steps are the
        // pattern's after `**`, `/`, and every class of the pattern is in the tail.
        literal_runs(leading_doublestar_slash(p).unwrap_or(p), classes, f);
    } else if stars_at_start > 0 {
        // Leading `*`: the pieces between stars, `?` and `[` included.
        let mut run = 0;
        for (i, &c) in b.iter().enumerate() {
            if c == b'*' {
                if i > run {
                    f(&p[run..i]);
                }
                run = i + 1;
            }
        }
        if b.len() > run {
            f(&p[run..]);
        }
    } else if classes || nruns > runs.len() {
        literal_runs(p, classes, f);
    } else {
        // No class and no `**`: the runs found above are the literal steps.
        for &(s, e) in &runs[..nruns] {
            f(&p[s as usize..e as usize]);
        }
    }
}

/// `v` (already slashed) equals `source` with `\` read as `/`.
fn equals_slashed(source: &str, v: &str) -> bool {
    source.len() == v.len()
        && source
            .bytes()
            .zip(v.bytes())
            .all(|(a, b)| if a == b'\\' { b == b'/' } else { a == b })
}

fn kind_matches(kind: &CommandKind, source: &str, v: &str) -> bool {
    match kind {
        CommandKind::Everything => true,
        CommandKind::Never => false,
        CommandKind::Exact => equals_slashed(source, v),
        CommandKind::DoubleStar(nfa) => nfa.as_ref().is_some_and(|n| n.matches(v)),
        CommandKind::Prefix(p) => v.starts_with(p.0.as_str()) || kind_matches(&p.1, source, v),
        CommandKind::Substrings(pieces) => {
            let mut rest = v.as_bytes();
            for piece in pieces.iter() {
                match piece.find(rest) {
                    Some(at) => rest = &rest[at + piece.needle().len()..],
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

/// A compiled path pattern: the whole pattern, and its tail after a leading `**/`.
#[derive(Debug, Clone)]
struct PathNfa {
    full: Nfa,
    /// The pattern without its leading `**/`, tried when the full pattern fails.
    tail: Option<Nfa>,
}

/// A compiled path glob (spec §4.2), compiled on first match.
#[derive(Debug, Clone)]
pub struct PathGlob {
    source: String,
    nfa: OnceLock<Option<Box<PathNfa>>>,
}

impl PathGlob {
    /// A glob for `pattern`; an empty, malformed or over-limit pattern never matches.
    pub fn new(pattern: &str) -> PathGlob {
        PathGlob::from_string(pattern.to_string())
    }

    /// [`PathGlob::new`] for a pattern the caller gives away.
    pub fn from_string(pattern: String) -> PathGlob {
        PathGlob {
            source: pattern,
            nfa: OnceLock::new(),
        }
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    fn nfa(&self) -> Option<&PathNfa> {
        self.nfa
            .get_or_init(|| {
                let p = self.source.replace('\\', "/");
                if p.is_empty() || check_limits(&p).is_err() {
                    return None;
                }
                let full = Nfa::compile(&p, true, false)?;
                let tail = p
                    .strip_prefix("**/")
                    .and_then(|rest| Nfa::compile(rest, true, false));
                Some(Box::new(PathNfa { full, tail }))
            })
            .as_deref()
    }

    /// Compiles the pattern now instead of on first match.
    pub fn prepare(&self) {
        self.nfa();
    }

    /// Whether `path` matches the whole pattern.
    pub fn matches(&self, path: &str) -> bool {
        if path.len() > MAX_VALUE_BYTES {
            return false;
        }
        let Some(nfa) = self.nfa() else { return false };
        let owned;
        let v = if path.contains('\\') {
            owned = path.replace('\\', "/");
            owned.as_str()
        } else {
            path
        };
        nfa.full.matches(v) || nfa.tail.as_ref().is_some_and(|t| t.matches(v))
    }
}

/// A compiled domain glob (spec §4.3), compiled on first match.
#[derive(Debug, Clone)]
pub struct DomainGlob {
    source: String,
    nfa: OnceLock<Option<Box<Nfa>>>,
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
    /// A glob for `pattern`.
    pub fn new(pattern: &str) -> DomainGlob {
        DomainGlob::from_string(pattern.to_string())
    }

    /// [`DomainGlob::new`] for a pattern the caller gives away.
    pub fn from_string(pattern: String) -> DomainGlob {
        DomainGlob {
            source: pattern,
            nfa: OnceLock::new(),
        }
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    fn nfa(&self) -> Option<&Nfa> {
        self.nfa
            .get_or_init(|| {
                let p = normalize_domain(&self.source);
                if p.is_empty() || check_limits(&p).is_err() {
                    None
                } else {
                    Nfa::compile(&p, false, true).map(Box::new)
                }
            })
            .as_deref()
    }

    /// Compiles the pattern now instead of on first match.
    pub fn prepare(&self) {
        self.nfa();
    }

    /// Whether `host` matches (case-insensitive).
    pub fn matches(&self, host: &str) -> bool {
        if host.len() > MAX_VALUE_BYTES {
            return false;
        }
        let Some(nfa) = self.nfa() else { return false };
        nfa.matches(&normalize_domain(host))
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

    /// The required literals as read from the compiled steps (what the prefilter relied on
    /// before literals were read from the pattern text).
    fn compiled_literals(g: &CommandGlob) -> Vec<String> {
        fn of(kind: &CommandKind, source: &str) -> Vec<String> {
            match kind {
                CommandKind::Everything | CommandKind::Never => Vec::new(),
                CommandKind::Exact => vec![source.replace('\\', "/")],
                CommandKind::DoubleStar(Some(d)) => match &d.tail {
                    Some(t) => t.runs(),
                    None => d.full.runs(),
                },
                CommandKind::Shell(Some(n)) => n.runs(),
                CommandKind::DoubleStar(None) | CommandKind::Shell(None) => Vec::new(),
                CommandKind::Prefix(p) => of(&p.1, source),
                CommandKind::Substrings(p) => p
                    .iter()
                    .map(|f| String::from_utf8_lossy(f.needle()).into_owned())
                    .collect(),
            }
        }
        of(g.kind(), g.source())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20000))]
        /// Literals read from the pattern text equal those of the compiled pattern, and a lazily
        /// compiled glob matches like one compiled up front.
        #[test]
        fn text_literals_equal_compiled_literals(
            p in "[ab/*?\\\\é^-]{0,5}(\\[\\^?[a-cé/\\]-]{0,3}\\]?)?[ab/*?\\\\é\\[]{0,5}",
            v in "[abcé/\\\\ -]{0,10}",
        ) {
            let lazy = CommandGlob::new(&p);
            proptest::prop_assert_eq!(lazy.required_literals(), compiled_literals(&lazy), "pattern {:?}", p);
            let eager = CommandGlob::new(&p);
            eager.prepare();
            proptest::prop_assert_eq!(lazy.matches(&v), eager.matches(&v), "pattern {:?} value {:?}", p, v);
            // A value's `\` reads as `/`: matching the slashed value without looking again agrees.
            proptest::prop_assert_eq!(
                lazy.matches(&v),
                lazy.matches_without_backslash(&v.replace('\\', "/")),
                "pattern {:?} value {:?}", p, v
            );
        }
    }

    #[test]
    fn literal_examples() {
        for (p, want) in [
            ("git push *", vec!["git push "]),
            ("**/.aws/credentials", vec![".aws/credentials"]),
            ("***/x/**", vec!["x/"]),
            ("*/x", vec!["/x"]),
            ("*curl*localhost*", vec!["curl", "localhost"]),
            ("a[bc]d?e", vec!["a", "d", "e"]),
            ("a[z-b]d", vec![]),
            ("**/a[]", vec![]),
            ("rm -rf /", vec!["rm -rf /"]),
            ("C:\\Windows\\*", vec!["C:/Windows/"]),
            ("*", vec![]),
            ("", vec![]),
            (
                "ab?c?d?e?f?g?h?i?j?k?l?m?n?o?p?q?rs",
                vec![
                    "ab", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p",
                    "q", "rs",
                ],
            ),
        ] {
            let g = CommandGlob::new(p);
            assert_eq!(g.required_literals(), want, "{p:?}");
            assert_eq!(compiled_literals(&g), want, "{p:?}");
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
