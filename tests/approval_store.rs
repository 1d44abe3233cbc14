//! Store behaviour: create, dedup, cap, resolve, expiry, waiting, cleanup and run groups.

mod approval_support;

use approval_support::*;
use rampart::approval::{
    ApprovalError, ApprovalSummary, CreateOutcome, Resolution, ResolveError, Status, StoreConfig,
};
use std::cell::RefCell;
use std::sync::Arc;

fn approve(by: &str) -> Resolution {
    Resolution {
        approved: true,
        resolved_by: by.into(),
    }
}

fn deny(by: &str) -> Resolution {
    Resolution {
        approved: false,
        resolved_by: by.into(),
    }
}

#[test]
fn create_sets_deadline_owner_and_dedup_key() {
    let f = Fixture::memory();
    let a = f.created(ask(exec("make deploy", "run-1", "call-1"), ""));
    assert_eq!(a.id.len(), 26);
    assert!(ulid::Ulid::from_string(&a.id).is_ok());
    assert_eq!(a.status, Status::Pending);
    assert_eq!(a.created_at, t0());
    assert_eq!(a.expires_at, t0() + secs(120));
    assert_eq!(a.owner_scope, "");
    assert_eq!(a.credential_owner(), "server/admin");
    assert_eq!(a.command(), "make deploy");
    assert!(a.dedup_key.is_some());
    assert_eq!(f.hooks.changed(), 1);

    let b = f.created(ask(exec("make deploy", "", ""), "tokenhash"));
    assert_eq!(b.owner_scope.len(), 64);
    assert!(b.credential_owner().starts_with("credential-"));
    assert_eq!(b.credential_owner().len(), "credential-".len() + 12);
    assert_eq!(b.dedup_key, None, "no tool_call_id, no dedup");
    assert_eq!(f.store.get(&a.id), Some(a.clone()));
    assert_eq!(f.store.pending(), vec![a, b]);
}

#[test]
fn identical_call_is_deduped_while_pending() {
    let f = Fixture::memory();
    let a = f.created(ask(exec("rm -r build", "r", "c1"), ""));
    f.clock.advance(secs(10));
    match f
        .store
        .create(ask(exec("rm -r build", "r", "c1"), ""))
        .unwrap()
    {
        CreateOutcome::Deduped(d) => assert_eq!(d.id, a.id),
        other => panic!("expected dedup, got {other:?}"),
    }
    assert_eq!(f.hooks.changed(), 1, "dedup does not announce a change");
    // Any difference in the call makes a new approval.
    f.created(ask(exec("rm -r build", "r", "c2"), ""));
    f.created(ask(exec("rm -r build2", "r", "c1"), ""));
    // Without a tool call id there is no dedup.
    f.created(ask(exec("rm -r build", "r", ""), ""));
    f.created(ask(exec("rm -r build", "r", ""), ""));
    assert_eq!(f.store.pending().len(), 5);

    // Once resolved, the same call asks again.
    f.store.resolve(&a.id, deny("me"), &ok).unwrap();
    f.created(ask(exec("rm -r build", "r", "c1"), ""));
}

#[test]
fn dedup_keys_are_bound_to_the_owner() {
    let f = Fixture::memory();
    let call = exec("deploy", "r", "c");
    let admin = f.created(ask(call.clone(), ""));
    let alice = f.created(ask(call.clone(), "alice-hash"));
    let bob = f.created(ask(call.clone(), "bob-hash"));
    let keys = [&admin, &alice, &bob].map(|a| a.dedup_key.clone().unwrap());
    assert_ne!(keys[0], keys[1]);
    assert_ne!(keys[1], keys[2]);
    assert_ne!(keys[0], keys[2]);
    assert!(keys[1].starts_with("v2-") && keys[2].starts_with("v2-"));
    assert!(!keys[0].starts_with("v2-"));
    match f.store.create(ask(call, "alice-hash")).unwrap() {
        CreateOutcome::Deduped(d) => assert_eq!(d.id, alice.id),
        other => panic!("{other:?}"),
    }
}

#[test]
fn dedup_ignores_an_overdue_approval() {
    let f = Fixture::memory();
    let a = f.created(ask(exec("x", "r", "c"), ""));
    f.clock.advance(secs(120));
    let b = f.created(ask(exec("x", "r", "c"), ""));
    assert_ne!(a.id, b.id);
    assert_eq!(f.store.get(&a.id).unwrap().status, Status::Expired);
    assert_eq!(f.hooks.expired_ids(), vec![a.id]);
}

#[test]
fn pending_cap_refuses_with_the_reference_message() {
    let f = Fixture::memory();
    for i in 0..1000 {
        f.created(ask(exec(&format!("echo {i}"), "", ""), ""));
    }
    let err = f
        .store
        .create(ask(exec("one more", "", ""), ""))
        .unwrap_err();
    assert!(matches!(err, ApprovalError::Full { limit: 1000 }));
    assert_eq!(
        err.to_string(),
        "approval: too many pending requests (limit: 1000)"
    );
    // A dedup hit is still answered at the cap.
    let small = Fixture::with(StoreConfig {
        max_pending: 1,
        ..StoreConfig::default()
    });
    let a = small.created(ask(exec("a", "r", "c"), ""));
    assert!(matches!(
        small.store.create(ask(exec("a", "r", "c"), "")),
        Ok(CreateOutcome::Deduped(_))
    ));
    assert!(small.store.create(ask(exec("b", "", ""), "")).is_err());
    // Resolving frees a slot.
    small.store.resolve(&a.id, approve("me"), &ok).unwrap();
    small.created(ask(exec("b", "", ""), ""));
}

#[test]
fn resolve_once_then_already_resolved() {
    let f = Fixture::memory();
    let a = f.created(ask(exec("deploy", "", ""), ""));
    f.clock.advance(secs(5));
    let seen = RefCell::new(None);
    let r = f
        .store
        .resolve(&a.id, approve("security-team"), &|x| {
            *seen.borrow_mut() = Some(x.clone());
            Ok(())
        })
        .unwrap();
    assert_eq!(r.status, Status::Approved);
    assert_eq!(r.resolved_by.as_deref(), Some("security-team"));
    assert_eq!(r.resolved_at, Some(t0() + secs(5)));
    assert_eq!(
        seen.borrow().as_ref(),
        Some(&r),
        "record sees the resolved state"
    );
    assert_eq!(f.store.get(&a.id), Some(r));
    assert!(f.store.pending().is_empty());

    let again = f.store.resolve(&a.id, deny("x"), &ok).unwrap_err();
    assert_eq!(again, ResolveError::AlreadyResolved);
    assert_eq!(again.http_status(), 410);
    assert_eq!(
        again.to_string(),
        "approval already resolved; URL cannot be reused"
    );
    assert_eq!(f.store.get(&a.id).unwrap().status, Status::Approved);

    let missing = f
        .store
        .resolve("01J00000000000000000000000", deny("x"), &ok);
    assert_eq!(
        missing,
        Err(ResolveError::NotFound("01J00000000000000000000000".into()))
    );
    assert_eq!(
        missing.unwrap_err().to_string(),
        "approval: unknown id \"01J00000000000000000000000\""
    );
}

#[test]
fn empty_resolver_becomes_api() {
    let f = Fixture::memory();
    let a = f.created(ask(exec("x", "", ""), ""));
    let r = f.store.resolve(&a.id, deny("  "), &ok).unwrap();
    assert_eq!(r.status, Status::Denied);
    assert_eq!(r.resolved_by.as_deref(), Some("api"));
}

#[test]
fn resolve_past_deadline_before_the_sweeper_is_already_resolved() {
    let f = Fixture::memory();
    let a = f.created(ask(exec("x", "", ""), ""));
    f.clock.advance(secs(120));
    let recorded = RefCell::new(0);
    let err = f
        .store
        .resolve(&a.id, approve("late"), &|_| {
            *recorded.borrow_mut() += 1;
            Ok(())
        })
        .unwrap_err();
    assert_eq!(err, ResolveError::AlreadyResolved);
    assert_eq!(
        *recorded.borrow(),
        0,
        "no approval audit for an expired request"
    );
    let now = f.store.get(&a.id).unwrap();
    assert_eq!(now.status, Status::Expired);
    assert_eq!(now.resolved_by.as_deref(), Some("timeout"));
    assert_eq!(f.hooks.expired_ids(), vec![a.id.clone()]);

    // One second before the deadline it still resolves.
    let b = f.created(ask(exec("y", "", ""), ""));
    f.clock.advance(secs(119));
    assert!(f.store.resolve(&b.id, approve("quick"), &ok).is_ok());
}

#[test]
fn record_failure_leaves_the_approval_pending() {
    let f = Fixture::memory();
    let a = f.created(ask(exec("x", "run", "call"), ""));
    let changed_before = f.hooks.changed();
    let err = f
        .store
        .resolve(&a.id, approve("me"), &|_| {
            Err("audit storage is unavailable".into())
        })
        .unwrap_err();
    assert_eq!(
        err,
        ResolveError::Unavailable("audit storage is unavailable".into())
    );
    assert_eq!(err.http_status(), 503);
    assert_eq!(f.store.get(&a.id), Some(a.clone()));
    assert_eq!(f.hooks.changed(), changed_before);
    // No replay grant was published for the failed approval.
    assert_eq!(f.store.consume_replay(&a.call, "").unwrap(), None);
    // It can be resolved once the audit works again.
    let r = f.store.resolve(&a.id, approve("me"), &ok).unwrap();
    assert_eq!(r.status, Status::Approved);
}

#[test]
fn expire_due_marks_expired_and_calls_the_hook() {
    let f = Fixture::memory();
    let a = f.created(ask(exec("a", "", ""), ""));
    f.clock.advance(secs(30));
    let b = f.created(ask(exec("b", "", ""), ""));
    assert_eq!(f.store.next_expiry(), Some(a.expires_at));
    assert_eq!(f.store.expire_due(t0() + secs(119)), 0);
    let changed = f.hooks.changed();
    assert_eq!(f.store.expire_due(t0() + secs(120)), 1);
    let ea = f.store.get(&a.id).unwrap();
    assert_eq!(ea.status, Status::Expired);
    assert_eq!(ea.resolved_by.as_deref(), Some("timeout"));
    assert_eq!(ea.resolved_at, Some(a.expires_at));
    assert_eq!(f.hooks.expired_ids(), vec![a.id.clone()]);
    assert_eq!(f.hooks.changed(), changed + 1);
    assert_eq!(f.store.pending(), vec![b.clone()]);
    assert_eq!(f.store.next_expiry(), Some(b.expires_at));

    // A failing expiry hook does not keep the approval alive; it is counted.
    f.hooks
        .fail_expired
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(f.store.expire_due(t0() + secs(150)), 1);
    assert_eq!(f.store.get(&b.id).unwrap().status, Status::Expired);
    assert_eq!(f.store.expiry_hook_failures(), 1);
    assert_eq!(f.store.expire_due(t0() + secs(500)), 0, "idempotent");
}

#[test]
fn cleanup_drops_answered_after_ten_minutes() {
    let f = Fixture::memory();
    let a = f.created(ask(exec("a", "", ""), ""));
    let b = f.created(ask(exec("b", "", ""), ""));
    f.store.resolve(&a.id, deny("me"), &ok).unwrap();
    f.store.cleanup(t0() + secs(600));
    assert!(f.store.get(&a.id).is_some(), "exactly ten minutes: kept");
    f.store.cleanup(t0() + secs(601));
    assert!(f.store.get(&a.id).is_none());
    // b is pending (overdue but not yet swept): cleanup never drops pending ones.
    assert_eq!(f.store.get(&b.id).unwrap().status, Status::Pending);
    assert_eq!(
        f.store.resolve(&a.id, deny("me"), &ok),
        Err(ResolveError::NotFound(a.id.clone()))
    );
}

#[test]
fn mark_persisted() {
    let f = Fixture::memory();
    let a = f.created(ask(exec("a", "", ""), ""));
    f.store.resolve(&a.id, approve("me"), &ok).unwrap();
    assert!(f.store.mark_persisted(&a.id));
    assert!(f.store.get(&a.id).unwrap().persisted);
    assert!(!f.store.mark_persisted("nope"));
}

#[test]
fn run_groups_need_complete_identity_and_two_items() {
    let f = Fixture::memory();
    let a1 = f.created(ask(exec("a1", "run-a", ""), ""));
    f.clock.advance(secs(1));
    let b1 = f.created(ask(exec("b1", "run-b", ""), ""));
    f.clock.advance(secs(1));
    let a2 = f.created(ask(exec("a2", "run-a", ""), ""));
    let b2 = f.created(ask(exec("b2", "run-b", ""), ""));
    // Same run, other credential: its own (single-item) group.
    f.created(ask(exec("a3", "run-a", ""), "other"));
    // No run id: never grouped.
    f.created(ask(exec("n1", "", ""), ""));
    f.created(ask(exec("n2", "", ""), ""));

    let groups = f.store.run_groups();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].run_id, "run-a");
    assert_eq!(groups[0].count, 2);
    assert_eq!(groups[0].earliest_created_at, a1.created_at);
    assert_eq!(groups[0].credential_owner, "server/admin");
    assert_eq!(groups[0].items, vec![a1.clone(), a2]);
    assert_eq!(groups[1].items, vec![b1, b2]);

    let json = serde_json::to_value(&groups[0]).unwrap();
    assert_eq!(json["agent"], "claude-code");
    assert_eq!(json["count"], 2);
    assert_eq!(json["earliest_created_at"], "2026-05-01T09:00:00Z");
    assert_eq!(json["items"][0]["command"], "a1");
    assert_eq!(json["items"][0]["status"], "pending");
    assert_eq!(json["items"][0]["credential_owner"], "server/admin");
    assert_eq!(json["items"][0]["expires_at"], "2026-05-01T09:02:00Z");
    assert!(json.get("owner_scope").is_none());

    let summary = serde_json::to_value(ApprovalSummary::from(&a1)).unwrap();
    assert_eq!(summary["run_id"], "run-a");
    let plain = f
        .store
        .pending()
        .into_iter()
        .find(|a| a.call.run_id.is_empty());
    let summary = serde_json::to_value(ApprovalSummary::from(&plain.unwrap())).unwrap();
    assert!(summary.get("run_id").is_none());
}

#[tokio::test]
async fn wait_wakes_on_resolve() {
    let f = Fixture::memory();
    let a = f.created(ask(exec("x", "", ""), ""));
    let store = f.store.clone();
    let id = a.id.clone();
    let waiter = tokio::spawn(async move { store.wait(&id, ms(10_000)).await });
    tokio::time::sleep(ms(50)).await;
    assert!(!waiter.is_finished());
    let started = std::time::Instant::now();
    f.store.resolve(&a.id, approve("me"), &ok).unwrap();
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(got.status, Status::Approved);
    assert!(started.elapsed() < ms(5_000));
    // Waiting on an answered approval returns at once.
    assert_eq!(
        f.store.wait(&a.id, ms(10_000)).await.unwrap().status,
        Status::Approved
    );
}

#[tokio::test]
async fn wait_wakes_on_expiry_and_times_out() {
    let f = Fixture::memory();
    let a = f.created(ask(exec("x", "", ""), ""));
    let started = std::time::Instant::now();
    let got = f.store.wait(&a.id, ms(100)).await.unwrap();
    assert_eq!(got.status, Status::Pending, "timed out while pending");
    assert!(started.elapsed() >= ms(100));

    let store = f.store.clone();
    let id = a.id.clone();
    let waiter = tokio::spawn(async move { store.wait(&id, ms(10_000)).await });
    tokio::time::sleep(ms(20)).await;
    f.store.expire_due(t0() + secs(121));
    assert_eq!(waiter.await.unwrap().unwrap().status, Status::Expired);

    assert_eq!(f.store.wait("unknown", ms(10)).await, None);
}

#[tokio::test]
async fn sweeper_expires_on_time_with_the_system_clock() {
    let hooks = Arc::new(Recorder::default());
    let store = Arc::new(
        rampart::approval::ApprovalStore::open(
            StoreConfig {
                timeout: ms(300),
                ..StoreConfig::default()
            },
            hooks.clone(),
        )
        .unwrap(),
    );
    let sweeper = store.spawn_sweeper();
    let a = match store.create(ask(exec("x", "", ""), "")).unwrap() {
        CreateOutcome::Created(a) => a,
        other => panic!("{other:?}"),
    };
    let got = store.wait(&a.id, ms(5_000)).await.unwrap();
    assert_eq!(got.status, Status::Expired);
    assert_eq!(hooks.expired_ids(), vec![a.id]);
    // The sweeper ends once the store is gone.
    drop(store);
    tokio::time::timeout(ms(3_000), sweeper)
        .await
        .expect("sweeper stops after the store is dropped")
        .unwrap();
}
