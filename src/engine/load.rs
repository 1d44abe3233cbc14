//! Reading policy files: strict YAML decoding, validation with the reference's error texts,
//! and the stores that merge files (spec/engine.md §2.7, §11.1).

use std::path::{Path, PathBuf};

use super::decision::Action;
use super::model::{KNOWN_KEYS, Notify, Policy, PolicyFile};
pub use super::validate::{
    MAX_RESPONSE_REGEX, parse_default_action, parse_rule_action, validate, validate_regex,
};

/// Largest policy file accepted.
pub const MAX_POLICY_BYTES: u64 = 1 << 20;

/// A policy file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// File path.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_POLICY_BYTES`].
    #[error("{path}: policy file is {size} bytes (max {MAX_POLICY_BYTES})")]
    TooLarge {
        /// File path.
        path: String,
        /// Its size.
        size: u64,
    },
    /// YAML syntax or schema error, with its location.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// File path.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, with a hint when one applies.
        message: String,
    },
    /// The file parsed but a value is invalid.
    #[error("{path}: {message}")]
    Invalid {
        /// File path.
        path: String,
        /// The validation error (`engine: policy "p": rule 0: ...`).
        message: String,
    },
}

/// Where a policy came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Absolute file path, or `embedded:<name>`.
    pub source: String,
    /// Loaded from a project `.rampart/policy.yaml` (may only tighten).
    pub project: bool,
}

impl Origin {
    /// Whether the file is a durable human-allow file (`user-overrides.yaml`, `auto-allowed.yaml`).
    pub fn is_durable(&self) -> bool {
        let base = self.source.rsplit(['/', '\\']).next().unwrap_or_default();
        base == "user-overrides.yaml" || base == "auto-allowed.yaml"
    }

    /// The file's base name, or `embedded:<name>`, for policy filters.
    pub fn filter_name(&self) -> &str {
        if self.source.starts_with("embedded:") {
            return &self.source;
        }
        self.source.rsplit(['/', '\\']).next().unwrap_or_default()
    }
}

/// One validated policy with its origin.
#[derive(Debug, Clone)]
pub struct SourcedPolicy {
    /// The policy as written.
    pub policy: Policy,
    /// Where it came from.
    pub origin: Origin,
}

/// A merged, validated configuration ready to compile.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// The effective default action (`None` = not set anywhere: deny).
    pub default_action: Option<Action>,
    /// The first `notify:` block found.
    pub notify: Option<Notify>,
    /// Policies in load order.
    pub policies: Vec<SourcedPolicy>,
    /// Files that contributed, in order.
    pub sources: Vec<String>,
    /// Non-fatal problems (skipped project duplicates, ...).
    pub warnings: Vec<String>,
}

/// Reads a policy file from disk with the size cap.
pub fn read_policy_text(path: &Path) -> Result<String, LoadError> {
    let p = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| LoadError::Io {
        path: p.clone(),
        source: e,
    })?;
    if meta.len() > MAX_POLICY_BYTES {
        return Err(LoadError::TooLarge {
            path: p,
            size: meta.len(),
        });
    }
    std::fs::read_to_string(path).map_err(|e| LoadError::Io { path: p, source: e })
}

/// Levenshtein distance, for "did you mean" hints.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest known key to `key`, if it is close enough to be a typo.
pub fn suggest_key(key: &str) -> Option<&'static str> {
    KNOWN_KEYS
        .iter()
        .map(|k| (distance(key, k), *k))
        .filter(|(d, k)| *d <= 3.max(k.len() / 4) && *d < key.len().max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Turns a decoder error into a located message with a hint.
fn syntax_error(path: &str, err: &serde_saphyr::Error) -> LoadError {
    let (line, column) = err
        .location()
        .map(|l| (l.line() as usize, l.column() as usize))
        .unwrap_or((0, 0));
    let full = err.to_string();
    let first = full.lines().next().unwrap_or_default();
    let mut message = first
        .trim_start_matches("error: ")
        .split_once(": ")
        .filter(|(loc, _)| loc.starts_with("line "))
        .map(|(_, m)| m.to_string())
        .unwrap_or_else(|| first.trim_start_matches("error: ").to_string());
    if message.contains("multiple YAML documents") {
        message = "policy must contain exactly one YAML document".to_string();
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or_default().to_string();
        message = match suggest_key(&key) {
            Some(hint) => format!("unknown field \"{key}\" (did you mean \"{hint}\"?)"),
            None => format!("unknown field \"{key}\""),
        };
    }
    LoadError::Syntax {
        path: path.to_string(),
        line,
        column,
        message,
    }
}

/// Decodes YAML text strictly (unknown keys, duplicate keys and extra documents are errors).
pub fn parse_strict<T: serde::de::DeserializeOwned>(
    label: &str,
    text: &str,
) -> Result<T, LoadError> {
    serde_saphyr::from_str_with_options(text, yaml_options()).map_err(|e| syntax_error(label, &e))
}

/// The YAML reading of policy files: YAML 1.2 booleans, so an unquoted `yes`, `no`, `on`, `off`,
/// `y` or `n` in a text field (a pattern, a name) stays that word, as Go's decoder keeps it;
/// typed boolean fields still accept the 1.1 words (`model::yaml_bool`).
pub fn yaml_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options
}

/// Parses and validates one policy document.
pub fn parse_policy(label: &str, text: &str) -> Result<PolicyFile, LoadError> {
    if text.len() as u64 > MAX_POLICY_BYTES {
        return Err(LoadError::TooLarge {
            path: label.to_string(),
            size: text.len() as u64,
        });
    }
    let file: PolicyFile = if text.trim().is_empty() {
        PolicyFile::default()
    } else {
        parse_strict(label, text)?
    };
    validate(&file).map_err(|message| LoadError::Invalid {
        path: label.to_string(),
        message,
    })?;
    Ok(file)
}

fn add_file(set: &mut PolicySet, file: PolicyFile, origin: Origin) {
    if set.default_action.is_none()
        && let Some(d) = &file.default_action
    {
        set.default_action = parse_default_action(&d.0).ok().flatten();
    }
    if set.notify.is_none() {
        set.notify = file.notify.clone();
    }
    set.sources.push(origin.source.clone());
    for p in file.policies.into_iter().flatten() {
        set.policies.push(SourcedPolicy {
            policy: p,
            origin: origin.clone(),
        });
    }
}

/// The name of a loaded policy (empty when it has none).
pub fn policy_name(p: &SourcedPolicy) -> &str {
    p.policy
        .name
        .as_ref()
        .map(|n| n.0.trim())
        .unwrap_or_default()
}

/// Parses `text` as one policy file from `source` into a fresh set.
fn load_one(source: String, text: &str) -> Result<PolicySet, LoadError> {
    let file = parse_policy(&source, text)?;
    Ok(set_of(source, file))
}

/// A fresh set holding one decoded, validated file.
fn set_of(source: String, file: PolicyFile) -> PolicySet {
    let mut set = PolicySet::default();
    add_file(
        &mut set,
        file,
        Origin {
            source,
            project: false,
        },
    );
    set
}

/// Loads one file (File store).
pub fn load_file(path: &Path) -> Result<PolicySet, LoadError> {
    let abs = absolute(path);
    let text = read_policy_text(&abs)?;
    load_one(abs.display().to_string(), &text)
}

/// Loads embedded YAML (Memory store).
pub fn load_text(name: &str, text: &str) -> Result<PolicySet, LoadError> {
    load_one(format!("embedded:{name}"), text)
}

/// Loads an embedded profile: its YAML `text`, or `prebuilt`, the same YAML decoded strictly
/// and validated at build time, in packed form (see `build.rs`); reading that needs no parsing
/// and no second validation. If the packed form does not decode, the YAML is read instead.
pub fn load_embedded(
    name: &str,
    text: &str,
    prebuilt: Option<&[u8]>,
) -> Result<PolicySet, LoadError> {
    let source = format!("embedded:{name}");
    if let Some(file) = prebuilt.and_then(super::packed::decode) {
        return Ok(set_of(source, file));
    }
    load_one(source, text)
}

/// Loads every `*.yaml`/`*.yml` file of a directory in sorted order (Dir store).
pub fn load_dir(dir: &Path) -> Result<PolicySet, LoadError> {
    let mut set = PolicySet::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(set),
        Err(e) => {
            return Err(LoadError::Io {
                path: dir.display().to_string(),
                source: e,
            });
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    for f in files {
        let one = load_file(&f)?;
        for p in &one.policies {
            let name = policy_name(p);
            let dup = set.policies.iter().any(|q| policy_name(q) == name);
            if dup && name != "block-self-modification" {
                return Err(LoadError::Invalid {
                    path: f.display().to_string(),
                    message: format!("engine: duplicate policy name {name:?}"),
                });
            }
        }
        merge_into(&mut set, one, MergeRule::KeepBoth);
    }
    Ok(set)
}

/// How two sets merge when names collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeRule {
    /// Keep both (already checked for duplicates).
    KeepBoth,
    /// The existing set wins collisions silently (Multi store: primary file first).
    ExistingWins,
    /// The incoming set replaces same-named policies (Mixed store: disk over embedded).
    IncomingReplaces,
}

/// Merges `other` into `set` (defaults and notify: first one set wins).
pub fn merge_into(set: &mut PolicySet, other: PolicySet, rule: MergeRule) {
    if set.default_action.is_none() {
        set.default_action = other.default_action;
    }
    if set.notify.is_none() {
        set.notify = other.notify;
    }
    set.sources.extend(other.sources);
    set.warnings.extend(other.warnings);
    for p in other.policies {
        let name = policy_name(&p).to_string();
        let existing = set.policies.iter().position(|q| policy_name(q) == name);
        match (rule, existing) {
            (MergeRule::ExistingWins, Some(_)) => {}
            (MergeRule::IncomingReplaces, Some(i)) => set.policies[i] = p,
            _ => set.policies.push(p),
        }
    }
}

/// Loads a project policy file on top of `base`: it may only tighten (spec §11.3).
pub fn add_project(base: &mut PolicySet, path: &Path) -> Result<(), LoadError> {
    let mut proj = load_file(path)?;
    for p in &proj.policies {
        for (i, r) in p.policy.rules.iter().flatten().enumerate() {
            let action = r.action.as_ref().map(|a| a.0.as_str()).unwrap_or("");
            if action.eq_ignore_ascii_case("webhook") {
                return Err(LoadError::Invalid {
                    path: path.display().to_string(),
                    message: format!(
                        "engine: project policy {:?} contains forbidden webhook action in policy {:?} rule {i}",
                        path.display().to_string(),
                        policy_name(p)
                    ),
                });
            }
        }
    }
    let mut kept = Vec::new();
    for mut p in proj.policies.drain(..) {
        let name = policy_name(&p).to_string();
        if base.policies.iter().any(|q| policy_name(q) == name) {
            base.warnings.push(format!(
                "project policy {name:?} in {} duplicates a global policy name; skipped",
                path.display()
            ));
            continue;
        }
        p.origin.project = true;
        kept.push(p);
    }
    base.sources.extend(proj.sources);
    base.policies.extend(kept);
    Ok(())
}

/// Makes a path absolute against the current directory (lexically).
pub fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        return p.to_path_buf();
    }
    match std::env::current_dir() {
        Ok(cwd) => cwd.join(p),
        Err(_) => p.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(yaml: &str) -> String {
        match parse_policy("p.yaml", yaml) {
            Ok(_) => String::from("OK"),
            Err(e) => e.to_string(),
        }
    }

    /// Text fields keep YAML 1.1 boolean words as words; typed booleans accept them.
    #[test]
    fn yes_and_no_are_words_in_text_and_booleans_in_flags() {
        let f = parse_policy(
            "p.yaml",
            "policies:\n  - name: no\n    enabled: yes\n    match: {tool: [on, exec]}\n    rules:\n      - action: deny\n        once: off\n        when: {command_matches: [yes, y, n], default: No}\n",
        )
        .expect("policy");
        let p = &f.policies.as_ref().expect("policies")[0];
        assert_eq!(p.name.as_ref().map(|t| t.0.as_str()), Some("no"));
        assert_eq!(p.enabled, Some(true));
        let tools = &p
            .scope
            .as_ref()
            .and_then(|s| s.tool.clone())
            .expect("tool")
            .0;
        assert_eq!(tools, &["on", "exec"]);
        let r = &p.rules.as_ref().expect("rules")[0];
        assert_eq!(r.once, Some(false));
        let w = r.when.as_ref().expect("when");
        assert_eq!(w.command_matches.as_ref().expect("cm").0, ["yes", "y", "n"]);
        assert_eq!(w.default, Some(false));
        let e = err("policies:\n  - name: a\n    enabled: maybe\n");
        assert!(e.contains("maybe"), "{e}");
    }

    #[test]
    fn unknown_keys_have_line_and_hint() {
        let e = err(
            "policies:\n  - name: a\n    rules:\n      - action: deny\n        when:\n          command_match: [x]\n",
        );
        assert!(e.starts_with("p.yaml:6:11:"), "{e}");
        assert!(e.contains("did you mean \"command_matches\""), "{e}");
        assert!(err("policiez: []\n").contains("did you mean \"policies\""));
        assert!(
            err("policies:\n  - name: a\n    match:\n      agentt: x\n")
                .contains("unknown field \"agentt\"")
        );
    }

    #[test]
    fn validation_texts() {
        assert!(err("version: \"2\"\n").contains("engine: unsupported policy version \"2\""));
        assert!(err("version: 1\n").eq("OK"));
        assert!(
            err("default_action: allwo\n").contains("engine: invalid default_action \"allwo\"")
        );
        assert!(err("default_action: ' LOG '\n").eq("OK"));
        assert!(
            err("policies:\n  - rules: []\n").contains("engine: policy at index 0 has no name")
        );
        assert!(
            err("policies:\n  - name: x\n  - name: x\n")
                .contains("engine: duplicate policy name \"x\"")
        );
        assert!(
            err("policies:\n  - name: p\n    rules:\n      - action: explode\n")
                .contains("engine: policy \"p\": rule 0: engine: unknown action \"explode\"")
        );
        assert!(
            err("policies:\n  - name: p\n    rules:\n      - action: require_approval\n")
                .contains("removed in v0.9.9")
        );
        assert!(
            err("policies:\n  - name: p\n    rules:\n      - action: webhook\n")
                .contains("webhook action requires webhook.url")
        );
        assert!(err("policies:\n  - name: p\n    rules:\n      - action: deny\n        when:\n          response_matches: ['(a+)+$']\n")
            .contains("nested quantifiers"));
        assert!(err("policies:\n  - name: p\n    rules:\n      - action: deny\n        when:\n          response_matches: ['(']\n")
            .contains("invalid response regex \"(\""));
        assert!(err("policies:\n  - name: p\n    rules:\n      - action: deny\n        when:\n          command_contains: ['  ']\n")
            .contains("command_contains pattern 0 must not be empty or whitespace-only"));
        assert!(err("policies:\n  - name: p\n    rules:\n      - action: deny\n        when:\n          call_count: {gte: 1001, window: 1h}\n")
            .contains("call_count.gte must be <= 1000"));
        assert!(err("policies:\n  - name: p\n    rules:\n      - action: deny\n        when:\n          call_count: {gte: 1}\n")
            .contains("call_count.window is required"));
        assert!(err("policies:\n  - name: p\n    rules:\n      - action: deny\n        when:\n          call_count: {gte: 1, window: 721h}\n")
            .contains("call_count.window must be <= 720h0m0s"));
        assert!(err("policies:\n  - name: p\n    rules:\n      - action: deny\n        when:\n          command_matches: ['**a**b**c']\n")
            .contains("has 3 ** occurrences (max 2)"));
        assert!(err("policies: []\n---\npolicies: []\n").contains("exactly one YAML document"));
    }

    #[test]
    fn alias_bomb_is_rejected() {
        let mut y = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..12 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("a{}", i - 1)
            };
            y.push_str(&format!("b{i}: &a{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        assert_ne!(err(&y), "OK");
    }
}
