//! Prometheus metrics (`--metrics`): decisions, evaluation latency, and gauges computed at
//! scrape time so they are never stale (the reference only refreshed them on `/v1/tool`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Histogram bucket upper bounds in seconds.
const BUCKETS: [f64; 11] = [
    1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 1e-1,
];

/// Counters and histograms the API updates.
#[derive(Debug, Default)]
pub struct Metrics {
    decisions: Mutex<BTreeMap<(String, String), u64>>,
    buckets: [AtomicU64; 11],
    eval_count: AtomicU64,
    eval_sum_ns: AtomicU64,
    /// Preflight evaluations.
    pub preflights: AtomicU64,
    /// Audit writes that failed.
    pub audit_failures: AtomicU64,
    /// Approvals created.
    pub approvals_created: AtomicU64,
    /// Approvals resolved (approved or denied).
    pub approvals_resolved: AtomicU64,
}

/// Values sampled at scrape time.
#[derive(Debug, Default)]
pub struct Gauges {
    /// Pending approvals.
    pub pending: usize,
    /// Loaded policies.
    pub policies: usize,
    /// Seconds since start.
    pub uptime: u64,
    /// Connected SSE clients.
    pub sse_clients: usize,
}

impl Metrics {
    /// Counts one `/v1/tool` decision.
    pub fn observe(&self, action: &str, policy: Option<&str>, took: Duration) {
        {
            let mut d = self.decisions.lock().unwrap_or_else(|p| p.into_inner());
            *d.entry((action.to_string(), policy.unwrap_or("none").to_string()))
                .or_default() += 1;
        }
        let secs = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.eval_count.fetch_add(1, Ordering::Relaxed);
        self.eval_sum_ns
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Renders the Prometheus text exposition.
    pub fn render(&self, g: &Gauges) -> String {
        let mut o = String::new();
        o.push_str("# HELP rampart_decisions_total Tool-call decisions by action and first matched policy.\n# TYPE rampart_decisions_total counter\n");
        for ((a, p), n) in self
            .decisions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                o,
                "rampart_decisions_total{{action=\"{}\",policy=\"{}\"}} {n}",
                esc(a),
                esc(p)
            );
        }
        o.push_str("# HELP rampart_eval_duration_seconds Policy evaluation time.\n# TYPE rampart_eval_duration_seconds histogram\n");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                o,
                "rampart_eval_duration_seconds_bucket{{le=\"{b}\"}} {}",
                self.buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.eval_count.load(Ordering::Relaxed);
        let _ = writeln!(
            o,
            "rampart_eval_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            o,
            "rampart_eval_duration_seconds_sum {}",
            self.eval_sum_ns.load(Ordering::Relaxed) as f64 / 1e9
        );
        let _ = writeln!(o, "rampart_eval_duration_seconds_count {count}");
        let gauges: [(&str, &str, u64); 4] = [
            (
                "rampart_pending_approvals",
                "Pending approvals.",
                g.pending as u64,
            ),
            (
                "rampart_policy_count",
                "Loaded policies.",
                g.policies as u64,
            ),
            ("rampart_uptime_seconds", "Seconds since start.", g.uptime),
            (
                "rampart_sse_clients",
                "Connected event-stream clients.",
                g.sse_clients as u64,
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        let counters: [(&str, &str, &AtomicU64); 4] = [
            (
                "rampart_preflight_total",
                "Preflight evaluations.",
                &self.preflights,
            ),
            (
                "rampart_audit_write_failures_total",
                "Failed audit writes.",
                &self.audit_failures,
            ),
            (
                "rampart_approvals_created_total",
                "Approvals created.",
                &self.approvals_created,
            ),
            (
                "rampart_approvals_resolved_total",
                "Approvals resolved.",
                &self.approvals_resolved,
            ),
        ];
        for (name, help, c) in counters {
            let _ = writeln!(
                o,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                c.load(Ordering::Relaxed)
            );
        }
        o
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
