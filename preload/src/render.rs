//! The command line sent for an exec: argv words joined with POSIX shell quoting.

use crate::buf::Sink;
use std::ffi::{CStr, c_char};

/// Most argv entries read from one C array (a guard against an unterminated array).
pub const MAX_ARGS: usize = 1 << 20;

/// Bytes that need no quoting.
fn is_bare(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b)
}

/// Writes one word: bare when it only holds `[A-Za-z0-9_@%+=:,./-]`, otherwise single-quoted
/// with `'\''` for embedded quotes; the empty word is `''`.
pub fn put_word<S: Sink>(out: &mut S, w: &[u8]) {
    if w.is_empty() {
        out.put(b"''");
        return;
    }
    if w.iter().all(|b| is_bare(*b)) {
        out.put(w);
        return;
    }
    out.put(b"'");
    let mut parts = w.split(|b| *b == b'\'');
    if let Some(first) = parts.next() {
        out.put(first);
    }
    for p in parts {
        out.put(b"'\\''");
        out.put(p);
    }
    out.put(b"'");
}

/// The last path component of `p`.
pub fn basename(p: &[u8]) -> &[u8] {
    match p.iter().rposition(|b| *b == b'/') {
        Some(i) => p.get(i.saturating_add(1)..).unwrap_or(&[]),
        None => p,
    }
}

/// The word that names the program: `argv[0]` when it equals the executable path or its
/// basename, otherwise the executable path (so a spoofed `argv[0]` cannot disguise it).
pub fn first_word<'a>(argv0: Option<&'a [u8]>, exe: &'a [u8]) -> &'a [u8] {
    match argv0 {
        Some(a) if !a.is_empty() && (a == exe || a == basename(exe)) => a,
        _ => exe,
    }
}

/// A NULL-terminated C string array (`argv`, `envp`), read lazily.
#[derive(Clone, Copy)]
pub struct CArray {
    ptr: *const *const c_char,
}

impl CArray {
    /// Wraps `ptr` (may be NULL, read as empty).
    ///
    /// # Safety
    /// `ptr` must be NULL or point to a NULL-terminated array of NUL-terminated strings that
    /// stay valid while this value is used.
    pub unsafe fn new(ptr: *const *const c_char) -> Self {
        CArray { ptr }
    }

    /// The raw pointer.
    pub fn as_ptr(&self) -> *const *const c_char {
        self.ptr
    }

    /// Iterates over the entries with their raw pointers (at most [`MAX_ARGS`]).
    pub fn iter_ptrs(&self) -> impl Iterator<Item = (*const c_char, &'static [u8])> + use<> {
        let a = *self;
        (0..MAX_ARGS).map_while(move |i| {
            let p = a.raw(i);
            // SAFETY: as in `CArrayIter::next`.
            (!p.is_null()).then(|| (p, unsafe { CStr::from_ptr(p) }.to_bytes()))
        })
    }

    /// Entry `i` as a raw pointer, or NULL at and after the end.
    fn raw(&self, i: usize) -> *const c_char {
        if self.ptr.is_null() {
            return std::ptr::null();
        }
        // SAFETY: `new`'s contract: entries up to the terminating NULL are readable; callers
        // stop at the first NULL.
        unsafe { *self.ptr.add(i) }
    }

    /// Iterates over the entries (at most [`MAX_ARGS`]).
    pub fn iter(&self) -> CArrayIter {
        CArrayIter { a: *self, i: 0 }
    }

    /// The first entry.
    pub fn first(&self) -> Option<&[u8]> {
        self.iter().next()
    }

    /// Number of entries (at most [`MAX_ARGS`]).
    pub fn count(&self) -> usize {
        self.iter().count()
    }
}

/// Iterator over a [`CArray`].
pub struct CArrayIter {
    a: CArray,
    i: usize,
}

impl Iterator for CArrayIter {
    type Item = &'static [u8];

    fn next(&mut self) -> Option<&'static [u8]> {
        if self.i >= MAX_ARGS {
            return None;
        }
        let p = self.a.raw(self.i);
        if p.is_null() {
            return None;
        }
        self.i = self.i.saturating_add(1);
        // SAFETY: a non-NULL entry of the array is a NUL-terminated string (contract of
        // `CArray::new`); the 'static lifetime is bounded in practice by that contract.
        Some(unsafe { CStr::from_ptr(p) }.to_bytes())
    }
}

/// What a call would run.
#[derive(Clone, Copy)]
pub enum Command<'a> {
    /// A shell command string, sent verbatim (`system`, `popen`).
    Shell(&'a [u8]),
    /// A program and its arguments: the first word, then `argv[1..]`.
    Argv {
        /// The program word (see [`first_word`]).
        first: &'a [u8],
        /// The whole argv; entry 0 is skipped.
        argv: CArray,
    },
}

impl Command<'_> {
    /// Writes the command line.
    pub fn render<S: Sink>(&self, out: &mut S) {
        match self {
            Command::Shell(s) => out.put(s),
            Command::Argv { first, argv } => {
                put_word(out, first);
                for w in argv.iter().skip(1) {
                    out.put(b" ");
                    put_word(out, w);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::SliceBuf;
    use std::ffi::CString;

    fn word(w: &[u8]) -> String {
        let mut raw = [0u8; 256];
        let mut b = SliceBuf::new(&mut raw);
        put_word(&mut b, w);
        String::from_utf8_lossy(b.bytes()).into_owned()
    }

    #[test]
    fn quoting() {
        assert_eq!(word(b"ls"), "ls");
        assert_eq!(
            word(b"/usr/bin/x-y_z@1%2+3=4:5,6."),
            "/usr/bin/x-y_z@1%2+3=4:5,6."
        );
        assert_eq!(word(b""), "''");
        assert_eq!(word(b"a b"), "'a b'");
        assert_eq!(word(b"it's"), "'it'\\''s'");
        assert_eq!(word(b"'"), "''\\'''");
        assert_eq!(word(b"$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(word("é".as_bytes()), "'é'");
    }

    #[test]
    fn program_word_resists_spoofing() {
        assert_eq!(first_word(Some(b"ls"), b"/usr/bin/ls"), b"ls");
        assert_eq!(
            first_word(Some(b"/usr/bin/ls"), b"/usr/bin/ls"),
            b"/usr/bin/ls"
        );
        assert_eq!(first_word(Some(b"ls"), b"ls"), b"ls");
        assert_eq!(first_word(Some(b"spoofed"), b"/bin/true"), b"/bin/true");
        assert_eq!(first_word(Some(b"-bash"), b"/bin/bash"), b"/bin/bash");
        assert_eq!(first_word(Some(b""), b"/bin/true"), b"/bin/true");
        assert_eq!(first_word(None, b"/bin/true"), b"/bin/true");
        assert_eq!(basename(b"/a/b/"), b"");
        assert_eq!(basename(b"x"), b"x");
    }

    #[test]
    fn argv_line() {
        let owned: Vec<CString> = ["sh", "-c", "echo 'hi there'", ""]
            .iter()
            .map(|s| CString::new(*s).unwrap())
            .collect();
        let mut ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        let argv = unsafe { CArray::new(ptrs.as_ptr()) };
        assert_eq!(argv.count(), 4);
        let cmd = Command::Argv {
            first: first_word(argv.first(), b"/bin/sh"),
            argv,
        };
        let mut raw = [0u8; 256];
        let mut b = SliceBuf::new(&mut raw);
        cmd.render(&mut b);
        assert_eq!(b.bytes(), b"sh -c 'echo '\\''hi there'\\''' ''");
        let empty = unsafe { CArray::new(std::ptr::null()) };
        assert_eq!(empty.count(), 0);
    }
}
