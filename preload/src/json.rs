//! JSON string escaping for the request, and a strict structural reader for the answer.

use crate::buf::Sink;

const HEX: &[u8; 16] = b"0123456789abcdef";

fn put_u00<S: Sink>(out: &mut S, b: u8) {
    let hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
    let lo = HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0');
    out.put(&[b'\\', b'u', b'0', b'0', hi, lo]);
}

fn put_escaped_utf8<S: Sink>(out: &mut S, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        let esc: Option<&[u8]> = match *b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            c if c < 0x20 || c == 0x7f => None,
            _ => continue,
        };
        out.put(bytes.get(start..i).unwrap_or(&[]));
        match esc {
            Some(e) => out.put(e),
            None => put_u00(out, *b),
        }
        start = i.saturating_add(1);
    }
    out.put(bytes.get(start..).unwrap_or(&[]));
}

/// Writes `raw` as the inside of a JSON string: `"` and `\` escaped, control bytes and bytes
/// that are not valid UTF-8 as `\u00XX`, valid UTF-8 kept.
pub fn put_escaped<S: Sink>(out: &mut S, raw: &[u8]) {
    let mut rest = raw;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                put_escaped_utf8(out, s);
                return;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                if let Ok(s) = std::str::from_utf8(good) {
                    put_escaped_utf8(out, s);
                }
                let n = e.error_len().unwrap_or(bad.len()).max(1);
                for b in bad.iter().take(n) {
                    put_u00(out, *b);
                }
                rest = bad.get(n..).unwrap_or(&[]);
            }
        }
    }
}

/// A sink adapter that JSON-escapes whatever is written through it.
pub struct Escaping<'s, S: Sink>(pub &'s mut S);

impl<S: Sink> Sink for Escaping<'_, S> {
    fn put(&mut self, b: &[u8]) {
        put_escaped(self.0, b);
    }
}

/// The parts of a preflight answer the library uses.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer<'a> {
    /// The top-level `allowed` boolean.
    pub allowed: bool,
    /// The raw (still escaped) contents of the top-level `message` string, if any.
    pub message: Option<&'a [u8]>,
}

/// Why an answer was rejected.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum BadAnswer {
    /// Not one well-formed JSON object (syntax, nesting deeper than 32, trailing data).
    Syntax,
    /// No top-level `allowed`, or it is not a boolean.
    NoAllowed,
    /// `allowed` appears twice at the top level.
    DuplicateAllowed,
}

/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 32;

struct Reader<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn bump(&mut self) {
        self.i = self.i.saturating_add(1);
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.bump();
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), BadAnswer> {
        if self.peek() == Some(c) {
            self.bump();
            Ok(())
        } else {
            Err(BadAnswer::Syntax)
        }
    }

    fn literal(&mut self, lit: &[u8]) -> Result<(), BadAnswer> {
        let end = self.i.saturating_add(lit.len());
        if self.s.get(self.i..end) == Some(lit) {
            self.i = end;
            Ok(())
        } else {
            Err(BadAnswer::Syntax)
        }
    }

    /// A string; returns its raw contents (between the quotes).
    fn string(&mut self) -> Result<&'a [u8], BadAnswer> {
        self.eat(b'"')?;
        let start = self.i;
        loop {
            match self.peek() {
                None => return Err(BadAnswer::Syntax),
                Some(b'"') => {
                    let raw = self.s.get(start..self.i).ok_or(BadAnswer::Syntax)?;
                    self.bump();
                    return Ok(raw);
                }
                Some(b'\\') => {
                    self.bump();
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.bump(),
                        Some(b'u') => {
                            self.bump();
                            for _ in 0..4 {
                                match self.peek() {
                                    Some(h) if h.is_ascii_hexdigit() => self.bump(),
                                    _ => return Err(BadAnswer::Syntax),
                                }
                            }
                        }
                        _ => return Err(BadAnswer::Syntax),
                    }
                }
                Some(c) if c < 0x20 => return Err(BadAnswer::Syntax),
                Some(_) => self.bump(),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.bump();
        }
        self.i.saturating_sub(start)
    }

    fn number(&mut self) -> Result<(), BadAnswer> {
        if self.peek() == Some(b'-') {
            self.bump();
        }
        match self.peek() {
            Some(b'0') => self.bump(),
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(BadAnswer::Syntax),
        }
        if self.peek() == Some(b'.') {
            self.bump();
            if self.digits() == 0 {
                return Err(BadAnswer::Syntax);
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.bump();
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.bump();
            }
            if self.digits() == 0 {
                return Err(BadAnswer::Syntax);
            }
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<(), BadAnswer> {
        match self.peek() {
            Some(b'{') => {
                if depth >= MAX_DEPTH {
                    return Err(BadAnswer::Syntax);
                }
                self.bump();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.bump();
                    return Ok(());
                }
                loop {
                    self.ws();
                    self.string()?;
                    self.ws();
                    self.eat(b':')?;
                    self.ws();
                    self.value(depth.saturating_add(1))?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.bump(),
                        Some(b'}') => {
                            self.bump();
                            return Ok(());
                        }
                        _ => return Err(BadAnswer::Syntax),
                    }
                }
            }
            Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(BadAnswer::Syntax);
                }
                self.bump();
                self.ws();
                if self.peek() == Some(b']') {
                    self.bump();
                    return Ok(());
                }
                loop {
                    self.ws();
                    self.value(depth.saturating_add(1))?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.bump(),
                        Some(b']') => {
                            self.bump();
                            return Ok(());
                        }
                        _ => return Err(BadAnswer::Syntax),
                    }
                }
            }
            Some(b'"') => self.string().map(|_| ()),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => self.number(),
        }
    }
}

fn hex4(h: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for c in h {
        let d = (*c as char).to_digit(16)?;
        v = v.checked_mul(16)?.checked_add(d)?;
    }
    Some(v)
}

/// Whether the raw contents of a JSON string decode to exactly `want` (ASCII).
fn key_is(raw: &[u8], want: &[u8]) -> bool {
    if !raw.contains(&b'\\') {
        return raw == want;
    }
    let mut i = 0usize;
    let mut k = 0usize;
    while let Some(&c) = raw.get(i) {
        let (decoded, adv) = if c == b'\\' {
            match raw.get(i.saturating_add(1)) {
                Some(b'u') => {
                    let h = raw.get(i.saturating_add(2)..i.saturating_add(6));
                    match h.and_then(hex4) {
                        Some(v) if v < 0x80 => (v as u8, 6),
                        _ => return false,
                    }
                }
                Some(b'/') => (b'/', 2),
                Some(b'"') => (b'"', 2),
                Some(b'\\') => (b'\\', 2),
                _ => return false,
            }
        } else {
            (c, 1)
        };
        if want.get(k) != Some(&decoded) {
            return false;
        }
        k = k.saturating_add(1);
        i = i.saturating_add(adv);
    }
    k == want.len()
}

/// Reads a preflight answer: exactly one JSON object (whitespace around it allowed) whose top
/// level holds exactly one boolean `allowed`.
pub fn parse_answer(body: &[u8]) -> Result<Answer<'_>, BadAnswer> {
    let mut r = Reader { s: body, i: 0 };
    r.ws();
    r.eat(b'{')?;
    let mut allowed: Option<bool> = None;
    let mut message = None;
    r.ws();
    if r.peek() == Some(b'}') {
        r.bump();
    } else {
        loop {
            r.ws();
            let key = r.string()?;
            r.ws();
            r.eat(b':')?;
            r.ws();
            if key_is(key, b"allowed") {
                if allowed.is_some() {
                    return Err(BadAnswer::DuplicateAllowed);
                }
                allowed = Some(match r.peek() {
                    Some(b't') => r.literal(b"true").map(|_| true)?,
                    Some(b'f') => r.literal(b"false").map(|_| false)?,
                    _ => return Err(BadAnswer::NoAllowed),
                });
            } else if key_is(key, b"message") && r.peek() == Some(b'"') {
                message = Some(r.string()?);
            } else {
                r.value(1)?;
            }
            r.ws();
            match r.peek() {
                Some(b',') => r.bump(),
                Some(b'}') => {
                    r.bump();
                    break;
                }
                _ => return Err(BadAnswer::Syntax),
            }
        }
    }
    r.ws();
    if r.i != body.len() {
        return Err(BadAnswer::Syntax);
    }
    match allowed {
        Some(allowed) => Ok(Answer { allowed, message }),
        None => Err(BadAnswer::NoAllowed),
    }
}

/// Writes the raw contents of a JSON string as one line of text: escapes decoded, line breaks
/// and other control characters shown as spaces, at most `max` bytes (then `...`).
pub fn put_unescaped_line<S: Sink>(out: &mut S, raw: &[u8], max: usize) {
    let mut written = 0usize;
    let mut i = 0usize;
    let put = |out: &mut S, b: &[u8], written: &mut usize| -> bool {
        if written.saturating_add(b.len()) > max {
            out.put(b"...");
            return false;
        }
        out.put(b);
        *written = written.saturating_add(b.len());
        true
    };
    while let Some(&c) = raw.get(i) {
        let mut tmp = [0u8; 4];
        let (piece, adv): (&[u8], usize) = if c == b'\\' {
            match raw.get(i.saturating_add(1)) {
                Some(b'u') => {
                    let v = raw
                        .get(i.saturating_add(2)..i.saturating_add(6))
                        .and_then(hex4)
                        .unwrap_or(0x3f);
                    let ch = char::from_u32(v).filter(|c| !c.is_control()).unwrap_or(' ');
                    (ch.encode_utf8(&mut tmp).as_bytes(), 6)
                }
                Some(b'n' | b'r' | b't' | b'b' | b'f') => (b" ", 2),
                Some(b'"') => (b"\"", 2),
                Some(b'/') => (b"/", 2),
                _ => (b"\\", 2),
            }
        } else if c < 0x20 || c == 0x7f {
            (b" ", 1)
        } else {
            (raw.get(i..i.saturating_add(1)).unwrap_or(&[]), 1)
        };
        if !put(out, piece, &mut written) {
            return;
        }
        i = i.saturating_add(adv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::SliceBuf;

    fn esc(raw: &[u8]) -> String {
        let mut b = [0u8; 4096];
        let mut s = SliceBuf::new(&mut b);
        put_escaped(&mut s, raw);
        String::from_utf8(s.bytes().to_vec()).unwrap()
    }

    #[test]
    fn escaping() {
        assert_eq!(esc(b"plain"), "plain");
        assert_eq!(esc(b"a\"b\\c"), "a\\\"b\\\\c");
        assert_eq!(esc(b"\n\t\x01\x7f"), "\\n\\t\\u0001\\u007f");
        assert_eq!(esc("héllo ✓".as_bytes()), "héllo ✓");
        assert_eq!(esc(b"a\xffb\xc3"), "a\\u00ffb\\u00c3");
        // Every escaped output is valid JSON that decodes back to a string.
        let all: Vec<u8> = (0u8..=255).collect();
        let s = format!("\"{}\"", esc(&all));
        assert!(parse_answer(format!("{{\"allowed\":true,\"x\":{s}}}").as_bytes()).is_ok());
    }

    #[test]
    fn answers() {
        let ok = parse_answer(br#" {"allowed":true,"decision":"allow","message":"fine","matched_policies":null,"n":-1.5e3,"s":["a",{"b":[]}]} "#);
        assert_eq!(
            ok,
            Ok(Answer {
                allowed: true,
                message: Some(b"fine")
            })
        );
        let deny = parse_answer(br#"{"message":"no \"rm\"","allowed":false}"#).unwrap();
        assert!(!deny.allowed);
        assert_eq!(deny.message, Some(&br#"no \"rm\""#[..]));
        // Escaped key spelling is still `allowed`.
        assert!(!parse_answer(br#"{"allow\u0065d":false}"#).unwrap().allowed);
    }

    #[test]
    fn deceptive_answers_are_rejected() {
        use BadAnswer::*;
        let cases: &[(&[u8], BadAnswer)] = &[
            (br#"{"allowed":true,"allowed":false}"#, DuplicateAllowed),
            (br#"{"allowed":"true"}"#, NoAllowed),
            (br#"{"allowed":1}"#, NoAllowed),
            (br#"{"nested":{"allowed":true}}"#, NoAllowed),
            (br#"{"x":"\"allowed\":true"}"#, NoAllowed),
            (br#"{"allowed":true} {"allowed":true}"#, Syntax),
            (br#"{"allowed":true}x"#, Syntax),
            (br#"[{"allowed":true}]"#, Syntax),
            (br#"{"allowed":true"#, Syntax),
            (br#"{"allowed":tru}"#, Syntax),
            (br#"{"a":01,"allowed":true}"#, Syntax),
            (b"{\"a\":\"x\ny\",\"allowed\":true}", Syntax),
            (b"", Syntax),
        ];
        for (body, want) in cases {
            assert_eq!(
                parse_answer(body),
                Err(*want),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let deep = format!(
            "{{\"allowed\":true,\"x\":{}1{}}}",
            "[".repeat(40),
            "]".repeat(40)
        );
        assert_eq!(parse_answer(deep.as_bytes()), Err(Syntax));
        let ok = format!(
            "{{\"allowed\":true,\"x\":{}1{}}}",
            "[".repeat(30),
            "]".repeat(30)
        );
        assert!(parse_answer(ok.as_bytes()).is_ok());
    }

    #[test]
    fn message_line() {
        let mut b = [0u8; 128];
        let mut s = SliceBuf::new(&mut b);
        put_unescaped_line(&mut s, br#"line1\nline2 \"q\" \u00e9 \u001b x"#, 100);
        assert_eq!(s.bytes(), "line1 line2 \"q\" é   x".as_bytes());
        let mut b = [0u8; 128];
        let mut s = SliceBuf::new(&mut b);
        put_unescaped_line(&mut s, b"abcdef", 4);
        assert_eq!(s.bytes(), b"abcd...");
    }
}
