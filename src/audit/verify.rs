//! Streaming chain walker: checks every link and hash from a start position onwards.
//!
//! Used by `rampart audit verify` (from genesis) and by writer start-up (from the last anchor).

use super::anchor::{self, Anchor};
use super::error::AuditError;
use super::event::{AuditEvent, Record, parse_record};
use super::files::{self, ChainFile};
use super::hash::{event_hash, hashes_equal};
use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Maximum size of one record line (spec §7.6), newline excluded.
pub const MAX_RECORD_BYTES: usize = 2 * 1024 * 1024;

/// The first place the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// File holding the bad record (or the anchor file).
    pub file: PathBuf,
    /// 1-based line number (0 when the break is not tied to a line).
    pub line: u64,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.reason)
        } else {
            write!(f, "{}: {}", self.file.display(), self.reason)
        }
    }
}

/// Where a walk starts.
#[derive(Debug, Clone, Default)]
pub struct Start {
    /// Index into the file list.
    pub file_index: usize,
    /// Byte offset in that file.
    pub offset: u64,
    /// Lines already before `offset`.
    pub line: u64,
    /// Hash the next event must link to.
    pub prev_hash: String,
    /// Events before this position.
    pub event_count: u64,
    /// Where the event before this position is stored, when known.
    pub last_record: Option<RecordPos>,
}

/// Where one event line is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordPos {
    /// Chain file name.
    pub file: String,
    /// Byte offset of the line start.
    pub offset: u64,
    /// Line length including the newline.
    pub len: u64,
}

/// An unterminated last line at the very end of the chain (a torn write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The file.
    pub file: PathBuf,
    /// Offset where the torn line starts.
    pub offset: u64,
    /// Its 1-based line number.
    pub line: u64,
}

/// Where the chain ends after a walk.
#[derive(Debug, Clone, Default)]
pub struct Head {
    /// Hash of the last event (`""` when there is none).
    pub hash: String,
    /// Id of the last event.
    pub last_id: String,
    /// Events in the chain.
    pub event_count: u64,
    /// Last chain file, if any.
    pub file: Option<ChainFile>,
    /// Length of the valid part of that file.
    pub file_len: u64,
    /// Complete lines in that file.
    pub lines: u64,
    /// Where the last event is stored (`None` for an empty chain or when unknown).
    pub last_record: Option<RecordPos>,
}

/// Result of a walk.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    /// State after the last good record.
    pub head: Head,
    /// First break, if any (the walk stops there).
    pub brk: Option<ChainBreak>,
    /// Torn last line of the last file (not counted as a break by the writer).
    pub torn: Option<TornTail>,
    /// Files visited.
    pub files: usize,
}

/// Position of one event found during a walk.
#[derive(Debug, Clone, Copy)]
pub struct EventPos<'a> {
    /// The file.
    pub file: &'a ChainFile,
    /// 1-based line.
    pub line: u64,
    /// Byte offset of the line start.
    pub offset: u64,
    /// Line length including the newline.
    pub len: u64,
    /// 1-based position in the global chain.
    pub count: u64,
}

/// Walks `files` from `start`, checking links, hashes and continuation headers.
pub fn walk(
    files: &[ChainFile],
    start: &Start,
    mut on_event: impl FnMut(&AuditEvent, EventPos<'_>),
) -> Result<Walk, AuditError> {
    let mut w = Walk {
        head: Head {
            hash: start.prev_hash.clone(),
            event_count: start.event_count,
            last_record: start.last_record.clone(),
            ..Head::default()
        },
        ..Walk::default()
    };
    let mut prev_name: Option<String> = start
        .file_index
        .checked_sub(1)
        .and_then(|i| files.get(i))
        .map(|f| f.name.clone());
    let mut buf = Vec::with_capacity(4096);
    for (idx, cf) in files.iter().enumerate().skip(start.file_index) {
        w.files += 1;
        let first_in_walk = idx == start.file_index;
        let (mut offset, mut line) = if first_in_walk {
            (start.offset, start.line)
        } else {
            (0, 0)
        };
        let mut f = files::open_read(&cf.path)?;
        if offset > 0 {
            f.seek(SeekFrom::Start(offset))
                .map_err(|e| AuditError::io("seek", &cf.path, e))?;
        }
        let mut r = BufReader::with_capacity(256 * 1024, f);
        let is_last_file = idx + 1 == files.len();
        w.head.file = Some(cf.clone());
        w.head.file_len = offset;
        w.head.lines = line;
        let brk = |line: u64, reason: String| ChainBreak {
            file: cf.path.clone(),
            line,
            reason,
        };
        loop {
            buf.clear();
            let n = (&mut r)
                .take(MAX_RECORD_BYTES as u64 + 2)
                .read_until(b'\n', &mut buf)
                .map_err(|e| AuditError::io("read", &cf.path, e))?;
            if n == 0 {
                break;
            }
            line += 1;
            if buf.last() != Some(&b'\n') {
                if n > MAX_RECORD_BYTES {
                    w.brk = Some(brk(
                        line,
                        format!("record exceeds {MAX_RECORD_BYTES} bytes"),
                    ));
                } else if is_last_file {
                    w.torn = Some(TornTail {
                        file: cf.path.clone(),
                        offset,
                        line,
                    });
                } else {
                    w.brk = Some(brk(line, "unterminated line (file truncated)".into()));
                }
                return Ok(w);
            }
            let body = &buf[..buf.len() - 1];
            if body.len() > MAX_RECORD_BYTES {
                w.brk = Some(brk(
                    line,
                    format!("record exceeds {MAX_RECORD_BYTES} bytes"),
                ));
                return Ok(w);
            }
            let rec = match parse_record(body) {
                Ok(r) => r,
                Err(e) => {
                    w.brk = Some(brk(line, format!("unparsable record: {e}")));
                    return Ok(w);
                }
            };
            match rec {
                Record::Continue(c) => {
                    if line != 1 {
                        w.brk = Some(brk(
                            line,
                            "continuation header is not the first line of its file".into(),
                        ));
                        return Ok(w);
                    }
                    match &prev_name {
                        None => {
                            w.brk = Some(brk(
                                line,
                                format!(
                                    "file continues from {:?}, which is missing (chain start deleted?)",
                                    c.prev_file
                                ),
                            ));
                            return Ok(w);
                        }
                        Some(p) if *p != c.prev_file => {
                            w.brk = Some(brk(
                                line,
                                format!(
                                    "file continues from {:?} but the previous file is {p:?} (file missing?)",
                                    c.prev_file
                                ),
                            ));
                            return Ok(w);
                        }
                        Some(_) => {}
                    }
                    if !hashes_equal(&c.chain_continue, &w.head.hash) {
                        w.brk = Some(brk(
                            line,
                            format!(
                                "continuation hash {} does not match the previous event {}",
                                c.chain_continue,
                                show_hash(&w.head.hash)
                            ),
                        ));
                        return Ok(w);
                    }
                }
                Record::Event(e) => {
                    if !hashes_equal(&e.prev_hash, &w.head.hash) {
                        let reason = if e.prev_hash.is_empty() {
                            "chain restarts here (prev_hash empty); events before it are missing or it was inserted".to_string()
                        } else {
                            format!(
                                "prev_hash {} does not link to the previous event {} (line deleted, inserted or reordered?)",
                                e.prev_hash,
                                show_hash(&w.head.hash)
                            )
                        };
                        w.brk = Some(brk(line, reason));
                        return Ok(w);
                    }
                    let computed = event_hash(&e);
                    if !hashes_equal(&computed, &e.hash) {
                        w.brk = Some(brk(
                            line,
                            format!(
                                "hash mismatch: record says {}, content hashes to {computed} (record modified)",
                                show_hash(&e.hash)
                            ),
                        ));
                        return Ok(w);
                    }
                    w.head.event_count += 1;
                    on_event(
                        &e,
                        EventPos {
                            file: cf,
                            line,
                            offset,
                            len: n as u64,
                            count: w.head.event_count,
                        },
                    );
                    w.head.hash = e.hash.clone();
                    w.head.last_id = e.id.clone();
                    match &mut w.head.last_record {
                        Some(r) if r.file == cf.name => {
                            r.offset = offset;
                            r.len = n as u64;
                        }
                        other => {
                            *other = Some(RecordPos {
                                file: cf.name.clone(),
                                offset,
                                len: n as u64,
                            });
                        }
                    }
                }
            }
            offset += n as u64;
            w.head.file_len = offset;
            w.head.lines = line;
        }
        prev_name = Some(cf.name.clone());
    }
    Ok(w)
}

fn show_hash(h: &str) -> &str {
    if h.is_empty() { "\"\" (genesis)" } else { h }
}

/// Outcome of a full verification.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Events checked.
    pub events: u64,
    /// Chain files visited.
    pub files: usize,
    /// Anchors checked.
    pub anchors: usize,
    /// Hash of the last good event.
    pub head_hash: String,
    /// First break, if any.
    pub brk: Option<ChainBreak>,
}

/// Verifies every chain file in `dir` from genesis, then every anchor.
pub fn verify_dir(dir: &Path) -> Result<VerifyReport, AuditError> {
    let files = files::list_chain_files(dir)?;
    let (mut anchors, anchor_brk) = anchor::load_all(dir)?;
    let mut by_id: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, a) in anchors.iter().enumerate() {
        by_id.entry(a.anchor.event_id.clone()).or_default().push(i);
    }
    let mut found = vec![None::<String>; anchors.len()];
    let w = walk(&files, &Start::default(), |e, pos| {
        if let Some(list) = by_id.get(&e.id) {
            for &i in list {
                let a: &Anchor = &anchors[i].anchor;
                let mut problem = None;
                if !hashes_equal(&a.hash, &e.hash) {
                    problem = Some(format!(
                        "anchor for event {} says hash {}, chain has {}",
                        a.event_id, a.hash, e.hash
                    ));
                } else if anchors[i].check_count && a.event_count != pos.count {
                    problem = Some(format!(
                        "anchor says event {} is number {}, chain has it at {} (events deleted or inserted before it)",
                        a.event_id, a.event_count, pos.count
                    ));
                }
                found[i] = Some(problem.unwrap_or_default());
            }
        }
    })?;
    let mut report = VerifyReport {
        events: w.head.event_count,
        files: w.files,
        anchors: anchors.len(),
        head_hash: w.head.hash.clone(),
        brk: w.brk.clone(),
    };
    if report.brk.is_none()
        && let Some(t) = &w.torn
    {
        report.brk = Some(ChainBreak {
            file: t.file.clone(),
            line: t.line,
            reason:
                "unterminated last line (torn write; the writer moves it aside at its next start)"
                    .into(),
        });
    }
    if report.brk.is_none() {
        report.brk = anchor_brk;
    }
    if report.brk.is_none() {
        for (i, a) in anchors.drain(..).enumerate() {
            let problem = match &found[i] {
                None => Some(format!(
                    "anchor names event {} (number {}, {}) which is not in the chain (truncated or deleted?)",
                    a.anchor.event_id, a.anchor.event_count, a.anchor.hash
                )),
                Some(p) if !p.is_empty() => Some(p.clone()),
                Some(_) => None,
            };
            if let Some(reason) = problem {
                report.brk = Some(ChainBreak {
                    file: a.source,
                    line: a.line,
                    reason,
                });
                break;
            }
        }
    }
    Ok(report)
}
