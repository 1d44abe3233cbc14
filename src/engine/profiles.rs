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

/// Embedded profiles decoded and validated at build time, in the engine's packed form (see
/// `build.rs` and [`super::packed`]), as (name, bytes). A profile missing here is read from its
/// YAML.
const PROFILES_PACKED: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/profiles_packed.rs"));

/// The YAML text of an embedded profile.
pub fn get(name: &str) -> Option<&'static str> {
    PROFILES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The build-time decoding of an embedded profile (already validated), packed.
pub fn prebuilt(name: &str) -> Option<&'static [u8]> {
    PROFILES_PACKED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| *b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::load::load_text;

    #[test]
    fn prebuilt_decodes_like_the_yaml() {
        for (name, text) in PROFILES {
            let bytes = prebuilt(name).unwrap_or_else(|| panic!("{name}: no prebuilt form"));
            let from_yaml = crate::engine::load::parse_policy(name, text).expect("yaml");
            let from_packed = crate::engine::packed::decode(bytes).expect("packed");
            assert_eq!(
                format!("{from_yaml:?}"),
                format!("{from_packed:?}"),
                "{name}: build-time decoding differs"
            );
            let a = load_text(name, text).expect("yaml load");
            let b = crate::engine::resolve::embedded(name).expect("embedded load");
            assert_eq!(
                format!("{a:?}"),
                format!("{b:?}"),
                "{name}: loaded sets differ"
            );
        }
    }

    #[test]
    fn every_profile_loads_strictly() {
        for (name, text) in PROFILES {
            let set = load_text(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!set.policies.is_empty(), "{name} has policies");
        }
    }
}
