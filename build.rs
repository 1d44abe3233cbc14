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
            match serde_saphyr::from_str::<model::PolicyFile>(&text) {
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
