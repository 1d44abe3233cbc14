//! `rampart init`: write a starter policy file from an embedded profile.

use std::path::PathBuf;

use anyhow::bail;

use crate::engine::profiles;

/// Arguments of `rampart init`.
#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// Profile to start from.
    #[arg(long, default_value = "standard")]
    pub profile: String,
    /// Where to write it.
    #[arg(long, short = 'o', default_value = "rampart.yaml")]
    pub output: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

/// Runs the command; returns the exit code.
pub fn run(a: InitArgs) -> anyhow::Result<i32> {
    let Some(text) = profiles::get(&a.profile) else {
        let names: Vec<&str> = profiles::PROFILES.iter().map(|(n, _)| *n).collect();
        bail!(
            "unknown profile {:?} (available: {})",
            a.profile,
            names.join(", ")
        );
    };
    if a.output.exists() && !a.force {
        bail!(
            "{} already exists; pass --force to overwrite",
            a.output.display()
        );
    }
    std::fs::write(&a.output, text)?;
    println!(
        "wrote {} from the {} profile",
        a.output.display(),
        a.profile
    );
    println!("check it with: rampart policy lint {}", a.output.display());
    Ok(0)
}
