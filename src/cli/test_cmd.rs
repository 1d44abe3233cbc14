//! `rampart test`: evaluate one command, path or URL, or run a YAML test suite
//! (spec/engine.md §13).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::engine::glob::{CommandGlob, shell_match};
use crate::engine::load::{self, parse_strict};
use crate::engine::model::{PolicyFile, SuiteFile, TestCase};
use crate::engine::{Action, CompiledPolicySet, Decision, ToolCall, compile};

/// Arguments of `rampart test`.
#[derive(clap::Args, Debug)]
pub struct TestArgs {
    /// A command (or path/URL with --tool), or a suite file ending in .yaml/.yml.
    pub target: Option<String>,
    /// Policy file (default: embedded standard profile plus ~/.rampart/policies).
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Tool class for a one-shot test: exec, read, write, edit, fetch, web_fetch, http, browser.
    #[arg(long)]
    pub tool: Option<String>,
    /// Agent identity for a one-shot test.
    #[arg(long, default_value = "")]
    pub agent: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Only run suite cases whose name matches this glob.
    #[arg(long)]
    pub run: Option<String>,
    /// Show message, matched policies and timing for every case.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

/// Runs the command; returns the exit code.
pub fn run(a: TestArgs) -> anyhow::Result<i32> {
    let target = match &a.target {
        Some(t) => t.clone(),
        None => {
            let found = ["rampart-tests.yaml", "rampart.yaml"]
                .into_iter()
                .find(|f| Path::new(f).is_file());
            match found {
                Some(f) => f.to_string(),
                None => bail!(
                    "nothing to test: pass a command or a suite file (no ./rampart-tests.yaml or ./rampart.yaml here)"
                ),
            }
        }
    };
    let is_suite = a.tool.is_none() && (target.ends_with(".yaml") || target.ends_with(".yml"));
    if is_suite {
        run_suite(&a, Path::new(&target))
    } else {
        run_one(&a, &target)
    }
}

/// Builds the call of a one-shot test; the same map serves as params and input.
pub fn one_shot_call(tool: &str, arg: &str, agent: &str) -> ToolCall {
    let mut call = match tool {
        "exec" => ToolCall::exec(arg),
        "read" | "write" | "edit" => ToolCall::path(tool, arg),
        "fetch" | "web_fetch" | "http" | "browser" => {
            let mut c = ToolCall::url(tool, arg);
            if let Some(rest) = arg.split_once("://").map(|(_, r)| r) {
                let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("/");
                c.params
                    .insert("path".into(), Value::String(path.to_string()));
            }
            c
        }
        other => ToolCall::with_param(other, "command", arg),
    };
    call.input = call.params.clone();
    call.agent = agent.to_string();
    call
}

fn label(action: Action) -> &'static str {
    match action {
        Action::Deny => "🛡️ DENY",
        Action::Ask => "🙋 ASK",
        Action::Watch => "👁️ WATCH",
        Action::Webhook => "🔗 WEBHOOK",
        Action::Allow => "✅ ALLOW",
    }
}

fn run_one(a: &TestArgs, arg: &str) -> anyhow::Result<i32> {
    let tool = a.tool.clone().unwrap_or_else(|| "exec".to_string());
    const TOOLS: &[&str] = &[
        "exec",
        "read",
        "write",
        "edit",
        "fetch",
        "web_fetch",
        "http",
        "browser",
    ];
    if !TOOLS.contains(&tool.as_str()) {
        bail!(
            "unsupported --tool {tool:?} (use one of: {})",
            TOOLS.join(", ")
        );
    }
    let policy = super::offline_policy(a.config.clone())?;
    let call = one_shot_call(&tool, arg, &a.agent);
    let d = policy.evaluate(&call);
    // One call and the process exits: freeing the compiled policy would only cost time.
    super::drop_at_exit(policy);
    if a.json {
        let out = json!({
            "command": arg,
            "tool": tool,
            "action": d.action.as_str(),
            "message": d.message,
            "matched_policies": d.matched_policies,
            "winner": d.winner,
            "also_fired": d.also_fired,
            "policy_scope": if d.from_project_policy { "project" } else { "global" },
            "suggestions": d.suggestions,
            "eval_us": d.eval_duration.as_micros() as u64,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(0);
    }
    print_decision(&d);
    Ok(if d.action == Action::Deny { 1 } else { 0 })
}

fn print_decision(d: &Decision) {
    println!("{} — {}", label(d.action), d.message);
    if let Some(w) = &d.winner {
        println!("   Rule: {} #{}", w.policy, w.rule_index + 1);
    }
    if !d.also_fired.is_empty() {
        let others: Vec<String> = d.also_fired.iter().map(|r| r.policy.clone()).collect();
        println!("   Also matched: {}", others.join(", "));
    }
    println!("   Eval: {}µs", d.eval_duration.as_micros());
    if !d.suggestions.is_empty() {
        println!("   💡 To allow this: {}", d.suggestions.join("  or  "));
    }
}

/// One suite case's outcome.
#[derive(Debug, serde::Serialize)]
struct CaseResult {
    name: String,
    passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    got: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    matched_policies: Vec<String>,
}

fn expand_tilde(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(h)) => PathBuf::from(h).join(rest),
        _ => PathBuf::from(p),
    }
}

/// Loads the cases and the policy a suite argument names.
fn load_suite(a: &TestArgs, file: &Path) -> anyhow::Result<(Vec<TestCase>, CompiledPolicySet)> {
    let label = file.display().to_string();
    let text = load::read_policy_text(file)?;
    // A suite has `policy:`/`tests:` only; anything else is a policy file with inline tests.
    let generic: Value = serde_saphyr::from_str(&text).unwrap_or(Value::Null);
    let is_policy_file = generic
        .as_object()
        .is_some_and(|m| m.keys().any(|k| k != "policy" && k != "tests"));
    let (cases, suite_policy) = if is_policy_file {
        let pf: PolicyFile = parse_strict(&label, &text)?;
        (pf.tests.unwrap_or_default(), Some(file.to_path_buf()))
    } else {
        let s: SuiteFile = parse_strict(&label, &text)?;
        let dir = file.parent().unwrap_or(Path::new("."));
        let p = s.policy.map(|p| {
            let e = expand_tilde(&p.0);
            if e.is_absolute() { e } else { dir.join(e) }
        });
        (s.tests.unwrap_or_default(), p)
    };
    let policy_path = a.config.clone().or(suite_policy);
    let policy = match policy_path {
        Some(p) => compile(
            &load::load_file(&p).with_context(|| format!("loading policy {}", p.display()))?,
        ),
        None => super::offline_policy(None)?,
    };
    Ok((cases, policy))
}

fn build_case_call(c: &TestCase) -> Result<ToolCall, String> {
    let tool = c.tool.as_ref().map(|t| t.0.clone()).unwrap_or_default();
    if tool.is_empty() {
        return Err("test case has no tool".to_string());
    }
    Ok(ToolCall {
        tool,
        agent: c
            .agent
            .as_ref()
            .map(|a| a.0.clone())
            .unwrap_or_else(|| "test".to_string()),
        session: c.session.as_ref().map(|s| s.0.clone()).unwrap_or_default(),
        agent_depth: c.agent_depth.unwrap_or(0),
        workdir: c.workdir.as_ref().map(|w| w.0.clone()),
        params: c.params.clone().unwrap_or_default(),
        input: c.input.clone().unwrap_or_default(),
        ..Default::default()
    })
}

fn run_case(policy: &CompiledPolicySet, c: &TestCase) -> CaseResult {
    let name = c.name.as_ref().map(|n| n.0.clone()).unwrap_or_default();
    let expect_raw = c
        .expect
        .as_ref()
        .map(|e| e.0.trim().to_string())
        .unwrap_or_default();
    let mut r = CaseResult {
        name,
        passed: false,
        expected: Some(expect_raw.clone()),
        got: None,
        message: None,
        error: None,
        matched_policies: Vec::new(),
    };
    let expected = match expect_raw.to_ascii_lowercase().as_str() {
        "require_approval" => {
            r.error = Some("expect: require_approval was removed; use ask".to_string());
            return r;
        }
        e => match Action::parse(e) {
            Some(a) => a,
            None => {
                r.error = Some(format!(
                    "invalid expect {expect_raw:?} (allow, deny, ask, watch, webhook)"
                ));
                return r;
            }
        },
    };
    r.expected = Some(expected.as_str().to_string());
    let call = match build_case_call(c) {
        Ok(call) => call,
        Err(e) => {
            r.error = Some(e);
            return r;
        }
    };
    let d = policy.evaluate(&call);
    r.got = Some(d.action.as_str().to_string());
    r.passed = d.action == expected;
    if let Some(pat) = &c.expect_message
        && !shell_match(&pat.0, &d.message)
    {
        r.passed = false;
        r.error = Some(format!(
            "message {:?} does not match {:?}",
            d.message, pat.0
        ));
    }
    r.message = Some(d.message);
    r.matched_policies = d.matched_policies;
    r
}

fn run_suite(a: &TestArgs, file: &Path) -> anyhow::Result<i32> {
    let (cases, policy) = load_suite(a, file)?;
    let filter = a.run.as_deref().map(CommandGlob::new);
    let results: Vec<CaseResult> = cases
        .iter()
        .filter(|c| {
            let n = c.name.as_ref().map(|n| n.0.as_str()).unwrap_or("");
            filter.as_ref().is_none_or(|f| f.matches(n))
        })
        .map(|c| run_case(&policy, c))
        .collect();
    if results.is_empty() {
        if let Some(glob) = &a.run {
            // A mistyped filter would otherwise pass a CI gate having run nothing.
            anyhow::bail!(
                "{}: no test name matches --run {glob:?} (the suite has {} test{})",
                file.display(),
                cases.len(),
                if cases.len() == 1 { "" } else { "s" }
            );
        }
        eprintln!("rampart: {}: the suite has no tests", file.display());
    }
    let passed = results.iter().filter(|r| r.passed).count();
    let errors = results
        .iter()
        .filter(|r| !r.passed && r.got.is_none())
        .count();
    let failed = results.len() - passed - errors;
    if a.json {
        let out = json!({
            "passed": passed,
            "failed": failed,
            "errors": errors,
            "total": results.len(),
            "tests": results,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for r in &results {
            let mark = if r.passed { "✓" } else { "✗" };
            let got = r.got.as_deref().unwrap_or("error");
            if r.passed && !a.verbose {
                println!("{mark} {}", r.name);
            } else {
                println!(
                    "{mark} {} (expected {}, got {got})",
                    r.name,
                    r.expected.as_deref().unwrap_or("?")
                );
                if let Some(m) = &r.message {
                    println!("    message: {m}");
                }
                if !r.matched_policies.is_empty() {
                    println!("    policies: {}", r.matched_policies.join(", "));
                }
                if let Some(e) = &r.error {
                    println!("    error: {e}");
                }
            }
        }
        println!(
            "\n{passed}/{} passed, {failed} failed, {errors} errors",
            results.len()
        );
    }
    Ok(if failed + errors > 0 { 1 } else { 0 })
}
