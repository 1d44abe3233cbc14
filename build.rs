//! Pre-decodes the embedded policy profiles (`policies/*.yaml`) at build time.
//!
//! Each profile is decoded strictly with the same schema and YAML decoder the engine uses at
//! run time, and written back as JSON, which the engine decodes about ten times faster than
//! YAML (spec/engine.md §16: loading the embedded profile is on every one-shot hook's path).
//! A profile that does not decode here gets no JSON, and the engine then reads its YAML as
//! before (reporting the same error). `profiles::tests` checks both readings agree.

use std::fmt::Write as _;
use std::path::Path;

#[allow(dead_code)]
#[path = "src/engine/model.rs"]
mod model;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/engine/model.rs");
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
        let Ok(decoded) = serde_saphyr::from_str::<model::PolicyFile>(&text) else {
            continue;
        };
        let json = serde_json::to_string(&decoded).expect("profile as JSON");
        let dest = Path::new(&out).join(format!("{name}.json"));
        std::fs::write(&dest, json).expect("write profile JSON");
        writeln!(
            table,
            "    ({name:?}, include_str!({:?})),",
            dest.display().to_string()
        )
        .expect("write");
    }
    table.push(']');
    std::fs::write(Path::new(&out).join("profiles_json.rs"), table).expect("write table");
}
