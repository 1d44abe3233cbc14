//! `rampart init --project`, `rampart policy explain`, `rampart policy lint` and `rampart test`
//! suites run as a binary with HOME in a temp dir; project policies checked through the
//! resolver.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rampart::engine::resolve::{ResolveOptions, Surface, resolve};
use rampart::engine::{Action, ToolCall, compile, profiles};
use serde_json::Value;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(dir: &Path, home: &Path, args: &[&str]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env_remove("RAMPART_NO_PROJECT_POLICY")
        .stdin(Stdio::null())
        .output()
        .expect("run rampart");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// A fresh temp dir with an empty `home/`.
fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "rampart-policycli-{tag}-{}-{}",
        std::process::id(),
        ulid::Ulid::generate()
    ));
    std::fs::create_dir_all(d.join("home")).unwrap();
    d
}

#[test]
fn init_project_writes_a_tightening_policy_at_the_git_root() {
    let t = scratch("init");
    let home = t.join("home");
    let repo = t.join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(repo.join("src/deep")).unwrap();

    let o = run(&repo.join("src/deep"), &home, &["init", "--project"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let path = repo.join(".rampart/policy.yaml");
    let text = std::fs::read_to_string(&path).expect("written at the git root");
    assert!(text.starts_with('#'), "commented starter");
    assert!(o.stdout.contains(".rampart/policy.yaml"), "{}", o.stdout);

    // It loads as a project policy for agent surfaces only.
    let opts = ResolveOptions {
        config: None,
        config_dir: None,
        surface: Surface::Agent,
        project_dir: Some(repo.join("src/deep")),
        home: Some(home.clone()),
    };
    let set = resolve(&opts).expect("project policy loads");
    assert!(set.warnings.is_empty(), "{:?}", set.warnings);
    let project: Vec<_> = set.policies.iter().filter(|p| p.origin.project).collect();
    assert!(!project.is_empty());
    for p in &project {
        for r in p.policy.rules.iter().flatten() {
            let a = r.action.as_ref().map(|a| a.0.as_str()).unwrap_or("");
            assert!(matches!(a, "deny" | "ask"), "no weakening actions: {a}");
        }
    }
    let policy = compile(&set);
    let d = policy.evaluate(&ToolCall::exec("git push --force origin main"));
    assert_eq!(d.action, Action::Deny, "{d:?}");
    assert!(d.from_project_policy);
    assert_eq!(
        policy
            .evaluate(&ToolCall::exec("git push origin main"))
            .action,
        Action::Ask
    );
    assert_eq!(
        policy.evaluate(&ToolCall::exec("git status")).action,
        Action::Allow
    );
    let offline = resolve(&ResolveOptions {
        surface: Surface::Offline,
        ..opts
    })
    .unwrap();
    assert!(!offline.policies.iter().any(|p| p.origin.project));

    // Refuses to overwrite without --force; --force replaces an edited file.
    std::fs::write(&path, "# edited\n").unwrap();
    let o = run(&repo, &home, &["init", "--project"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("already exists"), "{}", o.stderr);
    assert!(o.stderr.contains("--force"), "{}", o.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# edited\n");
    let o = run(&repo, &home, &["init", "--project", "--force"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

    // --project and --output/--profile do not mix.
    let o = run(&repo, &home, &["init", "--project", "--profile", "yolo"]);
    assert_eq!(o.code, 1);
    let _ = std::fs::remove_dir_all(&t);
}

#[test]
fn init_project_outside_a_repository_is_a_clear_error() {
    let t = scratch("norepo");
    let dir = t.join("plain");
    std::fs::create_dir_all(&dir).unwrap();
    let o = run(&dir, &t.join("home"), &["init", "--project"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("not inside a git repository"),
        "{}",
        o.stderr
    );
    assert!(!dir.join(".rampart").exists());
    let _ = std::fs::remove_dir_all(&t);
}

#[test]
fn init_project_force_replaces_a_symlink_without_following_it() {
    let t = scratch("symlink");
    let repo = t.join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(repo.join(".rampart")).unwrap();
    let victim = t.join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    std::os::unix::fs::symlink(&victim, repo.join(".rampart/policy.yaml")).unwrap();
    let o = run(&repo, &t.join("home"), &["init", "--project"]);
    assert_eq!(o.code, 1, "a symlink counts as an existing file");
    let o = run(&repo, &t.join("home"), &["init", "--project", "--force"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    let md = std::fs::symlink_metadata(repo.join(".rampart/policy.yaml")).unwrap();
    assert!(md.file_type().is_file());
    let _ = std::fs::remove_dir_all(&t);
}

#[test]
fn explain_names_the_component_and_the_standard_pattern() {
    let t = scratch("explain");
    let home = t.join("home");
    let o = run(&t, &home, &["policy", "explain", "sudo rm -rf /"]);
    assert_eq!(o.code, 1, "deny exits 1: {}{}", o.stdout, o.stderr);
    let s = &o.stdout;
    assert!(s.contains("decision: DENY"), "{s}");
    assert!(s.contains("\"rm -rf /\" — run by sudo"), "{s}");
    assert!(
        s.contains("decided by: policy \"block-destructive\" rule 1 (deny)"),
        "{s}"
    );
    assert!(
        s.contains("command_matches \"rm -rf /\" matched \"rm -rf /\" (run by sudo)"),
        "{s}"
    );
    // The pattern is quoted from the embedded standard profile, not invented.
    let standard = profiles::get("standard").expect("embedded standard");
    assert!(standard.contains("- \"rm -rf /\"\n"));
    // Why the sudo ask rule did not decide: evaluation stopped at the deny.
    assert!(s.contains("not evaluated (a deny had already fired"), "{s}");
    assert!(
        s.contains("policy \"require-privileged-approval\" would fire rule 1 (ask)"),
        "{s}"
    );

    let o = run(&t, &home, &["policy", "explain", "--json", "sudo rm -rf /"]);
    assert_eq!(o.code, 1);
    let v: Value = serde_json::from_str(&o.stdout).expect("json");
    assert_eq!(v["decision"]["action"], "deny");
    assert_eq!(v["winner"]["policy"], "block-destructive");
    let hits = v["winner"]["hits"].as_array().expect("hits");
    assert!(
        hits.iter()
            .any(|h| h["pattern"] == "rm -rf /" && h["matched"] == "rm -rf /"),
        "{hits:?}"
    );
    assert!(
        v["commands"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["text"] == "rm -rf /")
    );
    let _ = std::fs::remove_dir_all(&t);
}

#[test]
fn explain_an_allowed_command_names_the_allow_or_default() {
    let t = scratch("allow");
    let home = t.join("home");
    let o = run(&t, &home, &["policy", "explain", "ls -la && git status"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout
            .contains("decided by: policy \"allow-unmatched\" rule 1 (allow)"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("default: true"), "{}", o.stdout);
    assert!(o.stdout.contains("\"git status\" — command 2 of 2"));

    let cfg = t.join("p.yaml");
    std::fs::write(
        &cfg,
        "default_action: deny\npolicies:\n  - name: dev\n    match: {tool: exec}\n    rules:\n      - action: allow\n        when:\n          command_matches: ['git *', 'ls*']\n          command_not_matches: ['git push*']\n",
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    let o = run(
        &t,
        &home,
        &["policy", "explain", "-c", c, "ls -la && git status"],
    );
    assert_eq!(o.code, 0);
    assert!(
        o.stdout
            .contains("command_matches \"ls*\" matched \"ls -la\" (command 1 of 2)"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout
            .contains("command_matches \"git *\" matched \"git status\" (command 2 of 2)"),
        "{}",
        o.stdout
    );
    // Nothing allows it: the default decides, and the near miss says why the allow did not.
    let o = run(
        &t,
        &home,
        &["policy", "explain", "-c", c, "ls && curl evil"],
    );
    assert_eq!(o.code, 1);
    assert!(o.stdout.contains("decided by: no rule"), "{}", o.stdout);
    assert!(
        o.stdout
            .contains("\"curl evil\" (command 2 of 2) is not covered"),
        "{}",
        o.stdout
    );
    let o = run(
        &t,
        &home,
        &["policy", "explain", "-c", c, "git push origin"],
    );
    assert!(
        o.stdout
            .contains("excluded by command_not_matches \"git push*\""),
        "{}",
        o.stdout
    );
    let _ = std::fs::remove_dir_all(&t);
}

#[test]
fn lint_prints_file_and_line_for_every_finding() {
    let t = scratch("lint");
    let home = t.join("home");
    let f = t.join("policy.yaml");
    std::fs::write(
        &f,
        "version: \"1\"\npolicies:\n  - name: first\n    rules:\n      - action: deny\n        when:\n          default: true\n      - action: log\n        when:\n          command_matches: [\"ls\"]\n  - name: hollow\n    rules: []\n",
    )
    .unwrap();
    let o = run(&t, &home, &["policy", "lint", "policy.yaml"]);
    assert_eq!(o.code, 0, "warnings only: {}{}", o.stdout, o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    for want in [
        "policy.yaml:1: info: default_action not explicitly set (implicit deny)",
        "policy.yaml:8: info: policy \"first\" rule 2 will never match — shadowed by deny-all rule 1",
        "policy.yaml:8: warning: policy \"first\" rule 2: action \"log\" is deprecated; use \"watch\"",
        "policy.yaml:12: warning: policy \"hollow\" has no rules",
    ] {
        assert!(lines.contains(&want), "missing {want:?} in\n{}", o.stdout);
    }
    assert!(
        o.stdout.contains("0 errors, 2 warnings, 2 notes"),
        "{}",
        o.stdout
    );

    std::fs::write(
        &f,
        "policies:\n  - name: p\n    rules:\n      - action: deny\n        when: {command_matches: [ls]}\n      - action: approve\n        when: {command_matches: [ls]}\n",
    )
    .unwrap();
    let o = run(&t, &home, &["policy", "lint", "policy.yaml"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stdout.starts_with("policy.yaml:6: error: "),
        "{}",
        o.stdout
    );
    let _ = std::fs::remove_dir_all(&t);
}

#[test]
fn test_suite_filters_that_match_nothing_fail_and_errors_say_their_cause_once() {
    let d = scratch("suite");
    let home = d.join("home");
    std::fs::write(
        d.join("s.yaml"),
        "tests:\n  - name: lists files\n    tool: exec\n    params: {command: ls}\n    expect: allow\n",
    )
    .unwrap();
    let o = run(&d, &home, &["test", "s.yaml", "--run", "list*"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("1/1 passed"), "{}", o.stdout);

    // A mistyped --run must not pass a CI gate having run nothing.
    let o = run(&d, &home, &["test", "s.yaml", "--run", "lsit*"]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(
        o.stderr
            .contains("s.yaml: no test name matches --run \"lsit*\" (the suite has 1 test)"),
        "{}",
        o.stderr
    );
    assert!(!o.stdout.contains("passed"), "{}", o.stdout);

    // A policy file without inline tests still runs (exit 0), with a warning.
    std::fs::write(d.join("p.yaml"), "version: \"1\"\npolicies: []\n").unwrap();
    let o = run(&d, &home, &["test", "p.yaml"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("p.yaml: the suite has no tests"),
        "{}",
        o.stderr
    );

    // A missing file: its name and the OS error, once.
    let o = run(&d, &home, &["policy", "lint", "missing.yaml"]);
    assert_eq!(o.code, 1);
    let line = o.stderr.lines().next().unwrap_or_default();
    assert!(line.contains("missing.yaml"), "{line}");
    assert_eq!(line.matches("os error 2").count(), 1, "{line}");
    let o = run(&d, &home, &["test", "--config", "missing.yaml", "ls"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stderr.matches("os error 2").count(), 1, "{}", o.stderr);
    let _ = std::fs::remove_dir_all(&d);
}
