//! The directory lock shared by every writer of one audit directory, and the chain checkpoint
//! stored inside it.
//!
//! Writers (the long-lived `serve` flusher and one-shot hook processes) take an exclusive
//! `flock` on [`LOCK_FILE`] for one batch at a time. The first
//! [`CHECKPOINT_BYTES`] bytes of that file hold a [`Checkpoint`]: the chain head after the last
//! successful batch. A writer that finds the checkpoint exactly as it left it skips every
//! re-read; otherwise it re-synchronises from the chain files. A batch marks the checkpoint
//! dirty before writing, so a writer killed mid-batch forces the next one to recover.

use super::error::AuditError;
use super::files::{GATE_FILE, LOCK_FILE, parse_name};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Size of the checkpoint block at the start of the lock file.
pub const CHECKPOINT_BYTES: usize = 512;

const MAGIC: &str = "rampart-audit-checkpoint";
const VERSION: &str = "v1";
/// Hex digits of the SHA-256 checksum kept in the block.
const SUM_HEX: usize = 32;

/// The raw checkpoint block, as read or written.
pub type RawCheckpoint = [u8; CHECKPOINT_BYTES];

/// The chain head recorded after a batch (or "dirty" while a batch is being written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// False while a batch is in flight: the chain files may not match the rest of the fields.
    pub clean: bool,
    /// Current chain file name (`""` before the first file exists).
    pub file: String,
    /// Length of the current file.
    pub file_len: u64,
    /// Complete lines in the current file.
    pub lines: u64,
    /// Events in the whole chain.
    pub event_count: u64,
    /// Hash of the last event (`""` for an empty chain).
    pub head_hash: String,
    /// File holding the last event (`""` for an empty chain).
    pub rec_file: String,
    /// Byte offset of the last event's line.
    pub rec_offset: u64,
    /// Length of that line including the newline.
    pub rec_len: u64,
}

fn name_field(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

fn checksum(body: &str) -> String {
    let mut h = hex::encode(Sha256::digest(body.as_bytes()));
    h.truncate(SUM_HEX);
    h
}

fn valid_hash(h: &str) -> bool {
    h.strip_prefix("sha256:")
        .is_some_and(|x| x.len() == 64 && x.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Checkpoint {
    /// Serialises into a fixed-size block: one checksummed text line padded with spaces.
    pub fn encode(&self) -> Result<RawCheckpoint, AuditError> {
        let body = format!(
            "{MAGIC} {VERSION} state={} events={} head={} file={} len={} lines={} rec_file={} rec_off={} rec_len={}",
            if self.clean { "clean" } else { "dirty" },
            self.event_count,
            name_field(&self.head_hash),
            name_field(&self.file),
            self.file_len,
            self.lines,
            name_field(&self.rec_file),
            self.rec_offset,
            self.rec_len,
        );
        let line = format!("{body} sum={}\n", checksum(&body));
        if line.len() > CHECKPOINT_BYTES {
            return Err(AuditError::WriteFailed(format!(
                "checkpoint record of {} bytes does not fit in {CHECKPOINT_BYTES}",
                line.len()
            )));
        }
        let mut out = [b' '; CHECKPOINT_BYTES];
        out[..line.len()].copy_from_slice(line.as_bytes());
        Ok(out)
    }

    /// Parses a block; `None` when it is not a well-formed checkpoint with a matching checksum.
    pub fn decode(raw: &[u8]) -> Option<Checkpoint> {
        let end = raw.iter().position(|&b| b == b'\n')?;
        let line = std::str::from_utf8(&raw[..end]).ok()?;
        let (body, sum) = line.rsplit_once(" sum=")?;
        if sum.len() != SUM_HEX || checksum(body) != sum {
            return None;
        }
        let mut parts = body.split(' ');
        if parts.next()? != MAGIC || parts.next()? != VERSION {
            return None;
        }
        let mut field = |key: &str| -> Option<&str> {
            let (k, v) = parts.next()?.split_once('=')?;
            (k == key).then_some(v)
        };
        let clean = match field("state")? {
            "clean" => true,
            "dirty" => false,
            _ => return None,
        };
        let num = |s: &str| -> Option<u64> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        };
        let name = |s: &str| -> Option<String> {
            match s {
                "-" => Some(String::new()),
                n if parse_name(n).is_some() && !n.contains('/') => Some(n.to_string()),
                _ => None,
            }
        };
        let event_count = num(field("events")?)?;
        let head_hash = match field("head")? {
            "-" => String::new(),
            h if valid_hash(h) => h.to_string(),
            _ => return None,
        };
        let file = name(field("file")?)?;
        let file_len = num(field("len")?)?;
        let lines = num(field("lines")?)?;
        let rec_file = name(field("rec_file")?)?;
        let rec_offset = num(field("rec_off")?)?;
        let rec_len = num(field("rec_len")?)?;
        if parts.next().is_some() {
            return None;
        }
        Some(Checkpoint {
            clean,
            file,
            file_len,
            lines,
            event_count,
            head_hash,
            rec_file,
            rec_offset,
            rec_len,
        })
    }
}

/// The audit directory's lock file, opened read/write (not append) so the checkpoint can be
/// rewritten in place, plus the turnstile that keeps waiting fair.
///
/// `flock` has a timeout only by polling, and a poller rarely catches the few microseconds
/// between a busy writer's release and its next batch. So every writer first takes the
/// turnstile ([`GATE_FILE`]), then the lock, then lets the turnstile go: a writer that is
/// waiting for the lock holds the turnstile, so the writer that just released the lock cannot
/// take it again first. The turnstile only orders writers; exclusion comes from the lock file
/// alone, and if the turnstile cannot be opened or locked it is skipped.
#[derive(Debug)]
pub struct DirLock {
    file: File,
    path: PathBuf,
    gate: Option<File>,
    held: bool,
}

/// Shortest and longest pause between attempts while the lock is busy.
const POLL_MIN: Duration = Duration::from_micros(20);
const POLL_MAX: Duration = Duration::from_micros(500);

/// Polls `f.try_lock()` until it succeeds (`Ok(true)`) or `timeout` since `start` passes.
fn poll_lock(f: &File, start: Instant, timeout: Duration) -> std::io::Result<bool> {
    let mut pause = POLL_MIN;
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(true),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Ok(false);
        }
        std::thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(POLL_MAX);
    }
}

fn open_lock_file(path: &Path) -> Result<File, AuditError> {
    let f = OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| AuditError::io("open", path, e))?;
    let md = f.metadata().map_err(|e| AuditError::io("stat", path, e))?;
    if !md.is_file() {
        return Err(AuditError::NotRegular(path.to_path_buf()));
    }
    if md.permissions().mode() & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| AuditError::io("chmod", path, e))?;
    }
    Ok(f)
}

impl DirLock {
    /// Opens (creating, 0600, no symlinks) the lock file of `dir` without locking it.
    pub fn open(dir: &Path) -> Result<DirLock, AuditError> {
        let path = dir.join(LOCK_FILE);
        let file = open_lock_file(&path)?;
        let gate = open_lock_file(&dir.join(GATE_FILE)).ok();
        Ok(DirLock {
            file,
            path,
            gate,
            held: false,
        })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the exclusive lock, waiting at most `timeout`.
    ///
    /// If the lock file was removed or replaced while we waited, the new file is opened and
    /// locked instead, so two writers can never hold locks on different inodes.
    pub fn acquire(&mut self, timeout: Duration) -> Result<(), AuditError> {
        if self.held {
            return Ok(());
        }
        let start = Instant::now();
        let gate_held = match &self.gate {
            Some(g) => match poll_lock(g, start, timeout) {
                Ok(true) => true,
                // Someone waiting for the lock holds the turnstile all this time.
                Ok(false) => return Err(self.timeout(start)),
                // Fairness is best effort: go straight for the lock.
                Err(_) => false,
            },
            None => false,
        };
        let r = self.acquire_lock(start, timeout);
        if gate_held && let Some(g) = &self.gate {
            let _ = g.unlock();
        }
        r
    }

    fn timeout(&self, start: Instant) -> AuditError {
        AuditError::LockTimeout {
            path: self.path.clone(),
            waited: start.elapsed(),
        }
    }

    fn acquire_lock(&mut self, start: Instant, timeout: Duration) -> Result<(), AuditError> {
        loop {
            match poll_lock(&self.file, start, timeout) {
                Ok(true) => {}
                Ok(false) => return Err(self.timeout(start)),
                Err(e) => return Err(AuditError::io("lock", &self.path, e)),
            }
            let linked = self.still_linked();
            if let Ok(true) = linked {
                self.held = true;
                return Ok(());
            }
            let _ = self.file.unlock();
            linked?;
            // Someone replaced the lock file: move to the file now at the path.
            self.file = open_lock_file(&self.path)?;
        }
    }

    /// Whether the file we hold open is still linked into the directory (one fstat).
    ///
    /// Deleting the lock file, or renaming another file over it, drops our inode's link count
    /// to zero; a writer opening the path afterwards would lock a different inode.
    fn still_linked(&self) -> Result<bool, AuditError> {
        let md = self
            .file
            .metadata()
            .map_err(|e| AuditError::io("stat", &self.path, e))?;
        Ok(md.nlink() > 0)
    }

    /// Releases the lock (no-op when not held).
    pub fn release(&mut self) {
        if self.held {
            // Closing the file would release it too; an unlock error leaves nothing to undo.
            let _ = self.file.unlock();
            self.held = false;
        }
    }

    /// Reads the raw checkpoint block; `None` when the file is shorter than a block.
    pub fn read(&self) -> Result<Option<RawCheckpoint>, AuditError> {
        let mut buf = [0u8; CHECKPOINT_BYTES];
        match self.file.read_exact_at(&mut buf, 0) {
            Ok(()) => Ok(Some(buf)),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(AuditError::io("read", &self.path, e)),
        }
    }

    /// Overwrites the checkpoint block in place (no fsync: see the module notes).
    pub fn write(&self, raw: &RawCheckpoint) -> Result<(), AuditError> {
        self.file
            .write_all_at(raw, 0)
            .map_err(|e| AuditError::io("write", &self.path, e))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            clean: true,
            file: "audit-hook-2026-02-11.p3.jsonl".into(),
            file_len: 12345,
            lines: 17,
            event_count: 9001,
            head_hash: format!("sha256:{}", "ab".repeat(32)),
            rec_file: "audit-hook-2026-02-11.p3.jsonl".into(),
            rec_offset: 12000,
            rec_len: 345,
        }
    }

    #[test]
    fn round_trip_and_empty_chain() {
        let c = sample();
        assert_eq!(Checkpoint::decode(&c.encode().unwrap()), Some(c.clone()));
        let dirty = Checkpoint { clean: false, ..c };
        assert_eq!(Checkpoint::decode(&dirty.encode().unwrap()), Some(dirty));
        let empty = Checkpoint {
            clean: true,
            ..Checkpoint::default()
        };
        assert_eq!(Checkpoint::decode(&empty.encode().unwrap()), Some(empty));
    }

    #[test]
    fn damage_is_rejected_not_trusted() {
        let raw = sample().encode().unwrap();
        let line_len = raw.iter().position(|&b| b == b'\n').unwrap();
        for i in 0..line_len {
            let mut bad = raw;
            bad[i] ^= 0x01;
            assert_eq!(Checkpoint::decode(&bad), None, "flip at {i}");
        }
        assert_eq!(Checkpoint::decode(&[0u8; CHECKPOINT_BYTES]), None);
        assert_eq!(Checkpoint::decode(b""), None);
        assert_eq!(Checkpoint::decode(&raw[..line_len]), None);
    }

    #[test]
    fn a_waiting_writer_goes_before_the_one_that_just_released() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut first = DirLock::open(&dir).unwrap();
        first.acquire(Duration::from_secs(5)).unwrap();
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (o2, d2) = (order.clone(), dir.clone());
        let waiter = std::thread::spawn(move || {
            let mut w = DirLock::open(&d2).unwrap();
            w.acquire(Duration::from_secs(20)).unwrap();
            o2.lock().unwrap().push("waiter");
            std::thread::sleep(Duration::from_millis(50));
            w.release();
        });
        // Wait until the waiter holds the turnstile (it then polls the lock).
        let probe = open_lock_file(&dir.join(GATE_FILE)).unwrap();
        let start = Instant::now();
        loop {
            match probe.try_lock() {
                Ok(()) => {
                    probe.unlock().unwrap();
                    assert!(
                        start.elapsed() < Duration::from_secs(20),
                        "waiter never queued"
                    );
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(std::fs::TryLockError::WouldBlock) => break,
                Err(std::fs::TryLockError::Error(e)) => panic!("{e}"),
            }
        }
        // Release and immediately ask again, as a busy flusher does between batches.
        first.release();
        first.acquire(Duration::from_secs(20)).unwrap();
        order.lock().unwrap().push("releaser");
        first.release();
        waiter.join().unwrap();
        assert_eq!(*order.lock().unwrap(), ["waiter", "releaser"]);
    }

    #[test]
    fn lock_timeout_names_the_lock_file() {
        let tmp = tempfile::tempdir().unwrap();
        let mut a = DirLock::open(tmp.path()).unwrap();
        let mut b = DirLock::open(tmp.path()).unwrap();
        a.acquire(Duration::from_secs(5)).unwrap();
        let e = b.acquire(Duration::from_millis(50)).unwrap_err();
        assert!(matches!(e, AuditError::LockTimeout { .. }), "{e}");
        assert!(e.to_string().contains(LOCK_FILE), "{e}");
        a.release();
        b.acquire(Duration::from_secs(5)).unwrap();
    }

    #[test]
    fn names_outside_the_chain_are_rejected() {
        let mut c = sample();
        c.file = "../etc/passwd".into();
        assert!(c.encode().is_ok());
        assert_eq!(Checkpoint::decode(&c.encode().unwrap()), None);
    }
}
