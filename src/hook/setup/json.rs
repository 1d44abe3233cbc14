//! A small JSON document model for editing host settings files in place.
//!
//! Unlike `serde_json::Value` (built here without `preserve_order`), it keeps object keys in
//! the order the user wrote them, keeps duplicate keys, and keeps every number and string
//! exactly as written (big integers, `1.0e-7`, `\u00e9` escapes), so a file round-trips
//! unchanged apart from indentation.

use std::fmt::Write as _;

/// Deepest nesting accepted; deeper documents are refused rather than risking the stack.
const MAX_DEPTH: usize = 256;

/// A JSON string: its decoded text plus, when it came from a file, the exact source spelling.
#[derive(Debug, Clone)]
pub struct JStr {
    value: String,
    raw: Option<String>,
}

impl JStr {
    /// A new string with no source spelling; written with minimal escaping.
    pub fn new(s: impl Into<String>) -> Self {
        JStr {
            value: s.into(),
            raw: None,
        }
    }

    /// The decoded text.
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

impl PartialEq for JStr {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

/// One JSON value.
#[derive(Debug, Clone)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, kept as its exact source text.
    Number(String),
    /// A string.
    String(JStr),
    /// An array.
    Array(Vec<Json>),
    /// An object: members in source order, duplicates kept.
    Object(Vec<(JStr, Json)>),
}

impl Json {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Json {
        Json::String(JStr::new(s))
    }

    /// An integer value.
    pub fn int(n: i64) -> Json {
        Json::Number(n.to_string())
    }

    /// An object from `(key, value)` pairs, in that order.
    pub fn object<'a>(members: impl IntoIterator<Item = (&'a str, Json)>) -> Json {
        Json::Object(
            members
                .into_iter()
                .map(|(k, v)| (JStr::new(k), v))
                .collect(),
        )
    }

    /// The decoded text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The members of an object.
    pub fn as_object(&self) -> Option<&Vec<(JStr, Json)>> {
        match self {
            Json::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The members of an object, mutably.
    pub fn as_object_mut(&mut self) -> Option<&mut Vec<(JStr, Json)>> {
        match self {
            Json::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The elements of an array.
    pub fn as_array(&self) -> Option<&Vec<Json>> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The elements of an array, mutably.
    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Json>> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The value of `key` in an object (the last one when the key is repeated, as hosts read it).
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.as_object()?
            .iter()
            .rev()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    /// Mutable access to the value of `key` (the last one when the key is repeated).
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        self.as_object_mut()?
            .iter_mut()
            .rev()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    /// Sets `key` in an object: replaces the last existing value in place, else inserts at
    /// `at_front` ? the start : the end. Does nothing on a non-object.
    pub fn set(&mut self, key: &str, value: Json, at_front: bool) {
        if let Some(slot) = self.get_mut(key) {
            *slot = value;
            return;
        }
        if let Some(m) = self.as_object_mut() {
            if at_front {
                m.insert(0, (JStr::new(key), value));
            } else {
                m.push((JStr::new(key), value));
            }
        }
    }

    /// Removes every member named `key` from an object; returns whether any was there.
    pub fn remove(&mut self, key: &str) -> bool {
        match self.as_object_mut() {
            Some(m) => {
                let before = m.len();
                m.retain(|(k, _)| k.as_str() != key);
                m.len() != before
            }
            None => false,
        }
    }

    /// Structural equality: object member order is ignored (last duplicate wins), numbers
    /// compare by their text, strings by their decoded value.
    pub fn same_as(&self, other: &Json) -> bool {
        match (self, other) {
            (Json::Null, Json::Null) => true,
            (Json::Bool(a), Json::Bool(b)) => a == b,
            (Json::Number(a), Json::Number(b)) => a == b,
            (Json::String(a), Json::String(b)) => a == b,
            (Json::Array(a), Json::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_as(y))
            }
            (Json::Object(a), Json::Object(b)) => {
                fn keys(m: &[(JStr, Json)]) -> Vec<&str> {
                    let mut k: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
                    k.sort_unstable();
                    k.dedup();
                    k
                }
                let ka = keys(a);
                ka == keys(b)
                    && ka.iter().all(|k| match (self.get(k), other.get(k)) {
                        (Some(x), Some(y)) => x.same_as(y),
                        _ => false,
                    })
            }
            _ => false,
        }
    }

    /// The document as text: 2-space indent, `": "` after keys, trailing newline.
    pub fn to_pretty(&self) -> String {
        let mut out = String::new();
        write_value(&mut out, self, 0);
        out.push('\n');
        out
    }
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn write_value(out: &mut String, v: &Json, level: usize) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(n),
        Json::String(s) => write_str(out, s),
        Json::Array(a) if a.is_empty() => out.push_str("[]"),
        Json::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('\n');
                indent(out, level + 1);
                write_value(out, item, level + 1);
            }
            out.push('\n');
            indent(out, level);
            out.push(']');
        }
        Json::Object(m) if m.is_empty() => out.push_str("{}"),
        Json::Object(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('\n');
                indent(out, level + 1);
                write_str(out, k);
                out.push_str(": ");
                write_value(out, item, level + 1);
            }
            out.push('\n');
            indent(out, level);
            out.push('}');
        }
    }
}

fn write_str(out: &mut String, s: &JStr) {
    out.push('"');
    match &s.raw {
        Some(raw) => out.push_str(raw),
        None => {
            for c in s.value.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '\u{8}' => out.push_str("\\b"),
                    '\u{c}' => out.push_str("\\f"),
                    c if (c as u32) < 0x20 || c == '\u{7f}' => {
                        let _ = write!(out, "\\u{:04x}", c as u32);
                    }
                    c => out.push(c),
                }
            }
        }
    }
    out.push('"');
}

/// Why a document is not valid JSON, with a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{msg} at line {line}, column {column}")]
pub struct ParseError {
    /// What is wrong.
    pub msg: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
}

/// Parses one JSON document (RFC 8259, UTF-8, surrounding whitespace allowed).
pub fn parse(bytes: &[u8]) -> Result<Json, ParseError> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let mut p =
                Parser::new(std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default());
            p.pos = p.src.len();
            return Err(p.error("invalid UTF-8"));
        }
    };
    let mut p = Parser::new(text);
    p.skip_ws();
    let v = p.value(0)?;
    p.skip_ws();
    if p.pos != p.src.len() {
        return Err(p.error("unexpected text after the JSON value"));
    }
    Ok(v)
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser { src, pos: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.src.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn error(&self, msg: &str) -> ParseError {
        let before = &self.src[..self.pos.min(self.src.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ParseError {
            msg: msg.to_string(),
            line,
            column,
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, b: u8, what: &str) -> Result<(), ParseError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    fn literal(&mut self, word: &str, v: Json) -> Result<Json, ParseError> {
        if self.src[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.error("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting is too deep"));
        }
        match self.peek() {
            None => Err(self.error("unexpected end of input")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, ParseError> {
        self.pos += 1;
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a string key"));
            }
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':', "expected ':' after an object key")?;
            self.skip_ws();
            let v = self.value(depth + 1)?;
            members.push((key, v));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(self.error("expected ',' or '}' in an object")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, ParseError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']' in an array")),
            }
        }
    }

    fn number(&mut self) -> Result<Json, ParseError> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let s = p.pos;
            while let Some(b'0'..=b'9') = p.peek() {
                p.pos += 1;
            }
            p.pos - s
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return Err(self.error("invalid number: no digits after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("invalid number: no digits in the exponent"));
            }
        }
        Ok(Json::Number(self.src[start..self.pos].to_string()))
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let h = self
            .src
            .get(self.pos..self.pos + 4)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        self.pos += 4;
        u32::from_str_radix(h, 16).map_err(|_| self.error("invalid \\u escape"))
    }

    fn string(&mut self) -> Result<JStr, ParseError> {
        self.pos += 1;
        let start = self.pos;
        let mut value = String::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            match b {
                b'"' => {
                    let raw = self.src[start..self.pos].to_string();
                    self.pos += 1;
                    return Ok(JStr {
                        value,
                        raw: Some(raw),
                    });
                }
                b'\\' => {
                    self.pos += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.error("unterminated string"));
                    };
                    self.pos += 1;
                    match e {
                        b'"' => value.push('"'),
                        b'\\' => value.push('\\'),
                        b'/' => value.push('/'),
                        b'b' => value.push('\u{8}'),
                        b'f' => value.push('\u{c}'),
                        b'n' => value.push('\n'),
                        b'r' => value.push('\r'),
                        b't' => value.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let c = if (0xD800..0xDC00).contains(&hi)
                                && self.src[self.pos..].starts_with("\\u")
                            {
                                let save = self.pos;
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                                } else {
                                    self.pos = save;
                                    None
                                }
                            } else {
                                char::from_u32(hi)
                            };
                            // A lone surrogate decodes to U+FFFD, as most hosts' parsers do.
                            value.push(c.unwrap_or('\u{fffd}'));
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.error("invalid escape in string"));
                        }
                    }
                }
                0x00..=0x1f => return Err(self.error("control character in string")),
                _ => {
                    let rest = &self.src[self.pos..];
                    let n = rest
                        .find(['"', '\\'])
                        .unwrap_or(rest.len())
                        .min(rest.bytes().position(|b| b < 0x20).unwrap_or(rest.len()));
                    value.push_str(&rest[..n]);
                    self.pos += n;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(s: &str) -> String {
        parse(s.as_bytes()).expect("valid").to_pretty()
    }

    #[test]
    fn keeps_order_numbers_and_escapes() {
        let src = "{\"z\":12345678901234567890,\"a\":1.0e-7,\"m\":\"caf\\u00e9 ☃ \\\"q\\\"\",\"e\":[],\"o\":{},\"n\":[null,true,false,-0.5E+3]}";
        let want = "{\n  \"z\": 12345678901234567890,\n  \"a\": 1.0e-7,\n  \"m\": \"caf\\u00e9 ☃ \\\"q\\\"\",\n  \"e\": [],\n  \"o\": {},\n  \"n\": [\n    null,\n    true,\n    false,\n    -0.5E+3\n  ]\n}\n";
        assert_eq!(round(src), want);
        assert_eq!(round(want), want);
        let v = parse(src.as_bytes()).unwrap();
        assert_eq!(v.get("m").and_then(Json::as_str), Some("café ☃ \"q\""));
    }

    #[test]
    fn rejects_invalid_documents() {
        for bad in [
            "",
            "{",
            "{\"a\":}",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            "1e",
            "\"\u{1}\"",
            "\"\\x\"",
            "{} x",
            "{'a':1}",
            "NaN",
            "\"\\u12\"",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?} should be refused");
        }
        assert!(parse(b"\xff").is_err());
        let deep = "[".repeat(MAX_DEPTH + 2);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn surrogates_and_error_positions() {
        let v = parse(br#""\ud83d\ude00 \ud800""#).unwrap();
        assert_eq!(v.as_str(), Some("😀 \u{fffd}"));
        let e = parse(b"{\n  \"a\": tru\n}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 8));
    }

    #[test]
    fn new_strings_are_escaped_and_equality_ignores_order() {
        let v = Json::object([("k", Json::str("a\"b\\c\n\u{1}é & <"))]);
        assert_eq!(
            v.to_pretty(),
            "{\n  \"k\": \"a\\\"b\\\\c\\n\\u0001é & <\"\n}\n"
        );
        let a = parse(br#"{"x":1,"y":[1,"\u0041"]}"#).unwrap();
        let b = parse(br#"{"y":[1,"A"],"x":1}"#).unwrap();
        assert!(a.same_as(&b));
        let c = parse(br#"{"y":[1,"A"],"x":1.0}"#).unwrap();
        assert!(!a.same_as(&c));
    }

    #[test]
    fn duplicate_keys_are_kept_and_last_wins() {
        let mut v = parse(br#"{"a":1,"a":2}"#).unwrap();
        assert_eq!(v.get("a").map(|x| x.same_as(&Json::int(2))), Some(true));
        v.set("a", Json::int(3), false);
        assert_eq!(v.to_pretty(), "{\n  \"a\": 1,\n  \"a\": 3\n}\n");
    }
}
