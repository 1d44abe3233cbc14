//! Tampering: verify names the file and line of each kind of break; the CLI exits 1.

use rampart::audit::cli::{AuditCommand, run_to};
use rampart::audit::files::list_chain_files;
use rampart::audit::{AuditEvent, AuditSink, SinkConfig, verify_dir};
use serde_json::json;
use std::path::{Path, PathBuf};

fn make(n: usize, max_file: u64, anchor_every: u64) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("audit");
    let mut c = SinkConfig::new(&d);
    c.max_file_bytes = max_file;
    c.anchor_every = anchor_every;
    let s = AuditSink::open(c).unwrap();
    for i in 0..n {
        let mut e = AuditEvent::new("agent", "sess", "exec", "allow");
        e.request = Some(
            json!({"command": format!("echo {i}")})
                .as_object()
                .unwrap()
                .clone(),
        );
        s.append(e).unwrap();
    }
    (t, d)
}

fn first_file(d: &Path) -> PathBuf {
    list_chain_files(d).unwrap()[0].path.clone()
}

fn edit_lines(p: &Path, f: impl FnOnce(&mut Vec<String>)) {
    let mut lines: Vec<String> = std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    f(&mut lines);
    std::fs::write(p, lines.join("\n") + "\n").unwrap();
}

fn cli_verify(d: &Path) -> (i32, String) {
    let mut out = Vec::new();
    let code = run_to(
        AuditCommand::Verify {
            dir: Some(d.to_path_buf()),
        },
        &mut out,
    )
    .unwrap();
    (code, String::from_utf8(out).unwrap())
}

#[test]
fn intact_chain_verifies_with_exit_0() {
    let (_t, d) = make(10, u64::MAX, 100);
    let (code, out) = cli_verify(&d);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("OK: 10 events"), "{out}");
}

#[test]
fn one_byte_edit_is_named() {
    let (_t, d) = make(10, u64::MAX, 100);
    let f = first_file(&d);
    let mut bytes = std::fs::read(&f).unwrap();
    // Change one byte inside line 6's command ("echo 5" -> "echo 6").
    let text = String::from_utf8(bytes.clone()).unwrap();
    let pos = text.find("echo 5").unwrap() + 5;
    bytes[pos] = b'6';
    std::fs::write(&f, bytes).unwrap();
    let r = verify_dir(&d).unwrap();
    let b = r.brk.unwrap();
    assert_eq!((b.file.clone(), b.line), (f.clone(), 6));
    assert!(b.reason.contains("hash mismatch"), "{}", b.reason);
    assert_eq!(r.events, 5);
    let (code, out) = cli_verify(&d);
    assert_eq!(code, 1);
    assert!(
        out.contains(&format!("{}:6: hash mismatch", f.display())),
        "{out}"
    );
}

#[test]
fn edited_field_with_recomputed_hash_breaks_the_next_link() {
    use rampart::audit::event::{Record, parse_record};
    use rampart::audit::hash::event_hash;
    let (_t, d) = make(10, u64::MAX, 100);
    let f = first_file(&d);
    edit_lines(&f, |l| {
        let Record::Event(mut e) = parse_record(l[3].as_bytes()).unwrap() else {
            panic!()
        };
        e.decision.action = "deny".into();
        e.hash = event_hash(&e);
        l[3] = e.to_json();
    });
    let b = verify_dir(&d).unwrap().brk.unwrap();
    assert_eq!(b.line, 5);
    assert!(b.reason.contains("does not link"), "{}", b.reason);
}

#[test]
fn deleted_line_is_named() {
    let (_t, d) = make(10, u64::MAX, 100);
    let f = first_file(&d);
    edit_lines(&f, |l| {
        l.remove(3);
    });
    let b = verify_dir(&d).unwrap().brk.unwrap();
    assert_eq!((b.file, b.line), (f, 4));
    assert!(b.reason.contains("does not link"), "{}", b.reason);
}

#[test]
fn reordered_lines_are_named() {
    let (_t, d) = make(10, u64::MAX, 100);
    let f = first_file(&d);
    edit_lines(&f, |l| l.swap(6, 7));
    let b = verify_dir(&d).unwrap().brk.unwrap();
    assert_eq!((b.file, b.line), (f, 7));
}

#[test]
fn truncation_at_a_line_boundary_is_caught_by_anchors() {
    let (_t, d) = make(10, u64::MAX, 5);
    let f = first_file(&d);
    edit_lines(&f, |l| l.truncate(7)); // anchor #2 named event 10
    let b = verify_dir(&d).unwrap().brk.unwrap();
    assert!(b.file.ends_with("audit-anchors.jsonl"), "{b}");
    assert_eq!(b.line, 2);
    assert!(b.reason.contains("not in the chain"), "{}", b.reason);
}

#[test]
fn truncation_mid_line_in_an_earlier_file_is_named() {
    let (_t, d) = make(30, 1500, 100);
    let files = list_chain_files(&d).unwrap();
    assert!(files.len() >= 3);
    let f = &files[0].path;
    let len = std::fs::metadata(f).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(f)
        .unwrap()
        .set_len(len - 10)
        .unwrap();
    let b = verify_dir(&d).unwrap().brk.unwrap();
    assert_eq!(&b.file, f);
    assert!(b.reason.contains("truncated"), "{}", b.reason);
}

#[test]
fn removed_middle_file_is_named() {
    let (_t, d) = make(30, 1500, 100);
    let files = list_chain_files(&d).unwrap();
    assert!(files.len() >= 3);
    std::fs::remove_file(&files[1].path).unwrap();
    let b = verify_dir(&d).unwrap().brk.unwrap();
    assert_eq!((b.file.clone(), b.line), (files[2].path.clone(), 1));
    assert!(b.reason.contains(&files[1].name), "{}", b.reason);
    let (code, out) = cli_verify(&d);
    assert_eq!(code, 1);
    assert!(out.contains("file missing"), "{out}");
}

#[test]
fn removed_first_file_is_named() {
    let (_t, d) = make(30, 1500, 100);
    let files = list_chain_files(&d).unwrap();
    std::fs::remove_file(&files[0].path).unwrap();
    let b = verify_dir(&d).unwrap().brk.unwrap();
    assert_eq!((b.file, b.line), (files[1].path.clone(), 1));
    assert!(b.reason.contains("missing"), "{}", b.reason);
}

#[test]
fn garbage_and_non_object_lines_are_errors_not_panics() {
    let (_t, d) = make(3, u64::MAX, 100);
    let f = first_file(&d);
    for bad in [
        "{not json",
        "[1,2,3]",
        "{\"id\":5}",
        "\u{0}\u{1}",
        "{\"decision\":\"x\"}",
    ] {
        edit_lines(&f, |l| {
            l.truncate(3);
            l.push(bad.to_string());
        });
        let b = verify_dir(&d).unwrap().brk.unwrap();
        assert_eq!(b.line, 4, "{bad}");
        assert!(b.reason.contains("unparsable"), "{bad}: {}", b.reason);
    }
}

#[test]
fn symlinked_chain_file_is_refused() {
    let (_t, d) = make(3, u64::MAX, 100);
    let f = first_file(&d);
    std::os::unix::fs::symlink(&f, d.join("2099-01-01.jsonl")).unwrap();
    assert!(verify_dir(&d).is_err());
    assert!(AuditSink::open(SinkConfig::new(&d)).is_err());
}

#[test]
fn missing_directory_is_a_clear_error() {
    let err = run_to(
        AuditCommand::Verify {
            dir: Some("/nonexistent/rampart-audit".into()),
        },
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("/nonexistent/rampart-audit"));
}
