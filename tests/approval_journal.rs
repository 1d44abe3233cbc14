//! Journal persistence across restarts (§5.6).

mod approval_support;

use approval_support::*;
use rampart::approval::{
    ApprovalError, ApprovalStore, CreateOutcome, ManualClock, Resolution, Status, StoreConfig,
};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn journal(dir: &Path) -> PathBuf {
    dir.join("pending-approvals.jsonl")
}

fn append_raw(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

fn restart(dir: &Path, clock: Arc<ManualClock>) -> Fixture {
    Fixture::at(journaled(dir), clock)
}

#[test]
fn restart_keeps_pending_with_original_deadlines() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::with(journaled(dir.path()));
    let a = f.created(ask(exec("a", "run", "c1"), "alice"));
    f.clock.advance(secs(30));
    let b = f.created(ask(exec("b", "", ""), ""));
    let c = f.created(ask(exec("c", "", ""), ""));
    f.store
        .resolve(
            &c.id,
            Resolution {
                approved: false,
                resolved_by: "me".into(),
            },
            &ok,
        )
        .unwrap();
    let mode = std::fs::metadata(journal(dir.path()))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    drop(f.store);

    f.clock.advance(secs(60));
    let g = restart(dir.path(), f.clock.clone());
    assert_eq!(g.store.pending(), vec![a.clone(), b.clone()]);
    assert_eq!(g.store.get(&a.id).unwrap().expires_at, t0() + secs(120));
    assert_eq!(g.store.get(&c.id), None, "terminal: not restored");

    // Restored approvals dedupe and resolve like fresh ones.
    match g
        .store
        .create(ask(exec("a", "run", "c1"), "alice"))
        .unwrap()
    {
        CreateOutcome::Deduped(d) => assert_eq!(d.id, a.id),
        other => panic!("{other:?}"),
    }
    g.store
        .resolve(
            &a.id,
            Resolution {
                approved: true,
                resolved_by: "me".into(),
            },
            &ok,
        )
        .unwrap();
    assert_eq!(
        g.store
            .consume_replay(&a.call, "alice")
            .unwrap()
            .map(|r| r.approval_id),
        Some(a.id.clone())
    );

    // The restored one expires at its original deadline, not a fresh one.
    assert_eq!(g.store.expire_due(t0() + secs(149)), 0);
    assert_eq!(g.store.expire_due(t0() + secs(150)), 1);
    assert_eq!(g.store.get(&b.id).unwrap().status, Status::Expired);

    // After everything is answered the journal holds nothing.
    let text = std::fs::read_to_string(journal(dir.path())).unwrap();
    assert_eq!(text, "");
}

#[test]
fn restart_skips_expired_records() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::with(journaled(dir.path()));
    let a = f.created(ask(exec("a", "", ""), ""));
    f.clock.advance(secs(60));
    let b = f.created(ask(exec("b", "", ""), ""));
    drop(f.store);
    f.clock.advance(secs(60)); // a's deadline
    let g = restart(dir.path(), f.clock.clone());
    assert_eq!(g.store.get(&a.id), None);
    assert_eq!(g.store.pending(), vec![b]);
    assert!(
        g.hooks.expired_ids().is_empty(),
        "expired while down: not re-audited"
    );
}

#[test]
fn malformed_and_truncated_lines_are_skipped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::with(journaled(dir.path()));
    let a = f.created(ask(exec("a", "", ""), ""));
    let path = journal(dir.path());
    append_raw(
        &path,
        b"{not json}\n[1,2]\n{\"id\":\"x\",\"status\":\"pending\"}\n",
    );
    append_raw(
        &path,
        b"{\"id\":\"01KQHC8AM0Y4717A7TEJRRXFQK\",\"tool\":\"exec\",\"agent\":\"a\",\"created_at\":\"2026-05-01T09:00:00Z\",\"expires_at\":\"2026-05-01T09:02:00Z\",\"status\":\"pend",
    );
    drop(f.store);
    let g = restart(dir.path(), f.clock.clone());
    assert_eq!(g.store.pending(), vec![a.clone()]);

    // The torn tail was rewritten away: the next append starts on a clean line.
    let b = g.created(ask(exec("b", "", ""), ""));
    drop(g.store);
    let h = restart(dir.path(), f.clock.clone());
    assert_eq!(h.store.pending(), vec![a, b]);
}

#[test]
fn restore_accepts_offset_timestamps_and_returns_utc() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        journal(dir.path()),
        "{\"id\":\"01KQHC8AM0Y4717A7TEJRRXFQK\",\"tool\":\"exec\",\"agent\":\"a\",\
         \"command\":\"ls\",\"params\":{\"command\":\"ls\"},\
         \"created_at\":\"2026-05-01T11:00:00+02:00\",\"expires_at\":\"2026-05-01T11:02:00+02:00\",\
         \"status\":\"pending\"}\n",
    )
    .unwrap();
    let f = Fixture::with(journaled(dir.path()));
    let got = f.store.get("01KQHC8AM0Y4717A7TEJRRXFQK").unwrap();
    assert_eq!(got.created_at, t0());
    assert_eq!(got.expires_at, t0() + secs(120));
    assert_eq!(got.command(), "ls");
}

#[test]
fn restore_enforces_the_pending_cap() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        max_pending: 3,
        ..journaled(dir.path())
    };
    let f = Fixture::with(cfg.clone());
    let mut made = Vec::new();
    for i in 0..3 {
        f.clock.advance(secs(1));
        made.push(f.created(ask(exec(&format!("{i}"), "", ""), "")));
    }
    drop(f.store);
    let smaller = StoreConfig {
        max_pending: 2,
        ..cfg
    };
    let g = Fixture::at(smaller, f.clock.clone());
    assert_eq!(g.store.pending(), made[..2].to_vec(), "oldest kept");
    assert!(matches!(
        g.store.create(ask(exec("x", "", ""), "")),
        Err(ApprovalError::Full { limit: 2 })
    ));
}

#[test]
fn journal_over_the_line_limit_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(journal(dir.path()), "\n".repeat(100_001)).unwrap();
    let err =
        ApprovalStore::open(journaled(dir.path()), Arc::new(Recorder::default())).unwrap_err();
    assert!(matches!(err, ApprovalError::JournalLimit { .. }), "{err}");
    assert!(err.to_string().contains("100000 lines"));
    // Exactly at the limit is fine.
    std::fs::write(journal(dir.path()), "\n".repeat(100_000)).unwrap();
    assert!(ApprovalStore::open(journaled(dir.path()), Arc::new(Recorder::default())).is_ok());
}

#[test]
fn journal_symlink_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.jsonl");
    std::fs::write(&target, "").unwrap();
    std::os::unix::fs::symlink(&target, journal(dir.path())).unwrap();
    let err =
        ApprovalStore::open(journaled(dir.path()), Arc::new(Recorder::default())).unwrap_err();
    assert!(matches!(err, ApprovalError::NotRegular(_)), "{err}");
}

#[test]
fn journal_write_failure_aborts_creation() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::with(journaled(dir.path()));
    // Replace the journal with a directory: appends now fail.
    let path = journal(dir.path());
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    let changed = f.hooks.changed();
    assert!(f.store.create(ask(exec("a", "", ""), "")).is_err());
    assert!(f.store.pending().is_empty());
    assert_eq!(f.hooks.changed(), changed);
}

#[test]
fn journal_failure_on_resolve_keeps_pending() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::with(journaled(dir.path()));
    let a = f.created(ask(exec("a", "", ""), ""));
    let path = journal(dir.path());
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    let err = f
        .store
        .resolve(
            &a.id,
            Resolution {
                approved: true,
                resolved_by: "me".into(),
            },
            &ok,
        )
        .unwrap_err();
    assert_eq!(err.http_status(), 503);
    assert_eq!(f.store.get(&a.id).unwrap().status, Status::Pending);
}

#[test]
fn record_failure_is_rolled_back_in_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::with(journaled(dir.path()));
    let a = f.created(ask(exec("a", "", ""), ""));
    assert!(
        f.store
            .resolve(
                &a.id,
                Resolution {
                    approved: true,
                    resolved_by: "me".into(),
                },
                &|_| Err("audit down".into()),
            )
            .is_err()
    );
    drop(f.store);
    let g = restart(dir.path(), f.clock.clone());
    assert_eq!(g.store.pending(), vec![a], "still pending after restart");
}
