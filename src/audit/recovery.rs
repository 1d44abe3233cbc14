//! Start-up recovery: verify only the tail since the last anchor and move a torn last line aside.

use super::anchor::{self, Anchor};
use super::checkpoint::Checkpoint;
use super::error::AuditError;
use super::event::{Record, parse_record};
use super::files::{self, ChainFile};
use super::hash::{event_hash, hashes_equal, sha256_tagged};
use super::verify::{Head, RecordPos, Start, walk};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
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

/// How a writer found the chain head.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HeadSource {
    /// Walked the chain files (from the last anchor, or from genesis).
    #[default]
    Walk,
    /// Took a clean checkpoint after checking the one record it points at; nothing was walked.
    Checkpoint,
}

/// What start-up found.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    /// Whether the head came from a chain walk or from the checkpoint.
    pub source: HeadSource,
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
        last_record: Some(RecordPos {
            file: a.file.clone(),
            offset: a.offset,
            len: a.len,
        }),
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

/// Takes the chain head from a clean checkpoint without walking the chain.
///
/// The checkpoint is checked, not trusted: its file must be the last chain file and have
/// exactly the recorded length, and the recorded last record must be a whole line at the end
/// of that file that parses and hashes to the recorded head hash. `None` means "do not use
/// it, recover instead". The event count and line count cannot be checked without a walk.
pub fn from_checkpoint(dir: &Path, ck: &Checkpoint) -> Result<Option<Recovered>, AuditError> {
    if !ck.clean {
        return Ok(None);
    }
    let files = files::list_chain_files(dir)?;
    if ck.event_count == 0 {
        let empty = files.is_empty()
            && ck.file.is_empty()
            && ck.head_hash.is_empty()
            && ck.rec_file.is_empty()
            && ck.file_len == 0;
        return Ok(empty.then(|| Recovered {
            source: HeadSource::Checkpoint,
            ..Recovered::default()
        }));
    }
    let Some(cf) = files.last() else {
        return Ok(None);
    };
    let max_line = super::verify::MAX_RECORD_BYTES as u64 + 1;
    if cf.name != ck.file
        || ck.rec_file != ck.file
        || ck.lines == 0
        || ck.rec_len < 2
        || ck.rec_len > max_line
        || ck.rec_offset.checked_add(ck.rec_len) != Some(ck.file_len)
    {
        return Ok(None);
    }
    let Ok(f) = files::open_read(&cf.path) else {
        return Ok(None);
    };
    match f.metadata() {
        Ok(md) if md.len() == ck.file_len => {}
        _ => return Ok(None),
    }
    // Read one byte before the record too: it must be a line start.
    let from = ck.rec_offset.saturating_sub(1);
    let Ok(size) = usize::try_from(ck.file_len - from) else {
        return Ok(None);
    };
    let mut buf = vec![0u8; size];
    if f.read_exact_at(&mut buf, from).is_err() {
        return Ok(None);
    }
    let body = if ck.rec_offset > 0 {
        match buf.split_first() {
            Some((b'\n', rest)) => rest,
            _ => return Ok(None),
        }
    } else {
        &buf[..]
    };
    let Some((b'\n', line)) = body.split_last() else {
        return Ok(None);
    };
    let Ok(Record::Event(e)) = parse_record(line) else {
        return Ok(None);
    };
    if !hashes_equal(&e.hash, &ck.head_hash) || !hashes_equal(&event_hash(&e), &e.hash) {
        return Ok(None);
    }
    Ok(Some(Recovered {
        source: HeadSource::Checkpoint,
        head: Head {
            hash: e.hash.clone(),
            last_id: e.id.clone(),
            event_count: ck.event_count,
            file: Some(cf.clone()),
            file_len: ck.file_len,
            lines: ck.lines,
            last_record: Some(RecordPos {
                file: ck.rec_file.clone(),
                offset: ck.rec_offset,
                len: ck.rec_len,
            }),
        },
        from_anchor: None,
        events_verified: 1,
        torn: None,
    }))
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
