//! The append-only writer with group commit, shareable between processes.
//!
//! Callers queue events; one flusher thread takes everything queued, hashes and writes it as
//! one batch, fsyncs once, and only then answers each caller with its [`Receipt`].
//!
//! Several writers (threads with their own sink, or separate processes such as `serve` and
//! one-shot hooks) can append to one directory: every batch runs under the directory lock and
//! starts from the chain head recorded in the checkpoint (see [`super::checkpoint`]).

use super::anchor::{self, Anchor};
use super::cap::enforce_cap;
use super::checkpoint::{Checkpoint, DirLock, RawCheckpoint};
use super::error::AuditError;
use super::event::{AuditEvent, ChainContinue, HostInfo, SCHEMA_VERSION, finish_json};
use super::files::{self, ANCHOR_LOG, ChainFile, Scheme};
use super::hash::chain_hash_parts;
use super::recovery::{self, Recovered, TornMoved};
use super::redact::redact_event;
use super::siem::{self, SiemConfig, SiemSender};
use super::verify::{Head, RecordPos, Start, walk};
use chrono::{NaiveDate, Utc};
use serde_json::{Map, Value};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Writer settings.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Audit directory (created 0700).
    pub dir: PathBuf,
    /// Anchor every N events (0 disables anchors).
    pub anchor_every: u64,
    /// Rotate when a file would grow past this many bytes.
    pub max_file_bytes: u64,
    /// Most events per fsync; 1 gives the one-fsync-per-event baseline.
    pub max_batch: usize,
    /// Record size cap (line including newline).
    pub max_record_bytes: usize,
    /// SIEM outputs, if any.
    pub siem: Option<SiemConfig>,
    /// How long `open` and each batch may wait for the directory lock held by another writer.
    pub lock_timeout: Duration,
    /// Verify the chain tail from the last anchor at open even when the checkpoint is clean
    /// (what `serve` does); otherwise a checked checkpoint is used and nothing is walked.
    pub verify_tail_on_open: bool,
    /// Testing only: write half of the next batch, then stall forever holding the lock (for
    /// crash tests that SIGKILL the process mid-write). Never set this in production.
    #[doc(hidden)]
    pub test_stall_mid_batch: bool,
}

impl SinkConfig {
    /// Defaults: anchors every 100 events, 100 MiB files, batches up to 4096, 2 MiB records,
    /// 5 s lock wait, checkpoint fast path at open.
    pub fn new(dir: impl Into<PathBuf>) -> SinkConfig {
        SinkConfig {
            dir: dir.into(),
            anchor_every: 100,
            max_file_bytes: 100 * 1024 * 1024,
            max_batch: 4096,
            max_record_bytes: super::cap::MAX_RECORD_BYTES,
            siem: None,
            lock_timeout: Duration::from_secs(5),
            verify_tail_on_open: false,
            test_stall_mid_batch: false,
        }
    }
}

/// Proof that an event is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The event id (ULID).
    pub id: String,
    /// The event hash.
    pub hash: String,
    /// The chain file holding it.
    pub file: String,
    /// Its 1-based line in that file.
    pub line: u64,
    /// Its 1-based position in the chain.
    pub event_count: u64,
}

/// Writer counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SinkStats {
    /// Events persisted.
    pub events: u64,
    /// Batches written.
    pub batches: u64,
    /// Data fsyncs (one per batch, plus rotation headers).
    pub fsyncs: u64,
    /// Anchors written.
    pub anchors: u64,
    /// Events refused (too large, write failure).
    pub failed: u64,
    /// SIEM copies dropped because the SIEM queue was full.
    pub siem_dropped: u64,
    /// Batches that found the checkpoint changed (another writer, or damage) and re-synchronised.
    pub resyncs: u64,
    /// Of those, re-synchronisations that had to run full tail recovery.
    pub recoveries: u64,
}

#[derive(Debug, Default)]
struct Counters {
    events: AtomicU64,
    batches: AtomicU64,
    fsyncs: AtomicU64,
    anchors: AtomicU64,
    failed: AtomicU64,
    resyncs: AtomicU64,
    recoveries: AtomicU64,
}

type Reply = Result<Receipt, AuditError>;

/// An event made ready off the flusher thread: defaulted, redacted, capped, serialised.
struct Prepared {
    event: AuditEvent,
    prefix: String,
}

struct Pending {
    item: Prepared,
    tx: SyncSender<Reply>,
}

/// What callers need to prepare events in their own thread.
#[derive(Debug)]
struct Prep {
    host: HostInfo,
    max_record_bytes: usize,
}

/// Fills writer defaults, redacts, clamps numbers, applies the size cap and serialises.
fn prepare(p: &Prep, mut e: AuditEvent) -> Result<Prepared, AuditError> {
    if e.schema_version.is_empty() {
        e.schema_version = SCHEMA_VERSION.to_string();
    }
    if e.id.is_empty() {
        e.id = ulid::Ulid::generate().to_string();
    }
    match e.timestamp {
        None => e.timestamp = Some(Utc::now().fixed_offset()),
        // Keep UTC `Z` timestamps so the record survives Go's round trip.
        Some(t) => e.timestamp = Some(t.with_timezone(&Utc).fixed_offset()),
    }
    if e.host.is_none() {
        e.host = Some(p.host.clone());
    }
    redact_event(&mut e);
    if let Some(req) = e.request.as_mut() {
        clamp_numbers(req);
    }
    e.prev_hash.clear();
    e.hash.clear();
    let mut prefix = e.json_prefix();
    // prev_hash and hash add at most 2 * 71 bytes plus punctuation.
    if prefix.len() + 2 * 80 + 16 > p.max_record_bytes {
        e.prev_hash = PLACEHOLDER_HASH.to_string();
        enforce_cap(&mut e, p.max_record_bytes)?;
        e.prev_hash.clear();
        prefix = e.json_prefix();
    }
    Ok(Prepared { event: e, prefix })
}

const PLACEHOLDER_HASH: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Default)]
struct Queue {
    items: Vec<Pending>,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    cv: Condvar,
}

/// A queued event; [`Ticket::wait`] returns once its batch is fsynced.
#[derive(Debug)]
pub struct Ticket {
    rx: Receiver<Reply>,
}

impl Ticket {
    /// Blocks until the event is durable (or failed).
    pub fn wait(self) -> Result<Receipt, AuditError> {
        self.rx.recv().map_err(|_| AuditError::Closed)?
    }
}

struct Inner {
    prep: Arc<Prep>,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
    siem: Option<SiemSender>,
    recovered: Recovered,
    dir: PathBuf,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut q) = self.shared.queue.lock() {
            q.closed = true;
        }
        self.shared.cv.notify_all();
        if let Ok(mut t) = self.thread.lock()
            && let Some(h) = t.take()
        {
            let _ = h.join();
        }
    }
}

/// The shared audit writer; clone it freely, every clone feeds the same flusher.
#[derive(Clone)]
pub struct AuditSink {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AuditSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSink")
            .field("dir", &self.inner.dir)
            .finish()
    }
}

impl AuditSink {
    /// Opens the audit directory: under the directory lock, finds the chain head (from a
    /// checked checkpoint, or by tail recovery), then releases the lock and starts the flusher.
    ///
    /// Other writers may use the same directory at the same time; each batch re-takes the lock.
    pub fn open(cfg: SinkConfig) -> Result<AuditSink, AuditError> {
        files::ensure_dir(&cfg.dir)?;
        let siem = match &cfg.siem {
            Some(s) => Some(siem::start(s.clone())?),
            None => None,
        };
        let counters = Arc::new(Counters::default());
        let prep = Arc::new(Prep {
            host: HostInfo::current(),
            max_record_bytes: cfg.max_record_bytes,
        });
        let mut lock = DirLock::open(&cfg.dir)?;
        lock.acquire(cfg.lock_timeout)?;
        // On error the lock is released when `lock` (or the core owning it) is dropped.
        let (mut core, recovered) =
            Core::open_locked(&cfg, lock, prep.clone(), counters.clone(), siem.clone())?;
        core.lock.release();
        let shared = Arc::new(Shared::default());
        let s2 = shared.clone();
        let max_batch = cfg.max_batch.max(1);
        let handle = std::thread::Builder::new()
            .name("rampart-audit-flusher".into())
            .spawn(move || flusher(s2, core, max_batch))
            .map_err(|e| AuditError::io("spawn flusher", &cfg.dir, e))?;
        Ok(AuditSink {
            inner: Arc::new(Inner {
                prep,
                shared,
                thread: Mutex::new(Some(handle)),
                counters,
                siem,
                recovered,
                dir: cfg.dir.clone(),
            }),
        })
    }

    /// Queues an event without waiting; the ticket resolves after the covering fsync.
    pub fn submit(&self, event: AuditEvent) -> Result<Ticket, AuditError> {
        let item = match prepare(&self.inner.prep, event) {
            Ok(i) => i,
            Err(e) => {
                self.inner.counters.failed.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        let (tx, rx) = sync_channel(1);
        {
            let mut q = self
                .inner
                .shared
                .queue
                .lock()
                .map_err(|_| AuditError::Closed)?;
            if q.closed {
                return Err(AuditError::Closed);
            }
            q.items.push(Pending { item, tx });
        }
        self.inner.shared.cv.notify_one();
        Ok(Ticket { rx })
    }

    /// Appends an event and returns once it is fsynced (fail closed on any error).
    pub fn append(&self, event: AuditEvent) -> Result<Receipt, AuditError> {
        self.submit(event)?.wait()
    }

    /// Counters since open.
    pub fn stats(&self) -> SinkStats {
        let c = &self.inner.counters;
        SinkStats {
            events: c.events.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            fsyncs: c.fsyncs.load(Ordering::Relaxed),
            anchors: c.anchors.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            siem_dropped: self
                .inner
                .siem
                .as_ref()
                .map_or(0, |s| s.counters().dropped.load(Ordering::Relaxed)),
            resyncs: c.resyncs.load(Ordering::Relaxed),
            recoveries: c.recoveries.load(Ordering::Relaxed),
        }
    }

    /// What open found (including whether the checkpoint fast path was taken).
    pub fn recovered(&self) -> &Recovered {
        &self.inner.recovered
    }

    /// The audit directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }
}

fn recovery_event(t: &TornMoved) -> AuditEvent {
    let mut e = AuditEvent::new("rampart", "audit", "rampart", "watch");
    let mut req = Map::new();
    req.insert("action".into(), Value::from("audit_recovery"));
    req.insert("file".into(), Value::from(t.from_file.clone()));
    req.insert("offset".into(), Value::from(t.offset));
    req.insert("torn_bytes".into(), Value::from(t.bytes));
    req.insert("torn_sha256".into(), Value::from(t.sha256.clone()));
    let rec_name = t
        .recovery_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    req.insert("recovery_file".into(), Value::from(rec_name));
    e.request = Some(req);
    e.decision.message =
        "torn last line after an unclean shutdown or a killed writer moved to the recovery file"
            .into();
    e
}

fn flusher(shared: Arc<Shared>, mut core: Core, max_batch: usize) {
    loop {
        let batch: Vec<Pending> = {
            let Ok(mut q) = shared.queue.lock() else {
                return;
            };
            while q.items.is_empty() && !q.closed {
                q = match shared.cv.wait(q) {
                    Ok(q) => q,
                    Err(_) => return,
                };
            }
            if q.items.is_empty() {
                return;
            }
            let n = q.items.len().min(max_batch);
            q.items.drain(..n).collect()
        };
        let (events, txs): (Vec<_>, Vec<_>) = batch.into_iter().map(|p| (p.item, p.tx)).unzip();
        let results = core.write_batch(events);
        for (tx, r) in txs.into_iter().zip(results) {
            let _ = tx.send(r);
        }
    }
}

/// A clean checkpoint more than this many events ahead of us is not walked event by event;
/// tail recovery from the last anchor is cheaper.
const CATCH_UP_LIMIT: u64 = 1024;

/// Copies an error for every caller of a failed batch.
fn dup_err(e: &AuditError) -> AuditError {
    match e {
        AuditError::LockTimeout { path, waited } => AuditError::LockTimeout {
            path: path.clone(),
            waited: *waited,
        },
        AuditError::Closed => AuditError::Closed,
        other => AuditError::WriteFailed(other.to_string()),
    }
}

/// Writer state, owned by the flusher; the chain head is only trusted while holding the lock.
struct Core {
    dir: PathBuf,
    anchor_every: u64,
    max_file_bytes: u64,
    lock_timeout: Duration,
    file: Option<File>,
    cur: Option<ChainFile>,
    file_len: u64,
    lines: u64,
    head_hash: String,
    count: u64,
    last_rec: Option<RecordPos>,
    anchor_file: File,
    anchor_path: PathBuf,
    counters: Arc<Counters>,
    siem: Option<SiemSender>,
    poisoned: Option<String>,
    lock: DirLock,
    /// The clean checkpoint block that matches our in-memory head (what we last wrote or
    /// adopted); `None` while dirty or unknown, which forces a re-synchronisation.
    last_ck: Option<RawCheckpoint>,
    prep: Arc<Prep>,
    stall_mid_batch: bool,
}

struct Written {
    index: usize,
    receipt: Receipt,
    event: Option<AuditEvent>,
}

/// The head as it was at the last fsync, restored when a batch fails part-way.
struct Durable {
    hash: String,
    count: u64,
    last_rec: Option<RecordPos>,
}

impl Core {
    fn new(
        cfg: &SinkConfig,
        head: &Head,
        lock: DirLock,
        prep: Arc<Prep>,
        counters: Arc<Counters>,
        siem: Option<SiemSender>,
    ) -> Result<Core, AuditError> {
        let file = match &head.file {
            Some(cf) => Some(files::open_append(&cf.path)?),
            None => None,
        };
        let anchor_path = cfg.dir.join(ANCHOR_LOG);
        let anchor_file = files::open_append(&anchor_path)?;
        Ok(Core {
            dir: cfg.dir.clone(),
            anchor_every: cfg.anchor_every,
            max_file_bytes: cfg.max_file_bytes.max(1),
            lock_timeout: cfg.lock_timeout,
            file,
            cur: head.file.clone(),
            file_len: head.file_len,
            lines: head.lines,
            head_hash: head.hash.clone(),
            count: head.event_count,
            last_rec: head.last_record.clone(),
            anchor_file,
            anchor_path,
            counters,
            siem,
            poisoned: None,
            lock,
            last_ck: None,
            prep,
            stall_mid_batch: cfg.test_stall_mid_batch,
        })
    }

    /// Finds the head with the lock held: a checked clean checkpoint, else tail recovery.
    /// A recovered torn tail is recorded with an `audit_recovery` event before returning.
    fn open_locked(
        cfg: &SinkConfig,
        lock: DirLock,
        prep: Arc<Prep>,
        counters: Arc<Counters>,
        siem: Option<SiemSender>,
    ) -> Result<(Core, Recovered), AuditError> {
        let raw = lock.read()?;
        let fast = match raw.as_ref().and_then(|r| Checkpoint::decode(r)) {
            Some(ck) if !cfg.verify_tail_on_open => recovery::from_checkpoint(&cfg.dir, &ck)?,
            _ => None,
        };
        let (recovered, trusted) = match fast {
            Some(r) => (r, raw),
            None => (recovery::recover(&cfg.dir)?, None),
        };
        let mut core = Core::new(cfg, &recovered.head, lock, prep, counters, siem)?;
        core.last_ck = trusted;
        if let Some(t) = &recovered.torn {
            let ev = prepare(&core.prep, recovery_event(t))?;
            match core.append_locked(vec![ev]).pop() {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Err(AuditError::Closed),
            }
        }
        if core.last_ck.is_none() {
            core.store_checkpoint()?;
        }
        Ok((core, recovered))
    }

    /// The checkpoint describing our in-memory head.
    fn checkpoint(&self, clean: bool) -> Checkpoint {
        let rec = self.last_rec.clone().unwrap_or_default();
        Checkpoint {
            clean,
            file: self
                .cur
                .as_ref()
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            file_len: self.file_len,
            lines: self.lines,
            event_count: self.count,
            head_hash: self.head_hash.clone(),
            rec_file: rec.file,
            rec_offset: rec.offset,
            rec_len: rec.len,
        }
    }

    /// Writes the clean checkpoint for our head and remembers it.
    fn store_checkpoint(&mut self) -> Result<(), AuditError> {
        let raw = self.checkpoint(true).encode()?;
        self.lock.write(&raw)?;
        self.last_ck = Some(raw);
        Ok(())
    }

    /// Marks the checkpoint dirty before chain files are touched.
    fn mark_dirty(&mut self) -> Result<(), AuditError> {
        self.last_ck = None;
        let raw = self.checkpoint(false).encode()?;
        self.lock.write(&raw)
    }

    /// Whether the current file still has the length we expect and is still linked into the
    /// directory (one fstat).
    fn file_len_matches(&self) -> Result<bool, AuditError> {
        match (&self.file, &self.cur) {
            (None, None) => Ok(true),
            (Some(f), Some(cf)) => {
                let md = f
                    .metadata()
                    .map_err(|e| AuditError::io("stat", &cf.path, e))?;
                Ok(md.len() == self.file_len && md.nlink() > 0)
            }
            _ => Ok(false),
        }
    }

    /// Brings our head up to date with the chain on disk; the lock must be held.
    ///
    /// Common case (nobody else wrote): the checkpoint is byte-for-byte what we left and the
    /// file length matches, so nothing is read. Otherwise a clean checkpoint is reached by
    /// verifying only the events written since our head; anything else (dirty, missing,
    /// damaged, inconsistent) runs tail recovery, which quarantines a torn tail.
    fn sync(&mut self) -> Result<Option<TornMoved>, AuditError> {
        let raw = self.lock.read()?;
        if let (Some(r), Some(last)) = (&raw, &self.last_ck)
            && r == last
            && self.file_len_matches()?
        {
            return Ok(None);
        }
        self.counters.resyncs.fetch_add(1, Ordering::Relaxed);
        self.last_ck = None;
        if let Some(ck) = raw.as_ref().and_then(|r| Checkpoint::decode(r))
            && ck.clean
            && self.catch_up(&ck)?
        {
            self.last_ck = raw;
            return Ok(None);
        }
        self.counters.recoveries.fetch_add(1, Ordering::Relaxed);
        let rec = recovery::recover(&self.dir)?;
        self.adopt(&rec.head)?;
        Ok(rec.torn)
    }

    /// Verifies the events between our head and a clean checkpoint written by another writer;
    /// adopts it when everything links up and matches. `false` means "recover instead".
    fn catch_up(&mut self, ck: &Checkpoint) -> Result<bool, AuditError> {
        if ck.event_count < self.count || ck.event_count - self.count > CATCH_UP_LIMIT {
            return Ok(false);
        }
        let files = files::list_chain_files(&self.dir)?;
        let start = match &self.cur {
            Some(cur) => {
                let Some(idx) = files.iter().position(|f| f.name == cur.name) else {
                    return Ok(false);
                };
                Start {
                    file_index: idx,
                    offset: self.file_len,
                    line: self.lines,
                    prev_hash: self.head_hash.clone(),
                    event_count: self.count,
                    last_record: self.last_rec.clone(),
                }
            }
            None if self.count == 0 => Start::default(),
            None => return Ok(false),
        };
        let w = walk(&files, &start, |_, _| {})?;
        if w.brk.is_some() || w.torn.is_some() {
            return Ok(false);
        }
        let h = &w.head;
        let rec = h.last_record.clone().unwrap_or_default();
        let matches = h.event_count == ck.event_count
            && h.hash == ck.head_hash
            && h.file.as_ref().map(|f| f.name.as_str()).unwrap_or("") == ck.file
            && h.file_len == ck.file_len
            && h.lines == ck.lines
            && rec.file == ck.rec_file
            && rec.offset == ck.rec_offset
            && rec.len == ck.rec_len;
        if !matches {
            return Ok(false);
        }
        self.adopt(h)?;
        Ok(true)
    }

    /// Continues from `head` (always reopening the current file by name).
    fn adopt(&mut self, head: &Head) -> Result<(), AuditError> {
        self.file = match &head.file {
            Some(cf) => Some(files::open_append(&cf.path)?),
            None => None,
        };
        self.cur = head.file.clone();
        self.file_len = head.file_len;
        self.lines = head.lines;
        self.head_hash = head.hash.clone();
        self.count = head.event_count;
        self.last_rec = head.last_record.clone();
        Ok(())
    }

    /// One batch from the queue: lock, re-synchronise, append, release.
    fn write_batch(&mut self, events: Vec<Prepared>) -> Vec<Reply> {
        let n = events.len();
        if let Some(p) = &self.poisoned {
            self.counters.failed.fetch_add(n as u64, Ordering::Relaxed);
            return (0..n)
                .map(|_| Err(AuditError::WriteFailed(p.clone())))
                .collect();
        }
        if let Err(e) = self.lock.acquire(self.lock_timeout) {
            return self.fail_all(n, &e);
        }
        let out = match self.sync() {
            Ok(torn) => {
                if let Some(t) = torn
                    && let Ok(ev) = prepare(&self.prep, recovery_event(&t))
                {
                    // Best effort: a failure here shows up again in the batch below.
                    let _ = self.append_locked(vec![ev]);
                }
                self.append_locked(events)
            }
            Err(e) => self.fail_all(n, &e),
        };
        self.lock.release();
        out
    }

    fn fail_all(&self, n: usize, e: &AuditError) -> Vec<Reply> {
        self.counters.failed.fetch_add(n as u64, Ordering::Relaxed);
        (0..n).map(|_| Err(dup_err(e))).collect()
    }

    fn durable(&self) -> Durable {
        Durable {
            hash: self.head_hash.clone(),
            count: self.count,
            last_rec: self.last_rec.clone(),
        }
    }

    fn needs_rotation(&self, today: NaiveDate, pending: u64, line: u64) -> bool {
        match &self.cur {
            None => true,
            Some(cf) => {
                cf.scheme != Scheme::Hook
                    || cf.date != today
                    || (self.file_len + pending > 0
                        && self.file_len + pending + line > self.max_file_bytes)
            }
        }
    }

    fn rotate(&mut self, today: NaiveDate) -> Result<(), AuditError> {
        let mut part = match &self.cur {
            Some(cf) if cf.scheme == Scheme::Hook && cf.date == today => cf.part + 1,
            _ => 0,
        };
        let (path, name, mut f) = loop {
            let name = files::file_name(today, part);
            let path = self.dir.join(&name);
            match std::fs::OpenOptions::new()
                .append(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&path)
            {
                Ok(f) => break (path, name, f),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && part < 1_000_000 => {
                    part += 1;
                }
                Err(e) => return Err(AuditError::io("create", &path, e)),
            }
        };
        let mut len = 0u64;
        let mut lines = 0u64;
        let r = (|| {
            if let Some(prev) = &self.cur {
                let header = ChainContinue {
                    chain_continue: self.head_hash.clone(),
                    prev_file: prev.name.clone(),
                }
                .to_json()
                    + "\n";
                f.write_all(header.as_bytes())
                    .map_err(|e| AuditError::io("write", &path, e))?;
                len = header.len() as u64;
                lines = 1;
            }
            f.sync_all()
                .map_err(|e| AuditError::io("fsync", &path, e))?;
            files::sync_dir(&self.dir)
        })();
        if let Err(e) = r {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.cur = Some(ChainFile {
            path,
            name,
            date: today,
            scheme: Scheme::Hook,
            part,
        });
        self.file = Some(f);
        self.file_len = len;
        self.lines = lines;
        Ok(())
    }

    /// Writes and fsyncs `chunk` to the current file; on failure rolls the file back.
    fn flush(&mut self, chunk: &mut Vec<u8>, chunk_lines: &mut u64) -> Result<(), AuditError> {
        if chunk.is_empty() {
            return Ok(());
        }
        let path = self
            .cur
            .as_ref()
            .map(|c| c.path.clone())
            .unwrap_or_default();
        let Some(f) = self.file.as_mut() else {
            return Err(AuditError::WriteFailed("no current file".into()));
        };
        if self.stall_mid_batch {
            stall_after_partial_write(f, chunk);
        }
        let r = f
            .write_all(chunk)
            .map_err(|e| AuditError::io("write", &path, e))
            .and_then(|()| f.sync_data().map_err(|e| AuditError::io("fsync", &path, e)));
        self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = r {
            if f.set_len(self.file_len)
                .and_then(|()| f.sync_data())
                .is_err()
            {
                self.poisoned = Some(format!("could not roll back {}", path.display()));
            }
            chunk.clear();
            *chunk_lines = 0;
            return Err(e);
        }
        self.file_len += chunk.len() as u64;
        self.lines += *chunk_lines;
        chunk.clear();
        *chunk_lines = 0;
        Ok(())
    }

    /// Hashes, writes and fsyncs `events` from the current head; the lock must be held and
    /// the head in sync. The checkpoint is dirty from before the first byte is written until
    /// everything (data, anchors) is durable.
    fn append_locked(&mut self, events: Vec<Prepared>) -> Vec<Reply> {
        let n = events.len();
        let mut replies: Vec<Option<Reply>> = (0..n).map(|_| None).collect();
        if let Some(p) = &self.poisoned {
            self.counters.failed.fetch_add(n as u64, Ordering::Relaxed);
            return (0..n)
                .map(|_| Err(AuditError::WriteFailed(p.clone())))
                .collect();
        }
        if let Err(e) = self.mark_dirty() {
            return self.fail_all(n, &e);
        }
        let today = Utc::now().date_naive();
        let mut durable = self.durable();
        let mut chunk: Vec<u8> = Vec::with_capacity(n * 512);
        let mut chunk_lines = 0u64;
        let mut in_chunk: Vec<Written> = Vec::new();
        let mut done: Vec<Written> = Vec::new();
        let mut anchors: Vec<Anchor> = Vec::new();
        let mut failure: Option<String> = None;
        let keep_events = self.siem.is_some();
        for (i, p) in events.into_iter().enumerate() {
            if failure.is_some() {
                break;
            }
            let Prepared { event, prefix } = p;
            let mut pre_tail = String::with_capacity(96);
            finish_json(&mut pre_tail, &self.head_hash, "");
            let hash = chain_hash_parts(&self.head_hash, &[&prefix, &pre_tail]);
            let mut line = prefix;
            finish_json(&mut line, &self.head_hash, &hash);
            line.push('\n');
            let e = AuditEvent {
                prev_hash: self.head_hash.clone(),
                hash,
                ..event
            };
            if self.needs_rotation(today, chunk.len() as u64, line.len() as u64) {
                if let Err(err) = self.flush(&mut chunk, &mut chunk_lines) {
                    failure = Some(err.to_string());
                    break;
                }
                done.append(&mut in_chunk);
                durable = self.durable();
                // The continuation header carries the hash of the last durable event;
                // prev_hash is unchanged by rotation: the chain continues across files.
                if let Err(err) = self.rotate(today) {
                    failure = Some(err.to_string());
                    replies[i] = Some(Err(err));
                    break;
                }
            }
            let offset = self.file_len + chunk.len() as u64;
            chunk.extend_from_slice(line.as_bytes());
            chunk_lines += 1;
            self.head_hash = e.hash.clone();
            self.count += 1;
            let cf = self
                .cur
                .as_ref()
                .map(|c| c.name.clone())
                .unwrap_or_default();
            self.last_rec = Some(RecordPos {
                file: cf.clone(),
                offset,
                len: line.len() as u64,
            });
            let receipt = Receipt {
                id: e.id.clone(),
                hash: e.hash.clone(),
                file: cf.clone(),
                line: self.lines + chunk_lines,
                event_count: self.count,
            };
            if self.anchor_every > 0 && self.count.is_multiple_of(self.anchor_every) {
                anchors.push(Anchor {
                    event_id: e.id.clone(),
                    hash: e.hash.clone(),
                    event_count: self.count,
                    timestamp: super::event::format_rfc3339_nano(&Utc::now().fixed_offset()),
                    file: cf,
                    offset,
                    len: line.len() as u64,
                    line: receipt.line,
                });
            }
            in_chunk.push(Written {
                index: i,
                receipt,
                event: keep_events.then_some(e),
            });
        }
        if failure.is_none() {
            match self.flush(&mut chunk, &mut chunk_lines) {
                Ok(()) => {
                    done.append(&mut in_chunk);
                    durable = self.durable();
                }
                Err(err) => failure = Some(err.to_string()),
            }
        }
        if let Some(msg) = &failure {
            // Nothing after the last fsync is on disk: the head goes back there.
            self.head_hash = durable.hash;
            self.count = durable.count;
            self.last_rec = durable.last_rec;
            for w in in_chunk.drain(..) {
                replies[w.index] = Some(Err(AuditError::WriteFailed(msg.clone())));
            }
            for r in replies.iter_mut().filter(|r| r.is_none()) {
                *r = Some(Err(AuditError::WriteFailed(msg.clone())));
            }
            let kept = self.count;
            anchors.retain(|a| a.event_count <= kept);
        }
        let mut anchors_ok = true;
        if !anchors.is_empty() {
            if anchor::append(&mut self.anchor_file, &self.anchor_path, &anchors).is_ok() {
                self.counters
                    .anchors
                    .fetch_add(anchors.len() as u64, Ordering::Relaxed);
            } else {
                // Leave the checkpoint dirty: the next batch recovers and repairs a torn line.
                anchors_ok = false;
            }
        }
        if self.poisoned.is_none() && anchors_ok {
            // On failure the checkpoint stays dirty and the next batch re-synchronises.
            let _ = self.store_checkpoint();
        }
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        self.counters
            .events
            .fetch_add(done.len() as u64, Ordering::Relaxed);
        for w in done {
            if let (Some(s), Some(e)) = (&self.siem, w.event) {
                s.event(e);
            }
            replies[w.index] = Some(Ok(w.receipt));
        }
        if let Some(s) = &self.siem {
            for a in anchors {
                s.anchor(a);
            }
        }
        let failed = replies.iter().filter(|r| matches!(r, Some(Err(_)))).count();
        self.counters
            .failed
            .fetch_add(failed as u64, Ordering::Relaxed);
        replies
            .into_iter()
            .map(|r| r.unwrap_or(Err(AuditError::Closed)))
            .collect()
    }
}

/// Test hook behind [`SinkConfig::test_stall_mid_batch`]: writes the first half of the chunk
/// (a torn line) and then never returns, keeping the lock, until the process is killed.
fn stall_after_partial_write(f: &mut File, chunk: &[u8]) -> ! {
    let _ = f.write_all(&chunk[..chunk.len() / 2]);
    let _ = f.sync_data();
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Replaces integers that would not survive a float64 round trip (|n| > 2^53) by strings.
fn clamp_numbers(m: &mut Map<String, Value>) {
    fn fix(v: &mut Value) {
        match v {
            Value::Number(n) => {
                let big = n.as_i64().is_some_and(|i| i.unsigned_abs() > (1u64 << 53))
                    || n.as_u64().is_some_and(|u| u > (1u64 << 53));
                if big {
                    *v = Value::String(n.to_string());
                }
            }
            Value::Array(a) => a.iter_mut().for_each(fix),
            Value::Object(o) => o.values_mut().for_each(fix),
            _ => {}
        }
    }
    m.values_mut().for_each(fix);
}
