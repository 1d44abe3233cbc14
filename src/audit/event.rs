//! The audit event (schema `rampart.audit.v1`) and its Go-identical serialisation.

use super::error::RecordError;
use super::gojson::{write_i64, write_map, write_str, write_str_list, write_value};
use chrono::{DateTime, Datelike, FixedOffset, Offset, Timelike, Utc};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Schema tag written into every new event.
pub const SCHEMA_VERSION: &str = "rampart.audit.v1";

/// Where the event was written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostInfo {
    /// Host name, or `unknown`.
    pub hostname: String,
    /// Go-style OS name (`linux`, `darwin`, …).
    pub os: String,
    /// Go-style architecture (`amd64`, `arm64`, …).
    pub arch: String,
}

impl HostInfo {
    /// Describes the current machine with Go's naming, as the reference writer does.
    pub fn current() -> HostInfo {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".to_string());
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            other => other,
        };
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64",
            other => other,
        };
        HostInfo {
            hostname,
            os: os.to_string(),
            arch: arch.to_string(),
        }
    }
}

/// The decision part of an event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventDecision {
    /// `allow`, `deny`, `watch`, `ask`, `approved`, …
    pub action: String,
    /// Policies that fired (omitted when empty).
    pub matched_policies: Vec<String>,
    /// Evaluation time in microseconds.
    pub evaluation_time_us: i64,
    /// Reason shown to the user (omitted when empty).
    pub message: String,
    /// Suggested commands (omitted when empty).
    pub suggestions: Vec<String>,
}

/// Response-phase information (exit code, duration, flags).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventResponse {
    /// Exit code of the tool, when known (omitted when `None`).
    pub exit_code: Option<i64>,
    /// Tool run time in milliseconds.
    pub duration_ms: i64,
    /// Flags such as `response-evaluated` (omitted when empty).
    pub flags: Vec<String>,
}

/// What the size cap did to one field (spec §7.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactedField {
    /// Size of the field's original JSON.
    pub original_json_bytes: i64,
    /// `sha256:<hex>` of the original JSON.
    pub sha256: String,
    /// `replaced`, `dropped` or `truncated`.
    pub disposition: String,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuditEvent {
    /// `rampart.audit.v1` (empty only for legacy events).
    pub schema_version: String,
    /// ULID.
    pub id: String,
    /// Event time; `None` is Go's zero time (the writer fills it).
    pub timestamp: Option<DateTime<FixedOffset>>,
    /// Agent name.
    pub agent: String,
    /// Session name.
    pub session: String,
    /// Writing host (filled by the writer).
    pub host: Option<HostInfo>,
    /// Run identifier (omitted when empty).
    pub run_id: String,
    /// Host tool-call identifier (omitted when empty).
    pub tool_call_id: String,
    /// Owner of an approval (omitted when empty).
    pub approval_owner: Option<Map<String, Value>>,
    /// Canonical tool name.
    pub tool: String,
    /// Tool parameters; `None` serialises as `null`.
    pub request: Option<Map<String, Value>>,
    /// The decision.
    pub decision: EventDecision,
    /// Response-phase data (omitted when `None`).
    pub response: Option<EventResponse>,
    /// Fields changed by the size cap (omitted when empty).
    pub compacted_fields: BTreeMap<String, CompactedField>,
    /// Hash of the previous event (`""` for genesis).
    pub prev_hash: String,
    /// `sha256:<hex>` of this event.
    pub hash: String,
}

/// A continuation header: first line of a rotated file, not an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainContinue {
    /// Hash of the last event of the previous file.
    pub chain_continue: String,
    /// Name of the previous file.
    pub prev_file: String,
}

impl ChainContinue {
    /// The header line (without newline), keys sorted as Go writes them.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(128);
        out.push_str("{\"chain_continue\":");
        write_str(&mut out, &self.chain_continue);
        out.push_str(",\"prev_file\":");
        write_str(&mut out, &self.prev_file);
        out.push('}');
        out
    }
}

/// One parsed line of a chain file.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// An audit event.
    Event(Box<AuditEvent>),
    /// A continuation header.
    Continue(ChainContinue),
}

/// Formats a time as Go's RFC3339Nano (`Z` for UTC, trailing fractional zeros trimmed).
pub fn format_rfc3339_nano(t: &DateTime<FixedOffset>) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(36);
    let _ = write!(
        s,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    // chrono encodes a leap second as nanosecond >= 1e9; Go has none, clamp.
    let nanos = t.nanosecond().min(999_999_999);
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    let off = t.offset().fix().local_minus_utc();
    if off == 0 {
        s.push('Z');
    } else {
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.unsigned_abs();
        let _ = write!(s, "{sign}{:02}:{:02}", a / 3600, (a / 60) % 60);
    }
    s
}

/// Go's zero `time.Time` as JSON.
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl AuditEvent {
    /// A new event with schema, a fresh ULID and the current UTC time.
    pub fn new(agent: &str, session: &str, tool: &str, action: &str) -> AuditEvent {
        AuditEvent {
            schema_version: SCHEMA_VERSION.to_string(),
            id: ulid::Ulid::generate().to_string(),
            timestamp: Some(Utc::now().fixed_offset()),
            agent: agent.to_string(),
            session: session.to_string(),
            tool: tool.to_string(),
            decision: EventDecision {
                action: action.to_string(),
                ..EventDecision::default()
            },
            ..AuditEvent::default()
        }
    }

    /// Builds an event from an engine call and its decision.
    pub fn from_call(call: &crate::engine::ToolCall, d: &crate::engine::Decision) -> AuditEvent {
        let mut e = AuditEvent::new(&call.agent, &call.session, &call.tool, d.action.as_str());
        e.run_id = call.run_id.clone().unwrap_or_default();
        e.tool_call_id = call.tool_call_id.clone().unwrap_or_default();
        e.request = Some(call.params.clone());
        e.decision.matched_policies = d.matched_policies.clone();
        e.decision.message = d.message.clone();
        e.decision.suggestions = d.suggestions.clone();
        e.decision.evaluation_time_us =
            i64::try_from(d.eval_duration.as_micros()).unwrap_or(i64::MAX);
        e
    }

    /// The event for a scanned tool response: [`AuditEvent::from_call`] with `phase_key:
    /// "response"` in the request and the flags every front end writes —
    /// `response-evaluated`, plus `response-redacted` (enforced deny) or
    /// `response-observed-deny` (deny not enforced).
    pub fn for_response(
        call: &crate::engine::ToolCall,
        d: &crate::engine::Decision,
        phase_key: &str,
        enforce: bool,
    ) -> AuditEvent {
        let mut e = AuditEvent::from_call(call, d);
        e.request
            .get_or_insert_with(Map::new)
            .insert(phase_key.into(), Value::String("response".into()));
        let mut flags = vec!["response-evaluated".to_string()];
        if d.action == crate::engine::Action::Deny {
            flags.push(if enforce {
                "response-redacted".into()
            } else {
                "response-observed-deny".into()
            });
        }
        e.response = Some(EventResponse {
            exit_code: None,
            duration_ms: 0,
            flags,
        });
        e
    }

    /// Go JSON of this event with `hash` replaced by `hash_value`.
    pub fn to_json_with_hash(&self, hash_value: &str) -> String {
        let mut o = self.json_prefix();
        finish_json(&mut o, &self.prev_hash, hash_value);
        o
    }

    /// Go JSON up to and including `"prev_hash":` (everything that does not depend on the chain).
    pub fn json_prefix(&self) -> String {
        let mut o = String::with_capacity(512);
        o.push('{');
        if !self.schema_version.is_empty() {
            o.push_str("\"schema_version\":");
            write_str(&mut o, &self.schema_version);
            o.push(',');
        }
        o.push_str("\"id\":");
        write_str(&mut o, &self.id);
        o.push_str(",\"timestamp\":\"");
        match &self.timestamp {
            Some(t) => o.push_str(&format_rfc3339_nano(t)),
            None => o.push_str(GO_ZERO_TIME),
        }
        o.push_str("\",\"agent\":");
        write_str(&mut o, &self.agent);
        o.push_str(",\"session\":");
        write_str(&mut o, &self.session);
        if let Some(h) = &self.host {
            o.push_str(",\"host\":{\"hostname\":");
            write_str(&mut o, &h.hostname);
            o.push_str(",\"os\":");
            write_str(&mut o, &h.os);
            o.push_str(",\"arch\":");
            write_str(&mut o, &h.arch);
            o.push('}');
        }
        if !self.run_id.is_empty() {
            o.push_str(",\"run_id\":");
            write_str(&mut o, &self.run_id);
        }
        if !self.tool_call_id.is_empty() {
            o.push_str(",\"tool_call_id\":");
            write_str(&mut o, &self.tool_call_id);
        }
        if let Some(owner) = self.approval_owner.as_ref().filter(|m| !m.is_empty()) {
            o.push_str(",\"approval_owner\":");
            write_map(&mut o, owner);
        }
        o.push_str(",\"tool\":");
        write_str(&mut o, &self.tool);
        o.push_str(",\"request\":");
        match &self.request {
            Some(m) => write_map(&mut o, m),
            None => o.push_str("null"),
        }
        let d = &self.decision;
        o.push_str(",\"decision\":{\"action\":");
        write_str(&mut o, &d.action);
        if !d.matched_policies.is_empty() {
            o.push_str(",\"matched_policies\":");
            write_str_list(&mut o, &d.matched_policies);
        }
        o.push_str(",\"evaluation_time_us\":");
        write_i64(&mut o, d.evaluation_time_us);
        if !d.message.is_empty() {
            o.push_str(",\"message\":");
            write_str(&mut o, &d.message);
        }
        if !d.suggestions.is_empty() {
            o.push_str(",\"suggestions\":");
            write_str_list(&mut o, &d.suggestions);
        }
        o.push('}');
        if let Some(r) = &self.response {
            o.push_str(",\"response\":{");
            if let Some(code) = r.exit_code {
                o.push_str("\"exit_code\":");
                write_i64(&mut o, code);
                o.push(',');
            }
            o.push_str("\"duration_ms\":");
            write_i64(&mut o, r.duration_ms);
            if !r.flags.is_empty() {
                o.push_str(",\"flags\":");
                write_str_list(&mut o, &r.flags);
            }
            o.push('}');
        }
        if !self.compacted_fields.is_empty() {
            o.push_str(",\"compacted_fields\":{");
            for (i, (k, c)) in self.compacted_fields.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                write_str(&mut o, k);
                o.push_str(":{\"original_json_bytes\":");
                write_i64(&mut o, c.original_json_bytes);
                o.push_str(",\"sha256\":");
                write_str(&mut o, &c.sha256);
                o.push_str(",\"disposition\":");
                write_str(&mut o, &c.disposition);
                o.push('}');
            }
            o.push('}');
        }
        o.push_str(",\"prev_hash\":");
        o
    }

    /// The stored line (without newline): Go JSON with the real hash.
    pub fn to_json(&self) -> String {
        self.to_json_with_hash(&self.hash)
    }

    /// The hash pre-image body: Go JSON with `hash` blanked.
    pub fn preimage_json(&self) -> String {
        self.to_json_with_hash("")
    }

    /// Parses one event from a JSON object the way Go's decoder fills the struct.
    pub fn from_value(v: &Value) -> Result<AuditEvent, RecordError> {
        let m = v.as_object().ok_or(RecordError::NotObject)?;
        let mut e = AuditEvent {
            schema_version: get_string(m, "schema_version")?,
            id: get_string(m, "id")?,
            ..AuditEvent::default()
        };
        e.timestamp = match field(m, "timestamp") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                let t = DateTime::parse_from_rfc3339(s)
                    .map_err(|_| RecordError::Field("timestamp", "not an RFC 3339 time"))?;
                if format_rfc3339_nano(&t) == GO_ZERO_TIME {
                    None
                } else {
                    Some(t)
                }
            }
            Some(_) => return Err(RecordError::Field("timestamp", "not a string")),
        };
        e.agent = get_string(m, "agent")?;
        e.session = get_string(m, "session")?;
        e.host = match field(m, "host") {
            None | Some(Value::Null) => None,
            Some(Value::Object(h)) => Some(HostInfo {
                hostname: get_string(h, "hostname")?,
                os: get_string(h, "os")?,
                arch: get_string(h, "arch")?,
            }),
            Some(_) => return Err(RecordError::Field("host", "not an object")),
        };
        e.run_id = get_string(m, "run_id")?;
        e.tool_call_id = get_string(m, "tool_call_id")?;
        e.approval_owner = get_map(m, "approval_owner")?;
        e.tool = get_string(m, "tool")?;
        e.request = get_map(m, "request")?;
        match field(m, "decision") {
            None | Some(Value::Null) => {}
            Some(Value::Object(d)) => {
                e.decision = EventDecision {
                    action: get_string(d, "action")?,
                    matched_policies: get_str_list(d, "matched_policies")?,
                    evaluation_time_us: get_i64(d, "evaluation_time_us")?.unwrap_or(0),
                    message: get_string(d, "message")?,
                    suggestions: get_str_list(d, "suggestions")?,
                }
            }
            Some(_) => return Err(RecordError::Field("decision", "not an object")),
        }
        e.response = match field(m, "response") {
            None | Some(Value::Null) => None,
            Some(Value::Object(r)) => Some(EventResponse {
                exit_code: get_i64(r, "exit_code")?,
                duration_ms: get_i64(r, "duration_ms")?.unwrap_or(0),
                flags: get_str_list(r, "flags")?,
            }),
            Some(_) => return Err(RecordError::Field("response", "not an object")),
        };
        match field(m, "compacted_fields") {
            None | Some(Value::Null) => {}
            Some(Value::Object(c)) => {
                for (k, v) in c {
                    let cm = match v {
                        Value::Object(cm) => cm,
                        Value::Null => &Map::new(),
                        _ => return Err(RecordError::Field("compacted_fields", "not an object")),
                    };
                    e.compacted_fields.insert(
                        k.clone(),
                        CompactedField {
                            original_json_bytes: get_i64(cm, "original_json_bytes")?.unwrap_or(0),
                            sha256: get_string(cm, "sha256")?,
                            disposition: get_string(cm, "disposition")?,
                        },
                    );
                }
            }
            Some(_) => return Err(RecordError::Field("compacted_fields", "not an object")),
        }
        e.prev_hash = get_string(m, "prev_hash")?;
        e.hash = get_string(m, "hash")?;
        Ok(e)
    }
}

/// Completes a [`AuditEvent::json_prefix`] with the chain fields: `"prev","hash":"hash"}`.
pub fn finish_json(prefix: &mut String, prev_hash: &str, hash: &str) {
    write_str(prefix, prev_hash);
    prefix.push_str(",\"hash\":");
    write_str(prefix, hash);
    prefix.push('}');
}

/// Parses one line of a chain file into an event or a continuation header.
///
/// Invalid UTF-8 is replaced by U+FFFD first, as Go's decoder does.
pub fn parse_record(line: &[u8]) -> Result<Record, RecordError> {
    let text = String::from_utf8_lossy(line);
    let v: Value = serde_json::from_str(&text).map_err(|e| RecordError::Json(e.to_string()))?;
    let m = v.as_object().ok_or(RecordError::NotObject)?;
    if m.contains_key("chain_continue") && !m.contains_key("hash") {
        return Ok(Record::Continue(ChainContinue {
            chain_continue: get_string(m, "chain_continue")?,
            prev_file: get_string(m, "prev_file")?,
        }));
    }
    Ok(Record::Event(Box::new(AuditEvent::from_value(&v)?)))
}

/// Looks a struct field up like Go: exact key first, then ASCII case-insensitive.
fn field<'a>(m: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    m.get(name).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn get_string(m: &Map<String, Value>, name: &'static str) -> Result<String, RecordError> {
    match field(m, name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(RecordError::Field(name, "not a string")),
    }
}

fn get_i64(m: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, RecordError> {
    match field(m, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or(RecordError::Field(name, "not an integer")),
        Some(_) => Err(RecordError::Field(name, "not a number")),
    }
}

fn get_map(
    m: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<Map<String, Value>>, RecordError> {
    match field(m, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o.clone())),
        Some(_) => Err(RecordError::Field(name, "not an object")),
    }
}

fn get_str_list(m: &Map<String, Value>, name: &'static str) -> Result<Vec<String>, RecordError> {
    match field(m, name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Null => Ok(String::new()),
                _ => Err(RecordError::Field(name, "not a list of strings")),
            })
            .collect(),
        Some(_) => Err(RecordError::Field(name, "not a list")),
    }
}

/// Appends `v` as Go would (helper for other modules that embed raw values).
pub fn go_json_value(v: &Value) -> String {
    let mut s = String::new();
    write_value(&mut s, v);
    s
}
