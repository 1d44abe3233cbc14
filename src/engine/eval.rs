//! Evaluation: one call against a compiled snapshot (spec/engine.md §6–§8).
//!
//! Each call is analysed once: the command's compatibility reading (grant components and
//! restrictive candidate groups), the bash parser's executed commands, and the path
//! candidates are computed lazily and shared by every rule. Restrictive rules (deny, ask)
//! match over a superset of the reference engine's candidates — plus commands found behind
//! launchers, heredocs and substitutions, and a case-folded reading — so they are never
//! weaker. Granting rules (allow, watch, webhook) require every executed component to be
//! covered by the same rule.

use std::cell::OnceCell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::call::ToolCall;
use super::command::{
    self, GrantView, alternate_readings, body_variants, grant_view, normalize, rm_aliases,
    split_compound,
};
use super::compile::{
    CompiledPolicy, CompiledPolicySet, CompiledRule, Conditions, PathPattern, Prefilter,
};
use super::decision::{Action, Decision, RuleRef};
use super::fields::{self, Fields};
use super::glob::PathGlob;
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

/// One candidate group: a component and every reading of it.
#[derive(Debug, Default)]
struct Group {
    /// Texts matched directly (component, bodies, normalized forms, alternate readings).
    direct: Vec<String>,
    /// Texts checked against exclusions.
    excl: Vec<String>,
    /// Canonical rm/find aliases (excluded only individually).
    aliases: Vec<String>,
    /// Whether texts are case-folded (match folded patterns).
    folded: bool,
    /// `direct` lower-cased, for case-insensitive `command_contains`.
    lower: Vec<String>,
    /// Prefilter candidate sets of `direct`, `aliases` and `excl`.
    direct_bits: Vec<Vec<u64>>,
    alias_bits: Vec<Vec<u64>>,
    excl_bits: Vec<Vec<u64>>,
}

fn has_bit(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
}

impl Group {
    /// Computes prefilter candidate sets for every text (cached across groups).
    fn index(&mut self, pf: &Prefilter, cache: &mut HashMap<String, Vec<u64>>) {
        let mut get = |t: &String| {
            cache
                .entry(t.clone())
                .or_insert_with(|| pf.candidates(t))
                .clone()
        };
        self.direct_bits = self.direct.iter().map(&mut get).collect();
        self.alias_bits = self.aliases.iter().map(&mut get).collect();
        self.excl_bits = self.excl.iter().map(&mut get).collect();
    }
}

impl Group {
    /// Fills the lower-cased texts once the group is complete.
    fn finish(mut self) -> Group {
        self.lower = self.direct.iter().map(|t| t.to_lowercase()).collect();
        self
    }
}

/// The analysed command, shared by every rule of one evaluation.
#[derive(Debug, Default)]
struct CommandView {
    raw: String,
    raw_folded: String,
    /// Lower-cased NormalizeCommand(raw), when the raw text has quotes or backslashes.
    norm_folded: Option<String>,
    grant: GrantView,
    /// Groups tied to grant components (reference semantics).
    groups: Vec<Group>,
    /// The whole command when it has several components (untied fallback).
    raw_group: Option<Group>,
    /// Further readings: case-folded and parser-derived. Restrictive only.
    extra: Vec<Group>,
    /// Too many rm aliases: rules with command patterns fail closed.
    alias_overflow: bool,
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !s.is_empty() && !v.contains(&s) {
        v.push(s);
    }
}

/// Builds a group from one component text.
fn group_for(text: &str, overflow: &mut bool) -> Group {
    let mut g = Group::default();
    let mut base = vec![text.to_string()];
    for b in body_variants(text) {
        push_unique(&mut base, b);
    }
    for t in base.clone() {
        let n = normalize(&t);
        push_unique(&mut base, n);
    }
    g.excl = base.clone();
    g.direct = base.clone();
    for t in &base {
        for a in alternate_readings(t) {
            push_unique(&mut g.direct, a);
        }
        match rm_aliases(t) {
            Ok(al) => al.into_iter().for_each(|a| push_unique(&mut g.aliases, a)),
            Err(_) => *overflow = true,
        }
    }
    g
}

fn fold_group(g: &Group) -> Group {
    let f = |v: &Vec<String>| v.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>();
    Group {
        direct: f(&g.direct),
        excl: f(&g.excl),
        aliases: f(&g.aliases),
        folded: true,
        ..Default::default()
    }
    .finish()
}

impl CommandView {
    fn build(raw_in: &str, pf: &Prefilter) -> CommandView {
        let raw = command::sanitize(raw_in);
        let grant = grant_view(&raw);
        let mut overflow = false;
        let mut groups: Vec<Group> = grant
            .components
            .iter()
            .map(|c| group_for(c, &mut overflow))
            .collect();
        let raw_g = group_for(&raw, &mut overflow);
        let raw_group = if groups.len() == 1 {
            // A single component: the whole command is that component.
            let g = &mut groups[0];
            for t in raw_g.direct {
                push_unique(&mut g.direct, t);
            }
            for t in raw_g.excl {
                push_unique(&mut g.excl, t);
            }
            for t in raw_g.aliases {
                push_unique(&mut g.aliases, t);
            }
            None
        } else {
            Some(raw_g)
        };
        let groups: Vec<Group> = groups.into_iter().map(Group::finish).collect();
        let raw_group = raw_group.map(Group::finish);
        let mut extra: Vec<Group> = groups.iter().map(fold_group).collect();
        if let Some(r) = &raw_group {
            extra.push(fold_group(r));
        }
        // Commands the bash parser finds: behind sudo/xargs/find -exec/ssh, in heredocs fed
        // to shells, in substitutions, in any letter case.
        let analysis = shell::analyze(&raw);
        for c in &analysis.commands {
            let text = c.argv.join(" ");
            let mut g = group_for(&text, &mut overflow);
            for r in &c.redirects {
                if !r.heredoc.is_empty() {
                    for seg in split_compound(&r.heredoc) {
                        let hg = group_for(&seg, &mut overflow);
                        extra.push(fold_group(&hg));
                        extra.push(hg.finish());
                    }
                }
            }
            g.direct.retain(|t| !t.is_empty());
            extra.push(fold_group(&g));
            extra.push(g.finish());
        }
        let raw_folded = raw.to_lowercase();
        let norm_folded = (raw.contains(['\'', '"', '\\'])).then(|| normalize(&raw).to_lowercase());
        let mut cache = HashMap::new();
        let mut groups = groups;
        let mut raw_group = raw_group;
        for g in groups
            .iter_mut()
            .chain(raw_group.iter_mut())
            .chain(extra.iter_mut())
        {
            g.index(pf, &mut cache);
        }
        CommandView {
            raw,
            raw_folded,
            norm_folded,
            grant,
            groups,
            raw_group,
            extra,
            alias_overflow: overflow,
        }
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

    fn env_names(&self) -> &[String] {
        self.env_names
            .get_or_init(|| match self.fields.command.as_deref() {
                Some(c) => env_assignment_names(&command::sanitize(c)),
                None => Vec::new(),
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
    collect_env(raw, &mut names, 0);
    names
}

fn collect_env(s: &str, names: &mut Vec<String>, depth: usize) {
    if depth > 4 {
        return;
    }
    for seg in split_compound(s) {
        let words = raw_words(&seg);
        let mut i = 0;
        while let Some(w) = words.get(i) {
            match assignment_name(w) {
                Some(n) => push_unique(names, n),
                None => break,
            }
            i += 1;
        }
        let toks = command::tokenize(&seg);
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
        let mut rest_s = seg.as_str();
        while let Some(at) = rest_s.to_ascii_lowercase().find("$env:") {
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
        let norm = command::normalize_segment(&seg);
        if norm != seg && !norm.is_empty() {
            collect_env(&norm, names, depth + 1);
        }
    }
    for sub in command::extract_subcommands(s) {
        collect_env(&sub, names, depth + 1);
    }
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

fn group_hit(c: &Conditions, g: &Group, with_contains: bool) -> GroupHit {
    let pat = |p: &super::compile::CmdPattern, t: &str, bits: &[u64]| {
        has_bit(bits, p.id)
            && if g.folded {
                p.folded().matches(t)
            } else {
                p.exact.matches(t)
            }
    };
    let excluded = |t: &str, bits: &[u64]| c.cmd_not.iter().any(|p| pat(p, t, bits));
    let normal = g
        .direct
        .iter()
        .zip(&g.direct_bits)
        .any(|(t, b)| c.cmd.iter().any(|p| pat(p, t, b)))
        || (with_contains
            && g.lower
                .iter()
                .any(|t| c.contains_folded.iter().any(|s| t.contains(s.as_str()))));
    let alias_hits: Vec<(&String, &Vec<u64>)> = g
        .aliases
        .iter()
        .zip(&g.alias_bits)
        .filter(|(a, b)| c.cmd.iter().any(|p| pat(p, a, b)))
        .collect();
    let group_excluded = normal && g.excl.iter().zip(&g.excl_bits).any(|(t, b)| excluded(t, b));
    let live = (normal && !group_excluded) || alias_hits.iter().any(|(a, b)| !excluded(a, b));
    GroupHit {
        positive: normal || !alias_hits.is_empty(),
        live,
    }
}

/// Restrictive command matching: reference candidates, then parser and case-folded readings.
fn restrictive_command(c: &Conditions, v: &CommandView) -> bool {
    let has_m = !c.cmd.is_empty();
    let has_c = !c.contains.is_empty();
    let raw_contains = has_c
        && c.contains_folded.iter().any(|s| {
            v.raw_folded.contains(s.as_str())
                || v.norm_folded
                    .as_ref()
                    .is_some_and(|n| n.contains(s.as_str()))
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
        let h = group_hit(c, g, has_c);
        positive |= h.positive;
        live |= h.live;
    }
    let reference = if positive {
        live
    } else {
        raw_contains
            || v.raw_group
                .as_ref()
                .is_some_and(|g| group_hit(c, g, has_c).positive)
    };
    reference || v.extra.iter().any(|g| group_hit(c, g, has_c).live)
}

/// Grant command matching: every component covered by this rule (or an explicit composite).
fn grant_command(c: &Conditions, v: &CommandView) -> bool {
    let g = &v.grant;
    let excluded = |t: &str| c.cmd_not.iter().any(|p| p.exact.matches(t));
    if excluded(&v.raw) || excluded(&g.normalized) || g.components.iter().any(|t| excluded(t)) {
        return false;
    }
    if g.composite
        && c.cmd
            .iter()
            .any(|p| p.composite && (p.exact.matches(&v.raw) || p.exact.matches(&g.normalized)))
    {
        return true;
    }
    if g.components.is_empty() {
        return false;
    }
    g.components.iter().all(|comp| {
        c.cmd.iter().any(|p| p.exact.matches(comp))
            || c.contains
                .iter()
                .any(|s| !s.is_empty() && comp.contains(s.as_str()))
    })
}

fn path_pattern_matches(p: &PathPattern, cand: &str, wd: Option<&str>) -> bool {
    if p.glob.matches(cand) || p.resolved.as_ref().is_some_and(|r| r.matches(cand)) {
        return true;
    }
    match wd {
        Some(wd) if p.relative && cand.starts_with('/') => {
            PathGlob::new(&format!("{}/{}", wd.trim_end_matches('/'), p.text)).matches(cand)
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
        let names = v.env_names();
        if !names.iter().any(|n| c.env.iter().any(|g| g.matches(n))) {
            return false;
        }
        let excluded = |t: &str| c.cmd_not.iter().any(|p| p.exact.matches(t));
        if excluded(&cmd.raw) || excluded(&cmd.grant.normalized) {
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
        };
        let now = now_unix(ctx);
        let scoped: Vec<&CompiledPolicy> = self
            .policies
            .iter()
            .filter(|p| p.in_scope(&call.tool, &call.agent, &call.session))
            .collect();
        let durable = scoped
            .iter()
            .filter(|p| p.origin.is_durable())
            .find_map(|p| {
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
        let scoped: Vec<&CompiledPolicy> = self
            .policies
            .iter()
            .filter(|p| p.in_scope(&call.tool, &call.agent, &call.session))
            .collect();
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
