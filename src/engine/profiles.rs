//! Policy profiles embedded in the binary at build time (`policies/*.yaml`).

/// Name of the profile used when no policy is configured.
pub const DEFAULT_PROFILE: &str = "standard";

/// Every embedded profile as (name, YAML text).
pub const PROFILES: &[(&str, &str)] = &[
    ("standard", include_str!("../../policies/standard.yaml")),
    ("paranoid", include_str!("../../policies/paranoid.yaml")),
    ("ci", include_str!("../../policies/ci.yaml")),
    ("yolo", include_str!("../../policies/yolo.yaml")),
    ("mcp-server", include_str!("../../policies/mcp-server.yaml")),
    (
        "research-agent",
        include_str!("../../policies/research-agent.yaml"),
    ),
];

/// The YAML text of an embedded profile.
pub fn get(name: &str) -> Option<&'static str> {
    PROFILES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::load::load_text;

    #[test]
    fn every_profile_loads_strictly() {
        for (name, text) in PROFILES {
            let set = load_text(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!set.policies.is_empty(), "{name} has policies");
        }
    }
}
