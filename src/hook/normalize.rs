//! Small helpers shared by the host formats.

use serde_json::{Map, Value};

/// An optional string field; present but not a string is an error.
pub fn opt_str(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(_) => Err(format!("{key} must be a string")),
    }
}

/// Host ids travel into file names and audit records: `[A-Za-z0-9_-]`, at most 256 bytes.
pub fn valid_id(id: &str, what: &str) -> Result<(), String> {
    if id.len() > 256
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!("invalid {what}"));
    }
    Ok(())
}

/// Writes `url` and the `domain`/`scheme` derived from it (never taken from the caller).
pub fn set_url(params: &mut Map<String, Value>, url: &str) {
    params.insert("url".into(), Value::String(url.to_string()));
    params.remove("domain");
    params.remove("scheme");
    if let Some(parts) = crate::engine::url::parse(url) {
        if !parts.host.is_empty() {
            params.insert("domain".into(), Value::String(parts.host.to_string()));
        }
        params.insert("scheme".into(), Value::String(parts.scheme.to_string()));
    }
}

/// Lower-cases a host tool name for table lookups.
pub fn lower(name: &str) -> String {
    name.trim().to_ascii_lowercase()
}
