//! Evaluation: one call against a compiled snapshot (spec/engine.md §6–§8).
//!
//! Each call is analysed once: the command's compatibility reading (grant components and
//! restrictive candidate groups), the bash parser's executed commands, and the path
//! candidates are computed lazily and shared by every rule. Restrictive rules (deny, ask)
//! match over a superset of the reference engine's candidates — plus commands found behind
//! launchers, heredocs and substitutions, and a case-folded reading — so they are never
//! weaker. Granting rules (allow, watch, webhook) require every executed component to be
//! covered by the same rule.

use std::cell::{Cell, OnceCell};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::call::ToolCall;
use super::command::{
    self, NormCache, body_variants, grant_view_cached, plain_words, rm_aliases, split_compound,
};
use super::compile::{
    CmdPattern, CompiledPolicy, CompiledPolicySet, CompiledRule, Conditions, PathPattern,
    PatternIds, Prefilter, PrefilterScratch, has_bit,
};
use super::decision::{Action, Decision, RuleRef};
use super::fields::{self, Fields};
use super::glob::{CommandGlob, PathGlob};
use super::shell;
use super::suggest;
use std::collections::HashMap;

/// Largest tool response scanned by response rules.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Counts recent calls per tool for `call_count` conditions.
pub trait CallCounter {
    /// Calls of `tool` within the last `window` (including the current one when enforcing).
    fn count(&self, tool: &str, window: Duration) -> Option<u64>;
}

/// Per-evaluation inputs that are not part of the call.
#[derive(Default, Clone, Copy)]
pub struct EvalContext<'a> {
    /// Current time in Unix seconds (for `expires_at`); `None` uses the system clock.
    pub now_unix: Option<i64>,
    /// Call counter for `call_count` rules; without one they never match.
    pub counter: Option<&'a dyn CallCounter>,
    /// Keep only policies from this file base name (per-agent token scoping).
    pub policy_filter: Option<&'a str>,
    /// Force the default action to deny.
    pub default_deny: bool,
}

/// A fast, non-cryptographic hasher for the per-call text tables (keys are short strings).
#[derive(Default)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Whole words without a copy; the tail zero-padded once.
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.write_u64(w.first_chunk::<8>().map_or(0, |c| u64::from_le_bytes(*c)));
        }
        let tail = words.remainder();
        if !tail.is_empty() {
            let mut w = [0u8; 8];
            w[..tail.len()].copy_from_slice(tail);
            self.write_u64(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, b: u8) {
        self.write_u64(u64::from(b));
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;

/// [`FxHasher`] of a text.
fn text_hash(s: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = FxHasher::default();
    h.write(s.as_bytes());
    h.finish()
}

/// Every text of one analysed command, each stored once (in one buffer) with its prefilter
/// candidate set.
#[derive(Debug, Default)]
struct Texts {
    buf: String,
    /// Byte range of each text in `buf`, the id of its lower-cased form ([`UNKNOWN_LOWER`] or
    /// [`SELF_FOR_MATCHING`] until asked), and whether it holds a `\` (which command globs read
    /// as `/`).
    spans: Vec<(u32, u32, u32, bool)>,
    /// The union of every text's candidate set (the first `words` words: a rule whose command
    /// gate misses it cannot match any text of this call), then `words` words per text.
    bits: Vec<u64>,
    words: usize,
    /// Text hash → id, once there are enough texts for a linear search to cost more (a hash
    /// shared by two texts keeps the first; the other is found by a linear search).
    index: FxMap<u64, u32>,
    /// Scratch space of the prefilter.
    scratch: PrefilterScratch,
    /// Scratch space for lower-casing a text.
    lower: String,
}

/// Texts shorter than this are scanned rather than looked for in longer texts.
const MIN_SCANNED_FOR_REUSE: usize = 24;

/// A text's lower-case id not computed yet.
const UNKNOWN_LOWER: u32 = u32::MAX;

/// A text's lower-case id not computed yet, and the text standing for it in rule matching (see
/// [`Texts::match_lower_id`]).
const SELF_FOR_MATCHING: u32 = u32::MAX - 1;

/// Largest text table (bytes of buffers) kept for reuse by the next evaluation on a thread.
const SPARE_TEXTS_BYTES: usize = 64 * 1024;

thread_local! {
    /// The buffers of the last text table dropped on this thread (see [`Texts::recycle`]).
    static SPARE_TEXTS: Cell<Option<Texts>> = const { Cell::new(None) };
    /// The id arena and group lists of the last view dropped on this thread.
    static SPARE_VIEW: Cell<Option<ViewSpare>> = const { Cell::new(None) };
    /// The scratch space of the last view built on this thread.
    static SPARE_BUILDER: Cell<Option<BuilderSpare>> = const { Cell::new(None) };
}

/// The parts of a [`ViewBuilder`] that do not go into its view, kept for the next build.
#[derive(Default)]
struct BuilderSpare {
    memo: FxMap<u32, (Group, bool)>,
    norm: NormCache,
    scratch: [Vec<u32>; 4],
    text: String,
    normalized: String,
    /// Extra readings before duplicates are left out, and the readings seen so far.
    candidates: Vec<Group>,
    seen: Vec<(u64, Group)>,
}

/// The lists of a dropped [`CommandView`] besides its text table, kept for the next build.
#[derive(Default)]
struct ViewSpare {
    ids: Vec<u32>,
    groups: Vec<Group>,
    extra: Vec<Group>,
}

/// Texts up to this many are found by a linear search.
const LINEAR_TEXTS: usize = 16;

impl Texts {
    /// A table sized for about `texts` texts read from a command of `raw_len` bytes (sized
    /// once: growing the tables costs a copy per doubling). The buffers of the last table this
    /// thread dropped are reused (see [`Texts::recycle`]).
    fn new(pf: &Prefilter, raw_len: usize, texts: usize) -> Texts {
        let words = pf.words();
        let mut t = SPARE_TEXTS.with(Cell::take).unwrap_or_default();
        t.buf.clear();
        // Texts repeat much of the command; their total stays within a few times its length.
        t.buf.reserve(raw_len * texts.clamp(2, 8));
        t.spans.clear();
        t.spans.reserve(texts);
        t.bits.clear();
        t.bits.reserve(words * (texts + 1));
        t.bits.resize(words, 0);
        t.words = words;
        t.index.clear();
        // The longest text is about twice the command (` && ` between short segments).
        t.scratch.reserve(2 * raw_len);
        t
    }

    /// Keeps this table's buffers for the next [`Texts::new`] on this thread, unless they grew
    /// past [`SPARE_TEXTS_BYTES`] (an outsized command does not pin its memory).
    fn recycle(self) {
        let bytes = self.buf.capacity()
            + self.spans.capacity() * std::mem::size_of::<(u32, u32, u32, bool)>()
            + self.bits.capacity() * 8
            + self.index.capacity() * 16
            + self.scratch.capacity()
            + self.lower.capacity();
        if bytes <= SPARE_TEXTS_BYTES {
            SPARE_TEXTS.with(|s| s.set(Some(self)));
        }
    }

    /// The id of `s`, adding it (and its candidate set) when new.
    fn id(&mut self, s: &str, pf: &Prefilter) -> u32 {
        self.id_like(s, pf, None)
    }

    /// Enters the whole command, normalized then as written, before any part of it: the
    /// parts are mostly its prefixes and suffixes, which then take its candidates instead of
    /// being scanned (see [`Texts::id_like`]). Every view enters them so, which keeps the
    /// lower-cased twins of its parts alike on every path. Returns (normalized, raw) ids.
    fn whole_command(&mut self, normalized: &str, raw: &str, pf: &Prefilter) -> (u32, u32) {
        let n = self.id(normalized, pf);
        (n, self.id(raw, pf))
    }

    /// [`Texts::id`]; a new text takes the candidate set of text `same` when given, which
    /// must hold its own: the prefilter reads ASCII case-insensitively, so an ASCII text and
    /// its lower-case have the same candidates, and a text has every candidate of its
    /// substrings (a superset only costs pattern checks the prefilter would have spared).
    fn id_like(&mut self, s: &str, pf: &Prefilter, same: Option<u32>) -> u32 {
        let h = if self.spans.len() <= LINEAR_TEXTS {
            if let Some(i) = (0..self.spans.len() as u32).find(|&i| self.str(i) == s) {
                return i;
            }
            0
        } else {
            let h = text_hash(s);
            match self.index.get(&h) {
                Some(&i) if self.str(i) == s => return i,
                // Another text with this hash: look through them all.
                Some(_) => {
                    if let Some(i) = (0..self.spans.len() as u32).find(|&i| self.str(i) == s) {
                        return i;
                    }
                }
                None => {}
            }
            h
        };
        let id = self.spans.len() as u32;
        let at = self.bits.len();
        self.bits.resize(at + self.words, 0);
        // A text that begins or ends another text (a reading cut short) takes that text's
        // candidates instead of being scanned.
        let same = same.or_else(|| {
            (s.len() >= MIN_SCANNED_FOR_REUSE)
                .then(|| {
                    (0..id).find(|&i| {
                        let t = self.str(i);
                        t.len() > s.len() && (t.starts_with(s) || t.ends_with(s))
                    })
                })
                .flatten()
        });
        match same {
            Some(o) => {
                let from = (o as usize + 1) * self.words;
                self.bits.copy_within(from..from + self.words, at);
            }
            None => pf.candidates_into(s, &mut self.bits[at..], &mut self.scratch),
        }
        let (union, own) = self.bits.split_at_mut(at);
        for (u, b) in union[..self.words].iter_mut().zip(own.iter()) {
            *u |= b;
        }
        let start = self.buf.len() as u32;
        self.buf.push_str(s);
        let backslash = memchr::memchr(b'\\', s.as_bytes()).is_some();
        self.spans
            .push((start, self.buf.len() as u32, UNKNOWN_LOWER, backslash));
        if self.spans.len() > LINEAR_TEXTS {
            if self.index.is_empty() {
                self.index.reserve(4 * LINEAR_TEXTS);
                for i in 0..self.spans.len() as u32 {
                    self.index.entry(text_hash(self.str(i))).or_insert(i);
                }
            } else {
                self.index.entry(h).or_insert(id);
            }
        }
        id
    }

    /// The id of `s` lower-cased, given the id of `s` (remembered per text).
    fn lower_id(&mut self, id: u32, pf: &Prefilter) -> u32 {
        let known = self.spans[id as usize].2;
        if known < SELF_FOR_MATCHING {
            return known;
        }
        let s = self.str(id);
        let low = if s.is_ascii() {
            if !has_ascii_upper(s.as_bytes()) {
                id
            } else {
                let mut l = std::mem::take(&mut self.lower);
                l.clear();
                l.push_str(self.str(id));
                l.make_ascii_lowercase();
                let low = self.id_like(&l, pf, Some(id));
                self.lower = l;
                low
            }
        } else {
            let l = s.to_lowercase();
            if l == s { id } else { self.id(&l, pf) }
        };
        self.spans[id as usize].2 = low;
        self.spans[low as usize].2 = low;
        low
    }

    /// The id standing for text `id` lower-cased where only rule matching reads it. Every
    /// match is gated on the text's candidate set, and an ASCII text lower-cased has the same
    /// candidates (the prefilter reads letters in either case), so an ASCII text with no
    /// candidate can match nothing in either case: it stands for itself and is not copied.
    fn match_lower_id(&mut self, id: u32, pf: &Prefilter) -> u32 {
        match self.spans[id as usize].2 {
            SELF_FOR_MATCHING => id,
            UNKNOWN_LOWER if self.bits(id).iter().all(|&w| w == 0) && self.str(id).is_ascii() => {
                self.spans[id as usize].2 = SELF_FOR_MATCHING;
                id
            }
            _ => self.lower_id(id, pf),
        }
    }

    fn str(&self, id: u32) -> &str {
        let (a, b, _, _) = self.spans[id as usize];
        &self.buf[a as usize..b as usize]
    }

    /// Whether command glob `g` matches text `id` (looked up once per text for a `\`).
    fn glob_matches(&self, g: &CommandGlob, id: u32) -> bool {
        let s = self.str(id);
        if self.spans[id as usize].3 {
            g.matches(s)
        } else {
            g.matches_without_backslash(s)
        }
    }

    fn bits(&self, id: u32) -> &[u64] {
        let at = (id as usize + 1) * self.words;
        &self.bits[at..at + self.words]
    }

    fn union(&self) -> &[u64] {
        &self.bits[..self.words]
    }
}

/// Whether ASCII text `b` has an upper-case letter, eight bytes at a time.
fn has_ascii_upper(b: &[u8]) -> bool {
    const ONES: u64 = u64::MAX / 255;
    // Per byte (all below 0x80): bit 7 of `x + 0x3f` is set from `A` up, of `x + 0x25` from
    // one past `Z` up; no byte carries into the next.
    let upper = |x: u64| (x + 0x3f * ONES) & !(x + 0x25 * ONES) & (0x80 * ONES) != 0;
    let mut words = b.chunks_exact(8);
    let mut any = false;
    for w in &mut words {
        let mut a = [0; 8];
        a.copy_from_slice(w);
        any |= upper(u64::from_le_bytes(a));
    }
    let mut tail = [0; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    any || upper(u64::from_le_bytes(tail))
}

/// A range of the view's id arena.
type Span = (u32, u32);

/// One candidate group: ranges of text ids in the view's arena.
#[derive(Debug, Default, Clone, Copy)]
struct Group {
    /// Texts matched directly (component, bodies, normalized forms, alternate readings).
    direct: Span,
    /// Texts checked against exclusions.
    excl: Span,
    /// Canonical rm/find aliases (excluded only individually).
    aliases: Span,
    /// `direct` lower-cased, for case-insensitive `command_contains`.
    lower: Span,
    /// Whether texts are case-folded (match folded patterns).
    folded: bool,
}

/// The analysed command, shared by every rule of one evaluation.
#[derive(Debug, Default)]
struct CommandView {
    /// The sanitized command.
    raw: u32,
    raw_folded: u32,
    /// Lower-cased NormalizeCommand(raw), when the raw text has quotes or backslashes.
    norm_folded: Option<u32>,
    /// NormalizeCommand(raw).
    normalized: u32,
    /// Grant components.
    components: Span,
    /// More than one segment, or a substitution.
    composite: bool,
    /// Groups tied to grant components (reference semantics).
    groups: Vec<Group>,
    /// The whole command when it has several components (untied fallback).
    raw_group: Option<Group>,
    /// Further readings: case-folded and parser-derived. Restrictive only. A reading identical
    /// to a group of `groups` or to an earlier one is left out: it could only repeat a result
    /// that already counts (a live tied group makes the reference reading match).
    extra: Vec<Group>,
    /// Too many rm aliases: rules with command patterns fail closed.
    alias_overflow: bool,
    /// Every text above with its prefilter candidates.
    texts: Texts,
    /// Text ids referred to by spans.
    ids: Vec<u32>,
    /// Built by the plain-words fast path (no assignments to report, see [`plain_words`]).
    plain: bool,
}

impl Drop for CommandView {
    fn drop(&mut self) {
        std::mem::take(&mut self.texts).recycle();
        let spare = ViewSpare {
            ids: std::mem::take(&mut self.ids),
            groups: std::mem::take(&mut self.groups),
            extra: std::mem::take(&mut self.extra),
        };
        let bytes = spare.ids.capacity() * 4
            + (spare.groups.capacity() + spare.extra.capacity()) * std::mem::size_of::<Group>();
        if bytes <= SPARE_TEXTS_BYTES {
            SPARE_VIEW.with(|s| s.set(Some(spare)));
        }
    }
}

impl CommandView {
    fn ids(&self, s: Span) -> &[u32] {
        &self.ids[s.0 as usize..s.1 as usize]
    }

    fn str(&self, id: u32) -> &str {
        self.texts.str(id)
    }
}

/// The segments of `raw` when it is at least two distinct plain-words segments (see
/// [`plain_words`]) joined by `&&`, `||`, `|`, `;` or `&`, with no quote, escape or newline:
/// then the compatibility reading splits it into exactly those segments, each its own
/// normalized form, with no substitution, and assigns no variable.
fn plain_list(raw: &str) -> Option<Vec<&str>> {
    if !raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" -_./:,@+%=&|;".contains(&b))
        || memchr::memchr3(b'&', b'|', b';', raw.as_bytes()).is_none()
    {
        return None;
    }
    let segs = split_compound(raw);
    let mut distinct: Vec<&str> = Vec::new();
    for s in &segs {
        if !plain_words(s) {
            return None;
        }
        if !distinct.contains(s) {
            distinct.push(s);
        }
    }
    (distinct.len() >= 2).then_some(segs)
}

/// Builds the interned groups of one call.
struct ViewBuilder<'a> {
    pf: &'a Prefilter,
    texts: Texts,
    ids: Vec<u32>,
    /// Groups already built, by the id of their text, with their alias-overflow flag.
    memo: FxMap<u32, (Group, bool)>,
    overflow: bool,
    /// Normalized segments of this call.
    norm: NormCache,
    /// Scratch lists reused while building a group.
    scratch: [Vec<u32>; 4],
    /// Scratch text reused while building a group.
    text: String,
    /// Scratch for a normalized text, reused likewise.
    normalized: String,
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !s.is_empty() && !v.contains(&s) {
        v.push(s);
    }
}

/// Appends `id` unless it is already in `v`.
fn push_id(v: &mut Vec<u32>, id: u32) {
    if !v.contains(&id) {
        v.push(id);
    }
}

impl ViewBuilder<'_> {
    /// The id of `s`.
    fn id(&mut self, s: &str) -> u32 {
        self.texts.id(s, self.pf)
    }

    /// The group of one component text: the text, its body variants and their normalized
    /// forms (all also checked against exclusions), alternate readings of each, and the
    /// canonical rm/find aliases. Empty texts are left out except the component itself.
    fn group(&mut self, text: &str) -> Group {
        // Every group's text is in the table: its id is the memo's key.
        let text_id = self.id(text);
        if let Some(&(g, of)) = self.memo.get(&text_id) {
            self.overflow |= of;
            return g;
        }
        if plain_words(text) {
            // Plain words are their only reading (see `plain_words`).
            let g = self.push([&[text_id], &[text_id], &[]], false);
            self.memo.insert(text_id, (g, false));
            return g;
        }
        let mut base = std::mem::take(&mut self.scratch[0]);
        let mut direct = std::mem::take(&mut self.scratch[1]);
        let mut aliases = std::mem::take(&mut self.scratch[2]);
        base.clear();
        direct.clear();
        aliases.clear();
        base.push(text_id);
        for b in body_variants(text) {
            if !b.is_empty() {
                // A body variant is a substring of the text: its candidates are a subset.
                let id = self.texts.id_like(b, self.pf, Some(text_id));
                push_id(&mut base, id);
            }
        }
        // A copy of the text being read (the table grows while it is read).
        let mut t = std::mem::take(&mut self.text);
        let mut n = std::mem::take(&mut self.normalized);
        for i in 0..base.len() {
            t.clear();
            t.push_str(self.texts.str(base[i]));
            command::normalize_cached_into(&t, &mut self.norm, &mut n);
            if !n.is_empty() {
                let id = self.id(&n);
                push_id(&mut base, id);
            }
        }
        self.normalized = n;
        direct.extend_from_slice(&base);
        let mut of = false;
        for &id in &base {
            t.clear();
            t.push_str(self.texts.str(id));
            let (texts, pf) = (&mut self.texts, self.pf);
            command::for_each_alternate_reading(&t, |a| {
                if !a.is_empty() {
                    push_id(&mut direct, texts.id(a, pf));
                }
            });
            match rm_aliases(&t) {
                Ok(al) => {
                    for a in al {
                        let id = self.id(&a);
                        push_id(&mut aliases, id);
                    }
                }
                Err(_) => of = true,
            }
        }
        self.text = t;
        let g = self.push([&direct, &base, &aliases], false);
        self.scratch[0] = base;
        self.scratch[1] = direct;
        self.scratch[2] = aliases;
        self.overflow |= of;
        self.memo.insert(text_id, (g, of));
        g
    }

    /// Pushes direct, excl and alias lists (and `direct` lower-cased) into the arena.
    fn push(&mut self, lists: [&[u32]; 3], folded: bool) -> Group {
        let mut lower = std::mem::take(&mut self.scratch[3]);
        lower.clear();
        for &id in lists[0] {
            lower.push(self.texts.match_lower_id(id, self.pf));
        }
        let mut span = |v: &[u32]| {
            let start = self.ids.len() as u32;
            self.ids.extend_from_slice(v);
            (start, self.ids.len() as u32)
        };
        let direct = span(lists[0]);
        let excl = span(lists[1]);
        let aliases = span(lists[2]);
        // Direct texts that are already lower-case share their span.
        let lower_span = if lower.as_slice() == lists[0] {
            direct
        } else {
            span(&lower)
        };
        self.scratch[3] = lower;
        Group {
            direct,
            excl,
            aliases,
            lower: lower_span,
            folded,
        }
    }

    /// Interns `texts` as one new span.
    fn span(&mut self, texts: &[String]) -> Span {
        let start = self.ids.len() as u32;
        for t in texts {
            let id = self.texts.id(t, self.pf);
            self.ids.push(id);
        }
        (start, self.ids.len() as u32)
    }

    fn list(&self, s: Span) -> Vec<u32> {
        self.ids[s.0 as usize..s.1 as usize].to_vec()
    }

    /// `g` lower-cased (`fold_group`); `g` itself, marked folded, when nothing changes.
    fn fold(&mut self, g: Group) -> Group {
        // Mostly nothing changes: check without copying the lists.
        let spans = [g.direct, g.excl, g.aliases];
        let unchanged = spans.iter().all(|s| {
            (s.0..s.1).all(|i| {
                let id = self.ids[i as usize];
                self.texts.match_lower_id(id, self.pf) == id
            })
        });
        if unchanged {
            return Group { folded: true, ..g };
        }
        // The group scratch lists are free here (`push` uses the fourth).
        let [mut a, mut b, mut c, d] = std::mem::take(&mut self.scratch);
        for (l, s) in [&mut a, &mut b, &mut c].into_iter().zip(spans) {
            l.clear();
            for i in s.0..s.1 {
                let id = self.ids[i as usize];
                l.push(self.texts.match_lower_id(id, self.pf));
            }
        }
        self.scratch[3] = d;
        let folded = self.push([&a, &b, &c], true);
        self.scratch[0] = a;
        self.scratch[1] = b;
        self.scratch[2] = c;
        folded
    }

    /// Two groups with the same texts in the same order and the same folding.
    fn same(&self, a: &Group, b: &Group) -> bool {
        let l = |s: Span| &self.ids[s.0 as usize..s.1 as usize];
        a.folded == b.folded
            && l(a.direct) == l(b.direct)
            && l(a.excl) == l(b.excl)
            && l(a.aliases) == l(b.aliases)
    }

    /// A hash of [`ViewBuilder::same`]'s key.
    fn key(&self, g: &Group) -> u64 {
        use std::hash::{Hash, Hasher};
        let l = |s: Span| &self.ids[s.0 as usize..s.1 as usize];
        let mut h = FxHasher::default();
        (l(g.direct), l(g.excl), l(g.aliases), g.folded).hash(&mut h);
        h.finish()
    }

    /// The union of two groups (`a`'s texts first), as one unfolded group.
    fn merge(&mut self, a: Group, b: Group) -> Group {
        let mut lists = [self.list(a.direct), self.list(a.excl), self.list(a.aliases)];
        for (l, s) in lists.iter_mut().zip([b.direct, b.excl, b.aliases]) {
            for i in s.0..s.1 {
                push_id(l, self.ids[i as usize]);
            }
        }
        self.push([&lists[0], &lists[1], &lists[2]], false)
    }

    /// `g` without the empty text in its direct list.
    fn without_empty_direct(&mut self, g: Group) -> Group {
        let (a, b) = (g.direct.0 as usize, g.direct.1 as usize);
        if !self.ids[a..b]
            .iter()
            .any(|&id| self.texts.str(id).is_empty())
        {
            return g;
        }
        let direct: Vec<u32> = self.ids[a..b]
            .iter()
            .copied()
            .filter(|&id| !self.texts.str(id).is_empty())
            .collect();
        let (excl, aliases) = (self.list(g.excl), self.list(g.aliases));
        self.push([&direct, &excl, &aliases], g.folded)
    }
}

impl CommandView {
    fn build(raw_in: &str, pf: &Prefilter) -> CommandView {
        let raw = command::sanitize(raw_in);
        let analysis = shell::analyze(&raw);
        // The parser must see exactly the plain segments as its commands, nothing more.
        let parsed_as = |segs: &[&str]| {
            analysis.commands.len() == segs.len()
                && analysis.commands.iter().zip(segs).all(|(c, seg)| {
                    c.redirects.is_empty()
                        && c.assignments.is_empty()
                        && c.argv.iter().map(String::as_str).eq(seg.split(' '))
                })
        };
        if plain_words(&raw) && parsed_as(&[raw.as_str()]) {
            return CommandView::plain(&raw, pf);
        }
        if let Some(segs) = plain_list(&raw)
            && parsed_as(&segs)
        {
            return CommandView::plain_list(&raw, &segs, pf);
        }
        CommandView::general(raw, &analysis, pf)
    }

    /// The view of plain-words segments joined by operators (see [`plain_list`]), as
    /// [`CommandView::general`] would build it: each segment is its own component and only
    /// reading; the whole command and its normalized form (operators as ` && `) are the
    /// untied reading; the extra readings are all of these lower-cased (the parser sees the
    /// segments as its commands, repeating the tied groups).
    fn plain_list(raw: &str, segs: &[&str], pf: &Prefilter) -> CommandView {
        let normalized = segs.join(" && ");
        let mut texts = Texts::new(pf, raw.len(), 2 * segs.len() + 4);
        let mut ids: Vec<u32> = Vec::new();
        let push = |ids: &mut Vec<u32>, v: &[u32]| {
            let start = ids.len() as u32;
            ids.extend_from_slice(v);
            (start, ids.len() as u32)
        };
        let (norm_id, raw_id) = texts.whole_command(&normalized, raw, pf);
        let mut seg_ids: Vec<u32> = Vec::new();
        for seg in segs {
            let id = texts.id(seg, pf);
            if !seg_ids.contains(&id) {
                seg_ids.push(id);
            }
        }
        let components = push(&mut ids, &seg_ids);
        let mut groups = Vec::new();
        let mut extra = Vec::new();
        let mut folded_seen: Vec<u32> = Vec::new();
        for &id in &seg_ids {
            let lower = texts.match_lower_id(id, pf);
            let one = push(&mut ids, &[id]);
            let low = push(&mut ids, &[lower]);
            groups.push(Group {
                direct: one,
                excl: one,
                aliases: (0, 0),
                lower: low,
                folded: false,
            });
            if !folded_seen.contains(&lower) {
                folded_seen.push(lower);
                extra.push(Group {
                    direct: low,
                    excl: low,
                    aliases: (0, 0),
                    lower: low,
                    folded: true,
                });
            }
        }
        let whole: Vec<u32> = if norm_id == raw_id {
            vec![raw_id]
        } else {
            vec![raw_id, norm_id]
        };
        let whole_lower: Vec<u32> = whole.iter().map(|&i| texts.match_lower_id(i, pf)).collect();
        let raw_folded = texts.lower_id(raw_id, pf);
        let w = push(&mut ids, &whole);
        let wl = push(&mut ids, &whole_lower);
        let raw_group = Group {
            direct: w,
            excl: w,
            aliases: (0, 0),
            lower: wl,
            folded: false,
        };
        extra.push(Group {
            direct: wl,
            excl: wl,
            aliases: (0, 0),
            lower: wl,
            folded: true,
        });
        CommandView {
            raw: raw_id,
            raw_folded,
            norm_folded: None,
            normalized: norm_id,
            components,
            composite: true,
            groups,
            raw_group: Some(raw_group),
            extra,
            alias_overflow: false,
            texts,
            ids,
            plain: true,
        }
    }

    /// The view of a plain-words command, as [`CommandView::general`] would build it: the text
    /// is its own single component, normalized form and only reading; the parser sees the
    /// same one command; the only extra reading is the lower-cased text.
    fn plain(raw: &str, pf: &Prefilter) -> CommandView {
        let mut texts = Texts::new(pf, raw.len(), 2);
        let id = texts.id(raw, pf);
        let lower = texts.match_lower_id(id, pf);
        let raw_folded = texts.lower_id(id, pf);
        let one = |at: u32| (at, at + 1);
        let group = |t: Span, folded: bool| Group {
            direct: t,
            excl: t,
            aliases: (0, 0),
            lower: one(1),
            folded,
        };
        CommandView {
            raw: id,
            raw_folded,
            norm_folded: None,
            normalized: id,
            components: one(0),
            composite: false,
            groups: vec![group(one(0), false)],
            raw_group: None,
            extra: vec![group(one(1), true)],
            alias_overflow: false,
            texts,
            ids: vec![id, lower],
            plain: true,
        }
    }

    fn general(raw: String, analysis: &shell::ShellAnalysis, pf: &Prefilter) -> CommandView {
        // The scratch space and id arena of the last view built on this thread, emptied.
        let mut spare = SPARE_BUILDER.with(Cell::take).unwrap_or_default();
        spare.norm.clear();
        spare.memo.clear();
        let ViewSpare {
            mut ids,
            groups: mut tied,
            mut extra,
        } = SPARE_VIEW.with(Cell::take).unwrap_or_default();
        ids.clear();
        ids.reserve(128);
        tied.clear();
        extra.clear();
        let (mut candidates, mut seen) = (
            std::mem::take(&mut spare.candidates),
            std::mem::take(&mut spare.seen),
        );
        // Candidates are drained into `extra` below, so they come back empty.
        debug_assert!(candidates.is_empty());
        seen.clear();
        let grant = grant_view_cached(&raw, &mut spare.norm);
        let mut b = ViewBuilder {
            pf,
            texts: Texts::new(pf, raw.len(), 32),
            ids,
            memo: spare.memo,
            overflow: false,
            norm: spare.norm,
            scratch: spare.scratch,
            text: spare.text,
            normalized: spare.normalized,
        };
        let (normalized, raw_id) = b.texts.whole_command(&grant.normalized, &raw, pf);
        tied.extend(grant.components.iter().map(|c| b.group(c)));
        let raw_g = b.group(&raw);
        let raw_group = if tied.len() == 1 {
            // A single component: the whole command is that component.
            tied[0] = b.merge(tied[0], raw_g);
            None
        } else {
            Some(raw_g)
        };
        // Extra readings, in order: the folded groups, then per parser command its heredoc
        // segments (folded, then as written) and the command (folded, then as written).
        candidates.reserve(tied.len() + 1 + 2 * analysis.commands.len());
        for &g in &tied {
            candidates.push(b.fold(g));
        }
        if let Some(g) = raw_group {
            candidates.push(b.fold(g));
        }
        // Commands the bash parser finds: behind sudo/xargs/find -exec/ssh, in heredocs fed
        // to shells, in substitutions, in any letter case.
        let mut text = String::new();
        for c in &analysis.commands {
            text.clear();
            for (i, w) in c.argv.iter().enumerate() {
                if i > 0 {
                    text.push(' ');
                }
                text.push_str(w);
            }
            let g = b.group(&text);
            let g = b.without_empty_direct(g);
            for r in &c.redirects {
                if !r.heredoc.is_empty() {
                    for seg in split_compound(&r.heredoc) {
                        let hg = b.group(seg);
                        candidates.push(b.fold(hg));
                        candidates.push(hg);
                    }
                }
            }
            candidates.push(b.fold(g));
            candidates.push(g);
        }
        // A reading identical to a tied group or to an earlier reading is left out.
        // Few readings: a linear scan of their hashes; many: a map.
        extra.reserve(candidates.len());
        if tied.len() + candidates.len() <= 64 {
            seen.extend(tied.iter().map(|g| (b.key(g), *g)));
            for g in candidates.drain(..) {
                let k = b.key(&g);
                if !seen.iter().any(|(ok, o)| *ok == k && b.same(o, &g)) {
                    seen.push((k, g));
                    extra.push(g);
                }
            }
        } else {
            let mut seen: FxMap<u64, Vec<Group>> = FxMap::default();
            for g in &tied {
                seen.entry(b.key(g)).or_default().push(*g);
            }
            for g in candidates.drain(..) {
                let list = seen.entry(b.key(&g)).or_default();
                if !list.iter().any(|o| b.same(o, &g)) {
                    list.push(g);
                    extra.push(g);
                }
            }
        }
        // Every text a rule may read is in the table, so the union of candidates covers them.
        let raw_folded = b.texts.lower_id(raw_id, pf);
        let norm_folded = memchr::memchr3(b'\'', b'"', b'\\', raw.as_bytes())
            .is_some()
            .then(|| b.texts.lower_id(normalized, pf));
        let components = b.span(&grant.components);
        let ViewBuilder {
            texts,
            ids,
            memo,
            overflow,
            norm,
            scratch,
            text,
            normalized: normalized_text,
            ..
        } = b;
        // Kept unless a large command grew them (the scratch lists stay within the arena).
        if memo.capacity() <= 1024
            && text.capacity() + normalized_text.capacity() <= SPARE_TEXTS_BYTES
        {
            SPARE_BUILDER.with(|s| {
                s.set(Some(BuilderSpare {
                    memo,
                    norm,
                    scratch,
                    text,
                    normalized: normalized_text,
                    candidates,
                    seen,
                }))
            });
        }
        CommandView {
            raw: raw_id,
            raw_folded,
            norm_folded,
            normalized,
            components,
            composite: grant.composite,
            groups: tied,
            raw_group,
            extra,
            alias_overflow: overflow,
            texts,
            ids,
            plain: false,
        }
    }

    /// Renders the view's readings as text (ids resolved), for comparing two builds.
    #[cfg(test)]
    fn render(&self) -> String {
        let t = |s: Span| self.ids(s).iter().map(|&i| self.str(i)).collect::<Vec<_>>();
        let g = |g: &Group| {
            format!(
                "direct={:?} excl={:?} aliases={:?} lower={:?} folded={}",
                t(g.direct),
                t(g.excl),
                t(g.aliases),
                t(g.lower),
                g.folded
            )
        };
        let mut all: Vec<&str> = (0..self.texts.spans.len() as u32)
            .map(|i| self.str(i))
            .collect();
        all.sort_unstable();
        let mut out = format!("texts={all:?}\n");
        out += &format!(
            "raw={:?} raw_folded={:?} norm_folded={:?} normalized={:?} components={:?} composite={} overflow={}\n",
            self.str(self.raw),
            self.str(self.raw_folded),
            self.norm_folded.map(|i| self.str(i)),
            self.str(self.normalized),
            t(self.components),
            self.composite,
            self.alias_overflow
        );
        for x in &self.groups {
            out += &format!("group {}\n", g(x));
        }
        if let Some(x) = &self.raw_group {
            out += &format!("raw_group {}\n", g(x));
        }
        for x in &self.extra {
            out += &format!("extra {}\n", g(x));
        }
        out
    }
}

/// A rule that fired for one policy during an evaluation.
struct Fired<'r> {
    policy: String,
    index: usize,
    rule: &'r CompiledRule,
    project: bool,
}

/// Per-call lazily computed views.
struct CallView<'a> {
    call: &'a ToolCall,
    prefilter: &'a Prefilter,
    fields: Fields,
    cmd: OnceCell<Option<CommandView>>,
    paths: OnceCell<Vec<String>>,
    env_names: OnceCell<Vec<String>>,
    name_skeleton: OnceCell<String>,
}

impl<'a> CallView<'a> {
    fn command(&self) -> Option<&CommandView> {
        self.cmd
            .get_or_init(|| {
                self.fields
                    .command
                    .as_deref()
                    .map(|c| CommandView::build(c, self.prefilter))
            })
            .as_ref()
    }

    fn paths(&self) -> &[String] {
        self.paths.get_or_init(|| {
            let Some(p) = self.fields.path.as_deref() else {
                return Vec::new();
            };
            path_candidates(
                p,
                self.fields.workdir.as_deref(),
                self.call.resolved_path.as_deref(),
            )
        })
    }

    /// [`command::word_skeleton`] of the sanitized command: every name
    /// [`env_assignment_names`] finds is a substring of it.
    fn name_skeleton(&self) -> &str {
        self.name_skeleton.get_or_init(|| {
            self.command()
                .map(|v| command::word_skeleton(v.str(v.raw)).into_owned())
                .unwrap_or_default()
        })
    }

    fn env_names(&self) -> &[String] {
        self.env_names.get_or_init(|| {
            match self.command() {
                // Plain words assign nothing (see `plain_words`).
                Some(v) if !v.plain => env_assignment_names(v.str(v.raw)),
                _ => Vec::new(),
            }
        })
    }
}

/// Path candidates: cleaned (joined to the working directory), resolved, relative spelling.
pub fn path_candidates(path: &str, workdir: Option<&str>, resolved: Option<&str>) -> Vec<String> {
    let p = path.replace('\\', "/");
    let wd = workdir
        .map(|w| w.replace('\\', "/"))
        .filter(|w| !w.is_empty());
    let relative = !p.starts_with('/');
    let cleaned = match (&wd, relative) {
        (Some(wd), true) => command::clean_path(&format!("{wd}/{p}")),
        _ => command::clean_path(&p),
    };
    let mut out = vec![cleaned.clone()];
    if let Some(r) = resolved {
        push_unique(&mut out, r.replace('\\', "/"));
    }
    if wd.is_some() && relative {
        push_unique(&mut out, command::clean_path(&p));
    }
    out
}

/// Variable names the command assigns (leading assignments, env, export/declare/typeset, set).
pub fn env_assignment_names(raw: &str) -> Vec<String> {
    let mut names = Vec::new();
    if !assigns_nothing(raw) {
        collect_env(raw, &mut names, 0);
    }
    names
}

/// Words after which a name is assigned without an `=` in sight (`export NAME`, `set NAME`).
const BARE_ASSIGNERS: &[&str] = &["export", "declare", "typeset", "local", "readonly", "set"];

/// A cheap proof that [`collect_env`] finds nothing: no `=` anywhere, no ANSI-C quote that
/// could spell one, and none of [`BARE_ASSIGNERS`] anywhere in the text with quotes,
/// backslashes and newlines removed, in any letter case (so `'ex'port`, `ex\port`, a
/// line-continued `ex\⏎port` and `SETX` are still read in full).
fn assigns_nothing(raw: &str) -> bool {
    if raw.contains('=') || raw.contains("$'") {
        return false;
    }
    let folded = command::word_skeleton(raw).to_ascii_lowercase();
    !BARE_ASSIGNERS.iter().any(|w| folded.contains(w))
}

fn collect_env(s: &str, names: &mut Vec<String>, depth: usize) {
    collect_env_with(s, names, depth, true);
}

/// [`collect_env`]; with `lazy` false every segment's raw words are read, even when they
/// cannot name anything (to check the shortcut against).
fn collect_env_with(s: &str, names: &mut Vec<String>, depth: usize, lazy: bool) {
    if depth > 4 {
        return;
    }
    for seg in split_compound(s) {
        let toks = command::tokenize(seg);
        // The raw words are read only when they can name something: an `=` somewhere, or a
        // first word that assigns without one (with no `=`, no word is an assignment, so the
        // first word is the command).
        let words = if !lazy
            || seg.contains('=')
            || toks.first().is_some_and(|w| {
                // The first words the match below reads raw words for.
                let b = command::basename(w);
                b == "env"
                    || BARE_ASSIGNERS.contains(&b)
                    || b.eq_ignore_ascii_case("set")
                    || b.eq_ignore_ascii_case("setx")
            }) {
            raw_words(seg)
        } else {
            Vec::new()
        };
        let mut i = 0;
        while let Some(w) = words.get(i) {
            match assignment_name(w) {
                Some(n) => push_unique(names, n),
                None => break,
            }
            i += 1;
        }
        let rest = &toks[i.min(toks.len())..];
        let raw_rest = &words[i.min(words.len())..];
        match rest.first().map(|w| command::basename(w)) {
            Some("env") => {
                for w in raw_rest.iter().skip(1) {
                    if let Some(n) = assignment_name(w) {
                        push_unique(names, n);
                    } else if !w.starts_with('-') {
                        break;
                    }
                }
            }
            Some("export" | "declare" | "typeset" | "local" | "readonly") => {
                for w in raw_rest.iter().skip(1) {
                    if w.starts_with('-') {
                        continue;
                    }
                    let name = w.split('=').next().unwrap_or_default();
                    if command::is_name(name) {
                        push_unique(names, name.to_string());
                    }
                }
            }
            Some(first)
                if first.eq_ignore_ascii_case("set") || first.eq_ignore_ascii_case("setx") =>
            {
                if let Some(w) = raw_rest.get(1) {
                    let name = w.split('=').next().unwrap_or_default();
                    if command::is_name(name) {
                        push_unique(names, name.to_string());
                    }
                }
            }
            _ => {}
        }
        // PowerShell: $env:NAME = ...
        let mut rest_s = seg;
        while let Some(at) = find_env_prefix(rest_s) {
            let after = &rest_s[at + 5..];
            let n: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let tail = after[n.len()..].trim_start();
            if !n.is_empty() && tail.starts_with('=') && !tail.starts_with("==") {
                push_unique(names, n.clone());
            }
            rest_s = &after[n.len()..];
        }
        // `normalize_segment(seg)`, from the words already split.
        let norm = command::normalize_tokens(toks);
        if norm != seg && !norm.is_empty() {
            collect_env_with(&norm, names, depth + 1, lazy);
        }
    }
    for sub in command::extract_subcommands(s) {
        collect_env_with(&sub, names, depth + 1, lazy);
    }
}

/// Where `$env:` (any letter case) first starts in `s`.
fn find_env_prefix(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    memchr::memchr_iter(b'$', b).find(|&i| {
        b.get(i + 1..i + 5)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"env:"))
    })
}

/// `NAME` when the unquoted word is `NAME=value`.
fn assignment_name(w: &str) -> Option<String> {
    let eq = w.find('=')?;
    let name = &w[..eq];
    command::is_name(name).then(|| name.to_string())
}

/// Words split on blanks with quotes kept (so quoted text is never an assignment).
fn raw_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut sq, mut dq, mut esc) = (false, false, false);
    for c in s.chars() {
        if esc {
            cur.push(c);
            esc = false;
            continue;
        }
        match c {
            '\\' if !sq => {
                esc = true;
                cur.push(c);
            }
            '\'' if !dq => {
                sq = !sq;
                cur.push(c);
            }
            '"' if !sq => {
                dq = !dq;
                cur.push(c);
            }
            ' ' | '\t' if !sq && !dq => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Hits of one rule's command patterns in one group.
struct GroupHit {
    positive: bool,
    live: bool,
}

fn group_hit(c: &Conditions, v: &CommandView, g: &Group, with_contains: bool) -> GroupHit {
    let texts = &v.texts;
    // Only the patterns whose literals the text has are matched.
    let any = |ids: &PatternIds, pats: &[CmdPattern], id: u32| {
        ids.any(pats, texts.bits(id), |p| {
            texts.glob_matches(if g.folded { p.folded() } else { &p.exact }, id)
        })
    };
    let matched = |id: u32| any(&c.cmd_ids, &c.cmd, id);
    let excluded = |id: u32| any(&c.not_ids, &c.cmd_not, id);
    let normal = v.ids(g.direct).iter().any(|&id| matched(id))
        || (with_contains
            && v.ids(g.lower).iter().any(|&id| {
                c.contains_finders
                    .iter()
                    .zip(&c.contains_ids)
                    .any(|(f, &k)| {
                        has_bit(texts.bits(id), k) && f.find(texts.str(id).as_bytes()).is_some()
                    })
            }));
    let mut alias_hit = false;
    let mut alias_live = false;
    for &a in v.ids(g.aliases) {
        if matched(a) {
            alias_hit = true;
            if !excluded(a) {
                alias_live = true;
                break;
            }
        }
    }
    let group_excluded = normal && v.ids(g.excl).iter().any(|&id| excluded(id));
    let live = (normal && !group_excluded) || alias_live;
    GroupHit {
        positive: normal || alias_hit,
        live,
    }
}

/// Restrictive command matching: reference candidates, then parser and case-folded readings.
fn restrictive_command(c: &Conditions, v: &CommandView) -> bool {
    let has_m = !c.cmd.is_empty();
    let has_c = !c.contains.is_empty();
    let raw_contains = has_c
        && c.contains_finders.iter().any(|f| {
            f.find(v.str(v.raw_folded).as_bytes()).is_some()
                || v.norm_folded
                    .is_some_and(|n| f.find(v.str(n).as_bytes()).is_some())
        });
    if raw_contains && has_m {
        return true;
    }
    if has_m && v.alias_overflow {
        return true;
    }
    let mut positive = false;
    let mut live = false;
    for g in &v.groups {
        let h = group_hit(c, v, g, has_c);
        positive |= h.positive;
        live |= h.live;
    }
    let reference = if positive {
        live
    } else {
        raw_contains
            || v.raw_group
                .as_ref()
                .is_some_and(|g| group_hit(c, v, g, has_c).positive)
    };
    reference || v.extra.iter().any(|g| group_hit(c, v, g, has_c).live)
}

/// Grant command matching: every component covered by this rule (or an explicit composite).
fn grant_command(c: &Conditions, v: &CommandView) -> bool {
    let texts = &v.texts;
    let pat =
        |p: &CmdPattern, id: u32| has_bit(texts.bits(id), p.id) && texts.glob_matches(&p.exact, id);
    let matched = |id: u32| {
        c.cmd_ids
            .any(&c.cmd, texts.bits(id), |p| texts.glob_matches(&p.exact, id))
    };
    let excluded = |id: u32| {
        c.not_ids.any(&c.cmd_not, texts.bits(id), |p| {
            texts.glob_matches(&p.exact, id)
        })
    };
    let components = v.ids(v.components);
    if excluded(v.raw) || excluded(v.normalized) || components.iter().any(|&id| excluded(id)) {
        return false;
    }
    if v.composite
        && c.cmd
            .iter()
            .any(|p| p.composite() && (pat(p, v.raw) || pat(p, v.normalized)))
    {
        return true;
    }
    if components.is_empty() {
        return false;
    }
    components.iter().all(|&id| {
        matched(id)
            || c.contains.iter().zip(&c.contains_ids).any(|(s, &k)| {
                !s.is_empty() && has_bit(texts.bits(id), k) && texts.str(id).contains(s.as_str())
            })
    })
}

fn path_pattern_matches(p: &PathPattern, cand: &str, wd: Option<&str>) -> bool {
    if p.glob.matches(cand) || p.resolved.as_ref().is_some_and(|r| r.matches(cand)) {
        return true;
    }
    match wd {
        Some(wd) if p.relative && cand.starts_with('/') => {
            PathGlob::new(&format!("{}/{}", wd.trim_end_matches('/'), p.text())).matches(cand)
        }
        Some(wd) if !p.relative && !cand.starts_with('/') => {
            let joined = command::clean_path(&format!("{}/{cand}", wd.trim_end_matches('/')));
            p.glob.matches(&joined) || p.resolved.as_ref().is_some_and(|r| r.matches(&joined))
        }
        _ => false,
    }
}

fn path_matches(c: &Conditions, v: &CallView, restrictive: bool) -> bool {
    let cands = v.paths();
    if cands.is_empty() {
        return false;
    }
    let wd = v.fields.workdir.as_deref();
    let hit = |cand: &String| c.path.iter().any(|p| path_pattern_matches(p, cand, wd));
    let excl = |cand: &String| c.path_not.iter().any(|p| path_pattern_matches(p, cand, wd));
    if restrictive {
        let all_excluded = !c.path_not.is_empty() && cands.iter().all(excl);
        cands.iter().any(hit) && !all_excluded
    } else {
        cands.iter().all(hit) && !cands.iter().any(excl)
    }
}

fn rule_matches(rule: &CompiledRule, v: &CallView, ctx: &EvalContext) -> bool {
    let c = &rule.when;
    if c.always {
        return true;
    }
    if !c.has_positive {
        return false;
    }
    let restrictive = rule.action.is_restrictive();
    if !c.cmd.is_empty() || !c.contains.is_empty() {
        let Some(cmd) = v.command() else { return false };
        // No text of the call holds a literal the command condition needs.
        let fail_closed = restrictive && !c.cmd.is_empty() && cmd.alias_overflow;
        if !fail_closed && !c.command_gate.intersects(cmd.texts.union()) {
            return false;
        }
        let ok = if restrictive {
            restrictive_command(c, cmd)
        } else {
            grant_command(c, cmd)
        };
        if !ok {
            return false;
        }
    }
    if !c.env.is_empty() {
        let Some(cmd) = v.command() else { return false };
        // Plain words assign nothing (see `plain_words`).
        if cmd.plain {
            return false;
        }
        // No name a glob could match is spelled in the command: nothing to read.
        let skeleton = v.name_skeleton();
        if !c
            .env_literals
            .iter()
            .any(|lits| lits.iter().all(|l| skeleton.contains(l.as_str())))
        {
            return false;
        }
        let names = v.env_names();
        if !names.iter().any(|n| c.env.iter().any(|g| g.matches(n))) {
            return false;
        }
        let excluded = |t: &str| c.cmd_not.iter().any(|p| p.exact.matches(t));
        if excluded(cmd.str(cmd.raw)) || excluded(cmd.str(cmd.normalized)) {
            return false;
        }
    }
    if !c.path.is_empty() && !path_matches(c, v, restrictive) {
        return false;
    }
    if !c.url.is_empty() {
        let Some(u) = v.fields.url.as_deref() else {
            return false;
        };
        if !c.url.iter().any(|g| g.matches(u)) {
            return false;
        }
    }
    if !c.domain.is_empty() {
        let Some(d) = v.fields.domain.as_deref() else {
            return false;
        };
        if !c.domain.iter().any(|g| g.matches(d)) {
            return false;
        }
    }
    if !c.session.is_empty() && !c.session.iter().any(|g| g.matches(&v.call.session)) {
        return false;
    }
    if c.session_not.iter().any(|g| g.matches(&v.call.session)) {
        return false;
    }
    if let Some(d) = &c.depth {
        let depth = i64::from(v.call.agent_depth);
        if d.gte.is_some_and(|x| depth < x)
            || d.lte.is_some_and(|x| depth > x)
            || d.eq.is_some_and(|x| depth != x)
        {
            return false;
        }
    }
    if !c.params.is_empty() {
        let any = c.params.iter().any(|(k, g)| {
            fields::input_param(&v.call.input, k).is_some_and(|val| g.matches(&val.to_lowercase()))
        });
        if !any {
            return false;
        }
    }
    if let Some(cc) = &c.call_count {
        let tool = cc.tool.as_deref().unwrap_or(&v.call.tool);
        match ctx.counter.and_then(|k| k.count(tool, cc.window)) {
            Some(n) if n >= cc.gte => {}
            _ => return false,
        }
    }
    true
}

fn now_unix(ctx: &EvalContext) -> i64 {
    ctx.now_unix.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    })
}

/// The first live rule of a policy that matches, with its index.
fn first_match<'p>(
    p: &'p CompiledPolicy,
    v: &CallView,
    ctx: &EvalContext,
    now: i64,
) -> Option<(usize, &'p CompiledRule)> {
    p.rules
        .iter()
        .enumerate()
        .find(|(_, r)| r.expires_at.is_none_or(|e| now <= e) && rule_matches(r, v, ctx))
}

impl CompiledPolicySet {
    /// Evaluates a call with the system clock and no counter (preview semantics).
    pub fn evaluate(&self, call: &ToolCall) -> Decision {
        self.evaluate_with(call, &EvalContext::default())
    }

    /// Evaluates a call (spec §8.1).
    pub fn evaluate_with(&self, call: &ToolCall, ctx: &EvalContext) -> Decision {
        let start = Instant::now();
        let mut d = self.decide(call, ctx);
        d.eval_duration = start.elapsed();
        d
    }

    fn decide(&self, call: &ToolCall, ctx: &EvalContext) -> Decision {
        // Host tool names (`Bash`, `Read`, `EXEC`) are canonicalized at the engine boundary,
        // so an un-normalized name can never slip past every exec policy.
        // Lower-case names are policy tool classes (`web_fetch`, `mcp__x__y`) and stay as given.
        let canonical;
        let mapped = if call.tool.bytes().any(|b| b.is_ascii_uppercase()) {
            super::call::canonical_tool(&call.tool)
        } else {
            std::borrow::Cow::Borrowed(call.tool.as_str())
        };
        let call = match mapped {
            std::borrow::Cow::Owned(t) => {
                canonical = ToolCall {
                    tool: t,
                    ..call.clone()
                };
                &canonical
            }
            std::borrow::Cow::Borrowed(t) if t != call.tool => {
                canonical = ToolCall {
                    tool: t.to_string(),
                    ..call.clone()
                };
                &canonical
            }
            std::borrow::Cow::Borrowed(_) => call,
        };
        let fields = match fields::extract(call) {
            Ok(f) => f,
            Err(msg) => return Decision::bare(Action::Deny, msg),
        };
        for k in &self.param_keys {
            if let Some(v) = fields::input_param(&call.input, k)
                && let Err(msg) = fields::oversize(&format!("input parameter {k:?}"), &v)
            {
                return Decision::bare(Action::Deny, msg);
            }
        }
        let view = CallView {
            call,
            prefilter: &self.prefilter,
            fields,
            cmd: OnceCell::new(),
            paths: OnceCell::new(),
            env_names: OnceCell::new(),
            name_skeleton: OnceCell::new(),
        };
        let now = now_unix(ctx);
        let scoped = self.in_scope(&call.tool, &call.agent, &call.session);
        let durable = scoped.iter().filter(|p| p.durable).find_map(|p| {
            let (i, r) = first_match(p, &view, ctx, now)?;
            (r.action == Action::Allow).then(|| {
                let msg = if !r.message.is_empty() {
                    r.message.clone()
                } else if p.origin.source.ends_with("auto-allowed.yaml") {
                    "auto-allowed by user rule".to_string()
                } else {
                    "allowed by durable user override".to_string()
                };
                let mut d = Decision::bare(Action::Allow, msg);
                let rr = RuleRef {
                    policy: p.name.clone(),
                    rule_index: i,
                };
                d.matched_policies = vec![p.name.clone()];
                if r.once {
                    d.once = Some(rr.clone());
                }
                d.winner = Some(rr);
                d
            })
        });
        let scoped: Vec<&CompiledPolicy> = match ctx.policy_filter {
            Some(f) => scoped
                .into_iter()
                .filter(|p| p.origin.filter_name().eq_ignore_ascii_case(f))
                .collect(),
            None => scoped,
        };
        let default = if ctx.default_deny {
            Action::Deny
        } else {
            self.default_action
        };
        if scoped.is_empty() {
            return durable.unwrap_or_else(|| {
                Decision::bare(default, "no matching policy; using default action")
            });
        }
        let mut fired: Vec<Fired> = Vec::new();
        for p in &scoped {
            let Some((i, r)) = first_match(p, &view, ctx, now) else {
                continue;
            };
            fired.push(Fired {
                policy: p.name.clone(),
                index: i,
                rule: r,
                project: p.origin.project,
            });
            if r.action == Action::Deny {
                break;
            }
        }
        let best = fired
            .iter()
            .enumerate()
            .max_by_key(|(i, f)| (f.rule.action.precedence(), std::cmp::Reverse(*i)))
            .map(|(i, _)| i);
        if let Some(b) = best
            && fired[b].rule.action == Action::Deny
        {
            return build_decision(&fired, b, &view);
        }
        if let Some(d) = durable {
            return d;
        }
        let global_fired = fired.iter().any(|f| !f.project);
        let combined = best.map(|b| fired[b].rule.action);
        if !global_fired {
            let project_fired = !fired.is_empty();
            let msg = |a: Action| {
                if project_fired {
                    format!("project policy cannot weaken global default {a}")
                } else {
                    format!("no rule matched; default action is {a}")
                }
            };
            match default {
                Action::Deny | Action::Ask => return Decision::bare(default, msg(default)),
                Action::Watch if matches!(combined, None | Some(Action::Allow)) => {
                    return Decision::bare(Action::Watch, msg(Action::Watch));
                }
                _ => {}
            }
        }
        let Some(b) = best else {
            return Decision::bare(default, "no matching rule; using default action");
        };
        build_decision(&fired, b, &view)
    }

    /// Evaluates a tool's output against response rules (spec §8.5).
    pub fn evaluate_response(&self, call: &ToolCall, response: &str) -> Decision {
        let start = Instant::now();
        let mut d = self.decide_response(call, response);
        d.eval_duration = start.elapsed();
        d
    }

    fn decide_response(&self, call: &ToolCall, response: &str) -> Decision {
        if let Err(msg) = fields::extract(call) {
            return Decision::bare(Action::Deny, msg);
        }
        let scoped = self.in_scope(&call.tool, &call.agent, &call.session);
        if scoped.is_empty() {
            return Decision::bare(Action::Allow, "no matching policy; response allowed");
        }
        let uses_response = scoped
            .iter()
            .any(|p| p.rules.iter().any(|r| !r.when.response.is_empty()));
        if response.len() > MAX_RESPONSE_BYTES && uses_response {
            return Decision::bare(
                Action::Deny,
                format!(
                    "response exceeds the {MAX_RESPONSE_BYTES}-byte policy matching limit; failing closed"
                ),
            );
        }
        if response.is_empty() {
            return Decision::bare(Action::Allow, "no matching response rule; response allowed");
        }
        let mut watch: Option<Decision> = None;
        let mut allow: Option<Decision> = None;
        for p in scoped {
            let hit = p.rules.iter().enumerate().find(|(_, r)| {
                !r.when.response.is_empty()
                    && r.when.response.any_match(response)
                    && !r.when.response_not.any_match(response)
            });
            let Some((i, r)) = hit else { continue };
            let mut d = Decision::bare(r.action, r.message.clone());
            d.winner = Some(RuleRef {
                policy: p.name.clone(),
                rule_index: i,
            });
            d.matched_policies = vec![p.name.clone()];
            d.from_project_policy = p.origin.project;
            match r.action {
                Action::Deny | Action::Ask | Action::Webhook => {
                    d.action = Action::Deny;
                    return d;
                }
                Action::Watch => {
                    watch.get_or_insert(d);
                }
                Action::Allow => {
                    allow.get_or_insert(d);
                }
            }
        }
        watch.or(allow).unwrap_or_else(|| {
            Decision::bare(Action::Allow, "no matching response rule; response allowed")
        })
    }
}

/// The decision of the rule `fired[win]`, with every other fired rule listed beside it.
fn build_decision(fired: &[Fired], win: usize, view: &CallView) -> Decision {
    let w = &fired[win];
    let rule = w.rule;
    let mut d = Decision::bare(rule.action, rule.message.clone());
    let winner = RuleRef {
        policy: w.policy.clone(),
        rule_index: w.index,
    };
    d.matched_policies.push(w.policy.clone());
    for (i, f) in fired.iter().enumerate() {
        if i == win {
            continue;
        }
        if !d.matched_policies.contains(&f.policy) {
            d.matched_policies.push(f.policy.clone());
        }
        d.also_fired.push(RuleRef {
            policy: f.policy.clone(),
            rule_index: f.index,
        });
    }
    d.from_project_policy = w.project;
    match rule.action {
        Action::Ask => d.ask = rule.ask,
        Action::Webhook => d.webhook = rule.webhook.clone(),
        Action::Allow if rule.once => d.once = Some(winner.clone()),
        Action::Deny => {
            d.suggestions = suggest::suggestions(
                &view.call.tool,
                view.fields.command.as_deref(),
                view.fields.path.as_deref(),
            )
        }
        _ => {}
    }
    d.winner = Some(winner);
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::compile;
    use crate::engine::resolve::embedded;
    use proptest::prelude::*;

    fn standard_prefilter() -> &'static Prefilter {
        static PF: std::sync::OnceLock<Prefilter> = std::sync::OnceLock::new();
        PF.get_or_init(|| compile(&embedded("standard").expect("standard")).prefilter)
    }

    /// The fast path and the general path build the same view (and plain words assign nothing).
    fn same_view(cmd: &str) {
        let pf = standard_prefilter();
        let fast = CommandView::build(cmd, pf);
        let raw = command::sanitize(cmd);
        let general = CommandView::general(raw.clone(), &shell::analyze(&raw), pf);
        assert_eq!(fast.render(), general.render(), "command {cmd:?}");
        assert_eq!(fast.texts.union(), general.texts.union(), "command {cmd:?}");
        if fast.plain {
            assert!(env_assignment_names(&raw).is_empty(), "command {cmd:?}");
        }
    }

    /// The literal prefilter must never hide a match: `**/x` also matches `x` itself.
    #[test]
    fn prefilter_keeps_leading_doublestar_slash_matches() {
        let yaml = "version: \"1\"\ndefault_action: allow\npolicies:\n  - name: creds\n    match:\n      tool: [exec]\n    rules:\n      - action: deny\n        when:\n          command_matches: [\"**/.aws/credentials\"]\n";
        let set = compile(&crate::engine::load::load_text("t", yaml).expect("policy"));
        let d = set.evaluate(&ToolCall::exec(".aws/credentials"));
        assert_eq!(d.action, Action::Deny);
    }

    /// A plain list whose last segment ends the command (24 bytes or more, so it takes the
    /// command's candidates) gets the same lower-cased readings on the fast path as on the
    /// general one (found by `list_fast_path_matches_general`).
    #[test]
    fn list_fast_path_enters_the_whole_command_first() {
        same_view("curl & su & -RF eval done xargs export");
        same_view("-RF eval done xargs export && curl");
    }

    /// The text table, id arena and scratch space reused from the last evaluation on the
    /// thread start empty: views built one after another render exactly as views built with
    /// fresh ones, and an outsized table is not kept.
    #[test]
    fn reused_view_buffers_start_empty() {
        let pf = standard_prefilter();
        let cmds = [
            "python -c \"import os;os.system('rm -rf /')\" | tee /tmp/x",
            "git status",
            "printenv | grep -E \"(AWS_|GITHUB_|OPENAI_|TOKEN|SECRET)\"",
            "RM -RF /",
            "printenv | grep -E \"(AWS_|GITHUB_|OPENAI_|TOKEN|SECRET|KEY)\"",
            "bash -lc 'cd /repo && make build 2>&1 | tail -5'",
        ];
        let view = |c: &str| {
            let v = CommandView::build(c, pf);
            (v.render(), v.texts.union().to_vec(), v.ids.len())
        };
        let fresh: Vec<_> = cmds
            .iter()
            .map(|c| {
                SPARE_TEXTS.with(Cell::take);
                SPARE_VIEW.with(Cell::take);
                SPARE_BUILDER.with(Cell::take);
                view(c)
            })
            .collect();
        for _ in 0..2 {
            for (c, f) in cmds.iter().zip(&fresh) {
                assert_eq!(&view(c), f, "{c}");
                // Kept, and holding only the texts of the last view.
                let t = SPARE_TEXTS.with(Cell::take).expect("table kept");
                let held: u32 = t.spans.iter().map(|s| s.1 - s.0).sum();
                assert_eq!(t.buf.len(), held as usize);
                SPARE_TEXTS.with(|s| s.set(Some(t)));
            }
        }
        let big = format!("echo {}", "x".repeat(100_000));
        drop(CommandView::build(&big, pf));
        assert!(SPARE_TEXTS.with(Cell::take).is_none());
    }

    /// Lower-cased twins are made only for texts a rule can match: an ASCII text with no
    /// candidate stands for itself; one with candidates, or a non-ASCII one (Unicode
    /// lower-casing can make new ASCII letters), gets its lower-cased text.
    #[test]
    fn lower_case_twins_only_where_rules_can_read_them() {
        let pf = standard_prefilter();
        let mut t = Texts::new(pf, 64, 8);
        let none = t.id("ECHO HELLO", pf);
        assert!(t.bits(none).iter().all(|&w| w == 0));
        assert_eq!(t.match_lower_id(none, pf), none);
        assert_eq!(t.match_lower_id(none, pf), none, "remembered");
        assert_eq!(t.spans.len(), 1, "no copy made");
        // The true lower-case text is still there for readers of its content.
        let low = t.lower_id(none, pf);
        assert_eq!(t.str(low), "echo hello");
        let rm = t.id("RM -RF /", pf);
        assert!(t.bits(rm).iter().any(|&w| w != 0));
        let rm_low = t.match_lower_id(rm, pf);
        assert_eq!(t.str(rm_low), "rm -rf /");
        let kelvin = t.id("CAT ~/.\u{212a}UBE/CONFIG", pf);
        assert!(t.bits(kelvin).iter().all(|&w| w == 0));
        let k_low = t.match_lower_id(kelvin, pf);
        assert_eq!(t.str(k_low), "cat ~/.kube/config");
        assert!(t.bits(k_low).iter().any(|&w| w != 0));
        // And the decisions that rest on them.
        let set = compile(&embedded("standard").expect("standard"));
        for cmd in ["RM -RF /", "CAT ~/.\u{212a}UBE/CONFIG"] {
            let d = set.evaluate(&ToolCall::exec(cmd));
            assert_eq!(d.action, crate::engine::Action::Deny, "{cmd}");
        }
    }

    /// A command's `\` reads as `/` in command globs, whichever reading holds it.
    #[test]
    fn backslashes_in_commands_read_as_slashes() {
        let yaml = "version: \"1\"\ndefault_action: allow\npolicies:\n  - name: run-keys\n    match:\n      tool: [exec]\n    rules:\n      - action: deny\n        when:\n          command_matches: [\"*/CurrentVersion/Run *\", \"reg add HKCU/Software/*\"]\n";
        let set = compile(&crate::engine::load::load_text("t", yaml).expect("policy"));
        for cmd in [
            "reg add HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run /v x /d y",
            "REG ADD HKCU\\Software\\X /f",
        ] {
            assert_eq!(
                set.evaluate(&ToolCall::exec(cmd)).action,
                Action::Deny,
                "{cmd:?}"
            );
        }
        let d = set.evaluate(&ToolCall::exec("reg query HKLM\\Software\\X"));
        assert_eq!(d.action, Action::Allow);
    }

    #[test]
    fn env_names_are_spelled_in_the_skeleton() {
        for (cmd, name) in [
            ("cmd /c FO^O=1", "FOO"),
            ("export 'RAMP'ART_X", "RAMPART_X"),
            ("set \"PA\"TH=1", "PATH"),
            ("echo $(LD_PRELOAD=1 x)", "LD_PRELOAD"),
            ("eval 'X=1 y'", "X"),
            ("$env:FOO = 1", "FOO"),
        ] {
            let names = env_assignment_names(cmd);
            assert!(names.iter().any(|n| n == name), "{cmd:?}: {names:?}");
            assert!(command::word_skeleton(cmd).contains(name), "{cmd:?}");
        }
    }

    proptest! {
        /// The eight-bytes-at-a-time check agrees with a byte-by-byte one on ASCII text.
        #[test]
        fn ascii_upper_check(s in "[ -~]{0,40}") {
            prop_assert_eq!(
                has_ascii_upper(s.as_bytes()),
                s.bytes().any(|b| b.is_ascii_uppercase()),
                "{:?}", s
            );
        }
    }

    #[test]
    fn plain_words_examples() {
        for c in [
            "git status",
            "ls -la",
            "cargo test --workspace",
            "GIT STATUS",
            "Rm -rf /",
            "rm -rf /",
            "/bin/rm -rf /",
            "sudo rm -rf /",
            "echo done",
            "for x in a b",
            "time rm -rf /",
            "xargs rm -rf",
            "FOO=bar git status",
            "git -c a=b status",
            "env",
            "nice -n5 rm -rf /",
            "busybox rm -rf /",
            "find . -delete",
            "if true",
            "select x in a",
            "function f",
            "coproc x",
            "ssh host rm -rf /",
            "watch rm -rf /",
            "set X=1",
            "export X",
            "doas rm -rf /",
            "git  status",
            " git status",
            "%1",
            ":",
        ] {
            same_view(c);
        }
        assert!(CommandView::build("git status", standard_prefilter()).plain);
        assert!(
            CommandView::build(
                "npm install && npm test && git diff --stat | head -20",
                standard_prefilter()
            )
            .plain
        );
        for c in [
            "npm install && npm test && git diff --stat | head -20",
            "ls; ls",
            "ls && LS",
            "a & b",
            "a || b | c ; d",
            "a && b && a",
            "git status && rm -rf /",
            "git status | sudo rm -rf /",
            "a ;; b",
            "a && && b",
            "a &&b",
            "x | echo done",
            "ls | FOO=1 x",
            "A | a",
            "ls |",
            "| ls",
        ] {
            same_view(c);
        }
        assert!(!CommandView::build("sudo rm -rf /", standard_prefilter()).plain);
    }

    const WORDS: &[&str] = &[
        "git",
        "status",
        "rm",
        "-rf",
        "/",
        "sudo",
        "xargs",
        "time",
        "env",
        "FOO=bar",
        "a=b",
        "bash",
        "-c",
        "find",
        ".",
        "-delete",
        "done",
        "fi",
        "esac",
        "if",
        "for",
        "in",
        "do",
        "then",
        "Remove-Item",
        "cmd",
        "/c",
        "del",
        "python3",
        "-m",
        "pytest",
        "ssh",
        "host",
        "curl",
        "https://x.y/z",
        "RM",
        "-RF",
        "exec",
        "eval",
        "~/.ssh/id_rsa",
        "nohup",
        "timeout",
        "5s",
        "docker",
        "kubectl",
        "chroot",
        "strace",
        "su",
        "watch",
        "flock",
        "/bin/rm",
        "set",
        "export",
        "declare",
        "npm",
        "install",
        "%",
        ":",
        "+x",
        "@",
        "a,b",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn plain_fast_path_matches_general(words in proptest::collection::vec(0..WORDS.len(), 1..6)) {
            let cmd = words.iter().map(|&i| WORDS[i]).collect::<Vec<_>>().join(" ");
            same_view(&cmd);
        }

        #[test]
        fn fast_path_matches_general_on_any_text(cmd in "[a-zA-Z0-9 /=.:%@+,_-]{0,24}") {
            same_view(&cmd);
        }

        #[test]
        fn list_fast_path_matches_general(
            words in proptest::collection::vec(0..WORDS.len(), 1..8),
            ops in proptest::collection::vec(0..9usize, 8),
        ) {
            const OPS: &[&str] = &[" && ", " || ", " | ", "; ", " & ", " ", " ", "&&", " ;; "];
            let mut cmd = String::new();
            for (k, &i) in words.iter().enumerate() {
                if k > 0 {
                    cmd.push_str(OPS[ops[k]]);
                }
                cmd.push_str(WORDS[i]);
            }
            same_view(&cmd);
        }

        #[test]
        fn list_fast_path_matches_general_on_any_text(cmd in "[a-zA-Z0-9 /=.:&|;_-]{0,24}") {
            same_view(&cmd);
        }

        /// The shortcut in `env_assignment_names` never hides a name the full reading finds.
        #[test]
        fn assigns_nothing_is_sound(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("export"), Just("EXPORT"), Just("ex'port"), Just("\"set\""), Just("setx"),
                    Just("env"), Just("declare"), Just("local"), Just("readonly"), Just("typeset"),
                    Just("FOO"), Just("a=b"), Just("$env:X"), Just("$(id)"), Just("`id`"),
                    Just("bash -c"), Just("'"), Just("\""), Just("\\"), Just("$'\\x65'"),
                    Just("&&"), Just("|"), Just(";"), Just("("), Just(")"), Just("git"), Just("-x"),
                    Just("ex\\port"), Just("s\\et"), Just("ex\\\nport"), Just("\\\n"),
                    Just("C:\\Temp\\x"), Just("FOO\\=1"), Just("FOO=1"), Just("/usr/bin/env"),
                    Just("Set"), Just("SETX"), Just("echo"), Just("-i"), Just("x'='y"),
                    Just("cmd /c"), Just("FO^O=1"), Just("F\"O\"O=1"), Just("'F'OO=1"),
                    Just("env -S"), Just("LD_PRE\\\nLOAD=x"), Just("eval"), Just("powershell -c"),
                ],
                0..8,
            )
        ) {
            let cmd = parts.join(" ");
            let mut names = Vec::new();
            collect_env_with(&cmd, &mut names, 0, false);
            if assigns_nothing(&cmd) {
                prop_assert!(names.is_empty(), "{cmd:?} assigns {names:?}");
            }
            // Raw words are skipped only where they cannot name anything.
            let mut lazy = Vec::new();
            collect_env(&cmd, &mut lazy, 0);
            prop_assert_eq!(&lazy, &names, "{:?}", cmd);
            // Every name is spelled in the skeleton the rule gate reads.
            let skeleton = command::word_skeleton(&cmd);
            for n in &names {
                prop_assert!(skeleton.contains(n.as_str()), "{:?}: {:?} not in {:?}", cmd, n, skeleton);
            }
        }
    }
}
