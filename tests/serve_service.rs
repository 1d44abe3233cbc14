//! `serve install` / `serve uninstall` flows: definition files, verification with the real
//! `systemd-analyze`, and the systemctl/launchctl command sequences (including rollback) driven
//! through a simulated service manager.

use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use rampart::cli::serve_service::{
    CommandOutput, CommandRunner, InstallOptions, LAUNCHD_LABEL, Platform, SYSTEMD_UNIT,
    ServiceCommand, ServiceError, SystemRunner, install_with, launchd_plist_path,
    launchd_plist_text, service_argv, systemd_unit_path, systemd_unit_text, uninstall_with,
};

/// Arguments that would break naive quoting in either format.
const HOSTILE: &[&str] = &[
    "--config",
    "/tmp/my dir/50% \"quoted\" 'single' back\\slash.yaml",
    "--audit-dir",
    "$HOME/${AUDIT}/%h/%%",
    "--mode",
    "line1\nline2\r\ttab",
    "\u{1}\u{1b}[31m\u{7f}",
    ";",
    "<xml & 'stuff'>",
    "ünïcödé",
];

fn ok(stdout: &str) -> io::Result<CommandOutput> {
    Ok(CommandOutput {
        success: true,
        stdout: stdout.to_string(),
        stderr: String::new(),
    })
}

fn fail(stdout: &str, stderr: &str) -> io::Result<CommandOutput> {
    Ok(CommandOutput {
        success: false,
        stdout: stdout.to_string(),
        stderr: stderr.to_string(),
    })
}

/// A scripted systemd user manager (and launchd) that records every command.
#[derive(Default)]
struct FakeManager {
    log: Vec<String>,
    no_bus: bool,
    /// Verbs that fail the first time they are run.
    fail_once: Vec<&'static str>,
    enabled: bool,
    active: bool,
    /// The service dies right after (re)start.
    crashes: bool,
    /// Run the real `systemd-analyze` instead of pretending it passed.
    real_verify: bool,
    /// Pretend verifier result: exit success and output.
    verify_says: Option<(bool, String)>,
    loaded: bool,
}

impl FakeManager {
    fn take_failure(&mut self, verb: &str) -> bool {
        match self.fail_once.iter().position(|v| *v == verb) {
            Some(i) => {
                self.fail_once.remove(i);
                true
            }
            None => false,
        }
    }

    /// The logged commands from the first systemctl/launchctl call on, staged paths elided.
    fn manager_calls(&self) -> Vec<String> {
        self.log
            .iter()
            .filter(|c| c.starts_with("systemctl") || c.starts_with("launchctl"))
            .cloned()
            .collect()
    }
}

impl CommandRunner for FakeManager {
    fn run(&mut self, cmd: &ServiceCommand) -> io::Result<CommandOutput> {
        self.log.push(cmd.display());
        let args: Vec<String> = cmd
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        match cmd.program.as_str() {
            "systemd-analyze" => {
                if let Some((success, out)) = &self.verify_says {
                    return Ok(CommandOutput {
                        success: *success,
                        stdout: String::new(),
                        stderr: out.clone(),
                    });
                }
                if self.real_verify {
                    return SystemRunner.run(cmd);
                }
                ok("")
            }
            "plutil" => Err(io::Error::from(io::ErrorKind::NotFound)),
            "systemctl" => {
                assert_eq!(args[0], "--user", "{args:?}");
                if self.no_bus {
                    return fail("", "Failed to connect to bus: No medium found");
                }
                let verb = args[1].as_str();
                if self.take_failure(verb) {
                    return fail("", &format!("Job for {SYSTEMD_UNIT} failed ({verb})."));
                }
                match verb {
                    "show" => ok("Version=252\n"),
                    "is-enabled" if self.enabled => ok("enabled\n"),
                    "is-enabled" => fail("disabled\n", ""),
                    "is-active" if self.active => ok("active\n"),
                    "is-active" if self.crashes => fail("activating\n", ""),
                    "is-active" => fail("inactive\n", ""),
                    "daemon-reload" | "status" => ok(""),
                    "enable" => {
                        self.enabled = true;
                        ok("")
                    }
                    "disable" => {
                        self.enabled = false;
                        if args.iter().any(|a| a == "--now") {
                            self.active = false;
                        }
                        ok("")
                    }
                    "restart" => {
                        self.active = !self.crashes;
                        ok("")
                    }
                    "stop" => {
                        self.active = false;
                        ok("")
                    }
                    other => panic!("unexpected systemctl verb {other}"),
                }
            }
            "launchctl" => {
                let verb = args[0].as_str();
                if self.take_failure(verb) {
                    return fail("", "Load failed: 5: Input/output error");
                }
                match verb {
                    "list" if self.loaded => ok("{ \"Label\" = \"sh.rampart.serve\"; };"),
                    "list" => fail("", "Could not find service \"sh.rampart.serve\" in domain"),
                    "load" => {
                        self.loaded = true;
                        ok("")
                    }
                    "unload" => {
                        let was = self.loaded;
                        self.loaded = false;
                        if was {
                            ok("")
                        } else {
                            fail("", "Could not find specified service")
                        }
                    }
                    other => panic!("unexpected launchctl verb {other}"),
                }
            }
            other => panic!("unexpected program {other}"),
        }
    }
}

fn have_systemd_analyze() -> bool {
    if Path::new("/usr/bin/systemd-analyze").exists() || Path::new("/bin/systemd-analyze").exists()
    {
        return true;
    }
    eprintln!("note: systemd-analyze not installed; real unit verification not exercised");
    false
}

struct Setup {
    home: tempfile::TempDir,
    exe: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let home = tempfile::tempdir().unwrap();
        // A real executable file, so `systemd-analyze verify` can check ExecStart.
        let exe = std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap();
        Setup { home, exe }
    }

    fn opts(&self, args: &[&str], force: bool) -> InstallOptions {
        InstallOptions {
            exe: self.exe.clone(),
            serve_args: args.iter().map(|s| s.to_string()).collect(),
            force,
            home: self.home.path().to_path_buf(),
        }
    }

    fn unit(&self) -> PathBuf {
        systemd_unit_path(self.home.path())
    }

    fn leftovers(&self) -> Vec<String> {
        let dir = self.unit().parent().unwrap().to_path_buf();
        std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn sc(rest: &str) -> String {
    format!("systemctl --user {rest}")
}

#[test]
fn systemd_install_writes_verified_unit_and_starts_it() {
    let s = Setup::new();
    let opts = s.opts(HOSTILE, false);
    let mut m = FakeManager {
        real_verify: have_systemd_analyze(),
        ..Default::default()
    };
    let report = install_with(&opts, Platform::Systemd, &mut m).expect("install");
    assert_eq!(report.service_name, SYSTEMD_UNIT);
    assert_eq!(report.unit_path, s.unit());
    assert!(report.started && report.enabled);
    assert!(
        report.notes.iter().all(|n| !n.contains("not verified")),
        "{:?}",
        report.notes
    );
    let text = std::fs::read_to_string(s.unit()).unwrap();
    assert_eq!(text, systemd_unit_text(&opts));
    assert!(!text.contains("RAMPART_TOKEN"));
    assert_eq!(mode(&s.unit()), 0o600);
    assert!(
        m.log[0].starts_with("systemd-analyze verify --user "),
        "{:?}",
        m.log
    );
    assert_eq!(
        m.manager_calls(),
        vec![
            sc("show --property=Version"),
            sc("is-enabled rampart-serve.service"),
            sc("is-active rampart-serve.service"),
            sc("daemon-reload"),
            sc("enable rampart-serve.service"),
            sc("restart rampart-serve.service"),
            sc("is-active rampart-serve.service"),
        ]
    );
    assert!(m.enabled && m.active);
    assert!(s.leftovers().is_empty(), "{:?}", s.leftovers());
}

#[test]
fn real_systemd_analyze_accepts_generated_unit_and_rejects_a_broken_one() {
    if !have_systemd_analyze() {
        return;
    }
    let s = Setup::new();
    let mut m = FakeManager {
        real_verify: true,
        ..Default::default()
    };
    install_with(&s.opts(HOSTILE, false), Platform::Systemd, &mut m).expect("verified");

    // ExecStart pointing at a file that is not executable: systemd-analyze must reject it,
    // and nothing may be installed.
    let s2 = Setup::new();
    let not_exec = s2.home.path().join("rampart");
    std::fs::write(&not_exec, "").unwrap();
    std::fs::set_permissions(&not_exec, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut opts = s2.opts(&[], false);
    opts.exe = not_exec;
    let mut m2 = FakeManager {
        real_verify: true,
        ..Default::default()
    };
    match install_with(&opts, Platform::Systemd, &mut m2) {
        Err(ServiceError::Verify { output, path }) => {
            assert_eq!(path, s2.unit());
            assert!(output.contains("not executable"), "{output}");
            assert!(!output.contains(".rampart-staging"), "{output}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!s2.unit().exists());
    assert!(m2.manager_calls().is_empty(), "{:?}", m2.log);
    assert!(s2.leftovers().is_empty(), "{:?}", s2.leftovers());
}

#[test]
fn verify_failure_or_warning_about_our_unit_installs_nothing() {
    let cases = [
        (false, "Failed to load unit: Invalid argument".to_string()),
        (
            true,
            format!("/x/.rampart-staging-1/{SYSTEMD_UNIT}:9: Ignoring unknown escape sequences"),
        ),
    ];
    for (success, output) in cases {
        let s = Setup::new();
        let mut m = FakeManager {
            verify_says: Some((success, output.clone())),
            ..Default::default()
        };
        let err = install_with(&s.opts(&[], false), Platform::Systemd, &mut m).unwrap_err();
        assert!(matches!(err, ServiceError::Verify { .. }), "{err:?}");
        assert!(
            err.to_string().contains(output.split(": ").last().unwrap()),
            "{err}"
        );
        assert!(!s.unit().exists());
        assert!(m.manager_calls().is_empty());
        assert!(s.leftovers().is_empty());
    }
    // Warnings about other units on a successful run are only notes.
    let s = Setup::new();
    let mut m = FakeManager {
        verify_says: Some((true, "gpg-agent.socket: Unit has no Listen setting".into())),
        ..Default::default()
    };
    let r = install_with(&s.opts(&[], false), Platform::Systemd, &mut m).unwrap();
    assert!(
        r.notes.iter().any(|n| n.contains("gpg-agent")),
        "{:?}",
        r.notes
    );
}

#[test]
fn existing_definition_needs_force_and_symlinks_or_foreign_units_are_refused() {
    let s = Setup::new();
    let mut m = FakeManager::default();
    install_with(
        &s.opts(&["--port", "9191"], false),
        Platform::Systemd,
        &mut m,
    )
    .unwrap();
    let first = std::fs::read_to_string(s.unit()).unwrap();

    let mut m2 = FakeManager::default();
    let err = install_with(
        &s.opts(&["--port", "9292"], false),
        Platform::Systemd,
        &mut m2,
    )
    .unwrap_err();
    assert!(matches!(err, ServiceError::Exists(_)), "{err:?}");
    assert!(err.to_string().contains("--force"));
    assert_eq!(std::fs::read_to_string(s.unit()).unwrap(), first);
    assert!(m2.log.is_empty());

    let mut m3 = FakeManager::default();
    let r = install_with(
        &s.opts(&["--port", "9292"], true),
        Platform::Systemd,
        &mut m3,
    )
    .unwrap();
    assert!(
        r.notes.iter().any(|n| n.contains("replaced")),
        "{:?}",
        r.notes
    );
    assert!(
        std::fs::read_to_string(s.unit())
            .unwrap()
            .contains("\"9292\"")
    );

    // A symlinked definition is refused even with --force, and its target is untouched.
    let target = s.home.path().join("elsewhere.service");
    std::fs::write(&target, &first).unwrap();
    std::fs::remove_file(s.unit()).unwrap();
    symlink(&target, s.unit()).unwrap();
    let err = install_with(
        &s.opts(&[], true),
        Platform::Systemd,
        &mut FakeManager::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ServiceError::Symlink(_)), "{err:?}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), first);
    let err = uninstall_with(
        s.home.path(),
        Platform::Systemd,
        &mut FakeManager::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ServiceError::Symlink(_)), "{err:?}");
    assert!(std::fs::symlink_metadata(s.unit()).is_ok());

    // A unit someone else wrote is refused even with --force.
    std::fs::remove_file(s.unit()).unwrap();
    let foreign = "[Unit]\nDescription=My own server\n[Service]\nExecStart=/bin/true\n";
    std::fs::write(s.unit(), foreign).unwrap();
    let err = install_with(
        &s.opts(&[], true),
        Platform::Systemd,
        &mut FakeManager::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ServiceError::NotManaged(_)), "{err:?}");
    let err = uninstall_with(
        s.home.path(),
        Platform::Systemd,
        &mut FakeManager::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ServiceError::NotManaged(_)), "{err:?}");
    assert_eq!(std::fs::read_to_string(s.unit()).unwrap(), foreign);
}

#[test]
fn legacy_unit_with_token_is_replaced_only_with_force() {
    let s = Setup::new();
    std::fs::create_dir_all(s.unit().parent().unwrap()).unwrap();
    let legacy = "[Unit]\nDescription=Rampart Approval Server\n[Service]\n\
                  Environment=\"RAMPART_TOKEN=abc\"\nExecStart=\"/usr/bin/rampart\" \"serve\"\n";
    std::fs::write(s.unit(), legacy).unwrap();
    let err = install_with(
        &s.opts(&[], false),
        Platform::Systemd,
        &mut FakeManager::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ServiceError::Exists(_)), "{err:?}");
    install_with(
        &s.opts(&[], true),
        Platform::Systemd,
        &mut FakeManager::default(),
    )
    .unwrap();
    assert!(
        !std::fs::read_to_string(s.unit())
            .unwrap()
            .contains("RAMPART_TOKEN")
    );
}

#[test]
fn failing_enable_rolls_back_a_fresh_install() {
    let s = Setup::new();
    let mut m = FakeManager {
        fail_once: vec!["enable"],
        ..Default::default()
    };
    let err = install_with(&s.opts(&[], false), Platform::Systemd, &mut m).unwrap_err();
    match &err {
        ServiceError::Command {
            command, rollback, ..
        } => {
            assert_eq!(command, &sc("enable rampart-serve.service"));
            assert!(rollback.contains("restored"), "{rollback}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("failed (enable)"), "{err}");
    assert!(!s.unit().exists(), "unit file left after rollback");
    assert!(s.leftovers().is_empty());
    assert_eq!(
        m.manager_calls(),
        vec![
            sc("show --property=Version"),
            sc("is-enabled rampart-serve.service"),
            sc("is-active rampart-serve.service"),
            sc("daemon-reload"),
            sc("enable rampart-serve.service"),
            sc("stop rampart-serve.service"),
            sc("disable rampart-serve.service"),
            sc("daemon-reload"),
        ]
    );
    assert!(!m.enabled && !m.active);
}

#[test]
fn failing_restart_restores_previous_running_definition() {
    let s = Setup::new();
    install_with(
        &s.opts(&["--port", "9191"], false),
        Platform::Systemd,
        &mut FakeManager::default(),
    )
    .unwrap();
    let previous = std::fs::read(s.unit()).unwrap();
    let mut m = FakeManager {
        enabled: true,
        active: true,
        fail_once: vec!["restart"],
        ..Default::default()
    };
    let err = install_with(
        &s.opts(&["--port", "9292"], true),
        Platform::Systemd,
        &mut m,
    )
    .unwrap_err();
    assert!(matches!(err, ServiceError::Command { .. }), "{err:?}");
    assert_eq!(std::fs::read(s.unit()).unwrap(), previous);
    assert_eq!(mode(&s.unit()), 0o600);
    let calls = m.manager_calls();
    assert_eq!(
        &calls[calls.len() - 2..],
        &[sc("daemon-reload"), sc("restart rampart-serve.service")]
    );
    assert!(
        !calls.contains(&sc("disable rampart-serve.service")),
        "{calls:?}"
    );
    assert!(m.enabled && m.active, "previous state not restored");
    assert!(s.leftovers().is_empty());
}

#[test]
fn service_that_dies_after_start_is_rolled_back() {
    let s = Setup::new();
    let mut m = FakeManager {
        crashes: true,
        ..Default::default()
    };
    let err = install_with(&s.opts(&[], false), Platform::Systemd, &mut m).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("did not stay running"), "{msg}");
    assert!(msg.contains("activating"), "{msg}");
    assert!(!s.unit().exists());
    assert!(!m.enabled);
}

#[test]
fn no_user_bus_leaves_verified_unit_and_says_how_to_start() {
    let s = Setup::new();
    let mut m = FakeManager {
        no_bus: true,
        real_verify: have_systemd_analyze(),
        ..Default::default()
    };
    let err = install_with(&s.opts(&[], false), Platform::Systemd, &mut m).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, ServiceError::ManagerUnavailable { .. }),
        "{err:?}"
    );
    assert!(msg.contains("No medium found"), "{msg}");
    assert!(
        msg.contains(
            "systemctl --user daemon-reload && systemctl --user enable --now rampart-serve.service"
        ),
        "{msg}"
    );
    assert!(s.unit().exists());
    assert_eq!(m.manager_calls(), vec![sc("show --property=Version")]);

    // Uninstall without a bus still removes the unit and its enablement link.
    let wants = s.unit().parent().unwrap().join("default.target.wants");
    std::fs::create_dir_all(&wants).unwrap();
    symlink(s.unit(), wants.join(SYSTEMD_UNIT)).unwrap();
    let r = uninstall_with(s.home.path(), Platform::Systemd, &mut m).unwrap();
    assert!(!r.stopped);
    assert!(!s.unit().exists());
    assert!(std::fs::symlink_metadata(wants.join(SYSTEMD_UNIT)).is_err());
    assert!(
        r.notes.iter().any(|n| n.contains("could not reach")),
        "{:?}",
        r.notes
    );
}

#[test]
fn real_commands_without_a_user_manager() {
    // Only where no systemd user manager answers, so a developer's own session is never touched.
    let reachable = SystemRunner
        .run(&ServiceCommand::new(
            "systemctl",
            ["--user", "show", "--property=Version"],
        ))
        .map(|o| o.success)
        .unwrap_or(false);
    if reachable || !have_systemd_analyze() {
        eprintln!("note: a user manager is reachable (or systemd-analyze missing); skipped");
        return;
    }
    let s = Setup::new();
    let err = install_with(
        &s.opts(&["--port", "9191"], false),
        Platform::Systemd,
        &mut SystemRunner,
    )
    .unwrap_err();
    assert!(
        matches!(err, ServiceError::ManagerUnavailable { .. }),
        "{err:?}"
    );
    assert!(s.unit().exists());
    let r = uninstall_with(s.home.path(), Platform::Systemd, &mut SystemRunner).unwrap();
    assert!(!r.stopped);
    assert!(!s.unit().exists());
}

#[test]
fn systemd_uninstall_disables_and_removes() {
    let s = Setup::new();
    let mut m = FakeManager::default();
    install_with(&s.opts(&[], false), Platform::Systemd, &mut m).unwrap();
    let mut m2 = FakeManager {
        enabled: true,
        active: true,
        ..Default::default()
    };
    let r = uninstall_with(s.home.path(), Platform::Systemd, &mut m2).unwrap();
    assert!(r.stopped);
    assert_eq!(r.unit_path, s.unit());
    assert!(!s.unit().exists());
    assert_eq!(
        m2.manager_calls(),
        vec![
            sc("show --property=Version"),
            sc("disable --now rampart-serve.service"),
            sc("daemon-reload"),
        ]
    );
    assert!(!m2.enabled && !m2.active);

    let err = uninstall_with(
        s.home.path(),
        Platform::Systemd,
        &mut FakeManager::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ServiceError::NotInstalled(_)), "{err:?}");
    assert!(err.to_string().contains("nothing to uninstall"));
}

#[test]
fn failing_disable_keeps_the_unit() {
    let s = Setup::new();
    install_with(
        &s.opts(&[], false),
        Platform::Systemd,
        &mut FakeManager::default(),
    )
    .unwrap();
    let mut m = FakeManager {
        fail_once: vec!["disable"],
        ..Default::default()
    };
    let err = uninstall_with(s.home.path(), Platform::Systemd, &mut m).unwrap_err();
    assert!(err.to_string().contains("nothing was removed"), "{err}");
    assert!(s.unit().exists());
}

#[test]
fn invalid_executables_are_refused_before_writing() {
    let s = Setup::new();
    for exe in ["relative/rampart", "/nonexistent/rampart"] {
        let mut o = s.opts(&[], false);
        o.exe = PathBuf::from(exe);
        let err = install_with(&o, Platform::Systemd, &mut FakeManager::default()).unwrap_err();
        assert!(matches!(err, ServiceError::Invalid(_)), "{exe}: {err:?}");
    }
    let mut o = s.opts(&["a\0b"], false);
    let err = install_with(&o, Platform::Systemd, &mut FakeManager::default()).unwrap_err();
    assert!(matches!(err, ServiceError::Invalid(_)), "{err:?}");
    o.serve_args = vec!["bell\u{7}".into()];
    let err = install_with(&o, Platform::Launchd, &mut FakeManager::default()).unwrap_err();
    assert!(matches!(err, ServiceError::Invalid(_)), "{err:?}");
    assert!(!s.unit().exists());
    assert!(!launchd_plist_path(s.home.path()).exists());
}

/// Parses the plist and returns (label, ProgramArguments, other keys).
fn parse_plist(text: &str) -> (String, Vec<String>, Vec<(String, String)>) {
    let doc = roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .expect("plist is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "plist");
    let dict = root.children().find(|n| n.is_element()).unwrap();
    assert_eq!(dict.tag_name().name(), "dict");
    let items: Vec<_> = dict.children().filter(|n| n.is_element()).collect();
    let mut label = String::new();
    let mut argv = Vec::new();
    let mut other = Vec::new();
    for pair in items.chunks(2) {
        assert_eq!(pair[0].tag_name().name(), "key");
        let key = pair[0].text().unwrap_or("").to_string();
        let val = pair[1];
        match key.as_str() {
            "Label" => label = val.text().unwrap_or("").to_string(),
            "ProgramArguments" => {
                argv = val
                    .children()
                    .filter(|n| n.is_element())
                    .map(|n| {
                        assert_eq!(n.tag_name().name(), "string");
                        n.text().unwrap_or("").to_string()
                    })
                    .collect();
            }
            _ => other.push((key, val.tag_name().name().to_string())),
        }
    }
    (label, argv, other)
}

#[test]
fn plist_is_well_formed_and_carries_exact_arguments() {
    let s = Setup::new();
    let hostile: Vec<&str> = HOSTILE
        .iter()
        .copied()
        .filter(|a| a.chars().all(|c| !c.is_control() || "\t\n\r".contains(c)))
        .chain(["]]>", "-->", "&amp;", "a\r\nb"])
        .collect();
    let opts = s.opts(&hostile, false);
    let text = launchd_plist_text(&opts);
    let (label, argv, other) = parse_plist(&text);
    assert_eq!(label, LAUNCHD_LABEL);
    assert_eq!(argv, service_argv(&opts));
    let keys: Vec<&str> = other.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        vec![
            "WorkingDirectory",
            "RunAtLoad",
            "KeepAlive",
            "StandardOutPath",
            "StandardErrorPath"
        ]
    );
    assert!(text.contains(&format!(
        "<string>{}</string>",
        s.home.path().join(".rampart/serve.log").display()
    )));
    assert!(!text.contains("RAMPART_TOKEN"));
}

#[test]
fn launchd_install_rollback_and_uninstall() {
    let s = Setup::new();
    let plist = launchd_plist_path(s.home.path());
    let mut m = FakeManager::default();
    let r = install_with(
        &s.opts(&["--port", "9191"], false),
        Platform::Launchd,
        &mut m,
    )
    .unwrap();
    assert_eq!(r.unit_path, plist);
    assert!(r.notes.iter().any(|n| n.contains("plutil not found")));
    assert_eq!(mode(&plist), 0o600);
    assert_eq!(mode(&s.home.path().join(".rampart/serve.log")), 0o600);
    let p = plist.display().to_string();
    assert_eq!(
        m.manager_calls(),
        vec![
            "launchctl list sh.rampart.serve".to_string(),
            format!("launchctl load -w {p}"),
            "launchctl list sh.rampart.serve".to_string(),
        ]
    );

    // Replacing with a load that fails puts the old plist back and reloads it.
    let before = std::fs::read(&plist).unwrap();
    let mut m2 = FakeManager {
        loaded: true,
        fail_once: vec!["load"],
        ..Default::default()
    };
    let err = install_with(
        &s.opts(&["--port", "9292"], true),
        Platform::Launchd,
        &mut m2,
    )
    .unwrap_err();
    assert!(matches!(err, ServiceError::Command { .. }), "{err:?}");
    assert_eq!(std::fs::read(&plist).unwrap(), before);
    assert!(m2.loaded, "previous agent not reloaded");

    let mut m3 = FakeManager {
        loaded: true,
        ..Default::default()
    };
    let r = uninstall_with(s.home.path(), Platform::Launchd, &mut m3).unwrap();
    assert!(r.stopped);
    assert!(!plist.exists());
    assert_eq!(m3.manager_calls(), vec![format!("launchctl unload -w {p}")]);
}
