//! `rampart init`: write a starter policy file from an embedded profile, or (with `--project`)
//! a starter project policy at `<git-root>/.rampart/policy.yaml`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::engine::{profiles, resolve};

/// The commented starter written by `rampart init --project`: deny and ask examples only.
pub const PROJECT_TEMPLATE: &str = include_str!("templates/project-policy.yaml");

/// Arguments of `rampart init`.
#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// Profile to start from.
    #[arg(long, default_value = "standard")]
    pub profile: String,
    /// Where to write it.
    #[arg(long, short = 'o', default_value = "rampart.yaml")]
    pub output: PathBuf,
    /// Write a starter project policy (deny/ask rules that can only tighten) to
    /// `<git-root>/.rampart/policy.yaml` instead.
    #[arg(long, conflicts_with_all = ["profile", "output"])]
    pub project: bool,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

/// Runs the command; returns the exit code.
pub fn run(a: InitArgs) -> anyhow::Result<i32> {
    if a.project {
        let cwd = std::env::current_dir().context("reading the current directory")?;
        let path = write_project_policy(&cwd, a.force)?;
        println!("wrote project policy {}", path.display());
        println!("it applies to agents working in this repository and can only tighten policy");
        println!("check it with: rampart policy lint {}", path.display());
        return Ok(0);
    }
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

/// Writes [`PROJECT_TEMPLATE`] to `<git-root of dir>/.rampart/policy.yaml` and returns the
/// path. Refuses outside a git repository, and refuses to replace an existing file (or
/// symlink) unless `force`; a forced write replaces the file without following a symlink.
pub fn write_project_policy(dir: &Path, force: bool) -> anyhow::Result<PathBuf> {
    let Some(root) = resolve::git_root(dir) else {
        bail!(
            "{} is not inside a git repository; run `rampart init --project` from a repository \
             (a project policy lives at <git-root>/.rampart/policy.yaml)",
            dir.display()
        );
    };
    let rdir = root.join(".rampart");
    match std::fs::symlink_metadata(&rdir) {
        Ok(m) if m.file_type().is_symlink() => {
            bail!(
                "{} is a symlink; refusing to write through it",
                rdir.display()
            )
        }
        Ok(m) if !m.is_dir() => bail!("{} exists and is not a directory", rdir.display()),
        Ok(_) => {}
        Err(_) => std::fs::create_dir_all(&rdir)
            .with_context(|| format!("creating {}", rdir.display()))?,
    }
    let path = rdir.join("policy.yaml");
    let exists = std::fs::symlink_metadata(&path).is_ok();
    if exists && !force {
        bail!(
            "{} already exists; pass --force to overwrite",
            path.display()
        );
    }
    if exists {
        let tmp = rdir.join(format!(".policy.yaml.tmp-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let written = create_new_with(&tmp, PROJECT_TEMPLATE)
            .and_then(|()| std::fs::rename(&tmp, &path).map_err(anyhow::Error::from));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.with_context(|| format!("writing {}", path.display()))?;
    } else {
        create_new_with(&path, PROJECT_TEMPLATE)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(path)
}

/// Creates `path` (failing if anything, including a symlink, is there) and writes `text`.
fn create_new_with(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::load;

    #[test]
    fn project_template_is_valid_and_only_tightens() {
        let f = load::parse_policy("template", PROJECT_TEMPLATE).expect("template parses");
        let policies = f.policies.unwrap_or_default();
        assert!(!policies.is_empty());
        for p in &policies {
            for r in p.rules.iter().flatten() {
                let a = r.action.as_ref().map(|a| a.0.to_ascii_lowercase());
                assert!(
                    matches!(a.as_deref(), Some("deny" | "ask" | "watch")),
                    "template rule action {a:?} could weaken policy"
                );
            }
        }
        assert!(f.default_action.is_none(), "the base policy's default wins");
    }
}
