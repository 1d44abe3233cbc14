//! Several writers (sinks in threads, separate processes, a SIGKILLed process) sharing one
//! audit directory, and the checkpoint that lets a writer skip re-reading the chain.

use rampart::audit::checkpoint::{CHECKPOINT_BYTES, Checkpoint};
use rampart::audit::files::{LOCK_FILE, list_chain_files};
use rampart::audit::recovery::HeadSource;
use rampart::audit::{AuditError, AuditEvent, AuditSink, Receipt, SinkConfig, verify_dir};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const CHILD_DIR: &str = "RAMPART_AUDIT_SHARED_CHILD_DIR";
const CHILD_EVENTS: &str = "RAMPART_AUDIT_SHARED_CHILD_EVENTS";
const CHILD_TAG: &str = "RAMPART_AUDIT_SHARED_CHILD_TAG";

fn ev(tag: &str, i: usize) -> AuditEvent {
    let mut e = AuditEvent::new("agent", "sess", "exec", "allow");
    e.request = Some(
        json!({"command": format!("echo {tag} {i}")})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    e
}

fn dir() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("audit");
    (t, d)
}

fn cfg(d: &Path) -> SinkConfig {
    let mut c = SinkConfig::new(d);
    c.max_file_bytes = 16 * 1024; // rotate often so writers meet at file boundaries
    c.anchor_every = 7;
    // These tests are about sharing one chain, not about giving up on the lock. With up to
    // a dozen writers taking turns and every batch fsynced, one writer can wait far longer
    // than the 5 s default on a slow or loaded disk, and a LockTimeout then fails the whole
    // test. The wait for the lock is still bounded; the give-up path has its own test below
    // (`quick`, 200 ms, against a writer that holds the lock forever).
    c.lock_timeout = Duration::from_secs(120);
    c
}

fn assert_verifies(d: &Path, events: u64) {
    let r = verify_dir(d).unwrap();
    assert!(r.brk.is_none(), "{:?}", r.brk);
    assert_eq!(r.events, events);
}

/// Every receipt names a distinct chain position 1..=n, and its file and line hold its event.
fn assert_receipts(d: &Path, receipts: &[Receipt]) {
    let mut counts: Vec<u64> = receipts.iter().map(|r| r.event_count).collect();
    counts.sort_unstable();
    let n = counts.len() as u64;
    assert_eq!(counts, (1..=n).collect::<Vec<_>>(), "event counts");
    let places: HashSet<(&str, u64)> = receipts.iter().map(|r| (r.file.as_str(), r.line)).collect();
    assert_eq!(places.len(), receipts.len(), "two receipts name one line");
    let mut texts: HashMap<String, Vec<String>> = HashMap::new();
    for r in receipts {
        let lines = texts.entry(r.file.clone()).or_insert_with(|| {
            std::fs::read_to_string(d.join(&r.file))
                .unwrap()
                .lines()
                .map(String::from)
                .collect()
        });
        let line = &lines[(r.line - 1) as usize];
        assert!(
            line.contains(&r.id),
            "{}:{} does not hold {}",
            r.file,
            r.line,
            r.id
        );
    }
}

fn read_checkpoint(d: &Path) -> Option<Checkpoint> {
    let raw = std::fs::read(d.join(LOCK_FILE)).ok()?;
    Checkpoint::decode(raw.get(..CHECKPOINT_BYTES)?)
}

#[test]
fn sinks_in_threads_share_one_chain() {
    let (_t, d) = dir();
    let sinks: Vec<AuditSink> = (0..4).map(|_| AuditSink::open(cfg(&d)).unwrap()).collect();
    let receipts: Vec<Receipt> = std::thread::scope(|s| {
        let hs: Vec<_> = sinks
            .iter()
            .enumerate()
            .flat_map(|(k, sink)| {
                (0..3).map(move |t| {
                    let sink = sink.clone();
                    s.spawn(move || {
                        (0..40)
                            .map(|i| sink.append(ev(&format!("s{k}t{t}"), i)).unwrap())
                            .collect::<Vec<_>>()
                    })
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let resyncs: u64 = sinks.iter().map(|s| s.stats().resyncs).sum();
    drop(sinks);
    assert_eq!(receipts.len(), 4 * 3 * 40);
    assert!(resyncs > 0, "the writers never interleaved");
    assert_receipts(&d, &receipts);
    assert_verifies(&d, 480);
    assert!(
        list_chain_files(&d).unwrap().len() > 3,
        "rotation was exercised"
    );
    // One anchor per multiple of 7, whichever writer reached it.
    assert_eq!(verify_dir(&d).unwrap().anchors, 480 / 7);
    let ck = read_checkpoint(&d).expect("clean checkpoint left behind");
    assert!(ck.clean);
    assert_eq!(ck.event_count, 480);
}

#[test]
fn alternating_writers_each_see_the_others_events() {
    let (_t, d) = dir();
    let a = AuditSink::open(cfg(&d)).unwrap();
    let b = AuditSink::open(cfg(&d)).unwrap();
    let mut receipts = Vec::new();
    for i in 0..30 {
        let s = if i % 3 == 0 { &b } else { &a };
        receipts.push(s.append(ev("alt", i)).unwrap());
        assert_eq!(receipts[i].event_count, i as u64 + 1);
    }
    // Every switch of writer is a re-synchronisation by catching up, never a full recovery.
    let (sa, sb) = (a.stats(), b.stats());
    assert!(sa.resyncs >= 9 && sb.resyncs >= 9, "{sa:?} {sb:?}");
    assert_eq!(sa.recoveries + sb.recoveries, 0, "{sa:?} {sb:?}");
    drop((a, b));
    assert_receipts(&d, &receipts);
    assert_verifies(&d, 30);
}

#[test]
fn a_lone_writer_never_rereads_the_chain() {
    let (_t, d) = dir();
    let sink = AuditSink::open(cfg(&d)).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let sink = sink.clone();
            s.spawn(move || {
                for i in 0..50 {
                    sink.append(ev(&format!("t{t}"), i)).unwrap();
                }
            });
        }
    });
    let st = sink.stats();
    assert_eq!(st.events, 200);
    assert!(st.batches > 1);
    assert_eq!((st.resyncs, st.recoveries), (0, 0), "{st:?}");
    drop(sink);
    assert_verifies(&d, 200);
}

#[test]
fn open_with_a_clean_checkpoint_does_not_walk_the_chain() {
    let (_t, d) = dir();
    let first = AuditSink::open(SinkConfig::new(&d)).unwrap();
    assert_eq!(
        first.recovered().source,
        HeadSource::Walk,
        "no checkpoint yet"
    );
    for i in 0..250 {
        first.append(ev("x", i)).unwrap();
    }
    drop(first);

    let sink = AuditSink::open(SinkConfig::new(&d)).unwrap();
    let rec = sink.recovered();
    assert_eq!(rec.source, HeadSource::Checkpoint);
    assert_eq!(rec.events_verified, 1, "only the head record is checked");
    assert!(rec.from_anchor.is_none());
    assert_eq!(rec.head.event_count, 250);
    assert_eq!(sink.append(ev("x", 250)).unwrap().event_count, 251);
    assert_eq!(sink.stats().resyncs, 0);
    drop(sink);

    // serve's setting still walks the tail from the last anchor.
    let mut c = SinkConfig::new(&d);
    c.verify_tail_on_open = true;
    let sink = AuditSink::open(c).unwrap();
    assert_eq!(sink.recovered().source, HeadSource::Walk);
    assert_eq!(
        sink.recovered().from_anchor.as_ref().map(|a| a.event_count),
        Some(200)
    );
    assert_eq!(sink.recovered().events_verified, 51);
    drop(sink);
    assert_verifies(&d, 251);
}

fn write_some(d: &Path, tag: &str, n: usize) {
    let sink = AuditSink::open(cfg(d)).unwrap();
    for i in 0..n {
        sink.append(ev(tag, i)).unwrap();
    }
}

fn reopen_source_and_count(d: &Path) -> (HeadSource, u64) {
    let sink = AuditSink::open(cfg(d)).unwrap();
    let src = sink.recovered().source;
    let count = sink.append(ev("after", 0)).unwrap().event_count;
    (src, count)
}

#[test]
fn missing_checkpoint_is_recovered() {
    let (_t, d) = dir();
    write_some(&d, "a", 20);
    std::fs::remove_file(d.join(LOCK_FILE)).unwrap();
    assert_eq!(reopen_source_and_count(&d), (HeadSource::Walk, 21));
    assert_verifies(&d, 21);
    assert_eq!(reopen_source_and_count(&d), (HeadSource::Checkpoint, 22));
}

#[test]
fn garbage_checkpoint_is_recovered() {
    let (_t, d) = dir();
    write_some(&d, "a", 20);
    let garbage: Vec<u8> = (0..CHECKPOINT_BYTES as u32)
        .map(|i| (i * 131 % 251) as u8)
        .collect();
    std::fs::write(d.join(LOCK_FILE), garbage).unwrap();
    assert_eq!(reopen_source_and_count(&d), (HeadSource::Walk, 21));
    assert_verifies(&d, 21);
}

#[test]
fn stale_checkpoint_is_recovered() {
    let (_t, d) = dir();
    write_some(&d, "a", 10);
    let old = std::fs::read(d.join(LOCK_FILE)).unwrap();
    write_some(&d, "b", 10);
    // A well-formed, clean checkpoint describing an older head.
    std::fs::write(d.join(LOCK_FILE), &old).unwrap();
    assert!(read_checkpoint(&d).is_some_and(|c| c.clean && c.event_count == 10));
    assert_eq!(reopen_source_and_count(&d), (HeadSource::Walk, 21));
    assert_verifies(&d, 21);
}

#[test]
fn forged_checkpoint_head_is_recovered() {
    let (_t, d) = dir();
    write_some(&d, "a", 10);
    let mut ck = read_checkpoint(&d).unwrap();
    ck.head_hash = format!("sha256:{}", "0".repeat(64));
    std::fs::write(d.join(LOCK_FILE), ck.encode().unwrap()).unwrap();
    assert_eq!(reopen_source_and_count(&d), (HeadSource::Walk, 11));
    assert_verifies(&d, 11);
}

#[test]
fn dirty_checkpoint_is_recovered() {
    let (_t, d) = dir();
    write_some(&d, "a", 10);
    let mut ck = read_checkpoint(&d).unwrap();
    ck.clean = false;
    std::fs::write(d.join(LOCK_FILE), ck.encode().unwrap()).unwrap();
    assert_eq!(reopen_source_and_count(&d), (HeadSource::Walk, 11));
    assert_verifies(&d, 11);
}

#[test]
fn damaged_checkpoint_between_batches_makes_the_writer_recover() {
    let (_t, d) = dir();
    let a = AuditSink::open(cfg(&d)).unwrap();
    let b = AuditSink::open(cfg(&d)).unwrap();
    a.append(ev("a", 0)).unwrap();
    b.append(ev("b", 0)).unwrap();
    std::fs::write(d.join(LOCK_FILE), b"not a checkpoint").unwrap();
    assert_eq!(a.append(ev("a", 1)).unwrap().event_count, 3);
    assert_eq!(a.stats().recoveries, 1);
    assert_eq!(b.append(ev("b", 1)).unwrap().event_count, 4);
    drop((a, b));
    assert_verifies(&d, 4);
}

#[test]
fn replaced_lock_file_is_followed() {
    let (_t, d) = dir();
    let a = AuditSink::open(cfg(&d)).unwrap();
    a.append(ev("a", 0)).unwrap();
    // Someone deletes the lock file: the next batch must lock the file now at the path,
    // not the unlinked one, or a new writer could hold a lock on a different inode.
    std::fs::remove_file(d.join(LOCK_FILE)).unwrap();
    assert_eq!(a.append(ev("a", 1)).unwrap().event_count, 2);
    let ck = read_checkpoint(&d).expect("checkpoint rewritten at the path");
    assert_eq!(ck.event_count, 2);
    let b = AuditSink::open(cfg(&d)).unwrap();
    assert_eq!(b.recovered().source, HeadSource::Checkpoint);
    assert_eq!(b.append(ev("b", 0)).unwrap().event_count, 3);
    // Another file renamed over it: same rule.
    let other = d.join("other.tmp");
    std::fs::write(&other, b"x").unwrap();
    std::fs::rename(&other, d.join(LOCK_FILE)).unwrap();
    assert_eq!(a.append(ev("a", 2)).unwrap().event_count, 4);
    assert_eq!(read_checkpoint(&d).map(|c| c.event_count), Some(4));
    assert_eq!(b.append(ev("b", 1)).unwrap().event_count, 5);
    drop((a, b));
    assert_verifies(&d, 5);
}

#[test]
fn edited_head_record_is_not_trusted_at_open() {
    let (_t, d) = dir();
    write_some(&d, "a", 5);
    let f = list_chain_files(&d).unwrap().pop().unwrap().path;
    // Same length, so only the record check (not the size check) can notice.
    let text = std::fs::read_to_string(&f)
        .unwrap()
        .replace("echo a 4", "echo a 9");
    std::fs::write(&f, text).unwrap();
    match AuditSink::open(cfg(&d)) {
        Err(AuditError::Broken(b)) => assert!(b.reason.contains("hash mismatch"), "{b}"),
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

#[test]
fn empty_directory_round_trips_through_the_checkpoint() {
    let (_t, d) = dir();
    drop(AuditSink::open(cfg(&d)).unwrap());
    let sink = AuditSink::open(cfg(&d)).unwrap();
    assert_eq!(sink.recovered().source, HeadSource::Checkpoint);
    assert_eq!(sink.append(ev("a", 0)).unwrap().event_count, 1);
    drop(sink);
    assert_verifies(&d, 1);
}

// ---------------------------------------------------------------- child processes

/// A child process that is SIGKILLed if the test panics before reaping it.
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl std::ops::Deref for Kid {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Kid {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

fn child(test: &str, d: &Path, extra: &[(&str, String)]) -> Kid {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--ignored",
        "--exact",
        test,
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_DIR, d)
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    for (k, v) in extra {
        c.env(k, v);
    }
    Kid(c.spawn().unwrap())
}

/// Forwards a child's `RC <count> <file> <line> <id>` lines (and any other line) to `tx`.
fn pump(ch: &mut Child, tx: mpsc::Sender<String>) -> std::thread::JoinHandle<()> {
    let out = ch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    })
}

fn parse_rc(line: &str) -> Option<Receipt> {
    // libtest may print "test name ... " in front of the child's first line.
    let at = line.find("RC ")?;
    let mut p = line[at + 3..].split(' ');
    let event_count = p.next()?.parse().ok()?;
    let file = p.next()?.to_string();
    let line = p.next()?.parse().ok()?;
    let id = p.next()?.to_string();
    Some(Receipt {
        id,
        hash: String::new(),
        file,
        line,
        event_count,
    })
}

fn print_rc(out: &std::sync::Mutex<std::io::Stdout>, r: &Receipt) {
    let mut o = out.lock().unwrap();
    writeln!(o, "RC {} {} {} {}", r.event_count, r.file, r.line, r.id).unwrap();
    o.flush().unwrap();
}

/// Child: two threads append `CHILD_EVENTS` events each (forever when 0), printing receipts.
#[test]
#[ignore = "run as a child process by the multi-process tests"]
fn shared_child_writer() {
    let Some(d) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let n: usize = std::env::var(CHILD_EVENTS)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let tag = std::env::var(CHILD_TAG).unwrap_or_default();
    let sink = AuditSink::open(cfg(Path::new(&d))).unwrap();
    let out = std::sync::Mutex::new(std::io::stdout());
    std::thread::scope(|s| {
        for t in 0..2 {
            let (sink, out, tag) = (sink.clone(), &out, &tag);
            s.spawn(move || {
                let mut i = 0;
                while n == 0 || i < n {
                    let r = sink.append(ev(&format!("{tag}t{t}"), i)).unwrap();
                    print_rc(out, &r);
                    i += 1;
                }
            });
        }
    });
}

/// Child: acknowledges a few events, then starts a batch that stalls half-written.
#[test]
#[ignore = "run as a child process by killed_mid_write_writer_is_recovered_by_the_next"]
fn stalling_child_writer() {
    let Some(d) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let d = PathBuf::from(d);
    let out = std::sync::Mutex::new(std::io::stdout());
    let good = AuditSink::open(cfg(&d)).unwrap();
    for i in 0..5 {
        print_rc(&out, &good.append(ev("child", i)).unwrap());
    }
    drop(good);
    let mut c = cfg(&d);
    c.test_stall_mid_batch = true;
    let stalling = AuditSink::open(c).unwrap();
    let _ticket = stalling.submit(ev("never-acknowledged", 0)).unwrap();
    {
        let mut o = out.lock().unwrap();
        writeln!(o, "SUBMITTED").unwrap();
        o.flush().unwrap();
    }
    // The flusher never finishes; wait to be killed.
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn separate_processes_share_one_chain() {
    let (_t, d) = dir();
    let per_thread = 100usize;
    let (tx, rx) = mpsc::channel();
    let mut kids: Vec<Kid> = (0..4)
        .map(|k| {
            child(
                "shared_child_writer",
                &d,
                &[
                    (CHILD_EVENTS, per_thread.to_string()),
                    (CHILD_TAG, format!("p{k}")),
                ],
            )
        })
        .collect();
    let pumps: Vec<_> = kids.iter_mut().map(|k| pump(k, tx.clone())).collect();
    drop(tx);
    // Once the children are writing, this process writes too, until they are all done.
    let mut receipts: Vec<Receipt> = Vec::new();
    let first = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("children started");
    receipts.extend(parse_rc(&first));
    let sink = AuditSink::open(cfg(&d)).unwrap();
    let mut mine = 0;
    let mut running = kids.len();
    while running > 0 || mine < per_thread {
        receipts.push(sink.append(ev("parent", mine)).unwrap());
        mine += 1;
        running = 0;
        for k in &mut kids {
            if k.try_wait().unwrap().is_none() {
                running += 1;
            }
        }
    }
    for k in &mut kids {
        assert!(k.wait().unwrap().success(), "child writer failed");
    }
    for p in pumps {
        p.join().unwrap();
    }
    receipts.extend(rx.try_iter().filter_map(|l| parse_rc(&l)));
    let total = 4 * 2 * per_thread + mine;
    assert_eq!(receipts.len(), total);
    assert!(sink.stats().resyncs > 0, "processes never interleaved");
    drop(sink);
    assert_receipts(&d, &receipts);
    assert_verifies(&d, total as u64);
}

#[test]
fn killed_mid_write_writer_is_recovered_by_the_next() {
    let (_t, d) = dir();
    // Opened first: this writer must notice, on its next batch, what the killed one left.
    let survivor = AuditSink::open(cfg(&d)).unwrap();
    let mut acked = vec![survivor.append(ev("survivor", 0)).unwrap()];

    let mut kid = child("stalling_child_writer", &d, &[]);
    let (tx, rx) = mpsc::channel();
    let p = pump(&mut kid, tx);
    let start = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) if l.ends_with("SUBMITTED") => break,
            Ok(l) => acked.extend(parse_rc(&l)),
            Err(e) => panic!("child did not reach its stalled batch: {e}"),
        }
    }
    // Wait until the half-written batch is on disk under a dirty checkpoint (the writer marks
    // the checkpoint dirty before it writes, so both are polled).
    let torn_written = || {
        let ck = read_checkpoint(&d)?;
        let file = list_chain_files(&d).ok()?.pop()?.path;
        let len = std::fs::metadata(&file).ok()?.len();
        (!ck.clean && len > ck.file_len).then_some((file, ck, len))
    };
    let (torn_file, ck, len) = loop {
        if let Some(found) = torn_written() {
            break found;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no torn bytes under a dirty checkpoint"
        );
        std::thread::sleep(Duration::from_millis(5));
    };

    // The stalled child holds the lock: a third writer gives up with a clear error.
    let mut quick = cfg(&d);
    quick.lock_timeout = Duration::from_millis(200);
    match AuditSink::open(quick) {
        Err(e @ AuditError::LockTimeout { .. }) => {
            assert!(e.to_string().contains(LOCK_FILE), "{e}");
        }
        other => panic!("expected a lock timeout, got {other:?}"),
    }

    kid.kill().unwrap(); // SIGKILL
    kid.wait().unwrap();
    p.join().unwrap();
    assert_eq!(acked.len(), 6);

    let r = survivor.append(ev("survivor", 1)).unwrap();
    assert_eq!(survivor.stats().recoveries, 1);
    // 1 + 5 acknowledged, then the recovery event, then this one.
    assert_eq!(r.event_count, 8);
    acked.push(r);
    drop(survivor);

    let torn: Vec<PathBuf> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "torn"))
        .collect();
    assert_eq!(torn.len(), 1, "torn bytes quarantined");
    let moved = std::fs::read(&torn[0]).unwrap();
    assert_eq!(moved.len() as u64, len - ck.file_len);
    assert!(!moved.ends_with(b"\n"));
    let text = std::fs::read_to_string(&torn_file).unwrap();
    assert!(text.contains("\"audit_recovery\""));
    assert!(!text.contains("never-acknowledged"));
    assert_verifies(&d, 8);
    let on_disk = ids_on_disk(&d);
    for a in &acked {
        assert!(on_disk.contains(&a.id), "acknowledged {} lost", a.id);
    }
}

fn ids_on_disk(d: &Path) -> HashSet<String> {
    let mut ids = HashSet::new();
    rampart::audit::reader::for_each(d, None, |it| {
        if let rampart::audit::reader::Item::Event(e, _) = it {
            ids.insert(e.id);
        }
        true
    })
    .unwrap();
    ids
}

#[test]
fn processes_killed_at_random_lose_nothing_acknowledged() {
    let (_t, d) = dir();
    let mut acked: HashSet<String> = HashSet::new();
    for round in 0..3 {
        let (tx, rx) = mpsc::channel();
        let mut kids: Vec<Kid> = (0..2)
            .map(|k| {
                child(
                    "shared_child_writer",
                    &d,
                    &[(CHILD_TAG, format!("r{round}k{k}"))],
                )
            })
            .collect();
        let pumps: Vec<_> = kids.iter_mut().map(|k| pump(k, tx.clone())).collect();
        drop(tx);
        let start = Instant::now();
        let mut got = 0;
        while start.elapsed() < Duration::from_secs(20) && got < 150 {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(100))
                && let Some(r) = parse_rc(&l)
            {
                acked.insert(r.id);
                got += 1;
            }
        }
        // Kill one, let the other go on a little, then kill it too: both mid-batch, at random.
        kids[0].kill().unwrap();
        kids[0].wait().unwrap();
        let until = Instant::now() + Duration::from_millis(150);
        while Instant::now() < until {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(10))
                && let Some(r) = parse_rc(&l)
            {
                acked.insert(r.id);
            }
        }
        kids[1].kill().unwrap();
        kids[1].wait().unwrap();
        for p in pumps {
            p.join().unwrap();
        }
        acked.extend(rx.try_iter().filter_map(|l| parse_rc(&l)).map(|r| r.id));
        assert!(got > 0, "round {round}: children produced nothing");

        // The next writer recovers whatever the kills left, and the chain verifies.
        let sink = AuditSink::open(cfg(&d)).unwrap();
        let last = sink.append(ev("check", round)).unwrap();
        drop(sink);
        let r = verify_dir(&d).unwrap();
        assert!(r.brk.is_none(), "round {round}: {:?}", r.brk);
        assert_eq!(r.events, last.event_count);
        let on_disk = ids_on_disk(&d);
        let lost = acked.difference(&on_disk).count();
        assert_eq!(lost, 0, "round {round}: acknowledged events lost");
    }
}

#[test]
fn deleted_current_file_is_not_written_blindly() {
    let (_t, d) = dir();
    let sink = AuditSink::open(cfg(&d)).unwrap();
    sink.append(ev("a", 0)).unwrap();
    let f = list_chain_files(&d).unwrap().pop().unwrap().path;
    std::fs::remove_file(&f).unwrap();
    // Same checkpoint, same length on our descriptor, but the file is gone from the directory:
    // the writer must re-synchronise instead of appending to the unlinked inode.
    let r = sink.append(ev("a", 1)).unwrap();
    assert_eq!(sink.stats().resyncs, 1);
    assert_eq!(r.event_count, 1, "the chain restarts from what is on disk");
    let text = std::fs::read_to_string(d.join(&r.file)).unwrap();
    assert!(text.contains(&r.id));
}
