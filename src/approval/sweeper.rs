//! The background task that expires approvals on time and cleans up old state.

use super::store::ApprovalStore;
use std::sync::Arc;
use std::time::Duration;

/// Longest sleep between expiry checks.
const MAX_TICK: Duration = Duration::from_secs(1);
/// Shortest sleep, so a clock that stands still cannot spin the task.
const MIN_TICK: Duration = Duration::from_millis(5);
/// How often answered approvals and ended grants are dropped.
const CLEANUP_EVERY: Duration = Duration::from_secs(5 * 60);

impl ApprovalStore {
    /// Spawns (on the current tokio runtime) the task that runs [`ApprovalStore::expire_due`]
    /// at each next deadline (at least every second) and [`ApprovalStore::cleanup`] every five
    /// minutes. It holds only a weak reference and ends when the store is dropped.
    pub fn spawn_sweeper(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut last_cleanup = tokio::time::Instant::now();
            loop {
                let delay = {
                    let Some(store) = weak.upgrade() else {
                        return;
                    };
                    let now = store.now();
                    store.expire_due(now);
                    if last_cleanup.elapsed() >= CLEANUP_EVERY {
                        store.cleanup(now);
                        last_cleanup = tokio::time::Instant::now();
                    }
                    store
                        .next_expiry()
                        .and_then(|t| (t - now).to_std().ok())
                        .map_or(MAX_TICK, |d| d.min(MAX_TICK))
                        .max(MIN_TICK)
                };
                tokio::time::sleep(delay).await;
            }
        })
    }
}
