//! The relay: every client frame and every server frame passes through here. Frames the proxy
//! does not decide on are written on unchanged (the bytes read, terminator included);
//! `tools/call` requests are decided, recorded and then forwarded or answered (a call waiting for
//! a person holds up nothing else); `tools/call` results are scanned and `tools/list` results
//! filtered.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};

use serde_json::{Map, Value, json};

use super::call::{self, Identity};
use super::jsonrpc::{self, IdKey, code};
use crate::audit::{AuditEvent, Ticket};
use crate::engine::{Action, Decision, ToolCall};
use crate::gate::{Gate, Mode, Purpose, Scope};
use crate::hook::approval::{self, Outcome};

/// Most `tools/call` requests the proxy holds or tracks at once.
pub const MAX_PENDING: usize = 4096;

/// How a denied `tools/call` is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DenyStyle {
    /// A JSON-RPC error, code -32600, message `Rampart: …`.
    #[default]
    Error,
    /// A `tools/call` result with `isError: true` and the message as text.
    ToolError,
}

/// What the relay needs to know besides the gate.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Identity written into every call.
    pub who: Identity,
    /// How denials are answered.
    pub deny_style: DenyStyle,
    /// Remove always-denied tools from `tools/list` results.
    pub filter_tools: bool,
    /// Whether the audit trail could be opened (enforce refuses calls without it).
    pub audit_ok: bool,
    /// Home directory, for finding a running serve (approvals).
    pub home: Option<PathBuf>,
}

/// A byte sink shared between threads; each line is written whole under its lock.
pub type LineSink = Mutex<Option<Box<dyn Write + Send>>>;

enum Pending {
    /// Being decided (or waiting for approval); `cancelled` by `notifications/cancelled`.
    Deciding { cancelled: bool },
    /// Forwarded to the server; its result will be scanned.
    Forwarded(Box<ToolCall>),
}

#[derive(Default)]
struct Tracker {
    calls: HashMap<IdKey, Pending>,
    lists: HashSet<IdKey>,
}

/// Events the relay reports to the supervisor.
pub trait Notice: Send + Sync {
    /// Writing to the client failed: it is gone.
    fn client_gone(&self);
}

/// The relay state shared by the reader threads, the committer and the approval threads.
pub struct Proxy {
    gate: Gate,
    settings: Settings,
    to_client: LineSink,
    to_server: LineSink,
    track: Mutex<Tracker>,
    deciding: AtomicUsize,
    client_gone: AtomicBool,
    notice: Option<Box<dyn Notice>>,
    commits: mpsc::Sender<Commit>,
    commit_rx: Mutex<Option<mpsc::Receiver<Commit>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One stderr line (stderr is shared with the server's own).
pub fn log(msg: impl AsRef<str>) {
    eprintln!("rampart mcp: {}", msg.as_ref());
}

/// Decrements the in-flight decision count when a call is settled, however it ends.
struct Deciding<'a>(&'a AtomicUsize);

impl Drop for Deciding<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Proxy {
    /// A relay writing client-bound lines to `to_client` and server-bound lines to `to_server`.
    pub fn new(
        gate: Gate,
        settings: Settings,
        to_client: Box<dyn Write + Send>,
        to_server: Box<dyn Write + Send>,
        notice: Option<Box<dyn Notice>>,
    ) -> Proxy {
        let (commits, rx) = mpsc::channel();
        Proxy {
            commits,
            commit_rx: Mutex::new(Some(rx)),
            gate,
            settings,
            to_client: Mutex::new(Some(to_client)),
            to_server: Mutex::new(Some(to_server)),
            track: Mutex::new(Tracker::default()),
            deciding: AtomicUsize::new(0),
            client_gone: AtomicBool::new(false),
            notice,
        }
    }

    /// The gate (for the exit summary).
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    fn enforce(&self) -> bool {
        self.gate.mode() == Mode::Enforce
    }

    /// `tools/call` requests still being decided.
    pub fn deciding(&self) -> usize {
        self.deciding.load(Ordering::Acquire)
    }

    /// Closes the server's stdin (the client has gone); later server-bound lines are dropped.
    pub fn close_server_input(&self) {
        if let Some(mut w) = lock(&self.to_server).take() {
            let _ = w.flush();
        }
    }

    /// Flushes the client-bound stream.
    pub fn flush_client(&self) {
        if let Some(w) = lock(&self.to_client).as_mut() {
            let _ = w.flush();
        }
    }

    fn write_server(&self, line: &[u8]) {
        let mut g = lock(&self.to_server);
        let Some(w) = g.as_mut() else { return };
        if w.write_all(line).and_then(|()| w.flush()).is_err() {
            // The server stopped reading (it is exiting); the supervisor sees it go.
            *g = None;
        }
    }

    fn write_client(&self, line: &[u8]) {
        let mut g = lock(&self.to_client);
        let Some(w) = g.as_mut() else { return };
        if w.write_all(line).and_then(|()| w.flush()).is_err() {
            *g = None;
            drop(g);
            if !self.client_gone.swap(true, Ordering::AcqRel)
                && let Some(n) = &self.notice
            {
                n.client_gone();
            }
        }
    }

    // ----------------------------------------------------------------- client → server

    /// Handles one frame from the client.
    pub fn from_client(self: &Arc<Self>, line: Vec<u8>) {
        let body = jsonrpc::trim(&line);
        if body.is_empty() {
            return;
        }
        let enforce = self.enforce();
        let msg = match crate::api::body::parse_value(body) {
            Ok(Value::Object(m)) => m,
            Ok(_) | Err(_) if !enforce => return self.write_server(&line),
            Ok(Value::Array(items)) => return self.refuse_batch(&items),
            Ok(_) => return log("dropped a client frame that is not a JSON-RPC object"),
            Err(e) => return self.refuse_unreadable(body, &e),
        };
        if enforce && let Some(k) = jsonrpc::shadowed(&msg, jsonrpc::ENVELOPE) {
            let why = format!("Rampart: ambiguous JSON-RPC member {k:?}; refusing message");
            return self.answer_if_request(body, &msg, code::INVALID_REQUEST, &why);
        }
        let method = msg.get("method").and_then(Value::as_str);
        if method == Some("tools/call") {
            let raw = jsonrpc::raw_id(body);
            return self.intercept(line, raw, &msg);
        }
        if let (Some(m), Some(key)) = (method, msg.get("id").and_then(jsonrpc::id_key)) {
            let mut t = lock(&self.track);
            if enforce && t.calls.contains_key(&key) {
                drop(t);
                let why = "Rampart: request id is already in use by a pending tools/call";
                return self.answer(&jsonrpc::raw_id(body), code::INVALID_REQUEST, why);
            }
            if m == "tools/list" && self.settings.filter_tools {
                t.lists.insert(key);
            }
        } else if method == Some("notifications/cancelled")
            && let Some(key) = msg
                .get("params")
                .and_then(|p| p.get("requestId"))
                .and_then(jsonrpc::id_key)
            && let Some(Pending::Deciding { cancelled }) = lock(&self.track).calls.get_mut(&key)
        {
            *cancelled = true;
        }
        self.write_server(&line);
    }

    /// Invalid JSON or duplicate keys: answered when an id can still be read, else dropped.
    fn refuse_unreadable(&self, body: &[u8], err: &str) {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => {
                let why = format!("Rampart: invalid JSON-RPC message ({err}); refusing it");
                self.answer_if_request(body, &m, code::INVALID_REQUEST, &why);
            }
            Ok(Value::Array(items)) => self.refuse_batch(&items),
            _ => log(format!(
                "dropped a client frame that is not valid JSON ({err}): {}",
                preview(body)
            )),
        }
    }

    fn answer_if_request(&self, body: &[u8], m: &Map<String, Value>, code: i64, why: &str) {
        match m.get("id") {
            Some(id) if !id.is_null() && m.contains_key("method") => {
                self.answer(&jsonrpc::raw_id(body), code, why)
            }
            _ => log(format!("dropped a client message: {why}")),
        }
    }

    /// Batches are not part of MCP: each member request is answered with an error.
    fn refuse_batch(&self, items: &[Value]) {
        let why = "Rampart: JSON-RPC batches are not supported; send one message per line";
        let answers: Vec<Value> = items
            .iter()
            .filter_map(|v| v.get("id").filter(|id| !id.is_null() && v.get("method").is_some()))
            .map(|id| {
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": code::INVALID_REQUEST, "message": why}})
            })
            .collect();
        if answers.is_empty() {
            return log("dropped a JSON-RPC batch without requests");
        }
        let mut line = Value::Array(answers).to_string().into_bytes();
        line.push(b'\n');
        self.write_client(&line);
    }

    fn answer(&self, raw_id: &str, code: i64, message: &str) {
        self.write_client(&jsonrpc::error_line(raw_id, code, message));
    }

    fn intercept(self: &Arc<Self>, line: Vec<u8>, raw: String, msg: &Map<String, Value>) {
        let enforce = self.enforce();
        let Some(id) = msg.get("id").filter(|v| !v.is_null()) else {
            if enforce {
                return log("dropped a tools/call without an id (it cannot be answered)");
            }
            return self.write_server(&line);
        };
        let Some(key) = jsonrpc::id_key(id) else {
            if enforce {
                let why = "Rampart: tools/call id must be a string or an integer";
                return self.answer(&raw, code::INVALID_REQUEST, why);
            }
            return self.write_server(&line);
        };
        if enforce && msg.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            let why = "Rampart: tools/call must be a JSON-RPC 2.0 request";
            return self.answer(&raw, code::INVALID_REQUEST, why);
        }
        let mut call = match call::from_params(msg.get("params"), &self.settings.who, enforce) {
            Ok(c) => c,
            Err(e) if enforce => {
                let why = format!("Rampart: invalid tools/call params: {e}");
                return self.answer(&raw, code::INVALID_PARAMS, &why);
            }
            Err(_) => return self.write_server(&line),
        };
        call.tool_call_id = Some(format!("mcp-{}", ulid::Ulid::generate()));
        {
            let mut t = lock(&self.track);
            let why = if t.calls.contains_key(&key) {
                Some("Rampart: request id is already in use by a pending tools/call")
            } else if t.calls.len() >= MAX_PENDING {
                Some("Rampart: too many tools/call requests in flight")
            } else {
                None
            };
            if let Some(why) = why {
                drop(t);
                if !enforce {
                    // Monitor mode forwards what it cannot track.
                    return self.write_server(&line);
                }
                return self.answer(&raw, code::INVALID_REQUEST, why);
            }
            t.calls
                .insert(key.clone(), Pending::Deciding { cancelled: false });
        }
        self.deciding.fetch_add(1, Ordering::AcqRel);
        let job = Job {
            line,
            raw,
            key,
            call,
        };
        self.decide(job);
    }

    // ------------------------------------------------------------------- decisions

    /// Decides on the reader thread (the engine is pure and fast) and queues the audit record;
    /// the committer thread forwards or answers once the record is durable. Calls that wait on
    /// the network (a person's approval, a webhook) get a thread of their own.
    fn decide(self: &Arc<Self>, job: Job) {
        let enforce = self.enforce();
        if enforce && !self.settings.audit_ok {
            let why = "Rampart: audit storage is unavailable; refusing tool call";
            return self.commit(
                None,
                job,
                Verdict::Refuse(code::INTERNAL_ERROR, why.into()),
                None,
            );
        }
        let d = self
            .gate
            .decide(&job.call, Purpose::Enforce, Scope::default());
        if enforce && matches!(d.action, Action::Ask | Action::Webhook) {
            return self.decide_slowly(job, d);
        }
        let mut verdict = if !enforce || d.action.permits() {
            Verdict::Forward
        } else {
            Verdict::Deny(crate::hook::run::deny_reason(&d))
        };
        let ticket = match self.gate.submit(AuditEvent::from_call(&job.call, &d)) {
            Ok(t) => t,
            Err(e) => {
                log(format!("audit write failed: {e}"));
                if enforce {
                    let why = "Rampart: audit storage is unavailable; refusing tool call";
                    verdict = Verdict::Refuse(code::INTERNAL_ERROR, why.into());
                }
                None
            }
        };
        let notify = self.gate.policy.current().notify.is_some().then_some(d);
        self.commit(ticket, job, verdict, notify);
    }

    fn commit(&self, ticket: Option<Ticket>, job: Job, verdict: Verdict, notify: Option<Decision>) {
        let c = Commit {
            ticket,
            job,
            verdict,
            notify: notify.map(Box::new),
        };
        if let Err(mpsc::SendError(c)) = self.commits.send(c) {
            // The committer is gone (it never is while the proxy runs): finish here.
            self.finish(c);
        }
    }

    /// The committer: waits for each call's audit record (in order: records become durable in
    /// the order they were queued), then forwards the call or answers it.
    pub fn run_committer(&self) {
        let Some(rx) = lock(&self.commit_rx).take() else {
            return;
        };
        for c in rx {
            self.finish(c);
        }
    }

    fn finish(&self, mut c: Commit) {
        let _done = Deciding(&self.deciding);
        if let Some(t) = c.ticket.take()
            && let Err(e) = t.wait()
        {
            log(format!("audit write failed: {e}"));
            if self.enforce() {
                let why = "Rampart: audit storage is unavailable; refusing tool call";
                c.verdict = Verdict::Refuse(code::INTERNAL_ERROR, why.into());
            }
        }
        let call = c.notify.is_some().then(|| c.job.call.clone());
        match c.verdict {
            Verdict::Forward => self.forward(c.job),
            Verdict::Deny(why) => self.reply(&c.job, Reply::Denied(why)),
            Verdict::Refuse(code, why) => self.reply(&c.job, Reply::Error(code, why)),
        }
        if let (Some(call), Some(d)) = (call, c.notify) {
            self.notify(&call, &d);
        }
    }

    /// Ask and webhook decisions: on a thread of their own, so the wait holds up nothing else.
    fn decide_slowly(self: &Arc<Self>, job: Job, d: Decision) {
        let me = Arc::clone(self);
        let (raw, key) = (job.raw.clone(), job.key.clone());
        let spawned = std::thread::Builder::new()
            .name("rampart-mcp-ask".into())
            .spawn(move || {
                let _done = Deciding(&me.deciding);
                match d.action {
                    Action::Ask => me.ask(job, &d),
                    _ => me.webhook(job, d),
                }
            });
        if let Err(e) = spawned {
            // The job went with the closure: untrack the call and refuse it.
            self.deciding.fetch_sub(1, Ordering::AcqRel);
            lock(&self.track).calls.remove(&key);
            log(format!("could not start a decision thread: {e}"));
            let why = "Rampart: the proxy could not take this call; refusing it";
            self.answer(&raw, code::INTERNAL_ERROR, why);
        }
    }

    fn webhook(&self, job: Job, mut d: Decision) {
        let (action, message) =
            crate::api::webhook::call(d.webhook.as_ref(), &job.call, d.policy().unwrap_or(""));
        d.action = action;
        d.message = message;
        if let Err(e) = self
            .gate
            .record_blocking(AuditEvent::from_call(&job.call, &d))
        {
            log(format!("audit write failed: {e}"));
            let why = "Rampart: audit storage is unavailable; refusing tool call";
            return self.reply(&job, Reply::Error(code::INTERNAL_ERROR, why.into()));
        }
        self.notify(&job.call, &d);
        if d.action.permits() {
            self.forward(job);
        } else {
            self.reply(&job, Reply::Denied(crate::hook::run::deny_reason(&d)));
        }
    }

    fn notify(&self, call: &ToolCall, d: &Decision) {
        let snap = self.gate.policy.current();
        let Some(n) = snap.notify.as_ref() else {
            return;
        };
        let limit = std::time::Duration::from_secs(1);
        if let Err(e) = crate::api::notify::decision_blocking(n, call, d, limit) {
            log(format!("notification failed: {e}"));
        }
    }

    fn ask(&self, job: Job, d: &Decision) {
        let m = d.message.trim();
        let mut reason = if m.is_empty() {
            "this call needs approval".to_string()
        } else {
            m.to_string()
        };
        if let Some(p) = d.policy() {
            reason.push_str(&format!(" (policy: {p})"));
        }
        if let Err(e) = self
            .gate
            .record_blocking(AuditEvent::from_call(&job.call, d))
        {
            log(format!("audit write failed: {e}"));
            let why = "Rampart: audit storage is unavailable; refusing tool call";
            return self.reply(&job, Reply::Error(code::INTERNAL_ERROR, why.into()));
        }
        self.notify(&job.call, d);
        let outcome = approval::request(&job.call, &reason, self.settings.home.as_deref());
        let (action, audit_msg, reply) = match outcome {
            Outcome::Approved => ("approved", format!("approved by a person: {reason}"), None),
            Outcome::Refused(why) => (
                "deny",
                format!("{why}: {reason}"),
                Some(format!("approval not granted ({why}) — {reason}")),
            ),
            Outcome::Unavailable(why) => (
                "deny",
                format!("{why}: {reason}"),
                Some(format!(
                    "{reason}; {why}. To approve calls like this one, keep `rampart serve` running \
                     as this user and answer in `rampart watch`, the dashboard or with \
                     `rampart approve <id>`"
                )),
            ),
        };
        let mut e = AuditEvent::from_call(&job.call, d);
        e.decision.action = action.into();
        e.decision.message = audit_msg;
        if let Err(x) = self.gate.record_blocking(e) {
            log(format!("audit write failed: {x}"));
            let why = "Rampart: audit storage is unavailable; refusing tool call";
            return self.reply(&job, Reply::Error(code::INTERNAL_ERROR, why.into()));
        }
        match reply {
            None => self.forward(job),
            Some(why) => self.reply(&job, Reply::Denied(why)),
        }
    }

    /// Sends the original bytes on, unless the client cancelled the request meanwhile.
    fn forward(&self, job: Job) {
        {
            let mut t = lock(&self.track);
            match t.calls.get(&job.key) {
                Some(Pending::Deciding { cancelled: false }) => {
                    t.calls
                        .insert(job.key.clone(), Pending::Forwarded(Box::new(job.call)));
                }
                Some(Pending::Deciding { cancelled: true }) => {
                    t.calls.remove(&job.key);
                    return;
                }
                _ => return,
            }
        }
        self.write_server(&job.line);
    }

    /// Answers the client in the proxy's own name (nothing when the client cancelled).
    fn reply(&self, job: &Job, reply: Reply) {
        let cancelled = matches!(
            lock(&self.track).calls.remove(&job.key),
            Some(Pending::Deciding { cancelled: true })
        );
        if cancelled {
            return;
        }
        let line = match reply {
            Reply::Error(code, why) => jsonrpc::error_line(&job.raw, code, &why),
            Reply::Denied(why) => {
                let text = format!("Rampart: {why}");
                match self.settings.deny_style {
                    DenyStyle::Error => jsonrpc::error_line(&job.raw, code::INVALID_REQUEST, &text),
                    DenyStyle::ToolError => jsonrpc::tool_error_line(&job.raw, &text),
                }
            }
        };
        self.write_client(&line);
    }

    // ----------------------------------------------------------------- server → client

    /// Handles one frame from the server.
    pub fn from_server(&self, line: Vec<u8>) {
        // Nothing outstanding that needs a look: relay without parsing.
        {
            let t = lock(&self.track);
            if t.calls.is_empty() && t.lists.is_empty() {
                drop(t);
                return self.write_client(&line);
            }
        }
        let body = jsonrpc::trim(&line);
        let msg = match crate::api::body::parse_value(body) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return self.write_client(&line),
            Err(e) => return self.unreadable_response(&line, body, &e),
        };
        if msg.contains_key("method") {
            return self.write_client(&line);
        }
        let Some(key) = msg.get("id").and_then(jsonrpc::id_key) else {
            return self.write_client(&line);
        };
        let found = {
            let mut t = lock(&self.track);
            if matches!(t.calls.get(&key), Some(Pending::Forwarded(_))) {
                match t.calls.remove(&key) {
                    Some(Pending::Forwarded(c)) => Found::Call(c),
                    _ => Found::Nothing,
                }
            } else if t.lists.remove(&key) {
                Found::List
            } else {
                Found::Nothing
            }
        };
        match found {
            Found::Call(call) => self.scan(&line, body, &msg, &call),
            Found::List => self.filter(&line, body, &msg),
            Found::Nothing => self.write_client(&line),
        }
    }

    /// A server frame that is not valid JSON (or has duplicate keys): if it answers a call the
    /// proxy scans or a listing it filters, it cannot be checked and is refused; otherwise it is
    /// none of the proxy's business and goes on unchanged.
    fn unreadable_response(&self, line: &[u8], body: &[u8], err: &str) {
        let key = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) if !m.contains_key("method") => {
                m.get("id").and_then(jsonrpc::id_key)
            }
            _ => None,
        };
        let ours = key.is_some_and(|k| {
            let mut t = lock(&self.track);
            if matches!(t.calls.get(&k), Some(Pending::Forwarded(_))) {
                t.calls.remove(&k);
                true
            } else {
                t.lists.remove(&k)
            }
        });
        if !ours {
            return self.write_client(line);
        }
        log(format!("server sent an unreadable response ({err})"));
        if self.enforce() {
            let why = "Rampart: invalid response from the MCP server; refusing output";
            self.answer(&jsonrpc::raw_id(body), code::INTERNAL_ERROR, why);
        } else {
            self.write_client(line);
        }
    }

    fn scan(&self, line: &[u8], body: &[u8], msg: &Map<String, Value>, call: &ToolCall) {
        if self.gate.mode() == Mode::Disabled {
            return self.write_client(line);
        }
        let text = call::response_text(msg);
        if text.is_empty() {
            return self.write_client(line);
        }
        let d = self
            .gate
            .policy
            .current()
            .compiled
            .evaluate_response(call, &text);
        if !matches!(d.action, Action::Deny | Action::Watch) {
            return self.write_client(line);
        }
        let enforce = self.enforce();
        let denied = d.action == Action::Deny;
        let e = AuditEvent::for_response(call, &d, "mcp_phase", enforce);
        if let Err(x) = self.gate.record_blocking(e) {
            log(format!("audit write failed: {x}"));
        }
        if denied && enforce {
            let mut why = d.message.trim().to_string();
            if why.is_empty() {
                why = "blocked by policy".into();
            }
            if let Some(p) = d.policy() {
                why.push_str(&format!(" (policy: {p})"));
            }
            let text = format!("Rampart: tool output withheld: {why}");
            self.write_client(&jsonrpc::tool_error_line(&jsonrpc::raw_id(body), &text));
        } else {
            self.write_client(line);
        }
    }

    /// `--filter-tools`: drops the tools policy denies even without arguments.
    fn filter(&self, line: &[u8], body: &[u8], msg: &Map<String, Value>) {
        let Some(tools) = msg
            .get("result")
            .and_then(|r| r.get("tools"))
            .and_then(Value::as_array)
        else {
            return self.write_client(line);
        };
        let enforce = self.enforce();
        let mut kept = Vec::with_capacity(tools.len());
        let mut hidden = 0usize;
        for t in tools {
            let Some(name) = t.get("name").and_then(Value::as_str) else {
                kept.push(t.clone());
                continue;
            };
            let c = call::listed_tool(name, &self.settings.who);
            let d = self.gate.decide(&c, Purpose::Preview, Scope::default());
            if d.action != Action::Deny {
                kept.push(t.clone());
                continue;
            }
            let mut e = AuditEvent::from_call(&c, &d);
            e.decision.message = if enforce {
                format!("hidden from tools/list: {}", d.message)
            } else {
                format!("would be hidden from tools/list: {}", d.message)
            };
            if let Err(x) = self.gate.record_blocking(e) {
                log(format!("audit write failed: {x}"));
            }
            if enforce {
                hidden += 1;
            } else {
                kept.push(t.clone());
            }
        }
        if hidden == 0 {
            return self.write_client(line);
        }
        let mut result = msg
            .get("result")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        result.insert("tools".into(), Value::Array(kept));
        let out = jsonrpc::result_line(&jsonrpc::raw_id(body), &Value::Object(result));
        self.write_client(&out);
    }
}

/// A decided call waiting for its audit record to become durable.
struct Commit {
    ticket: Option<Ticket>,
    job: Job,
    verdict: Verdict,
    notify: Option<Box<Decision>>,
}

enum Verdict {
    Forward,
    /// A policy denial (message without the `Rampart: ` prefix).
    Deny(String),
    /// A refusal in the proxy's own name (code, full message).
    Refuse(i64, String),
}

struct Job {
    line: Vec<u8>,
    raw: String,
    key: IdKey,
    call: ToolCall,
}

enum Reply {
    /// An error in the proxy's own name (code, full message).
    Error(i64, String),
    /// A policy denial (message without the `Rampart: ` prefix), styled per `--deny-style`.
    Denied(String),
}

enum Found {
    Call(Box<ToolCall>),
    List,
    Nothing,
}

/// The first bytes of a frame, printable, for a log line.
fn preview(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(120)]);
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if b.len() > 120 { format!("{s}…") } else { s }
}
