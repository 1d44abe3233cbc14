//! The compatibility reading of a command string (spec/engine.md §7): sanitize, split into
//! segments, tokenize, unwrap transparent executors and `sh -c`, extract substitutions, and
//! build the grant components and restrictive candidates that existing policies were written
//! against. The bash parser in [`super::shell`] adds further restrictive candidates on top.

/// Strips ANSI CSI escapes and control characters other than tab and newline.
pub fn sanitize(s: &str) -> String {
    // Mostly there is nothing to remove: one pass that vectorizes says so.
    if s.bytes().all(|b| b >= 0x20 || b == b'\t' || b == b'\n') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // Parameters and intermediates, then one final byte in '@'..='~'.
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        if (c as u32) < 0x20 && c != '\t' && c != '\n' {
            continue;
        }
        out.push(c);
    }
    out
}

/// The bytes [`split_compound`] acts on; every other byte just belongs to the segment.
static SPLIT_SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut k = 0;
    let special = b"'\"\\;|&\n";
    while k < special.len() {
        t[special[k] as usize] = true;
        k += 1;
    }
    t
};

/// Splits on `&&`, `||`, `;`, `|`, newline and `&` outside quotes; keeps quotes and escapes.
/// Segments are the trimmed, non-empty slices of `s` between separators.
pub fn split_compound(s: &str) -> Vec<&str> {
    let mut segs = Vec::new();
    for_each_segment(s, |t| segs.push(t));
    segs
}

/// The segments of [`split_compound`], handed to `f` in order instead of collected.
pub fn for_each_segment<'a>(s: &'a str, mut f: impl FnMut(&'a str)) {
    let b = s.as_bytes();
    let mut start = 0;
    let (mut sq, mut dq) = (false, false);
    let mut i = 0;
    let mut push = |from: usize, to: usize| {
        let t = s[from..to].trim();
        if !t.is_empty() {
            f(t);
        }
    };
    // Every byte that matters is ASCII, so byte positions are character boundaries.
    while i < b.len() {
        let c = b[i];
        if !SPLIT_SPECIAL[usize::from(c)] {
            i += 1;
            continue;
        }
        if sq {
            if c == b'\'' {
                sq = false;
            }
            i += 1;
            continue;
        }
        if c == b'\\' {
            // The escaped character (whole, if multi-byte) stays in the segment.
            i += 1 + s[i + 1..].chars().next().map_or(0, char::len_utf8);
            continue;
        }
        if dq {
            if c == b'"' {
                dq = false;
            }
            i += 1;
            continue;
        }
        match c {
            b'\'' => sq = true,
            b'"' => dq = true,
            b';' | b'\n' => {
                push(start, i);
                start = i + 1;
            }
            b'|' => {
                push(start, i);
                if b.get(i + 1) == Some(&b'|') {
                    i += 1;
                }
                start = i + 1;
            }
            b'&' => {
                if b.get(i + 1) == Some(&b'&') {
                    push(start, i);
                    i += 1;
                    start = i + 1;
                } else if (i > start && matches!(b[i - 1], b'>' | b'<'))
                    || b.get(i + 1) == Some(&b'>')
                {
                    // Part of a redirect (`2>&1`, `<&0`, `&>`).
                } else {
                    push(start, i);
                    start = i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    push(start, b.len().max(start));
}

/// Splits a segment into words with POSIX quote removal (no expansion).
pub fn tokenize(s: &str) -> Vec<String> {
    // Words are built in one scratch buffer and copied out at their exact size (growing each
    // word's own buffer costs a copy per doubling).
    let mut toks = Vec::with_capacity(s.len() / 6 + 2);
    for_each_word(s, |w| toks.push(w.to_owned()));
    toks
}

/// The bytes that end an unquoted run of a word: blanks, quotes and the backslash.
static WORD_SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b' ' as usize] = true;
    t[b'\t' as usize] = true;
    t[b'\'' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// The words of [`tokenize`], handed to `f` in order (borrowed from `s` when a word has no
/// quotes or escapes, else from one scratch buffer) instead of collected.
pub fn for_each_word(s: &str, mut f: impl FnMut(&str)) {
    let b = s.as_bytes();
    // The word being built, when it has quotes or escapes (empty otherwise).
    let mut cur = String::new();
    let mut i = 0;
    // The character starting at byte `i` (always a boundary: specials are ASCII).
    let char_at = |i: usize| s[i..].chars().next();
    let reserve = |cur: &mut String, i: usize| {
        if cur.capacity() == 0 {
            cur.reserve(s.len() - i);
        }
    };
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' => {
                if !cur.is_empty() {
                    f(&cur);
                    cur.clear();
                }
                i += 1;
            }
            b'\'' => {
                let end = b[i + 1..]
                    .iter()
                    .position(|&c| c == b'\'')
                    .map_or(b.len(), |p| i + 1 + p);
                reserve(&mut cur, i);
                cur.push_str(&s[i + 1..end]);
                i = end + 1;
            }
            b'"' => {
                reserve(&mut cur, i);
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        let n = char_at(i + 1).unwrap_or_default();
                        if n != '\n' {
                            cur.push(n);
                        }
                        i += 1 + n.len_utf8();
                        continue;
                    }
                    // A backslash here is the last byte: it stays.
                    let run = b[i + 1..]
                        .iter()
                        .position(|&c| c == b'"' || c == b'\\')
                        .map_or(b.len(), |p| i + 1 + p);
                    cur.push_str(&s[i..run]);
                    i = run;
                }
                i += 1;
            }
            b'\\' => match char_at(i + 1) {
                Some(n) => {
                    reserve(&mut cur, i);
                    if n != '\n' {
                        cur.push(n);
                    }
                    i += 1 + n.len_utf8();
                }
                None => i += 1,
            },
            _ => {
                let run = b[i..]
                    .iter()
                    .position(|&c| WORD_SPECIAL[usize::from(c)])
                    .map_or(b.len(), |p| i + p);
                if cur.is_empty() && b.get(run).is_none_or(|&c| c == b' ' || c == b'\t') {
                    // The whole word (or the rest of it after empty quotes) is this run.
                    f(&s[i..run]);
                } else {
                    reserve(&mut cur, i);
                    cur.push_str(&s[i..run]);
                }
                i = run;
            }
        }
    }
    if !cur.is_empty() {
        f(&cur);
    }
}

/// Whether `t` is a `NAME=value` assignment word.
pub fn is_assignment(t: &str) -> bool {
    match t.find('=') {
        Some(eq) if eq > 0 => is_name(&t[..eq]),
        _ => false,
    }
}

/// Whether `s` is a shell variable name.
pub fn is_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// The last path component of an executable word (`/bin/rm` → `rm`).
pub fn basename(s: &str) -> &str {
    // Both separators are ASCII, so the byte after one starts a character.
    memchr::memrchr2(b'/', b'\\', s.as_bytes()).map_or(s, |i| &s[i + 1..])
}

const SHELLS: &[&str] = &["sh", "bash", "zsh", "dash", "ash", "ksh"];

/// How [`unwrap_once`] unwraps the words after a first word (a launcher's own reading).
type Unwrapper = fn(&[String]) -> Option<Vec<String>>;

/// The launcher [`unwrap_once`] reads after first word `first`, if `first` is one.
fn launcher(first: &str) -> Option<Unwrapper> {
    Some(match first {
        "command" => unwrap_command,
        "exec" => unwrap_exec,
        "nohup" => unwrap_nohup,
        "env" => unwrap_env,
        "nice" => unwrap_nice,
        "timeout" => unwrap_timeout,
        "setsid" => unwrap_setsid,
        "stdbuf" => unwrap_stdbuf,
        _ => return None,
    })
}

/// Whether `first` runs `cmd.exe` (compared ASCII case-insensitively).
fn is_cmd(first: &str) -> bool {
    first.eq_ignore_ascii_case("cmd") || first.eq_ignore_ascii_case("cmd.exe")
}

/// Whether `first` runs PowerShell (compared ASCII case-insensitively).
fn is_powershell(first: &str) -> bool {
    ["powershell", "powershell.exe", "pwsh", "pwsh.exe"]
        .iter()
        .any(|w| first.eq_ignore_ascii_case(w))
}

/// Removes one layer of a transparent wrapper; `None` when nothing applies. Which first words
/// can open one is [`leaves_alone`]'s business too: both read [`launcher`], [`SHELLS`],
/// [`is_cmd`] and [`is_powershell`].
fn unwrap_once(t: &[String]) -> Option<Vec<String>> {
    let first = t.first()?;
    if is_assignment(first) {
        let n = t.iter().take_while(|w| is_assignment(w)).count();
        return (n < t.len()).then(|| t[n..].to_vec());
    }
    let rest = &t[1..];
    if let Some(inner) = launcher(first).and_then(|unwrap| unwrap(rest)) {
        return Some(inner);
    }
    if SHELLS.contains(&basename(first)) {
        return unwrap_shell_c(rest);
    }
    if is_cmd(first) {
        let flag = rest.first()?.to_ascii_lowercase();
        if flag.starts_with("/c") || flag.starts_with("/k") {
            let mut inner: Vec<String> = Vec::new();
            if flag.len() > 2 {
                inner.push(rest[0][2..].to_string());
            }
            inner.extend(rest[1..].iter().cloned());
            let inner: Vec<String> = inner
                .into_iter()
                .map(|w| w.replace('^', ""))
                .filter(|w| !w.is_empty())
                .collect();
            if inner.len() == 1 {
                return Some(tokenize(&inner[0]));
            }
            return (!inner.is_empty()).then_some(inner);
        }
        return None;
    }
    if is_powershell(first) {
        let pos = rest.iter().position(|w| {
            let l = w.to_ascii_lowercase();
            l == "-command" || l == "-c"
        })?;
        let inner = &rest[pos + 1..];
        if inner.len() == 1 {
            return Some(tokenize(&inner[0]));
        }
        return (!inner.is_empty()).then(|| inner.to_vec());
    }
    None
}

fn nonempty(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.to_vec())
}

fn unwrap_command(r: &[String]) -> Option<Vec<String>> {
    let mut i = 0;
    while let Some(w) = r.get(i) {
        match w.as_str() {
            "-p" => i += 1,
            "--" => return nonempty(&r[i + 1..]),
            w if w.starts_with('-') => return None,
            _ => break,
        }
    }
    nonempty(&r[i..])
}

fn unwrap_exec(r: &[String]) -> Option<Vec<String>> {
    let mut i = 0;
    while let Some(w) = r.get(i) {
        if w == "--" {
            return nonempty(&r[i + 1..]);
        }
        if w == "-a" {
            r.get(i + 1)?;
            i += 2;
            continue;
        }
        if let Some(flags) = w.strip_prefix('-') {
            if !flags.is_empty() && flags.chars().all(|c| c == 'c' || c == 'l') {
                i += 1;
                continue;
            }
            return None;
        }
        break;
    }
    nonempty(&r[i..])
}

fn unwrap_nohup(r: &[String]) -> Option<Vec<String>> {
    match r.first().map(String::as_str) {
        Some("--") => nonempty(&r[1..]),
        Some(w) if w.starts_with('-') => None,
        _ => nonempty(r),
    }
}

fn unwrap_env(r: &[String]) -> Option<Vec<String>> {
    let mut i = 0;
    while let Some(w) = r.get(i) {
        let w = w.as_str();
        match w {
            "-i" | "--ignore-environment" | "-0" | "--null" | "-v" | "--debug" | "-" => i += 1,
            "-u" | "--unset" | "-C" | "--chdir" | "--argv0" => {
                r.get(i + 1)?;
                i += 2;
            }
            "--" => {
                i += 1;
                while r.get(i).is_some_and(|w| is_assignment(w)) {
                    i += 1;
                }
                return nonempty(&r[i..]);
            }
            "-S" | "--split-string" => {
                let s = r.get(i + 1)?;
                let mut v = tokenize(s);
                v.extend(r[i + 2..].iter().cloned());
                return nonempty(&v);
            }
            _ if w.starts_with("--split-string=") || (w.starts_with("-S") && w.len() > 2) => {
                let s = w
                    .strip_prefix("--split-string=")
                    .or_else(|| w.strip_prefix("-S"))
                    .unwrap_or_default();
                let mut v = tokenize(s);
                v.extend(r[i + 1..].iter().cloned());
                return nonempty(&v);
            }
            _ if w.starts_with("--unset=")
                || w.starts_with("--chdir=")
                || w.starts_with("--argv0=") =>
            {
                i += 1
            }
            _ if (w.starts_with("-u") || w.starts_with("-C")) && w.len() > 2 => i += 1,
            _ if w.starts_with('-') => return None,
            _ if is_assignment(w) => i += 1,
            _ => break,
        }
    }
    nonempty(&r[i..])
}

fn is_int(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn unwrap_nice(r: &[String]) -> Option<Vec<String>> {
    let mut i = 0;
    while let Some(w) = r.get(i) {
        let w = w.as_str();
        if w == "--" {
            return nonempty(&r[i + 1..]);
        }
        if w == "-n" || w == "--adjustment" {
            if !is_int(r.get(i + 1)?) {
                return None;
            }
            i += 2;
        } else if let Some(v) = w
            .strip_prefix("--adjustment=")
            .or_else(|| w.strip_prefix("-n="))
            .or_else(|| w.strip_prefix("-n"))
        {
            if !is_int(v) {
                return None;
            }
            i += 1;
        } else if let Some(v) = w.strip_prefix('-') {
            if !is_int(v) {
                return None;
            }
            i += 1;
        } else {
            break;
        }
    }
    nonempty(&r[i..])
}

fn is_duration(s: &str) -> bool {
    if s == "inf" || s == "infinity" {
        return true;
    }
    let s = s.strip_suffix(['s', 'm', 'h', 'd']).unwrap_or(s);
    let mut parts = s.splitn(2, '.');
    let a = parts.next().unwrap_or_default();
    let ok_a = !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit());
    match parts.next() {
        None => ok_a,
        Some(b) => (ok_a || a.is_empty()) && !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()),
    }
}

fn unwrap_timeout(r: &[String]) -> Option<Vec<String>> {
    let mut i = 0;
    while let Some(w) = r.get(i) {
        let w = w.as_str();
        match w {
            "--preserve-status" | "--foreground" | "-v" | "--verbose" => i += 1,
            "-k" | "--kill-after" | "-s" | "--signal" => {
                r.get(i + 1)?;
                i += 2;
            }
            "--" => {
                i += 1;
                break;
            }
            _ if w.starts_with("--kill-after=") || w.starts_with("--signal=") => i += 1,
            _ if (w.starts_with("-k") || w.starts_with("-s")) && w.len() > 2 => i += 1,
            _ if w.starts_with('-') => return None,
            _ => break,
        }
    }
    if !is_duration(r.get(i)?) {
        return None;
    }
    nonempty(&r[i + 1..])
}

fn unwrap_setsid(r: &[String]) -> Option<Vec<String>> {
    let mut i = 0;
    while let Some(w) = r.get(i) {
        let w = w.as_str();
        match w {
            "--ctty" | "--fork" | "--wait" => i += 1,
            "--" => return nonempty(&r[i + 1..]),
            _ if w.starts_with('-') => {
                let f = &w[1..];
                if f.is_empty() || !f.chars().all(|c| matches!(c, 'c' | 'f' | 'w')) {
                    return None;
                }
                i += 1;
            }
            _ => break,
        }
    }
    nonempty(&r[i..])
}

fn is_buf_mode(m: &str) -> bool {
    if m == "0" || m == "L" || m == "B" {
        return true;
    }
    let m = m.strip_suffix(['K', 'M', 'G', 'k', 'm', 'g']).unwrap_or(m);
    !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit())
}

fn unwrap_stdbuf(r: &[String]) -> Option<Vec<String>> {
    let mut i = 0;
    while let Some(w) = r.get(i) {
        let w = w.as_str();
        if w == "--" {
            return nonempty(&r[i + 1..]);
        }
        if w == "-i"
            || w == "-o"
            || w == "-e"
            || w == "--input"
            || w == "--output"
            || w == "--error"
        {
            if !is_buf_mode(r.get(i + 1)?) {
                return None;
            }
            i += 2;
            continue;
        }
        let long = ["--input=", "--output=", "--error="]
            .iter()
            .find_map(|p| w.strip_prefix(p));
        let short = ["-i", "-o", "-e"].iter().find_map(|p| w.strip_prefix(p));
        if let Some(m) = long.or(short) {
            let m = m.strip_prefix('=').unwrap_or(m);
            if !is_buf_mode(m) {
                return None;
            }
            i += 1;
            continue;
        }
        if w.starts_with('-') {
            return None;
        }
        break;
    }
    nonempty(&r[i..])
}

fn unwrap_shell_c(r: &[String]) -> Option<Vec<String>> {
    let mut i = 0;
    while let Some(w) = r.get(i) {
        if w.starts_with("--") {
            i += 1;
            continue;
        }
        if let Some(f) = w.strip_prefix('-') {
            i += 1;
            if f.contains('c') {
                let inner = &r[i..];
                if inner.len() == 1 {
                    // The script's words, as tokenized (not copied again).
                    let words = tokenize(&inner[0]);
                    return (!words.is_empty()).then_some(words);
                }
                return nonempty(inner);
            }
            continue;
        }
        return None;
    }
    None
}

/// Unwraps until nothing changes (bounded).
pub fn unwrap_all(mut t: Vec<String>) -> Vec<String> {
    for _ in 0..64 {
        match unwrap_once(&t) {
            Some(n) if n != t => t = n,
            _ => break,
        }
    }
    t
}

fn is_redirect_word(w: &str) -> bool {
    let d = w.trim_start_matches(|c: char| c.is_ascii_digit());
    let d = d.strip_prefix('&').unwrap_or(d);
    d.starts_with('>') || d.starts_with('<')
}

fn is_bare_redirect_op(w: &str) -> bool {
    let d = w.trim_start_matches(|c: char| c.is_ascii_digit());
    matches!(d, ">" | ">>" | "<" | "&>" | "&>>" | ">|" | "<>")
}

fn drop_leading_redirects(t: &[String]) -> &[String] {
    let mut i = 0;
    while let Some(w) = t.get(i) {
        if is_bare_redirect_op(w) {
            i += 2;
        } else if is_redirect_word(w) {
            i += 1;
        } else {
            break;
        }
    }
    &t[i.min(t.len())..]
}

/// Normalizes one segment: tokenize, unwrap, drop leading redirections, join with spaces.
pub fn normalize_segment(seg: &str) -> String {
    let words = JoinedWords::of(seg);
    if words.count == 0 || leaves_alone(words.first()) {
        // Nothing to unwrap or drop: the words joined, without a list of them.
        return words.joined;
    }
    normalize_tokens(tokenize(seg))
}

/// Whether a segment whose first word is `first` is left as it is by [`unwrap_all`] and
/// [`drop_leading_redirects`]: `first` is no assignment, no wrapper [`unwrap_once`] knows
/// (launchers, shells, `cmd`, PowerShell) and no redirection.
fn leaves_alone(first: &str) -> bool {
    !is_assignment(first)
        && launcher(first).is_none()
        && !SHELLS.contains(&basename(first))
        && !is_cmd(first)
        && !is_powershell(first)
        && !is_bare_redirect_op(first)
        && !is_redirect_word(first)
}

/// The words of a text ([`for_each_word`]) joined with single spaces in one buffer.
struct JoinedWords {
    joined: String,
    /// Length of the first word in `joined`.
    first_len: usize,
    /// Number of words.
    count: usize,
}

impl JoinedWords {
    fn of(s: &str) -> JoinedWords {
        let mut joined = String::with_capacity(s.len());
        let (mut first_len, mut count) = (0, 0);
        for_each_word(s, |w| {
            if count > 0 {
                joined.push(' ');
            } else {
                first_len = w.len();
            }
            joined.push_str(w);
            count += 1;
        });
        JoinedWords {
            joined,
            first_len,
            count,
        }
    }

    fn first(&self) -> &str {
        &self.joined[..self.first_len]
    }
}

/// [`normalize_segment`] of the segment whose words are `t` (`tokenize(seg)`).
pub fn normalize_tokens(t: Vec<String>) -> String {
    let t = unwrap_all(t);
    drop_leading_redirects(&t).join(" ")
}

/// NormalizeCommand: every segment normalized, joined with ` && `.
pub fn normalize(cmd: &str) -> String {
    normalize_cached(cmd, &mut NormCache::default())
}

/// First words that make a plain command more than its words: wrappers the compatibility
/// reading unwraps, shells, rm/find aliases, multi-call binaries, `eval`, shell keywords that
/// body variants peel, and assignment builtins (compared lower-cased).
#[rustfmt::skip]
fn not_plain_first(w: &str) -> bool {
    // Lower-cased on the stack; the longest such word is `powershell.exe`.
    let mut buf = [0u8; 14];
    let Some(low) = buf.get_mut(..w.len()) else {
        return false;
    };
    for (d, s) in low.iter_mut().zip(w.bytes()) {
        *d = s.to_ascii_lowercase();
    }
    matches!(&*low,
        b"command" | b"exec" | b"nohup" | b"env" | b"nice" | b"timeout" | b"setsid" | b"stdbuf" |
        b"sh" | b"bash" | b"zsh" | b"dash" | b"ash" | b"ksh" | b"cmd" | b"cmd.exe" |
        b"powershell" | b"powershell.exe" | b"pwsh" | b"pwsh.exe" | b"busybox" | b"toybox" |
        b"rm" | b"find" | b"eval" | b"case" | b"if" | b"elif" | b"while" | b"until" | b"then" |
        b"do" | b"else" | b"export" | b"declare" | b"typeset" | b"local" | b"readonly" | b"set" |
        b"setx"
    )
}

/// Whether `raw` is plain words — ASCII letters, digits and `-_./:,@+%=` separated by single
/// spaces — whose compatibility reading is the text itself: one segment and component, no
/// substitutions, nothing to unwrap or peel (see `not_plain_first`; the last word is no
/// `fi`/`done`/`esac`), no other spelling of the executable (its first word has no `/`), no rm
/// or find alias and no assignment (no `=` in the first word).
pub fn plain_words(raw: &str) -> bool {
    /// ASCII letters, digits and `-_./:,@+%=` (the space is checked on its own).
    static WORD_BYTE: [bool; 256] = {
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            let b = i as u8;
            t[i] = b.is_ascii_alphanumeric()
                || matches!(b, b'-' | b'_' | b'.' | b'/' | b':')
                || matches!(b, b',' | b'@' | b'+' | b'%' | b'=');
            i += 1;
        }
        t
    };
    let b = raw.as_bytes();
    if b.first().is_none_or(|&c| c == b' ') || b.last() == Some(&b' ') {
        return false;
    }
    // Words separated by single spaces.
    let mut prev_space = false;
    for &c in b {
        if c == b' ' {
            if prev_space {
                return false;
            }
            prev_space = true;
        } else if WORD_BYTE[usize::from(c)] {
            prev_space = false;
        } else {
            return false;
        }
    }
    let first = raw.split(' ').next().unwrap_or_default();
    let last = raw.rsplit(' ').next().unwrap_or_default();
    memchr::memchr2(b'=', b'/', first.as_bytes()).is_none()
        && !not_plain_first(first)
        && !matches!(last, "fi" | "done" | "esac")
}

/// Normalized segments computed so far, so one evaluation normalizes each segment once (the
/// grant reading, every candidate group and every parser reading share segments).
#[derive(Debug, Default)]
pub struct NormCache {
    segs: Vec<(String, String)>,
}

/// Segments a [`NormCache`] remembers; beyond that they are recomputed (the scan stays short).
const NORM_CACHE_SEGS: usize = 32;

impl NormCache {
    /// Forgets every segment (keeping the list's room).
    pub fn clear(&mut self) {
        self.segs.clear();
    }

    /// [`normalize_segment`] of `seg`, remembered.
    pub fn segment<'s>(&'s mut self, seg: &'s str) -> &'s str {
        if plain_words(seg) {
            // Its own normalized form.
            return seg;
        }
        let at = match self.segs.iter().position(|(k, _)| k == seg) {
            Some(i) => i,
            None if self.segs.len() < NORM_CACHE_SEGS => {
                self.segs.push((seg.to_string(), normalize_segment(seg)));
                self.segs.len() - 1
            }
            None => {
                // Full: reuse the last slot for this segment.
                let last = self.segs.len() - 1;
                self.segs[last] = (seg.to_string(), normalize_segment(seg));
                last
            }
        };
        &self.segs[at].1
    }
}

/// [`normalize`] with a cache of normalized segments.
pub fn normalize_cached(cmd: &str, cache: &mut NormCache) -> String {
    let mut out = String::with_capacity(cmd.len());
    normalize_cached_into(cmd, cache, &mut out);
    out
}

/// [`normalize_cached`] written into `out` (cleared first), so a caller can reuse its buffer.
pub fn normalize_cached_into(cmd: &str, cache: &mut NormCache, out: &mut String) {
    out.clear();
    for_each_segment(cmd, |seg| {
        let n = cache.segment(seg);
        if n.is_empty() {
            return;
        }
        if !out.is_empty() {
            out.push_str(" && ");
        }
        out.push_str(n);
    });
}

/// Characters a reading removes from inside a word: quotes, backslashes and newlines (the
/// tokenizer) and carets (`cmd /c` unwrapping).
fn removed_in_word(b: u8) -> bool {
    matches!(b, b'\'' | b'"' | b'\\' | b'\n' | b'^')
}

/// `s` without the characters `removed_in_word`: any word a reading makes from `s` (and so
/// any name or executable in it) is a substring of this.
pub fn word_skeleton(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.bytes().any(removed_in_word) {
        return std::borrow::Cow::Borrowed(s);
    }
    // The removed characters are ASCII: removing their bytes keeps the text UTF-8 (so the
    // lossy conversion never replaces anything).
    let kept: Vec<u8> = s.bytes().filter(|&b| !removed_in_word(b)).collect();
    std::borrow::Cow::Owned(String::from_utf8_lossy(&kept).into_owned())
}

/// Whether some word of `seg` could be `word` once tokenized: `word` is a substring of
/// [`word_skeleton`]`(seg)`, found without building the skeleton. `word` must be non-empty and
/// have no border (no proper prefix that is also a suffix, as in `eval`), so a mismatch can
/// restart the match at the current byte.
fn may_spell(seg: &str, word: &str) -> bool {
    let w = word.as_bytes();
    debug_assert!(!w.is_empty() && (1..w.len()).all(|k| w[..k] != w[w.len() - k..]));
    let mut matched = 0;
    for &c in seg.as_bytes() {
        if removed_in_word(c) {
            continue;
        }
        if c == w[matched] {
            matched += 1;
            if matched == w.len() {
                return true;
            }
        } else {
            matched = usize::from(c == w[0]);
        }
    }
    false
}

/// Finds `$(...)`, backticks, `<(...)`, `>(...)` and `eval` arguments, recursively.
pub fn extract_subcommands(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    extract_into(raw, &mut out, 0);
    out
}

fn extract_into(s: &str, out: &mut Vec<String>, depth: usize) {
    if depth > 8 || out.len() > 256 {
        return;
    }
    let b = s.as_bytes();
    let mut found: Vec<String> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let opener = (b[i] == b'$' || b[i] == b'<' || b[i] == b'>') && b.get(i + 1) == Some(&b'(');
        if opener {
            let start = i + 2;
            let mut level = 1;
            let mut j = start;
            while j < b.len() {
                match b[j] {
                    b'(' => level += 1,
                    b')' => {
                        level -= 1;
                        if level == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            if level == 0 {
                let inner = s[start..j].trim();
                if !inner.is_empty() {
                    found.push(inner.to_string());
                }
                i = j + 1;
                continue;
            }
            break;
        }
        if b[i] == b'`' {
            match b[i + 1..].iter().position(|&c| c == b'`') {
                Some(off) => {
                    let inner = s[i + 1..i + 1 + off].trim();
                    if !inner.is_empty() {
                        found.push(inner.to_string());
                    }
                    i += off + 2;
                    continue;
                }
                None => break,
            }
        }
        i += 1;
    }
    for_each_segment(s, |seg| {
        if !may_spell(seg, "eval") {
            return;
        }
        let t = tokenize(seg);
        let n = t.iter().take_while(|w| is_assignment(w)).count();
        if t.get(n).map(String::as_str) == Some("eval") && t.len() > n + 1 {
            found.push(t[n + 1..].join(" "));
        }
    });
    for f in found {
        if !out.contains(&f) {
            out.push(f.clone());
            extract_into(&f, out, depth + 1);
        }
    }
}

/// The grant reading of a command (spec §7.5).
#[derive(Debug, Clone, Default)]
pub struct GrantView {
    /// NormalizeCommand(raw).
    pub normalized: String,
    /// Whether the command has more than one segment or any substitution.
    pub composite: bool,
    /// Segments of the normalized command plus normalized segments of every substitution.
    pub components: Vec<String>,
}

/// Builds the grant reading of a sanitized command.
pub fn grant_view(raw: &str) -> GrantView {
    grant_view_cached(raw, &mut NormCache::default())
}

/// [`grant_view`] with a cache of normalized segments.
pub fn grant_view_cached(raw: &str, cache: &mut NormCache) -> GrantView {
    let normalized = normalize_cached(raw, cache);
    let mut components: Vec<String> = Vec::new();
    let push = |c: &str, v: &mut Vec<String>| {
        if !c.is_empty() && !v.iter().any(|x| x == c) {
            v.push(c.to_string());
        }
    };
    let mut seg_count = 0;
    for_each_segment(&normalized, |s| {
        seg_count += 1;
        push(s, &mut components);
    });
    let subs = extract_subcommands(raw);
    for sub in &subs {
        for_each_segment(&normalize_cached(sub, cache), |s| push(s, &mut components));
    }
    GrantView {
        normalized,
        composite: seg_count > 1 || !subs.is_empty(),
        components,
    }
}

/// Whether a pattern is itself composite (operators or substitutions).
pub fn pattern_is_composite(p: &str) -> bool {
    // One pass for `&&`, `||`, `;`, `|`, `$(`, `` ` ``, `<(` and `>(` (`||` holds a `|`).
    let b = p.as_bytes();
    b.iter().enumerate().any(|(i, &c)| match c {
        b';' | b'|' | b'`' => true,
        b'&' => b.get(i + 1) == Some(&b'&'),
        b'$' | b'<' | b'>' => b.get(i + 1) == Some(&b'('),
        _ => false,
    })
}

/// POSIX body variants of a component: leading `(`/`{`/keywords peeled, trailers trimmed.
pub fn body_variants(c: &str) -> Vec<&str> {
    let out = Vec::new();
    if !has_body_syntax(c) {
        return out;
    }
    body_variants_unfiltered(c)
}

/// [`body_variants`] without the [`has_body_syntax`] shortcut.
fn body_variants_unfiltered(c: &str) -> Vec<&str> {
    // Peeled as slices of `c`.
    let mut out = Vec::new();
    let mut cur = c.trim();
    if let Some(rest) = cur
        .strip_prefix("case ")
        .or_else(|| cur.strip_prefix("case\t"))
        && let Some(p) = unquoted_paren(rest)
    {
        let body = rest[p + 1..].trim();
        if !body.is_empty() {
            out.push(body);
            cur = body;
        }
    }
    for _ in 0..16 {
        let mut next = cur;
        if let Some(r) = next.strip_prefix(['(', '{']) {
            next = r.trim_start();
        } else {
            for kw in ["if", "elif", "while", "until", "then", "do", "else", "!"] {
                if let Some(r) = next.strip_prefix(kw)
                    && r.starts_with([' ', '\t'])
                {
                    next = r.trim_start();
                    break;
                }
            }
        }
        let mut trimmed = next.trim_end();
        loop {
            let before = trimmed.len();
            if let Some(r) = trimmed.strip_suffix([')', '}']) {
                trimmed = r.trim_end();
            }
            for kw in ["fi", "done", "esac"] {
                if let Some(r) = trimmed.strip_suffix(kw)
                    && (r.is_empty() || r.ends_with([' ', '\t', ';']))
                {
                    trimmed = r.trim_end();
                }
            }
            if trimmed.len() == before {
                break;
            }
        }
        if trimmed == cur || trimmed.is_empty() {
            break;
        }
        out.push(trimmed);
        cur = trimmed;
    }
    out
}

/// Whether [`body_variants`] could peel anything: a leading `(`, `{`, `!` or keyword, or a
/// trailing `)`, `}`, `fi`, `done` or `esac`.
fn has_body_syntax(c: &str) -> bool {
    let t = c.trim();
    let first = first_word(t);
    t.starts_with(['(', '{'])
        || matches!(
            first,
            "case" | "if" | "elif" | "while" | "until" | "then" | "do" | "else" | "!"
        )
        || t.ends_with([')', '}'])
        || t.ends_with("fi")
        || t.ends_with("done")
        || t.ends_with("esac")
}

fn unquoted_paren(s: &str) -> Option<usize> {
    let (mut sq, mut dq) = (false, false);
    for (i, c) in s.char_indices() {
        match c {
            '\'' if !dq => sq = !sq,
            '"' if !sq => dq = !dq,
            ')' if !sq && !dq => return Some(i),
            _ => {}
        }
    }
    None
}

/// Lexically cleans a slash path like Go's `path.Clean`.
pub fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".to_string();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_string(),
        (false, false) => body,
    }
}

fn clean_operand(op: &str) -> String {
    let needs =
        op.starts_with('/') || op.split('/').any(|c| c == "." || c == "..") || op.contains("//");
    if needs {
        clean_path(op)
    } else {
        op.to_string()
    }
}

/// Most canonical aliases computed for one candidate before the rule fails closed.
pub const MAX_ALIASES: usize = 256;

/// More than [`MAX_ALIASES`] aliases: the rule fails closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyAliases;

/// Canonical `rm -rf <operand>` aliases of rm and find invocations; `Err` when over the cap.
pub fn rm_aliases(candidate: &str) -> Result<Vec<String>, TooManyAliases> {
    if !may_run_rm_or_find(candidate) {
        return Ok(Vec::new());
    }
    rm_aliases_unfiltered(candidate, true)
}

/// [`rm_aliases`] without the [`may_run_rm_or_find`] shortcut, and without skipping segments
/// that [`runs_first_word`] rules out when `skip` is false.
fn rm_aliases_unfiltered(candidate: &str, skip: bool) -> Result<Vec<String>, TooManyAliases> {
    let masked = strip_comment(candidate);
    let mut out = Vec::new();
    // Only segments that could run rm or find are collected (most are skipped).
    let mut segs = Vec::new();
    for_each_segment(masked, |seg| {
        if !(skip && runs_first_word(seg)) {
            segs.push(seg);
        }
    });
    for seg in segs {
        let mut t = unwrap_all(tokenize(seg));
        for _ in 0..4 {
            match t.first().map(|w| basename(w)) {
                Some("busybox" | "toybox") if t.len() > 1 => {
                    t = unwrap_all(t[1..].to_vec());
                }
                _ => break,
            }
        }
        let Some(exe) = t.first() else { continue };
        match basename(exe) {
            "rm" => rm_alias_of(&t[1..], None, &mut out),
            "find" => find_aliases(&t[1..], &mut out),
            _ => {}
        }
        if out.len() > MAX_ALIASES {
            return Err(TooManyAliases);
        }
    }
    Ok(out)
}

/// Whether some word of `candidate` could read `rm` or `find` once quotes, backslashes,
/// escaped newlines and `cmd` carets are removed: the letters must then be adjacent. Without
/// that, [`rm_aliases`] finds nothing, so it can skip tokenizing and unwrapping.
pub fn may_run_rm_or_find(candidate: &str) -> bool {
    /// Removed bytes looked through before an `m` or `d` before giving up (answering yes).
    const MAX_SKIPPED: usize = 16;
    let b = candidate.as_bytes();
    memchr::memchr2_iter(b'm', b'd', b).any(|i| {
        // The letters that must come before it, nearest first.
        let want: &[u8] = if b[i] == b'm' { b"r" } else { b"nif" };
        let mut matched = 0;
        let mut skipped = 0;
        for &c in b[..i].iter().rev() {
            if removed_in_word(c) {
                skipped += 1;
                if skipped > MAX_SKIPPED {
                    return true;
                }
                continue;
            }
            if c != want[matched] {
                return false;
            }
            matched += 1;
            if matched == want.len() {
                return true;
            }
        }
        false
    })
}

/// Whether the executable of `seg`'s compatibility reading is its first word as written, and
/// that word is not rm or find: the word is ASCII letters, digits and `._-` ending at a blank
/// or the end (so it tokenizes to itself, is no assignment and has no directory), and it is no
/// word the reading unwraps or peels ([`not_plain_first`], which holds rm, find and the
/// multi-call binaries).
fn runs_first_word(seg: &str) -> bool {
    let w = first_word(seg);
    !w.is_empty()
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !not_plain_first(w)
}

/// Strips an unquoted `#` comment (a `#` starting a word) outside quotes. Read by bytes: every
/// byte that matters is ASCII, and the bytes of a multi-byte character change nothing.
fn strip_comment(s: &str) -> &str {
    if memchr::memchr(b'#', s.as_bytes()).is_none() {
        return s;
    }
    let (mut sq, mut dq, mut esc) = (false, false, false);
    let mut prev_space = true;
    for (i, &c) in s.as_bytes().iter().enumerate() {
        if esc {
            esc = false;
            prev_space = false;
            continue;
        }
        match c {
            b'\\' if !sq => esc = true,
            b'\'' if !dq => sq = !sq,
            b'"' if !sq => dq = !dq,
            b'#' if !sq && !dq && prev_space => return &s[..i],
            _ => {}
        }
        prev_space = matches!(c, b' ' | b'\t' | b';' | b'\n');
    }
    s
}

fn rm_alias_of(args: &[String], subst: Option<&str>, out: &mut Vec<String>) {
    let (mut rec, mut force, mut opts_done) = (false, false, false);
    let mut operands = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let w = args[i].as_str();
        i += 1;
        if !opts_done && w == "--" {
            opts_done = true;
            continue;
        }
        if is_bare_redirect_op(w) {
            i += 1;
            continue;
        }
        if is_redirect_word(w) {
            continue;
        }
        if !opts_done && w.starts_with("--") {
            match w {
                "--recursive" => rec = true,
                "--force" => force = true,
                _ => {}
            }
            continue;
        }
        if !opts_done && w.starts_with('-') && w.len() > 1 {
            rec |= w.contains('r') || w.contains('R');
            force |= w.contains('f');
            continue;
        }
        operands.push(w.to_string());
    }
    if !(rec && force) {
        return;
    }
    for op in operands {
        let op = match subst {
            Some(target) => op.replace("{}", target),
            None => op,
        };
        out.push(format!("rm -rf {}", clean_operand(&op)));
    }
}

fn find_aliases(args: &[String], out: &mut Vec<String>) {
    let expr_start = args
        .iter()
        .position(|w| w.starts_with('-') || w == "(" || w == "!")
        .unwrap_or(args.len());
    let mut targets: Vec<String> = args[..expr_start].to_vec();
    if targets.is_empty() {
        targets.push(".".to_string());
    }
    let expr = &args[expr_start..];
    if expr.iter().any(|w| w == "-delete") {
        for t in &targets {
            out.push(format!("rm -rf {}", clean_operand(t)));
        }
    }
    let mut i = 0;
    while i < expr.len() {
        if expr[i] == "-exec" || expr[i] == "-execdir" {
            let end = expr[i + 1..]
                .iter()
                .position(|w| w == ";" || w == "+")
                .map(|p| i + 1 + p)
                .unwrap_or(expr.len());
            let cmd = unwrap_all(expr[i + 1..end].to_vec());
            if cmd.first().is_some_and(|w| basename(w) == "rm") {
                for t in &targets {
                    rm_alias_of(&cmd[1..], Some(t), out);
                }
            }
            i = end;
        }
        i += 1;
    }
}

/// Alternate restrictive readings: executable basename, busybox applet, here-string payload.
pub fn alternate_readings(candidate: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_alternate_reading(candidate, |r| out.push(r.to_string()));
    out
}

/// The readings of [`alternate_readings`], handed to `f` in order instead of collected.
pub fn for_each_alternate_reading(candidate: &str, f: impl FnMut(&str)) {
    if !plain_first_word(candidate) {
        alternate_readings_unfiltered(candidate, f);
    }
}

/// [`for_each_alternate_reading`] without the [`plain_first_word`] shortcut.
fn alternate_readings_unfiltered(candidate: &str, mut f: impl FnMut(&str)) {
    // The words joined with spaces, in one buffer: the path readings are its tails.
    let JoinedWords {
        joined,
        first_len,
        count: words,
    } = JoinedWords::of(candidate);
    if words == 0 {
        return;
    }
    let (first, rest) = joined.split_at(first_len);
    let base = basename(first);
    if base != first && !base.is_empty() {
        // The executable's basename and the other words: the tail of the joined words.
        f(&joined[first_len - base.len()..]);
    }
    if (base == "busybox" || base == "toybox") && words > 1 {
        f(&rest[1..]);
    }
    if SHELLS.contains(&base) {
        let t = tokenize(candidate);
        if let Some(p) = t.iter().position(|w| w == "<<<") {
            if let Some(payload) = t.get(p + 1) {
                f(payload);
            }
        } else if let Some(w) = t.iter().find(|w| w.starts_with("<<<")) {
            f(&w[3..]);
        }
    }
    if candidate.contains('^') {
        f(&candidate.replace('^', ""));
    }
}

/// The text up to the first blank after any leading blanks, as written (quotes included).
fn first_word(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(b.len());
    let len = memchr::memchr2(b' ', b'\t', &b[start..]).unwrap_or(b.len() - start);
    &s[start..start + len]
}

/// Whether [`alternate_readings`] has nothing to add: no `^`, and the first word is written
/// without quotes or escapes, has no path separator, is no multi-call binary, and is no shell
/// with a `<` in the text (a here-string, maybe quoted).
fn plain_first_word(candidate: &str) -> bool {
    if candidate.contains('^') {
        return false;
    }
    let first = first_word(candidate);
    !first.is_empty()
        && !first
            .bytes()
            .any(|b| matches!(b, b'\'' | b'"' | b'\\' | b'/'))
        && !matches!(first, "busybox" | "toybox")
        && (!SHELLS.contains(&first) || !candidate.contains('<'))
}

/// The character-by-character readings the byte-level splitter and tokenizer replaced, kept
/// to check them against.
#[cfg(test)]
mod reference {
    /// Splits on `&&`, `||`, `;`, `|`, newline and `&` outside quotes; keeps quotes and escapes.
    pub(crate) fn split_compound_ref(s: &str) -> Vec<String> {
        let chars: Vec<char> = s.chars().collect();
        let mut segs = Vec::new();
        let mut cur = String::new();
        let (mut sq, mut dq) = (false, false);
        let mut i = 0;
        let push = |cur: &mut String, segs: &mut Vec<String>| {
            let t = cur.trim();
            if !t.is_empty() {
                segs.push(t.to_string());
            }
            cur.clear();
        };
        while i < chars.len() {
            let c = chars[i];
            if sq {
                cur.push(c);
                if c == '\'' {
                    sq = false;
                }
                i += 1;
                continue;
            }
            if c == '\\' {
                cur.push(c);
                if let Some(&n) = chars.get(i + 1) {
                    cur.push(n);
                }
                i += 2;
                continue;
            }
            if dq {
                cur.push(c);
                if c == '"' {
                    dq = false;
                }
                i += 1;
                continue;
            }
            match c {
                '\'' => {
                    sq = true;
                    cur.push(c);
                }
                '"' => {
                    dq = true;
                    cur.push(c);
                }
                ';' | '\n' => push(&mut cur, &mut segs),
                '|' => {
                    push(&mut cur, &mut segs);
                    if chars.get(i + 1) == Some(&'|') {
                        i += 1;
                    }
                }
                '&' => {
                    if chars.get(i + 1) == Some(&'&') {
                        push(&mut cur, &mut segs);
                        i += 1;
                    } else if cur.ends_with('>')
                        || cur.ends_with('<')
                        || chars.get(i + 1) == Some(&'>')
                    {
                        cur.push(c);
                    } else {
                        push(&mut cur, &mut segs);
                    }
                }
                _ => cur.push(c),
            }
            i += 1;
        }
        push(&mut cur, &mut segs);
        segs
    }

    /// Splits a segment into words with POSIX quote removal (no expansion).
    pub(crate) fn tokenize_ref(s: &str) -> Vec<String> {
        let chars: Vec<char> = s.chars().collect();
        let mut toks = Vec::new();
        let mut cur = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match c {
                ' ' | '\t' => {
                    if !cur.is_empty() {
                        toks.push(std::mem::take(&mut cur));
                    }
                }
                '\'' => {
                    i += 1;
                    while i < chars.len() && chars[i] != '\'' {
                        cur.push(chars[i]);
                        i += 1;
                    }
                }
                '"' => {
                    i += 1;
                    while i < chars.len() && chars[i] != '"' {
                        if chars[i] == '\\' && i + 1 < chars.len() {
                            if chars[i + 1] != '\n' {
                                cur.push(chars[i + 1]);
                            }
                            i += 2;
                            continue;
                        }
                        cur.push(chars[i]);
                        i += 1;
                    }
                }
                '\\' => {
                    if let Some(&n) = chars.get(i + 1) {
                        if n != '\n' {
                            cur.push(n);
                        }
                        i += 1;
                    }
                }
                _ => cur.push(c),
            }
            i += 1;
        }
        if !cur.is_empty() {
            toks.push(cur);
        }
        toks
    }

    /// The last component after `/` or `\\`.
    pub(crate) fn basename_ref(s: &str) -> &str {
        s.rsplit(['/', '\\']).next().unwrap_or(s)
    }

    /// The text up to the first blank after any leading blanks.
    pub(crate) fn first_word_ref(s: &str) -> &str {
        let t = s.trim_start_matches([' ', '\t']);
        &t[..t.find([' ', '\t']).unwrap_or(t.len())]
    }

    /// The basename and multi-call readings of [`super::alternate_readings`], built from the
    /// token list.
    pub(crate) fn path_readings_ref(s: &str) -> Vec<String> {
        let t = tokenize_ref(s);
        let mut out = Vec::new();
        let Some(first) = t.first() else { return out };
        let base = super::basename(first);
        if base != first.as_str() && !base.is_empty() {
            let mut v = vec![base.to_string()];
            v.extend(t[1..].iter().cloned());
            out.push(v.join(" "));
        }
        if (base == "busybox" || base == "toybox") && t.len() > 1 {
            out.push(t[1..].join(" "));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`alternate_readings_unfiltered`], collected.
    fn unfiltered_readings(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        alternate_readings_unfiltered(s, |r| out.push(r.to_string()));
        out
    }

    proptest::proptest! {
        #[test]
        fn composite_scan_matches_substring_checks(p in "[a &|;$<>()`-]{0,12}") {
            let reference = ["&&", "||", ";", "|", "$(", "`", "<(", ">("]
                .iter()
                .any(|n| p.contains(n));
            proptest::prop_assert_eq!(pattern_is_composite(&p), reference, "{:?}", p);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]
        #[test]
        fn byte_splitter_and_tokenizer_match_the_reference(
            s in "[ab &|;<>'\"\\\\\n\té$(){}#=-]{0,24}"
        ) {
            proptest::prop_assert_eq!(split_compound(&s), reference::split_compound_ref(&s));
            proptest::prop_assert_eq!(tokenize(&s), reference::tokenize_ref(&s));
        }

        #[test]
        fn word_skeleton_drops_exactly_the_removed_characters(s in "[a'\"\\\\\n^é€ ]{0,16}") {
            let expected: String = s.chars().filter(|c| !matches!(c, '\'' | '"' | '\\' | '\n' | '^')).collect();
            let got = word_skeleton(&s);
            proptest::prop_assert_eq!(got.as_ref(), expected.as_str());
        }

        #[test]
        fn byte_word_helpers_match_the_reference(s in "[a/\\\\ \té]{0,12}") {
            proptest::prop_assert_eq!(basename(&s), reference::basename_ref(&s));
            proptest::prop_assert_eq!(first_word(&s), reference::first_word_ref(&s));
        }

        /// The joined-words shortcut of `normalize_segment` agrees with unwrapping the token list.
        #[test]
        fn segment_shortcut_matches_the_token_list(
            words in proptest::collection::vec(
                proptest::sample::select(vec![
                    "ls", "-la", "x=1", "A=b", "=x", "env", "ENV", "command", "exec", "nohup",
                    "nice", "timeout", "5", "setsid", "stdbuf", "-o0", "sh", "/bin/bash", "-c",
                    "'rm -rf /'", "cmd", "CMD.EXE", "/c", "pwsh", "-Command", "powershell.exe",
                    ">", "2>&1", ">out", "<in", "&>", "1>>", "'a b'", "\"x y\"", "rm", "/",
                ]),
                0..6,
            )
        ) {
            let seg = words.join(" ");
            proptest::prop_assert_eq!(
                normalize_segment(&seg),
                normalize_tokens(tokenize(&seg)),
                "{:?}", seg
            );
        }

        /// Readings built from the joined words equal those built from the token list.
        #[test]
        fn path_readings_match_the_token_list(
            s in "(/bin/|busybox |toybox |C:\\\\|'/x/'|\"a b\"/|/)?[ab /'\"\\\\\t^é-]{0,16}"
        ) {
            let mut got = unfiltered_readings(&s);
            if s.contains('^') {
                // The caret reading comes last.
                got.pop();
            }
            let base = tokenize(&s).first().map(|f| basename(f).to_string());
            if base.as_deref().is_some_and(|b| SHELLS.contains(&b)) {
                return Ok(());
            }
            proptest::prop_assert_eq!(got, reference::path_readings_ref(&s), "{:?}", s);
        }
    }

    /// Words that unwrap to `rm`/`find`: launchers, shells, cmd, busybox and pieces of them.
    #[rustfmt::skip]
    const SHORTCUT_WORDS: &[&str] = &[
        "rm", "r", "m", "find", "fi", "nd", "f", "ind", "-rf", "/", "/bin/", "sudo", "env", "-S",
        "sh", "bash", "-c", "-lc", "cmd", "/c", "busybox", "toybox", "nohup", "timeout", "5",
        "exec", "<<<", "<", "<<", "-exec", "-delete", "{}", ";", "+", "x", ".", "&&", "|", "(",
        ")", "{", "}", "if", "then", "fi", "do", "done", "case", "esac", "!", "while", "python",
        "echo", "RM", "Find", "rm.exe", "x=1", "./rm", "run", "git", "-", "r_m", "rm -rf /",
        "find / -delete", "rm -r -f x", "RM -RF /",
    ];
    const SHORTCUT_PREFIXES: &[&str] = &[
        "",
        "",
        "cmd /c ",
        "cmd /c",
        "sh -c '",
        "bash -c \"",
        "busybox ",
        "/bin/",
        "env -S '",
        "find . -exec ",
        "bash ",
        "powershell -c ",
        "nohup ",
        "python -c ",
        "echo ",
        " \t",
    ];
    const SHORTCUT_GLUE: &[&str] = &["", " ", "'", "\"", "\\", "^", "\\\n", "\t", "\n"];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20000))]
        /// The shortcuts never hide an alias or a reading the full computation finds.
        #[test]
        fn shortcuts_lose_nothing(
            prefix in 0..SHORTCUT_PREFIXES.len(),
            parts in proptest::collection::vec(
                (0..SHORTCUT_WORDS.len(), 0..SHORTCUT_GLUE.len()), 0..8)
        ) {
            let s: String = std::iter::once(SHORTCUT_PREFIXES[prefix].to_string())
                .chain(
                    parts
                        .iter()
                        .map(|&(w, g)| format!("{}{}", SHORTCUT_WORDS[w], SHORTCUT_GLUE[g])),
                )
                .collect();
            proptest::prop_assert_eq!(rm_aliases(&s), rm_aliases_unfiltered(&s, false), "{:?}", s);
            proptest::prop_assert_eq!(
                alternate_readings(&s), unfiltered_readings(&s), "{:?}", s);
            proptest::prop_assert_eq!(body_variants(&s), body_variants_unfiltered(&s), "{:?}", s);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]
        /// A segment with a word that tokenizes to `eval` is never ruled out.
        #[test]
        fn may_spell_keeps_every_eval(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "e", "v", "a", "l", "eval", "ev", "al", "'", "\"", "\\", "\n", "\\\n",
                    " ", "\t", "x", "=", "$(", ")",
                ]),
                0..10,
            )
        ) {
            let seg: String = parts.concat();
            if tokenize(&seg).iter().any(|w| w == "eval") {
                proptest::prop_assert!(may_spell(&seg, "eval"), "{:?}", seg);
            }
            // Exactly a search of the skeleton.
            proptest::prop_assert_eq!(
                may_spell(&seg, "eval"),
                word_skeleton(&seg).contains("eval"),
                "{:?}", seg
            );
        }
    }

    /// Words plain texts are made of, and words that must stop a text from being plain.
    const PLAIN_PARTS: &[&str] = &[
        "git",
        "status",
        "-la",
        "a=b",
        "x/y",
        "/bin/ls",
        "rm",
        "RM",
        "find",
        "bash",
        "Sh",
        "env",
        "Timeout",
        "fi",
        "done",
        "case",
        "if",
        "eval",
        "export",
        "cmd.exe",
        "busybox",
        "build:all",
        "50%",
        "-",
        ".",
        "@scope/pkg",
        "1,2",
    ];

    proptest::proptest! {
        /// A plain-words text is its own and only compatibility reading, as the shortcuts in
        /// the view builder and the segment cache assume.
        #[test]
        fn plain_words_are_their_own_reading(
            words in proptest::collection::vec(0..PLAIN_PARTS.len(), 1..5)
        ) {
            let s: String = words.iter().map(|&w| PLAIN_PARTS[w]).collect::<Vec<_>>().join(" ");
            if plain_words(&s) {
                proptest::prop_assert_eq!(normalize_segment(&s), s.clone());
                proptest::prop_assert_eq!(split_compound(&s), vec![s.as_str()]);
                proptest::prop_assert!(body_variants_unfiltered(&s).is_empty(), "{:?}", s);
                proptest::prop_assert!(unfiltered_readings(&s).is_empty(), "{:?}", s);
                proptest::prop_assert_eq!(rm_aliases_unfiltered(&s, false), Ok(Vec::new()));
                proptest::prop_assert!(extract_subcommands(&s).is_empty(), "{:?}", s);
            }
        }
    }

    #[test]
    fn not_plain_first_words() {
        let words = "command exec nohup env nice timeout setsid stdbuf sh bash zsh dash ash ksh cmd \
            cmd.exe powershell powershell.exe pwsh pwsh.exe busybox toybox rm find eval case if \
            elif while until then do else export declare typeset local readonly set setx";
        for w in words.split_whitespace() {
            assert!(not_plain_first(w), "{w:?}");
            assert!(not_plain_first(&w.to_ascii_uppercase()), "{w:?}");
            assert!(!plain_words(&format!("{w} x")), "{w:?}");
            for near in [&w[1..], &format!("{w}x"), &format!("x{w}")] {
                let listed = words.split_whitespace().any(|x| x == near);
                assert_eq!(not_plain_first(near), listed, "{near:?}");
            }
        }
        for w in ["", "r", "git", "powershell.exe.", "ｒｍ", "rm\u{0}"] {
            assert!(!not_plain_first(w), "{w:?}");
        }
    }

    #[test]
    fn shortcuts_see_through_quoting() {
        for s in [
            "r'm' -rf /",
            "r\\m -rf /",
            "\"r\"m -rf /",
            "fi'n'd / -delete",
            "r^m -rf /",
            "sh -c 'r\\\nm -rf /'",
            "env -S 'rm -rf /'",
        ] {
            assert!(may_run_rm_or_find(s), "{s:?}");
        }
        for s in [
            "cmd /c r^m -rf /",
            "sh -c 'r\\m -rf /'",
            "busybox fi\"n\"d / -delete",
        ] {
            let full = rm_aliases_unfiltered(s, false);
            assert!(!full.unwrap_or_default().is_empty(), "{s:?}");
            assert_eq!(rm_aliases(s), rm_aliases_unfiltered(s, false), "{s:?}");
        }
        assert!(!may_run_rm_or_find("git status && make -j4"));
        // A segment whose first word runs as written, and is neither rm nor find.
        for s in [
            "python -c 'rm -rf /'",
            "  echo rm -rf /",
            "git\trm x",
            "run",
        ] {
            assert!(runs_first_word(s), "{s:?}");
        }
        for s in [
            "rm -rf /",
            "RM -rf /",
            "Find / -delete",
            "'rm' -rf /",
            "x=1 rm -rf /",
            "/bin/rm /",
            "busybox rm /",
            "nohup rm /",
            "sh -c 'rm /'",
            "py'thon' x",
            "",
            "  ",
        ] {
            assert!(!runs_first_word(s), "{s:?}");
        }
        // Past the look-behind bound it answers yes rather than miss one.
        let far = format!("r{}m -rf /", "''".repeat(10));
        assert!(may_run_rm_or_find(&far));
        assert_eq!(rm_aliases(&far), Ok(vec!["rm -rf /".to_string()]));
        assert_eq!(
            alternate_readings("/bin/ls -la"),
            vec!["ls -la".to_string()]
        );
        assert!(alternate_readings("ls -la /bin").is_empty());
        for s in ["bash '<'<< 'rm -rf /'", "sh \\<<<x", "bash <<<'x'"] {
            assert!(!unfiltered_readings(s).is_empty(), "{s:?}");
            assert_eq!(alternate_readings(s), unfiltered_readings(s), "{s:?}");
        }
    }

    #[test]
    fn tokenize_edges() {
        for s in [
            "\"a\\",
            "a\\",
            "'abc",
            "\"x\\\"y\"",
            "é\\é",
            "\\\n",
            "\"\\\n\"",
        ] {
            assert_eq!(tokenize(s), reference::tokenize_ref(s), "{s:?}");
            assert_eq!(split_compound(s), reference::split_compound_ref(s), "{s:?}");
        }
    }

    #[test]
    fn split_examples() {
        assert_eq!(split_compound("a ;; b"), vec!["a", "b"]);
        assert_eq!(split_compound("echo 'a|b'"), vec!["echo 'a|b'"]);
        assert_eq!(
            split_compound("a && b || c; d | e & f"),
            vec!["a", "b", "c", "d", "e", "f"]
        );
        assert_eq!(split_compound("ls 2>&1 | x"), vec!["ls 2>&1", "x"]);
        assert_eq!(split_compound("ls &> out"), vec!["ls &> out"]);
        assert_eq!(
            split_compound("echo ok\nrm -rf /"),
            vec!["echo ok", "rm -rf /"]
        );
    }

    #[test]
    fn normalize_examples() {
        for (i, o) in [
            ("'rm' -rf /", "rm -rf /"),
            (r"r\m -rf /", "rm -rf /"),
            ("FOO=bar rm -rf /", "rm -rf /"),
            ("env -i PATH=/x rm -rf /", "rm -rf /"),
            (
                "nohup timeout 5s nice -n5 setsid -f stdbuf -oL rm -rf /",
                "rm -rf /",
            ),
            ("bash -c 'sh -c rm -rf /'", "rm -rf /"),
            ("a && b || c; d | e & f", "a && b && c && d && e && f"),
            ("python -c 'print(1)'", "python -c print(1)"),
            ("echo $(whoami)", "echo $(whoami)"),
            ("command -v rm", "command -v rm"),
            ("timeout --help git status", "timeout --help git status"),
            ("nice -n nope git status", "nice -n nope git status"),
            ("2>/dev/null ls", "ls"),
            ("bash -c 'git status && ls'", "git status && ls"),
        ] {
            assert_eq!(normalize(i), o, "input {i:?}");
        }
    }

    #[test]
    fn components() {
        let g = grant_view("echo $(whoami) | tee x");
        assert_eq!(g.components, vec!["echo $(whoami)", "tee x", "whoami"]);
        assert!(g.composite);
        assert!(!grant_view("git status").composite);
        assert_eq!(extract_subcommands("eval 'rm -rf /'"), vec!["rm -rf /"]);
        assert_eq!(extract_subcommands("echo '$(x)'"), vec!["x"]);
        assert!(extract_subcommands("echo $(x").is_empty());
        assert_eq!(
            extract_subcommands("a `b` <(c) $(d $(e))"),
            vec!["b", "c", "d $(e)", "e"]
        );
    }

    #[test]
    fn bodies() {
        assert!(body_variants("then rm -rf /").contains(&"rm -rf /"));
        assert!(body_variants("(rm -rf /)").contains(&"rm -rf /"));
        assert!(
            body_variants("case x in a) rm -rf / ;; esac")
                .iter()
                .any(|b| b.starts_with("rm -rf /"))
        );
        assert!(body_variants("echo '(rm -rf /)'").is_empty());
    }

    #[test]
    fn aliases() {
        let a = |c: &str| rm_aliases(c).unwrap_or_default();
        assert_eq!(a("rm -rf /"), vec!["rm -rf /"]);
        assert_eq!(a("rm -vfr -- /"), vec!["rm -rf /"]);
        assert_eq!(a("rm --recursive --force /"), vec!["rm -rf /"]);
        assert_eq!(a("rm -r -f /tmp/../"), vec!["rm -rf /"]);
        assert_eq!(a("rm -rf //"), vec!["rm -rf /"]);
        assert_eq!(a("rm -rf / 2>/dev/null"), vec!["rm -rf /"]);
        assert_eq!(a("rm -rf /tmp # /"), vec!["rm -rf /tmp"]);
        assert_eq!(a("rm -rf work/../../*"), vec!["rm -rf ../*"]);
        assert_eq!(a("rm -f /"), Vec::<String>::new());
        assert_eq!(a("busybox rm -rf /"), vec!["rm -rf /"]);
        assert_eq!(a("find / -delete"), vec!["rm -rf /"]);
        assert_eq!(a("find -delete"), vec!["rm -rf ."]);
        assert_eq!(a(r"find / -exec /bin/rm -rf {} \;"), vec!["rm -rf /"]);
        assert_eq!(a("find /tmp/cache -delete"), vec!["rm -rf /tmp/cache"]);
        let many = format!("rm -rf {}", "x ".repeat(300));
        assert!(rm_aliases(&many).is_err());
    }

    #[test]
    fn readings() {
        assert!(alternate_readings("/bin/rm -rf /").contains(&"rm -rf /".to_string()));
        assert!(alternate_readings("bash <<< 'rm -rf /'").contains(&"rm -rf /".to_string()));
    }

    #[test]
    fn sanitize_strips_controls() {
        assert_eq!(sanitize("r\u{0}m -rf \u{1b}[31m/"), "rm -rf /");
        assert_eq!(sanitize("a\tb\nc\r"), "a\tb\nc");
        // Nothing to strip (the shortcut): non-ASCII text and C1 controls stay.
        assert_eq!(sanitize("ls é \u{85} \t/"), "ls é \u{85} \t/");
        assert_eq!(sanitize("ls é\u{7}"), "ls é");
    }

    proptest::proptest! {
        #[test]
        fn sanitize_removes_exactly_the_controls(s in "[a\\[\\x00-\\x1f\\x1b é~@]{0,24}") {
            // Without escape sequences, the result is the text minus C0 controls but tab and
            // newline; with them, no C0 control but tab and newline is left.
            let out = sanitize(&s);
            proptest::prop_assert!(!out.bytes().any(|b| b < 0x20 && b != b'\t' && b != b'\n'));
            if !s.contains('\u{1b}') {
                let expect: String =
                    s.chars().filter(|&c| c >= ' ' || c == '\t' || c == '\n').collect();
                proptest::prop_assert_eq!(out, expect);
            }
        }
    }
}
