//! `rampart policy lint|explain|test`.

use std::path::PathBuf;

use anyhow::Context;

use crate::engine::load::{self, LoadError};
use crate::engine::model::{OneOrMany, PolicyFile, When};
use crate::engine::{Action, compile};

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
}

fn n(v: &Option<OneOrMany>) -> usize {
    v.as_ref().map(|v| v.0.len()).unwrap_or(0)
}

/// Lints a decoded, valid policy file (semantic checks the loader does not reject).
pub fn lint_file(f: &PolicyFile) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |severity, message: String| out.push(Finding { severity, message });
    match f
        .default_action
        .as_ref()
        .map(|d| d.0.trim().to_ascii_lowercase())
    {
        None => push(
            "info",
            "default_action not explicitly set (implicit deny)".to_string(),
        ),
        Some(d) if d == "allow" => push(
            "warning",
            "default_action: allow lets every unmatched call through; prefer deny plus allow rules"
                .to_string(),
        ),
        _ => {}
    }
    let policies = f.policies.clone().unwrap_or_default();
    if policies.is_empty() {
        push("warning", "policy has no rules".to_string());
    }
    for p in &policies {
        let name = p.name.as_ref().map(|n| n.0.clone()).unwrap_or_default();
        let rules = p.rules.clone().unwrap_or_default();
        if rules.is_empty() {
            push("warning", format!("policy {name:?} has no rules"));
        }
        if p.priority == Some(0) {
            push(
                "warning",
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
            if let Some(m) = deny_all {
                push(
                    "info",
                    format!(
                        "policy {name:?} rule {idx} will never match — shadowed by deny-all rule {m}"
                    ),
                );
            }
            if action == "log" {
                push(
                    "warning",
                    format!(
                        "policy {name:?} rule {idx}: action \"log\" is deprecated; use \"watch\""
                    ),
                );
            }
            match &r.when {
                None => push(
                    "info",
                    format!(
                        "policy {name:?} rule {idx} has no conditions — matches all tool calls in scope"
                    ),
                ),
                Some(w) => lint_when(&name, idx, &action, w, &mut push),
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

fn lint(file: &std::path::Path) -> anyhow::Result<i32> {
    let label = file.display().to_string();
    let text = load::read_policy_text(file)?;
    match load::parse_policy(&label, &text) {
        Err(e) => {
            let msg = match &e {
                LoadError::Syntax { .. } | LoadError::Invalid { .. } => e.to_string(),
                other => other.to_string(),
            };
            println!("{}", msg.replacen(": ", ": error: ", 1));
            println!("\n1 error");
            Ok(1)
        }
        Ok(f) => {
            let findings = lint_file(&f);
            for x in &findings {
                println!("{label}: {}: {}", x.severity, x.message);
            }
            let warn = findings.iter().filter(|f| f.severity == "warning").count();
            println!(
                "\n0 errors, {warn} warnings, {} notes",
                findings.len() - warn
            );
            Ok(0)
        }
    }
}

fn explain(target: &str, config: Option<PathBuf>, tool: &str, json: bool) -> anyhow::Result<i32> {
    let set = crate::engine::resolve::resolve(&crate::engine::resolve::ResolveOptions::new(
        crate::engine::resolve::Surface::Offline,
        config,
    ))
    .context("loading policy")?;
    let policy = compile(&set);
    let call = one_shot_call(tool, target, "");
    let d = policy.evaluate(&call);
    if json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(0);
    }
    println!("{tool}: {target}");
    println!("decision: {} — {}", d.action, d.message);
    match &d.winner {
        Some(w) => println!(
            "decided by: policy {:?} rule {}",
            w.policy,
            w.rule_index + 1
        ),
        None => println!("decided by: no rule (default or fail-closed check)"),
    }
    for r in &d.also_fired {
        println!(
            "also fired: policy {:?} rule {}",
            r.policy,
            r.rule_index + 1
        );
    }
    let in_scope: Vec<&str> = policy
        .policies
        .iter()
        .filter(|p| p.in_scope(&call.tool, &call.agent, &call.session))
        .map(|p| p.name.as_str())
        .collect();
    println!(
        "policies in scope ({}): {}",
        in_scope.len(),
        in_scope.join(", ")
    );
    Ok(if d.action == Action::Deny { 1 } else { 0 })
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
}
