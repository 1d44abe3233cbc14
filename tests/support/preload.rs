//! Shared pieces of the preload tests and bench: the library built for this run, example
//! binaries, and the policy plus helper script whose run is what gets denied.

use std::path::{Path, PathBuf};

/// Denies running `forbidden-helper` (by any path), watches `date`.
pub const POLICY: &str = r#"
version: "1"
default_action: allow
policies:
  - name: no-helper
    match: {tool: exec}
    rules:
      - action: deny
        when: {command_matches: ["*forbidden-helper*"]}
        message: "the forbidden helper may not run"
  - name: watch-date
    match: {tool: exec}
    rules:
      - action: watch
        when: {command_matches: ["date*"]}
"#;

/// The helper's only effect: append to `$1/helper-ran`.
pub const HELPER: &str = "#!/bin/sh\necho ran >> \"$1/helper-ran\"\n";

/// Writes `dir/bin/forbidden-helper` (mode 0755); returns its path.
pub fn write_helper(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let helper = bin.join("forbidden-helper");
    std::fs::write(&helper, HELPER).expect("helper");
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755))
        .expect("chmod helper");
    helper
}

/// The library built for this run. The root package lists it as a dev-dependency, so cargo
/// leaves it in `target/<profile>/deps/` (and `cargo build` next to the binary).
pub fn lib_path() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let deps = exe.parent().expect("deps dir");
    let candidates = [
        deps.join("librampart_preload.so"),
        deps.parent()
            .expect("profile dir")
            .join("librampart_preload.so"),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("librampart_preload.so not found in {candidates:?}"))
        .clone()
}

/// Removes inherited `RAMPART_*` and `LD_PRELOAD` variables from `c`'s environment.
pub fn clean_env(c: &mut std::process::Command) {
    for (k, _) in std::env::vars_os() {
        if k.to_str()
            .is_some_and(|k| k.starts_with("RAMPART_") || k == "LD_PRELOAD")
        {
            c.env_remove(&k);
        }
    }
}
