//! Compiles a validated [`PolicySet`] into an immutable, matchable snapshot: every glob and
//! regex built once, policies sorted by priority (stable), durable and project flags resolved.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use regex::Regex;

use super::command::pattern_is_composite;
use super::decision::{Action, AskOptions, WebhookConfig};
use super::duration::{parse_go_duration, parse_rfc3339};
use super::glob::{CommandGlob, DomainGlob, MAX_VALUE_BYTES, PathGlob};
use super::load::{Origin, PolicySet, SourcedPolicy, parse_rule_action};
use super::model::{DepthBounds, Notify, OneOrMany, Policy, Rule, Scope, When};

/// A compiled command pattern with its lower-cased twin (for case-insensitive restrictive reads).
#[derive(Debug, Clone)]
pub struct CmdPattern {
    /// The pattern as written.
    pub exact: CommandGlob,
    /// The pattern lower-cased, when that differs from the pattern as written (made on first
    /// use).
    folded: OnceLock<Option<Box<CommandGlob>>>,
    /// Whether the pattern contains operators or substitutions (explicit composite grant),
    /// worked out on first use.
    composite: OnceLock<bool>,
    /// Index in the snapshot's [`Prefilter`].
    pub id: usize,
}

impl CmdPattern {
    fn new(p: String) -> CmdPattern {
        CmdPattern {
            exact: CommandGlob::from_string(p),
            folded: OnceLock::new(),
            composite: OnceLock::new(),
            id: 0,
        }
    }

    /// Whether the pattern contains operators or substitutions (explicit composite grant).
    pub fn composite(&self) -> bool {
        *self
            .composite
            .get_or_init(|| pattern_is_composite(self.exact.source()))
    }

    /// The pattern lower-cased (the pattern itself when it has no upper-case letters).
    pub fn folded(&self) -> &CommandGlob {
        self.folded
            .get_or_init(|| {
                let p = self.exact.source();
                if p.is_ascii() && !p.bytes().any(|b| b.is_ascii_uppercase()) {
                    return None;
                }
                let lower = p.to_lowercase();
                (lower != p).then(|| Box::new(CommandGlob::new(&lower)))
            })
            .as_deref()
            .unwrap_or(&self.exact)
    }
}

/// Finds, in one pass over a text, which command patterns and `command_contains` strings could
/// possibly match it. Every pattern's required literals (and every contains string) are
/// lower-cased ASCII needles; a text's candidate set holds each id all of whose needles the text
/// contains (ASCII case-insensitively, with `\` read as `/`, as the globs read it), plus the ids
/// that have no usable needle. Needles of three bytes or more are indexed by a hash of their
/// first three, two-byte needles by the pair: looking a text up is two bitmap probes per byte,
/// and only needles whose first bytes hash alike are compared.
#[derive(Debug, Clone, Default)]
pub struct Prefilter {
    /// Bit [`pair_key`]`(a, b)` set when some needle is exactly the bytes `a b`.
    short_pairs: Vec<u64>,
    /// The two-byte needles, as `(pair_key(a, b), needle)`, sorted.
    shorts: Vec<(u16, u32)>,
    /// Bit [`triple_slot`]`(a, b, c)` set when some needle starts with `a b c`.
    triples: Vec<u64>,
    /// Set bits of `triples` before each word of it, so a slot's rank is one popcount away.
    ranks: Vec<u32>,
    /// For the triple slot of rank `r`, its needles are `starts[r]..starts[r + 1]`.
    starts: Vec<u32>,
    /// Needle `n` is `bytes[ends[n - 1]..ends[n]]` (lower-cased ASCII, at least 2 bytes).
    bytes: Vec<u8>,
    /// End of each needle in `bytes`.
    ends: Vec<u32>,
    /// Each needle's first eight bytes (zero-padded) read little-endian, and its length (kept
    /// beside the head so one load serves the compare).
    heads: Vec<(u64, u32)>,
    /// Ids whose first needle is `n`: `owners[owner_starts[n]..owner_starts[n + 1]]`.
    owner_starts: Vec<u32>,
    /// Owner ids, grouped by needle.
    owners: Vec<u32>,
    /// The other needles of id `i`: `requires[require_starts[i]..require_starts[i + 1]]`.
    require_starts: Vec<u32>,
    /// Required needles, grouped by id.
    requires: Vec<u32>,
    /// Ids without a usable needle (always candidates).
    always: Vec<usize>,
    /// Number of ids.
    count: usize,
}

/// Size of the two-byte needle bitmap (8 KiB).
const PAIR_BITS: usize = 256 * 256;

/// Size of the three-byte prefix filter (4 KiB, so it stays in L1 beside the pair bitmap).
const TRIPLE_BITS: usize = 1 << 15;

/// The filter slot of a needle or (folded) text starting with the bytes `a b c`.
#[inline]
fn triple_slot(a: u8, b: u8, c: u8) -> usize {
    slot_of(u32::from_le_bytes([a, b, c, 0]))
}

/// [`triple_slot`] of three bytes read little-endian (`a | b << 8 | c << 16`).
#[inline]
fn slot_of(key: u32) -> usize {
    (key.wrapping_mul(0x9e37_79b1) >> 17) as usize
}

/// How the prefilter reads a text byte: ASCII lower-cased, `\` as `/`, others as they are
/// (branch-free, so folding a whole text vectorizes).
#[inline]
fn fold_byte(b: u8) -> u8 {
    let b = b | u8::from(b.wrapping_sub(b'A') < 26) << 5;
    if b == b'\\' { b'/' } else { b }
}

/// The key of the folded bytes `a b` in the two-byte needle bitmap.
#[inline]
fn pair_key(a: u8, b: u8) -> usize {
    usize::from(a) | usize::from(b) << 8
}

/// Whether bit `i` of a bitmap is set.
#[inline]
fn bit(map: &[u64], i: usize) -> bool {
    map[i / 64] & (1 << (i % 64)) != 0
}

/// Sets bit `i` of a bitmap.
#[inline]
fn set_bit(map: &mut [u64], i: usize) {
    map[i / 64] |= 1 << (i % 64);
}

/// The number of set bits of `map` before bit `i`, given `ranks` (set bits before each word).
#[inline]
fn rank(map: &[u64], ranks: &[u32], i: usize) -> usize {
    ranks[i / 64] as usize + (map[i / 64] & ((1u64 << (i % 64)) - 1)).count_ones() as usize
}

/// Scratch space of [`Prefilter::candidates_into`], reused from one text to the next.
#[derive(Debug, Default)]
pub struct PrefilterScratch {
    /// Needles found in the text.
    found: Vec<u64>,
    /// Positions where a needle may start.
    hits: Vec<u32>,
    /// The text as the prefilter reads it, with eight zero bytes after it.
    folded: Vec<u8>,
}

impl PrefilterScratch {
    /// Scratch space for texts of up to about `bytes` bytes.
    pub fn with_capacity(bytes: usize) -> PrefilterScratch {
        PrefilterScratch {
            found: Vec::new(),
            hits: Vec::with_capacity(bytes),
            folded: Vec::with_capacity(bytes + 8),
        }
    }

    /// Makes room for texts of up to about `bytes` bytes, keeping what is there.
    pub fn reserve(&mut self, bytes: usize) {
        self.hits.reserve(bytes);
        self.folded.reserve(bytes + 8);
    }

    /// Bytes of capacity held.
    pub fn capacity(&self) -> usize {
        self.found.capacity() * 8 + self.hits.capacity() * 4 + self.folded.capacity()
    }
}

impl Prefilter {
    /// Number of 64-bit words in a candidate set.
    pub fn words(&self) -> usize {
        self.count / 64 + 1
    }

    /// The candidate set of a text: bit `id` set when pattern `id` may match it.
    pub fn candidates(&self, text: &str) -> Vec<u64> {
        let mut bits = vec![0u64; self.words()];
        self.candidates_into(text, &mut bits, &mut PrefilterScratch::default());
        bits
    }

    fn needle(&self, n: usize) -> &[u8] {
        let start = if n == 0 { 0 } else { self.ends[n - 1] as usize };
        &self.bytes[start..self.ends[n] as usize]
    }

    /// ORs the candidate set of `text` into `bits` (`words()` long).
    pub fn candidates_into(&self, text: &str, bits: &mut [u64], scratch: &mut PrefilterScratch) {
        for &i in &self.always {
            set_bit(bits, i);
        }
        let t = text.as_bytes();
        if self.ends.is_empty() || t.len() < 2 {
            return;
        }
        let PrefilterScratch {
            found,
            hits,
            folded,
        } = scratch;
        found.clear();
        found.resize(self.ends.len() / 64 + 1, 0);
        // Sized first, then written in place: the fold vectorizes (extending does not).
        folded.clear();
        folded.resize(t.len() + 8, 0);
        for (d, &b) in folded.iter_mut().zip(t) {
            *d = fold_byte(b);
        }
        // First the positions where a needle may start, without a branch per byte (which would
        // be mispredicted at every such position); then the needles there.
        hits.clear();
        hits.resize(t.len(), 0);
        let mut k = 0;
        // Fixed sizes, so the probes need no bounds checks (built with these sizes).
        let (Ok(triples), Ok(short_pairs)) = (
            <&[u64; TRIPLE_BITS / 64]>::try_from(self.triples.as_slice()),
            <&[u64; PAIR_BITS / 64]>::try_from(self.short_pairs.as_slice()),
        ) else {
            // Not built by `PrefilterBuilder`: every id stays a candidate (never fail open).
            bits.fill(u64::MAX);
            return;
        };
        // Positions `0..n` (a needle has at least two bytes). Eight bytes are read at a time
        // (the folded text has eight zero bytes after it) and four positions probed from them.
        let n = t.len() - 1;
        let mut probe = |i: usize, w: u64| {
            let hit = bit(triples, slot_of(w as u32 & 0xff_ffff))
                | bit(short_pairs, (w & 0xffff) as usize);
            hits[k] = i as u32;
            k += usize::from(hit);
        };
        let mut i = 0;
        while i + 4 <= n {
            let x = folded
                .get(i..i + 8)
                .and_then(|c| c.first_chunk::<8>())
                .map_or(0, |c| u64::from_le_bytes(*c));
            probe(i, x);
            probe(i + 1, x >> 8);
            probe(i + 2, x >> 16);
            probe(i + 3, x >> 24);
            i += 4;
        }
        while i < n {
            let x = folded
                .get(i..i + 4)
                .and_then(|c| c.first_chunk::<4>())
                .map_or(0, |c| u64::from(u32::from_le_bytes(*c)));
            probe(i, x);
            i += 1;
        }
        let mut any = false;
        for &i in &hits[..k] {
            any |= self.match_at(folded, i as usize, t.len(), found);
        }
        if !any {
            return;
        }
        let has = |n: u32| bit(found, n as usize);
        for (w, &word) in found.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                let n = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                let owners =
                    &self.owners[self.owner_starts[n] as usize..self.owner_starts[n + 1] as usize];
                for &id in owners {
                    let id = id as usize;
                    let req = &self.requires
                        [self.require_starts[id] as usize..self.require_starts[id + 1] as usize];
                    if req.iter().all(|&r| has(r)) {
                        set_bit(bits, id);
                    }
                }
            }
        }
    }

    /// Marks in `found` every needle that starts at `i` of the folded text (`len` bytes, then
    /// at least eight zero bytes); whether there was one.
    fn match_at(&self, folded: &[u8], i: usize, len: usize, found: &mut [u64]) -> bool {
        let rest = &folded[i..];
        // The folded text ends with eight zero bytes, so eight bytes are there to read.
        let head = rest
            .first_chunk::<8>()
            .map_or(0, |c| u64::from_le_bytes(*c));
        let pair = (head & 0xffff) as usize;
        let slot = slot_of((head & 0xff_ffff) as u32);
        let mut any = false;
        let mut mark = |n: u32| {
            set_bit(found, n as usize);
            any = true;
        };
        if bit(&self.short_pairs, pair) {
            let from = self.shorts.partition_point(|&(p, _)| usize::from(p) < pair);
            for &(p, n) in &self.shorts[from..] {
                if usize::from(p) != pair {
                    break;
                }
                mark(n);
            }
        }
        if bit(&self.triples, slot) {
            let r = rank(&self.triples, &self.ranks, slot);
            for n in self.starts[r]..self.starts[r + 1] {
                let (nh, nl) = self.heads[n as usize];
                let nl = nl as usize;
                let mask = u64::MAX >> (8 * (8 - nl.min(8)));
                if head & mask == nh
                    && i + nl <= len
                    && (nl <= 8 || self.needle(n as usize)[8..] == rest[8..nl])
                {
                    mark(n);
                }
            }
        }
        any
    }
}

/// Collects needles for the prefilter, one id per pattern or contains string.
#[derive(Default)]
struct PrefilterBuilder {
    /// Every needle's lower-cased bytes, one after another.
    bytes: Vec<u8>,
    /// (start in `bytes`, length, id, whether it is the id's first needle).
    needles: Vec<(u32, u32, u32, bool)>,
    always: Vec<usize>,
    count: usize,
}

impl PrefilterBuilder {
    /// Registers an id whose matches all contain every literal `lits` passes to its callback
    /// (ASCII case-insensitively). Literals that are too short, not ASCII or hold a `\` are not
    /// needles; an id left with none is always a candidate.
    fn add_with(&mut self, lits: impl FnOnce(&mut dyn FnMut(&str))) -> usize {
        let id = self.count;
        self.count += 1;
        let first = self.needles.len();
        let bytes = &mut self.bytes;
        let needles = &mut self.needles;
        lits(&mut |l: &str| {
            if l.len() < 2 {
                return;
            }
            // Copied lower-cased, checked on the way: ASCII and no `\\`.
            let start = bytes.len();
            let mut usable = true;
            bytes.extend(l.bytes().map(|b| {
                usable &= b.is_ascii() && b != b'\\';
                b.to_ascii_lowercase()
            }));
            if usable {
                needles.push((start as u32, l.len() as u32, id as u32, false));
            } else {
                bytes.truncate(start);
            }
        });
        let mine = &mut self.needles[first..];
        if mine.is_empty() {
            self.always.push(id);
            return id;
        }
        // The longest needle (the first of equal length) decides which texts are looked at
        // further.
        let mut best = 0;
        for (k, n) in mine.iter().enumerate() {
            if n.1 > mine[best].1 {
                best = k;
            }
        }
        mine[best].3 = true;
        id
    }

    /// [`PrefilterBuilder::add_with`] for a list of literals.
    #[cfg(test)]
    fn add<S: AsRef<str>>(&mut self, lits: &[S]) -> usize {
        self.add_with(|f| lits.iter().for_each(|l| f(l.as_ref())))
    }

    fn build(self) -> Prefilter {
        let PrefilterBuilder {
            bytes: all,
            needles,
            always,
            count,
        } = self;
        let text = |n: &(u32, u32, u32, bool)| &all[n.0 as usize..(n.0 + n.1) as usize];
        // Distinct needles, found with an open-addressing hash table (FNV-1a): `first[d]` is
        // the entry that introduced needle `d`, `needle_of[i]` the needle of entry `i`.
        let slots = (needles.len() + needles.len() / 2)
            .next_power_of_two()
            .max(16);
        let mut table = vec![u32::MAX; slots];
        let mut first: Vec<u32> = Vec::with_capacity(needles.len());
        let mut needle_of: Vec<u32> = Vec::with_capacity(needles.len());
        for (i, n) in needles.iter().enumerate() {
            let t = text(n);
            let h = t.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            let mut at = h as usize & (slots - 1);
            loop {
                let d = table[at];
                if d == u32::MAX {
                    table[at] = first.len() as u32;
                    needle_of.push(first.len() as u32);
                    first.push(i as u32);
                    break;
                }
                if text(&needles[first[d as usize] as usize]) == t {
                    needle_of.push(d);
                    break;
                }
                at = (at + 1) & (slots - 1);
            }
        }
        drop(table);
        // Distinct needles bucketed by the triple slot of their first three bytes (a counting
        // sort over the ranks of those slots); two-byte needles go after every bucket.
        let dtext = |d: usize| text(&needles[first[d] as usize]);
        let mut short_pairs = vec![0u64; PAIR_BITS / 64];
        let mut triples = vec![0u64; TRIPLE_BITS / 64];
        for d in 0..first.len() {
            match *dtext(d) {
                [a, b] => {
                    let p = pair_key(a, b);
                    set_bit(&mut short_pairs, p);
                }
                [a, b, c, ..] => {
                    let slot = triple_slot(a, b, c);
                    set_bit(&mut triples, slot);
                }
                _ => {}
            }
        }
        let mut ranks = Vec::with_capacity(triples.len());
        let mut total = 0u32;
        for w in &triples {
            ranks.push(total);
            total += w.count_ones();
        }
        let bucket: Vec<u32> = (0..first.len())
            .map(|d| match *dtext(d) {
                [a, b, c, ..] => rank(&triples, &ranks, triple_slot(a, b, c)) as u32,
                _ => total,
            })
            .collect();
        let mut starts = vec![0u32; total as usize + 2];
        for &r in &bucket {
            starts[r as usize + 1] += 1;
        }
        for r in 0..=total as usize {
            starts[r + 1] += starts[r];
        }
        // `position[d]`: where needle `d` goes in bucket order.
        let mut fill = starts.clone();
        let mut position = vec![0u32; first.len()];
        let mut order = vec![0u32; first.len()];
        for (d, &r) in bucket.iter().enumerate() {
            position[d] = fill[r as usize];
            order[fill[r as usize] as usize] = d as u32;
            fill[r as usize] += 1;
        }
        let mut bytes: Vec<u8> = Vec::with_capacity(all.len());
        let mut ends: Vec<u32> = Vec::with_capacity(first.len());
        let mut shorts: Vec<(u16, u32)> = Vec::new();
        let mut heads = Vec::with_capacity(order.len());
        for (k, &d) in order.iter().enumerate() {
            let t = dtext(d as usize);
            if let [a, b] = *t {
                shorts.push((pair_key(a, b) as u16, k as u32));
            }
            bytes.extend_from_slice(t);
            ends.push(bytes.len() as u32);
            let mut head = [0u8; 8];
            let h = t.len().min(8);
            head[..h].copy_from_slice(&t[..h]);
            heads.push((u64::from_le_bytes(head), t.len() as u32));
        }
        shorts.sort_unstable();
        // Owners grouped by needle (a counting sort again); the other needles are grouped by id
        // already, since each id's entries were added together and ids increase.
        let mut owner_starts = vec![0u32; ends.len() + 1];
        let mut require_starts = Vec::with_capacity(count + 1);
        let mut requires = Vec::with_capacity(needles.len());
        let mut next_id = 0;
        for (i, n) in needles.iter().enumerate() {
            let k = position[needle_of[i] as usize];
            if n.3 {
                owner_starts[k as usize + 1] += 1;
            } else {
                while next_id <= n.2 as usize {
                    require_starts.push(requires.len() as u32);
                    next_id += 1;
                }
                requires.push(k);
            }
        }
        while next_id <= count {
            require_starts.push(requires.len() as u32);
            next_id += 1;
        }
        for k in 0..ends.len() {
            owner_starts[k + 1] += owner_starts[k];
        }
        let mut fill = owner_starts.clone();
        let mut owners = vec![0u32; owner_starts[ends.len()] as usize];
        for (i, n) in needles.iter().enumerate() {
            if n.3 {
                let k = position[needle_of[i] as usize] as usize;
                owners[fill[k] as usize] = n.2;
                fill[k] += 1;
            }
        }
        Prefilter {
            short_pairs,
            shorts,
            triples,
            ranks,
            starts,
            bytes,
            ends,
            heads,
            owner_starts,
            owners,
            require_starts,
            requires,
            always,
            count,
        }
    }
}

/// A set of prefilter ids, as the words of a candidate set it intersects.
#[derive(Debug, Clone, Default)]
pub struct IdMask(Vec<(usize, u64)>);

impl IdMask {
    fn from_ids(ids: impl IntoIterator<Item = usize>) -> IdMask {
        let mut m: Vec<(usize, u64)> = Vec::new();
        for id in ids {
            let (w, b) = (id / 64, 1u64 << (id % 64));
            match m.iter_mut().find(|(x, _)| *x == w) {
                Some((_, bits)) => *bits |= b,
                None => m.push((w, b)),
            }
        }
        m.sort_unstable();
        IdMask(m)
    }

    /// Whether any id of the mask is in the candidate set `bits`.
    pub fn intersects(&self, bits: &[u64]) -> bool {
        self.0
            .iter()
            .any(|&(w, m)| bits.get(w).is_some_and(|b| b & m != 0))
    }
}

/// The prefilter ids of one list of command patterns, which the builder numbers consecutively:
/// the patterns whose bit is set in a text's candidate set are found from the set's words
/// instead of testing every pattern's bit.
#[derive(Debug, Clone, Default)]
pub struct PatternIds {
    /// The id of the list's first pattern.
    base: usize,
    /// The list's ids by word of the candidate set.
    mask: IdMask,
    /// Whether the ids are `base..base + len` (set by the prefilter builder only).
    consecutive: bool,
}

impl PatternIds {
    fn of(pats: &[CmdPattern]) -> PatternIds {
        let base = pats.first().map_or(0, |p| p.id);
        PatternIds {
            base,
            mask: IdMask::from_ids(pats.iter().map(|p| p.id)),
            consecutive: pats.iter().enumerate().all(|(i, p)| p.id == base + i),
        }
    }

    /// Whether `f` holds for a pattern of `pats` (the list these ids were made from) whose
    /// candidate bit is set in `bits`.
    #[inline]
    pub fn any(
        &self,
        pats: &[CmdPattern],
        bits: &[u64],
        mut f: impl FnMut(&CmdPattern) -> bool,
    ) -> bool {
        if !self.consecutive {
            return pats.iter().any(|p| has_bit(bits, p.id) && f(p));
        }
        for &(w, m) in &self.mask.0 {
            let mut x = bits.get(w).map_or(0, |b| b & m);
            while x != 0 {
                let id = w * 64 + x.trailing_zeros() as usize;
                x &= x - 1;
                if pats.get(id.wrapping_sub(self.base)).is_some_and(&mut f) {
                    return true;
                }
            }
        }
        false
    }
}

/// Whether bit `i` of the candidate set `bits` is set.
#[inline]
pub fn has_bit(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
}

fn build_prefilter(policies: &mut [CompiledPolicy]) -> Prefilter {
    // Sized up front (the literals are at most the patterns' bytes), so the builder's buffers
    // are allocated once instead of growing by copies.
    let (mut count, mut text) = (0, 0);
    for c in policies.iter().flat_map(|p| &p.rules).map(|r| &r.when) {
        for p in c.cmd.iter().chain(&c.cmd_not) {
            count += 1;
            text += p.exact.source().len();
        }
        count += c.contains.len();
        text += c.contains.iter().map(String::len).sum::<usize>();
    }
    let mut b = PrefilterBuilder {
        bytes: Vec::with_capacity(text),
        needles: Vec::with_capacity(count * 2),
        ..PrefilterBuilder::default()
    };
    for p in policies.iter_mut() {
        for r in p.rules.iter_mut() {
            let c = &mut r.when;
            for pat in c.cmd.iter_mut().chain(c.cmd_not.iter_mut()) {
                pat.id = b.add_with(|f| pat.exact.for_each_required_literal(f));
            }
            // Grant rules look for the string as written, restrictive ones for it lower-cased:
            // the needle serves both only when the string is ASCII.
            c.contains_ids = c
                .contains
                .iter()
                .zip(&c.contains_folded)
                .map(|(s, l)| b.add_with(|f| f(if s.is_ascii() { l.as_str() } else { "" })))
                .collect();
            c.cmd_ids = PatternIds::of(&c.cmd);
            c.not_ids = PatternIds::of(&c.cmd_not);
            c.command_gate = IdMask::from_ids(
                c.cmd
                    .iter()
                    .map(|p| p.id)
                    .chain(c.contains_ids.iter().copied()),
            );
        }
    }
    b.build()
}

/// A compiled path pattern with its load-time symlink-resolved variant.
#[derive(Debug, Clone)]
pub struct PathPattern {
    /// The pattern as written.
    pub glob: PathGlob,
    /// The pattern with its literal directory prefix resolved through symlinks, if different.
    pub resolved: Option<PathGlob>,
    /// The pattern is relative (no leading `/`, `*` or `~`).
    pub relative: bool,
}

impl PathPattern {
    /// The pattern with `\` read as `/`, for joining with a working directory.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        let p = self.glob.source();
        if p.contains('\\') {
            std::borrow::Cow::Owned(p.replace('\\', "/"))
        } else {
            std::borrow::Cow::Borrowed(p)
        }
    }
}

/// `call_count` settings.
#[derive(Debug, Clone)]
pub struct CallCountRule {
    /// Tool counted (None = the current call's tool).
    pub tool: Option<String>,
    /// Threshold.
    pub gte: u64,
    /// Window.
    pub window: Duration,
}

/// Regexes compiled on first use, so loading policy stays fast.
#[derive(Debug, Clone, Default)]
pub struct LazyRegexes {
    sources: Vec<String>,
    compiled: std::sync::OnceLock<Vec<Regex>>,
}

impl LazyRegexes {
    fn new(sources: Vec<String>) -> Self {
        LazyRegexes {
            sources,
            compiled: std::sync::OnceLock::new(),
        }
    }

    /// Whether there are no regexes.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Whether any regex matches `text` (an invalid regex never matches; validation rejects them).
    pub fn any_match(&self, text: &str) -> bool {
        self.compiled
            .get_or_init(|| {
                self.sources
                    .iter()
                    .filter_map(|r| Regex::new(r).ok())
                    .collect()
            })
            .iter()
            .any(|re| re.is_match(text))
    }
}

/// A compiled `when` block.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    /// `default: true` or an empty `when`.
    pub always: bool,
    /// `command_matches`.
    pub cmd: Vec<CmdPattern>,
    /// `command_not_matches`.
    pub cmd_not: Vec<CmdPattern>,
    /// `command_contains` as written.
    pub contains: Vec<String>,
    /// `command_contains` lower-cased.
    pub contains_folded: Vec<String>,
    /// Searchers for `contains_folded`, built once (in the same order).
    pub contains_finders: Vec<memchr::memmem::Finder<'static>>,
    /// Prefilter ids of `contains_folded`.
    pub contains_ids: Vec<usize>,
    /// Prefilter ids of `cmd` and `contains`: a call none of whose texts has one of these
    /// candidates cannot match the rule's command condition.
    pub command_gate: IdMask,
    /// Prefilter ids of `cmd`.
    pub cmd_ids: PatternIds,
    /// Prefilter ids of `cmd_not`.
    pub not_ids: PatternIds,
    /// `command_env_assignments`.
    pub env: Vec<CommandGlob>,
    /// The literals every name matching each of `env` contains.
    pub env_literals: Vec<Vec<String>>,
    /// `path_matches`.
    pub path: Vec<PathPattern>,
    /// `path_not_matches`.
    pub path_not: Vec<PathPattern>,
    /// `url_matches`.
    pub url: Vec<CommandGlob>,
    /// `domain_matches`.
    pub domain: Vec<DomainGlob>,
    /// `session_matches`.
    pub session: Vec<CommandGlob>,
    /// `session_not_matches`.
    pub session_not: Vec<CommandGlob>,
    /// `agent_depth`.
    pub depth: Option<DepthBounds>,
    /// `tool_param_matches` (param, lower-cased glob).
    pub params: Vec<(String, CommandGlob)>,
    /// `call_count`.
    pub call_count: Option<CallCountRule>,
    /// `response_matches`, compiled on first use.
    pub response: LazyRegexes,
    /// `response_not_matches`, compiled on first use.
    pub response_not: LazyRegexes,
    /// Whether any positive pre-call key is present.
    pub has_positive: bool,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// What the rule does when it matches.
    pub action: Action,
    /// Its message.
    pub message: String,
    /// Its conditions.
    pub when: Conditions,
    /// Ask options.
    pub ask: AskOptions,
    /// Webhook configuration.
    pub webhook: Option<WebhookConfig>,
    /// Unix seconds after which the rule is ignored.
    pub expires_at: Option<i64>,
    /// Single-use allow.
    pub once: bool,
}

/// A compiled policy.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    /// Name.
    pub name: String,
    /// Effective priority.
    pub priority: i64,
    /// Tool globs (empty = every tool).
    pub tools: Vec<CommandGlob>,
    /// Agent glob.
    pub agent: CommandGlob,
    /// Session glob.
    pub session: CommandGlob,
    /// Rules in order.
    pub rules: Vec<CompiledRule>,
    /// Where it came from.
    pub origin: Arc<Origin>,
    /// Index into the loaded set (file/merge order).
    pub order: usize,
    /// `origin.is_durable()`, computed once.
    pub durable: bool,
    /// Agent and session globs are both `*` (every call's agent and session are in scope).
    any_agent_session: bool,
}

impl CompiledPolicy {
    /// Whether the policy's scope covers this tool, agent and session.
    pub fn in_scope(&self, tool: &str, agent: &str, session: &str) -> bool {
        (self.tools.is_empty() || self.tools.iter().any(|t| t.matches(tool)))
            && self.agent.matches(agent)
            && self.session.matches(session)
    }
}

/// An immutable compiled policy snapshot: what the engine evaluates against.
#[derive(Debug, Clone)]
pub struct CompiledPolicySet {
    /// Default action (deny when unset).
    pub default_action: Action,
    /// Enabled policies sorted by priority (stable).
    pub policies: Vec<CompiledPolicy>,
    /// Notify settings.
    pub notify: Option<Notify>,
    /// Input parameters referenced by any `tool_param_matches` (for the oversize check).
    pub param_keys: Vec<String>,
    /// Whether any project policy is loaded.
    pub has_project: bool,
    /// Total rule count.
    pub rule_count: usize,
    /// Files that contributed.
    pub sources: Vec<String>,
    /// Non-fatal load warnings.
    pub warnings: Vec<String>,
    /// Literal prefilter over every command pattern.
    pub prefilter: Prefilter,
    /// For each tool name written in a scope or reserved by the engine, the indices of the
    /// policies whose tool globs take it (agent and session still to check), computed on the
    /// first call of that tool.
    tool_index: Vec<(String, OnceLock<Vec<usize>>)>,
}

/// Tool classes the engine reserves (see `call::canonical_tool`).
const RESERVED_TOOLS: &[&str] = &[
    "exec",
    "read",
    "write",
    "edit",
    "fetch",
    "agent",
    "mcp",
    "mcp-dangerous",
    "mcp-destructive",
    "web_fetch",
    "web_search",
    "http",
    "browser",
];

fn build_tool_index(policies: &[CompiledPolicy]) -> Vec<(String, OnceLock<Vec<usize>>)> {
    let mut names: Vec<&str> = RESERVED_TOOLS.to_vec();
    for p in policies {
        for t in &p.tools {
            if !names.contains(&t.source()) {
                names.push(t.source());
            }
        }
    }
    names
        .into_iter()
        .map(|n| (n.to_string(), OnceLock::new()))
        .collect()
}

/// The policies whose tool globs take `tool` (every policy without tool globs included).
fn policies_for_tool(policies: &[CompiledPolicy], tool: &str) -> Vec<usize> {
    policies
        .iter()
        .enumerate()
        .filter(|(_, p)| p.tools.is_empty() || p.tools.iter().any(|t| t.matches(tool)))
        .map(|(i, _)| i)
        .collect()
}

impl Conditions {
    /// Compiles every pattern of the block now.
    fn prepare(&self) {
        for p in self.cmd.iter().chain(&self.cmd_not) {
            p.exact.prepare();
            p.folded().prepare();
            p.composite();
        }
        for g in self
            .env
            .iter()
            .chain(&self.url)
            .chain(&self.session)
            .chain(&self.session_not)
            .chain(self.params.iter().map(|(_, g)| g))
        {
            g.prepare();
        }
        for p in self.path.iter().chain(&self.path_not) {
            p.glob.prepare();
            if let Some(r) = &p.resolved {
                r.prepare();
            }
        }
        for d in &self.domain {
            d.prepare();
        }
    }
}

impl CompiledPolicySet {
    /// Compiles every pattern and fills the per-tool index now instead of on first use. For
    /// long-lived servers, so the first calls after a load cost what later ones do; one-shot
    /// commands skip it and compile only what their call reaches. Decisions are the same
    /// either way.
    pub fn prepare(&self) {
        for (name, idx) in &self.tool_index {
            idx.get_or_init(|| policies_for_tool(&self.policies, name));
        }
        for p in &self.policies {
            for t in &p.tools {
                t.prepare();
            }
            p.agent.prepare();
            p.session.prepare();
            for r in &p.rules {
                r.when.prepare();
            }
        }
    }

    /// Replaces the policy list (keeping patterns and prefilter) and rebuilds the tool index;
    /// used to evaluate a policy on its own (`policy explain`).
    pub fn set_policies(&mut self, policies: Vec<CompiledPolicy>) {
        self.tool_index = build_tool_index(&policies);
        self.policies = policies;
    }

    /// The policies in scope for a call of `tool` by `agent` in `session`, in priority order.
    pub fn in_scope(&self, tool: &str, agent: &str, session: &str) -> Vec<&CompiledPolicy> {
        // `*` matches every value a glob accepts at all.
        let star_matches = agent.len() <= MAX_VALUE_BYTES && session.len() <= MAX_VALUE_BYTES;
        match self.tool_index.iter().find(|(n, _)| n == tool) {
            Some((_, idx)) => {
                let idx = idx.get_or_init(|| policies_for_tool(&self.policies, tool));
                // Sized once: growing from empty costs a few copies per call.
                let mut out = Vec::with_capacity(idx.len());
                out.extend(
                    idx.iter()
                        .filter_map(|&i| self.policies.get(i))
                        .filter(|p| {
                            (p.any_agent_session && star_matches)
                                || (p.agent.matches(agent) && p.session.matches(session))
                        }),
                );
                out
            }
            None => self
                .policies
                .iter()
                .filter(|p| p.in_scope(tool, agent, session))
                .collect(),
        }
    }
}

/// The strings of an optional list, moved out.
fn list(v: Option<OneOrMany>) -> Vec<String> {
    v.map(|v| v.0).unwrap_or_default()
}

/// Compiles each string of a list with `f`, moving the strings.
fn globs<T>(v: Option<OneOrMany>, f: impl FnMut(String) -> T) -> Vec<T> {
    list(v).into_iter().map(f).collect()
}

/// Directories already resolved through symlinks during one compile, so patterns sharing a
/// directory cost one `canonicalize`.
#[derive(Default)]
struct Canonical(Vec<(String, Option<String>)>);

impl Canonical {
    fn get(&mut self, dir: &str) -> Option<&str> {
        let i = match self.0.iter().position(|(d, _)| d == dir) {
            Some(i) => i,
            None => {
                let resolved = std::fs::canonicalize(dir)
                    .ok()
                    .and_then(|r| r.to_str().map(str::to_string));
                self.0.push((dir.to_string(), resolved));
                self.0.len() - 1
            }
        };
        self.0[i].1.as_deref()
    }
}

/// Resolves the literal directory prefix of a pattern through symlinks (load time only).
fn resolve_prefix(pattern: &str, canonical: &mut Canonical) -> Option<String> {
    if !pattern.starts_with(['/', '\\']) {
        return None;
    }
    let p = pattern.replace('\\', "/");
    let glob_at = p.find(['*', '?', '[']).unwrap_or(p.len());
    let dir_end = p[..glob_at].rfind('/')?;
    let dir = if dir_end == 0 { "/" } else { &p[..dir_end] };
    let resolved = canonical.get(dir)?;
    if resolved == dir {
        return None;
    }
    let rest = &p[dir_end..];
    Some(if resolved == "/" {
        rest.to_string()
    } else {
        format!("{resolved}{rest}")
    })
}

fn path_patterns(v: Option<OneOrMany>, canonical: &mut Canonical) -> Vec<PathPattern> {
    globs(v, |p| {
        let lead = p.bytes().next().map(|b| if b == b'\\' { b'/' } else { b });
        PathPattern {
            resolved: resolve_prefix(&p, canonical).map(PathGlob::from_string),
            relative: !matches!(lead, Some(b'/' | b'*' | b'~')),
            glob: PathGlob::from_string(p),
        }
    })
}

fn compile_when(w: Option<When>, canonical: &mut Canonical) -> Conditions {
    let Some(w) = w else {
        return Conditions {
            always: true,
            ..Default::default()
        };
    };
    // Every field named, so a condition added to the model cannot be silently ignored here.
    let When {
        command_matches,
        command_not_matches,
        command_contains,
        command_env_assignments,
        path_matches,
        path_not_matches,
        url_matches,
        domain_matches,
        session_matches,
        session_not_matches,
        agent_depth,
        tool_param_matches,
        call_count,
        response_matches,
        response_not_matches,
        default,
    } = w;
    let contains = list(command_contains);
    let mut c = Conditions {
        always: default == Some(true),
        cmd: globs(command_matches, CmdPattern::new),
        cmd_not: globs(command_not_matches, CmdPattern::new),
        contains_folded: contains.iter().map(|s| s.to_lowercase()).collect(),
        contains_finders: contains
            .iter()
            .map(|s| memchr::memmem::Finder::new(&s.to_lowercase()).into_owned())
            .collect(),
        contains,
        contains_ids: Vec::new(),
        command_gate: IdMask::default(),
        cmd_ids: PatternIds::default(),
        not_ids: PatternIds::default(),
        env: globs(command_env_assignments, CommandGlob::from_string),
        env_literals: Vec::new(),
        path: path_patterns(path_matches, canonical),
        path_not: path_patterns(path_not_matches, canonical),
        url: globs(url_matches, CommandGlob::from_string),
        domain: globs(domain_matches, DomainGlob::from_string),
        session: globs(session_matches, CommandGlob::from_string),
        session_not: globs(session_not_matches, CommandGlob::from_string),
        depth: agent_depth,
        params: tool_param_matches
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, CommandGlob::from_string(v.0.to_lowercase())))
            .collect(),
        call_count: call_count.map(|cc| CallCountRule {
            tool: cc
                .tool
                .map(|t| t.0.trim().to_string())
                .filter(|t| !t.is_empty()),
            gte: cc.gte.unwrap_or(0).max(0) as u64,
            window: Duration::from_secs_f64(
                cc.window
                    .as_ref()
                    .and_then(|w| parse_go_duration(&w.0))
                    .unwrap_or(0.0)
                    .max(0.0),
            ),
        }),
        response: LazyRegexes::new(list(response_matches)),
        response_not: LazyRegexes::new(list(response_not_matches)),
        has_positive: false,
    };
    c.env_literals = c.env.iter().map(CommandGlob::required_literals).collect();
    c.has_positive = !c.cmd.is_empty()
        || !c.contains.is_empty()
        || !c.env.is_empty()
        || !c.path.is_empty()
        || !c.url.is_empty()
        || !c.domain.is_empty()
        || c.depth.is_some()
        || !c.params.is_empty()
        || c.call_count.is_some()
        || !c.session.is_empty();
    // An entirely empty `when` matches everything in scope.
    let any_key = c.has_positive
        || !c.cmd_not.is_empty()
        || !c.path_not.is_empty()
        || !c.session_not.is_empty()
        || !c.response.is_empty()
        || !c.response_not.is_empty()
        || default.is_some();
    if !any_key {
        c.always = true;
    }
    c
}

fn compile_rule(r: Rule, canonical: &mut Canonical) -> CompiledRule {
    let Rule {
        action,
        when,
        message,
        ask,
        webhook,
        expires_at,
        once,
        added: _,
    } = r;
    let action_text = action.as_ref().map(|a| a.0.as_str()).unwrap_or("");
    let (action, message) = match parse_rule_action(action_text) {
        Ok(a) => (a, message.map(|m| m.0).unwrap_or_default()),
        Err(_) => (
            Action::Deny,
            "invalid rule action; failing closed".to_string(),
        ),
    };
    let webhook = webhook.and_then(|w| {
        let url = w.url?.0.trim().to_string();
        let secs = w
            .timeout
            .as_ref()
            .and_then(|t| parse_go_duration(&t.0))
            .filter(|s| *s > 0.0)
            .unwrap_or(5.0)
            .min(30.0);
        Some(WebhookConfig {
            url,
            timeout: Duration::from_secs_f64(secs),
            fail_open: w.fail_open.unwrap_or(false),
        })
    });
    CompiledRule {
        action,
        message,
        when: compile_when(when, canonical),
        ask: AskOptions {
            audit: ask.as_ref().and_then(|a| a.audit).unwrap_or(false),
            headless_only: ask.as_ref().and_then(|a| a.headless_only).unwrap_or(false),
        },
        webhook,
        expires_at: expires_at.as_ref().and_then(|e| parse_rfc3339(&e.0)),
        once: once.unwrap_or(false),
    }
}

/// A trimmed copy of `s`, reusing `s` when there is nothing to trim.
fn trimmed(s: String) -> String {
    if s.trim().len() == s.len() {
        s
    } else {
        s.trim().to_string()
    }
}

/// Compiles a validated set. Invalid values were rejected by validation; anything odd that
/// remains fails closed (an unparsable action becomes deny).
pub fn compile(set: &PolicySet) -> CompiledPolicySet {
    compile_owned(set.clone())
}

/// [`compile`] for a set the caller no longer needs: pattern and message strings move into the
/// compiled snapshot instead of being copied (the one-shot commands' path).
pub fn compile_owned(set: PolicySet) -> CompiledPolicySet {
    let PolicySet {
        default_action,
        notify,
        policies: sourced,
        sources,
        warnings,
    } = set;
    let mut policies = Vec::with_capacity(sourced.len());
    let mut param_keys: Vec<String> = Vec::new();
    let mut rule_count = 0;
    let mut has_project = false;
    let mut canonical = Canonical::default();
    // Policies of one file share one origin.
    let mut origin: Option<Arc<Origin>> = None;
    for (order, sp) in sourced.into_iter().enumerate() {
        let SourcedPolicy {
            policy: p,
            origin: from,
        } = sp;
        if p.enabled == Some(false) {
            continue;
        }
        has_project |= from.project;
        let Policy {
            name,
            description: _,
            priority,
            enabled: _,
            scope,
            rules,
        } = p;
        let Scope {
            tool,
            agent,
            session,
        } = scope.unwrap_or_default();
        let glob_or_star = |t: Option<super::model::Text>| match t {
            Some(t) if !t.0.is_empty() => CommandGlob::from_string(t.0),
            _ => CommandGlob::new("*"),
        };
        let rules: Vec<CompiledRule> = rules
            .unwrap_or_default()
            .into_iter()
            .map(|r| compile_rule(r, &mut canonical))
            .collect();
        for r in &rules {
            for (k, _) in &r.when.params {
                if !param_keys.contains(k) {
                    param_keys.push(k.clone());
                }
            }
        }
        rule_count += rules.len();
        let agent = glob_or_star(agent);
        let session = glob_or_star(session);
        policies.push(CompiledPolicy {
            name: name.map(|n| trimmed(n.0)).unwrap_or_default(),
            // Compatibility: priority 0 and absent both mean 100.
            priority: match priority {
                None | Some(0) => 100,
                Some(n) => n,
            },
            tools: globs(tool, CommandGlob::from_string),
            rules,
            durable: from.is_durable(),
            any_agent_session: agent.source() == "*" && session.source() == "*",
            origin: match &origin {
                Some(o) if **o == from => o.clone(),
                _ => origin.insert(Arc::new(from)).clone(),
            },
            agent,
            session,
            order,
        });
    }
    policies.sort_by_key(|p| (p.priority, p.order));
    let prefilter = build_prefilter(&mut policies);
    let tool_index = build_tool_index(&policies);
    CompiledPolicySet {
        default_action: default_action.unwrap_or(Action::Deny),
        policies,
        notify,
        param_keys,
        has_project,
        rule_count,
        sources,
        warnings,
        prefilter,
        tool_index,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(needles: &[String], text: &str) -> Vec<usize> {
        let t: String = text
            .chars()
            .map(|c| {
                if c == '\\' {
                    '/'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        needles
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                n.len() < 2
                    || !n.is_ascii()
                    || n.contains('\\')
                    || t.contains(&n.to_ascii_lowercase())
            })
            .map(|(i, _)| i)
            .collect()
    }

    fn fast(needles: &[String], text: &str) -> Vec<usize> {
        let mut b = PrefilterBuilder::default();
        for n in needles {
            b.add(&[n]);
        }
        let pf = b.build();
        let bits = pf.candidates(text);
        (0..needles.len())
            .filter(|i| bits[i / 64] & (1 << (i % 64)) != 0)
            .collect()
    }

    #[test]
    fn prefilter_examples() {
        let needles: Vec<String> = [
            "rm -rf", "RM", "git push", "x", "é!", "a\\b", "/etc/", "rm -rf",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for t in [
            "",
            "r",
            "RM -RF /",
            "sudo git PUSH",
            "cat C:\\etc\\x",
            "nothing",
            "xrm",
        ] {
            assert_eq!(fast(&needles, t), naive(&needles, t), "text {t:?}");
        }
    }

    proptest! {
        #[test]
        fn prefilter_requires_every_needle_of_an_id(
            ids in proptest::collection::vec(
                proptest::collection::vec("[a-cA-C/\\\\ é-]{0,4}", 1..4), 1..30),
            text in "[a-cA-C/\\\\ é-]{0,30}",
        ) {
            let mut b = PrefilterBuilder::default();
            for lits in &ids {
                b.add(lits);
            }
            let bits = b.build().candidates(&text);
            let t: String = text
                .chars()
                .map(|c| if c == '\\' { '/' } else { c.to_ascii_lowercase() })
                .collect();
            for (i, lits) in ids.iter().enumerate() {
                let usable: Vec<&String> = lits
                    .iter()
                    .filter(|l| l.len() >= 2 && l.is_ascii() && !l.contains('\\'))
                    .collect();
                let expect = usable.is_empty()
                    || usable.iter().all(|l| t.contains(&l.to_ascii_lowercase()));
                prop_assert_eq!(bits[i / 64] & (1 << (i % 64)) != 0, expect, "id {} {:?}", i, lits);
            }
        }

        #[test]
        fn prefilter_finds_long_needles_cut_from_the_text(
            text in "[abAB/\\\\ é]{0,40}",
            cuts in proptest::collection::vec(
                (0usize..40, 2usize..20, any::<bool>(), proptest::option::of(0usize..12)),
                1..12,
            ),
            others in proptest::collection::vec("[abAB/ ]{2,20}", 0..6),
        ) {
            // Needles longer than the eight bytes compared at once: cut from the text, some
            // with one byte changed (often after the first eight).
            let mut needles: Vec<String> = others;
            for (at, len, upper, change) in cuts {
                let b = text.as_bytes();
                let (at, end) = (at.min(b.len()), (at + len).min(b.len()));
                let Ok(n) = std::str::from_utf8(&b[at..end]) else { continue };
                let mut n = if upper { n.to_ascii_uppercase() } else { n.to_string() };
                if let Some(c) = change {
                    let i = (8 + c).min(n.len().saturating_sub(1));
                    if n.is_char_boundary(i) && n.is_char_boundary(i + 1) && i < n.len() {
                        let repl = if n.as_bytes()[i] == b'a' { "b" } else { "a" };
                        n.replace_range(i..i + 1, repl);
                    }
                }
                needles.push(n);
            }
            prop_assert_eq!(fast(&needles, &text), naive(&needles, &text));
        }

        #[test]
        fn prefilter_is_a_superset_of_substring_search(
            needles in proptest::collection::vec("[a-cA-C/\\\\ é-]{0,4}", 1..40),
            text in "[a-cA-C/\\\\ é-]{0,30}",
        ) {
            prop_assert_eq!(fast(&needles, &text), naive(&needles, &text));
        }

        #[test]
        fn pattern_ids_find_the_patterns_with_their_bit_set(
            base in 0usize..200,
            len in 0usize..80,
            gaps in proptest::collection::vec(0usize..3, 80),
            bits in proptest::collection::vec(any::<u64>(), 0..6),
            wanted in proptest::collection::vec(any::<bool>(), 80),
        ) {
            // Numbered as the builder does, and with gaps (which must fall back to every bit).
            for consecutive in [true, false] {
                let mut pats: Vec<CmdPattern> = (0..len).map(|i| CmdPattern::new(i.to_string())).collect();
                let mut id = base;
                for (p, gap) in pats.iter_mut().zip(&gaps) {
                    p.id = id;
                    id += 1 + if consecutive { 0 } else { *gap };
                }
                let ids = PatternIds::of(&pats);
                let want = |p: &CmdPattern| wanted[p.exact.source().parse::<usize>().unwrap_or(0)];
                let naive = pats.iter().any(|p| has_bit(&bits, p.id) && want(p));
                prop_assert_eq!(ids.any(&pats, &bits, want), naive);
                let unbuilt = PatternIds::default();
                prop_assert_eq!(unbuilt.any(&pats, &bits, want), naive);
            }
        }
    }
}
