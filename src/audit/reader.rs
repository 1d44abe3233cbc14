//! Tolerant reading for `tail`, `search` and `stats`: events in chain order, damage reported.

use super::error::AuditError;
use super::event::{AuditEvent, Record, parse_record};
use super::files::{self, ChainFile};
use super::verify::MAX_RECORD_BYTES;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// One thing found while reading.
#[derive(Debug)]
pub enum Item {
    /// An event and its raw line.
    Event(Box<AuditEvent>, String),
    /// A line that could not be read (file, line, reason).
    Bad(PathBuf, u64, String),
}

/// Reads the chain file `cf` from `offset`, calling `f` per item; returns the offset after the
/// last complete line (a trailing partial line is left for later).
pub fn read_file_from(
    cf: &Path,
    offset: u64,
    first_line: u64,
    mut f: impl FnMut(Item) -> bool,
) -> Result<(u64, u64), AuditError> {
    let mut file = files::open_read(cf)?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| AuditError::io("seek", cf, e))?;
    let mut r = BufReader::with_capacity(256 * 1024, file);
    let mut buf = Vec::new();
    let mut pos = offset;
    let mut line = first_line;
    loop {
        buf.clear();
        let n = (&mut r)
            .take(MAX_RECORD_BYTES as u64 + 2)
            .read_until(b'\n', &mut buf)
            .map_err(|e| AuditError::io("read", cf, e))?;
        if n == 0 {
            break;
        }
        if buf.last() != Some(&b'\n') {
            if n > MAX_RECORD_BYTES {
                f(Item::Bad(
                    cf.to_path_buf(),
                    line + 1,
                    "record too large".into(),
                ));
            }
            break;
        }
        line += 1;
        pos += n as u64;
        let body = &buf[..n - 1];
        let keep_going = match parse_record(body) {
            Ok(Record::Event(e)) => f(Item::Event(e, String::from_utf8_lossy(body).into_owned())),
            Ok(Record::Continue(_)) => true,
            Err(err) => f(Item::Bad(cf.to_path_buf(), line, err.to_string())),
        };
        if !keep_going {
            break;
        }
    }
    Ok((pos, line))
}

/// Calls `f` for every event in `dir` in chain order, skipping files wholly before `since`.
pub fn for_each(
    dir: &Path,
    since: Option<DateTime<FixedOffset>>,
    mut f: impl FnMut(Item) -> bool,
) -> Result<(), AuditError> {
    let since_day: Option<NaiveDate> = since.map(|s| s.with_timezone(&Utc).date_naive());
    let list = files::list_chain_files(dir)?;
    let mut stop = false;
    for cf in &list {
        if since_day.is_some_and(|d| cf.date < d) {
            continue;
        }
        read_file_from(&cf.path, 0, 0, |it| {
            let go = f(it);
            stop = !go;
            go
        })?;
        if stop {
            break;
        }
    }
    Ok(())
}

/// The last `n` events (with raw lines) of the chain, oldest first; also returns damage seen.
pub fn last_n(dir: &Path, n: usize) -> Result<(Vec<Item>, Vec<ChainFile>), AuditError> {
    let list = files::list_chain_files(dir)?;
    let mut out: VecDeque<Item> = VecDeque::new();
    for cf in list.iter().rev() {
        if out.len() >= n {
            break;
        }
        let mut ring: VecDeque<Item> = VecDeque::new();
        read_file_from(&cf.path, 0, 0, |it| {
            ring.push_back(it);
            if ring.len() > n {
                ring.pop_front();
            }
            true
        })?;
        while let Some(it) = ring.pop_back() {
            if out.len() >= n {
                break;
            }
            out.push_front(it);
        }
    }
    Ok((out.into_iter().collect(), list))
}

/// Parses `--since`: RFC 3339, `YYYY-MM-DD` (UTC midnight), or a relative `30s|15m|2h|7d`.
pub fn parse_since(s: &str, now: DateTime<Utc>) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().fixed_offset());
    }
    let (num, unit) = s.split_at(s.len().checked_sub(1)?);
    let n: i64 = num.parse().ok()?;
    let d = match unit {
        "s" => Duration::try_seconds(n)?,
        "m" => Duration::try_minutes(n)?,
        "h" => Duration::try_hours(n)?,
        "d" => Duration::try_days(n)?,
        "w" => Duration::try_weeks(n)?,
        _ => return None,
    };
    now.checked_sub_signed(d).map(|t| t.fixed_offset())
}

/// Reads whatever was appended to the newest file since `(file, offset)`, for `tail --follow`.
pub fn follow_step(
    dir: &Path,
    state: &mut Option<(PathBuf, u64, u64)>,
    f: impl FnMut(Item) -> bool,
) -> Result<(), AuditError> {
    let list = files::list_chain_files(dir)?;
    let Some(last) = list.last() else {
        return Ok(());
    };
    let (path, off, line) = match state.take() {
        Some((p, o, l)) if p == last.path => (p, o, l),
        Some((p, o, l)) => {
            // Finish the old file first, then start the new one from its beginning.
            let mut f = f;
            if p.exists() {
                read_file_from(&p, o, l, &mut f)?;
            }
            let (o2, l2) = read_file_from(&last.path, 0, 0, &mut f)?;
            *state = Some((last.path.clone(), o2, l2));
            return Ok(());
        }
        None => {
            let len = std::fs::metadata(&last.path)
                .map_err(|e| AuditError::io("stat", &last.path, e))?
                .len();
            *state = Some((last.path.clone(), len, 0));
            return Ok(());
        }
    };
    let (o2, l2) = read_file_from(&path, off, line, f)?;
    *state = Some((path, o2, l2));
    Ok(())
}

/// Reads a whole small file (helper for tests and tools).
pub fn read_all(path: &Path) -> Result<Vec<u8>, AuditError> {
    let mut v = Vec::new();
    files::open_read(path)?
        .read_to_end(&mut v)
        .map_err(|e| AuditError::io("read", path, e))?;
    Ok(v)
}
