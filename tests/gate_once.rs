//! `once: true` rules are consumed in a state file, exactly once across processes, never in
//! monitor mode, and the user's YAML is never rewritten.

use rampart::engine::resolve::{ResolveOptions, Surface};
use rampart::engine::{Action, ToolCall};
use rampart::gate::{Gate, Mode, PolicyHandle, Purpose};

const POLICY: &str = r#"
default_action: deny
policies:
  - name: one-deploy
    priority: 1
    match: {tool: exec}
    rules:
      - action: allow
        once: true
        when: {command_matches: ["deploy prod"]}
        message: "one deploy granted"
"#;

fn gate(dir: &std::path::Path, mode: Mode) -> Gate {
    let cfg = dir.join("policy.yaml");
    if !cfg.exists() {
        std::fs::write(&cfg, POLICY).unwrap();
    }
    let mut opts = ResolveOptions::new(Surface::Serve, Some(cfg));
    opts.home = Some(dir.to_path_buf());
    Gate::new(PolicyHandle::load(opts).unwrap(), mode, None)
}

fn decide(g: &Gate) -> Action {
    g.decide(
        &ToolCall::exec("deploy prod"),
        Purpose::Enforce,
        Default::default(),
    )
    .action
}

#[test]
fn once_rule_is_used_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let g = gate(dir.path(), Mode::Enforce);
    // A preview does not consume it.
    let preview = g.decide(
        &ToolCall::exec("deploy prod"),
        Purpose::Preview,
        Default::default(),
    );
    assert_eq!(preview.action, Action::Allow);
    assert_eq!(decide(&g), Action::Allow);
    assert_eq!(
        decide(&g),
        Action::Deny,
        "second use falls through to the default"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("policy.yaml")).unwrap(),
        POLICY
    );
    assert!(dir.path().join(".rampart/once-consumed.json").exists());
    // A fresh process sees it consumed too.
    let g2 = gate(dir.path(), Mode::Enforce);
    assert_eq!(decide(&g2), Action::Deny);
}

#[test]
fn two_processes_cannot_both_use_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = gate(dir.path(), Mode::Enforce);
    let b = gate(dir.path(), Mode::Enforce);
    assert_eq!(decide(&a), Action::Allow);
    let d = b.decide(
        &ToolCall::exec("deploy prod"),
        Purpose::Enforce,
        Default::default(),
    );
    assert_eq!(d.action, Action::Deny);
    assert_eq!(
        d.message,
        "one-time authorization could not be claimed; failing closed"
    );
}

#[test]
fn monitor_mode_does_not_consume() {
    let dir = tempfile::tempdir().unwrap();
    let m = gate(dir.path(), Mode::Monitor);
    assert_eq!(decide(&m), Action::Allow);
    assert_eq!(decide(&m), Action::Allow);
    assert!(!dir.path().join(".rampart/once-consumed.json").exists());
    let e = gate(dir.path(), Mode::Enforce);
    assert_eq!(decide(&e), Action::Allow);
}

#[test]
fn corrupt_state_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".rampart")).unwrap();
    std::fs::write(dir.path().join(".rampart/once-consumed.json"), "{not json").unwrap();
    let g = gate(dir.path(), Mode::Enforce);
    assert_eq!(
        decide(&g),
        Action::Deny,
        "unreadable state: once rules are not offered"
    );
}
