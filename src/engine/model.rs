//! The policy file schema (spec/engine.md §2), as it is written in YAML.
//!
//! Decoding is strict: every struct rejects unknown keys. Validation of values (actions,
//! limits, regexes) happens in [`super::load`], compilation in [`super::compile()`].

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A scalar written as string, number or bool, kept as its text (`version: 1` or `"1"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Text, E> {
                Ok(Text(String::new()))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A typed boolean as Go's YAML decoder reads one: `true`/`false` in any of their three
/// spellings and, because the field is a boolean, the YAML 1.1 words `yes`/`no`, `on`/`off`,
/// `y`/`n`. Policy files are decoded with YAML 1.2 booleans (so `yes` in a text field stays the
/// word `yes`); only typed boolean fields accept the 1.1 words. `null` is absent.
fn yaml_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = Option<bool>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a boolean (true/false, yes/no, on/off)")
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Option<bool>, E> {
            Ok(Some(v))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Option<bool>, E> {
            match v {
                "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y"
                | "Y" => Ok(Some(true)),
                "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n"
                | "N" => Ok(Some(false)),
                _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
            }
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Option<bool>, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Option<bool>, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// One string or a list of strings (`tool: exec` or `tool: [read, write]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(Text),
            Many(Vec<Text>),
        }
        Ok(match Option::<Raw>::deserialize(d)? {
            None => OneOrMany(Vec::new()),
            Some(Raw::One(t)) if t.0.is_empty() => OneOrMany(Vec::new()),
            Some(Raw::One(t)) => OneOrMany(vec![t.0]),
            Some(Raw::Many(v)) => OneOrMany(v.into_iter().map(|t| t.0).collect()),
        })
    }
}

impl Serialize for OneOrMany {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// A whole policy file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Schema version; only `"1"` (or blank) is accepted.
    pub version: Option<Text>,
    /// Action when no rule decides; blank means deny.
    pub default_action: Option<Text>,
    /// Notification settings (stored for the server).
    pub notify: Option<Notify>,
    /// The policies, in file order.
    #[serde(default)]
    pub policies: Option<Vec<Policy>>,
    /// Inline test cases (ignored by enforcement).
    pub tests: Option<Vec<TestCase>>,
}

/// The `notify:` block.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// Destination URL.
    pub url: Option<Text>,
    /// `auto`, `slack`, `discord`, `teams`, `openclaw` or `webhook`.
    pub platform: Option<Text>,
    /// Actions that trigger a notification.
    pub on: Option<OneOrMany>,
}

/// One policy: a scope and an ordered list of rules.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Unique name across the merged configuration.
    pub name: Option<Text>,
    /// Documentation only.
    pub description: Option<Text>,
    /// Lower runs first; absent means 100.
    pub priority: Option<i64>,
    /// Absent means enabled.
    #[serde(default, deserialize_with = "yaml_bool")]
    pub enabled: Option<bool>,
    /// Which calls the policy applies to.
    #[serde(rename = "match")]
    pub scope: Option<Scope>,
    /// Rules; the first that matches decides for the policy.
    pub rules: Option<Vec<Rule>>,
}

/// A policy's `match:` block.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Tool globs; empty means every tool.
    pub tool: Option<OneOrMany>,
    /// Agent glob; blank means `*`.
    pub agent: Option<Text>,
    /// Session glob; blank means `*`.
    pub session: Option<Text>,
}

/// One rule.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// `allow`, `deny`, `watch`, `log`, `ask` or `webhook`.
    pub action: Option<Text>,
    /// Conditions; absent matches every call in scope.
    pub when: Option<When>,
    /// Message shown with the decision.
    pub message: Option<Text>,
    /// Options for `ask`.
    pub ask: Option<AskBlock>,
    /// Configuration for `webhook`.
    pub webhook: Option<WebhookBlock>,
    /// RFC 3339 instant after which the rule is ignored.
    pub expires_at: Option<Text>,
    /// Single-use allow.
    #[serde(default, deserialize_with = "yaml_bool")]
    pub once: Option<bool>,
    /// Metadata only.
    pub added: Option<Text>,
}

/// `ask:` options.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AskBlock {
    /// Mirror the prompt to the serve approval queue.
    #[serde(default, deserialize_with = "yaml_bool")]
    pub audit: Option<bool>,
    /// Skip the host's native prompt.
    #[serde(default, deserialize_with = "yaml_bool")]
    pub headless_only: Option<bool>,
}

/// `webhook:` configuration.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookBlock {
    /// Endpoint that decides.
    pub url: Option<Text>,
    /// Go duration, default 5s, capped at 30s.
    pub timeout: Option<Text>,
    /// Allow when the endpoint fails.
    #[serde(default, deserialize_with = "yaml_bool")]
    pub fail_open: Option<bool>,
}

/// The 16 condition keys.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// Command globs.
    pub command_matches: Option<OneOrMany>,
    /// Command exclusions.
    pub command_not_matches: Option<OneOrMany>,
    /// Command substrings.
    pub command_contains: Option<OneOrMany>,
    /// Globs on names of variables the command assigns.
    pub command_env_assignments: Option<OneOrMany>,
    /// Path globs.
    pub path_matches: Option<OneOrMany>,
    /// Path exclusions.
    pub path_not_matches: Option<OneOrMany>,
    /// URL globs.
    pub url_matches: Option<OneOrMany>,
    /// Domain globs.
    pub domain_matches: Option<OneOrMany>,
    /// Session globs.
    pub session_matches: Option<OneOrMany>,
    /// Session exclusions.
    pub session_not_matches: Option<OneOrMany>,
    /// Sub-agent depth bounds.
    pub agent_depth: Option<DepthBounds>,
    /// Globs on `input[param]`, ORed.
    pub tool_param_matches: Option<BTreeMap<String, Text>>,
    /// Sliding-window call counter.
    pub call_count: Option<CallCount>,
    /// Regexes on the tool's output.
    pub response_matches: Option<OneOrMany>,
    /// Output exclusions.
    pub response_not_matches: Option<OneOrMany>,
    /// `true` matches every call in scope.
    #[serde(default, deserialize_with = "yaml_bool")]
    pub default: Option<bool>,
}

/// `agent_depth: {gte, lte, eq}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DepthBounds {
    /// Lower bound (inclusive).
    pub gte: Option<i64>,
    /// Upper bound (inclusive).
    pub lte: Option<i64>,
    /// Exact depth.
    pub eq: Option<i64>,
}

/// `call_count: {tool?, gte, window}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CallCount {
    /// Tool whose calls are counted; blank means the current call's tool.
    pub tool: Option<Text>,
    /// Threshold (0..=1000).
    pub gte: Option<i64>,
    /// Go duration, in (0, 720h].
    pub window: Option<Text>,
}

/// One test case (`rampart test` suites and inline `tests:`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// Name used in output and `--run` filters.
    pub name: Option<Text>,
    /// Tool class.
    pub tool: Option<Text>,
    /// Agent identity (default `test`).
    pub agent: Option<Text>,
    /// Session identity (our extension).
    pub session: Option<Text>,
    /// Working directory (our extension).
    pub workdir: Option<Text>,
    /// Sub-agent depth (our extension).
    pub agent_depth: Option<u32>,
    /// Tool parameters.
    pub params: Option<serde_json::Map<String, serde_json::Value>>,
    /// MCP-style input (our extension; defaults to nothing).
    pub input: Option<serde_json::Map<String, serde_json::Value>>,
    /// Expected action.
    pub expect: Option<Text>,
    /// Full-match glob on the decision message.
    pub expect_message: Option<Text>,
}

/// A test suite file (`rampart test suite.yaml`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteFile {
    /// Policy path, relative to the suite file.
    pub policy: Option<Text>,
    /// The cases.
    pub tests: Option<Vec<TestCase>>,
}

/// Every key the schema knows, for "did you mean" hints.
pub const KNOWN_KEYS: &[&str] = &[
    "version",
    "default_action",
    "notify",
    "policies",
    "tests",
    "url",
    "platform",
    "on",
    "name",
    "description",
    "priority",
    "enabled",
    "match",
    "rules",
    "tool",
    "agent",
    "session",
    "action",
    "when",
    "message",
    "ask",
    "webhook",
    "expires_at",
    "once",
    "added",
    "audit",
    "headless_only",
    "timeout",
    "fail_open",
    "command_matches",
    "command_not_matches",
    "command_contains",
    "command_env_assignments",
    "path_matches",
    "path_not_matches",
    "url_matches",
    "domain_matches",
    "session_matches",
    "session_not_matches",
    "agent_depth",
    "tool_param_matches",
    "call_count",
    "response_matches",
    "response_not_matches",
    "default",
    "gte",
    "lte",
    "eq",
    "window",
    "params",
    "input",
    "workdir",
    "expect",
    "expect_message",
    "policy",
];
