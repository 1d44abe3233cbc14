//! The one policy resolver every command uses (spec/engine.md §11, with the reference's
//! inconsistencies removed):
//!
//! * an explicit `--config FILE` is the base (plus an explicit `--config-dir`);
//! * otherwise `serve` uses `./rampart.yaml` when present (its documented default), and every
//!   surface falls back to the embedded `standard` profile, with `~/.rampart/policies/*.yaml`
//!   layered on top (an on-disk policy replaces the embedded one of the same name);
//! * agent surfaces (hook, mcp, wrap, preload) never read `./rampart.yaml` — a repository
//!   cannot choose its own base policy — but load `<git-root>/.rampart/policy.yaml` as a
//!   project policy that can only tighten, unless `RAMPART_NO_PROJECT_POLICY` is set.

use std::path::{Path, PathBuf};

use super::load::{self, LoadError, MergeRule, PolicySet};
use super::profiles;

/// Which command is asking for policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `rampart serve` (long-lived server).
    Serve,
    /// Agent front ends: hook, mcp, wrap, preload.
    Agent,
    /// Offline tools: test, policy explain/lint, bench.
    Offline,
}

/// Inputs of [`resolve`].
#[derive(Debug, Clone)]
pub struct ResolveOptions {
    /// Explicit `--config` file.
    pub config: Option<PathBuf>,
    /// Explicit `--config-dir`.
    pub config_dir: Option<PathBuf>,
    /// The asking surface.
    pub surface: Surface,
    /// Directory whose git root may hold a project policy (agent surfaces).
    pub project_dir: Option<PathBuf>,
    /// Home directory (for `~/.rampart/policies`).
    pub home: Option<PathBuf>,
}

impl ResolveOptions {
    /// Options for `surface` with an optional explicit config, home from `$HOME`.
    pub fn new(surface: Surface, config: Option<PathBuf>) -> Self {
        ResolveOptions {
            config,
            config_dir: None,
            surface,
            project_dir: None,
            home: home_dir(),
        }
    }
}

/// `$HOME`, if set.
pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// The user policy directory, `~/.rampart/policies`.
pub fn user_policy_dir(home: Option<&Path>) -> Option<PathBuf> {
    home.map(|h| h.join(".rampart").join("policies"))
}

/// Loads an embedded profile by name.
pub fn embedded(name: &str) -> Result<PolicySet, LoadError> {
    let text = profiles::get(name).ok_or_else(|| LoadError::Invalid {
        path: format!("embedded:{name}"),
        message: format!("no embedded profile named {name:?}"),
    })?;
    load::load_embedded(name, text, profiles::prebuilt(name))
}

/// The git root at or above `dir`.
pub fn git_root(dir: &Path) -> Option<PathBuf> {
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.join(".git").exists() {
            return Some(d.to_path_buf());
        }
        cur = d.parent();
    }
    None
}

/// Resolves the policy set for a surface.
pub fn resolve(opts: &ResolveOptions) -> Result<PolicySet, LoadError> {
    let home_dir = user_policy_dir(opts.home.as_deref());
    let mut set = match &opts.config {
        Some(file) => {
            let mut set = load::load_file(file)?;
            if let Some(dir) = &opts.config_dir {
                merge_dir(&mut set, dir, MergeRule::ExistingWins)?;
            }
            set
        }
        None => {
            let local = Path::new("rampart.yaml");
            if opts.surface == Surface::Serve && local.is_file() {
                let mut set = load::load_file(local)?;
                if let Some(dir) = opts.config_dir.as_ref().or(home_dir.as_ref()) {
                    merge_dir(&mut set, dir, MergeRule::ExistingWins)?;
                }
                set
            } else {
                let mut set = embedded(profiles::DEFAULT_PROFILE)?;
                if let Some(dir) = opts.config_dir.as_ref().or(home_dir.as_ref()) {
                    merge_dir(&mut set, dir, MergeRule::IncomingReplaces)?;
                }
                set
            }
        }
    };
    if opts.surface == Surface::Agent
        && !project_disabled()
        && let Some(root) = opts.project_dir.as_deref().and_then(git_root)
    {
        let p = root.join(".rampart").join("policy.yaml");
        if p.is_file() {
            load::add_project(&mut set, &p)?;
        }
    }
    Ok(set)
}

fn merge_dir(set: &mut PolicySet, dir: &Path, rule: MergeRule) -> Result<(), LoadError> {
    let d = load::load_dir(dir)?;
    // The directory's default only applies when the base has none.
    load::merge_into(set, d, rule);
    Ok(())
}

/// Whether `RAMPART_NO_PROJECT_POLICY` disables project policies.
pub fn project_disabled() -> bool {
    std::env::var_os("RAMPART_NO_PROJECT_POLICY").is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_standard_loads() {
        let set = embedded("standard").expect("embedded standard");
        assert!(!set.policies.is_empty());
    }

    #[test]
    fn home_dir_replaces_embedded_names_and_project_tightens() {
        let tmp = std::env::temp_dir().join(format!("rampart-resolve-{}", std::process::id()));
        let pol = tmp.join("home/.rampart/policies");
        std::fs::create_dir_all(&pol).unwrap();
        std::fs::write(
            pol.join("extra.yaml"),
            "policies:\n  - name: extra\n    rules:\n      - action: watch\n        when: {command_matches: ['ls']}\n",
        )
        .unwrap();
        let repo = tmp.join("repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::create_dir_all(repo.join(".rampart")).unwrap();
        std::fs::write(
            repo.join(".rampart/policy.yaml"),
            "policies:\n  - name: proj\n    rules:\n      - action: deny\n        when: {command_matches: ['make deploy']}\n",
        )
        .unwrap();
        let opts = ResolveOptions {
            config: None,
            config_dir: None,
            surface: Surface::Agent,
            project_dir: Some(repo.join("sub")),
            home: Some(tmp.join("home")),
        };
        let set = resolve(&opts).unwrap();
        let names: Vec<_> = set
            .policies
            .iter()
            .map(|p| p.policy.name.as_ref().unwrap().0.clone())
            .collect();
        assert!(names.contains(&"extra".to_string()));
        let proj = set
            .policies
            .iter()
            .find(|p| p.policy.name.as_ref().unwrap().0 == "proj");
        assert!(proj.is_some_and(|p| p.origin.project));
        let offline = resolve(&ResolveOptions {
            surface: Surface::Offline,
            ..opts
        })
        .unwrap();
        assert!(!offline.policies.iter().any(|p| p.origin.project));
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
