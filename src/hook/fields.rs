//! Reading security-bearing fields out of host payloads: aliases that must agree, batches of
//! paths and commands, response text for scanning, and shape-preserving redaction.

use serde_json::{Map, Value};

/// Most members a batched call (patch, multi-file edit, command list) may carry.
pub const MAX_BATCH: usize = 100;

/// The text that replaces every string of a blocked tool response.
pub const BLOCKED_TEXT: &str = "[blocked by Rampart response policy]";

/// Reads one value that may be spelled several ways. Every alias present must be a string;
/// blank values are ignored; two different non-blank values are an error. The result is trimmed.
pub fn alias(
    obj: &Map<String, Value>,
    keys: &[&str],
    what: &str,
) -> Result<Option<String>, String> {
    let mut found: Option<(String, &str)> = None;
    for k in keys {
        match obj.get(*k) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                let t = s.trim();
                if t.is_empty() {
                    continue;
                }
                if t.contains('\0') {
                    return Err(format!("{what} field {k:?} contains a NUL byte"));
                }
                match &found {
                    Some((v, first)) if v != t => {
                        return Err(format!(
                            "conflicting {what} aliases ({first:?} and {k:?} differ)"
                        ));
                    }
                    Some(_) => {}
                    None => found = Some((t.to_string(), k)),
                }
            }
            Some(_) => return Err(format!("{what} field {k:?} must be a string")),
        }
    }
    Ok(found.map(|(v, _)| v))
}

/// Like [`alias`] but the value must be present.
pub fn required(obj: &Map<String, Value>, keys: &[&str], what: &str) -> Result<String, String> {
    alias(obj, keys, what)?
        .ok_or_else(|| format!("missing {what} (expected one of {})", keys.join(", ")))
}

/// Lenient alias read for post-call events: the first non-blank string, no errors.
pub fn lenient(obj: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| {
        obj.get(*k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    })
}

/// Reads `value` into `params[key]` (pre-call: strict; post-call: lenient).
pub fn canon(
    params: &mut Map<String, Value>,
    keys: &[&str],
    canonical: &str,
    what: &str,
    strict: bool,
    required_pre: bool,
) -> Result<Option<String>, String> {
    let v = if strict {
        if required_pre {
            Some(required(params, keys, what)?)
        } else {
            alias(params, keys, what)?
        }
    } else {
        lenient(params, keys)
    };
    if let Some(v) = &v {
        params.insert(canonical.into(), Value::String(v.clone()));
    }
    Ok(v)
}

/// Turns a non-object tool input into `{"input": value}`; `null` becomes `{}`.
pub fn object_input(v: Option<&Value>) -> Map<String, Value> {
    match v {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            let mut m = Map::new();
            m.insert("input".into(), other.clone());
            m
        }
    }
}

/// All string leaves of a tool response, depth-first, joined by newlines. In objects the keys
/// `stdout`, `stderr`, `content`, `output` come first, then the rest in sorted order.
pub fn response_text(v: &Value) -> String {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(m) => {
                const FIRST: [&str; 4] = ["stdout", "stderr", "content", "output"];
                for k in FIRST {
                    if let Some(x) = m.get(k) {
                        walk(x, out);
                    }
                }
                let mut rest: Vec<&String> =
                    m.keys().filter(|k| !FIRST.contains(&k.as_str())).collect();
                rest.sort();
                for k in rest {
                    walk(&m[k], out);
                }
            }
            _ => {}
        }
    }
    if let Value::String(s) = v {
        return s.clone();
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    if out.is_empty() && !v.is_null() {
        return v.to_string();
    }
    out.join("\n")
}

/// The response with every string (in objects and arrays, recursively) replaced by
/// [`BLOCKED_TEXT`]; numbers, booleans and null untouched, so structured tools accept it.
pub fn redact_shape(v: &Value) -> Value {
    match v {
        Value::String(_) => Value::String(BLOCKED_TEXT.into()),
        Value::Array(a) => Value::Array(a.iter().map(redact_shape).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), redact_shape(x)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Quotes one word for a POSIX shell when it needs quoting.
pub fn shell_quote(w: &str) -> String {
    if !w.is_empty()
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        return w.to_string();
    }
    format!("'{}'", w.replace('\'', r"'\''"))
}

/// Adds a batch member, refusing NUL bytes and more than [`MAX_BATCH`] distinct members.
pub fn push_member(list: &mut Vec<String>, v: &str, what: &str) -> Result<(), String> {
    let t = v.trim();
    if t.is_empty() {
        return Ok(());
    }
    if t.contains('\0') {
        return Err(format!("{what} contains a NUL byte"));
    }
    if !list.iter().any(|x| x == t) {
        if list.len() >= MAX_BATCH {
            return Err(format!(
                "more than {MAX_BATCH} {what}s in one call; split it into smaller calls"
            ));
        }
        list.push(t.to_string());
    }
    Ok(())
}

/// Paths named by an `apply_patch` body (`*** Add File:`, `*** Update File:`,
/// `*** Delete File:`, `*** Move to:`).
pub fn patch_paths(patch: &str) -> Result<Vec<String>, String> {
    const MARKERS: [&str; 4] = [
        "*** Add File:",
        "*** Update File:",
        "*** Delete File:",
        "*** Move to:",
    ];
    let mut out = Vec::new();
    for line in patch.lines() {
        let line = line.trim_start();
        if let Some(m) = MARKERS.iter().find(|m| line.starts_with(**m)) {
            let p = line[m.len()..].trim();
            if p.is_empty() {
                return Err("patch names an empty file path".into());
            }
            push_member(&mut out, p, "patch path")?;
        }
    }
    if out.is_empty() {
        return Err("patch names no files".into());
    }
    Ok(out)
}

/// Collects every path a call names: the string `scalar` keys, and the `arrays` keys holding
/// strings or objects with those keys (nested). NUL bytes and more than [`MAX_BATCH`] distinct
/// paths are errors.
pub fn collect_paths(
    obj: &Map<String, Value>,
    scalar: &[&str],
    arrays: &[&str],
) -> Result<Vec<String>, String> {
    fn from_value(
        v: &Value,
        scalar: &[&str],
        arrays: &[&str],
        out: &mut Vec<String>,
        depth: u8,
    ) -> Result<(), String> {
        if depth > 8 {
            return Err("path list nested too deeply".into());
        }
        match v {
            Value::String(s) => push_member(out, s, "path"),
            Value::Array(a) => a
                .iter()
                .try_for_each(|x| from_value(x, scalar, arrays, out, depth + 1)),
            Value::Object(m) => {
                for k in scalar.iter().chain(arrays) {
                    if let Some(x) = m.get(*k) {
                        from_value(x, scalar, arrays, out, depth + 1)?;
                    }
                }
                Ok(())
            }
            Value::Null => Ok(()),
            _ => Err("path must be a string".into()),
        }
    }
    let mut out = Vec::new();
    if let Some(p) = alias(obj, scalar, "path")? {
        push_member(&mut out, &p, "path")?;
    }
    for k in arrays {
        if let Some(v) = obj.get(*k) {
            from_value(v, scalar, arrays, &mut out, 0)?;
        }
    }
    Ok(out)
}

/// Writes collected paths into params: `path` is the first, `paths` all of them when several.
pub fn set_paths(params: &mut Map<String, Value>, paths: &[String]) {
    if let Some(first) = paths.first() {
        params.insert("path".into(), Value::String(first.clone()));
    }
    if paths.len() > 1 {
        params.insert(
            "paths".into(),
            Value::Array(paths.iter().cloned().map(Value::String).collect()),
        );
    }
}

/// A command given as a string, an argv array, or `{command|cmd, args[]}`, as one shell line.
pub fn command_line(v: &Value) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Value::Array(a) => {
            // `["bash", "-lc", "<script>"]` is the script itself (what the engine would unwrap).
            if let [
                Value::String(sh),
                Value::String(flag),
                Value::String(script),
            ] = a.as_slice()
                && matches!(sh.rsplit('/').next(), Some("bash" | "sh" | "zsh" | "dash"))
                && matches!(flag.as_str(), "-c" | "-lc")
            {
                return Ok(Some(script.trim().to_string()).filter(|s| !s.is_empty()));
            }
            let mut words = Vec::with_capacity(a.len());
            for w in a {
                words.push(shell_quote(
                    w.as_str().ok_or("command array must hold strings")?,
                ));
            }
            Ok(Some(words.join(" ")).filter(|s| !s.is_empty()))
        }
        Value::Object(m) => {
            let Some(base) = m.get("command").or_else(|| m.get("cmd")) else {
                return Err("command object has no command".into());
            };
            let mut line = command_line(base)?.unwrap_or_default();
            if let Some(args) = m.get("args") {
                let a = args.as_array().ok_or("command args must be an array")?;
                for w in a {
                    line.push(' ');
                    line.push_str(&shell_quote(
                        w.as_str().ok_or("command args must be strings")?,
                    ));
                }
            }
            Ok(Some(line.trim().to_string()).filter(|s| !s.is_empty()))
        }
        _ => Err("command must be a string".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn aliases_must_agree() {
        let o = obj(json!({"path": " /a ", "file_path": "/a"}));
        assert_eq!(
            alias(&o, &["path", "file_path"], "path")
                .unwrap()
                .as_deref(),
            Some("/a")
        );
        let o = obj(json!({"path": "/a", "file_path": "/b"}));
        assert!(
            alias(&o, &["path", "file_path"], "path")
                .unwrap_err()
                .contains("conflicting")
        );
        let o = obj(json!({"path": 3}));
        assert!(
            alias(&o, &["path"], "path")
                .unwrap_err()
                .contains("must be a string")
        );
        let o = obj(json!({"path": "  "}));
        assert_eq!(alias(&o, &["path"], "path").unwrap(), None);
    }

    #[test]
    fn response_text_orders_keys() {
        let v = json!({"z": "last", "stderr": "err", "stdout": "out", "a": ["x", {"content": "c"}], "n": 3});
        assert_eq!(response_text(&v), "out\nerr\nx\nc\nlast");
        assert_eq!(response_text(&json!("plain")), "plain");
    }

    #[test]
    fn redaction_keeps_shape() {
        let v = json!({"stdout": "secret", "code": 0, "ok": true, "l": ["a", null]});
        assert_eq!(
            redact_shape(&v),
            json!({"stdout": BLOCKED_TEXT, "code": 0, "ok": true, "l": [BLOCKED_TEXT, null]})
        );
    }

    #[test]
    fn patch_paths_are_collected() {
        let p = "*** Begin Patch\n*** Update File: src/a.rs\n@@\n*** Add File: b.txt\n*** Delete File: src/a.rs\n*** End Patch";
        assert_eq!(patch_paths(p).unwrap(), ["src/a.rs", "b.txt"]);
        assert!(patch_paths("nothing").is_err());
    }

    #[test]
    fn argv_commands() {
        let v = serde_json::json!(["bash", "-lc", "git status && ls"]);
        assert_eq!(
            command_line(&v).unwrap().as_deref(),
            Some("git status && ls")
        );
        let v = serde_json::json!(["rm", "-rf", "my dir"]);
        assert_eq!(
            command_line(&v).unwrap().as_deref(),
            Some("rm -rf 'my dir'")
        );
        let v = serde_json::json!({"command": "git", "args": ["commit", "-m", "a b"]});
        assert_eq!(
            command_line(&v).unwrap().as_deref(),
            Some("git commit -m 'a b'")
        );
        assert!(command_line(&serde_json::json!([1])).is_err());
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("-rf"), "-rf");
    }
}
