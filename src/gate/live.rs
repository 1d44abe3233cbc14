//! The live event stream: every recorded decision and approval change, fanned out to SSE
//! clients (dashboard, `rampart watch`) as pre-serialised JSON frames.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use tokio::sync::broadcast;

/// Frames buffered per subscriber before a slow one starts losing them.
pub const SUBSCRIBER_BUFFER: usize = 256;

/// One frame: a sequence number (the SSE `id`) and its JSON payload.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Monotonic sequence number, starting at 1.
    pub seq: u64,
    /// The frame's JSON text.
    pub json: Arc<str>,
}

/// Publisher side of the live stream.
#[derive(Debug)]
pub struct LiveStream {
    tx: broadcast::Sender<Frame>,
    seq: AtomicU64,
}

impl Default for LiveStream {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(SUBSCRIBER_BUFFER);
        LiveStream {
            tx,
            seq: AtomicU64::new(0),
        }
    }
}

impl LiveStream {
    /// Publishes a JSON frame to every subscriber (no-op without subscribers).
    pub fn publish(&self, v: &Value) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let _ = self.tx.send(Frame {
            seq,
            json: Arc::from(v.to_string()),
        });
    }

    /// `{"type":"approvals"}`: the pending set changed.
    pub fn approvals_changed(&self) {
        self.publish(&json!({"type": "approvals"}));
    }

    /// A new subscriber.
    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.tx.subscribe()
    }

    /// Current subscriber count.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }
}
