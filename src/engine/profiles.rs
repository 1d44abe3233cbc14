//! Policy profiles embedded in the binary at build time (`policies/*.yaml`).

/// Name of the profile used when no policy is configured.
pub const DEFAULT_PROFILE: &str = "standard";

/// Every embedded profile as (name, YAML text).
pub const PROFILES: &[(&str, &str)] = &[("standard", include_str!("../../policies/standard.yaml"))];

/// The YAML text of an embedded profile.
pub fn get(name: &str) -> Option<&'static str> {
    PROFILES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
