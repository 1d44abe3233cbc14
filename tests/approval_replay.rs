//! Exact one-shot replay grants (§5.5): once, identical call and owner only, 60 s, one process.

mod approval_support;

use approval_support::*;
use rampart::approval::{ReplayGrant, Resolution, ResolveError, StoreConfig};
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Barrier};

fn approve() -> Resolution {
    Resolution {
        approved: true,
        resolved_by: "reviewer".into(),
    }
}

fn check_rules(f: &Fixture) {
    let call = exec("make deploy", "run-7", "call-1");
    let a = f.created(ask(call.clone(), "alice"));
    // Nothing to consume while pending.
    assert_eq!(f.store.consume_replay(&call, "alice").unwrap(), None);
    f.store.resolve(&a.id, approve(), &ok).unwrap();

    // A different credential, the admin token, or any change in the call gets nothing.
    assert_eq!(f.store.consume_replay(&call, "bob").unwrap(), None);
    assert_eq!(f.store.consume_replay(&call, "").unwrap(), None);
    let mut changed = call.clone();
    changed
        .params
        .insert("command".into(), "make deploy --force".into());
    assert_eq!(f.store.consume_replay(&changed, "alice").unwrap(), None);
    let mut changed = call.clone();
    changed.workdir = "/elsewhere".into();
    assert_eq!(f.store.consume_replay(&changed, "alice").unwrap(), None);
    let mut changed = call.clone();
    changed.tool_call_id = "call-2".into();
    assert_eq!(f.store.consume_replay(&changed, "alice").unwrap(), None);

    // The identical call by the same credential consumes it, exactly once.
    f.clock.advance(secs(59));
    assert_eq!(
        f.store.consume_replay(&call, "alice").unwrap(),
        Some(ReplayGrant {
            approval_id: a.id.clone(),
            resolved_by: "reviewer".into(),
        })
    );
    assert_eq!(f.store.consume_replay(&call, "alice").unwrap(), None);
}

#[test]
fn grant_is_exact_owner_bound_and_single_use_in_memory() {
    check_rules(&Fixture::memory());
}

#[test]
fn grant_is_exact_owner_bound_and_single_use_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    check_rules(&Fixture::with(journaled(dir.path())));
    let grants = dir.path().join("pending-approvals.jsonl.approved-once");
    let mode = std::fs::metadata(&grants).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

fn check_expiry(f: &Fixture) {
    let call = exec("deploy", "r", "c");
    let a = f.created(ask(call.clone(), ""));
    f.clock.advance(secs(30));
    f.store.resolve(&a.id, approve(), &ok).unwrap();
    f.clock.advance(secs(60));
    assert_eq!(f.store.consume_replay(&call, "").unwrap(), None);
}

#[test]
fn grant_expires_after_sixty_seconds() {
    check_expiry(&Fixture::memory());
    let dir = tempfile::tempdir().unwrap();
    check_expiry(&Fixture::with(journaled(dir.path())));
}

#[test]
fn no_grant_for_denials_or_calls_without_ids() {
    let f = Fixture::memory();
    let denied = exec("a", "r", "c");
    let a = f.created(ask(denied.clone(), ""));
    f.store
        .resolve(
            &a.id,
            Resolution {
                approved: false,
                resolved_by: "x".into(),
            },
            &ok,
        )
        .unwrap();
    assert_eq!(f.store.consume_replay(&denied, "").unwrap(), None);

    for call in [exec("b", "", "c"), exec("b", "r", "")] {
        let a = f.created(ask(call.clone(), ""));
        f.store.resolve(&a.id, approve(), &ok).unwrap();
        assert_eq!(f.store.consume_replay(&call, "").unwrap(), None);
    }
}

#[test]
fn two_processes_cannot_both_consume_one_grant() {
    let dir = tempfile::tempdir().unwrap();
    let a = Fixture::with(journaled(dir.path()));
    let b = Fixture::at(journaled(dir.path()), a.clock.clone());
    for round in 0..20 {
        let call = exec("deploy", "run", &format!("call-{round}"));
        let ap = a.created(ask(call.clone(), "tok"));
        a.store.resolve(&ap.id, approve(), &ok).unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = [a.store.clone(), b.store.clone()]
            .into_iter()
            .map(|store| {
                let barrier = barrier.clone();
                let call = call.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    store.consume_replay(&call, "tok").unwrap()
                })
            })
            .collect();
        let wins: Vec<ReplayGrant> = handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect();
        assert_eq!(wins.len(), 1, "round {round}: exactly one consumer");
        assert_eq!(wins[0].approval_id, ap.id);
    }
}

#[test]
fn grant_survives_restart_and_is_not_republished() {
    let dir = tempfile::tempdir().unwrap();
    let call = exec("deploy", "run", "call");
    let first = Fixture::with(journaled(dir.path()));
    let a = first.created(ask(call.clone(), ""));
    first.store.resolve(&a.id, approve(), &ok).unwrap();
    drop(first.store);

    let second = Fixture::at(journaled(dir.path()), first.clock.clone());
    assert_eq!(second.store.get(&a.id), None, "resolved: not restored");
    assert_eq!(
        second
            .store
            .consume_replay(&call, "")
            .unwrap()
            .map(|g| g.approval_id),
        Some(a.id.clone())
    );
    // The consumed tombstone blocks re-publishing the same call's grant...
    let again = second.created(ask(call.clone(), ""));
    assert!(matches!(
        second.store.resolve(&again.id, approve(), &ok),
        Err(ResolveError::Unavailable(_))
    ));
    assert!(second.store.get(&again.id).unwrap().status == rampart::approval::Status::Pending);
    // ...until cleanup collects the tombstone (timeout + 60 s + 10 min later).
    second
        .store
        .cleanup(second.store.now() + secs(120 + 60 + 600 + 1));
    second.store.resolve(&again.id, approve(), &ok).unwrap();
}

#[test]
fn grant_store_refuses_a_symlinked_directory() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(
        &elsewhere,
        dir.path().join("pending-approvals.jsonl.approved-once"),
    )
    .unwrap();
    let hooks = Arc::new(Recorder::default());
    let err = rampart::approval::ApprovalStore::open(
        StoreConfig {
            journal: Some(dir.path().join("pending-approvals.jsonl")),
            ..StoreConfig::default()
        },
        hooks,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        rampart::approval::ApprovalError::NotRegular(_)
    ));
}
