//! `rampart policy lint|explain|test`.

use std::path::PathBuf;

use crate::engine::Action;
use crate::engine::explain::{self, Explanation, PolicyOutcome, RuleExplanation};
use crate::engine::load::{self, LoadError};
use crate::engine::locate::{Place, PolicyLines};
use crate::engine::model::{OneOrMany, PolicyFile, When};

use super::test_cmd::{self, TestArgs, one_shot_call};

/// Subcommands of `rampart policy`.
#[derive(clap::Subcommand, Debug)]
pub enum PolicyCommand {
    /// Check a policy file: load errors with line numbers, plus warnings about rules that
    /// cannot do what they seem to.
    Lint {
        /// Policy file.
        file: PathBuf,
    },
    /// Show how policy decides one command (or path/URL with --tool), rule by rule.
    Explain {
        /// The command, path or URL.
        target: String,
        /// Policy file (default: embedded standard plus ~/.rampart/policies).
        #[arg(long, short = 'c')]
        config: Option<PathBuf>,
        /// Tool class.
        #[arg(long, default_value = "exec")]
        tool: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Same as `rampart test`.
    Test(TestArgs),
}

/// Runs the subcommand; returns the exit code.
pub fn run(cmd: PolicyCommand) -> anyhow::Result<i32> {
    match cmd {
        PolicyCommand::Lint { file } => lint(&file),
        PolicyCommand::Explain {
            target,
            config,
            tool,
            json,
        } => explain(&target, config, &tool, json),
        PolicyCommand::Test(a) => test_cmd::run(a),
    }
}

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `error`, `warning` or `info`.
    pub severity: &'static str,
    /// What is wrong.
    pub message: String,
    /// Where in the file it is.
    pub place: Place,
}

fn n(v: &Option<OneOrMany>) -> usize {
    v.as_ref().map(|v| v.0.len()).unwrap_or(0)
}

/// Lints a decoded, valid policy file (semantic checks the loader does not reject).
pub fn lint_file(f: &PolicyFile) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |severity, place: Place, message: String| {
        out.push(Finding {
            severity,
            message,
            place,
        })
    };
    match f
        .default_action
        .as_ref()
        .map(|d| d.0.trim().to_ascii_lowercase())
    {
        None => push(
            "info",
            Place::File,
            "default_action not explicitly set (implicit deny)".to_string(),
        ),
        Some(d) if d == "allow" => push(
            "warning",
            Place::DefaultAction,
            "default_action: allow lets every unmatched call through; prefer deny plus allow rules"
                .to_string(),
        ),
        _ => {}
    }
    let policies = f.policies.clone().unwrap_or_default();
    if policies.is_empty() {
        push(
            "warning",
            Place::Policies,
            "policy has no rules".to_string(),
        );
    }
    for (pi, p) in policies.iter().enumerate() {
        let name = p.name.as_ref().map(|n| n.0.clone()).unwrap_or_default();
        let rules = p.rules.clone().unwrap_or_default();
        if rules.is_empty() {
            push(
                "warning",
                Place::PolicyKey(pi, "rules"),
                format!("policy {name:?} has no rules"),
            );
        }
        if p.priority == Some(0) {
            push(
                "warning",
                Place::PolicyKey(pi, "priority"),
                format!(
                    "policy {name:?}: priority 0 is treated as the default 100 (use a negative number to run first)"
                ),
            );
        }
        let mut deny_all: Option<usize> = None;
        for (i, r) in rules.iter().enumerate() {
            let idx = i + 1;
            let action = r
                .action
                .as_ref()
                .map(|a| a.0.to_ascii_lowercase())
                .unwrap_or_default();
            let at = Place::Rule(pi, i);
            if let Some(m) = deny_all {
                push(
                    "info",
                    at.clone(),
                    format!(
                        "policy {name:?} rule {idx} will never match — shadowed by deny-all rule {m}"
                    ),
                );
            }
            if action == "log" {
                push(
                    "warning",
                    at.clone(),
                    format!(
                        "policy {name:?} rule {idx}: action \"log\" is deprecated; use \"watch\""
                    ),
                );
            }
            match &r.when {
                None => push(
                    "info",
                    at,
                    format!(
                        "policy {name:?} rule {idx} has no conditions — matches all tool calls in scope"
                    ),
                ),
                Some(w) => lint_when(&name, idx, &action, w, &mut |sev, msg| {
                    push(sev, at.clone(), msg)
                }),
            }
            let is_default = r.when.as_ref().and_then(|w| w.default) == Some(true);
            if action == "deny" && (is_default || r.when.is_none()) && deny_all.is_none() {
                deny_all = Some(idx);
            }
        }
    }
    out
}

fn lint_when(
    name: &str,
    idx: usize,
    action: &str,
    w: &When,
    push: &mut impl FnMut(&'static str, String),
) {
    let positive = n(&w.command_matches)
        + n(&w.command_contains)
        + n(&w.command_env_assignments)
        + n(&w.path_matches)
        + n(&w.url_matches)
        + n(&w.domain_matches)
        + n(&w.session_matches)
        + usize::from(w.agent_depth.is_some())
        + usize::from(w.tool_param_matches.is_some())
        + usize::from(w.call_count.is_some());
    let negative = n(&w.command_not_matches) + n(&w.path_not_matches) + n(&w.session_not_matches);
    let response = n(&w.response_matches) + n(&w.response_not_matches);
    if positive == 0 && negative > 0 && w.default != Some(true) {
        push(
            "warning",
            format!(
                "policy {name:?} rule {idx} has only *_not_matches conditions and never matches; add a positive condition"
            ),
        );
    }
    if response > 0 && positive > 0 {
        push(
            "warning",
            format!(
                "policy {name:?} rule {idx} mixes response_matches with pre-call conditions; before the call it fires on the pre-call conditions alone"
            ),
        );
    }
    if action == "allow" || action == "watch" {
        for p in w.command_matches.iter().flat_map(|v| v.0.iter()) {
            if p.contains('\'') || p.contains('"') {
                push(
                    "warning",
                    format!(
                        "policy {name:?} rule {idx}: grant pattern {p:?} contains quotes and can never match (commands are compared after quote removal)"
                    ),
                );
            }
        }
    }
}

/// The output of linting one file: `file:line: severity: message` lines and counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LintReport {
    /// One line per finding.
    pub lines: Vec<String>,
    /// Number of errors.
    pub errors: usize,
    /// Number of warnings.
    pub warnings: usize,
    /// Number of notes (info).
    pub notes: usize,
}

/// Lints policy `text` labelled `label`: a load error, or every semantic finding, each with
/// the line of the policy or rule it is about.
pub fn lint_report(label: &str, text: &str) -> LintReport {
    let mut r = LintReport::default();
    match load::parse_policy(label, text) {
        Err(LoadError::Invalid { path, message }) => {
            let line = PolicyLines::find(text).line(&invalid_place(text, &message));
            r.lines.push(format!("{path}:{line}: error: {message}"));
            r.errors = 1;
        }
        Err(e) => {
            // Decoder errors already carry `file:line:column:`.
            r.lines.push(e.to_string().replacen(": ", ": error: ", 1));
            r.errors = 1;
        }
        Ok(f) => {
            let lines = PolicyLines::find(text);
            for x in lint_file(&f) {
                let line = lines.line(&x.place);
                r.lines
                    .push(format!("{label}:{line}: {}: {}", x.severity, x.message));
                match x.severity {
                    "error" => r.errors += 1,
                    "warning" => r.warnings += 1,
                    _ => r.notes += 1,
                }
            }
        }
    }
    r
}

/// Where a validation message (`engine: policy "p": rule 2: ...`) points.
fn invalid_place(text: &str, message: &str) -> Place {
    let lines = PolicyLines::find(text);
    let number_after = |key: &str| -> Option<usize> {
        let at = message.find(key)? + key.len();
        let digits: String = message[at..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        digits.parse().ok()
    };
    if let Some(i) = number_after("policy at index ") {
        return Place::Policy(i);
    }
    let name = message
        .split_once("policy \"")
        .or_else(|| message.split_once("policy name \""))
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(n, _)| n);
    let Some(name) = name else {
        return Place::File;
    };
    let index = if message.contains("duplicate policy name") {
        lines
            .policies
            .iter()
            .rposition(|p| p.name.as_deref() == Some(name))
    } else {
        lines.policy_index(name)
    };
    let Some(i) = index else {
        return Place::File;
    };
    match number_after(": rule ") {
        Some(j) => Place::Rule(i, j),
        None => Place::Policy(i),
    }
}

fn lint(file: &std::path::Path) -> anyhow::Result<i32> {
    let label = file.display().to_string();
    let text = load::read_policy_text(file)?;
    let r = lint_report(&label, &text);
    for l in &r.lines {
        println!("{l}");
    }
    println!(
        "\n{} error{}, {} warning{}, {} note{}",
        r.errors,
        plural(r.errors),
        r.warnings,
        plural(r.warnings),
        r.notes,
        plural(r.notes)
    );
    Ok(if r.errors > 0 { 1 } else { 0 })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn explain(target: &str, config: Option<PathBuf>, tool: &str, json: bool) -> anyhow::Result<i32> {
    let policy = super::offline_policy(config)?;
    let call = one_shot_call(tool, target, "");
    let e = explain::explain(&policy, &call);
    let code = if e.decision.action == Action::Deny {
        1
    } else {
        0
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&e)?);
    } else {
        print!("{}", render_explanation(target, &e));
    }
    Ok(code)
}

fn render_rule(out: &mut String, r: &RuleExplanation, indent: &str) {
    use std::fmt::Write as _;
    for h in &r.hits {
        let _ = if h.condition == "default" {
            writeln!(out, "{indent}default: true — {}", h.source)
        } else {
            writeln!(
                out,
                "{indent}{} {:?} matched {:?} ({})",
                h.condition, h.pattern, h.matched, h.source
            )
        };
    }
    for n in &r.notes {
        let _ = writeln!(out, "{indent}note: {n}");
    }
}

/// Renders an explanation for people: the command readings, the deciding rule and pattern,
/// the rules that lost on precedence, and why every other in-scope policy did not fire.
pub fn render_explanation(target: &str, e: &Explanation) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let d = &e.decision;
    let _ = writeln!(out, "{}: {target}", e.tool);
    let _ = writeln!(
        out,
        "decision: {} — {}",
        d.action.as_str().to_uppercase(),
        d.message
    );
    if !e.commands.is_empty() {
        let _ = writeln!(out, "\ncommands analysed:");
        for (i, r) in e.commands.iter().enumerate() {
            let _ = writeln!(out, "  {}. {:?} — {}", i + 1, r.text, r.source);
        }
    }
    if !e.paths.is_empty() {
        let _ = writeln!(out, "\npath candidates: {}", e.paths.join(", "));
    }
    match &e.winner {
        Some(w) => {
            let _ = writeln!(
                out,
                "\ndecided by: policy {:?} rule {} ({})",
                w.policy, w.rule, w.action
            );
            render_rule(&mut out, w, "  ");
        }
        None => {
            let _ = writeln!(
                out,
                "\ndecided by: no rule — {} (default action or a fail-closed check)",
                d.message
            );
        }
    }
    if !e.also_fired.is_empty() {
        let _ = writeln!(out, "\nalso fired (lower precedence or later in order):");
        for r in &e.also_fired {
            let _ = writeln!(
                out,
                "  policy {:?} rule {} ({})",
                r.policy, r.rule, r.action
            );
            render_rule(&mut out, r, "    ");
        }
    }
    let mut quiet = Vec::new();
    let mut not_reached_quiet = Vec::new();
    let mut detail = String::new();
    let mut reached_detail = String::new();
    for o in &e.others {
        match &o.outcome {
            PolicyOutcome::NoMatch { near_misses } if near_misses.is_empty() => {
                quiet.push(o.policy.as_str())
            }
            PolicyOutcome::NoMatch { near_misses } => {
                for r in near_misses {
                    let _ = writeln!(
                        detail,
                        "  policy {:?} rule {} ({}) did not fire:",
                        r.policy, r.rule, r.action
                    );
                    render_rule(&mut detail, r, "    ");
                }
            }
            PolicyOutcome::NotReached { would_fire: None } => {
                not_reached_quiet.push(o.policy.as_str())
            }
            PolicyOutcome::NotReached {
                would_fire: Some(r),
            } => {
                let _ = writeln!(
                    reached_detail,
                    "  policy {:?} would fire rule {} ({}):",
                    r.policy, r.rule, r.action
                );
                render_rule(&mut reached_detail, r, "    ");
            }
        }
    }
    if !detail.is_empty() {
        let _ = write!(out, "\nnear misses:\n{detail}");
    }
    if !quiet.is_empty() {
        let _ = writeln!(
            out,
            "\nno rule matched ({} polic{}): {}",
            quiet.len(),
            if quiet.len() == 1 { "y" } else { "ies" },
            quiet.join(", ")
        );
    }
    if !reached_detail.is_empty() || !not_reached_quiet.is_empty() {
        let _ = writeln!(
            out,
            "\nnot evaluated (a deny had already fired; evaluation stops at the first deny):"
        );
        out.push_str(&reached_detail);
        if !not_reached_quiet.is_empty() {
            let _ = writeln!(
                out,
                "  would not fire ({}): {}",
                not_reached_quiet.len(),
                not_reached_quiet.join(", ")
            );
        }
    }
    if !e.out_of_scope.is_empty() {
        let _ = writeln!(
            out,
            "\nout of scope for this tool/agent/session: {} policies",
            e.out_of_scope.len()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint_text(y: &str) -> Vec<Finding> {
        lint_file(&load::parse_policy("t.yaml", y).expect("valid"))
    }

    #[test]
    fn lint_flags_traps() {
        let f = lint_text(
            "default_action: allow\npolicies:\n  - name: p\n    rules:\n      - action: deny\n        when:\n          session_not_matches: [x]\n      - action: deny\n        when:\n          command_matches: ['cat *']\n          response_matches: [SECRET]\n      - action: allow\n        when:\n          command_matches: [\"echo 'x'\"]\n",
        );
        let msgs: Vec<String> = f.iter().map(|f| f.message.clone()).collect();
        assert!(msgs.iter().any(|m| m.contains("never matches")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("mixes response_matches")));
        assert!(msgs.iter().any(|m| m.contains("contains quotes")));
        assert!(msgs.iter().any(|m| m.contains("default_action: allow")));
    }

    #[test]
    fn lint_shadowed_rules() {
        let f = lint_text(
            "policies:\n  - name: p\n    rules:\n      - action: deny\n        when: {default: true}\n      - action: allow\n        when: {command_matches: [ls]}\n",
        );
        assert!(
            f.iter()
                .any(|x| x.message.contains("shadowed by deny-all rule 1"))
        );
    }

    #[test]
    fn lint_findings_carry_the_line_of_their_policy_or_rule() {
        let text = "version: \"1\"\ndefault_action: allow\npolicies:\n  # first\n  - name: p\n    priority: 0\n    rules:\n      - action: deny\n        when: {default: true}\n\n      - action: log\n        when:\n          command_matches: [ls]\n  - name: q\n    rules: []\n";
        let r = lint_report("t.yaml", text);
        let has = |l: &str| r.lines.iter().any(|x| x == l);
        assert!(
            has(
                "t.yaml:2: warning: default_action: allow lets every unmatched call through; prefer deny plus allow rules"
            ),
            "{r:?}"
        );
        assert!(
            has(
                "t.yaml:6: warning: policy \"p\": priority 0 is treated as the default 100 (use a negative number to run first)"
            ),
            "{r:?}"
        );
        assert!(
            has(
                "t.yaml:11: warning: policy \"p\" rule 2: action \"log\" is deprecated; use \"watch\""
            ),
            "{r:?}"
        );
        assert!(
            has(
                "t.yaml:11: info: policy \"p\" rule 2 will never match — shadowed by deny-all rule 1"
            ),
            "{r:?}"
        );
        assert!(
            has("t.yaml:15: warning: policy \"q\" has no rules"),
            "{r:?}"
        );
        assert_eq!((r.errors, r.warnings, r.notes), (0, 4, 1));
        let empty = lint_report("e.yaml", "# nothing yet\n");
        assert!(
            empty
                .lines
                .contains(&"e.yaml:1: warning: policy has no rules".to_string())
        );
    }

    #[test]
    fn lint_validation_errors_point_at_the_rule() {
        let text = "policies:\n  - name: ok\n    rules:\n      - action: deny\n        when: {command_matches: [ls]}\n  - name: bad\n    rules:\n      - action: deny\n        when: {command_matches: [ls]}\n      - action: blok\n        when: {command_matches: [ls]}\n";
        let r = lint_report("t.yaml", text);
        assert_eq!(r.errors, 1);
        assert!(r.lines[0].starts_with("t.yaml:10: error: "), "{r:?}");
        let dup = "policies:\n  - name: a\n    rules: [{action: deny, when: {default: true}}]\n  - name: a\n    rules: [{action: deny, when: {default: true}}]\n";
        let r = lint_report("d.yaml", dup);
        assert!(r.lines[0].starts_with("d.yaml:4: error: "), "{r:?}");
        let syntax = lint_report("s.yaml", "policies:\n  - name: a\n    rulez: []\n");
        assert!(syntax.lines[0].starts_with("s.yaml:3:"), "{syntax:?}");
    }
}
