//! Source lines of the parts of a policy file (top-level keys, policies, rules), so findings
//! about a valid file can point at `file:line` like decoder errors do.
//!
//! The text is decoded a second time into a lenient skeleton whose nodes carry their YAML
//! positions; anything the skeleton does not need is ignored, and a text that does not decode
//! simply has no known lines.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_saphyr::Spanned;

/// Where something sits in a policy file, for [`PolicyLines::line`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The file as a whole (line 1).
    File,
    /// The `default_action` key (else line 1).
    DefaultAction,
    /// The `policies` key (else line 1).
    Policies,
    /// Policy `i` (0-based).
    Policy(usize),
    /// A key of policy `i` (falls back to the policy's line).
    PolicyKey(usize, &'static str),
    /// Rule `j` of policy `i` (both 0-based).
    Rule(usize, usize),
}

/// 1-based lines of one policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyLine {
    /// The policy's name, if written as a scalar.
    pub name: Option<String>,
    /// The policy mapping's first line (the `- name:` line in block style).
    pub line: usize,
    /// The `priority` value's line.
    pub priority: Option<usize>,
    /// The `rules` value's line.
    pub rules_key: Option<usize>,
    /// Each rule mapping's first line (the `- action:` line in block style).
    pub rules: Vec<usize>,
}

/// 1-based lines of the parts of one policy file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyLines {
    /// The `default_action` value's line.
    pub default_action: Option<usize>,
    /// The line where the `policies` value starts (its first item in block style).
    pub policies_key: Option<usize>,
    /// Each policy, in file order.
    pub policies: Vec<PolicyLine>,
}

#[derive(Deserialize)]
struct SkelFile {
    default_action: Option<Spanned<IgnoredAny>>,
    policies: Option<Spanned<Vec<Spanned<SkelPolicy>>>>,
}

#[derive(Deserialize)]
struct SkelPolicy {
    name: Option<IgnoredOrName>,
    priority: Option<Spanned<IgnoredAny>>,
    rules: Option<Spanned<Vec<Spanned<IgnoredAny>>>>,
}

/// A policy name when it is a plain scalar; anything else is ignored.
struct IgnoredOrName(Option<String>);

impl<'de> Deserialize<'de> for IgnoredOrName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = super::model::Text::deserialize(d).ok();
        Ok(IgnoredOrName(t.map(|t| t.0)))
    }
}

fn line_of<T>(s: &Spanned<T>) -> Option<usize> {
    usize::try_from(s.referenced.line()).ok().filter(|l| *l > 0)
}

impl PolicyLines {
    /// Locates the parts of `text`; an undecodable text gives no lines.
    pub fn find(text: &str) -> PolicyLines {
        let Ok(f) = serde_saphyr::from_str::<SkelFile>(text) else {
            return PolicyLines::default();
        };
        let mut out = PolicyLines {
            default_action: f.default_action.as_ref().and_then(line_of),
            policies_key: f.policies.as_ref().and_then(line_of),
            policies: Vec::new(),
        };
        for p in f.policies.map(|p| p.value).unwrap_or_default() {
            let line = line_of(&p).unwrap_or(0);
            let v = p.value;
            out.policies.push(PolicyLine {
                name: v.name.and_then(|n| n.0),
                line,
                priority: v.priority.as_ref().and_then(line_of),
                rules_key: v.rules.as_ref().and_then(line_of),
                rules: v
                    .rules
                    .map(|r| r.value.iter().map(|r| line_of(r).unwrap_or(line)).collect())
                    .unwrap_or_default(),
            });
        }
        out
    }

    /// The 1-based line of `place`, falling back to the nearest enclosing part, then line 1.
    pub fn line(&self, place: &Place) -> usize {
        let policy = |i: usize| self.policies.get(i).map(|p| p.line).filter(|l| *l > 0);
        let found = match place {
            Place::File => return 1,
            Place::DefaultAction => self.default_action,
            Place::Policies => self.policies_key,
            Place::Policy(i) => policy(*i),
            Place::PolicyKey(i, key) => {
                let p = self.policies.get(*i);
                let k = match *key {
                    "priority" => p.and_then(|p| p.priority),
                    "rules" => p.and_then(|p| p.rules_key),
                    _ => None,
                };
                k.or_else(|| policy(*i))
            }
            Place::Rule(i, j) => self
                .policies
                .get(*i)
                .and_then(|p| p.rules.get(*j).copied())
                .or_else(|| policy(*i)),
        };
        found.or(self.policies_key).unwrap_or(1)
    }

    /// The index of the first policy named `name`.
    pub fn policy_index(&self, name: &str) -> Option<usize> {
        self.policies
            .iter()
            .position(|p| p.name.as_deref() == Some(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# header\nversion: \"1\"\ndefault_action: allow\n\npolicies:\n  - name: first\n    priority: 0\n    rules:\n      # a comment\n      - action: deny\n        when: {default: true}\n      - when:\n          command_matches: [ls]\n        action: log\n  - rules: [{action: allow}]\n    name: \"second\"\n";

    #[test]
    fn finds_policies_rules_and_keys() {
        let l = PolicyLines::find(TEXT);
        assert_eq!(l.default_action, Some(3));
        assert_eq!(l.line(&Place::Policy(0)), 6);
        assert_eq!(l.line(&Place::PolicyKey(0, "priority")), 7);
        assert_eq!(l.line(&Place::Rule(0, 0)), 10);
        assert_eq!(l.line(&Place::Rule(0, 1)), 12);
        assert_eq!(l.line(&Place::Policy(1)), 15);
        assert_eq!(l.line(&Place::Rule(1, 0)), 15);
        assert_eq!(l.policy_index("second"), Some(1));
        assert_eq!(l.line(&Place::File), 1);
        assert_eq!(l.line(&Place::Policies), 6);
    }

    #[test]
    fn undecodable_text_falls_back_to_line_one() {
        let l = PolicyLines::find("policies: [unclosed");
        assert_eq!(l.line(&Place::Rule(3, 4)), 1);
    }
}
