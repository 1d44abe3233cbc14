//! Compiles a validated [`PolicySet`] into an immutable, matchable snapshot: every glob and
//! regex built once, policies sorted by priority (stable), durable and project flags resolved.

use std::sync::Arc;
use std::time::Duration;

use regex::Regex;

use super::command::pattern_is_composite;
use super::decision::{Action, AskOptions, WebhookConfig};
use super::duration::{parse_go_duration, parse_rfc3339};
use super::glob::{CommandGlob, DomainGlob, MAX_VALUE_BYTES, PathGlob};
use super::load::{Origin, PolicySet, parse_rule_action};
use super::model::{DepthBounds, Notify, OneOrMany, When};

/// A compiled command pattern with its lower-cased twin (for case-insensitive restrictive reads).
#[derive(Debug, Clone)]
pub struct CmdPattern {
    /// The pattern as written.
    pub exact: CommandGlob,
    /// The pattern lower-cased, when that differs from the pattern as written.
    folded: Option<CommandGlob>,
    /// Contains operators or substitutions (explicit composite grant).
    pub composite: bool,
    /// Index in the snapshot's [`Prefilter`].
    pub id: usize,
}

impl CmdPattern {
    fn new(p: &str) -> CmdPattern {
        let lower = p.to_lowercase();
        CmdPattern {
            exact: CommandGlob::new(p),
            folded: (lower != p).then(|| CommandGlob::new(&lower)),
            composite: pattern_is_composite(p),
            id: 0,
        }
    }

    /// The pattern lower-cased (the pattern itself when it has no upper-case letters).
    pub fn folded(&self) -> &CommandGlob {
        self.folded.as_ref().unwrap_or(&self.exact)
    }
}

/// Finds, in one pass over a text, which command patterns and `command_contains` strings could
/// possibly match it. Every pattern's required literals (and every contains string) are
/// lower-cased ASCII needles; a text's candidate set holds each id all of whose needles the text
/// contains (ASCII case-insensitively, with `\` read as `/`, as the globs read it), plus the ids
/// that have no usable needle. Needles are indexed by their first two bytes, so building the
/// index is a sort and looking a text up is one bitmap probe per byte.
#[derive(Debug, Clone, Default)]
pub struct Prefilter {
    /// Bit `a << 8 | b` set when some needle starts with the bytes `a b`.
    pairs: Vec<u64>,
    /// Set bits of `pairs` before each word of it, so a pair's rank is one popcount away.
    ranks: Vec<u32>,
    /// For the pair of rank `r`, its needles are `keys[starts[r]..starts[r + 1]]`.
    starts: Vec<u32>,
    /// Needle indices sorted by their first two bytes.
    keys: Vec<u32>,
    /// Needle bytes (lower-cased ASCII, at least 2 bytes).
    needles: Vec<Box<[u8]>>,
    /// Needle index → ids whose first needle it is.
    owners: Vec<Vec<usize>>,
    /// Id → its other needles.
    requires: Vec<Vec<u32>>,
    /// Ids without a usable needle (always candidates).
    always: Vec<usize>,
    /// Number of ids.
    count: usize,
}

/// How the prefilter reads a text byte: ASCII lower-cased, `\` as `/`.
#[inline]
fn fold_byte(b: u8) -> u8 {
    if b == b'\\' {
        b'/'
    } else {
        b.to_ascii_lowercase()
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
        self.candidates_into(text, &mut bits, &mut Vec::new());
        bits
    }

    /// ORs the candidate set of `text` into `bits` (`words()` long); `found` is scratch space.
    pub fn candidates_into(&self, text: &str, bits: &mut [u64], found: &mut Vec<u64>) {
        for &i in &self.always {
            bits[i / 64] |= 1 << (i % 64);
        }
        if self.keys.is_empty() {
            return;
        }
        found.clear();
        found.resize(self.needles.len() / 64 + 1, 0);
        let mut any = false;
        let t = text.as_bytes();
        let mut prev = match t.first() {
            Some(&b) => fold_byte(b),
            None => return,
        };
        for i in 1..t.len() {
            let cur = fold_byte(t[i]);
            let pair = u16::from(prev) << 8 | u16::from(cur);
            prev = cur;
            if self.pairs[usize::from(pair) / 64] & (1 << (pair % 64)) == 0 {
                continue;
            }
            let rest = &t[i - 1..];
            let (w, b) = (usize::from(pair) / 64, pair % 64);
            let rank =
                self.ranks[w] as usize + (self.pairs[w] & ((1u64 << b) - 1)).count_ones() as usize;
            let bucket = &self.keys[self.starts[rank] as usize..self.starts[rank + 1] as usize];
            for &n in bucket {
                let needle = &self.needles[n as usize];
                if needle.len() <= rest.len()
                    && needle[2..]
                        .iter()
                        .zip(&rest[2..])
                        .all(|(a, b)| *a == fold_byte(*b))
                {
                    found[n as usize / 64] |= 1 << (n % 64);
                    any = true;
                }
            }
        }
        if !any {
            return;
        }
        let has = |n: u32| found[n as usize / 64] & (1 << (n % 64)) != 0;
        for (w, &word) in found.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                let n = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                for &id in &self.owners[n] {
                    if self.requires[id].iter().all(|&r| has(r)) {
                        bits[id / 64] |= 1 << (id % 64);
                    }
                }
            }
        }
    }
}

/// Collects needles for the prefilter, one id per pattern or contains string.
#[derive(Default)]
struct PrefilterBuilder {
    /// (lower-cased needle, id, whether it is the id's first needle).
    needles: Vec<(String, usize, bool)>,
    always: Vec<usize>,
    count: usize,
}

impl PrefilterBuilder {
    /// Registers an id whose matches all contain every one of `lits` (ASCII
    /// case-insensitively). Literals that are too short, not ASCII or hold a `\` are not
    /// needles; an id left with none is always a candidate.
    fn add<S: AsRef<str>>(&mut self, lits: &[S]) -> usize {
        let id = self.count;
        self.count += 1;
        let mut usable: Vec<&str> = lits
            .iter()
            .map(AsRef::as_ref)
            .filter(|l| l.len() >= 2 && l.is_ascii() && !l.contains('\\'))
            .collect();
        if usable.is_empty() {
            self.always.push(id);
            return id;
        }
        // The longest needle first: it decides which texts are looked at further.
        usable.sort_by_key(|l| std::cmp::Reverse(l.len()));
        for (k, l) in usable.into_iter().enumerate() {
            self.needles.push((l.to_ascii_lowercase(), id, k == 0));
        }
        id
    }

    fn build(mut self) -> Prefilter {
        self.needles.sort_unstable();
        let mut pairs = vec![0u64; 1024];
        let mut keys: Vec<(u16, u32)> = Vec::new();
        let mut needles: Vec<Box<[u8]>> = Vec::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        let mut requires: Vec<Vec<u32>> = vec![Vec::new(); self.count];
        let mut last: Option<&str> = None;
        for (n, id, first) in &self.needles {
            if last != Some(n.as_str()) {
                last = Some(n);
                let b = n.as_bytes();
                let pair = u16::from(b[0]) << 8 | u16::from(b[1]);
                pairs[usize::from(pair) / 64] |= 1 << (pair % 64);
                keys.push((pair, needles.len() as u32));
                needles.push(b.into());
                owners.push(Vec::new());
            }
            let k = needles.len() - 1;
            if *first {
                owners[k].push(*id);
            } else if !requires[*id].contains(&(k as u32)) {
                requires[*id].push(k as u32);
            }
        }
        keys.sort_unstable();
        let mut ranks = Vec::with_capacity(pairs.len());
        let mut total = 0u32;
        for w in &pairs {
            ranks.push(total);
            total += w.count_ones();
        }
        let mut starts = Vec::with_capacity(total as usize + 1);
        let mut last = None;
        for (i, (pair, _)) in keys.iter().enumerate() {
            if last != Some(*pair) {
                starts.push(i as u32);
                last = Some(*pair);
            }
        }
        starts.push(keys.len() as u32);
        Prefilter {
            pairs,
            ranks,
            starts,
            keys: keys.into_iter().map(|(_, n)| n).collect(),
            needles,
            owners,
            requires,
            always: self.always,
            count: self.count,
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

fn build_prefilter(policies: &mut [CompiledPolicy]) -> Prefilter {
    let mut b = PrefilterBuilder::default();
    for p in policies.iter_mut() {
        for r in p.rules.iter_mut() {
            let c = &mut r.when;
            for pat in c.cmd.iter_mut().chain(c.cmd_not.iter_mut()) {
                pat.id = b.add(&pat.exact.required_literals());
            }
            // Grant rules look for the string as written, restrictive ones for it lower-cased:
            // the needle serves both only when the string is ASCII.
            c.contains_ids = c
                .contains
                .iter()
                .zip(&c.contains_folded)
                .map(|(s, f)| b.add(&[if s.is_ascii() { f.as_str() } else { "" }]))
                .collect();
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
    /// The raw text, for joining with a working directory.
    pub text: String,
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
    fn new(sources: &[String]) -> Self {
        LazyRegexes {
            sources: sources.to_vec(),
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
    /// Prefilter ids of `contains_folded`.
    pub contains_ids: Vec<usize>,
    /// Prefilter ids of `cmd` and `contains`: a call none of whose texts has one of these
    /// candidates cannot match the rule's command condition.
    pub command_gate: IdMask,
    /// `command_env_assignments`.
    pub env: Vec<CommandGlob>,
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
    /// policies whose tool globs take it (agent and session still to check).
    tool_index: Vec<(String, Vec<usize>)>,
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

fn build_tool_index(policies: &[CompiledPolicy]) -> Vec<(String, Vec<usize>)> {
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
        .map(|n| {
            let idx = policies
                .iter()
                .enumerate()
                .filter(|(_, p)| p.tools.is_empty() || p.tools.iter().any(|t| t.matches(n)))
                .map(|(i, _)| i)
                .collect();
            (n.to_string(), idx)
        })
        .collect()
}

impl CompiledPolicySet {
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
            Some((_, idx)) => idx
                .iter()
                .filter_map(|&i| self.policies.get(i))
                .filter(|p| {
                    (p.any_agent_session && star_matches)
                        || (p.agent.matches(agent) && p.session.matches(session))
                })
                .collect(),
            None => self
                .policies
                .iter()
                .filter(|p| p.in_scope(tool, agent, session))
                .collect(),
        }
    }
}

fn list(v: &Option<OneOrMany>) -> &[String] {
    v.as_ref().map(|v| v.0.as_slice()).unwrap_or_default()
}

fn cmd_patterns(v: &Option<OneOrMany>) -> Vec<CmdPattern> {
    list(v).iter().map(|p| CmdPattern::new(p)).collect()
}

/// Resolves the literal directory prefix of a pattern through symlinks (load time only).
fn resolve_prefix(pattern: &str) -> Option<String> {
    let p = pattern.replace('\\', "/");
    if !p.starts_with('/') {
        return None;
    }
    let glob_at = p.find(['*', '?', '[']).unwrap_or(p.len());
    let dir_end = p[..glob_at].rfind('/')?;
    let dir = if dir_end == 0 { "/" } else { &p[..dir_end] };
    let resolved = std::fs::canonicalize(dir).ok()?;
    let resolved = resolved.to_str()?;
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

fn path_patterns(v: &Option<OneOrMany>) -> Vec<PathPattern> {
    list(v)
        .iter()
        .map(|p| {
            let norm = p.replace('\\', "/");
            PathPattern {
                glob: PathGlob::new(p),
                resolved: resolve_prefix(p).map(|r| PathGlob::new(&r)),
                relative: !(norm.starts_with('/')
                    || norm.starts_with('*')
                    || norm.starts_with('~')),
                text: norm,
            }
        })
        .collect()
}

fn compile_when(w: Option<&When>) -> Conditions {
    let Some(w) = w else {
        return Conditions {
            always: true,
            ..Default::default()
        };
    };
    let regexes = |v: &Option<OneOrMany>| LazyRegexes::new(list(v));
    let mut c = Conditions {
        always: w.default == Some(true),
        cmd: cmd_patterns(&w.command_matches),
        cmd_not: cmd_patterns(&w.command_not_matches),
        contains: list(&w.command_contains).to_vec(),
        contains_folded: list(&w.command_contains)
            .iter()
            .map(|s| s.to_lowercase())
            .collect(),
        contains_ids: Vec::new(),
        command_gate: IdMask::default(),
        env: list(&w.command_env_assignments)
            .iter()
            .map(|p| CommandGlob::new(p))
            .collect(),
        path: path_patterns(&w.path_matches),
        path_not: path_patterns(&w.path_not_matches),
        url: list(&w.url_matches)
            .iter()
            .map(|p| CommandGlob::new(p))
            .collect(),
        domain: list(&w.domain_matches)
            .iter()
            .map(|p| DomainGlob::new(p))
            .collect(),
        session: list(&w.session_matches)
            .iter()
            .map(|p| CommandGlob::new(p))
            .collect(),
        session_not: list(&w.session_not_matches)
            .iter()
            .map(|p| CommandGlob::new(p))
            .collect(),
        depth: w.agent_depth.clone(),
        params: w
            .tool_param_matches
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), CommandGlob::new(&v.0.to_lowercase())))
            .collect(),
        call_count: w.call_count.as_ref().map(|cc| CallCountRule {
            tool: cc
                .tool
                .as_ref()
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
        response: regexes(&w.response_matches),
        response_not: regexes(&w.response_not_matches),
        has_positive: false,
    };
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
        || w.default.is_some();
    if !any_key {
        c.always = true;
    }
    c
}

/// Compiles a validated set. Invalid values were rejected by validation; anything odd that
/// remains fails closed (an unparsable action becomes deny).
pub fn compile(set: &PolicySet) -> CompiledPolicySet {
    let mut policies = Vec::new();
    let mut param_keys: Vec<String> = Vec::new();
    let mut rule_count = 0;
    let mut has_project = false;
    for (order, sp) in set.policies.iter().enumerate() {
        let p = &sp.policy;
        if p.enabled == Some(false) {
            continue;
        }
        has_project |= sp.origin.project;
        let scope = p.scope.clone().unwrap_or_default();
        let glob_or_star = |t: Option<super::model::Text>| {
            let s = t.map(|t| t.0).unwrap_or_default();
            CommandGlob::new(if s.is_empty() { "*" } else { &s })
        };
        let rules: Vec<CompiledRule> = p
            .rules
            .iter()
            .flatten()
            .map(|r| {
                let action_text = r.action.as_ref().map(|a| a.0.as_str()).unwrap_or("");
                let (action, message) = match parse_rule_action(action_text) {
                    Ok(a) => (
                        a,
                        r.message.as_ref().map(|m| m.0.clone()).unwrap_or_default(),
                    ),
                    Err(_) => (
                        Action::Deny,
                        "invalid rule action; failing closed".to_string(),
                    ),
                };
                let when = compile_when(r.when.as_ref());
                for (k, _) in &when.params {
                    if !param_keys.contains(k) {
                        param_keys.push(k.clone());
                    }
                }
                let webhook = r.webhook.as_ref().and_then(|w| {
                    let url = w.url.as_ref()?.0.trim().to_string();
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
                    when,
                    ask: AskOptions {
                        audit: r.ask.as_ref().and_then(|a| a.audit).unwrap_or(false),
                        headless_only: r
                            .ask
                            .as_ref()
                            .and_then(|a| a.headless_only)
                            .unwrap_or(false),
                    },
                    webhook,
                    expires_at: r.expires_at.as_ref().and_then(|e| parse_rfc3339(&e.0)),
                    once: r.once.unwrap_or(false),
                }
            })
            .collect();
        rule_count += rules.len();
        let agent = glob_or_star(scope.agent);
        let session = glob_or_star(scope.session);
        policies.push(CompiledPolicy {
            name: p
                .name
                .as_ref()
                .map(|n| n.0.trim().to_string())
                .unwrap_or_default(),
            // Compatibility: priority 0 and absent both mean 100.
            priority: match p.priority {
                None | Some(0) => 100,
                Some(n) => n,
            },
            tools: scope
                .tool
                .map(|t| t.0.iter().map(|s| CommandGlob::new(s)).collect())
                .unwrap_or_default(),
            rules,
            durable: sp.origin.is_durable(),
            any_agent_session: agent.source() == "*" && session.source() == "*",
            origin: Arc::new(sp.origin.clone()),
            agent,
            session,
            order,
        });
    }
    policies.sort_by_key(|p| (p.priority, p.order));
    let prefilter = build_prefilter(&mut policies);
    let tool_index = build_tool_index(&policies);
    CompiledPolicySet {
        default_action: set.default_action.unwrap_or(Action::Deny),
        policies,
        notify: set.notify.clone(),
        param_keys,
        has_project,
        rule_count,
        sources: set.sources.clone(),
        warnings: set.warnings.clone(),
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
        fn prefilter_is_a_superset_of_substring_search(
            needles in proptest::collection::vec("[a-cA-C/\\\\ é-]{0,4}", 1..40),
            text in "[a-cA-C/\\\\ é-]{0,30}",
        ) {
            prop_assert_eq!(fast(&needles, &text), naive(&needles, &text));
        }
    }
}
