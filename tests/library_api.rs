//! The engine used as a library (`rampart::{Policy, Engine}`), and `examples/embed_engine.rs`
//! run as a real program.

use std::process::Command;

use rampart::{Action, Engine, LoadError, Policy, ToolCall};

mod support;

const TEAM: &str = r#"
version: "1"
default_action: allow
policies:
  - name: no-publish
    match: {tool: exec}
    rules:
      - action: deny
        when: {command_matches: ["npm publish*"]}
        message: "publishing is done by CI"
"#;

fn exec(engine: &Engine, cmd: &str) -> Action {
    engine.evaluate(&ToolCall::exec(cmd)).action
}

#[test]
fn every_embedded_profile_loads_and_an_unknown_one_is_an_error() {
    let names: Vec<_> = Policy::embedded_names().collect();
    for want in [
        "standard",
        "paranoid",
        "ci",
        "yolo",
        "mcp-server",
        "research-agent",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    for name in names {
        let p = Policy::embedded(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!p.is_empty(), "{name} has no policies");
    }
    let err = Policy::embedded("standrad").expect_err("no such profile");
    assert!(err.to_string().contains("standrad"), "{err}");
}

#[test]
fn standard_profile_decides_through_the_library() {
    let engine = Engine::new(&Policy::embedded("standard").expect("standard"));
    assert_eq!(exec(&engine, "git status"), Action::Allow);
    assert_eq!(exec(&engine, "rm -rf ./build"), Action::Allow);
    for bad in [
        "sudo rm -rf /",
        "RM -RF /",
        "xargs rm -rf /",
        "bash -lc 'rm -rf /'",
    ] {
        assert_eq!(exec(&engine, bad), Action::Deny, "{bad}");
    }
    let d = engine.evaluate(&ToolCall::path("read", "~/.ssh/id_rsa"));
    assert_eq!(d.action, Action::Deny);
    assert!(d.winner.is_some(), "a rule decided: {d:?}");
    // Deny decisions carry ready-to-run suggestions.
    let d = engine.evaluate(&ToolCall::exec("sudo rm -rf /"));
    assert!(!d.suggestions.is_empty(), "{d:?}");
}

#[test]
fn yaml_errors_name_the_source_and_line() {
    let bad = "version: \"1\"\npolicies:\n  - name: p\n    rulez: []\n";
    match Policy::from_yaml("mine", bad) {
        Err(LoadError::Syntax { path, line, .. }) => {
            assert_eq!(path, "embedded:mine");
            assert_eq!(line, 4);
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    let err = Policy::from_yaml("mine", "policies: [").expect_err("broken YAML");
    assert!(err.to_string().starts_with("embedded:mine:"), "{err}");
}

#[test]
fn files_and_directories_load_in_name_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("10-team.yaml"), TEAM).expect("write");
    let second = TEAM
        .replace("no-publish", "no-publish-2")
        .replace("default_action: allow", "default_action: deny");
    std::fs::write(dir.path().join("20-more.yaml"), second).expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not policy").expect("write");

    let one = Policy::load_file(dir.path().join("10-team.yaml")).expect("file");
    assert_eq!(one.len(), 1);
    let all = Policy::load_dir(dir.path()).expect("dir");
    assert_eq!(all.len(), 2);
    // The first file's default action wins.
    assert_eq!(exec(&Engine::new(&all), "ls"), Action::Allow);

    let missing = Policy::load_file(dir.path().join("nope.yaml")).expect_err("missing file");
    assert!(matches!(missing, LoadError::Io { .. }), "{missing:?}");
    let empty = Policy::load_dir(dir.path().join("no-such-dir")).expect("missing dir is empty");
    assert!(empty.is_empty());
    // No policy and no default action: calls are denied, by no rule.
    let d = Engine::new(&empty).evaluate(&ToolCall::exec("ls"));
    assert_eq!(d.action, Action::Deny);
    assert!(d.winner.is_none());
}

#[test]
fn check_lets_allow_and_watch_through_and_refuses_the_rest() {
    let engine = Engine::new(&Policy::from_yaml("test", support::POLICY).expect("policy"));
    assert_eq!(
        engine.check(&ToolCall::exec("ls")).expect("allow").action,
        Action::Allow
    );
    assert_eq!(
        engine
            .check(&ToolCall::exec("curl https://x.io"))
            .expect("watch")
            .action,
        Action::Watch
    );
    let denied = engine
        .check(&ToolCall::exec("rm -rf target"))
        .expect_err("deny");
    assert_eq!(denied.decision.action, Action::Deny);
    assert_eq!(denied.policy(), Some("block-rm"));
    assert_eq!(
        denied.to_string(),
        "rampart: denied \"exec\" by policy \"block-rm\": no recursive deletes"
    );
    // Response rules judge a tool's output.
    let call = ToolCall::exec("cat config");
    let leak = engine.evaluate_response(&call, "key=AKIAABCDEFGHIJKLMNOP");
    assert_eq!(leak.action, Action::Deny, "{leak:?}");
    assert_eq!(
        engine.evaluate_response(&call, "key=none").action,
        Action::Allow
    );
    // Nobody to ask in a library: ask fails closed.
    let asked = engine
        .check(&ToolCall::exec("deploy prod"))
        .expect_err("ask");
    assert_eq!(asked.decision.action, Action::Ask);
    // A default action decided: no policy clause.
    let none = Engine::new(
        &Policy::from_yaml("empty", "version: \"1\"\ndefault_action: deny\n").expect("empty"),
    );
    let denied = none.check(&ToolCall::exec("ls")).expect_err("default deny");
    assert!(denied.policy().is_none());
    assert!(
        denied.to_string().starts_with("rampart: denied \"exec\": "),
        "{denied}"
    );
}

#[test]
fn merged_and_project_policies_only_add_to_the_base() {
    let base = Policy::embedded("standard").expect("standard");
    let merged = base
        .clone()
        .merged_with(Policy::from_yaml("team", TEAM).expect("team"));
    assert!(merged.warnings().is_empty(), "{:?}", merged.warnings());
    let engine = Engine::new(&merged);
    assert_eq!(exec(&engine, "npm publish"), Action::Deny);
    assert_eq!(exec(&engine, "sudo rm -rf /"), Action::Deny);
    // A second policy of the same name is dropped, and a warning says so.
    let twice = merged.clone().merged_with(
        Policy::from_yaml("again", &TEAM.replace("npm publish*", "ls*")).expect("again"),
    );
    assert_eq!(twice.len(), merged.len());
    assert_eq!(exec(&Engine::new(&twice), "ls"), Action::Allow);
    assert_eq!(twice.warnings().len(), 1, "{:?}", twice.warnings());
    assert!(
        twice.warnings()[0].contains("\"no-publish\" from embedded:again"),
        "{:?}",
        twice.warnings()
    );

    // A project file may tighten, never loosen.
    let dir = tempfile::tempdir().expect("tempdir");
    let project = dir.path().join("policy.yaml");
    std::fs::write(
        &project,
        r#"
version: "1"
policies:
  - name: repo-rules
    match: {tool: exec}
    rules:
      - action: allow
        when: {command_matches: ["rm -rf /*", "sudo rm *"]}
      - action: deny
        when: {command_matches: ["git push --force*"]}
        message: "this repository forbids force pushes"
"#,
    )
    .expect("write");
    let tightened = base.with_project_file(&project).expect("project");
    let engine = Engine::new(&tightened);
    assert_eq!(exec(&engine, "sudo rm -rf /"), Action::Deny);
    assert_eq!(exec(&engine, "git push --force origin main"), Action::Deny);
    assert_eq!(exec(&engine, "git push origin main"), Action::Allow);
}

#[test]
fn one_engine_is_shared_between_threads() {
    fn shareable<T: Send + Sync + Clone + 'static>(_: &T) {}
    let engine = Engine::new(&Policy::embedded("standard").expect("standard"));
    shareable(&engine);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let e = engine.clone();
            std::thread::spawn(move || {
                let cmd = if i % 2 == 0 {
                    "git status"
                } else {
                    "sudo rm -rf /"
                };
                (0..200)
                    .map(|_| e.evaluate(&ToolCall::exec(cmd)).action)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let want = if i % 2 == 0 {
            Action::Allow
        } else {
            Action::Deny
        };
        assert!(h.join().expect("thread").iter().all(|a| *a == want));
    }
}

#[test]
fn the_embedding_example_runs() {
    let bin = support::example_bin("embed_engine");
    let out = Command::new(&bin)
        .args(["git status", "sudo rm -rf /"])
        .output()
        .expect("run example");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("ALLOW\tgit status\t"), "{text}");
    assert!(
        lines[1].starts_with("DENY\tsudo rm -rf /\tblock-destructive#"),
        "{text}"
    );
    assert!(text.contains("DENY\tread ~/.aws/credentials\t"), "{text}");
    assert!(text.contains("guarded: ran \"git status\""), "{text}");

    // The guarded tool does not run when the call is refused.
    let out = Command::new(&bin)
        .arg("sudo rm -rf /")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("guarded: rampart: denied \"exec\" by policy \"block-destructive\""),
        "{text}"
    );
    assert!(!text.contains("guarded: ran"), "{text}");

    // A broken policy file: exit 2 and the file's name and line on stderr.
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "version: \"1\"\npolicies:\n  - name: p\n    bogus: 1\n",
    )
    .expect("write");
    let out = Command::new(&bin)
        .arg("--policy")
        .arg(&bad)
        .arg("ls")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:4:", bad.display())), "{err}");
}
