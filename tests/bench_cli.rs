//! `rampart bench`: coverage of a policy against an attack corpus, run as the real binary on
//! corpora in both formats.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Exit code, stdout, stderr.
fn bench(home: &Path, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .arg("bench")
        .args(args)
        .current_dir(home)
        .env("HOME", home)
        .stdin(Stdio::null())
        .output()
        .expect("run rampart bench");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const V2: &str = r#"
version: "2"
defaults: {os: "*", expected: deny}
cases:
  - id: d-001
    name: wipe the disk
    category: destructive
    severity: critical
    tool: exec
    input: {command: "sudo rm -rf /"}
  - id: D-002
    name: benign build
    category: destructive
    severity: medium
    tool: exec
    input: {command: "cargo build"}
    expected: allow
  - id: C-001
    name: read a key
    category: credential-theft
    severity: high
    tool: read
    input: {path: "~/.ssh/id_rsa"}
  - id: N-001
    name: deploy
    category: network
    severity: medium
    tool: exec
    input: {command: "deploy prod"}
  - id: W-001
    name: windows only
    category: destructive
    severity: critical
    os: windows
    tool: exec
    input: {command: "format c:"}
"#;

/// deny `rm -rf *`-style wipes and key reads, ask for deploys, allow the rest.
const POLICY: &str = r#"
version: "1"
default_action: allow
policies:
  - name: wipe
    match: {tool: exec}
    rules:
      - action: deny
        when: {command_matches: ["rm -rf /"]}
  - name: keys
    match: {tool: read}
    rules:
      - action: deny
        when: {path_matches: ["**/.ssh/id_*"]}
  - name: deploys
    match: {tool: exec}
    rules:
      - action: ask
        when: {command_matches: ["deploy *"]}
"#;

/// `rampart bench` on the v2 corpus and the test policy, plus `extra`.
fn bench_v2(home: &Path, extra: &[&str]) -> (i32, String, String) {
    let base = ["--corpus", "v2.yaml", "--policy", "policy.yaml"];
    bench(home, &[&base[..], extra].concat())
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("v2.yaml"), V2).expect("write");
    std::fs::write(dir.path().join("policy.yaml"), POLICY).expect("write");
    dir
}

#[test]
fn v2_corpus_is_scored_with_ask_counting_unless_strict() {
    let dir = setup();
    let h = dir.path();
    // Linux (or any non-Windows host): the Windows case is left out.
    let (code, out, err) = bench_v2(h, &["--os", "linux"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("coverage: 4/4 (100.0%)"), "{out}");
    let (code, out, _) = bench_v2(h, &["--os", "linux", "--strict"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("coverage: 3/4 (75.0%)"), "{out}");
    assert!(
        out.contains("✗ N-001 [network] expected deny, got ask"),
        "{out}"
    );

    // --min-coverage fails the run below the bar, passes at it.
    let strict = ["--os", "linux", "--strict", "--min-coverage"];
    let (code, _, _) = bench_v2(h, &[&strict[..], &["80"]].concat());
    assert_eq!(code, 1);
    let (code, _, _) = bench_v2(h, &[&strict[..], &["75"]].concat());
    assert_eq!(code, 0);
}

#[test]
fn json_report_and_filters() {
    let dir = setup();
    let h = dir.path();
    let (code, out, err) = bench_v2(h, &["--os", "*", "--strict", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["total"], 5);
    // `format c:` is allowed by this policy, and the deploy is asked.
    assert_eq!(v["covered"], 3);
    assert_eq!(v["decisions"]["deny"], 2);
    assert_eq!(v["decisions"]["ask"], 1);
    assert_eq!(v["decisions"]["allow"], 2);
    let gap_ids: Vec<&str> = v["gaps"]
        .as_array()
        .expect("gaps")
        .iter()
        .filter_map(|g| g["id"].as_str())
        .collect();
    assert_eq!(gap_ids, ["N-001", "W-001"]);
    // Severity weights: critical 3, high 2, medium 1: d-001, D-002 and C-001 (6 of 10).
    let w = v["weighted_coverage"].as_f64().expect("weighted");
    assert!((w - 60.0).abs() < 1e-9, "{w}");

    let count = |extra: &[&str]| {
        let (code, out, err) = bench_v2(h, &[extra, &["--json"]].concat());
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<Value>(&out).expect("json")["total"].clone()
    };
    assert_eq!(count(&["--os", "*", "--severity", "high"]), 3);
    assert_eq!(count(&["--os", "*", "--category", "destructive"]), 3);
    // Id prefixes compare case-insensitively.
    assert_eq!(count(&["--os", "*", "--id", "d-"]), 2);
    // Cases for any OS count on every OS.
    assert_eq!(count(&["--os", "windows"]), 5);
    assert_eq!(count(&["--os", "darwin"]), 4);
}

#[test]
fn v1_entries_are_migrated() {
    let dir = setup();
    let h = dir.path();
    std::fs::write(
        h.join("v1.yaml"),
        "entries:\n  - {command: 'sudo rm -rf /', expected_action: deny, category: destructive}\n  - {command: 'ls', expected_action: allow, category: misc}\n",
    )
    .expect("write");
    let (code, out, err) = bench(
        h,
        &[
            "--corpus",
            "v1.yaml",
            "--policy",
            "policy.yaml",
            "--verbose",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("coverage: 2/2 (100.0%)"), "{out}");
    assert!(
        out.contains("✓ V1-001 [destructive] expected deny, got deny"),
        "{out}"
    );
    assert!(
        out.contains("✓ V1-002 [misc] expected allow, got allow"),
        "{out}"
    );
}

#[test]
fn the_embedded_profile_is_the_default_policy() {
    let dir = setup();
    let (code, out, err) = bench(
        dir.path(),
        &["--corpus", "v2.yaml", "--os", "linux", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    // The standard profile denies the wipe and the key read and allows `cargo build`.
    assert!(v["covered"].as_u64().expect("covered") >= 3, "{out}");
}

#[test]
fn nothing_to_score_is_an_error_not_full_coverage() {
    let dir = setup();
    let h = dir.path();
    // A `rampart test` suite is not a corpus.
    std::fs::write(
        h.join("suite.yaml"),
        "tests:\n  - name: t\n    tool: exec\n    params: {command: ls}\n    expect: allow\n",
    )
    .expect("write");
    let (code, out, err) = bench(h, &["--corpus", "suite.yaml", "--min-coverage", "90"]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("suite.yaml: no corpus cases"), "{err}");
    assert!(err.contains("rampart test"), "{err}");
    assert!(!out.contains("coverage"), "{out}");

    // Filters that leave nothing.
    let (code, out, err) = bench(
        h,
        &["--corpus", "v2.yaml", "--id", "ZZZ", "--min-coverage", "90"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("no case of v2.yaml matches the filters"),
        "{err}"
    );
    assert!(err.contains("--id ZZZ"), "{err}");

    // Broken YAML and a missing file name the file.
    std::fs::write(h.join("broken.yaml"), "cases: [").expect("write");
    let (code, _, err) = bench(h, &["--corpus", "broken.yaml"]);
    assert_eq!(code, 1);
    assert!(err.contains("broken.yaml"), "{err}");
    let (code, _, err) = bench(h, &["--corpus", "missing.yaml"]);
    assert_eq!(code, 1);
    assert!(err.contains("missing.yaml"), "{err}");
}
