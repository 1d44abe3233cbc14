//! Using the engine as a library: load a policy, evaluate calls, read the decision.
//! Run: `cargo run --example evaluate -- [POLICY.yaml]`

use rampart::engine::resolve::{ResolveOptions, Surface, resolve};
use rampart::engine::{ToolCall, compile};

fn main() -> anyhow::Result<()> {
    let config = std::env::args().nth(1).map(Into::into);
    let policy = compile(&resolve(&ResolveOptions::new(Surface::Offline, config))?);
    for call in [
        ToolCall::exec("git status"),
        ToolCall::exec("sudo rm -rf /"),
        ToolCall::path("read", "/home/me/.ssh/id_ed25519"),
        ToolCall::url("fetch", "https://webhook.site/x"),
    ] {
        let d = policy.evaluate(&call);
        let rule = d
            .winner
            .as_ref()
            .map(|w| format!("{} #{}", w.policy, w.rule_index + 1))
            .unwrap_or_else(|| "default".into());
        println!(
            "{:6} {:45} {} ({rule})",
            d.action,
            format!("{} {:?}", call.tool, call.params),
            d.message
        );
    }
    Ok(())
}
