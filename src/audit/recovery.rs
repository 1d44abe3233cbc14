//! Start-up recovery: verify only the tail since the last anchor and move a torn last line aside.

use super::anchor::{self, Anchor};
use super::error::AuditError;
use super::event::{Record, parse_record};
use super::files::{self, ChainFile};
use super::hash::{event_hash, hashes_equal, sha256_tagged};
use super::verify::{Head, Start, walk};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A torn tail that was moved aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornMoved {
    /// The chain file it was cut from.
    pub from_file: String,
    /// Where it starts in that file.
    pub offset: u64,
    /// File that now holds the bytes.
    pub recovery_file: PathBuf,
    /// How many bytes were moved.
    pub bytes: u64,
    /// `sha256:` of those bytes.
    pub sha256: String,
}

/// What start-up found.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    /// The chain head to continue from.
    pub head: Head,
    /// Verification started at this anchor (otherwise from genesis).
    pub from_anchor: Option<Anchor>,
    /// Events verified at start-up.
    pub events_verified: u64,
    /// A torn tail that was moved aside.
    pub torn: Option<TornMoved>,
}

/// Checks an anchor against the bytes it points at; returns the walk start after it.
fn start_from_anchor(files: &[ChainFile], a: &Anchor) -> Option<Start> {
    let idx = files.iter().position(|f| f.name == a.file)?;
    if a.len == 0 || a.len > super::verify::MAX_RECORD_BYTES as u64 + 1 || a.line == 0 {
        return None;
    }
    let mut f = files::open_read(&files[idx].path).ok()?;
    f.seek(SeekFrom::Start(a.offset)).ok()?;
    let mut buf = vec![0u8; usize::try_from(a.len).ok()?];
    f.read_exact(&mut buf).ok()?;
    if buf.pop() != Some(b'\n') {
        return None;
    }
    let Ok(Record::Event(e)) = parse_record(&buf) else {
        return None;
    };
    if e.id != a.event_id
        || !hashes_equal(&e.hash, &a.hash)
        || !hashes_equal(&event_hash(&e), &e.hash)
    {
        return None;
    }
    Some(Start {
        file_index: idx,
        offset: a.offset + a.len,
        line: a.line,
        prev_hash: e.hash.clone(),
        event_count: a.event_count,
    })
}

/// Recovers the chain state of `dir`: anchor-based tail verification and torn-tail quarantine.
///
/// Any other damage (bad hash, broken link, unparsable line) is returned as [`AuditError::Broken`].
pub fn recover(dir: &Path) -> Result<Recovered, AuditError> {
    anchor::repair_log(dir)?;
    let files = files::list_chain_files(dir)?;
    let mut out = Recovered::default();
    let start = match anchor::last_anchor(dir)? {
        Some(a) => match start_from_anchor(&files, &a) {
            Some(s) => {
                out.from_anchor = Some(a);
                s
            }
            None => Start::default(),
        },
        None => Start::default(),
    };
    let event_count_before = start.event_count;
    let w = walk(&files, &start, |_, _| {})?;
    if let Some(b) = w.brk {
        return Err(AuditError::Broken(Box::new(b)));
    }
    out.events_verified = w.head.event_count - event_count_before;
    out.head = w.head;
    if let Some(t) = w.torn {
        out.torn = Some(quarantine(dir, &t.file, t.offset)?);
        // The walk stopped at the torn line, so head.file_len is where the file now ends.
    }
    Ok(out)
}

fn quarantine(dir: &Path, file: &Path, offset: u64) -> Result<TornMoved, AuditError> {
    let mut f = files::open_append(file)?;
    let mut r = &f;
    r.seek(SeekFrom::Start(offset))
        .map_err(|e| AuditError::io("seek", file, e))?;
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)
        .map_err(|e| AuditError::io("read", file, e))?;
    let name = format!("audit-recovery-{}.torn", ulid::Ulid::generate());
    let rec_path = dir.join(name);
    let mut rf = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&rec_path)
        .map_err(|e| AuditError::io("create", &rec_path, e))?;
    rf.write_all(&bytes)
        .map_err(|e| AuditError::io("write", &rec_path, e))?;
    rf.sync_all()
        .map_err(|e| AuditError::io("fsync", &rec_path, e))?;
    files::sync_dir(dir)?;
    f.set_len(offset)
        .map_err(|e| AuditError::io("truncate", file, e))?;
    f.sync_all().map_err(|e| AuditError::io("fsync", file, e))?;
    f.flush().map_err(|e| AuditError::io("flush", file, e))?;
    Ok(TornMoved {
        from_file: file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        offset,
        recovery_file: rec_path,
        bytes: bytes.len() as u64,
        sha256: sha256_tagged(&bytes),
    })
}
