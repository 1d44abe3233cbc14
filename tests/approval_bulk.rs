//! Bulk resolution and run grants (§5.4).

mod approval_support;

use approval_support::*;
use rampart::approval::{
    Approval, BulkContext, BulkError, BulkRequest, BulkScope, CreateOutcome, RunPublication, Status,
};
use std::cell::RefCell;

fn req(action: &str, scope: &str, ids: &[&str]) -> BulkRequest {
    BulkRequest {
        agent: "claude-code".into(),
        session: "repo/main".into(),
        run_id: "run-1".into(),
        action: action.into(),
        scope: scope.into(),
        ids: ids.iter().map(|s| s.to_string()).collect(),
        resolved_by: "dashboard".into(),
    }
}

fn rec(_: &Approval, _: &BulkContext) -> Result<(), String> {
    Ok(())
}

fn publ(_: &RunPublication) -> Result<(), String> {
    Ok(())
}

fn invalid(f: &Fixture, r: BulkRequest) -> String {
    match f.store.bulk_resolve(r, &rec, &publ) {
        Err(e @ BulkError::Invalid(_)) => {
            assert_eq!(e.http_status(), 400);
            e.to_string()
        }
        other => panic!("expected 400, got {other:?}"),
    }
}

fn conflict(f: &Fixture, r: BulkRequest) -> String {
    match f.store.bulk_resolve(r, &rec, &publ) {
        Err(e @ BulkError::Conflict(_)) => {
            assert_eq!(e.http_status(), 409);
            e.to_string()
        }
        other => panic!("expected 409, got {other:?}"),
    }
}

#[test]
fn request_validation() {
    let f = Fixture::memory();
    let a = f.created(ask(exec("a", "run-1", "c1"), ""));
    let id = a.id.as_str();

    let mut r = req("approve", "pending", &[id]);
    r.agent = "  ".into();
    assert!(invalid(&f, r).contains("agent"));
    let mut r = req("approve", "pending", &[id]);
    r.session.clear();
    assert!(invalid(&f, r).contains("session"));
    let mut r = req("approve", "pending", &[id]);
    r.run_id.clear();
    assert!(invalid(&f, r).contains("run_id"));
    assert!(invalid(&f, req("allow", "pending", &[id])).contains("action"));
    assert!(invalid(&f, req("approve", "", &[id])).contains("scope is required"));
    assert!(invalid(&f, req("approve", "session", &[id])).contains("scope"));
    assert!(invalid(&f, req("deny", "run", &[id])).contains("only valid with action"));
    assert!(invalid(&f, req("approve", "pending", &[])).contains("ids"));
    assert!(invalid(&f, req("approve", "pending", &[id, ""])).contains("empty"));
    assert!(invalid(&f, req("approve", "pending", &[id, id])).contains("duplicate"));

    // Nothing was resolved by any of that.
    assert_eq!(f.store.get(id).unwrap().status, Status::Pending);
    // Case-insensitive action and scope.
    assert!(
        f.store
            .bulk_resolve(req("DENY", "Pending", &[id]), &rec, &publ)
            .is_ok()
    );
}

#[test]
fn stale_and_foreign_ids() {
    let f = Fixture::memory();
    let a = f.created(ask(exec("a", "run-1", ""), ""));
    let b = f.created(ask(exec("b", "run-1", ""), ""));
    let other_run = f.created(ask(exec("c", "run-2", ""), ""));
    f.store
        .resolve(
            &b.id,
            rampart::approval::Resolution {
                approved: false,
                resolved_by: "x".into(),
            },
            &ok,
        )
        .unwrap();

    let msg = conflict(&f, req("approve", "pending", &[&a.id, &b.id]));
    assert_eq!(
        msg,
        format!(
            "approval \"{}\" is no longer pending; refresh and retry",
            b.id
        )
    );
    conflict(
        &f,
        req("approve", "pending", &["01J00000000000000000000000"]),
    );
    assert!(invalid(&f, req("approve", "pending", &[&a.id, &other_run.id])).contains("belong"));
    assert_eq!(
        f.store.get(&a.id).unwrap().status,
        Status::Pending,
        "all or nothing"
    );

    // An overdue approval is expired on the spot and is stale too.
    f.clock.advance(secs(120));
    conflict(&f, req("approve", "pending", &[&a.id]));
    assert_eq!(f.store.get(&a.id).unwrap().status, Status::Expired);
    assert!(f.hooks.expired_ids().contains(&a.id));
}

#[test]
fn run_scope_needs_one_owner_and_every_pending_id() {
    let f = Fixture::memory();
    let a = f.created(ask(exec("a", "run-1", ""), "alice"));
    let b = f.created(ask(exec("b", "run-1", ""), "alice"));
    let admin = f.created(ask(exec("c", "run-1", ""), ""));

    let msg = invalid(&f, req("approve", "run", &[&a.id, &admin.id]));
    assert!(msg.contains("different credentials"), "{msg}");
    // Mixed owners are fine for plain pending scope.
    let msg = conflict(&f, req("approve", "run", &[&a.id]));
    assert!(msg.contains(&b.id) && msg.contains("not reviewed"), "{msg}");
    // The admin-owned approval is another scope: it need not be listed.
    let ok = f
        .store
        .bulk_resolve(req("approve", "run", &[&a.id, &b.id]), &rec, &publ)
        .unwrap();
    assert_eq!(ok.resolved, 2);
    assert_eq!(f.store.get(&admin.id).unwrap().status, Status::Pending);
}

#[test]
fn pending_scope_success() {
    let f = Fixture::memory();
    let a = f.created(ask(exec("a", "run-1", ""), ""));
    let b = f.created(ask(exec("b", "run-1", ""), "tok"));
    let seen = RefCell::new(Vec::new());
    let out = f
        .store
        .bulk_resolve(
            req("deny", "pending", &[&b.id, &a.id]),
            &|x, ctx| {
                seen.borrow_mut().push((x.clone(), ctx.clone()));
                Ok(())
            },
            &|_| panic!("no publication for pending scope"),
        )
        .unwrap();
    assert_eq!(out.resolved, 2);
    assert_eq!(out.ids, vec![b.id.clone(), a.id.clone()]);
    assert_eq!(out.reviewed_ids, out.ids);
    assert!(!out.future_calls_authorized);
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "resolved": 2, "ids": [b.id, a.id], "reviewed_ids": [b.id, a.id],
            "race_covered_ids": [], "scope": "pending", "future_calls_authorized": false
        })
    );
    let seen = seen.into_inner();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].0.status, Status::Denied);
    assert_eq!(seen[0].0.resolved_by.as_deref(), Some("dashboard"));
    assert_eq!(seen[0].1.scope, BulkScope::Pending);
    assert!(!seen[0].1.future_calls_requested);
    let fields = seen[0].1.audit_fields();
    assert_eq!(fields["bulk"], true);
    assert_eq!(fields["approval_scope"], "pending");
    assert!(fields.get("grant_ttl_ms").is_none());
    for id in [&a.id, &b.id] {
        assert_eq!(f.store.get(id).unwrap().status, Status::Denied);
    }
}

#[test]
fn run_scope_grant_auto_approves_the_run_until_it_expires() {
    let f = Fixture::memory();
    let a = f.created(ask(exec("a", "run-1", "c1"), "tok"));
    let b = f.created(ask(exec("b", "run-1", "c2"), "tok"));
    let published = RefCell::new(None);
    let contexts = RefCell::new(Vec::new());
    let changed = f.hooks.changed();
    let out = f
        .store
        .bulk_resolve(
            req("approve", "run", &[&a.id, &b.id]),
            &|_, ctx| {
                contexts.borrow_mut().push(ctx.clone());
                Ok(())
            },
            &|p| {
                *published.borrow_mut() = Some(p.clone());
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(f.hooks.changed(), changed + 1);
    let until = t0() + secs(120);
    assert!(out.future_calls_authorized);
    assert_eq!(out.grant_ttl_ms, Some(120_000));
    assert_eq!(out.grant_expires_at, Some(until));
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["scope"], "run");
    assert_eq!(json["grant_expires_at"], "2026-05-01T09:02:00.000000000Z");

    let p = published.into_inner().unwrap();
    assert_eq!(p.reviewed_approval_ids, vec![a.id.clone(), b.id.clone()]);
    assert_eq!(p.credential_owner, a.credential_owner());
    assert_eq!(p.grant_expires_at, until);
    let req_fields = p.audit_request();
    assert_eq!(req_fields["action"], "run_approval_publication_authorized");
    assert_eq!(req_fields["publication_authorized"], true);
    let ctx = &contexts.borrow()[0];
    assert!(ctx.future_calls_requested);
    assert_eq!(ctx.audit_fields()["grant_ttl_ms"], 120_000);
    assert_eq!(ctx.audit_fields()["auto_approve_ttl_seconds"], 120);

    // The approved calls are replayable once each.
    assert!(f.store.consume_replay(&a.call, "tok").unwrap().is_some());

    // Later asks in the same run by the same credential are granted...
    f.clock.advance(secs(100));
    match f
        .store
        .create(ask(exec("later", "run-1", "c9"), "tok"))
        .unwrap()
    {
        CreateOutcome::RunGrant { expires_at } => assert_eq!(expires_at, until),
        other => panic!("expected RunGrant, got {other:?}"),
    }
    // ...but not another credential's, another run's or another session's.
    f.created(ask(exec("later", "run-1", "c9"), "other"));
    f.created(ask(exec("later", "run-2", "c9"), "tok"));
    let mut other_session = exec("later", "run-1", "c9");
    other_session.session = "repo/other".into();
    f.created(ask(other_session, "tok"));
    f.clock.advance(secs(20));
    // At the deadline the grant is over.
    f.created(ask(exec("after", "run-1", "c10"), "tok"));
}

#[test]
fn replay_grants_of_a_run_approval_end_with_the_run_grant() {
    let short = || {
        Fixture::with(rampart::approval::StoreConfig {
            timeout: std::time::Duration::from_secs(30),
            ..Default::default()
        })
    };
    // Pending scope: the usual 60 s replay window, longer than the 30 s approval timeout.
    let f = short();
    let a = f.created(ask(exec("a", "run-1", "c1"), ""));
    f.store
        .bulk_resolve(req("approve", "pending", &[&a.id]), &rec, &publ)
        .unwrap();
    f.clock.advance(secs(45));
    assert!(f.store.consume_replay(&a.call, "").unwrap().is_some());

    // Run scope: clamped to the 30 s run grant.
    let f = short();
    let a = f.created(ask(exec("a", "run-1", "c1"), ""));
    f.store
        .bulk_resolve(req("approve", "run", &[&a.id]), &rec, &publ)
        .unwrap();
    f.clock.advance(secs(30));
    assert!(f.store.consume_replay(&a.call, "").unwrap().is_none());
}

#[test]
fn record_failure_midway_is_a_partial_503() {
    let f = Fixture::memory();
    let a = f.created(ask(exec("a", "run-1", ""), ""));
    let b = f.created(ask(exec("b", "run-1", ""), ""));
    let c = f.created(ask(exec("c", "run-1", ""), ""));
    let calls = RefCell::new(0);
    let err = f
        .store
        .bulk_resolve(
            req("approve", "run", &[&a.id, &b.id, &c.id]),
            &|_, _| {
                *calls.borrow_mut() += 1;
                if *calls.borrow() == 2 {
                    Err("audit storage is unavailable".into())
                } else {
                    Ok(())
                }
            },
            &|_| panic!("must not publish after a failure"),
        )
        .unwrap_err();
    assert_eq!(err.http_status(), 503);
    let body = err.body();
    assert_eq!(body["error"], "audit storage is unavailable");
    assert_eq!(body["resolved"], 1);
    assert_eq!(body["ids"], serde_json::json!([a.id]));
    assert_eq!(body["reviewed_ids"], serde_json::json!([a.id, b.id, c.id]));
    assert_eq!(
        body["unresolved_reviewed_ids"],
        serde_json::json!([b.id, c.id])
    );
    assert_eq!(body["future_calls_authorized"], false);
    assert_eq!(body["refresh_required"], true);
    assert_eq!(body["scope"], "run");
    assert_eq!(f.store.get(&a.id).unwrap().status, Status::Approved);
    assert_eq!(f.store.get(&b.id).unwrap().status, Status::Pending);
    assert_eq!(f.store.get(&c.id).unwrap().status, Status::Pending);
    // No grant: the next ask in the run is pending.
    f.created(ask(exec("d", "run-1", ""), ""));
}

#[test]
fn publication_failure_installs_no_grant() {
    let f = Fixture::memory();
    let a = f.created(ask(exec("a", "run-1", ""), ""));
    let err = f
        .store
        .bulk_resolve(req("approve", "run", &[&a.id]), &rec, &|_| {
            Err("audit down".into())
        })
        .unwrap_err();
    let BulkError::Partial(p) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(p.ids, vec![a.id.clone()]);
    assert!(p.unresolved_reviewed_ids.is_empty());
    assert!(!p.future_calls_authorized);
    assert_eq!(f.store.get(&a.id).unwrap().status, Status::Approved);
    f.created(ask(exec("b", "run-1", ""), ""));
}

#[test]
fn error_bodies() {
    let e = BulkError::Conflict("approval \"x\" is no longer pending; refresh and retry".into());
    assert_eq!(
        e.body(),
        serde_json::json!({"error": "approval \"x\" is no longer pending; refresh and retry"})
    );
    assert_eq!(
        BulkError::Invalid("x".into()).body(),
        serde_json::json!({"error": "x"})
    );
}

#[test]
fn request_decodes_with_missing_fields() {
    let r: BulkRequest = serde_json::from_str(r#"{"agent":"a","ids":["x"],"unknown":1}"#).unwrap();
    assert_eq!(r.agent, "a");
    assert_eq!(r.scope, "");
    assert_eq!(r.ids, vec!["x".to_string()]);
}
