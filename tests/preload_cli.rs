//! `rampart preload -- CMD`: the real binary starts its in-process server, runs the agent with
//! the library, returns the agent's exit code and prints the summary line.

mod support;

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_rampart");

use support::preload::{POLICY, clean_env, lib_path, write_helper};

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        let dir = tempfile::Builder::new()
            .prefix("preload-")
            .tempdir()
            .expect("temp dir");
        std::fs::write(dir.path().join("policy.yaml"), POLICY).expect("policy");
        write_helper(dir.path());
        Case { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn preload(&self) -> Command {
        let mut c = Command::new(BIN);
        clean_env(&mut c);
        c.current_dir(self.path())
            .env("HOME", self.path())
            .env("RAMPART_NO_PROJECT_POLICY", "1")
            .env("RAMPART_PRELOAD_LIB", lib_path())
            .arg("preload")
            .arg("--config")
            .arg(self.path().join("policy.yaml"))
            .arg("--audit-dir")
            .arg(self.path().join("audit"));
        c
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(c: &mut Command) -> Output {
    c.stdin(std::process::Stdio::null())
        .output()
        .expect("run rampart")
}

#[test]
fn runs_the_agent_under_the_library_and_prints_the_summary() {
    let case = Case::new();
    let script = "/bin/echo allowed-output\ndate +%Y >/dev/null\nn=helper\n\"$0/bin/forbidden-$n\" \"$0\"\necho status=$?\nexit 3\n";
    let out = run(case
        .preload()
        .args(["--", "sh", "-c", script])
        .arg(case.path()));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "allowed-output\nstatus=126\n");
    assert!(!case.path().join("helper-ran").exists());
    let err = text(&out.stderr);
    assert!(
        err.contains("rampart: blocked: ") && err.contains("the forbidden helper may not run"),
        "{err}"
    );
    assert_eq!(
        err.lines().last(),
        Some("rampart: 3 calls evaluated, 1 denied, 1 watched"),
        "{err}"
    );
    // The decisions are in the audit trail.
    let audit: String = std::fs::read_dir(case.path().join("audit"))
        .expect("audit dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(audit.contains("forbidden-helper"), "{audit}");
    assert!(audit.contains("\"agent\":\"preload\""), "{audit}");
}

#[test]
fn monitor_mode_runs_denied_programs_and_counts_them() {
    let case = Case::new();
    let out = run(case
        .preload()
        .args([
            "--mode",
            "monitor",
            "--",
            "sh",
            "-c",
            "n=helper; \"$0/bin/forbidden-$n\" \"$0\"",
        ])
        .arg(case.path()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(case.path().join("helper-ran").exists());
    // Monitor mode: run, and counted as the denial policy would have made it.
    assert_eq!(
        text(&out.stderr),
        "rampart: 1 calls evaluated, 1 denied, 0 watched\n"
    );
}

#[test]
fn agent_exit_codes_pass_through() {
    let case = Case::new();
    let out = run(case.preload().args(["--", "sh", "-c", "exit 42"]));
    assert_eq!(out.status.code(), Some(42));
    let out = run(case.preload().args(["--", "no-such-agent-program-xyz"]));
    assert_eq!(out.status.code(), Some(127));
}

#[test]
fn static_agent_gets_a_warning() {
    let ldconfig = Path::new("/sbin/ldconfig");
    let static_bin = ldconfig.is_file()
        && matches!(
            rampart::cli::preload_cmd::linkage(ldconfig),
            Ok(rampart::cli::preload_cmd::Linkage::Static)
        );
    if !static_bin {
        eprintln!("skipping: no statically linked /sbin/ldconfig here");
        return;
    }
    let case = Case::new();
    let out = run(case.preload().args(["--", "/sbin/ldconfig", "-V"]));
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("/sbin/ldconfig is statically linked"),
        "{}",
        text(&out.stderr)
    );
    let out = run(case.preload().args(["--", "sh", "-c", "true"]));
    assert!(!text(&out.stderr).contains("statically linked"));
}

#[test]
fn missing_library_is_a_clear_error() {
    let case = Case::new();
    let out = run(case
        .preload()
        .env("RAMPART_PRELOAD_LIB", case.path().join("nope.so"))
        .args(["--", "true"]));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("librampart_preload.so not found"), "{err}");
    assert!(err.contains("nope.so"), "{err}");
}
