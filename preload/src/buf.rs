//! Allocation-free byte sinks: a counter, a fixed slice writer, and an anonymous mapping.

/// A destination for bytes.
pub trait Sink {
    /// Appends `b`.
    fn put(&mut self, b: &[u8]);
}

/// Counts the bytes it is given (the sizing pass before a buffer is mapped).
#[derive(Default)]
pub struct Counter(pub usize);

impl Sink for Counter {
    fn put(&mut self, b: &[u8]) {
        self.0 = self.0.saturating_add(b.len());
    }
}

/// Writes into a borrowed slice; what does not fit is dropped and remembered as overflow.
pub struct SliceBuf<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflow: bool,
}

impl<'a> SliceBuf<'a> {
    /// An empty writer over `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        SliceBuf {
            buf,
            len: 0,
            overflow: false,
        }
    }

    /// The bytes written so far.
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Number of bytes written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether some bytes did not fit.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// Room left.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.len)
    }
}

impl Sink for SliceBuf<'_> {
    fn put(&mut self, b: &[u8]) {
        let room = self.remaining();
        let n = b.len().min(room);
        if n < b.len() {
            self.overflow = true;
        }
        let end = self.len.saturating_add(n);
        if let (Some(dst), Some(src)) = (self.buf.get_mut(self.len..end), b.get(..n)) {
            dst.copy_from_slice(src);
            self.len = end;
        }
    }
}

/// Writes `v` in decimal.
pub fn put_u64<S: Sink>(out: &mut S, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i = i.saturating_sub(1);
        if let Some(slot) = tmp.get_mut(i) {
            *slot = b'0'.saturating_add((v % 10) as u8);
        }
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    out.put(tmp.get(i..).unwrap_or(&[]));
}

/// Writes printable text for a one-line stderr message: control bytes become `?`, and at most
/// `max` bytes are written (then `...`).
pub fn put_printable<S: Sink>(out: &mut S, text: &[u8], max: usize) {
    let shown = text.get(..max.min(text.len())).unwrap_or(&[]);
    for chunk in shown.split_inclusive(|b| *b < 0x20 || *b == 0x7f) {
        match chunk.split_last() {
            Some((last, head)) if *last < 0x20 || *last == 0x7f => {
                out.put(head);
                out.put(b"?");
            }
            _ => out.put(chunk),
        }
    }
    if text.len() > max {
        out.put(b"...");
    }
}

/// A private anonymous read/write mapping, unmapped on drop. `mmap` is async-signal-safe,
/// unlike `malloc`, so it is usable in a child after `fork` or `vfork`.
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    /// Maps `len` zeroed bytes; `None` when the kernel refuses.
    pub fn new(len: usize) -> Option<Mapping> {
        if len == 0 {
            return None;
        }
        // SAFETY: an anonymous private mapping with no address hint touches no existing memory.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return None;
        }
        Some(Mapping { ptr: p.cast(), len })
    }

    /// The mapped bytes.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` is a live mapping of `len` bytes owned by `self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping the region this value mapped and still owns.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_buf_truncates_and_flags() {
        let mut raw = [0u8; 4];
        let mut b = SliceBuf::new(&mut raw);
        b.put(b"ab");
        b.put(b"cdef");
        assert_eq!(b.bytes(), b"abcd");
        assert!(b.overflowed());
    }

    #[test]
    fn decimal() {
        for (v, s) in [(0u64, "0"), (7, "7"), (1234567890, "1234567890")] {
            let mut raw = [0u8; 32];
            let mut b = SliceBuf::new(&mut raw);
            put_u64(&mut b, v);
            assert_eq!(b.bytes(), s.as_bytes());
        }
        let mut raw = [0u8; 32];
        let mut b = SliceBuf::new(&mut raw);
        put_u64(&mut b, u64::MAX);
        assert_eq!(b.bytes(), u64::MAX.to_string().as_bytes());
    }

    #[test]
    fn printable_replaces_controls_and_truncates() {
        let mut raw = [0u8; 64];
        let mut b = SliceBuf::new(&mut raw);
        put_printable(&mut b, b"a\nb\x1b[31mc", 100);
        assert_eq!(b.bytes(), b"a?b?[31mc");
        let mut raw = [0u8; 64];
        let mut b = SliceBuf::new(&mut raw);
        put_printable(&mut b, b"abcdef", 3);
        assert_eq!(b.bytes(), b"abc...");
    }

    #[test]
    fn mapping_is_writable() {
        let mut m = Mapping::new(10_000).unwrap();
        let s = m.bytes_mut();
        assert_eq!(s.len(), 10_000);
        s[9_999] = 1;
        assert_eq!(s[9_999], 1);
    }
}
