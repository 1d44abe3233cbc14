//! Writer behaviour: group commit, rotation, permissions, recovery and tamper detection.

use rampart::audit::files::list_chain_files;
use rampart::audit::{AuditError, AuditEvent, AuditSink, SinkConfig, verify_dir};
use serde_json::json;
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn ev(i: usize) -> AuditEvent {
    let mut e = AuditEvent::new(
        "agent-x",
        "sess",
        "exec",
        if i.is_multiple_of(3) { "deny" } else { "allow" },
    );
    e.request = Some(
        json!({"command": format!("echo {i}")})
            .as_object()
            .unwrap()
            .clone(),
    );
    e
}

fn dir() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("audit");
    (t, d)
}

fn write_n(d: &Path, n: usize, cfg: impl Fn(&mut SinkConfig)) -> AuditSink {
    let mut c = SinkConfig::new(d);
    cfg(&mut c);
    let sink = AuditSink::open(c).unwrap();
    for i in 0..n {
        sink.append(ev(i)).unwrap();
    }
    sink
}

fn lines_of(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn only_file(d: &Path) -> PathBuf {
    let f = list_chain_files(d).unwrap();
    assert_eq!(f.len(), 1);
    f[0].path.clone()
}

#[test]
fn concurrent_group_commit() {
    let (_t, d) = dir();
    let sink = AuditSink::open(SinkConfig::new(&d)).unwrap();
    let threads = 32;
    let per = 50;
    let ids: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let sink = sink.clone();
                s.spawn(move || {
                    (0..per)
                        .map(|i| sink.append(ev(t * per + i)).unwrap().id)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let st = sink.stats();
    drop(sink);
    let total = threads * per;
    assert_eq!(ids.len(), total);
    assert_eq!(st.events, total as u64);
    assert!(
        st.fsyncs < st.events,
        "fsyncs {} events {}",
        st.fsyncs,
        st.events
    );
    assert!(st.batches < st.events);
    let on_disk: HashSet<String> = lines_of(&only_file(&d))
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(on_disk, ids.into_iter().collect::<HashSet<_>>());
    let r = verify_dir(&d).unwrap();
    assert!(r.brk.is_none(), "{:?}", r.brk);
    assert_eq!(r.events, total as u64);
    assert_eq!(r.anchors, total / 100);
}

#[test]
fn permissions_are_0700_and_0600() {
    let (_t, d) = dir();
    drop(write_n(&d, 3, |_| {}));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&d), 0o700);
    for e in std::fs::read_dir(&d).unwrap() {
        let p = e.unwrap().path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
}

#[test]
fn size_rotation_continues_chain() {
    let (_t, d) = dir();
    drop(write_n(&d, 40, |c| c.max_file_bytes = 2000));
    let files = list_chain_files(&d).unwrap();
    assert!(files.len() > 3, "{} files", files.len());
    for (i, f) in files.iter().enumerate().skip(1) {
        let first = lines_of(&f.path).remove(0);
        assert!(
            first.starts_with("{\"chain_continue\":\"sha256:"),
            "{first}"
        );
        assert!(first.ends_with(&format!("\"prev_file\":\"{}\"}}", files[i - 1].name)));
        assert_eq!(f.part, i as u32);
    }
    let r = verify_dir(&d).unwrap();
    assert!(r.brk.is_none(), "{:?}", r.brk);
    assert_eq!(r.events, 40);
    // Reopen continues in the last file and the chain still verifies.
    drop(write_n(&d, 5, |c| c.max_file_bytes = 2000));
    let r = verify_dir(&d).unwrap();
    assert!(r.brk.is_none(), "{:?}", r.brk);
    assert_eq!(r.events, 45);
}

#[test]
fn torn_last_line_is_moved_aside_and_linked() {
    let (_t, d) = dir();
    drop(write_n(&d, 5, |_| {}));
    let f = only_file(&d);
    let len = std::fs::metadata(&f).unwrap().len();
    let body = std::fs::read(&f).unwrap();
    let last_nl = body[..body.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap() as u64;
    let cut = last_nl + 1 + (len - last_nl) / 2;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&f)
        .unwrap()
        .set_len(cut)
        .unwrap();
    let r = verify_dir(&d).unwrap();
    let b = r.brk.expect("torn line reported");
    assert_eq!(b.line, 5);
    assert!(b.reason.contains("unterminated"), "{}", b.reason);

    let sink = AuditSink::open(SinkConfig::new(&d)).unwrap();
    let torn = sink.recovered().torn.clone().expect("torn tail recovered");
    assert_eq!(torn.bytes, cut - last_nl - 1);
    assert!(torn.recovery_file.exists());
    let rc = sink.append(ev(99)).unwrap();
    assert_eq!(rc.event_count, 6); // 4 good + recovery event + this one
    drop(sink);
    let lines = lines_of(&f);
    assert!(lines[4].contains("\"audit_recovery\""), "{}", lines[4]);
    let r = verify_dir(&d).unwrap();
    assert!(r.brk.is_none(), "{:?}", r.brk);
    assert_eq!(r.events, 6);
}

/// serve's start-up (`verify_tail_on_open`); the default checkpoint path is in audit_shared.rs.
fn open_verifying_tail(d: &Path) -> Result<AuditSink, AuditError> {
    let mut c = SinkConfig::new(d);
    c.verify_tail_on_open = true;
    AuditSink::open(c)
}

#[test]
fn startup_verifies_only_the_tail_after_the_last_anchor() {
    let (_t, d) = dir();
    drop(write_n(&d, 250, |_| {}));
    let sink = open_verifying_tail(&d).unwrap();
    let rec = sink.recovered();
    assert_eq!(rec.from_anchor.as_ref().map(|a| a.event_count), Some(200));
    assert_eq!(rec.events_verified, 50);
    assert_eq!(sink.append(ev(1)).unwrap().event_count, 251);
}

#[test]
fn broken_tail_refuses_to_start() {
    let (_t, d) = dir();
    drop(write_n(&d, 5, |_| {}));
    let f = only_file(&d);
    let text = std::fs::read_to_string(&f)
        .unwrap()
        .replace("echo 3", "echo 9");
    std::fs::write(&f, text).unwrap();
    match open_verifying_tail(&d) {
        Err(AuditError::Broken(b)) => assert_eq!(b.line, 4),
        other => panic!("expected broken chain, got {other:?}"),
    }
}

#[test]
fn second_writer_on_same_dir_shares_the_chain() {
    let (_t, d) = dir();
    let a = AuditSink::open(SinkConfig::new(&d)).unwrap();
    let b = AuditSink::open(SinkConfig::new(&d)).unwrap();
    assert_eq!(a.append(ev(1)).unwrap().event_count, 1);
    assert_eq!(b.append(ev(2)).unwrap().event_count, 2);
    assert_eq!(a.append(ev(3)).unwrap().event_count, 3);
    drop((a, b));
    let r = verify_dir(&d).unwrap();
    assert!(r.brk.is_none(), "{:?}", r.brk);
    assert_eq!(r.events, 3);
}

#[test]
fn oversized_event_is_compacted_with_digest() {
    let (_t, d) = dir();
    let sink = AuditSink::open(SinkConfig::new(&d)).unwrap();
    let mut e = ev(1);
    e.request = Some(
        json!({"content": "x".repeat(3 * 1024 * 1024)})
            .as_object()
            .unwrap()
            .clone(),
    );
    e.decision.message = "m".repeat(3 * 1024 * 1024);
    sink.append(e).unwrap();
    drop(sink);
    let line = lines_of(&only_file(&d)).remove(0);
    assert!(line.len() <= 2 * 1024 * 1024);
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["compacted_fields"]["request"]["disposition"], "replaced");
    assert_eq!(
        v["compacted_fields"]["decision.message"]["disposition"],
        "truncated"
    );
    assert!(
        v["request"]["_rampart_compacted"]["sha256"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(
        v["decision"]["message"]
            .as_str()
            .unwrap()
            .ends_with("... [truncated]")
    );
    assert!(verify_dir(&d).unwrap().brk.is_none());
}
