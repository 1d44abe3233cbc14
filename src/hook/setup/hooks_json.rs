//! The shared engine for hosts whose hooks live in a JSON file: find Rampart's entries,
//! decide whether the file is already configured, strip and re-add them, and plan the write
//! or removal. Everything else in the file is kept as it was.

use std::path::PathBuf;

use super::command::is_rampart_hook;
use super::fsops::read_settings;
use super::json::{self, JStr, Json};
use super::{Action, Change, Host, Outcome, Plan, SetupError};

/// How an event's array holds handlers.
#[derive(Debug, Clone, Copy)]
pub(super) enum Layout {
    /// `[{"matcher": m, "hooks": [handler, …]}, …]`; Rampart adds one group with `matcher`.
    Grouped {
        /// The matcher of the group Rampart adds.
        matcher: &'static str,
    },
    /// `[handler, …]`.
    Flat,
}

/// A top-level key Rampart looks after.
#[derive(Debug, Clone)]
pub(super) enum Extra {
    /// Added (at the end) when absent; any existing value is kept. Dropped on remove only
    /// when it still holds this exact value.
    AddIfAbsent(Json),
    /// Must hold this value; added at the front when absent; another value is refused
    /// unless `--force`.
    Require(Json),
}

/// One host's JSON hook file.
#[derive(Debug, Clone)]
pub(super) struct Spec {
    /// The host.
    pub host: Host,
    /// The file.
    pub path: PathBuf,
    /// The top-level key holding the events object (`hooks`, or Antigravity's group name).
    pub container: &'static str,
    /// Members set inside the container (at its front), e.g. `"enabled": true`.
    pub container_extras: Vec<(&'static str, Json)>,
    /// The events Rampart hooks.
    pub events: &'static [&'static str],
    /// How events hold handlers.
    pub layout: Layout,
    /// The handler object Rampart adds to each event.
    pub entry: Json,
    /// Handler keys whose string value may be a Rampart command.
    pub command_keys: &'static [&'static str],
    /// The exact command strings this binary writes (always treated as Rampart's).
    pub current: Vec<String>,
    /// Whether a bare `rampart hook` counts as Rampart's (Claude Code's historical form).
    pub bare_hook_ok: bool,
    /// Top-level keys Rampart looks after.
    pub extras: Vec<(&'static str, Extra)>,
}

/// A parsed file and how it was read.
pub(super) struct Loaded {
    /// The bytes read (None: no file).
    pub original: Option<Vec<u8>>,
    /// The document (an object); `None` when the file is not valid JSON or not an object.
    pub doc: Option<Json>,
    /// Why the file could not be used, when it could not.
    pub problem: Option<String>,
}

/// Reads and parses `path`; whitespace-only or missing files are an empty object.
pub(super) fn load(path: &std::path::Path) -> Result<Loaded, SetupError> {
    let original = read_settings(path)?;
    let Some(bytes) = &original else {
        return Ok(Loaded {
            original,
            doc: Some(Json::Object(Vec::new())),
            problem: None,
        });
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Loaded {
            original,
            doc: Some(Json::Object(Vec::new())),
            problem: None,
        });
    }
    let (doc, problem) = match json::parse(bytes) {
        Ok(v @ Json::Object(_)) => (Some(v), None),
        Ok(_) => (None, Some("the top level is not a JSON object".to_string())),
        Err(e) => (None, Some(format!("not valid JSON: {e}"))),
    };
    Ok(Loaded {
        original,
        doc,
        problem,
    })
}

impl Spec {
    fn owns(&self, handler: &Json) -> bool {
        self.command_keys.iter().any(|k| {
            handler.get(k).and_then(Json::as_str).is_some_and(|c| {
                self.current.iter().any(|cur| cur == c.trim())
                    || is_rampart_hook(c, self.host.name(), self.bare_hook_ok)
            })
        })
    }

    /// Removes Rampart's handlers from every event and drops the groups this emptied; with
    /// `prune`, also the events and container this emptied (on install they stay where they
    /// are, to be refilled). Returns the count per event.
    pub fn strip(&self, doc: &mut Json, prune: bool) -> Vec<(&'static str, usize)> {
        let mut counts = Vec::new();
        let Some(container) = doc.get_mut(self.container) else {
            return counts;
        };
        let mut dropped_event = false;
        for &event in self.events {
            let Some(arr) = container.get_mut(event).and_then(Json::as_array_mut) else {
                continue;
            };
            let mut removed = 0;
            match self.layout {
                Layout::Flat => arr.retain(|h| {
                    let ours = self.owns(h);
                    removed += usize::from(ours);
                    !ours
                }),
                Layout::Grouped { .. } => arr.retain_mut(|group| {
                    let Some(handlers) = group.get_mut("hooks").and_then(Json::as_array_mut) else {
                        return true;
                    };
                    let before = handlers.len();
                    handlers.retain(|h| !self.owns(h));
                    let r = before - handlers.len();
                    removed += r;
                    !(r > 0 && handlers.is_empty())
                }),
            }
            if removed > 0 {
                if prune && arr.is_empty() {
                    container.remove(event);
                    dropped_event = true;
                }
                counts.push((event, removed));
            }
        }
        let only_extras = container.as_object().is_some_and(|m| {
            m.iter()
                .all(|(k, _)| self.container_extras.iter().any(|(e, _)| *e == k.as_str()))
        });
        if dropped_event && only_extras {
            doc.remove(self.container);
        }
        counts
    }

    /// Whether every event holds exactly one Rampart handler, equal to the one this binary
    /// writes (in a group with the right matcher), and the extras are in place.
    pub fn is_configured(&self, doc: &Json) -> bool {
        let extras_ok = self.extras.iter().all(|(k, e)| match (e, doc.get(k)) {
            (Extra::AddIfAbsent(_), v) => v.is_some(),
            (Extra::Require(want), Some(v)) => v.same_as(want),
            (Extra::Require(_), None) => false,
        });
        let Some(container) = doc.get(self.container) else {
            return false;
        };
        let container_ok = self
            .container_extras
            .iter()
            .all(|(k, want)| container.get(k).is_some_and(|v| v.same_as(want)));
        extras_ok
            && container_ok
            && self.events.iter().all(|event| {
                let Some(arr) = container.get(event).and_then(Json::as_array) else {
                    return false;
                };
                let mut ours = Vec::new();
                for item in arr {
                    match self.layout {
                        Layout::Flat => {
                            if self.owns(item) {
                                ours.push((item, true));
                            }
                        }
                        Layout::Grouped { matcher } => {
                            let good_group =
                                item.get("matcher").and_then(Json::as_str) == Some(matcher);
                            for h in item
                                .get("hooks")
                                .and_then(Json::as_array)
                                .into_iter()
                                .flatten()
                            {
                                if self.owns(h) {
                                    ours.push((h, good_group));
                                }
                            }
                        }
                    }
                }
                matches!(ours.as_slice(), [(h, true)] if h.same_as(&self.entry))
            })
    }

    /// Checks (or with `force`, repairs) the types Rampart edits: the container must be an
    /// object, each event an array, each required extra its value.
    fn check_types(&self, doc: &mut Json, force: bool) -> Result<bool, SetupError> {
        let mut repaired = false;
        let problem = |what: String, repaired: &mut bool| {
            if force {
                *repaired = true;
                Ok(())
            } else {
                Err(SetupError::Unexpected {
                    path: self.path.clone(),
                    what,
                })
            }
        };
        for (k, e) in &self.extras {
            if let (Extra::Require(want), Some(v)) = (e, doc.get(k))
                && !v.same_as(want)
            {
                problem(
                    format!("\"{k}\" is {} (Rampart writes {})", short(v), short(want)),
                    &mut repaired,
                )?;
                doc.set(k, want.clone(), true);
            }
        }
        match doc.get(self.container) {
            Some(Json::Object(_)) | None => {}
            Some(v) => {
                problem(
                    format!("\"{}\" is {}, not an object", self.container, short(v)),
                    &mut repaired,
                )?;
                doc.set(self.container, Json::Object(Vec::new()), false);
            }
        }
        if let Some(container) = doc.get_mut(self.container) {
            for &event in self.events {
                match container.get(event) {
                    Some(Json::Array(_)) | None => {}
                    Some(v) => {
                        problem(
                            format!(
                                "\"{}\".\"{event}\" is {}, not an array",
                                self.container,
                                short(v)
                            ),
                            &mut repaired,
                        )?;
                        container.set(event, Json::Array(Vec::new()), false);
                    }
                }
            }
        }
        Ok(repaired)
    }

    /// Adds Rampart's handler to every event (after [`Spec::strip`]) and sets the extras.
    fn add(&self, doc: &mut Json) {
        for (k, e) in &self.extras {
            match e {
                Extra::Require(v) => doc.set(k, v.clone(), true),
                Extra::AddIfAbsent(v) => {
                    if doc.get(k).is_none() {
                        doc.set(k, v.clone(), false);
                    }
                }
            }
        }
        if doc.get(self.container).is_none() {
            doc.set(self.container, Json::Object(Vec::new()), false);
        }
        let Some(container) = doc.get_mut(self.container) else {
            return;
        };
        for (k, v) in self.container_extras.iter().rev() {
            container.set(k, v.clone(), true);
        }
        for &event in self.events {
            if container.get(event).is_none() {
                container.set(event, Json::Array(Vec::new()), false);
            }
            let item = match self.layout {
                Layout::Flat => self.entry.clone(),
                Layout::Grouped { matcher } => Json::object([
                    ("matcher", Json::str(matcher)),
                    ("hooks", Json::Array(vec![self.entry.clone()])),
                ]),
            };
            if let Some(arr) = container.get_mut(event).and_then(Json::as_array_mut) {
                arr.push(item);
            }
        }
    }

    /// Drops extras that still hold Rampart's own value (used on remove).
    fn drop_own_extras(&self, doc: &mut Json) {
        for (k, e) in &self.extras {
            if let Extra::AddIfAbsent(v) = e
                && doc.get(k).is_some_and(|x| x.same_as(v))
            {
                doc.remove(k);
            }
        }
    }

    /// Whether nothing but Rampart's own extras is left, so the file can go.
    fn is_empty_equivalent(&self, doc: &Json) -> bool {
        doc.as_object().is_some_and(|m| {
            m.iter().all(|(k, v)| {
                self.extras.iter().any(|(name, e)| {
                    *name == k.as_str()
                        && match e {
                            Extra::Require(w) | Extra::AddIfAbsent(w) => v.same_as(w),
                        }
                })
            })
        })
    }

    /// Whether the file holds anything that is not Rampart's (so a backup is worth keeping).
    fn has_foreign_content(&self, doc: &Json) -> bool {
        let mut rest = doc.clone();
        self.strip(&mut rest, true);
        self.drop_own_extras(&mut rest);
        !self.is_empty_equivalent(&rest)
    }

    /// Plans installing Rampart's hooks into this file.
    pub fn plan_install(&self, force: bool, mode: u32) -> Result<Plan, SetupError> {
        let loaded = load(&self.path)?;
        let mut plan = Plan {
            host: self.host,
            action: Action::Install,
            outcome: Outcome::Changes,
            changes: Vec::new(),
            lines: Vec::new(),
            notes: Vec::new(),
        };
        let (mut doc, backup) = match (loaded.doc, loaded.problem) {
            (Some(doc), _) => {
                let foreign = loaded.original.is_some() && self.has_foreign_content(&doc);
                (doc, foreign)
            }
            (None, problem) => {
                let detail = problem.unwrap_or_default();
                if !force {
                    return Err(SetupError::InvalidJson {
                        path: self.path.clone(),
                        detail,
                    });
                }
                plan.lines.push(format!(
                    "  The previous file could not be used ({detail}); replaced it (--force)."
                ));
                (Json::Object(Vec::new()), true)
            }
        };
        if self.check_types(&mut doc, force)? {
            plan.lines.push(
                "  Replaced values of the wrong type in the hook settings (--force).".to_string(),
            );
        }
        if plan.lines.is_empty() && self.is_configured(&doc) {
            plan.outcome = Outcome::AlreadyConfigured;
            plan.lines.push(format!(
                "✓ Rampart hook already configured in {}",
                self.path.display()
            ));
            return Ok(plan);
        }
        let counts = self.strip(&mut doc, false);
        self.add(&mut doc);
        let mut lines = vec![format!(
            "✓ Rampart hook installed in {}",
            self.path.display()
        )];
        let replaced: usize = counts.iter().map(|(_, n)| n).sum();
        if replaced > 0 {
            lines.push(format!(
                "  Replaced {replaced} earlier Rampart hook entr{}.",
                if replaced == 1 { "y" } else { "ies" }
            ));
        }
        lines.append(&mut plan.lines);
        plan.lines = lines;
        plan.changes.push(Change::Write {
            path: self.path.clone(),
            bytes: doc.to_pretty().into_bytes(),
            mode,
            original: loaded.original,
            backup,
        });
        Ok(plan)
    }

    /// Plans removing Rampart's hooks from this file.
    pub fn plan_remove(&self, mode: u32) -> Result<Plan, SetupError> {
        let loaded = load(&self.path)?;
        let mut plan = Plan {
            host: self.host,
            action: Action::Remove,
            outcome: Outcome::NothingToRemove,
            changes: Vec::new(),
            lines: Vec::new(),
            notes: Vec::new(),
        };
        let Some(original) = loaded.original else {
            plan.lines.push(format!(
                "No {} found; nothing to remove.",
                self.path.display()
            ));
            return Ok(plan);
        };
        let Some(mut doc) = loaded.doc else {
            return Err(SetupError::InvalidJsonOnRemove {
                path: self.path.clone(),
                detail: loaded.problem.unwrap_or_default(),
            });
        };
        let counts = self.strip(&mut doc, true);
        let total: usize = counts.iter().map(|(_, n)| n).sum();
        if total == 0 {
            plan.lines.push(format!(
                "No Rampart hooks found in {}; nothing to remove.",
                self.path.display()
            ));
            return Ok(plan);
        }
        self.drop_own_extras(&mut doc);
        plan.outcome = Outcome::Changes;
        for (event, n) in &counts {
            plan.lines.push(format!("  {event}: removed {n}"));
        }
        if self.is_empty_equivalent(&doc) {
            plan.lines.push(format!(
                "✓ Removed {total} Rampart hook(s) from {} (the file held nothing else, so it was deleted)",
                self.path.display()
            ));
            plan.changes.push(Change::Delete {
                path: self.path.clone(),
                original,
                backup: false,
            });
        } else {
            plan.lines.push(format!(
                "✓ Removed {total} Rampart hook(s) from {}",
                self.path.display()
            ));
            plan.changes.push(Change::Write {
                path: self.path.clone(),
                bytes: doc.to_pretty().into_bytes(),
                mode,
                original: Some(original),
                backup: true,
            });
        }
        Ok(plan)
    }

    /// Plans `action`.
    pub fn plan(&self, action: Action, force: bool) -> Result<Plan, SetupError> {
        match action {
            Action::Install => self.plan_install(force, 0o600),
            Action::Remove => self.plan_remove(0o600),
        }
    }
}

/// A short description of a value for error messages.
fn short(v: &Json) -> String {
    match v {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.clone(),
        Json::String(s) => format!("the string {:?}", truncate(s)),
        Json::Array(_) => "an array".into(),
        Json::Object(_) => "an object".into(),
    }
}

fn truncate(s: &JStr) -> String {
    let t = s.as_str();
    match t.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}
