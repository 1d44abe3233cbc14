//! Pre-decodes and validates the embedded policy profiles (`policies/*.yaml`) at build time.
//!
//! Each profile is decoded strictly with the same schema and YAML decoder the engine uses at
//! run time, validated with the engine's own validation code, and written in the engine's
//! packed form (`src/engine/packed.rs`), which the engine reads back without parsing or
//! validating again (spec/engine.md §16: loading the embedded profile is on every one-shot
//! hook's path). A profile that does not decode or validate here gets no packed form (and a
//! build warning); the engine then reads its YAML as before, reporting the same error.
//! `profiles::tests` checks both readings agree.

use std::fmt::Write as _;
use std::path::Path;

#[allow(dead_code)]
#[path = "src/engine/model.rs"]
mod model;

#[allow(dead_code)]
#[path = "src/engine/decision.rs"]
mod decision;

#[allow(dead_code)]
#[path = "src/engine/duration.rs"]
mod duration;

#[allow(dead_code)]
#[path = "src/engine/limits.rs"]
mod limits;

#[allow(dead_code)]
#[path = "src/engine/validate.rs"]
mod validate;

#[allow(dead_code)]
#[path = "src/engine/packed.rs"]
mod packed;

/// Packs the `rampart` executable's relative relocations (`DT_RELR`) on glibc ≥ 2.36.
///
/// A one-shot `rampart hook` process pays for dynamic relocation on every tool call: the PIE
/// carries ~22k `R_X86_64_RELATIVE` entries (530 KB of `.rela.dyn`) that the loader reads and
/// applies before `main`. Packed, the table is ~6 KB and is applied in a tight loop. The binary
/// stays position-independent (ASLR intact). Measured with a loop of 200 `rampart hook`
/// processes under `perf stat`: ~1.2 ms less CPU per process. The packed form needs the
/// loader of glibc 2.36 or later (the linker records `GLIBC_ABI_DT_RELR`), so it is only used
/// when the build machine's glibc has it; `RAMPART_NO_RELR=1` turns it off.
fn pack_relative_relocations() {
    println!("cargo:rerun-if-env-changed=RAMPART_NO_RELR");
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    let native = std::env::var("HOST").ok() == std::env::var("TARGET").ok();
    if !linux_gnu || !native || std::env::var_os("RAMPART_NO_RELR").is_some() {
        return;
    }
    if host_glibc().is_some_and(|v| v >= (2, 36)) {
        println!("cargo:rustc-link-arg-bin=rampart=-Wl,-z,pack-relative-relocs");
    }
}

/// The build machine's glibc version, from `getconf GNU_LIBC_VERSION` ("glibc 2.36").
fn host_glibc() -> Option<(u32, u32)> {
    let out = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let version = text.trim().strip_prefix("glibc ")?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()?
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    Some((major, minor))
}

/// Largest policy file the engine accepts (`load::MAX_POLICY_BYTES`).
const MAX_POLICY_BYTES: usize = 1 << 20;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for f in [
        "model", "decision", "duration", "limits", "validate", "packed",
    ] {
        println!("cargo:rerun-if-changed=src/engine/{f}.rs");
    }
    println!("cargo:rerun-if-changed=policies");
    pack_relative_relocations();
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    let mut names: Vec<String> = std::fs::read_dir("policies")
        .expect("policies/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    let mut table = String::from("&[\n");
    for file in names {
        println!("cargo:rerun-if-changed=policies/{file}");
        let name = file.trim_end_matches(".yaml");
        let text = std::fs::read_to_string(Path::new("policies").join(&file)).expect("profile");
        if text.len() > MAX_POLICY_BYTES {
            println!("cargo:warning=policies/{file} is too large; read from YAML at run time");
            continue;
        }
        let decoded = if text.trim().is_empty() {
            model::PolicyFile::default()
        } else {
            // The same reading as `load::yaml_options` (YAML 1.2 booleans).
            let mut options = serde_saphyr::Options::default();
            options.strict_booleans = true;
            match serde_saphyr::from_str_with_options::<model::PolicyFile>(&text, options) {
                Ok(d) => d,
                Err(e) => {
                    let first = e.to_string().lines().next().unwrap_or_default().to_string();
                    println!("cargo:warning=policies/{file}: {first}; read from YAML at run time");
                    continue;
                }
            }
        };
        if let Err(e) = validate::validate(&decoded) {
            println!("cargo:warning=policies/{file}: {e}; read from YAML at run time");
            continue;
        }
        let dest = Path::new(&out).join(format!("{name}.packed"));
        std::fs::write(&dest, packed::encode(&decoded)).expect("write packed profile");
        writeln!(
            table,
            "    ({name:?}, include_bytes!({:?})),",
            dest.display().to_string()
        )
        .expect("write");
    }
    table.push(']');
    std::fs::write(Path::new(&out).join("profiles_packed.rs"), table).expect("write table");
}
