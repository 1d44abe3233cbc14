//! Sliding-window call counters for `call_count` rules (spec/engine.md §8.3): in memory for
//! long-lived processes, and in a locked state file for one-shot hook processes.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::engine::CallCounter;

/// Newest timestamps kept per tool; counts saturate here.
pub const MAX_PER_TOOL: usize = 1000;
/// Distinct tool names tracked; a new name beyond this is a capacity error.
pub const MAX_TOOLS: usize = 1024;
/// Longest tool name tracked.
pub const MAX_TOOL_NAME: usize = 256;
/// Oldest entry kept.
const MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Why a call could not be counted (the gate fails closed on it).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CounterError {
    /// Too many distinct tools or a name that is too long.
    #[error("call counter capacity unavailable; refusing tool call")]
    Capacity,
    /// The state file could not be read or written.
    #[error("Rampart call counter unavailable ({0}); refusing tool call")]
    Unavailable(String),
}

/// Per-tool arrival times of enforced calls.
#[derive(Debug, Default)]
pub struct MemoryCounter {
    tools: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl MemoryCounter {
    /// An empty counter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one call of `tool` at `now`.
    pub fn record(&self, tool: &str, now: Instant) -> Result<(), CounterError> {
        if tool.len() > MAX_TOOL_NAME {
            return Err(CounterError::Capacity);
        }
        let mut tools = self.tools.lock().unwrap_or_else(|p| p.into_inner());
        if !tools.contains_key(tool) && tools.len() >= MAX_TOOLS {
            return Err(CounterError::Capacity);
        }
        let q = tools.entry(tool.to_string()).or_default();
        while q.len() >= MAX_PER_TOOL
            || q.front()
                .is_some_and(|t| now.saturating_duration_since(*t) > MAX_AGE)
        {
            q.pop_front();
        }
        q.push_back(now);
        Ok(())
    }

    /// Calls of `tool` within `window` before `now`.
    pub fn count_at(&self, tool: &str, window: Duration, now: Instant) -> u64 {
        let tools = self.tools.lock().unwrap_or_else(|p| p.into_inner());
        tools.get(tool).map_or(0, |q| {
            q.iter()
                .rev()
                .take_while(|t| now.saturating_duration_since(**t) <= window)
                .count() as u64
        })
    }

    /// Calls per tool within `window` (for `/v1/status`).
    pub fn counts(&self, window: Duration) -> Vec<(String, u64)> {
        let now = Instant::now();
        let names: Vec<String> = {
            let tools = self.tools.lock().unwrap_or_else(|p| p.into_inner());
            tools.keys().cloned().collect()
        };
        let mut out: Vec<(String, u64)> = names
            .into_iter()
            .map(|n| {
                let c = self.count_at(&n, window, now);
                (n, c)
            })
            .filter(|(_, c)| *c > 0)
            .collect();
        out.sort();
        out
    }
}

impl CallCounter for MemoryCounter {
    fn count(&self, tool: &str, window: Duration) -> Option<u64> {
        Some(self.count_at(tool, window, Instant::now()))
    }
}

/// Arrival times (Unix milliseconds) per tool, shared by every process through a state file
/// (`~/.rampart/hook-call-counts.json`) that is read and rewritten under an exclusive lock.
#[derive(Debug)]
pub struct FileCounter {
    path: PathBuf,
    seen: Mutex<BTreeMap<String, Vec<i64>>>,
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl FileCounter {
    /// A counter kept in `path` (created 0600 on first use).
    pub fn new(path: impl Into<PathBuf>) -> FileCounter {
        FileCounter {
            path: path.into(),
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open(&self) -> Result<std::fs::File, CounterError> {
        let err =
            |e: std::io::Error| CounterError::Unavailable(format!("{}: {e}", self.path.display()));
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&self.path)
            .map_err(err)?;
        f.lock().map_err(err)?;
        Ok(f)
    }

    fn read(f: &mut std::fs::File) -> BTreeMap<String, Vec<i64>> {
        let mut text = String::new();
        // A damaged file only loses history; counting restarts from what is valid.
        if f.read_to_string(&mut text).is_err() {
            return BTreeMap::new();
        }
        serde_json::from_str(&text).unwrap_or_default()
    }

    /// Records one call of `tool` at `now` in the shared file and keeps what it read.
    pub fn record(&self, tool: &str, now: SystemTime) -> Result<(), CounterError> {
        if tool.len() > MAX_TOOL_NAME {
            return Err(CounterError::Capacity);
        }
        let mut f = self.open()?;
        let mut all = Self::read(&mut f);
        let now_ms = unix_ms(now);
        let oldest = now_ms - i64::try_from(MAX_AGE.as_millis()).unwrap_or(i64::MAX);
        all.retain(|_, v| {
            v.retain(|t| *t >= oldest && *t <= now_ms + 60_000);
            !v.is_empty()
        });
        if !all.contains_key(tool) && all.len() >= MAX_TOOLS {
            return Err(CounterError::Capacity);
        }
        let q = all.entry(tool.to_string()).or_default();
        q.push(now_ms);
        q.sort_unstable();
        if q.len() > MAX_PER_TOOL {
            let cut = q.len() - MAX_PER_TOOL;
            q.drain(..cut);
        }
        let text =
            serde_json::to_string(&all).map_err(|e| CounterError::Unavailable(e.to_string()))?;
        let err =
            |e: std::io::Error| CounterError::Unavailable(format!("{}: {e}", self.path.display()));
        f.rewind().map_err(err)?;
        f.set_len(0).map_err(err)?;
        f.write_all(text.as_bytes()).map_err(err)?;
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = all;
        Ok(())
    }

    /// Reads the shared file without recording (monitor mode and previews).
    pub fn load(&self) -> Result<(), CounterError> {
        let mut f = self.open()?;
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Self::read(&mut f);
        Ok(())
    }

    /// Calls of `tool` within `window` before `now`, from what was last read.
    pub fn count_at(&self, tool: &str, window: Duration, now: SystemTime) -> u64 {
        let now_ms = unix_ms(now);
        let from = now_ms - i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(tool).map_or(0, |v| {
            v.iter().filter(|t| **t >= from && **t <= now_ms).count() as u64
        })
    }
}

impl CallCounter for FileCounter {
    fn count(&self, tool: &str, window: Duration) -> Option<u64> {
        Some(self.count_at(tool, window, SystemTime::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_counter_is_shared_between_instances() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("counts.json");
        let now = SystemTime::now();
        for i in 0..3 {
            // A new instance per call, as each hook process is.
            let c = FileCounter::new(&path);
            c.record("exec", now - Duration::from_secs(10 - i)).unwrap();
        }
        let c = FileCounter::new(&path);
        c.record("exec", now).unwrap();
        assert_eq!(c.count_at("exec", Duration::from_secs(60), now), 4);
        assert_eq!(c.count_at("exec", Duration::from_secs(5), now), 1);
        assert_eq!(c.count_at("read", Duration::from_secs(60), now), 0);
        let m = FileCounter::new(&path);
        m.load().unwrap();
        assert_eq!(m.count_at("exec", Duration::from_secs(60), now), 4);
    }

    #[test]
    fn damaged_file_restarts_counting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("counts.json");
        std::fs::write(&path, "{not json").unwrap();
        let c = FileCounter::new(&path);
        c.record("exec", SystemTime::now()).unwrap();
        assert_eq!(
            c.count_at("exec", Duration::from_secs(60), SystemTime::now()),
            1
        );
    }

    #[test]
    fn window_and_saturation() {
        let c = MemoryCounter::new();
        let t0 = Instant::now();
        for i in 0..5 {
            c.record("exec", t0 + Duration::from_secs(i)).unwrap();
        }
        let now = t0 + Duration::from_secs(4);
        assert_eq!(c.count_at("exec", Duration::from_secs(10), now), 5);
        assert_eq!(c.count_at("exec", Duration::from_secs(2), now), 3);
        assert_eq!(c.count_at("read", Duration::from_secs(10), now), 0);
        for _ in 0..2000 {
            c.record("x", now).unwrap();
        }
        assert_eq!(
            c.count_at("x", Duration::from_secs(1), now),
            MAX_PER_TOOL as u64
        );
    }

    #[test]
    fn capacity_fails_closed() {
        let c = MemoryCounter::new();
        assert_eq!(
            c.record(&"t".repeat(300), Instant::now()),
            Err(CounterError::Capacity)
        );
        for i in 0..MAX_TOOLS {
            c.record(&format!("t{i}"), Instant::now()).unwrap();
        }
        assert_eq!(
            c.record("one-more", Instant::now()),
            Err(CounterError::Capacity)
        );
        assert!(c.record("t0", Instant::now()).is_ok());
    }
}
