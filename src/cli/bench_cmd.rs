//! `rampart bench`: score a policy's coverage against an attack corpus (spec/engine.md §16).
//! It measures what the policy catches, not speed (speed lives in `cargo bench`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::json;

use crate::engine::load::{self, read_policy_text};
use crate::engine::{Action, ToolCall, compile};

/// Arguments of `rampart bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Policy file (default: embedded standard plus ~/.rampart/policies).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Corpus file (v2 `cases:` or v1 `entries:`).
    #[arg(long)]
    pub corpus: PathBuf,
    /// Only cases for this OS (`linux`, `darwin`, `windows`; `*` = all). Default: this host.
    #[arg(long)]
    pub os: Option<String>,
    /// Minimum severity: low, medium, high, critical.
    #[arg(long)]
    pub severity: Option<String>,
    /// Only this category.
    #[arg(long)]
    pub category: Option<String>,
    /// Only ids starting with this prefix.
    #[arg(long)]
    pub id: Option<String>,
    /// Ask does not satisfy a deny expectation.
    #[arg(long)]
    pub strict: bool,
    /// Exit 1 when coverage (percent) is below this.
    #[arg(long)]
    pub min_coverage: Option<f64>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// List every case.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

#[derive(Debug, Deserialize, Default)]
struct Corpus {
    #[serde(default)]
    cases: Vec<Case>,
    #[serde(default)]
    entries: Vec<V1Entry>,
    #[serde(default)]
    defaults: Option<Defaults>,
}

#[derive(Debug, Deserialize, Default)]
struct Defaults {
    os: Option<String>,
    expected: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone)]
struct Case {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    tool: String,
    #[serde(default)]
    input: BTreeMap<String, String>,
    #[serde(default)]
    expected: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
struct V1Entry {
    command: String,
    expected_action: String,
    #[serde(default)]
    category: String,
}

fn weight(sev: &str) -> f64 {
    match sev {
        "critical" => 3.0,
        "high" => 2.0,
        _ => 1.0,
    }
}

fn sev_rank(sev: &str) -> u8 {
    match sev {
        "critical" => 3,
        "high" => 2,
        "medium" => 1,
        _ => 0,
    }
}

fn host_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        o => o,
    }
}

/// One corpus case, as `rampart bench` and the speed benches read it (v2 `cases:`, or v1
/// `entries:` migrated with ids `V1-NNN`), with the corpus defaults applied.
#[derive(Debug, Clone)]
pub struct CorpusCase {
    case: Case,
    /// The case's OS (`linux`, `darwin`, `windows` or `*`).
    pub os: String,
    /// The expected decision as written (`require_approval` is ask).
    pub expected: String,
}

impl CorpusCase {
    /// The case id (`V1-NNN` for v1 entries).
    pub fn id(&self) -> &str {
        &self.case.id
    }

    /// The expected action.
    pub fn expected_action(&self) -> anyhow::Result<Action> {
        match self.expected.as_str() {
            "require_approval" => Ok(Action::Ask),
            e => Action::parse(e)
                .with_context(|| format!("case {}: invalid expected {e:?}", self.case.id)),
        }
    }

    /// The tool call the case describes (agent `*`; exec, read and write only).
    pub fn call(&self) -> anyhow::Result<ToolCall> {
        let c = &self.case;
        Ok(match c.tool.as_str() {
            "exec" => ToolCall::exec(c.input.get("command").map(String::as_str).unwrap_or("")),
            "read" | "write" => {
                let p = c.input.get("path").cloned().unwrap_or_default();
                let mut call = ToolCall::path(&c.tool, &p);
                call.params.insert("file_path".into(), p.into());
                call
            }
            other => bail!(
                "case {}: unsupported tool {other:?} (exec, read, write)",
                c.id
            ),
        }
        .agent("*"))
    }
}

/// Reads a corpus file (v2 or v1).
pub fn load_corpus(path: &std::path::Path) -> anyhow::Result<Vec<CorpusCase>> {
    let text = read_policy_text(path)?;
    let corpus: Corpus =
        serde_saphyr::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut cases = corpus.cases.clone();
    for (i, e) in corpus.entries.iter().enumerate() {
        let sev = match e.category.as_str() {
            "destructive" | "exfil" | "credential-theft" => "critical",
            "privilege-escalation" | "persistence" => "high",
            _ => "medium",
        };
        cases.push(Case {
            id: format!("V1-{:03}", i + 1),
            name: e.command.clone(),
            category: e.category.clone(),
            severity: sev.to_string(),
            tool: "exec".to_string(),
            input: BTreeMap::from([("command".to_string(), e.command.clone())]),
            expected: Some(e.expected_action.clone()),
            ..Default::default()
        });
    }
    if cases.is_empty() {
        // Scoring nothing would report 100 % coverage.
        anyhow::bail!(
            "{}: no corpus cases (a v2 corpus lists `cases:`, a v1 corpus `entries:`; a \
             `rampart test` suite with `tests:` runs with `rampart test FILE`)",
            path.display()
        );
    }
    let defaults = corpus.defaults.unwrap_or_default();
    Ok(cases
        .into_iter()
        .map(|c| CorpusCase {
            os: c
                .os
                .clone()
                .or(defaults.os.clone())
                .unwrap_or_else(|| "*".into()),
            expected: c
                .expected
                .clone()
                .or(defaults.expected.clone())
                .unwrap_or_else(|| "deny".into()),
            case: c,
        })
        .collect())
}

/// Runs the command; returns the exit code.
pub fn run(a: BenchArgs) -> anyhow::Result<i32> {
    let cases = load_corpus(&a.corpus)?;
    let os = a.os.clone().unwrap_or_else(|| host_os().to_string());
    let policy = match &a.policy {
        Some(p) => {
            compile(&load::load_file(p).with_context(|| format!("loading {}", p.display()))?)
        }
        None => super::offline_policy(None)?,
    };
    let mut rows = Vec::new();
    for cc in cases {
        let c = &cc.case;
        if os != "*" && cc.os != "*" && cc.os != os {
            continue;
        }
        if a.severity
            .as_deref()
            .is_some_and(|s| sev_rank(&c.severity) < sev_rank(s))
        {
            continue;
        }
        if a.category.as_deref().is_some_and(|k| k != c.category) {
            continue;
        }
        if a.id
            .as_deref()
            .is_some_and(|p| !c.id.to_uppercase().starts_with(&p.to_uppercase()))
        {
            continue;
        }
        let expected = cc.expected_action()?;
        let call = cc.call()?;
        let got = policy.evaluate(&call).action;
        let covered =
            got == expected || (!a.strict && expected == Action::Deny && got == Action::Ask);
        rows.push((cc.case, expected, got, covered));
    }
    let total = rows.len();
    if total == 0 {
        // Coverage of no cases would pass any --min-coverage.
        anyhow::bail!(
            "no case of {} matches the filters (--os {os}{}{}{})",
            a.corpus.display(),
            a.severity
                .as_deref()
                .map_or(String::new(), |s| format!(", --severity {s}")),
            a.category
                .as_deref()
                .map_or(String::new(), |c| format!(", --category {c}")),
            a.id.as_deref()
                .map_or(String::new(), |i| format!(", --id {i}")),
        );
    }
    let covered = rows.iter().filter(|r| r.3).count();
    let wt: f64 = rows.iter().map(|r| weight(&r.0.severity)).sum();
    let wc: f64 = rows
        .iter()
        .filter(|r| r.3)
        .map(|r| weight(&r.0.severity))
        .sum();
    // `total` is at least one case, so `wt` is at least one too.
    let pct = covered as f64 * 100.0 / total as f64;
    let wpct = wc * 100.0 / wt;
    let mut by_action: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &rows {
        *by_action.entry(r.2.as_str()).or_default() += 1;
    }
    let gaps: Vec<_> = rows
        .iter()
        .filter(|r| !r.3)
        .map(|(c, e, g, _)| json!({"id": c.id, "name": c.name, "category": c.category, "severity": c.severity, "tool": c.tool, "input": c.input, "expected": e.as_str(), "actual": g.as_str()}))
        .collect();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "total": total, "covered": covered, "coverage": pct, "weighted_coverage": wpct,
                "decisions": by_action, "gaps": gaps,
            }))?
        );
    } else {
        println!("coverage: {covered}/{total} ({pct:.1}%), severity-weighted {wpct:.1}%");
        let counts: Vec<String> = by_action.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("decisions: {}", counts.join(" "));
        for (c, e, g, ok) in &rows {
            if !ok || a.verbose {
                println!(
                    "  {} {} [{}] expected {e}, got {g}: {}",
                    if *ok { "✓" } else { "✗" },
                    c.id,
                    c.category,
                    c.name
                );
            }
        }
    }
    Ok(if a.min_coverage.is_some_and(|m| pct < m) {
        1
    } else {
        0
    })
}
