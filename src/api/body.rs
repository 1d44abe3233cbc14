//! Strict JSON request bodies: a size limit (413), exactly one JSON value (trailing data → 400),
//! duplicate object keys rejected at any depth (400), then typed decoding (wrong types → 400).

use std::fmt;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::error::ApiError;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Deepest nesting of arrays/objects accepted.
pub const MAX_DEPTH: usize = 64;

/// A JSON body decoded strictly into `T`.
#[derive(Debug)]
pub struct StrictJson<T>(pub T);

/// Reads the whole body, enforcing [`MAX_BODY_BYTES`].
pub async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            let too_big = std::error::Error::source(&e)
                .is_some_and(|s| s.to_string().contains("length limit"))
                || e.to_string().contains("length limit");
            if too_big {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("request body too large (limit {MAX_BODY_BYTES} bytes)"),
                )
            } else {
                ApiError::bad_request(format!("invalid request body: {e}"))
            }
        })
}

/// Parses `bytes` as exactly one JSON value without duplicate keys.
pub fn parse_value(bytes: &[u8]) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = UniqueValue { depth: 0 }
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    de.end()
        .map_err(|e| format!("invalid trailing data after the JSON value: {e}"))?;
    Ok(v)
}

/// Decodes `bytes` strictly into `T`; `empty_ok` turns an empty body into `{}`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], empty_ok: bool) -> Result<T, ApiError> {
    let v = if empty_ok && bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        parse_value(bytes)
            .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))?
    };
    serde_json::from_value(v)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for StrictJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let bytes = read_body(req.into_body()).await?;
        decode(&bytes, false).map(StrictJson)
    }
}

struct UniqueValue {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for UniqueValue {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(de::Error::custom("JSON nested too deeply"));
        }
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(UniqueValue {
            depth: self.depth + 1,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(de::Error::custom("JSON nested too deeply"));
        }
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            let v = map.next_value_seed(UniqueValue {
                depth: self.depth + 1,
            })?;
            if out.insert(k.clone(), v).is_some() {
                return Err(de::Error::custom(format!("duplicate key {k:?}")));
            }
        }
        Ok(Value::Object(out))
    }
}

/// Accepts a JSON body of any shape (for routes that ignore bodies but must not choke).
#[derive(Debug, Deserialize, Default)]
pub struct Ignored {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictness() {
        assert!(parse_value(br#"{"a":1}"#).is_ok());
        assert!(parse_value(b"{\"a\":1}  \n").is_ok());
        assert!(
            parse_value(br#"{"a":1}{"b":2}"#)
                .unwrap_err()
                .contains("trailing")
        );
        assert!(
            parse_value(br#"{"a":1,"a":2}"#)
                .unwrap_err()
                .contains("duplicate")
        );
        assert!(
            parse_value(br#"{"x":{"a":1,"a":2}}"#)
                .unwrap_err()
                .contains("duplicate")
        );
        assert!(parse_value(b"").is_err());
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(parse_value(deep.as_bytes()).unwrap_err().contains("deep"));
    }
}
