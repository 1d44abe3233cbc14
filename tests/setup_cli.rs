//! `rampart setup` run as the real binary with HOME (and PATH, and the hosts' env overrides) in
//! temporary directories. Files are compared byte for byte against goldens in
//! `tests/golden/setup/`, where `@BIN@` stands for the binary's absolute path.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/setup");

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// A temporary HOME plus an empty PATH directory, so the real machine is never looked at.
struct Sandbox {
    _root: tempfile::TempDir,
    home: PathBuf,
    path_dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Sandbox {
    fn new() -> Sandbox {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        let path_dir = root.path().join("bin");
        std::fs::create_dir(&home).unwrap();
        std::fs::create_dir(&path_dir).unwrap();
        Sandbox {
            _root: root,
            home,
            path_dir,
            env: Vec::new(),
        }
    }

    fn with_env(mut self, k: &str, v: &Path) -> Sandbox {
        self.env.push((k.to_string(), v.display().to_string()));
        self
    }

    fn run(&self, args: &[&str]) -> Out {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rampart"));
        cmd.arg("setup")
            .args(args)
            .env_clear()
            .env("HOME", &self.home)
            .env("PATH", &self.path_dir)
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let o = cmd.output().unwrap();
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8(o.stdout).unwrap(),
            stderr: String::from_utf8(o.stderr).unwrap(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(
            o.code, 0,
            "setup {args:?} failed\nstdout:\n{}\nstderr:\n{}",
            o.stdout, o.stderr
        );
        assert_eq!(o.stderr, "", "setup {args:?} wrote to stderr");
        o.stdout
    }

    fn fails(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(
            o.code, 1,
            "setup {args:?} should fail\nstdout:\n{}",
            o.stdout
        );
        assert_eq!(
            o.stderr.trim_end().lines().count(),
            1,
            "one error line expected: {}",
            o.stderr
        );
        o.stderr
    }

    fn at(&self, rel: &str) -> PathBuf {
        self.home.join(rel)
    }

    /// Every file under HOME, with its bytes.
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                let md = std::fs::symlink_metadata(&p).unwrap();
                if md.is_dir() {
                    walk(&p, out);
                } else if md.is_file() {
                    out.insert(p.clone(), std::fs::read(&p).unwrap());
                } else {
                    out.insert(p.clone(), b"<other>".to_vec());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.home, &mut out);
        out
    }
}

/// The absolute path of the binary under test, as it resolves itself.
fn bin() -> String {
    std::fs::canonicalize(env!("CARGO_BIN_EXE_rampart"))
        .unwrap()
        .display()
        .to_string()
}

fn golden(name: &str) -> String {
    let text = std::fs::read_to_string(Path::new(GOLDEN).join(name)).unwrap();
    text.replace("@BIN@", &bin())
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

/// Backups written next to `path`, oldest name first.
fn backups(path: &Path) -> Vec<PathBuf> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut found: Vec<PathBuf> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{name}.rampart-backup-"))
        })
        .collect();
    found.sort();
    found
}

fn cmd(host: &str) -> String {
    format!("'{}' hook --format {host}", bin())
}

/// The full cycle for one JSON host: a file full of other settings → setup → golden →
/// setup again (identical bytes, "already configured") → --remove → the original bytes.
fn round_trip(sb: &Sandbox, host: &str, file: &Path, remove_counts: &[&str]) {
    let before = read(&Path::new(GOLDEN).join(format!("{host}.before.json")));
    write(file, &before);
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();

    let out = sb.ok(&[host]);
    assert!(
        out.contains(&format!("✓ Rampart hook installed in {}", file.display())),
        "{out}"
    );
    assert!(
        out.contains(&format!("Hook command: {}", cmd(host))),
        "{out}"
    );
    assert!(out.contains("rampart serve"), "{out}");
    assert!(out.contains("rampart test \"rm -rf /\""), "{out}");
    let after = golden(&format!("{host}.after.json"));
    assert_eq!(read(file), after, "{host}: file after setup");
    assert_eq!(mode(file), 0o600, "{host}: written private");
    let b = backups(file);
    assert_eq!(b.len(), 1, "{host}: one backup");
    assert_eq!(read(&b[0]), before, "{host}: backup holds the original");
    assert_eq!(mode(&b[0]), 0o600);
    assert!(out.contains(&format!("Backup of the previous file: {}", b[0].display())));

    let out = sb.ok(&[host]);
    assert!(out.contains("already configured"), "{out}");
    assert!(!out.contains("Backup"), "{out}");
    assert_eq!(read(file), after, "{host}: second run changes nothing");
    assert_eq!(
        backups(file).len(),
        1,
        "{host}: no backup when nothing changes"
    );

    let out = sb.ok(&[host, "--remove"]);
    for line in remove_counts {
        assert!(out.contains(line), "{host}: missing {line:?} in\n{out}");
    }
    assert_eq!(
        read(file),
        before,
        "{host}: remove restores every other setting"
    );
    assert_eq!(backups(file).len(), 2, "{host}: remove backs up first");

    let out = sb.ok(&[host, "--remove"]);
    assert!(out.contains("nothing to remove"), "{out}");
    assert_eq!(read(file), before);
}

#[test]
fn claude_code_round_trip() {
    let sb = Sandbox::new();
    let file = sb.at(".claude/settings.json");
    round_trip(
        &sb,
        "claude-code",
        &file,
        &[
            "PreToolUse: removed 1",
            "PostToolUse: removed 1",
            "PostToolUseFailure: removed 1",
            "✓ Removed 3 Rampart hook(s) from",
        ],
    );
}

#[test]
fn codex_round_trip_honours_codex_home() {
    let sb = Sandbox::new();
    let codex_home = sb.home.join("elsewhere/codex");
    let sb = sb.with_env("CODEX_HOME", &codex_home);
    round_trip(
        &sb,
        "codex",
        &codex_home.join("hooks.json"),
        &["PreToolUse: removed 1", "PostToolUse: removed 1"],
    );
    assert!(!sb.at(".codex").exists());
}

#[test]
fn cursor_round_trip() {
    let sb = Sandbox::new();
    round_trip(
        &sb,
        "cursor",
        &sb.at(".cursor/hooks.json"),
        &["preToolUse: removed 1", "✓ Removed 1 Rampart hook(s)"],
    );
}

#[test]
fn gemini_round_trip() {
    let sb = Sandbox::new();
    round_trip(
        &sb,
        "gemini",
        &sb.at(".gemini/settings.json"),
        &["BeforeTool: removed 1", "AfterTool: removed 1"],
    );
}

#[test]
fn copilot_round_trip_honours_copilot_home() {
    let sb = Sandbox::new();
    let copilot_home = sb.home.join("cp");
    let sb = sb.with_env("COPILOT_HOME", &copilot_home);
    round_trip(
        &sb,
        "copilot",
        &copilot_home.join("hooks/rampart.json"),
        &["PreToolUse: removed 1", "PostToolUse: removed 1"],
    );
}

#[test]
fn antigravity_round_trip_keeps_the_plugin_while_other_hooks_remain() {
    let sb = Sandbox::new();
    let dir = sb.at(".gemini/config/plugins/rampart");
    round_trip(
        &sb,
        "antigravity",
        &dir.join("hooks.json"),
        &["PreToolUse: removed 1"],
    );
    // Setup added the manifest; the plugin still has foreign hooks, so it stays.
    assert_eq!(
        read(&dir.join("plugin.json")),
        "{\n  \"name\": \"rampart\"\n}\n"
    );
}

#[test]
fn claude_config_dir_override_is_used() {
    let sb = Sandbox::new();
    let dir = sb.home.join("alt-claude");
    let sb = sb.with_env("CLAUDE_CONFIG_DIR", &dir);
    round_trip(
        &sb,
        "claude-code",
        &dir.join("settings.json"),
        &["PreToolUse: removed 1"],
    );
    assert!(!sb.at(".claude").exists());
}

#[test]
fn go_written_claude_entries_are_upgraded_and_removed() {
    let sb = Sandbox::new();
    let file = sb.at(".claude/settings.json");
    let go = read(&Path::new(GOLDEN).join("claude-code.go-written.json"));
    write(&file, &go);
    let out = sb.ok(&["claude-code"]);
    assert!(
        out.contains("Replaced 6 earlier Rampart hook entries."),
        "{out}"
    );
    assert_eq!(read(&file), golden("claude-code.go-upgraded.json"));
    assert_eq!(read(&backups(&file)[0]), go);
    assert!(sb.ok(&["claude-code"]).contains("already configured"));

    sb.ok(&["claude-code", "--remove"]);
    let removed = golden("claude-code.go-removed.json");
    assert_eq!(read(&file), removed);
    // The `rampart-helper` entry and the foreign handler beside a Go entry survive.
    assert!(removed.contains("rampart-helper") && removed.contains("~/bin/log-reads"));

    // --remove straight on the Go-written file takes out the same six entries.
    write(&file, &go);
    let out = sb.ok(&["claude-code", "--remove"]);
    assert!(out.contains("PreToolUse: removed 4"), "{out}");
    assert!(out.contains("✓ Removed 6 Rampart hook(s)"), "{out}");
    assert_eq!(read(&file), removed);
}

#[test]
fn go_written_files_for_other_hosts_are_recognised() {
    // Go's encoder sorts keys and escapes `&` as \u0026; its commands name another path.
    let sb = Sandbox::new();
    let copilot = sb.at(".copilot/hooks/rampart.json");
    let handler = r#"{"bash":"'/usr/local/bin/rampart' hook --format copilot","powershell":"\u0026 'C:\\Program Files\\Rampart\\rampart.exe' hook --format copilot","timeoutSec":30,"type":"command"}"#;
    write(
        &copilot,
        &format!(
            r#"{{"hooks":{{"PostToolUse":[{handler}],"PreToolUse":[{handler}]}},"version":1}}"#
        ),
    );
    let out = sb.ok(&["copilot", "--remove"]);
    assert!(out.contains("deleted"), "{out}");
    assert!(
        !copilot.exists(),
        "a file holding only Rampart's hooks goes"
    );
    assert!(
        backups(&copilot).is_empty(),
        "nothing of the user's to back up"
    );

    let codex = sb.at(".codex/hooks.json");
    let go_codex = r#"{"description":"Codex lifecycle hooks.","hooks":{"PreToolUse":[{"hooks":[{"command":"'/usr/local/bin/rampart' hook --format codex","commandWindows":"\"C:\\rampart\\rampart.exe\" hook --format codex","statusMessage":"Checking Rampart policy","timeout":330,"type":"command"}],"matcher":"*"}]}}"#;
    write(&codex, go_codex);
    sb.ok(&["codex"]);
    let text = read(&codex);
    assert!(!text.contains("/usr/local/bin/rampart"), "{text}");
    assert_eq!(text.matches(&cmd("codex")).count(), 2, "{text}");
    assert!(
        text.contains("\"description\": \"Codex lifecycle hooks.\""),
        "{text}"
    );
    sb.ok(&["codex", "--remove"]);
    assert_eq!(
        read(&codex),
        "{\n  \"description\": \"Codex lifecycle hooks.\"\n}\n"
    );
}

#[test]
fn fresh_home_gets_each_host_and_remove_leaves_nothing() {
    let hosts: [(&str, &[&str]); 7] = [
        ("claude-code", &[".claude/settings.json"]),
        ("codex", &[".codex/hooks.json"]),
        ("cursor", &[".cursor/hooks.json"]),
        ("gemini", &[".gemini/settings.json"]),
        ("copilot", &[".copilot/hooks/rampart.json"]),
        (
            "antigravity",
            &[
                ".gemini/config/plugins/rampart/plugin.json",
                ".gemini/config/plugins/rampart/hooks.json",
            ],
        ),
        (
            "cline",
            &[
                "Documents/Cline/Hooks/PreToolUse",
                "Documents/Cline/Hooks/PostToolUse",
            ],
        ),
    ];
    for (host, files) in hosts {
        let sb = Sandbox::new();
        let out = sb.ok(&[host]);
        assert!(out.contains("✓ Rampart hook installed in"), "{host}: {out}");
        assert!(!out.contains("Backup"), "{host}: nothing to back up: {out}");
        for f in files {
            let p = sb.at(f);
            let want = golden(&format!("fresh/{}", f.replace('/', "__")));
            assert_eq!(read(&p), want, "{host}: {f}");
            let m = mode(&p);
            assert_eq!(
                m,
                if host == "cline" { 0o755 } else { 0o600 },
                "{host}: {f}"
            );
        }
        let snap = sb.snapshot();
        assert!(sb.ok(&[host]).contains("already configured"), "{host}");
        assert_eq!(sb.snapshot(), snap, "{host}: second run is a no-op");

        let out = sb.ok(&[host, "--remove"]);
        assert!(out.contains("Removed"), "{host}: {out}");
        assert!(
            sb.snapshot().is_empty(),
            "{host}: remove leaves no files: {:?}",
            sb.snapshot().keys().collect::<Vec<_>>()
        );
    }
    let sb = Sandbox::new();
    sb.ok(&["antigravity"]);
    sb.ok(&["antigravity", "--remove"]);
    assert!(!sb.at(".gemini/config/plugins/rampart").exists());
}

#[test]
fn invalid_json_is_refused_unless_forced() {
    let sb = Sandbox::new();
    let file = sb.at(".claude/settings.json");
    let broken = "{\"model\": \"opus\",\n  \"hooks\": {\n";
    write(&file, broken);
    let err = sb.fails(&["claude-code"]);
    assert!(err.contains("not valid JSON"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(read(&file), broken, "untouched");
    assert!(backups(&file).is_empty());

    let err = sb.fails(&["claude-code", "--remove"]);
    assert!(err.contains("nothing was removed"), "{err}");
    assert_eq!(read(&file), broken);

    let out = sb.ok(&["claude-code", "--force"]);
    assert!(out.contains("replaced it (--force)"), "{out}");
    assert_eq!(read(&file), golden("fresh/.claude__settings.json"));
    let b = backups(&file);
    assert_eq!(b.len(), 1);
    assert_eq!(read(&b[0]), broken, "the broken original is kept");
}

#[test]
fn wrong_types_are_refused_unless_forced() {
    let sb = Sandbox::new();
    let file = sb.at(".claude/settings.json");
    let odd = "{\n  \"hooks\": [\n    \"not an object\"\n  ],\n  \"keep\": 1\n}\n";
    write(&file, odd);
    let err = sb.fails(&["claude-code"]);
    assert!(
        err.contains("\"hooks\" is an array, not an object"),
        "{err}"
    );
    assert_eq!(read(&file), odd);
    sb.ok(&["claude-code", "--force"]);
    let text = read(&file);
    assert!(
        text.starts_with("{\n  \"hooks\": {\n    \"PreToolUse\""),
        "{text}"
    );
    assert!(text.ends_with("  \"keep\": 1\n}\n"), "{text}");
    assert_eq!(read(&backups(&file)[0]), odd);

    let event = "{\n  \"hooks\": {\n    \"PreToolUse\": {}\n  }\n}\n";
    write(&file, event);
    let err = sb.fails(&["claude-code"]);
    assert!(
        err.contains("\"PreToolUse\" is an object, not an array"),
        "{err}"
    );

    let cursor = sb.at(".cursor/hooks.json");
    let v2 = "{\n  \"version\": 2,\n  \"hooks\": {}\n}\n";
    write(&cursor, v2);
    let err = sb.fails(&["cursor"]);
    assert!(err.contains("\"version\" is 2"), "{err}");
    assert_eq!(read(&cursor), v2);
    sb.ok(&["cursor", "--force"]);
    assert!(read(&cursor).starts_with("{\n  \"version\": 1,\n"));

    let top = sb.at(".gemini/settings.json");
    write(&top, "[1, 2]");
    let err = sb.fails(&["gemini"]);
    assert!(err.contains("not a JSON object"), "{err}");
}

#[test]
fn symlinked_or_odd_settings_files_are_refused() {
    let sb = Sandbox::new();
    let real = sb.home.join("dotfiles/claude.json");
    write(&real, "{\"a\": 1}\n");
    let link = sb.at(".claude/settings.json");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    for args in [
        &["claude-code"][..],
        &["claude-code", "--force"],
        &["claude-code", "--remove"],
    ] {
        let err = sb.fails(args);
        assert!(err.contains("is a symlink"), "{err}");
    }
    assert_eq!(read(&real), "{\"a\": 1}\n");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );

    let dir_instead = sb.at(".codex/hooks.json");
    std::fs::create_dir_all(&dir_instead).unwrap();
    let err = sb.fails(&["codex"]);
    assert!(err.contains("not a regular file"), "{err}");
}

fn cline_script(event: &str) -> String {
    format!(
        "#!/bin/sh\n# Managed by Rampart: Cline hook v2\n# Cline runs this on {event}; Rampart checks the tool call against policy.\nexec {}\n",
        cmd("cline")
    )
}

#[test]
fn cline_scripts_are_executable_and_foreign_files_left_alone() {
    let sb = Sandbox::new();
    let dir = sb.at("Documents/Cline/Hooks");
    let out = sb.ok(&["cline"]);
    assert!(out.contains(&format!("✓ Rampart hook installed in {}", dir.display())));
    for event in ["PreToolUse", "PostToolUse"] {
        let p = dir.join(event);
        assert_eq!(read(&p), cline_script(event));
        assert_eq!(mode(&p), 0o755);
    }
    // The script really runs the binary (with `hook --format cline` arguments).
    let fake = sb.home.join("fake-rampart");
    write(&fake, "#!/bin/sh\necho \"ran: $*\"\n");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = read(&dir.join("PreToolUse")).replace(&bin(), &fake.display().to_string());
    let probe = sb.home.join("probe.sh");
    write(&probe, &script);
    let o = Command::new("sh").arg(&probe).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "ran: hook --format cline\n"
    );

    // Cline's UI disables a hook by clearing the executable bit; setup turns it back on.
    std::fs::set_permissions(
        dir.join("PostToolUse"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    assert!(sb.ok(&["cline"]).contains("installed"));
    assert_eq!(mode(&dir.join("PostToolUse")), 0o755);
    assert!(sb.ok(&["cline"]).contains("already configured"));

    // A hook the user wrote (no marker) is never overwritten, even with --force.
    let mine = "#!/bin/sh\necho my own hook\n";
    sb.ok(&["cline", "--remove"]);
    assert!(!dir.join("PreToolUse").exists() && !dir.join("PostToolUse").exists());
    write(&dir.join("PreToolUse"), mine);
    std::fs::set_permissions(
        dir.join("PreToolUse"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    for args in [&["cline"][..], &["cline", "--force"]] {
        let err = sb.fails(args);
        assert!(err.contains("not managed by Rampart"), "{err}");
    }
    assert_eq!(read(&dir.join("PreToolUse")), mine);
    assert!(
        !dir.join("PostToolUse").exists(),
        "nothing written when one file is foreign"
    );

    // --remove takes only Rampart's file.
    write(&dir.join("PostToolUse"), &cline_script("PostToolUse"));
    let out = sb.ok(&["cline", "--remove"]);
    assert!(out.contains("PostToolUse: removed"), "{out}");
    assert!(out.contains("left") && out.contains("alone"), "{out}");
    assert_eq!(read(&dir.join("PreToolUse")), mine);
    assert_eq!(mode(&dir.join("PreToolUse")), 0o700);
    assert!(!dir.join("PostToolUse").exists());
}

#[test]
fn cline_legacy_nested_layout_is_migrated() {
    let sb = Sandbox::new();
    let dir = sb.at("Documents/Cline/Hooks");
    let legacy = "#!/bin/sh\n# Managed by Rampart: Cline hook v2\nexec /usr/local/bin/rampart hook --format cline\n";
    write(&dir.join("PreToolUse/rampart-policy"), legacy);
    write(&dir.join("PostToolUse/rampart-audit"), legacy);
    let out = sb.ok(&["cline"]);
    assert!(out.contains("nested hook layout"), "{out}");
    for event in ["PreToolUse", "PostToolUse"] {
        assert_eq!(read(&dir.join(event)), cline_script(event));
        assert_eq!(mode(&dir.join(event)), 0o755);
    }
    // A nested directory with anything else in it is not Rampart's.
    let sb = Sandbox::new();
    write(&dir_of(&sb).join("PreToolUse/rampart-policy"), legacy);
    write(&dir_of(&sb).join("PreToolUse/other"), "x");
    let err = sb.fails(&["cline"]);
    assert!(err.contains("not managed by Rampart"), "{err}");
}

fn dir_of(sb: &Sandbox) -> PathBuf {
    sb.at("Documents/Cline/Hooks")
}

#[test]
fn hook_command_uses_rampart_on_path_when_it_is_the_same_file() {
    let sb = Sandbox::new();
    std::os::unix::fs::symlink(bin(), sb.path_dir.join("rampart")).unwrap();
    let out = sb.ok(&["cursor"]);
    let via_path = format!("'{}/rampart' hook --format cursor", sb.path_dir.display());
    assert!(out.contains(&format!("Hook command: {via_path}")), "{out}");
    assert!(read(&sb.at(".cursor/hooks.json")).contains(&via_path));
}

#[test]
fn detection_lists_hosts_and_changes_nothing() {
    let sb = Sandbox::new();
    let out = sb.ok(&[]);
    assert!(out.contains("No supported agent was found"), "{out}");
    assert!(sb.snapshot().is_empty());

    write(&sb.at(".claude/settings.json"), "{\"model\": \"x\"}");
    let codex = sb.path_dir.join("codex");
    write(&codex, "#!/bin/sh\n");
    std::fs::set_permissions(&codex, std::fs::Permissions::from_mode(0o755)).unwrap();
    sb.ok(&["cursor"]);
    let snap = sb.snapshot();
    let out = sb.ok(&[]);
    assert!(out.contains("nothing has been changed"), "{out}");
    assert!(
        out.contains("Claude Code") && out.contains("Rampart hook not installed"),
        "{out}"
    );
    assert!(
        out.contains(&format!("found codex at {}", codex.display())),
        "{out}"
    );
    assert!(
        out.contains("Cursor") && out.contains("already configured"),
        "{out}"
    );
    assert!(out.contains("  rampart setup claude-code\n"), "{out}");
    assert!(out.contains("  rampart setup codex\n"), "{out}");
    assert!(!out.contains("  rampart setup cursor\n"), "{out}");
    assert_eq!(sb.snapshot(), snap, "detection wrote nothing");

    let err = sb.fails(&["--remove"]);
    assert!(err.contains("name the agent"), "{err}");
    assert_eq!(sb.snapshot(), snap);
}

#[test]
fn compact_files_are_reindented_but_keep_order_and_numbers() {
    let sb = Sandbox::new();
    let file = sb.at(".gemini/settings.json");
    let compact =
        "{\"z\":12345678901234567890,\"a\":[1.0e-7,-0E0],\"s\":\"\\u00e9\\/\",\"hooks\":{}}";
    write(&file, compact);
    sb.ok(&["gemini"]);
    sb.ok(&["gemini", "--remove"]);
    assert_eq!(
        read(&file),
        "{\n  \"z\": 12345678901234567890,\n  \"a\": [\n    1.0e-7,\n    -0E0\n  ],\n  \"s\": \"\\u00e9\\/\"\n}\n"
    );
}

#[test]
fn codex_legacy_wrapper_is_retired() {
    let sb = Sandbox::new();
    let wrapper = sb.at(".local/bin/codex");
    write(
        &wrapper,
        "#!/bin/sh\n# Rampart wrapper\nexec rampart preload -- codex-real \"$@\"\n",
    );
    let other = sb.at(".local/bin/other");
    write(&other, "#!/bin/sh\n");
    let out = sb.ok(&["codex"]);
    assert!(
        out.contains("Removed the old Rampart codex wrapper"),
        "{out}"
    );
    assert!(!wrapper.exists());
    assert!(other.exists());

    // A codex program of the user's own is left alone.
    write(&wrapper, "#!/bin/sh\nexec /opt/codex/bin/codex \"$@\"\n");
    assert!(sb.ok(&["codex"]).contains("already configured"));
    assert!(wrapper.exists());
}

/// What setup installs is what the host will run: each installed command, executed by `sh -c`
/// as the hosts do, answers a deny event in that host's protocol.
#[test]
fn installed_commands_run_the_real_hook() {
    let sb = Sandbox::new();
    let deny_events: [(&str, &str, &str); 3] = [
        (
            "claude-code",
            ".claude/settings.json",
            r#"{"session_id":"s","cwd":"/tmp","hook_event_name":"PreToolUse","tool_use_id":"t1","tool_name":"Bash","tool_input":{"command":"rm -rf /"}}"#,
        ),
        (
            "codex",
            ".codex/hooks.json",
            r#"{"session_id":"s","cwd":"/tmp","hook_event_name":"PreToolUse","tool_name":"shell","tool_input":{"command":["rm","-rf","/"]},"tool_use_id":"c1"}"#,
        ),
        (
            "gemini",
            ".gemini/settings.json",
            r#"{"session_id":"s","cwd":"/tmp","hook_event_name":"BeforeTool","tool_name":"run_shell_command","tool_input":{"command":"rm -rf /"}}"#,
        ),
    ];
    for (host, file, event) in deny_events {
        let o = sb.run(&[host]);
        assert_eq!(o.code, 0, "{host}: {}", o.stderr);
        let settings: serde_json::Value = serde_json::from_str(&read(&sb.home.join(file))).unwrap();
        let pre = if host == "gemini" {
            "BeforeTool"
        } else {
            "PreToolUse"
        };
        let command = settings["hooks"][pre][0]["hooks"][0]["command"]
            .as_str()
            .unwrap_or_else(|| panic!("{host}: no command in {settings}"))
            .to_string();
        let mut child = Command::new("sh")
            .args(["-c", &command])
            .env_clear()
            .env("HOME", &sb.home)
            .env("RAMPART_NO_PROJECT_POLICY", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), event.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{host}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let decision = v["hookSpecificOutput"]["permissionDecision"]
            .as_str()
            .or(v["decision"].as_str())
            .unwrap_or("");
        assert_eq!(decision, "deny", "{host}: {v}");
    }
}

/// Claude Desktop has no hooks: setup puts each stdio MCP server behind `rampart mcp --`,
/// leaves remote servers and every other setting alone, and `--remove` restores the file.
#[test]
fn claude_desktop_servers_round_trip() {
    let sb = Sandbox::new();
    let file = sb.home.join(".config/Claude/claude_desktop_config.json");
    let before = read(&Path::new(GOLDEN).join("claude-desktop.before.json"));
    write(&file, &before);

    let out = sb.ok(&["claude-desktop"]);
    assert!(
        out.contains("✓ 2 MCP server(s) now run through rampart mcp")
            && out.contains("filesystem, weather"),
        "{out}"
    );
    assert!(out.contains("Not changed: remote (remote server"), "{out}");
    assert!(out.contains("Restart Claude Desktop"), "{out}");
    let after = golden("claude-desktop.after.json");
    assert_eq!(read(&file), after);
    assert_eq!(backups(&file).len(), 1);

    let out = sb.ok(&["claude-desktop"]);
    assert!(out.contains("already run through rampart mcp"), "{out}");
    assert_eq!(read(&file), after, "second run changes nothing");
    assert_eq!(backups(&file).len(), 1);

    let out = sb.ok(&["claude-desktop", "--remove"]);
    assert!(
        out.contains("✓ Removed rampart mcp from 2 MCP server(s)"),
        "{out}"
    );
    assert_eq!(read(&file), before, "remove restores the original");
    let out = sb.ok(&["claude-desktop", "--remove"]);
    assert!(out.contains("nothing to remove"), "{out}");
    assert_eq!(read(&file), before);
}

/// XDG_CONFIG_HOME moves Claude Desktop's config; an entry wrapped by another Rampart binary
/// (an older install, or the Go one) is pointed at this binary and keeps its proxy flags; a
/// broken file is never replaced, even with --force.
#[test]
fn claude_desktop_honours_xdg_and_upgrades_other_installs() {
    let sb = Sandbox::new();
    let xdg = sb.home.join("xdg");
    let sb = sb.with_env("XDG_CONFIG_HOME", &xdg);
    let file = xdg.join("Claude/claude_desktop_config.json");
    write(
        &file,
        r#"{"mcpServers":{"db":{"command":"/usr/local/bin/rampart","args":["mcp","--filter-tools","--","db-server","--ro"]}}}"#,
    );
    let out = sb.ok(&["claude-desktop"]);
    assert!(out.contains("1 MCP server(s) now run through"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&read(&file)).unwrap();
    assert_eq!(v["mcpServers"]["db"]["command"], bin());
    assert_eq!(
        v["mcpServers"]["db"]["args"],
        serde_json::json!(["mcp", "--filter-tools", "--", "db-server", "--ro"])
    );
    sb.ok(&["claude-desktop", "--remove"]);
    let v: serde_json::Value = serde_json::from_str(&read(&file)).unwrap();
    assert_eq!(
        v["mcpServers"]["db"],
        serde_json::json!({"command": "db-server", "args": ["--ro"]})
    );

    write(&file, "{\"mcpServers\": {");
    for args in [&["claude-desktop"][..], &["claude-desktop", "--force"]] {
        let err = sb.fails(args);
        assert!(err.contains("nothing was changed"), "{err}");
        assert_eq!(read(&file), "{\"mcpServers\": {");
    }
    let err = sb.fails(&["codex", "--mcp"]);
    assert!(
        err.contains("--mcp works with claude-desktop and cursor"),
        "{err}"
    );
}

/// `setup cursor --mcp` edits `~/.cursor/mcp.json` (the hook file is untouched), and the
/// command it writes really runs the server behind the proxy: a destructive tool call is
/// answered by Rampart and never reaches the server.
#[test]
fn cursor_mcp_servers_run_through_the_proxy() {
    let sb = Sandbox::new();
    let file = sb.home.join(".cursor/mcp.json");
    let seen = sb.home.join("server-saw.txt");
    let server = format!("cat > '{}'", seen.display());
    write(
        &file,
        &serde_json::json!({"mcpServers": {"spy": {"command": "sh", "args": ["-c", server]}}})
            .to_string(),
    );
    let out = sb.ok(&["cursor", "--mcp"]);
    assert!(out.contains("1 MCP server(s) now run through"), "{out}");
    assert!(out.contains("rampart setup cursor --mcp --remove"), "{out}");
    assert!(!sb.home.join(".cursor/hooks.json").exists());

    let v: serde_json::Value = serde_json::from_str(&read(&file)).unwrap();
    let entry = &v["mcpServers"]["spy"];
    let args: Vec<String> = entry["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let mut child = Command::new(entry["command"].as_str().unwrap())
        .args(&args)
        .env_clear()
        .env("HOME", &sb.home)
        .env("PATH", "/usr/bin:/bin")
        .env("RAMPART_NO_PROJECT_POLICY", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let frames = [
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_file","arguments":{"path":"/etc/hosts"}}}"#,
    ];
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        format!("{}\n", frames.join("\n")).as_bytes(),
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let answer: serde_json::Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|m| m["id"] == 2)
        .unwrap_or_else(|| {
            panic!(
                "no answer to the denied call\nstdout: {stdout}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert_eq!(answer["error"]["code"], -32600, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Rampart: "),
        "{answer}"
    );
    let server_in = read(&seen);
    assert!(
        server_in.contains("\"ping\""),
        "the server got the ping: {server_in}"
    );
    assert!(!server_in.contains("delete_file"), "{server_in}");

    sb.ok(&["cursor", "--mcp", "--remove"]);
    let v: serde_json::Value = serde_json::from_str(&read(&file)).unwrap();
    assert_eq!(v["mcpServers"]["spy"]["command"], "sh");
}
