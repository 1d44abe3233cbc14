//! Anchors: every N events the head hash is appended to an append-only anchor log.

use super::error::AuditError;
use super::files::{ANCHOR_LOG, GO_ANCHOR_FILE, open_read};
use super::gojson::write_str;
use super::verify::ChainBreak;
use serde_json::Value;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// One anchor: the chain head after `event_count` events.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Anchor {
    /// Id of the anchored event.
    pub event_id: String,
    /// Its hash.
    pub hash: String,
    /// Its 1-based position in the chain.
    pub event_count: u64,
    /// When the anchor was written (RFC 3339).
    pub timestamp: String,
    /// Chain file holding the event.
    pub file: String,
    /// Byte offset of the event's line in that file (ours only).
    pub offset: u64,
    /// Length of that line including the newline (ours only).
    pub len: u64,
    /// 1-based line number in that file (ours only).
    pub line: u64,
}

impl Anchor {
    /// The anchor as one JSON line (without newline).
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(256);
        o.push_str("{\"event_id\":");
        write_str(&mut o, &self.event_id);
        o.push_str(",\"hash\":");
        write_str(&mut o, &self.hash);
        o.push_str(&format!(",\"event_count\":{}", self.event_count));
        o.push_str(",\"timestamp\":");
        write_str(&mut o, &self.timestamp);
        o.push_str(",\"file\":");
        write_str(&mut o, &self.file);
        o.push_str(&format!(
            ",\"offset\":{},\"len\":{},\"line\":{}}}",
            self.offset, self.len, self.line
        ));
        o
    }

    /// Parses an anchor object (ours or the Go `audit-anchor.json`).
    pub fn from_json(text: &str) -> Option<Anchor> {
        let v: Value = serde_json::from_str(text).ok()?;
        let m = v.as_object()?;
        let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let n = |k: &str| m.get(k).and_then(Value::as_u64).unwrap_or(0);
        let a = Anchor {
            event_id: s("event_id"),
            hash: s("hash"),
            event_count: n("event_count"),
            timestamp: s("timestamp"),
            file: s("file"),
            offset: n("offset"),
            len: n("len"),
            line: n("line"),
        };
        if a.event_id.is_empty() || a.hash.is_empty() {
            return None;
        }
        Some(a)
    }
}

/// An anchor and where it was read from.
#[derive(Debug, Clone)]
pub struct LoadedAnchor {
    /// The anchor.
    pub anchor: Anchor,
    /// File it came from.
    pub source: PathBuf,
    /// Line in that file.
    pub line: u64,
    /// Whether `event_count` is authoritative (our log) or diagnostic (Go file).
    pub check_count: bool,
}

/// Loads every anchor in `dir`: our log, the Go `audit-anchor.json` and `*.anchor.json` files.
///
/// A damaged anchor line (other than a torn last line of our log) is reported as a break.
pub fn load_all(dir: &Path) -> Result<(Vec<LoadedAnchor>, Option<ChainBreak>), AuditError> {
    let mut out = Vec::new();
    let log = dir.join(ANCHOR_LOG);
    if log.exists() {
        let mut text = Vec::new();
        open_read(&log)?
            .read_to_end(&mut text)
            .map_err(|e| AuditError::io("read", &log, e))?;
        let complete = match text.iter().rposition(|&b| b == b'\n') {
            Some(p) => &text[..=p],
            None => &text[..0],
        };
        for (i, line) in complete.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let no = i as u64 + 1;
            match std::str::from_utf8(line).ok().and_then(Anchor::from_json) {
                Some(anchor) => out.push(LoadedAnchor {
                    anchor,
                    source: log.clone(),
                    line: no,
                    check_count: true,
                }),
                None => {
                    let brk = ChainBreak {
                        file: log.clone(),
                        line: no,
                        reason: "unparsable anchor record".into(),
                    };
                    return Ok((out, Some(brk)));
                }
            }
        }
    }
    let rd = std::fs::read_dir(dir).map_err(|e| AuditError::io("read directory", dir, e))?;
    let mut extra: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            (name == GO_ANCHOR_FILE || name.ends_with(".anchor.json")).then(|| e.path())
        })
        .collect();
    extra.sort();
    for path in extra {
        let mut text = String::new();
        open_read(&path)?
            .read_to_string(&mut text)
            .map_err(|e| AuditError::io("read", &path, e))?;
        match Anchor::from_json(text.trim()) {
            Some(anchor) => out.push(LoadedAnchor {
                anchor,
                source: path,
                line: 0,
                check_count: false,
            }),
            None => {
                let brk = ChainBreak {
                    file: path,
                    line: 0,
                    reason: "unparsable anchor file".into(),
                };
                return Ok((out, Some(brk)));
            }
        }
    }
    Ok((out, None))
}

/// The last complete anchor in our log, if any (reads only the log's tail).
pub fn last_anchor(dir: &Path) -> Result<Option<Anchor>, AuditError> {
    let log = dir.join(ANCHOR_LOG);
    if !log.exists() {
        return Ok(None);
    }
    let mut f = open_read(&log)?;
    let len = f
        .metadata()
        .map_err(|e| AuditError::io("stat", &log, e))?
        .len();
    let from = len.saturating_sub(64 * 1024);
    f.seek(SeekFrom::Start(from))
        .map_err(|e| AuditError::io("seek", &log, e))?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail)
        .map_err(|e| AuditError::io("read", &log, e))?;
    let Some(end) = tail.iter().rposition(|&b| b == b'\n') else {
        return Ok(None);
    };
    let start = tail[..end]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    if start == 0 && from > 0 {
        return Ok(None);
    }
    Ok(std::str::from_utf8(&tail[start..end])
        .ok()
        .and_then(Anchor::from_json))
}

/// Cuts a torn (unterminated) last line off the anchor log; returns the bytes removed.
pub fn repair_log(dir: &Path) -> Result<u64, AuditError> {
    let log = dir.join(ANCHOR_LOG);
    if !log.exists() {
        return Ok(0);
    }
    let f = super::files::open_append(&log)?;
    let len = f
        .metadata()
        .map_err(|e| AuditError::io("stat", &log, e))?
        .len();
    if len == 0 {
        return Ok(0);
    }
    let mut r = &f;
    let from = len.saturating_sub(64 * 1024);
    r.seek(SeekFrom::Start(from))
        .map_err(|e| AuditError::io("seek", &log, e))?;
    let mut tail = Vec::new();
    r.read_to_end(&mut tail)
        .map_err(|e| AuditError::io("read", &log, e))?;
    if tail.last() == Some(&b'\n') {
        return Ok(0);
    }
    let keep = match tail.iter().rposition(|&b| b == b'\n') {
        Some(p) => from + p as u64 + 1,
        None if from == 0 => 0,
        None => return Ok(0),
    };
    f.set_len(keep)
        .map_err(|e| AuditError::io("truncate", &log, e))?;
    f.sync_all().map_err(|e| AuditError::io("fsync", &log, e))?;
    Ok(len - keep)
}

/// Appends anchors to the log and fsyncs it.
pub fn append(file: &mut std::fs::File, path: &Path, anchors: &[Anchor]) -> Result<(), AuditError> {
    let mut buf = String::new();
    for a in anchors {
        buf.push_str(&a.to_json());
        buf.push('\n');
    }
    file.write_all(buf.as_bytes())
        .map_err(|e| AuditError::io("write", path, e))?;
    file.sync_data()
        .map_err(|e| AuditError::io("fsync", path, e))
}
