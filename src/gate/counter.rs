//! In-memory sliding-window call counter for `call_count` rules (spec/engine.md §8.3).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

#[cfg(test)]
mod tests {
    use super::*;

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
