//! Explanations for `rampart policy explain`: which command reading each fired rule matched,
//! through which pattern, and why the other in-scope policies did not fire.
//!
//! Evaluation itself stays in [`super::eval`]; this module only re-reads the same public
//! pieces (command readings, compiled patterns, path candidates) to show *where* a rule that
//! the engine says fired matched. Whether a policy fires is always taken from the engine
//! (the decision, or an evaluation of that policy alone), never re-derived here.

use std::sync::Arc;

use serde::Serialize;

use super::call::{ToolCall, canonical_tool};
use super::command::{
    self, alternate_readings, body_variants, grant_view, normalize, rm_aliases, split_compound,
};
use super::compile::{CmdPattern, CompiledPolicy, CompiledPolicySet, CompiledRule, PathPattern};
use super::decision::{Action, Decision};
use super::eval::{EvalContext, env_assignment_names, path_candidates};
use super::fields::{self, Fields};
use super::glob::PathGlob;
use super::shell::{self, Launcher, Origin};

/// One command text the engine analyses, and how it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reading {
    /// The command text (quotes removed, wrappers unwrapped where the engine does so).
    pub text: String,
    /// Where it came from: `command 2 of 3`, `run by sudo`, `inside $(...)`, ...
    pub source: String,
}

/// A condition value of a rule and the call text it matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatternHit {
    /// The condition key (`command_matches`, `path_matches`, `default`, ...).
    pub condition: String,
    /// The pattern as written in the policy (empty for `default`).
    pub pattern: String,
    /// The call text it matched.
    pub matched: String,
    /// Where that text came from (a [`Reading::source`], possibly with a derivation).
    pub source: String,
}

/// A rule and the evidence that it matched (or nearly matched).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleExplanation {
    /// Policy name.
    pub policy: String,
    /// 1-based rule number within the policy.
    pub rule: usize,
    /// The rule's action.
    pub action: Action,
    /// The rule's message.
    pub message: String,
    /// Patterns that matched, with the text each matched.
    pub hits: Vec<PatternHit>,
    /// Further notes (conditions without patterns, exclusions, uncovered commands).
    pub notes: Vec<String>,
}

/// What happened to one in-scope policy that did not decide.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PolicyOutcome {
    /// Evaluated; no rule matched.
    NoMatch {
        /// Rules whose command or path patterns matched something but that still did not
        /// fire, with the reason.
        near_misses: Vec<RuleExplanation>,
    },
    /// Not evaluated because a deny had already fired; what it would have done on its own.
    NotReached {
        /// The rule that would have fired, if any.
        would_fire: Option<RuleExplanation>,
    },
}

/// An in-scope policy that did not decide the call and whose rule is not in `also_fired`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyExplanation {
    /// Policy name.
    pub policy: String,
    /// Effective priority.
    pub priority: i64,
    /// Loaded from a project policy file.
    pub project: bool,
    /// What happened.
    #[serde(flatten)]
    pub outcome: PolicyOutcome,
}

/// The full explanation of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The engine's decision (unchanged).
    pub decision: Decision,
    /// The call's tool after canonicalization.
    pub tool: String,
    /// Every command reading the engine analyses (exec-like calls only).
    pub commands: Vec<Reading>,
    /// Path candidates (file tools only).
    pub paths: Vec<String>,
    /// The deciding rule, if a rule decided.
    pub winner: Option<RuleExplanation>,
    /// Other rules that fired and lost on precedence.
    pub also_fired: Vec<RuleExplanation>,
    /// Every other in-scope policy and why it did not fire.
    pub others: Vec<PolicyExplanation>,
    /// Names of policies whose tool/agent/session scope excludes the call.
    pub out_of_scope: Vec<String>,
}

/// Explains how `set` decides `call` (preview semantics, like [`CompiledPolicySet::evaluate`]).
pub fn explain(set: &CompiledPolicySet, call: &ToolCall) -> Explanation {
    explain_with(set, call, &EvalContext::default())
}

/// Explains how `set` decides `call` under `ctx`.
pub fn explain_with(set: &CompiledPolicySet, call: &ToolCall, ctx: &EvalContext) -> Explanation {
    let decision = set.evaluate_with(call, ctx);
    let tool = if call.tool.bytes().any(|b| b.is_ascii_uppercase()) {
        canonical_tool(&call.tool).into_owned()
    } else {
        call.tool.clone()
    };
    let f = fields::extract(call).unwrap_or_default();
    let view = View::build(&f, call);
    let find = |policy: &str| set.policies.iter().find(|p| p.name == policy);
    let rule_expl = |policy: &str, index: usize| -> Option<RuleExplanation> {
        let p = find(policy)?;
        let r = p.rules.get(index)?;
        Some(explain_rule(p, index, r, &view, true))
    };
    let winner = decision
        .winner
        .as_ref()
        .and_then(|w| rule_expl(&w.policy, w.rule_index));
    let also_fired: Vec<RuleExplanation> = decision
        .also_fired
        .iter()
        .filter_map(|w| rule_expl(&w.policy, w.rule_index))
        .collect();
    let fired = |name: &str| {
        decision.winner.as_ref().is_some_and(|w| w.policy == name)
            || decision.also_fired.iter().any(|w| w.policy == name)
    };
    // The engine stops at the first deny in scope order; later policies were not evaluated.
    let deny_at = decision
        .winner
        .as_ref()
        .filter(|_| decision.action == Action::Deny)
        .and_then(|w| {
            set.policies
                .iter()
                .filter(|p| p.in_scope(&tool, &call.agent, &call.session))
                .position(|p| p.name == w.policy)
        });
    let mut others = Vec::new();
    let mut out_of_scope = Vec::new();
    let mut alone = set.clone();
    alone.policies.clear();
    let mut scoped_i = 0;
    for p in &set.policies {
        if !p.in_scope(&tool, &call.agent, &call.session) {
            out_of_scope.push(p.name.clone());
            continue;
        }
        let i = scoped_i;
        scoped_i += 1;
        if fired(&p.name) {
            continue;
        }
        let outcome = if deny_at.is_some_and(|d| i > d) {
            let would = first_match_alone(&mut alone, p, call, ctx)
                .and_then(|k| p.rules.get(k).map(|r| explain_rule(p, k, r, &view, true)));
            PolicyOutcome::NotReached { would_fire: would }
        } else {
            let near_misses = p
                .rules
                .iter()
                .enumerate()
                .map(|(k, r)| explain_rule(p, k, r, &view, false))
                .filter(|e| !e.hits.is_empty() || !e.notes.is_empty())
                .collect();
            PolicyOutcome::NoMatch { near_misses }
        };
        others.push(PolicyExplanation {
            policy: p.name.clone(),
            priority: p.priority,
            project: p.origin.project,
            outcome,
        });
    }
    Explanation {
        decision,
        tool,
        commands: view.readings.iter().map(|g| g.reading.clone()).collect(),
        paths: view.paths.clone(),
        winner,
        also_fired,
        others,
        out_of_scope,
    }
}

/// The rule of `p` that fires when `p` is evaluated on its own, as a global policy.
fn first_match_alone(
    alone: &mut CompiledPolicySet,
    p: &CompiledPolicy,
    call: &ToolCall,
    ctx: &EvalContext,
) -> Option<usize> {
    let mut q = p.clone();
    if q.origin.project {
        let mut o = (*q.origin).clone();
        o.project = false;
        q.origin = Arc::new(o);
    }
    alone.set_policies(vec![q]);
    let d = alone.evaluate_with(call, ctx);
    alone.set_policies(Vec::new());
    d.winner
        .filter(|w| w.policy == p.name)
        .map(|w| w.rule_index)
}

/// One reading with every derived text the engine also matches for it.
struct ReadingGroup {
    reading: Reading,
    /// (text, derivation) pairs matched directly.
    direct: Vec<(String, &'static str)>,
    /// rm/find canonical aliases.
    aliases: Vec<String>,
}

/// The analysed call: command readings, grant components and path candidates.
struct View {
    raw: String,
    normalized: String,
    components: Vec<String>,
    readings: Vec<ReadingGroup>,
    env_names: Vec<String>,
    paths: Vec<String>,
    fields: Fields,
}

fn push_text(v: &mut Vec<(String, &'static str)>, t: String, how: &'static str) {
    if !t.is_empty() && !v.iter().any(|(x, _)| *x == t) {
        v.push((t, how));
    }
}

fn group(text: &str, source: String) -> ReadingGroup {
    let mut direct = Vec::new();
    push_text(&mut direct, text.to_string(), "");
    for b in body_variants(text) {
        push_text(&mut direct, b.to_string(), "body");
    }
    for (t, _) in direct.clone() {
        push_text(&mut direct, normalize(&t), "normalized");
    }
    let mut aliases = Vec::new();
    for (t, _) in direct.clone() {
        for a in alternate_readings(&t) {
            push_text(&mut direct, a, "alternate reading");
        }
        for a in rm_aliases(&t).unwrap_or_default() {
            if !aliases.contains(&a) {
                aliases.push(a);
            }
        }
    }
    ReadingGroup {
        reading: Reading {
            text: text.to_string(),
            source,
        },
        direct,
        aliases,
    }
}

fn launcher_name(l: Launcher) -> &'static str {
    match l {
        Launcher::Transparent => "a wrapper",
        Launcher::Privilege => "a privilege launcher",
        Launcher::Indirect => "an indirect launcher",
        Launcher::Remote => "a remote launcher",
        Launcher::Multicall => "a multi-call binary",
    }
}

fn origin_source(a: &shell::ShellAnalysis, c: &shell::ExecutedCommand) -> String {
    let parent = c
        .parent
        .and_then(|i| a.commands.get(i))
        .and_then(|p| p.argv.first())
        .map(|w| command::basename(w).to_string());
    match c.origin {
        Origin::TopLevel => "executed command".to_string(),
        Origin::CommandSubstitution => "inside $(...)".to_string(),
        Origin::ProcessSubstitution => "inside <(...)".to_string(),
        Origin::ShellString => match parent {
            Some(p) => format!("in the {p} -c string"),
            None => "in a shell -c string".to_string(),
        },
        Origin::Eval => "run by eval".to_string(),
        Origin::ShellInput => "fed to a shell as input".to_string(),
        Origin::Launched(l) => match parent {
            Some(p) => format!("run by {p}"),
            None => format!("run by {}", launcher_name(l)),
        },
    }
}

impl View {
    fn build(f: &Fields, call: &ToolCall) -> View {
        let mut v = View {
            raw: String::new(),
            normalized: String::new(),
            components: Vec::new(),
            readings: Vec::new(),
            env_names: Vec::new(),
            paths: Vec::new(),
            fields: f.clone(),
        };
        if let Some(p) = f.path.as_deref() {
            v.paths = path_candidates(p, f.workdir.as_deref(), call.resolved_path.as_deref());
        }
        let Some(cmd) = f.command.as_deref() else {
            return v;
        };
        let raw = command::sanitize(cmd);
        let g = grant_view(&raw);
        let n = g.components.len();
        for (i, c) in g.components.iter().enumerate() {
            let source = if n == 1 {
                "the command".to_string()
            } else {
                format!("command {} of {n}", i + 1)
            };
            v.readings.push(group(c, source));
        }
        if n != 1 || g.components.first() != Some(&raw) {
            v.readings
                .push(group(&raw, "the whole command line".to_string()));
        }
        let analysis = shell::analyze(&raw);
        for c in &analysis.commands {
            if c.argv.is_empty() {
                continue;
            }
            let text = c.argv.join(" ");
            let source = origin_source(&analysis, c);
            if !v.readings.iter().any(|r| r.reading.text == text) {
                v.readings.push(group(&text, source));
            }
            for r in &c.redirects {
                if r.heredoc.is_empty() {
                    continue;
                }
                for seg in split_compound(&r.heredoc) {
                    if !v.readings.iter().any(|x| x.reading.text == seg) {
                        v.readings
                            .push(group(seg, "in a here-document".to_string()));
                    }
                }
            }
        }
        v.env_names = env_assignment_names(&raw);
        v.normalized = g.normalized;
        v.components = g.components;
        v.raw = raw;
        v
    }
}

fn hit(condition: &str, pattern: &str, matched: &str, source: String) -> PatternHit {
    PatternHit {
        condition: condition.to_string(),
        pattern: pattern.to_string(),
        matched: matched.to_string(),
        source,
    }
}

fn with_how(source: &str, how: &str) -> String {
    if how.is_empty() {
        source.to_string()
    } else {
        format!("{source}, {how}")
    }
}

/// Whether a command pattern matches a text (exactly, or lower-cased for restrictive rules).
fn cmd_match(p: &CmdPattern, t: &str, restrictive: bool) -> Option<&'static str> {
    if p.exact.matches(t) {
        Some("")
    } else if restrictive && p.folded().matches(&t.to_lowercase()) {
        Some("lower-cased")
    } else {
        None
    }
}

fn path_match(p: &PathPattern, cand: &str, wd: Option<&str>) -> bool {
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

/// Evidence for one rule. `fired` says whether the engine reported it as fired; for rules
/// that did not fire, notes say what stopped them.
fn explain_rule(
    p: &CompiledPolicy,
    index: usize,
    r: &CompiledRule,
    v: &View,
    fired: bool,
) -> RuleExplanation {
    let mut e = RuleExplanation {
        policy: p.name.clone(),
        rule: index + 1,
        action: r.action,
        message: r.message.clone(),
        hits: Vec::new(),
        notes: Vec::new(),
    };
    let c = &r.when;
    if c.always {
        if fired {
            e.hits.push(hit(
                "default",
                "",
                "",
                "matches every call in the policy's scope".to_string(),
            ));
        }
        return e;
    }
    let restrictive = r.action.is_restrictive();
    if !c.cmd.is_empty() || !c.contains.is_empty() {
        if restrictive {
            restrictive_hits(r, v, &mut e);
        } else {
            grant_hits(r, v, &mut e);
        }
    }
    for g in &c.env {
        for n in v.env_names.iter().filter(|n| g.matches(n)) {
            e.hits.push(hit(
                "command_env_assignments",
                g.source(),
                n,
                "variable assigned by the command".to_string(),
            ));
        }
    }
    let wd = v.fields.workdir.as_deref();
    for pat in &c.path {
        for cand in v.paths.iter().filter(|cand| path_match(pat, cand, wd)) {
            e.hits
                .push(hit("path_matches", &pat.text(), cand, "path".to_string()));
        }
    }
    if !c.path.is_empty() {
        for pat in &c.path_not {
            for cand in v.paths.iter().filter(|cand| path_match(pat, cand, wd)) {
                e.notes.push(format!(
                    "path_not_matches {:?} matches {cand:?}",
                    pat.text()
                ));
            }
        }
        if !restrictive && !e.hits.is_empty() {
            for cand in &v.paths {
                if !c.path.iter().any(|pat| path_match(pat, cand, wd)) {
                    e.notes.push(format!(
                        "{} rules must match every path candidate; {cand:?} is not matched",
                        r.action
                    ));
                }
            }
        }
    }
    if let Some(u) = v.fields.url.as_deref() {
        for g in c.url.iter().filter(|g| g.matches(u)) {
            e.hits
                .push(hit("url_matches", g.source(), u, "URL".to_string()));
        }
    }
    if let Some(d) = v.fields.domain.as_deref() {
        for g in c.domain.iter().filter(|g| g.matches(d)) {
            e.hits
                .push(hit("domain_matches", g.source(), d, "domain".to_string()));
        }
    }
    if fired {
        let mut extra = Vec::new();
        if !c.session.is_empty() || !c.session_not.is_empty() {
            extra.push("session");
        }
        if c.depth.is_some() {
            extra.push("agent_depth");
        }
        if !c.params.is_empty() {
            extra.push("tool_param_matches");
        }
        if c.call_count.is_some() {
            extra.push("call_count");
        }
        if !extra.is_empty() {
            e.notes
                .push(format!("also required and met: {}", extra.join(", ")));
        }
        if e.hits.is_empty() && extra.is_empty() {
            e.notes.push(
                "matched on a reading the explainer cannot isolate (e.g. too many rm aliases, \
                 which fails closed)"
                    .to_string(),
            );
        }
    } else if !e.hits.is_empty() && e.notes.is_empty() {
        e.notes
            .push("its other conditions did not all hold".to_string());
    }
    e
}

/// Hits of a deny/ask rule's command conditions over every reading; exclusions become notes.
fn restrictive_hits(r: &CompiledRule, v: &View, e: &mut RuleExplanation) {
    let c = &r.when;
    let excl = |t: &str| c.cmd_not.iter().find(|q| cmd_match(q, t, true).is_some());
    let mut excluded_notes = Vec::new();
    for g in &v.readings {
        let mut group_hits = Vec::new();
        for (t, how) in &g.direct {
            for p in &c.cmd {
                if let Some(fold) = cmd_match(p, t, true) {
                    let src = with_how(&with_how(&g.reading.source, how), fold);
                    group_hits.push(hit("command_matches", p.exact.source(), t, src));
                }
            }
            let lower = t.to_lowercase();
            for (s, sf) in c.contains.iter().zip(&c.contains_folded) {
                if !sf.is_empty() && lower.contains(sf.as_str()) {
                    let src = with_how(&g.reading.source, how);
                    group_hits.push(hit("command_contains", s, t, src));
                }
            }
        }
        let group_excl = g
            .direct
            .iter()
            .find_map(|(t, _)| excl(t).map(|q| (t.clone(), q.exact.source().to_string())));
        match group_excl {
            Some((t, q)) if !group_hits.is_empty() => {
                let pats: Vec<String> = group_hits
                    .iter()
                    .map(|h| format!("{} {:?}", h.condition, h.pattern))
                    .collect();
                excluded_notes.push(format!(
                    "{} matched {:?} ({}), but command_not_matches {q:?} excludes it (matched {t:?})",
                    pats.join(", "),
                    g.reading.text,
                    g.reading.source
                ));
            }
            _ => e.hits.extend(group_hits),
        }
        for a in &g.aliases {
            for p in &c.cmd {
                if let Some(fold) = cmd_match(p, a, true) {
                    match excl(a) {
                        Some(q) => excluded_notes.push(format!(
                            "{a:?} is excluded by command_not_matches {:?}",
                            q.exact.source()
                        )),
                        None => {
                            let src = with_how(
                                &format!(
                                    "{}, rm reading of {:?}",
                                    g.reading.source, g.reading.text
                                ),
                                fold,
                            );
                            e.hits
                                .push(hit("command_matches", p.exact.source(), a, src));
                        }
                    }
                }
            }
        }
    }
    // command_contains also looks at the whole raw line.
    let raw_lower = v.raw.to_lowercase();
    for (s, sf) in c.contains.iter().zip(&c.contains_folded) {
        if !sf.is_empty()
            && raw_lower.contains(sf.as_str())
            && !e.hits.iter().any(|h| h.pattern == *s)
        {
            e.hits.push(hit(
                "command_contains",
                s,
                &v.raw,
                "the whole command line".to_string(),
            ));
        }
    }
    dedup_hits(&mut e.hits);
    push_notes(&mut e.notes, excluded_notes);
}

/// Hits of an allow/watch/webhook rule: the pattern covering each component, and the
/// components no pattern covers.
fn grant_hits(r: &CompiledRule, v: &View, e: &mut RuleExplanation) {
    let c = &r.when;
    let excl = |t: &str| c.cmd_not.iter().find(|q| q.exact.matches(t));
    let mut notes = Vec::new();
    for t in std::iter::once(&v.raw)
        .chain(std::iter::once(&v.normalized))
        .chain(&v.components)
    {
        if let Some(q) = excl(t) {
            notes.push(format!(
                "{t:?} is excluded by command_not_matches {:?}",
                q.exact.source()
            ));
        }
    }
    push_notes(&mut e.notes, notes);
    for p in c.cmd.iter().filter(|p| p.composite()) {
        if p.exact.matches(&v.raw) || p.exact.matches(&v.normalized) {
            e.hits.push(hit(
                "command_matches",
                p.exact.source(),
                &v.raw,
                "the whole command line (composite pattern)".to_string(),
            ));
        }
    }
    let n = v.components.len();
    for (i, comp) in v.components.iter().enumerate() {
        let source = if n == 1 {
            "the command".to_string()
        } else {
            format!("command {} of {n}", i + 1)
        };
        let by_pat = c.cmd.iter().find(|p| p.exact.matches(comp));
        let by_contains = c
            .contains
            .iter()
            .find(|s| !s.is_empty() && comp.contains(s.as_str()));
        match (by_pat, by_contains) {
            (Some(p), _) => e
                .hits
                .push(hit("command_matches", p.exact.source(), comp, source)),
            (None, Some(s)) => e.hits.push(hit("command_contains", s, comp, source)),
            (None, None) => {
                if n > 1 {
                    e.notes.push(format!(
                        "{} rules must cover every command; {comp:?} ({source}) is not covered",
                        r.action
                    ));
                }
            }
        }
    }
    // A partial cover without a composite hit did not fire; the hits still show how close it came.
}

fn push_notes(notes: &mut Vec<String>, new: Vec<String>) {
    for n in new {
        if !notes.contains(&n) {
            notes.push(n);
        }
    }
}

fn dedup_hits(h: &mut Vec<PatternHit>) {
    let mut seen: Vec<(String, String)> = Vec::new();
    h.retain(|x| {
        let k = (x.pattern.clone(), x.matched.clone());
        if seen.contains(&k) {
            false
        } else {
            seen.push(k);
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{compile, load};

    fn set(y: &str) -> CompiledPolicySet {
        compile(&load::load_text("t", y).expect("valid"))
    }

    #[test]
    fn names_component_and_pattern() {
        let s = set(
            "default_action: allow\npolicies:\n  - name: d\n    match: {tool: exec}\n    rules:\n      - action: deny\n        when: {command_matches: ['rm -rf /']}\n        message: no\n",
        );
        let e = explain(&s, &ToolCall::exec("sudo rm -rf /"));
        let w = e.winner.expect("winner");
        assert_eq!(w.policy, "d");
        assert!(
            w.hits
                .iter()
                .any(|h| h.pattern == "rm -rf /" && h.matched == "rm -rf /"),
            "{w:?}"
        );
    }

    #[test]
    fn allow_lists_each_component_and_uncovered_ones() {
        let s = set(
            "default_action: deny\npolicies:\n  - name: a\n    match: {tool: exec}\n    rules:\n      - action: allow\n        when: {command_matches: ['git *', 'ls*']}\n",
        );
        let e = explain(&s, &ToolCall::exec("ls -la && git status"));
        let w = e.winner.expect("winner");
        assert_eq!(w.hits.len(), 2, "{w:?}");
        let e = explain(&s, &ToolCall::exec("ls && curl x"));
        assert!(e.winner.is_none());
        let PolicyOutcome::NoMatch { near_misses } = &e.others[0].outcome else {
            panic!("expected no match");
        };
        assert!(near_misses[0].notes.iter().any(|n| n.contains("curl x")));
    }

    #[test]
    fn exclusions_and_not_reached_are_reported() {
        let s = set(
            "policies:\n  - name: first\n    rules:\n      - action: deny\n        when: {command_matches: ['rm *']}\n  - name: later\n    rules:\n      - action: ask\n        when: {command_matches: ['sudo *']}\n  - name: excl\n    priority: 1\n    rules:\n      - action: deny\n        when: {command_matches: ['rm *'], command_not_matches: ['rm x']}\n",
        );
        let e = explain(&s, &ToolCall::exec("sudo rm x"));
        assert_eq!(e.winner.as_ref().map(|w| w.policy.as_str()), Some("first"));
        let ex = e.others.iter().find(|o| o.policy == "excl").expect("excl");
        let PolicyOutcome::NoMatch { near_misses } = &ex.outcome else {
            panic!("excl was evaluated first");
        };
        assert!(
            near_misses[0]
                .notes
                .iter()
                .any(|n| n.contains("command_not_matches \"rm x\" excludes it"))
        );
        let later = e
            .others
            .iter()
            .find(|o| o.policy == "later")
            .expect("later");
        assert!(matches!(
            &later.outcome,
            PolicyOutcome::NotReached { would_fire: Some(r) } if r.rule == 1
        ));
    }
}
