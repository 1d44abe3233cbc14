//! Crash test for the real `rampart serve` binary: under bounded loopback load the server is
//! SIGKILLed at a random moment, 20+ times on the same `--audit-dir`. After every restart each
//! decision the server acknowledged (a 200 or 403 answer that reached the client) must be in the
//! audit files, and `rampart audit verify --dir` must exit 0.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROUNDS: u32 = 20;
const CLIENTS: u32 = 3;

mod support;
use support::binary::{Proc, agent, free_port, rampart, serve};

/// Waits for /healthz; panics (with the child's exit status) if the server dies or hangs.
fn wait_healthy(p: &mut Proc, port: u16) {
    let t = Instant::now();
    while agent()
        .get(&format!("http://127.0.0.1:{port}/healthz"))
        .call()
        .is_err()
    {
        if let Some(st) = p.0.try_wait().unwrap() {
            panic!("server exited during startup: {st}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "server did not come up"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Tiny xorshift so the kill moment varies between rounds and runs without a rand dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Everything under the audit dir as one string (JSONL files; any rotation layout).
fn audit_text(dir: &Path) -> String {
    let mut s = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(t) = std::fs::read_to_string(&p) {
                s.push_str(&t);
                s.push('\n');
            }
        }
    }
    s
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_decision() {
    let tmp = tempfile::Builder::new()
        .prefix("crash-kill9-")
        .tempdir_in("/tmp")
        .unwrap();
    let home = tmp.path();
    let audit = home.join("audit");
    let audit_s = audit.to_str().unwrap().to_string();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill9 seed {seed}");
    let mut rng = Rng(seed);
    // Every acknowledged decision so far: (command, status, audit_id from the answer).
    type Acked = Vec<(String, u16, String)>;
    let acked: Arc<Mutex<Acked>> = Arc::new(Mutex::new(Vec::new()));
    let mut per_status = [0usize; 2];

    let start = |port: u16| {
        let mut p = Proc(serve(home, port, &audit).spawn().unwrap());
        wait_healthy(&mut p, port);
        p
    };
    let mut port = free_port();
    let mut p = start(port);
    for round in 0..ROUNDS {
        let token = std::fs::read_to_string(home.join(".rampart/token")).unwrap();
        let token = token.trim().to_string();

        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = Vec::new();
        for t in 0..CLIENTS {
            let stop = stop.clone();
            let acked = acked.clone();
            let token = token.clone();
            clients.push(std::thread::spawn(move || {
                let a = agent();
                let url = format!("http://127.0.0.1:{port}/v1/tool/exec");
                // Bounded: at most 2000 requests per client per round.
                for i in 0..2000u32 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let marker = format!("r{round}-t{t}-i{i}");
                    // Alternate an allowed and a denied command so both paths are exercised.
                    let cmd = if i % 2 == 0 {
                        format!("echo {marker}")
                    } else {
                        format!("rm -rf / {marker}")
                    };
                    let body = serde_json::json!({"agent": "kill9", "params": {"command": cmd}});
                    let r = a
                        .post(&url)
                        .header("Authorization", &format!("Bearer {token}"))
                        .send(body.to_string());
                    match r {
                        Ok(mut resp) => {
                            let code = resp.status().as_u16();
                            // Only a fully received answer counts as acknowledged.
                            let Ok(text) = resp.body_mut().read_to_string() else {
                                break;
                            };
                            if code == 200 || code == 403 {
                                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                                let id = v["audit_id"].as_str().unwrap_or_default().to_string();
                                assert!(!id.is_empty(), "acknowledged without audit_id: {text}");
                                acked.lock().unwrap().push((cmd, code, id));
                            }
                        }
                        Err(_) => break, // server is gone
                    }
                }
            }));
        }

        // Let the load run for a random 30..400 ms, then SIGKILL.
        std::thread::sleep(Duration::from_millis(30 + rng.next() % 370));
        p.0.kill().unwrap(); // SIGKILL on Unix
        p.0.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().unwrap();
        }

        // Restart on the same audit dir: startup verifies the chain, so it must come up.
        // The restarted server carries the next round's load.
        port = free_port();
        p = start(port);

        // id -> (command, action) of every complete record on disk.
        let text = audit_text(&audit);
        let on_disk: HashMap<String, (String, String)> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| {
                Some((
                    v["id"].as_str()?.to_string(),
                    (
                        v["request"]["command"].as_str()?.to_string(),
                        v["decision"]["action"].as_str()?.to_string(),
                    ),
                ))
            })
            .collect();
        let acked_now = acked.lock().unwrap();
        let mut bad = Vec::new();
        for (cmd, code, id) in acked_now.iter() {
            let want = if *code == 403 { "deny" } else { "allow" };
            match on_disk.get(id) {
                Some((c, a)) if c == cmd && a == want => {}
                other => bad.push(format!("{id} {cmd:?} {want}: on disk {other:?}")),
            }
        }
        assert!(
            bad.is_empty(),
            "round {round} (seed {seed}): {} acknowledged decisions missing or wrong in the audit, e.g. {:?}",
            bad.len(),
            &bad[..bad.len().min(5)]
        );
        let uniq: HashSet<&String> = acked_now.iter().map(|(_, _, id)| id).collect();
        assert_eq!(uniq.len(), acked_now.len(), "audit ids are unique");
        drop(acked_now);

        let out = rampart(home)
            .args(["audit", "verify", "--dir", &audit_s])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round} (seed {seed}): audit verify failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (_, code, _) in acked.lock().unwrap().iter() {
        per_status[usize::from(*code == 403)] += 1;
    }
    eprintln!(
        "kill9: {} allowed + {} denied acknowledged decisions over {ROUNDS} rounds",
        per_status[0], per_status[1]
    );
    // The test must have exercised both paths, or it proves nothing.
    assert!(per_status[0] > 0 && per_status[1] > 0, "{per_status:?}");
}
