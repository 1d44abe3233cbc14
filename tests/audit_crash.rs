//! A child appending under load is SIGKILLed; every acknowledged event must be on disk and
//! the chain must verify after recovery.

use rampart::audit::{AuditEvent, AuditSink, SinkConfig, verify_dir};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "RAMPART_AUDIT_CRASH_CHILD_DIR";

/// The child: 8 threads append forever and print `ACK <id>` after each durable append.
#[test]
#[ignore = "run as a child process by crash_with_sigkill_keeps_acknowledged_events"]
fn crash_child_writer() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut cfg = SinkConfig::new(std::path::PathBuf::from(dir));
    cfg.max_file_bytes = 64 * 1024; // rotate often so a kill can land anywhere
    cfg.anchor_every = 10;
    let sink = AuditSink::open(cfg).unwrap();
    let out = std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
    std::thread::scope(|s| {
        for t in 0..8 {
            let sink = sink.clone();
            let out = out.clone();
            s.spawn(move || {
                for i in 0u64.. {
                    let mut e = AuditEvent::new("crash", "s", "exec", "allow");
                    e.decision.message = format!("t{t} i{i} {}", "x".repeat(200));
                    let r = sink.append(e).unwrap();
                    let mut o = out.lock().unwrap();
                    writeln!(o, "ACK {}", r.id).unwrap();
                    o.flush().unwrap();
                }
            });
        }
    });
}

#[test]
fn crash_with_sigkill_keeps_acknowledged_events() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "crash_child_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(id) = line.strip_prefix("ACK ") {
                    let _ = tx.send(id.to_string());
                }
            }
        });
        let mut acked = HashSet::new();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) && acked.len() < 300 * (round + 1) {
            if let Ok(id) = rx.recv_timeout(Duration::from_millis(100)) {
                acked.insert(id);
            }
        }
        // SIGKILL: no destructor, no flush, mid-batch.
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        acked.extend(rx.try_iter());
        assert!(!acked.is_empty(), "child produced no acknowledgements");

        // Restart recovers (moving a torn tail aside if the kill tore one) and verifies.
        let sink = AuditSink::open(SinkConfig::new(&dir)).unwrap();
        drop(sink);
        let r = verify_dir(&dir).unwrap();
        assert!(r.brk.is_none(), "round {round}: {:?}", r.brk);
        let mut on_disk = HashSet::new();
        rampart::audit::reader::for_each(&dir, None, |it| {
            if let rampart::audit::reader::Item::Event(e, _) = it {
                on_disk.insert(e.id);
            }
            true
        })
        .unwrap();
        let missing: Vec<_> = acked.difference(&on_disk).collect();
        assert!(
            missing.is_empty(),
            "round {round}: {} acknowledged events lost",
            missing.len()
        );
    }
}
