//! The JSON-RPC pieces the proxy needs: request ids as exact bytes and as type-tagged keys,
//! ambiguous (case-variant) member names, and the lines the proxy writes itself.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Longest request id accepted (bytes of its JSON text).
pub const MAX_ID_BYTES: usize = 1024;

/// Envelope members that must be spelled exactly (`"Method"` beside `"method"` is refused).
pub const ENVELOPE: &[&str] = &["jsonrpc", "id", "method", "params", "result", "error"];

/// Standard JSON-RPC error codes used by the proxy.
pub mod code {
    /// The frame is not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// The frame is not an acceptable request (also used for policy denials).
    pub const INVALID_REQUEST: i64 = -32600;
    /// The request's params are unusable.
    pub const INVALID_PARAMS: i64 = -32602;
    /// The proxy could not do its part (audit storage unavailable).
    pub const INTERNAL_ERROR: i64 = -32603;
}

/// A request id as a map key: strings and integers never collide (`"1"` ≠ `1`), and integral
/// numbers in any spelling (`1`, `1.0`, `1e0`) are the same id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IdKey {
    /// A string id.
    Str(String),
    /// An integral number id.
    Int(i128),
}

/// The key of a usable request id: a string or an integral number, at most
/// [`MAX_ID_BYTES`] long. `None` for null, other types, fractions and oversize ids.
pub fn id_key(v: &Value) -> Option<IdKey> {
    match v {
        Value::String(s) if s.len() <= MAX_ID_BYTES => Some(IdKey::Str(s.clone())),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(IdKey::Int(i128::from(i)))
            } else if let Some(u) = n.as_u64() {
                Some(IdKey::Int(i128::from(u)))
            } else {
                let f = n.as_f64()?;
                (f.is_finite() && f.fract() == 0.0 && f.abs() < 1e36)
                    .then_some(IdKey::Int(f as i128))
            }
        }
        _ => None,
    }
}

#[derive(Deserialize)]
struct IdOnly<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
}

/// The `id` member of a frame exactly as it was sent (`"null"` when absent or unreadable).
pub fn raw_id(frame: &[u8]) -> String {
    match serde_json::from_slice::<IdOnly<'_>>(frame) {
        Ok(IdOnly { id: Some(r) }) => r.get().to_string(),
        _ => "null".into(),
    }
}

/// The first member of `m` that is a case variant of one of `names` but not spelled exactly.
pub fn shadowed<'a>(m: &'a Map<String, Value>, names: &[&str]) -> Option<&'a str> {
    m.keys()
        .map(String::as_str)
        .find(|k| names.iter().any(|n| k.eq_ignore_ascii_case(n) && k != n))
}

fn json_str(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// A JSON-RPC error response line for request `raw_id` (the id's exact JSON text).
pub fn error_line(raw_id: &str, code: i64, message: &str) -> Vec<u8> {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{raw_id},\"error\":{{\"code\":{code},\"message\":{}}}}}\n",
        json_str(message)
    )
    .into_bytes()
}

/// A `tools/call` result line with `isError: true` and one text item.
pub fn tool_error_line(raw_id: &str, text: &str) -> Vec<u8> {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{raw_id},\"result\":{{\"content\":[{{\"type\":\"text\",\"text\":{}}}],\"isError\":true}}}}\n",
        json_str(text)
    )
    .into_bytes()
}

/// A success response line for request `raw_id` carrying `result`.
pub fn result_line(raw_id: &str, result: &Value) -> Vec<u8> {
    format!("{{\"jsonrpc\":\"2.0\",\"id\":{raw_id},\"result\":{result}}}\n").into_bytes()
}

/// Strips ASCII whitespace (including the line terminator) from both ends.
pub fn trim(frame: &[u8]) -> &[u8] {
    frame.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn id_keys_are_type_tagged_and_normalised() {
        assert_eq!(id_key(&json!(1)), Some(IdKey::Int(1)));
        let one_float: Value = serde_json::from_str("1.0").expect("json");
        assert_eq!(id_key(&one_float), Some(IdKey::Int(1)));
        let one_exp: Value = serde_json::from_str("1e0").expect("json");
        assert_eq!(id_key(&one_exp), Some(IdKey::Int(1)));
        assert_eq!(id_key(&json!("1")), Some(IdKey::Str("1".into())));
        assert_ne!(id_key(&json!("1")), id_key(&json!(1)));
        assert_eq!(id_key(&json!(1.5)), None);
        assert_eq!(id_key(&json!(null)), None);
        assert_eq!(id_key(&json!({"a": 1})), None);
        assert_eq!(id_key(&json!("x".repeat(MAX_ID_BYTES + 1))), None);
    }

    #[test]
    fn raw_ids_are_exact() {
        assert_eq!(raw_id(br#"{"id":1.0,"method":"x"}"#), "1.0");
        assert_eq!(raw_id(br#"{"method":"x","id":"a\u00e9"}"#), r#""a\u00e9""#);
        assert_eq!(raw_id(br#"{"method":"x"}"#), "null");
        assert_eq!(
            raw_id(br#"{"id":123456789012345678901234567890}"#),
            "123456789012345678901234567890"
        );
    }

    #[test]
    fn lines_are_valid_json() {
        let l = error_line("7", code::INVALID_REQUEST, "Rampart: no \"quotes\"\n");
        let v: Value = serde_json::from_slice(&l).expect("json");
        assert_eq!(v["id"], 7);
        assert_eq!(v["error"]["code"], -32600);
        assert_eq!(v["error"]["message"], "Rampart: no \"quotes\"\n");
        assert_eq!(l.last(), Some(&b'\n'));
        let l = tool_error_line("\"a\"", "withheld");
        let v: Value = serde_json::from_slice(&l).expect("json");
        assert_eq!(v["result"]["isError"], true);
        assert_eq!(v["result"]["content"][0]["text"], "withheld");
    }

    #[test]
    fn case_variants_are_found() {
        let m: Map<String, Value> = serde_json::from_str(r#"{"Method":"x","id":1}"#).expect("json");
        assert_eq!(shadowed(&m, ENVELOPE), Some("Method"));
        let m: Map<String, Value> = serde_json::from_str(r#"{"method":"x","id":1}"#).expect("json");
        assert_eq!(shadowed(&m, ENVELOPE), None);
    }
}
