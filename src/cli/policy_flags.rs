//! The policy-source flags every agent front end takes (`hook`, `mcp`, `mcp scan`, `wrap`,
//! `preload`): one definition, so their names, help and meaning cannot drift apart.

use std::path::PathBuf;

use crate::engine::resolve::{ResolveOptions, Surface};

/// `--config` and `--config-dir`, resolved for an agent front end.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PolicyFlags {
    /// Policy file (default: the embedded standard profile plus ~/.rampart/policies).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Policy directory layered on the base policy (default ~/.rampart/policies).
    #[arg(long)]
    pub config_dir: Option<PathBuf>,
}

impl PolicyFlags {
    /// Resolver options for a front end running in the agent's working directory: no
    /// `./rampart.yaml` as the primary policy; `project_dir`'s project policy may only tighten.
    pub fn agent_options(
        &self,
        project_dir: Option<PathBuf>,
        home: Option<PathBuf>,
    ) -> ResolveOptions {
        ResolveOptions {
            config: self.config.clone(),
            config_dir: self.config_dir.clone(),
            surface: Surface::Agent,
            project_dir,
            home,
        }
    }
}
