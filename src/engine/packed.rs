//! A compact binary form of a decoded policy file, for the profiles embedded in the binary.
//!
//! `build.rs` decodes each embedded profile strictly from YAML, validates it with
//! [`super::validate`], and writes it in this form; the engine reads it back with no parsing,
//! no field-name matching and no validation (spec/engine.md §16: every one-shot `rampart hook`
//! loads the embedded profile). The same file serves both sides (`build.rs` includes it), and
//! every struct is written and read through one exhaustive field list, so a field added to the
//! model without being added here does not compile.
//!
//! Layout: a magic header, the length of the string pool, the pool (every string's bytes, one
//! after another, so UTF-8 is checked once for all of them), then each value in field order.
//! Integers are LEB128 (signed ones zigzag-encoded), a string is its length (its bytes are the
//! pool's next ones), a list is its length then its items, `Option` is a 0/1 byte then the
//! value, and JSON maps (test-case params) are strings holding their JSON text.

use std::collections::BTreeMap;

use super::model::{
    AskBlock, CallCount, DepthBounds, Notify, OneOrMany, Policy, PolicyFile, Rule, Scope, TestCase,
    Text, WebhookBlock, When,
};

/// First bytes of every packed file (the last digit is the layout version).
const MAGIC: &[u8] = b"RAMPART-PACKED-2";

/// Encodes a decoded policy file.
pub fn encode(file: &PolicyFile) -> Vec<u8> {
    let mut w = Writer::default();
    file.put(&mut w);
    let mut out = MAGIC.to_vec();
    put_varint(&mut out, w.pool.len() as u64);
    out.extend_from_slice(&w.pool);
    out.extend_from_slice(&w.stream);
    out
}

/// Decodes what [`encode`] wrote; `None` when the bytes are not exactly one packed file.
pub fn decode(bytes: &[u8]) -> Option<PolicyFile> {
    let mut head = Reader {
        b: bytes.strip_prefix(MAGIC)?,
        pool: "",
    };
    let n = head.len()?;
    let (pool, stream) = head.b.split_at_checked(n)?;
    let mut r = Reader {
        b: stream,
        pool: std::str::from_utf8(pool).ok()?,
    };
    let file = PolicyFile::take(&mut r)?;
    (r.b.is_empty() && r.pool.is_empty()).then_some(file)
}

/// What is being written: the string pool and the value stream.
#[derive(Default)]
struct Writer {
    pool: Vec<u8>,
    stream: Vec<u8>,
}

/// The unread rest of a packed file's value stream and string pool.
struct Reader<'a> {
    b: &'a [u8],
    pool: &'a str,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&x, rest) = self.b.split_first()?;
        self.b = rest;
        Some(x)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let x = self.byte()?;
            v |= u64::from(x & 0x7f) << shift;
            if x & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// A length that cannot exceed what is left (every item takes at least one byte).
    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.varint()?)
            .ok()
            .filter(|&n| n <= self.b.len())
    }

    fn str(&mut self) -> Option<&'a str> {
        let n = usize::try_from(self.varint()?).ok()?;
        let s = self.pool.get(..n)?;
        self.pool = self.pool.get(n..)?;
        Some(s)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let low = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

fn put_str(w: &mut Writer, s: &str) {
    put_varint(&mut w.stream, s.len() as u64);
    w.pool.extend_from_slice(s.as_bytes());
}

/// A value with a packed form.
trait Packed: Sized {
    fn put(&self, out: &mut Writer);
    fn take(r: &mut Reader<'_>) -> Option<Self>;
}

impl Packed for String {
    fn put(&self, out: &mut Writer) {
        put_str(out, self);
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        r.str().map(str::to_owned)
    }
}

impl Packed for Text {
    fn put(&self, out: &mut Writer) {
        put_str(out, &self.0);
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        String::take(r).map(Text)
    }
}

impl Packed for OneOrMany {
    fn put(&self, out: &mut Writer) {
        self.0.put(out);
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        Vec::take(r).map(OneOrMany)
    }
}

impl Packed for bool {
    fn put(&self, out: &mut Writer) {
        out.stream.push(u8::from(*self));
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        match r.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

impl Packed for i64 {
    fn put(&self, out: &mut Writer) {
        put_varint(&mut out.stream, ((*self << 1) ^ (*self >> 63)) as u64);
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        let z = r.varint()?;
        Some((z >> 1) as i64 ^ -((z & 1) as i64))
    }
}

impl Packed for u32 {
    fn put(&self, out: &mut Writer) {
        put_varint(&mut out.stream, u64::from(*self));
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        u32::try_from(r.varint()?).ok()
    }
}

impl<T: Packed> Packed for Option<T> {
    fn put(&self, out: &mut Writer) {
        match self {
            None => out.stream.push(0),
            Some(v) => {
                out.stream.push(1);
                v.put(out);
            }
        }
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        match r.byte()? {
            0 => Some(None),
            1 => T::take(r).map(Some),
            _ => None,
        }
    }
}

impl<T: Packed> Packed for Vec<T> {
    fn put(&self, out: &mut Writer) {
        put_varint(&mut out.stream, self.len() as u64);
        for v in self {
            v.put(out);
        }
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        let n = r.len()?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(T::take(r)?);
        }
        Some(v)
    }
}

impl Packed for BTreeMap<String, Text> {
    fn put(&self, out: &mut Writer) {
        put_varint(&mut out.stream, self.len() as u64);
        for (k, v) in self {
            k.put(out);
            v.put(out);
        }
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        let n = r.len()?;
        let mut m = BTreeMap::new();
        for _ in 0..n {
            let k = String::take(r)?;
            m.insert(k, Text::take(r)?);
        }
        Some(m)
    }
}

impl Packed for serde_json::Map<String, serde_json::Value> {
    fn put(&self, out: &mut Writer) {
        let text = serde_json::to_string(self).unwrap_or_default();
        put_str(out, &text);
    }
    fn take(r: &mut Reader<'_>) -> Option<Self> {
        serde_json::from_str(r.str()?).ok()
    }
}

/// Packs a struct as its fields in the order listed; the list must name every field.
macro_rules! packed_struct {
    ($t:ident { $($f:ident),* $(,)? }) => {
        impl Packed for $t {
            fn put(&self, out: &mut Writer) {
                let $t { $($f),* } = self;
                $($f.put(out);)*
            }
            fn take(r: &mut Reader<'_>) -> Option<Self> {
                Some($t { $($f: Packed::take(r)?),* })
            }
        }
    };
}

packed_struct!(PolicyFile {
    version,
    default_action,
    notify,
    policies,
    tests
});
packed_struct!(Notify { url, platform, on });
packed_struct!(Policy {
    name,
    description,
    priority,
    enabled,
    scope,
    rules
});
packed_struct!(Scope {
    tool,
    agent,
    session
});
packed_struct!(Rule {
    action,
    when,
    message,
    ask,
    webhook,
    expires_at,
    once,
    added
});
packed_struct!(AskBlock {
    audit,
    headless_only
});
packed_struct!(WebhookBlock {
    url,
    timeout,
    fail_open
});
packed_struct!(When {
    command_matches,
    command_not_matches,
    command_contains,
    command_env_assignments,
    path_matches,
    path_not_matches,
    url_matches,
    domain_matches,
    session_matches,
    session_not_matches,
    agent_depth,
    tool_param_matches,
    call_count,
    response_matches,
    response_not_matches,
    default
});
packed_struct!(DepthBounds { gte, lte, eq });
packed_struct!(CallCount { tool, gte, window });
packed_struct!(TestCase {
    name,
    tool,
    agent,
    session,
    workdir,
    agent_depth,
    params,
    input,
    expect,
    expect_message
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_field() {
        let yaml = r#"
version: 1
default_action: ask
notify: {url: "https://x", platform: slack, on: [deny, ask]}
policies:
  - name: p
    description: d
    priority: -7
    enabled: false
    match: {tool: [exec, read], agent: "a*", session: s}
    rules:
      - action: webhook
        message: "m é"
        ask: {audit: true, headless_only: false}
        webhook: {url: "https://h", timeout: 3s, fail_open: true}
        expires_at: "2030-01-01T00:00:00Z"
        once: true
        added: "2026"
        when:
          command_matches: ["git *"]
          command_not_matches: [x]
          command_contains: [y]
          command_env_assignments: [Z]
          path_matches: ["**/a"]
          path_not_matches: [b]
          url_matches: [c]
          domain_matches: [d]
          session_matches: [e]
          session_not_matches: [f]
          agent_depth: {gte: 1, lte: 9223372036854775807, eq: -9223372036854775808}
          tool_param_matches: {k: v, j: "1"}
          call_count: {tool: exec, gte: 3, window: 1m}
          response_matches: ["a+"]
          response_not_matches: ["b"]
          default: true
tests:
  - name: t
    tool: exec
    agent: a
    session: s
    workdir: /w
    agent_depth: 4
    params: {command: "ls", n: 1, deep: {x: [1, null]}}
    input: {}
    expect: allow
    expect_message: "*"
"#;
        let file: PolicyFile = serde_saphyr::from_str(yaml).expect("yaml");
        let packed = encode(&file);
        let back = decode(&packed).expect("decodes");
        assert_eq!(format!("{file:?}"), format!("{back:?}"));
        // Anything but exactly one packed file is refused.
        assert!(decode(&packed[..packed.len() - 1]).is_none());
        let mut longer = packed.clone();
        longer.push(0);
        assert!(decode(&longer).is_none());
        assert!(decode(b"RAMPART-PACKED-2").is_none());
        assert!(decode(b"RAMPART-PACKED-1\0\0\0\0\0").is_none());
        let empty = decode(&encode(&PolicyFile::default())).expect("empty");
        assert!(empty.policies.is_none());
    }
}
