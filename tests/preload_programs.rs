//! The preload library (`preload/`) under real programs, against a real in-process server on
//! loopback: shells, Python, Node, make, git hooks, find, xargs, the `examples/preload_probe`
//! program for the calls no stock tool reaches, a multithreaded fork/exec storm, and the server
//! down in both failure modes.
//!
//! The thing policy denies is running `bin/forbidden-helper`, a script whose only effect is to
//! append to `helper-ran` in the test directory. Every denial test first runs the same program
//! without the library and checks that `helper-ran` appears (so the test can fail), then runs it
//! under the library and checks that it does not. The helper's name is never on the command
//! line of the program started by the test (it is in a script file, computed, or arrives
//! through `{}`/stdin), so a denial proves the nested exec itself was checked.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use support::{Opts, TOKEN, TestServer};

use support::preload::{POLICY, clean_env, lib_path as lib_file, write_helper};

fn lib_path() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(lib_file)
}

fn probe_bin() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| support::example_bin("preload_probe"))
}

/// The absolute path of `name` on PATH; `None` (test skipped) when absent, unless running in
/// CI, where `.ci/apt-packages` installs every tool these tests use.
fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| c.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is missing (add it to .ci/apt-packages)"
        );
        eprintln!("skipping: {name} not installed");
    }
    found
}

/// A test directory with the helper, and a server with the test policy.
struct Lab {
    srv: TestServer,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::Builder::new()
            .prefix("preload-")
            .tempdir()
            .expect("temp dir");
        let srv = TestServer::start_in(
            Opts {
                policy: POLICY.into(),
                ..Opts::default()
            },
            dir,
        );
        write_helper(srv.dir.path());
        Lab { srv }
    }

    fn dir(&self) -> &Path {
        self.srv.dir.path()
    }

    fn dir_str(&self) -> String {
        self.dir().to_str().expect("utf-8 temp path").to_string()
    }

    fn helper(&self) -> String {
        format!("{}/bin/forbidden-helper", self.dir_str())
    }

    fn helper_ran(&self) -> bool {
        self.dir().join("helper-ran").exists()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir().join(name);
        std::fs::write(&p, text).expect("write file");
        p
    }

    /// Evaluations the server has answered so far.
    fn checks(&self) -> u64 {
        self.srv.state.metrics.preflights.load(Ordering::Relaxed)
    }

    /// `program` in the test directory with a clean Rampart environment and no library.
    fn bare(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        clean_env(&mut c);
        c.current_dir(self.dir())
            .env("HELPER_DIR", self.dir())
            .stdin(Stdio::null());
        c
    }

    /// `program` under the library, pointed at this lab's server.
    fn under(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = self.bare(program);
        c.env("LD_PRELOAD", lib_path())
            .env("RAMPART_URL", &self.srv.base)
            .env("RAMPART_TOKEN", TOKEN)
            .env("RAMPART_SESSION", "preload-test");
        c
    }
}

fn run(c: &mut Command) -> Output {
    c.output().expect("spawn")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs the program built by `make` without, then with, the library: the helper runs only
/// without it, and the library says it blocked something. Returns the run under the library.
fn denied_under_library(lab: &Lab, make: impl Fn(bool) -> Command) -> Output {
    let control = run(&mut make(false));
    assert!(
        lab.helper_ran(),
        "control run (no library) did not run the helper: stdout {} stderr {}",
        text(&control.stdout),
        text(&control.stderr)
    );
    std::fs::remove_file(lab.dir().join("helper-ran")).expect("reset marker");
    let before = lab.checks();
    let out = run(&mut make(true));
    assert!(
        !lab.helper_ran(),
        "the helper ran under the library: stdout {} stderr {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("rampart: blocked:")
            && text(&out.stderr).contains("the forbidden helper may not run"),
        "no block message: {}",
        text(&out.stderr)
    );
    assert!(lab.checks() > before, "the server was never asked");
    out
}

fn script_under_shell(shell: &str) {
    let Some(sh) = tool(shell) else { return };
    let lab = Lab::new();
    let script = lab.write(
        "script.sh",
        "echo start\n/bin/echo allowed-output\n\"$1/bin/forbidden-helper\" \"$1\"\necho \"helper-status=$?\"\n",
    );
    let out = denied_under_library(&lab, |with| {
        let mut c = if with { lab.under(&sh) } else { lab.bare(&sh) };
        c.arg(&script).arg(lab.dir());
        c
    });
    assert_eq!(
        text(&out.stdout),
        "start\nallowed-output\nhelper-status=126\n"
    );
}

#[test]
fn bash_script_runs_allowed_commands_and_blocks_the_helper() {
    script_under_shell("bash");
}

#[test]
fn dash_script_runs_allowed_commands_and_blocks_the_helper() {
    script_under_shell("dash");
}

/// Runs `body` as a Python script (argv[1] = the test directory) without and with the
/// library (see [`denied_under_library`]); checks its stdout under the library and returns the
/// run, or `None` when python3 is missing.
fn python_case(body: &str, want_stdout: &str) -> Option<Output> {
    let py = tool("python3")?;
    let lab = Lab::new();
    let script = lab.write("t.py", body);
    let out = denied_under_library(&lab, |with| {
        let mut c = if with { lab.under(&py) } else { lab.bare(&py) };
        c.arg(&script).arg(lab.dir());
        c
    });
    assert_eq!(text(&out.stdout), want_stdout, "{}", text(&out.stderr));
    Some(out)
}

#[test]
fn python_subprocess_run_argv() {
    python_case(
        r#"import subprocess, sys
d = sys.argv[1]
print(subprocess.run(["echo", "allowed-output"], capture_output=True, text=True).stdout, end="")
try:
    subprocess.run([d + "/bin/forbidden-helper", d])
    print("helper-started")
except PermissionError:
    print("helper-refused")
"#,
        "allowed-output\nhelper-refused\n",
    );
}

#[test]
fn python_subprocess_shell_true() {
    // The shell string names the helper through a variable: the shell itself is allowed, and
    // its exec of the helper is what the library refuses.
    python_case(
        r#"import subprocess
print(subprocess.run("echo allowed-output", shell=True, capture_output=True, text=True).stdout, end="")
r = subprocess.run('n=helper; "$HELPER_DIR/bin/forbidden-$n" "$HELPER_DIR"', shell=True)
print("rc", r.returncode)
"#,
        "allowed-output\nrc 126\n",
    );
}

#[test]
fn python_os_system_direct() {
    // system() itself is refused (exit status 126, no shell started).
    python_case(
        r#"import os, sys
d = sys.argv[1]
print(os.waitstatus_to_exitcode(os.system("echo allowed-output")))
print("direct", os.waitstatus_to_exitcode(os.system(d + "/bin/forbidden-helper " + d)))
"#,
        "allowed-output\n0\ndirect 126\n",
    );
}

#[test]
fn python_os_system_nested() {
    // The shell runs, its exec of the helper is refused.
    python_case(
        r#"import os
print("nested", os.waitstatus_to_exitcode(os.system('n=helper; "$HELPER_DIR/bin/forbidden-$n" "$HELPER_DIR"')))
"#,
        "nested 126\n",
    );
}

#[test]
fn python_os_execv() {
    let Some(out) = python_case(
        r#"import os, sys
d = sys.argv[1]
try:
    os.execv(d + "/bin/forbidden-helper", ["spoofed-name", d])
except PermissionError:
    print("execv-refused", flush=True)
os.execv("/bin/echo", ["echo", "allowed-output"])
"#,
        "execv-refused\nallowed-output\n",
    ) else {
        return;
    };
    // A spoofed argv[0] does not hide the program: the real path is what was judged.
    assert!(text(&out.stderr).contains("/bin/forbidden-helper"));
}

#[test]
fn python_child_with_scrubbed_environment_stays_covered() {
    // env= without LD_PRELOAD and with RAMPART_MODE=disabled: the library puts its settings
    // back, so the shell child is still covered and its exec of the helper is refused.
    python_case(
        r#"import subprocess, sys
d = sys.argv[1]
env = {"PATH": "/usr/bin:/bin", "RAMPART_MODE": "disabled", "LD_PRELOAD": ""}
r = subprocess.run(["sh", "-c", 'n=helper; "$0/bin/forbidden-$n" "$0"', d], env=env)
print("rc", r.returncode)
"#,
        "rc 126\n",
    );
}

#[test]
fn node_spawn_and_execfile() {
    let Some(node) = tool("node") else { return };
    let lab = Lab::new();
    let script = lab.write(
        "t.js",
        r#"const cp = require('child_process');
const d = process.argv[2];
cp.execFile('echo', ['allowed-output'], (err, out) => {
  if (err) { console.log('execFile-error ' + err.code); return; }
  process.stdout.write(out);
  try {
    const c = cp.spawn(d + '/bin/forbidden-helper', [d], { stdio: 'inherit' });
    c.on('error', e => console.log('spawn-error ' + e.code));
    c.on('exit', code => console.log('spawn-exit ' + code));
  } catch (e) {
    // libuv reports EPERM from the child's exec synchronously.
    console.log('spawn-error ' + e.code);
  }
});
"#,
    );
    let out = denied_under_library(&lab, |with| {
        let mut c = if with {
            lab.under(&node)
        } else {
            lab.bare(&node)
        };
        c.arg(&script).arg(lab.dir());
        c
    });
    assert_eq!(text(&out.stdout), "allowed-output\nspawn-error EPERM\n");
}

#[test]
fn make_runs_recipes_and_blocks_the_helper() {
    let Some(make) = tool("make") else { return };
    let lab = Lab::new();
    lab.write(
        "Makefile",
        "all:\n\t@echo allowed-output\n\t@$(D)/bin/forbidden-$(N) $(D)\n\t@echo not-reached\n",
    );
    let out = denied_under_library(&lab, |with| {
        let mut c = if with {
            lab.under(&make)
        } else {
            lab.bare(&make)
        };
        c.arg("-s")
            .arg(format!("D={}", lab.dir_str()))
            .arg("N=helper");
        c
    });
    assert_eq!(text(&out.stdout), "allowed-output\n");
    assert!(!out.status.success());
}

#[test]
fn git_runs_a_hook_whose_exec_is_checked() {
    let Some(git) = tool("git") else { return };
    let lab = Lab::new();
    let repo = lab.dir().join("repo");
    let init = run(lab.bare(&git).args(["init", "-q"]).arg(&repo));
    assert!(init.status.success(), "{}", text(&init.stderr));
    let hook = repo.join(".git/hooks/pre-commit");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho hook-ran > \"$HELPER_DIR/hook-ran\"\nn=helper\n\"$HELPER_DIR/bin/forbidden-$n\" \"$HELPER_DIR\"\nexit 0\n",
    )
    .expect("hook");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let commit = |with: bool| {
        let mut c = if with {
            lab.under(&git)
        } else {
            lab.bare(&git)
        };
        c.current_dir(&repo)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.invalid",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                "m",
            ]);
        c
    };
    let out = denied_under_library(&lab, commit);
    assert!(out.status.success(), "commit failed: {}", text(&out.stderr));
    assert!(lab.dir().join("hook-ran").exists(), "the hook did not run");
    let log = run(lab
        .under(&git)
        .current_dir(&repo)
        .args(["log", "--oneline"]));
    assert_eq!(text(&log.stdout).lines().count(), 2);
}

#[test]
fn find_exec_is_checked() {
    let Some(find) = tool("find") else { return };
    let lab = Lab::new();
    lab.write("note.txt", "allowed-output\n");
    let out = denied_under_library(&lab, |with| {
        let mut c = if with {
            lab.under(&find)
        } else {
            lab.bare(&find)
        };
        // `{}` is the only place the helper's name appears.
        c.arg(lab.dir())
            .args(["-name", "note.txt", "-exec", "cat", "{}", ";"])
            .args(["-o", "-path", "*/bin/forbidden-*", "-exec", "{}"])
            .arg(lab.dir())
            .arg(";");
        c
    });
    assert_eq!(text(&out.stdout), "allowed-output\n");
}

#[test]
fn xargs_exec_is_checked() {
    let Some(xargs) = tool("xargs") else { return };
    let lab = Lab::new();
    let echo = run(lab
        .under(&xargs)
        .arg("echo")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stdin(std::fs::File::open(lab.write("words", "a b\nc\n")).expect("open")));
    assert_eq!(text(&echo.stdout), "a b c\n");
    let input = lab.write("cmd", &format!("{} {}\n", lab.helper(), lab.dir_str()));
    denied_under_library(&lab, |with| {
        let mut c = if with {
            lab.under(&xargs)
        } else {
            lab.bare(&xargs)
        };
        // xargs runs `env HELPER DIR`, with the helper's name read from stdin.
        c.arg("env")
            .stdin(std::fs::File::open(&input).expect("open"));
        c
    });
}

#[test]
fn allowed_programs_output_is_unchanged() {
    let Some(bash) = tool("bash") else { return };
    let lab = Lab::new();
    let bytes: Vec<u8> = (0u8..=255).collect();
    std::fs::write(lab.dir().join("all-bytes"), &bytes).expect("write");
    let script = lab.write(
        "out.sh",
        "cat all-bytes; ls -la /usr/bin/env; printf 'x\\0y\\n' | od -c; seq 1 500 | sort -r | head -3; echo err >&2\n",
    );
    let plain = run(lab.bare(&bash).arg(&script));
    let before = lab.checks();
    let under = run(lab.under(&bash).arg(&script));
    assert_eq!(plain.stdout, under.stdout);
    assert_eq!(plain.stderr, under.stderr);
    assert_eq!(text(&under.stderr), "err\n");
    assert!(plain.stdout.starts_with(&bytes));
    assert!(
        lab.checks() >= before + 6,
        "cat, ls, printf?, od, seq, sort, head are checked"
    );
}

fn probe(lab: &Lab, with: bool, args: &[&str]) -> Command {
    let bin = probe_bin();
    let mut c = if with { lab.under(bin) } else { lab.bare(bin) };
    c.args(args);
    c
}

#[test]
fn execl_family_and_execve_variants() {
    let lab = Lab::new();
    let d = lab.dir_str();
    let h = lab.helper();
    // Allowed: output as without the library.
    let out = run(&mut probe(
        &lab,
        true,
        &["execl", "/bin/echo", "echo", "one", "two"],
    ));
    assert_eq!(text(&out.stdout), "one two\n");
    let out = run(&mut probe(&lab, true, &["execlp", "echo", "echo", "lp"]));
    assert_eq!(text(&out.stdout), "lp\n");
    let out = run(&mut probe(&lab, true, &["execl-many", "/bin/echo"]));
    let want: Vec<String> = (1..70).map(|i| format!("a{i}")).collect();
    assert_eq!(text(&out.stdout), format!("{}\n", want.join(" ")));
    let out = run(&mut probe(
        &lab,
        true,
        &["fexecve", "/bin/echo", "echo", "fd"],
    ));
    assert_eq!(text(&out.stdout), "fd\n");
    let out = run(&mut probe(
        &lab,
        true,
        &["execveat", "/bin", "echo", "echo", "at"],
    ));
    assert_eq!(text(&out.stdout), "at\n");
    // execle/execve with an environment lacking the library: it is put back.
    let out = run(&mut probe(&lab, true, &["execle", "/usr/bin/env"]));
    let env = text(&out.stdout);
    assert!(env.contains("FOO=bar\n"), "{env}");
    assert!(env.contains("LD_PRELOAD="), "{env}");
    assert!(env.contains("RAMPART_URL="), "{env}");
    // Denied, through each entry point.
    for args in [
        vec!["execl", &h, "forbidden-helper", &d],
        vec!["execlp", &h, "forbidden-helper", &d],
        vec!["execve-clean-env", &h, "forbidden-helper", &d],
        vec!["fexecve", &h, "x", &d],
        vec!["spawn", &h, "spoofed", &d],
        vec!["spawnp", &h, "forbidden-helper", &d],
    ] {
        let out = denied_under_library(&lab, |with| probe(&lab, with, &args));
        let first = text(&out.stdout);
        assert!(
            first.ends_with(": -1 EPERM\n") || first == "spawn: EPERM\n",
            "{args:?}: {first}"
        );
    }
    let out = denied_under_library(&lab, |with| {
        probe(
            &lab,
            with,
            &["execveat", &format!("{d}/bin"), "forbidden-helper", "x", &d],
        )
    });
    assert_eq!(text(&out.stdout), "execveat: -1 EPERM\n");
}

#[test]
fn system_and_popen_refusals() {
    let lab = Lab::new();
    let cmd = format!("{} {}", lab.helper(), lab.dir_str());
    let out = denied_under_library(&lab, |with| probe(&lab, with, &["system", &cmd]));
    assert_eq!(text(&out.stdout), "system: exit 126\n");
    let out = denied_under_library(&lab, |with| probe(&lab, with, &["popen", &cmd]));
    assert_eq!(text(&out.stdout), "popen: EPERM\n");
    let out = run(&mut probe(&lab, true, &["popen", "echo allowed-output"]));
    assert_eq!(
        text(&out.stdout),
        "popen: exit 0 output \"allowed-output\\n\"\n"
    );
}

#[test]
fn multithreaded_program_forks_and_execs_concurrently() {
    let lab = Lab::new();
    let (h, d) = (lab.helper(), lab.dir_str());
    let out = run(&mut probe(&lab, true, &["storm", "6", "20", &h, &d]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "ok=60 denied=60 other=0\n");
    assert!(!lab.helper_ran());
    assert!(lab.checks() >= 120);
}

#[test]
fn inert_process_neither_asks_nor_refuses() {
    // What `rampart serve` does at start, so a server under the library never asks itself.
    let lab = Lab::new();
    let (h, d) = (lab.helper(), lab.dir_str());
    let before = lab.checks();
    let out = run(&mut probe(
        &lab,
        true,
        &["inert", &h, "forbidden-helper", &d],
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(lab.helper_ran());
    assert_eq!(lab.checks(), before);
}

/// A loopback port with nothing listening.
fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

#[test]
fn server_down_fails_open_by_default() {
    let Some(bash) = tool("bash") else { return };
    let lab = Lab::new();
    let script = lab.write("s.sh", "/bin/echo ran\n");
    let out = run(lab.under(&bash).arg(&script).env("RAMPART_URL", dead_url()));
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "ran\n");
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("rampart: warning: policy server unreachable at http://127.0.0.1:"),
        "{err}"
    );
    assert!(err.contains("running unchecked: /bin/echo ran"), "{err}");
}

#[test]
fn server_down_fails_closed_when_asked() {
    let Some(bash) = tool("bash") else { return };
    let lab = Lab::new();
    let script = lab.write("s.sh", "/bin/echo ran\necho status=$?\n");
    for (var, val) in [("RAMPART_FAIL_CLOSED", "1"), ("RAMPART_FAIL_OPEN", "0")] {
        let out = run(lab
            .under(&bash)
            .arg(&script)
            .env("RAMPART_URL", dead_url())
            .env(var, val));
        assert_eq!(text(&out.stdout), "status=126\n", "{var}");
        let err = text(&out.stderr);
        assert!(
            err.contains(
                "rampart: blocked: /bin/echo ran: policy server unreachable at http://127.0.0.1:"
            ) && err.contains("failing closed"),
            "{err}"
        );
    }
}

#[test]
fn server_that_hangs_is_a_transport_failure() {
    let Some(bash) = tool("bash") else { return };
    let lab = Lab::new();
    // Accepts and never answers: the library gives up at RAMPART_TIMEOUT_MS.
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    let script = lab.write("s.sh", "/bin/echo ran\necho status=$?\n");
    let out = run(lab
        .under(&bash)
        .arg(&script)
        .env("RAMPART_URL", &url)
        .env("RAMPART_TIMEOUT_MS", "200")
        .env("RAMPART_FAIL_CLOSED", "1"));
    assert_eq!(text(&out.stdout), "status=126\n");
    assert!(
        text(&out.stderr).contains("timed out"),
        "{}",
        text(&out.stderr)
    );
    drop(l);
}

#[test]
fn wrong_token_and_bad_url_refuse_even_when_failing_open() {
    let Some(bash) = tool("bash") else { return };
    let lab = Lab::new();
    let script = lab.write("s.sh", "/bin/echo ran\necho status=$?\n");
    let out = run(lab.under(&bash).arg(&script).env("RAMPART_TOKEN", "wrong"));
    assert_eq!(text(&out.stdout), "status=126\n");
    assert!(
        text(&out.stderr).contains("HTTP 401"),
        "{}",
        text(&out.stderr)
    );
    let out = run(lab
        .under(&bash)
        .arg(&script)
        .env("RAMPART_URL", "http://example.com:9090"));
    assert_eq!(text(&out.stdout), "status=126\n");
    assert!(
        text(&out.stderr).contains("loopback"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn monitor_and_disabled_modes_run_everything() {
    let Some(bash) = tool("bash") else { return };
    let lab = Lab::new();
    let script = lab.write("s.sh", "\"$1/bin/forbidden-helper\" \"$1\"\n");
    let before = lab.checks();
    let out = run(lab
        .under(&bash)
        .arg(&script)
        .arg(lab.dir())
        .env("RAMPART_MODE", "monitor"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(lab.helper_ran());
    assert!(
        lab.checks() > before,
        "monitor mode still reports to the server"
    );
    std::fs::remove_file(lab.dir().join("helper-ran")).expect("reset");
    let before = lab.checks();
    let out = run(lab
        .under(&bash)
        .arg(&script)
        .arg(lab.dir())
        .env("RAMPART_MODE", "disabled"));
    assert!(out.status.success());
    assert!(lab.helper_ran());
    assert_eq!(lab.checks(), before);
}

#[test]
fn debug_lines_never_show_the_command() {
    let Some(bash) = tool("bash") else { return };
    let lab = Lab::new();
    let script = lab.write("s.sh", "/bin/echo secret-argument\n");
    let out = run(lab.under(&bash).arg(&script).env("RAMPART_DEBUG", "1"));
    let err = text(&out.stderr);
    assert!(
        err.contains("[rampart] execve: 25-byte command: allowed"),
        "{err}"
    );
    assert!(!err.contains("secret-argument"), "{err}");
    let mut stdin_probe = lab
        .under(&bash)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    stdin_probe
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"/bin/echo via-stdin\n")
        .expect("write");
    let out = stdin_probe.wait_with_output().expect("wait");
    assert_eq!(text(&out.stdout), "via-stdin\n");
}

/// A loopback server that answers every request with `response` (read the request first).
fn fake_server(response: Vec<u8>) -> String {
    use std::io::Read;
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then Content-Length bytes of body.
            while let Ok(n) = c.read(&mut buf) {
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&req).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= len {
                        break;
                    }
                }
            }
            let _ = c.write_all(&response);
        }
    });
    url
}

fn http_answer(status: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

#[test]
fn answers_are_read_strictly() {
    let Some(bash) = tool("bash") else { return };
    let lab = Lab::new();
    let script = lab.write("s.sh", "/bin/echo ran\necho status=$?\n");
    let long_message = format!(
        r#"{{"allowed":true,"decision":"allow","message":"{}"}}"#,
        "x".repeat(20_000)
    );
    let oversized = format!(r#"{{"allowed":true,"pad":"{}"}}"#, "x".repeat(70_000));
    let chunked =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n{\"allowe\r\n8\r\nd\":true}\r\n0\r\n\r\n"
            .to_vec();
    let cases: Vec<(&str, Vec<u8>, &str, bool)> = vec![
        // (what, raw answer, expected stdout, fail closed)
        (
            "a 20 KB allow",
            http_answer("200 OK", long_message.as_bytes()),
            "ran\nstatus=0\n",
            true,
        ),
        ("chunked allow", chunked, "ran\nstatus=0\n", true),
        (
            "deny",
            http_answer("200 OK", br#"{"allowed":false,"message":"nope"}"#),
            "status=126\n",
            false,
        ),
        (
            "a 70 KB body",
            http_answer("200 OK", oversized.as_bytes()),
            "status=126\n",
            false,
        ),
        (
            "duplicate allowed",
            http_answer("200 OK", br#"{"allowed":true,"allowed":false}"#),
            "status=126\n",
            false,
        ),
        (
            "nested allowed only",
            http_answer("200 OK", br#"{"x":{"allowed":true}}"#),
            "status=126\n",
            false,
        ),
        (
            "trailing data",
            http_answer("200 OK", br#"{"allowed":true} x"#),
            "status=126\n",
            false,
        ),
        (
            "403",
            http_answer("403 Forbidden", br#"{"allowed":true}"#),
            "status=126\n",
            false,
        ),
        (
            "503 failing open",
            http_answer("503 Service Unavailable", b"{}"),
            "ran\nstatus=0\n",
            false,
        ),
        (
            "503 failing closed",
            http_answer("503 Service Unavailable", b"{}"),
            "status=126\n",
            true,
        ),
        (
            "not http",
            b"SSH-2.0-OpenSSH\r\n\r\n".to_vec(),
            "status=126\n",
            false,
        ),
    ];
    for (what, answer, want, closed) in cases {
        let url = fake_server(answer);
        let mut c = lab.under(&bash);
        c.arg(&script).env("RAMPART_URL", &url);
        if closed {
            c.env("RAMPART_FAIL_CLOSED", "1");
        }
        let out = run(&mut c);
        assert_eq!(text(&out.stdout), want, "{what}: {}", text(&out.stderr));
    }
}

#[test]
fn exhausted_descriptors_do_not_fail_open() {
    let Some(bash) = tool("bash") else { return };
    let lab = Lab::new();
    // With no descriptor left for the socket, the library cannot ask: that is a local failure,
    // refused even though the default is to fail open when the server is down.
    let script = lab.write("s.sh", "ulimit -n 3\n/bin/echo ran\necho status=$?\n");
    let out = run(lab.under(&bash).arg(&script));
    assert_eq!(text(&out.stdout), "status=126\n", "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot create a socket"),
        "{}",
        text(&out.stderr)
    );
}
