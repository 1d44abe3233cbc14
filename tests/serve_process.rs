//! `serve --background`, `serve stop` and `serve.state` against real processes.
//!
//! The fake server is this test binary itself, started through a symlink named `rampart` with
//! arguments `serve fake_serve_ready --exact --nocapture`: the kernel then reports command name
//! `rampart`, `argv[0]` ends in `rampart` and the first non-flag argument is `serve`, exactly
//! like a real `rampart serve`, and libtest runs only the `fake_serve_*` helper below.

use std::ffi::OsString;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rampart::cli::serve_process::{
    self, ProcError, READY_ENV, ServeState, pid_path, read_state, remove_state, spawn_background,
    stop, write_state,
};

/// Helper, not a test: body of the fake `rampart serve` that reports ready. Returns at once in
/// a normal test run.
#[test]
fn fake_serve_ready() {
    fake_serve(true);
}

/// Helper, not a test: body of a fake `rampart serve` that never reports ready.
#[test]
fn fake_serve_silent() {
    fake_serve(false);
}

fn fake_serve(report_ready: bool) {
    let Some(ready) = std::env::var_os(READY_ENV) else {
        return;
    };
    let argv0 = std::env::args().next().unwrap_or_default();
    if !argv0.ends_with("/rampart") {
        return;
    }
    // The ready file is <home>/.rampart/.serve-ready-*.
    let home = Path::new(&ready).parent().unwrap().parent().unwrap();
    println!("fake serve: starting");
    if report_ready {
        serve_process::signal_ready(home).unwrap();
        println!("fake serve: ready");
    } else {
        println!("fake serve: never ready");
    }
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

struct Env {
    home: tempfile::TempDir,
    rampart: PathBuf,
}

impl Env {
    fn new() -> Env {
        let home = tempfile::tempdir().unwrap();
        let bin = home.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let rampart = bin.join("rampart");
        symlink(std::env::current_exe().unwrap(), &rampart).unwrap();
        Env { home, rampart }
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    fn spawn(&self, helper: &str) -> Result<u32, ProcError> {
        let args: Vec<OsString> = ["serve", helper, "--exact", "--nocapture"]
            .into_iter()
            .map(OsString::from)
            .collect();
        spawn_background(self.home(), &self.rampart, &args)
    }
}

/// Running and not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !matches!(
            s.rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next()),
            Some('Z') | Some('X') | None
        ),
        Err(_) => false,
    }
}

fn wait_dead(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn ready_files(home: &Path) -> Vec<String> {
    std::fs::read_dir(home.join(".rampart"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(".serve-ready-"))
        .collect()
}

#[test]
fn background_start_refuse_second_and_stop() {
    let env = Env::new();
    let pid = env.spawn("fake_serve_ready").expect("background start");
    assert!(alive(pid));
    let pid_file = pid_path(env.home());
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap(),
        format!("{pid}\n")
    );
    assert_eq!(mode(&pid_file), 0o600);
    let log = serve_process::log_path(env.home());
    assert_eq!(mode(&log), 0o600);
    assert_eq!(mode(&env.home().join(".rampart")), 0o700);
    assert!(ready_files(env.home()).is_empty(), "ready file left behind");
    // The child runs in its own session.
    assert_eq!(
        nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(pid as i32)))
            .unwrap()
            .as_raw(),
        pid as i32
    );

    match env.spawn("fake_serve_ready") {
        Err(ProcError::AlreadyRunning { pid: p }) => assert_eq!(p, pid),
        other => panic!("second start not refused: {other:?}"),
    }
    assert!(alive(pid));
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap(),
        format!("{pid}\n")
    );

    assert_eq!(stop(env.home()).expect("stop"), pid);
    assert!(wait_dead(pid));
    assert!(!pid_file.exists());
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("fake serve: ready"), "{logged}");

    match stop(env.home()) {
        Err(e @ ProcError::NoPidFile(_)) => {
            assert!(
                e.to_string()
                    .starts_with("serve stop: no PID file found at ")
            );
            assert!(e.to_string().contains("serve.pid"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stop_checks_executable_recorded_in_state() {
    let env = Env::new();
    let pid = env.spawn("fake_serve_ready").expect("background start");
    let mut st = ServeState {
        url: "http://localhost:9090".into(),
        port: 9090,
        pid,
        started: "2026-01-01T00:00:00Z".into(),
        executable: "/bin/sleep".into(),
    };
    write_state(env.home(), &st).unwrap();
    match stop(env.home()) {
        Err(e @ ProcError::Stale { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!("refusing to signal stale pid {pid} (")),
                "{msg}"
            );
            assert!(msg.contains("does not match"), "{msg}");
        }
        other => panic!("mismatching executable not refused: {other:?}"),
    }
    assert!(alive(pid), "refused process was signalled");
    assert!(!pid_path(env.home()).exists());

    // With the executable the process really runs, stop succeeds and clears the state.
    std::fs::write(pid_path(env.home()), format!("{pid}\n")).unwrap();
    st.executable = std::env::current_exe().unwrap().display().to_string();
    write_state(env.home(), &st).unwrap();
    assert_eq!(stop(env.home()).expect("stop"), pid);
    assert!(wait_dead(pid));
    assert_eq!(read_state(env.home()).unwrap(), None);
}

#[test]
fn stop_refuses_processes_that_are_not_rampart_serve() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join(".rampart")).unwrap();
    // A plain `sleep`, and `sleep` started as `rampart 30` (right name, no `serve`).
    let renamed = env.home().join("bin/other");
    std::fs::create_dir_all(&renamed).unwrap();
    let fake_rampart = renamed.join("rampart");
    symlink("/bin/sleep", &fake_rampart).unwrap();
    let candidates = [
        Command::new("sleep").arg("30").spawn().unwrap(),
        Command::new(&fake_rampart).arg("30").spawn().unwrap(),
    ];
    for mut child in candidates {
        let pid = child.id();
        std::fs::write(pid_path(env.home()), format!("{pid}\n")).unwrap();
        match stop(env.home()) {
            Err(e @ ProcError::Stale { .. }) => {
                assert!(
                    e.to_string()
                        .starts_with(&format!("refusing to signal stale pid {pid} (")),
                    "{e}"
                );
            }
            other => panic!("pid {pid} not refused: {other:?}"),
        }
        assert!(alive(pid), "non-serve process was signalled");
        assert!(!pid_path(env.home()).exists(), "stale pid file kept");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

#[test]
fn stale_and_invalid_pid_files_are_removed() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join(".rampart")).unwrap();
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    std::fs::write(pid_path(env.home()), format!("{dead}\n")).unwrap();
    match stop(env.home()) {
        Err(ProcError::Stale { pid, .. }) => assert_eq!(pid, dead),
        other => panic!("{other:?}"),
    }
    assert!(!pid_path(env.home()).exists());

    std::fs::write(pid_path(env.home()), "not-a-pid\n").unwrap();
    assert!(matches!(
        stop(env.home()),
        Err(ProcError::BadPidFile { .. })
    ));
    assert!(!pid_path(env.home()).exists());

    // A stale pid file does not block a new background start; it is replaced.
    std::fs::write(pid_path(env.home()), format!("{dead}\n")).unwrap();
    let pid = env
        .spawn("fake_serve_ready")
        .expect("start over stale pid file");
    assert_eq!(
        std::fs::read_to_string(pid_path(env.home())).unwrap(),
        format!("{pid}\n")
    );
    assert_eq!(stop(env.home()).unwrap(), pid);
}

#[test]
fn readiness_timeout_kills_child_and_reports_log() {
    let env = Env::new();
    let started = Instant::now();
    let err = env.spawn("fake_serve_silent").expect_err("must time out");
    let elapsed = started.elapsed();
    let ProcError::NotReady { pid, ref tail, .. } = err else {
        panic!("{err:?}");
    };
    assert!(elapsed >= serve_process::READY_TIMEOUT, "{elapsed:?}");
    assert!(tail.contains("fake serve: never ready"), "{tail}");
    assert!(err.to_string().contains("did not report ready within 5s"));
    assert!(wait_dead(pid), "timed-out child still running");
    assert!(!pid_path(env.home()).exists());
    assert!(ready_files(env.home()).is_empty());
}

#[test]
fn child_that_exits_early_fails_fast_with_its_output() {
    let env = Env::new();
    let args: Vec<OsString> = ["-c", "echo config is broken >&2; exit 3"]
        .into_iter()
        .map(OsString::from)
        .collect();
    let started = Instant::now();
    let err = spawn_background(env.home(), Path::new("/bin/sh"), &args).expect_err("must fail");
    assert!(started.elapsed() < Duration::from_secs(4));
    match &err {
        ProcError::ChildExited { tail, status, .. } => {
            assert_eq!(status.code(), Some(3));
            assert!(tail.contains("config is broken"), "{tail}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!pid_path(env.home()).exists());
    assert!(ready_files(env.home()).is_empty());
}

#[test]
fn symlinked_log_is_refused_before_anything_starts() {
    let env = Env::new();
    let dir = env.home().join(".rampart");
    std::fs::create_dir_all(&dir).unwrap();
    let target = env.home().join("elsewhere.log");
    std::fs::write(&target, "").unwrap();
    symlink(&target, dir.join("serve.log")).unwrap();
    let err = env.spawn("fake_serve_ready").expect_err("symlinked log");
    assert!(err.to_string().contains("symlink"), "{err}");
    assert!(!pid_path(env.home()).exists());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
}

#[test]
fn missing_executable_is_reported() {
    let env = Env::new();
    let err = spawn_background(env.home(), Path::new("/nonexistent/rampart"), &[])
        .expect_err("missing exe");
    assert!(matches!(err, ProcError::Spawn { .. }), "{err:?}");
    assert!(!pid_path(env.home()).exists());
    assert!(ready_files(env.home()).is_empty());
}

#[test]
fn state_round_trip_and_removal() {
    let home = tempfile::tempdir().unwrap();
    assert_eq!(read_state(home.path()).unwrap(), None);
    let st = ServeState {
        url: "http://localhost:9191".into(),
        port: 9191,
        pid: std::process::id(),
        started: "2026-02-03T04:05:06Z".into(),
        executable: "/usr/local/bin/rampart".into(),
    };
    write_state(home.path(), &st).unwrap();
    let path = serve_process::state_path(home.path());
    assert_eq!(mode(&path), 0o600);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"url":"http://localhost:9191","port":9191,"pid":std::process::id(),
            "started":"2026-02-03T04:05:06Z","executable":"/usr/local/bin/rampart"})
    );
    assert_eq!(read_state(home.path()).unwrap(), Some(st.clone()));

    // Another server's state is left alone; ours is removed.
    let other = ServeState {
        pid: st.pid + 1,
        ..st.clone()
    };
    write_state(home.path(), &other).unwrap();
    remove_state(home.path());
    assert!(path.exists());
    write_state(home.path(), &st).unwrap();
    remove_state(home.path());
    assert!(!path.exists());

    std::fs::write(&path, "{not json").unwrap();
    assert!(matches!(
        read_state(home.path()),
        Err(ProcError::BadState { .. })
    ));
    std::fs::remove_file(&path).unwrap();
    symlink(home.path().join("x"), &path).unwrap();
    assert!(read_state(home.path()).is_err());
}

#[test]
fn signal_ready_without_environment_is_a_no_op() {
    if std::env::var_os(READY_ENV).is_some() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    serve_process::signal_ready(home.path()).unwrap();
    assert!(!home.path().join(".rampart").exists());
}
