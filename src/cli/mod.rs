//! Implementations of the CLI commands; `main.rs` only dispatches here.

pub mod api_client;
pub mod bench_cmd;
pub mod client_cmd;
pub mod init_cmd;
pub(crate) mod owner_file;
pub mod policy_cmd;
pub mod policy_flags;
pub mod preload_cmd;
mod proc_identity;
pub mod report_cmd;
pub mod serve_cmd;
pub mod serve_process;
pub mod serve_service;
pub mod status_cmd;
pub mod test_cmd;
pub mod token_cmd;
pub mod watch_cmd;

use std::path::PathBuf;

use anyhow::Context;

use crate::engine::CompiledPolicySet;
use crate::engine::compile::compile_owned;
use crate::engine::resolve::{self, ResolveOptions, Surface};

/// Resolves and compiles policy for an offline command (explicit file alone, else embedded
/// standard plus `~/.rampart/policies`).
pub fn offline_policy(config: Option<PathBuf>) -> anyhow::Result<CompiledPolicySet> {
    let set = resolve::resolve(&ResolveOptions::new(Surface::Offline, config))
        .context("loading policy")?;
    Ok(compile_owned(set))
}

/// Leaves `value` to process exit instead of dropping it. A one-shot command (`rampart test`
/// with one call, an agent hook) that is about to exit skips freeing its compiled policy, which
/// is hundreds of allocations (≈ 0.3 M instructions, tens of µs); the operating system takes the
/// memory back anyway. Only for values that own nothing but memory: no buffered writer to flush,
/// no lock file or child process to clean up.
pub fn drop_at_exit<T>(value: T) {
    std::mem::forget(value);
}

/// An error and its causes on one line, `outer: cause: …`, leaving out a cause whose text the
/// line already holds (errors that print their source, like `path: No such file…`, would
/// otherwise repeat it).
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::error_text;

    #[test]
    fn causes_already_in_the_message_are_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let load = crate::engine::LoadError::Io {
            path: "p.yaml".into(),
            source: io,
        };
        let e = anyhow::Error::new(load).context("loading policy");
        assert_eq!(error_text(&e), "loading policy: p.yaml: No such file");
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_text(&e), "outer: inner");
    }
}
