//! Byte-exact reproduction of Go `encoding/json` output for the values an audit event holds.
//!
//! Go escapes `<`, `>`, `&`, U+2028 and U+2029, writes control characters as `\u00XX` (except
//! `\n`, `\r`, `\t`), sorts map keys bytewise and prints every number as a float64.

use serde_json::Value;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a Go-escaped JSON string (with quotes) to `out`.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{2028}' => Some("\\u2028"),
            '\u{2029}' => Some("\\u2029"),
            _ => None,
        };
        let needs_hex = (c as u32) < 0x20 || c == '<' || c == '>' || c == '&';
        if esc.is_none() && !needs_hex {
            continue;
        }
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let b = c as u32 as u8;
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xf) as usize] as char);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends a float64 formatted the way Go's encoder does (`1e+21`, `1e-7`, `-0`, `0.5`).
///
/// Non-finite values cannot be produced by JSON parsing; they are written as `null`.
pub fn write_f64(out: &mut String, f: f64) {
    use std::fmt::Write;
    if !f.is_finite() {
        out.push_str("null");
        return;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust's `{:e}` is the shortest round-trip form, like Go's 'e' with precision -1,
        // but without the `+` sign and Go's two-digit minimum exponent (which Go then
        // trims again for negative exponents, so only positive ones differ).
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mant, exp)) if !exp.starts_with('-') => {
                out.push_str(mant);
                out.push_str("e+");
                if exp.len() < 2 {
                    out.push('0');
                }
                out.push_str(exp);
            }
            _ => out.push_str(&s),
        }
    } else {
        let _ = write!(out, "{f}");
    }
}

/// Appends a signed integer (Go `int`/`int64` fields).
pub fn write_i64(out: &mut String, v: i64) {
    use std::fmt::Write;
    let _ = write!(out, "{v}");
}

/// Appends any JSON value the way Go re-encodes an `interface{}` decoded from JSON.
pub fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_f64(out, n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => write_str(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(m) => write_map(out, m),
    }
}

/// Appends a JSON object with keys sorted bytewise, as Go does for maps.
pub fn write_map(out: &mut String, m: &serde_json::Map<String, Value>) {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    out.push('{');
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, k);
        out.push(':');
        if let Some(v) = m.get(k) {
            write_value(out, v);
        }
    }
    out.push('}');
}

/// Appends a list of strings as a JSON array.
pub fn write_str_list(out: &mut String, list: &[String]) {
    out.push('[');
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, s);
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: f64) -> String {
        let mut s = String::new();
        write_f64(&mut s, v);
        s
    }

    #[test]
    fn floats_match_go() {
        assert_eq!(f(0.0), "0");
        assert_eq!(f(-0.0), "-0");
        assert_eq!(f(1.0), "1");
        assert_eq!(f(8.0), "8");
        assert_eq!(f(0.5), "0.5");
        assert_eq!(f(1e20), "100000000000000000000");
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(1.5e300), "1.5e+300");
        assert_eq!(f(0.000001), "0.000001");
        assert_eq!(f(1e-7), "1e-7");
        assert_eq!(f(1.25e-10), "1.25e-10");
        assert_eq!(f(9007199254740993.0), "9007199254740992");
        assert_eq!(f(-3.25), "-3.25");
    }

    #[test]
    fn strings_match_go() {
        let mut s = String::new();
        write_str(&mut s, "a\"b\\c\n\r\t\u{1}<>&\u{2028}\u{2029}é\u{7f}");
        assert_eq!(
            s,
            "\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u003c\\u003e\\u0026\\u2028\\u2029é\u{7f}\""
        );
    }
}
