//! Replays saved fuzz inputs on stable: every file in `tests/fuzz-regressions/<target>/`
//! (inputs that once crashed) and `fuzz/seeds/<target>/` goes through the same function the
//! fuzz target runs (`fuzz/src/lib.rs`). A panic fails the test.

#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::path::Path;

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("shell_analyze", targets::shell_analyze),
    ("glob_match", targets::glob_match),
    ("policy_load", targets::policy_load),
    ("hook_formats", targets::hook_formats),
    ("mcp_frames", targets::mcp_frames),
    ("api_body", targets::api_body),
    ("audit_lines", targets::audit_lines),
    ("audit_walk", targets::audit_walk),
];

/// Runs every file under `root/<target>/`; returns how many ran. Unknown directories fail.
fn replay(root: &Path) -> usize {
    let mut ran = 0;
    let Ok(dirs) = std::fs::read_dir(root) else {
        return 0;
    };
    for dir in dirs {
        let dir = dir.expect("read_dir entry").path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let Some((_, run)) = TARGETS.iter().find(|(t, _)| *t == name) else {
            panic!("{}: no fuzz target named {name:?}", dir.display());
        };
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("read target dir")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).expect("read input");
            eprintln!("replaying {}", f.display());
            run(&data);
            ran += 1;
        }
    }
    ran
}

#[test]
fn saved_crashers_do_not_panic() {
    replay(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions"));
}

#[test]
fn seeds_do_not_panic() {
    let n = replay(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds"));
    assert!(n >= 7, "expected the committed seeds, ran {n}");
}

#[test]
fn targets_survive_edge_inputs() {
    for (name, run) in TARGETS {
        for data in [
            &b""[..],
            b"\0",
            b"\n\n\n",
            b"\xff\xfe\xfd",
            b"{}",
            b"[]",
            b"null",
            b"\x00{\"tool_name\":null}",
        ] {
            eprintln!("{name}: {data:?}");
            run(data);
        }
    }
}
