//! `rampart wrap`: the real binary running real agents (python3, node, bash) whose commands go
//! through real shells (bash, dash, zsh) the way agents call them. Every program used here is
//! required (see .ci/apt-packages): a missing one fails the test.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod support;
use support::POLICY;

const BIN: &str = env!("CARGO_BIN_EXE_rampart");

/// A program the test needs, found in PATH; panics (fails the test) when missing.
fn require(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is required for this test (see .ci/apt-packages)"))
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("wrap-test-")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::write(dir.path().join("policy.yaml"), POLICY).unwrap();
        Env { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `rampart wrap --config … --audit-dir … FLAGS -- AGENT…` with `SHELL=shell`, no stdin.
    fn wrap(&self, shell: &Path, flags: &[&str], agent: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("wrap")
            .arg("--config")
            .arg(self.path("policy.yaml"))
            .arg("--audit-dir")
            .arg(self.path("audit"))
            .args(flags)
            .arg("--")
            .args(agent)
            .current_dir(self.dir.path())
            .env("HOME", self.path("home"))
            .env("SHELL", shell)
            .env("RAMPART_NO_PROJECT_POLICY", "1")
            .env_remove("RAMPART_URL")
            .env_remove("RAMPART_TOKEN")
            .env_remove("RAMPART_REAL_SHELL")
            .env_remove("RAMPART_SESSION")
            .env_remove("RAMPART_FAIL_CLOSED")
            .stdin(Stdio::null());
        c
    }

    fn audit_events(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let Ok(rd) = std::fs::read_dir(self.path("audit")) else {
            return out;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("audit-") && !name.contains("anchor") && name.ends_with(".jsonl") {
                for l in std::fs::read_to_string(e.path()).unwrap().lines() {
                    out.push(serde_json::from_str(l).unwrap());
                }
            }
        }
        out
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One shell use by the agent: a command string (`shell=True` / `exec`) or an argv after the
/// shell (`[$SHELL, "-lc", …]`); `both`: also run with the real shell to compare.
fn case_cmd(cmd: &str) -> Value {
    json!({"cmd": cmd, "both": true})
}

fn case_argv(argv: &[&str]) -> Value {
    json!({"argv": argv, "both": true})
}

/// Commands whose output through the shim must equal the real shell's, byte for byte.
fn allowed_cases() -> Vec<Value> {
    vec![
        case_cmd(r#"echo "hello   world" 'single  quoted' $((1+2))"#),
        case_cmd("printf 'b\\na\\nc\\n' | sort | tr a-z A-Z"),
        case_cmd("cat <<'EOF'\nliteral $HOME `x` \"q\"\nEOF"),
        case_cmd("X=set; cat <<EOF\nexpanded ${X} ${Y:-default}\nEOF"),
        case_cmd("echo 'héllo wörld — ✓ 日本語 🚀' | wc -c; printf '%s\\n' 'ünïcödé'"),
        case_cmd("echo out; echo err >&2; exit 3"),
        case_cmd(r#"for i in 1 2 3; do printf "%s," "$i"; done; echo"#),
        case_cmd("nonexistent_command_xyz_42"),
        case_cmd(r#"echo "$0""#),
        case_argv(&[
            "-lc",
            r#"printf '[%s]' "a b" 'it'\''s' "$0"; echo"#,
            "agent-name",
        ]),
        case_argv(&["-ec", "echo first; false; echo never"]),
        case_argv(&["-o", "pipefail", "-c", "false | true; echo piped=$?"]),
        case_argv(&["-c", "echo \"$1-$2\"", "zero", "one", "two"]),
    ]
}

/// What every driver writes: per case, `[through the shim, through the real shell]`, each
/// `[stdout, stderr, exit code]` (or null when not run).
fn check_results(shell: &str, cases: &[Value], results: &Value) {
    let results = results.as_array().expect("results array");
    assert_eq!(results.len(), cases.len(), "{shell}: one result per case");
    for (case, r) in cases.iter().zip(results) {
        let (shim, real) = (&r[0], &r[1]);
        assert!(!shim.is_null(), "{shell}: {case}: not run");
        if case["both"] == true {
            assert_eq!(shim, real, "{shell}: {case}: shim and real shell differ");
        }
    }
}

const PY_DRIVER: &str = r#"
import json, os, subprocess, sys
cases = json.load(open(sys.argv[1]))
out = []
def run(case, key):
    exe = os.environ[key]
    if "cmd" in case:
        r = subprocess.run(case["cmd"], shell=True, executable=exe, capture_output=True)
    else:
        r = subprocess.run([exe] + case["argv"], capture_output=True)
    return [r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace"), r.returncode]
for c in cases:
    out.append([run(c, "SHELL"), run(c, "RAMPART_REAL_SHELL") if c["both"] else None])
json.dump(out, open(sys.argv[2], "w"))
"#;

const NODE_DRIVER: &str = r#"
const { exec, execFile } = require("child_process");
const fs = require("fs");
const [casesFile, outFile] = process.argv.slice(2);
const cases = JSON.parse(fs.readFileSync(casesFile, "utf8"));
const done = (res) => (err, stdout, stderr) =>
  res([stdout, stderr, err ? (typeof err.code === "number" ? err.code : -1) : 0]);
const run = (c, shell) => new Promise((res) => {
  if (c.cmd !== undefined) exec(c.cmd, { shell, encoding: "utf8" }, done(res));
  else execFile(shell, c.argv, { encoding: "utf8" }, done(res));
});
(async () => {
  const out = [];
  for (const c of cases) {
    const a = await run(c, process.env.SHELL);
    const b = c.both ? await run(c, process.env.RAMPART_REAL_SHELL) : null;
    out.push([a, b]);
  }
  fs.writeFileSync(outFile, JSON.stringify(out));
})();
"#;

/// Runs `driver` (python3 or node) under `wrap` with `SHELL=shell` over the allowed cases plus
/// one denied command, then checks outputs, the denial's missing side effect, the summary line
/// and the audit trail.
fn drive(interpreter: &str, script: &str, shell_name: &str) {
    let shell = require(shell_name);
    let interp = require(interpreter);
    let env = Env::new();
    let victim = env.path("victim");
    std::fs::create_dir_all(victim.join("sub")).unwrap();
    let marker = env.path("marker");
    let denied = format!("touch {} && rm -rf {}", marker.display(), victim.display());
    let mut cases = allowed_cases();
    cases.push(json!({"cmd": denied, "both": false}));
    std::fs::write(
        env.path("cases.json"),
        serde_json::to_string(&cases).unwrap(),
    )
    .unwrap();
    std::fs::write(env.path("driver"), script).unwrap();
    let out = env
        .wrap(
            &shell,
            &[],
            &[
                interp.to_str().unwrap(),
                env.path("driver").to_str().unwrap(),
                env.path("cases.json").to_str().unwrap(),
                env.path("results.json").to_str().unwrap(),
            ],
        )
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("results.json")).unwrap()).unwrap();
    let n = cases.len();
    check_results(
        shell_name,
        &cases[..n - 1],
        &Value::from(results.as_array().unwrap()[..n - 1].to_vec()),
    );
    // Sanity: the comparison covered real output (not two empty strings).
    assert_eq!(results[0][0][0], "hello   world single  quoted 3\n");
    assert_eq!(results[5][0], json!(["out\n", "err\n", 3]));
    // The denied command: exit 126, a message, and no side effect at all.
    let d = &results[n - 1][0];
    assert_eq!(d[2], 126, "{d}");
    assert!(d[1].as_str().unwrap().contains("rampart: blocked"), "{d}");
    assert!(
        d[1].as_str().unwrap().contains("no recursive deletes"),
        "{d}"
    );
    assert!(!marker.exists(), "denied command ran (marker exists)");
    assert!(
        victim.join("sub").is_dir(),
        "denied command ran (victim removed)"
    );
    // One summary line.
    let summary: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("calls evaluated"))
        .collect();
    assert_eq!(summary.len(), 1, "{err}");
    assert!(
        summary[0].starts_with("rampart: ") && summary[0].contains(", 1 denied, 0 watched"),
        "{err}"
    );
    // Audit: agent wrapped, the run's session, the denied command recorded as denied.
    let events = env.audit_events();
    let ours: Vec<&Value> = events.iter().filter(|e| e["agent"] == "wrapped").collect();
    assert!(!ours.is_empty());
    assert!(ours.iter().all(|e| {
        e["session"]
            .as_str()
            .is_some_and(|s| s.starts_with("wrap-"))
    }));
    let sessions: std::collections::HashSet<&str> =
        ours.iter().filter_map(|e| e["session"].as_str()).collect();
    assert_eq!(sessions.len(), 1, "one session per run");
    assert!(
        ours.iter().any(
            |e| e["request"]["command"] == denied.as_str() && e["decision"]["action"] == "deny"
        )
    );
    let evaluated: usize = summary[0]
        .trim_start_matches("rampart: ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        evaluated,
        ours.len(),
        "summary counts every audited decision"
    );
}

#[test]
fn python_subprocess_shell_true_bash() {
    drive("python3", PY_DRIVER, "bash");
}

#[test]
fn python_subprocess_shell_true_dash() {
    drive("python3", PY_DRIVER, "dash");
}

#[test]
fn python_subprocess_shell_true_zsh() {
    drive("python3", PY_DRIVER, "zsh");
}

#[test]
fn node_child_process_exec_bash() {
    drive("node", NODE_DRIVER, "bash");
}

#[test]
fn node_child_process_exec_dash() {
    drive("node", NODE_DRIVER, "dash");
}

#[test]
fn node_child_process_exec_zsh() {
    drive("node", NODE_DRIVER, "zsh");
}

/// A bash agent calling `$SHELL -lc '…'` (how Codex-style agents call the shell).
#[test]
fn shell_agent_lc_with_quoting_and_denial() {
    let bash = require("bash");
    let env = Env::new();
    let marker = env.path("lc-marker");
    let script = format!(
        r#"
"$SHELL" -lc 'printf "%s|" "a b" "c'\''d" ü; echo' > shim.out 2>&1; echo "rc=$?" >> shim.out
"$RAMPART_REAL_SHELL" -lc 'printf "%s|" "a b" "c'\''d" ü; echo' > real.out 2>&1; echo "rc=$?" >> real.out
"$SHELL" -lc 'touch {m}; rm -rf /tmp/wrap-nonexistent-dir' 2> denied.err; echo "rc=$?" > denied.rc
exit 5
"#,
        m = marker.display()
    );
    std::fs::write(env.path("agent.sh"), script).unwrap();
    let out = env
        .wrap(&bash, &[], &[bash.to_str().unwrap(), "agent.sh"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "agent's exit code: {}",
        stderr(&out)
    );
    let shim = std::fs::read_to_string(env.path("shim.out")).unwrap();
    assert_eq!(shim, "a b|c'd|ü|\nrc=0\n");
    assert_eq!(shim, std::fs::read_to_string(env.path("real.out")).unwrap());
    assert_eq!(
        std::fs::read_to_string(env.path("denied.rc")).unwrap(),
        "rc=126\n"
    );
    assert!(!marker.exists(), "denied command ran");
    assert!(
        std::fs::read_to_string(env.path("denied.err"))
            .unwrap()
            .contains("rampart: blocked")
    );
}

#[test]
fn monitor_mode_runs_denied_commands_and_records_them() {
    let bash = require("bash");
    let env = Env::new();
    let marker = env.path("m");
    let out = env
        .wrap(
            &bash,
            &["--mode", "monitor"],
            &[
                "bash",
                "-c",
                &format!(
                    "\"$SHELL\" -c 'touch {} && rm -rf /tmp/wrap-none'",
                    marker.display()
                ),
            ],
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(marker.exists());
    assert!(
        env.audit_events()
            .iter()
            .any(|e| e["agent"] == "wrapped" && e["decision"]["action"] == "deny")
    );
}

/// A free loopback port with nothing listening.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The shim on its own with its server gone: fail open with a warning by default, fail closed
/// with RAMPART_FAIL_CLOSED=1.
#[test]
fn unreachable_server_fails_open_or_closed() {
    let env = Env::new();
    let shim_dir = env.path("shim");
    std::fs::create_dir_all(&shim_dir).unwrap();
    let shim = shim_dir.join("rampart-shell");
    std::os::unix::fs::symlink(BIN, &shim).unwrap();
    let url = format!("http://127.0.0.1:{}", dead_port());
    let run = |fail_closed: Option<&str>, marker: &Path| {
        let mut c = Command::new(&shim);
        c.arg("-c")
            .arg(format!("touch {} && echo ran", marker.display()))
            .env("RAMPART_URL", &url)
            .env(
                "RAMPART_TOKEN",
                "rampart_0000000000000000000000000000000000000000",
            )
            .env("RAMPART_REAL_SHELL", require("bash"))
            .env("SHELL", &shim)
            .env_remove("RAMPART_FAIL_CLOSED");
        if let Some(v) = fail_closed {
            c.env("RAMPART_FAIL_CLOSED", v);
        }
        c.output().unwrap()
    };
    let open_marker = env.path("open");
    let o = run(None, &open_marker);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ran\n");
    assert!(open_marker.exists());
    assert!(
        stderr(&o).contains("rampart: warning: policy server unreachable"),
        "{}",
        stderr(&o)
    );
    let closed_marker = env.path("closed");
    let o = run(Some("1"), &closed_marker);
    assert_eq!(o.status.code(), Some(126), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert!(!closed_marker.exists());
    assert!(stderr(&o).contains("rampart: blocked: policy server unreachable"));
    // Not configured at all (no RAMPART_URL) counts as unreachable too.
    let bare = env.path("bare");
    let o = Command::new(&shim)
        .arg("-c")
        .arg(format!("touch {}", bare.display()))
        .env_remove("RAMPART_URL")
        .env("RAMPART_FAIL_CLOSED", "1")
        .env("RAMPART_REAL_SHELL", require("bash"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(126));
    assert!(!bare.exists());
}

/// `wrap --fail-closed` hands strict mode to the shim: an agent that points the shim at a dead
/// server gets its command refused.
#[test]
fn wrap_fail_closed_flag_reaches_the_shim() {
    let bash = require("bash");
    let env = Env::new();
    let marker = env.path("m");
    let agent = format!(
        "RAMPART_URL=http://127.0.0.1:{} \"$SHELL\" -c 'touch {}'; echo rc=$?",
        dead_port(),
        marker.display()
    );
    let out = env
        .wrap(&bash, &["--fail-closed"], &["bash", "-c", &agent])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "rc=126\n",
        "{}",
        stderr(&out)
    );
    assert!(!marker.exists());
    let out = env
        .wrap(&bash, &[], &["bash", "-c", &agent])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "rc=0\n",
        "{}",
        stderr(&out)
    );
    assert!(marker.exists());
}

/// Waits (up to 30 s) until `text` contains `needle`; the text so far.
fn wait_for_text(text: &Mutex<String>, needle: &str) -> String {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let t = text.lock().unwrap().clone();
        if t.contains(needle) {
            return t;
        }
        assert!(Instant::now() < until, "never saw {needle:?} in: {t}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads `wrap`'s stderr on a thread; the first line names the dashboard (and so the server).
struct StderrTail {
    text: Arc<Mutex<String>>,
}

impl StderrTail {
    fn start(stderr: std::process::ChildStderr) -> StderrTail {
        let text = Arc::new(Mutex::new(String::new()));
        let t = text.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut g = t.lock().unwrap();
                g.push_str(&line);
                g.push('\n');
            }
        });
        StderrTail { text }
    }

    fn wait_for(&self, needle: &str) -> String {
        wait_for_text(&self.text, needle)
    }

    fn server_url(&self) -> String {
        let t = self.wait_for("/dashboard/");
        let start = t.find("http://127.0.0.1:").unwrap();
        t[start..].split("/dashboard/").next().unwrap().to_string()
    }
}

fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn admin_token(env: &Env) -> String {
    std::fs::read_to_string(env.path("home/.rampart/token"))
        .unwrap()
        .trim()
        .to_string()
}

/// `ask` holds the shell until a person answers through the API (as the dashboard or
/// `rampart approve` would): approved runs the command, denied refuses it. The decisions also
/// reach the live SSE stream.
#[test]
fn ask_waits_for_approval_and_decisions_reach_the_event_stream() {
    let bash = require("bash");
    let env = Env::new();
    let (yes, no) = (env.path("approved-ran"), env.path("denied-ran"));
    let agent = format!(
        "until [ -e go ]; do sleep 0.05; done
\"$SHELL\" -c 'deploy prod || touch {yes}'; echo rc1=$?
\"$SHELL\" -c 'deploy staging || touch {no}'; echo rc2=$?",
        yes = yes.display(),
        no = no.display()
    );
    let mut child = env
        .wrap(&bash, &[], &["bash", "-c", &agent])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let tail = StderrTail::start(child.stderr.take().unwrap());
    let url = tail.server_url();
    let token = admin_token(&env);
    // Subscribe to the live stream before any decision.
    let mut sse = http()
        .get(&format!("{url}/v1/events/stream"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(sse.status().as_u16(), 200);
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut r = BufReader::new(sse.body_mut().as_reader());
        let mut line = String::new();
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            if tx.send(std::mem::take(&mut line)).is_err() {
                break;
            }
        }
    });
    std::fs::write(env.path("go"), "").unwrap();
    for approve in [true, false] {
        let id = wait_pending(&url, &token);
        let mut r = http()
            .post(&format!("{url}/v1/approvals/{id}/resolve"))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .send(json!({"approved": approve, "resolved_by": "test"}).to_string())
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            200,
            "{}",
            r.body_mut().read_to_string().unwrap_or_default()
        );
    }
    let status = child.wait().unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        tail.wait_for("calls evaluated")
    );
    // `deploy` is no program: the approved command ran (and failed, so `touch` ran).
    assert!(stdout.contains("rc1=0"), "{stdout}");
    assert!(yes.exists());
    assert!(stdout.contains("rc2=126"), "{stdout}");
    assert!(!no.exists());
    // The live stream carried the wrapped decisions.
    let mut seen = String::new();
    let until = Instant::now() + Duration::from_secs(10);
    while !(seen.contains("\"wrapped\"") && seen.contains("deploy staging"))
        && Instant::now() < until
    {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            seen.push_str(&l);
        }
    }
    assert!(
        seen.contains("\"wrapped\"") && seen.contains("deploy prod"),
        "{seen}"
    );
}

fn wait_pending(url: &str, token: &str) -> String {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let mut r = http()
            .get(&format!("{url}/v1/approvals"))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap();
        let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        let list = v.get("approvals").cloned().unwrap_or(v.clone());
        if let Some(a) = list
            .as_array()
            .and_then(|l| l.iter().find(|a| a["status"] == "pending"))
        {
            return a["id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < until, "no pending approval: {v}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The run token in the agent's environment may ask but not approve.
#[test]
fn agent_cannot_approve_with_its_own_token() {
    let bash = require("bash");
    let env = Env::new();
    let curl_like = format!(
        "{} -c 'import os,urllib.request as u\nr=u.Request(os.environ[\"RAMPART_URL\"]+\"/v1/approvals\",headers={{\"Authorization\":\"Bearer \"+os.environ[\"RAMPART_TOKEN\"]}})\ntry:\n  u.urlopen(r); print(\"status=200\")\nexcept Exception as e: print(\"status=%s\" % getattr(e, \"code\", e))'",
        require("python3").display()
    );
    let out = env
        .wrap(&bash, &[], &["bash", "-c", &curl_like])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "status=403\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn exit_codes_and_missing_agent() {
    let bash = require("bash");
    let env = Env::new();
    let o = env
        .wrap(&bash, &[], &["bash", "-c", "exit 42"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(42));
    let o = env
        .wrap(&bash, &[], &["bash", "-c", "kill -TERM $$"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(143));
    let o = env
        .wrap(&bash, &[], &["/nonexistent/agent"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(127));
    assert!(
        stderr(&o).contains("rampart: 0 calls evaluated, 0 denied, 0 watched"),
        "{}",
        stderr(&o)
    );
}

/// `rampart wrap` in a terminal: the agent (an interactive python3) gets a terminal of its own
/// with the caller's window size, follows resizes, and its commands still go through the shim.
#[test]
fn pty_agent_gets_a_terminal_and_its_size() {
    use portable_pty::{CommandBuilder, PtySize, native_pty_system};
    let bash = require("bash");
    let python = require("python3");
    let env = Env::new();
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 33,
            cols: 111,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut b = CommandBuilder::new(BIN);
    for a in ["wrap", "--config"] {
        b.arg(a);
    }
    b.arg(env.path("policy.yaml"));
    b.arg("--audit-dir");
    b.arg(env.path("audit"));
    b.args(["--", python.to_str().unwrap(), "-i", "-q"]);
    b.cwd(env.dir.path());
    b.env("HOME", env.path("home"));
    b.env("SHELL", &bash);
    b.env("RAMPART_NO_PROJECT_POLICY", "1");
    b.env("PYTHONSTARTUP", "");
    b.env("PYTHON_BASIC_REPL", "1");
    b.env_remove("RAMPART_URL");
    b.env_remove("RAMPART_TOKEN");
    b.env_remove("RAMPART_REAL_SHELL");
    let mut child = pair.slave.spawn_command(b).unwrap();
    drop(pair.slave);
    let screen = Arc::new(Mutex::new(String::new()));
    let mut reader = pair.master.try_clone_reader().unwrap();
    let s = screen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            s.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let mut w = pair.master.take_writer().unwrap();
    let wait_for = |needle: &str| {
        wait_for_text(&screen, needle);
    };
    wait_for(">>> ");
    w.write_all(b"import os, subprocess; print('TTY', os.isatty(0), os.isatty(1), tuple(os.get_terminal_size()))\r").unwrap();
    wait_for("TTY True True (111, 33)");
    pair.master
        .resize(PtySize {
            rows: 41,
            cols: 123,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    // The resize reaches the agent through SIGWINCH forwarding; ask until it shows.
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        w.write_all(b"print('SIZE', *os.get_terminal_size(), sep='_')\r")
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        if screen.lock().unwrap().contains("SIZE_123_41") {
            break;
        }
        assert!(Instant::now() < until, "resize never reached the agent");
    }
    w.write_all(b"r = subprocess.run('echo via-$((40+2))-shim; rm -rf /tmp/wrap-nothing-here', shell=True, executable=os.environ['SHELL']); print('RC', r.returncode)\r").unwrap();
    wait_for("RC 126");
    w.write_all(b"r = subprocess.run('echo via-$((40+2))-shim', shell=True, executable=os.environ['SHELL']); print('RC', r.returncode)\r").unwrap();
    wait_for("via-42-shim");
    wait_for("RC 0");
    w.write_all(b"raise SystemExit(9)\r").unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.exit_code(), 9);
    wait_for("rampart: 2 calls evaluated, 1 denied, 0 watched");
}
