//! Who is calling: the audit session (`<repo>/<branch>`), run id and agent depth, read from the
//! environment and the repository's `.git` files (no `git` process is started).

use std::path::{Path, PathBuf};

/// The git work-tree root at or above `dir` and the file holding its `HEAD`.
fn git_head(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let mut cur = Some(dir);
    while let Some(d) = cur {
        let dot = d.join(".git");
        if dot.is_dir() {
            return Some((d.to_path_buf(), dot.join("HEAD")));
        }
        if dot.is_file() {
            // Linked work trees and submodules: `gitdir: <path>`.
            let text = std::fs::read_to_string(&dot).ok()?;
            let gd = text.trim().strip_prefix("gitdir:")?.trim();
            let gd = if Path::new(gd).is_absolute() {
                PathBuf::from(gd)
            } else {
                d.join(gd)
            };
            return Some((d.to_path_buf(), gd.join("HEAD")));
        }
        cur = d.parent();
    }
    None
}

/// `<repo-basename>/<branch>` for a directory inside a git work tree (`detached` when HEAD is
/// not on a branch); `None` outside git.
pub fn git_session(dir: &Path) -> Option<String> {
    let (root, head) = git_head(dir)?;
    let name = root.file_name()?.to_string_lossy().into_owned();
    let text = std::fs::read_to_string(head).ok()?;
    let branch = match text.trim().strip_prefix("ref:") {
        Some(r) => r
            .trim()
            .strip_prefix("refs/heads/")
            .unwrap_or(r.trim())
            .to_string(),
        None => "detached".to_string(),
    };
    Some(format!("{name}/{branch}"))
}

/// The audit session: `RAMPART_SESSION`, else the git session of `workdir`, else empty.
pub fn session(workdir: Option<&str>) -> String {
    if let Some(s) = std::env::var("RAMPART_SESSION")
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        return s;
    }
    workdir
        .map(Path::new)
        .filter(|p| p.is_absolute())
        .and_then(git_session)
        .unwrap_or_default()
}

/// The run id: `RAMPART_RUN`, else the host's session id, else `CLAUDE_CONVERSATION_ID`.
pub fn run_id(host_session: Option<&str>) -> Option<String> {
    let env = |k: &str| std::env::var(k).ok().filter(|s| !s.trim().is_empty());
    env("RAMPART_RUN")
        .or_else(|| host_session.map(str::to_string))
        .or_else(|| env("CLAUDE_CONVERSATION_ID"))
}

/// `RAMPART_AGENT_DEPTH` (0 when unset or invalid), plus one for a sub-agent spawn.
pub fn agent_depth(tool: &str) -> u32 {
    let base = std::env::var("RAMPART_AGENT_DEPTH")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(0);
    if tool == "agent" {
        base.saturating_add(1)
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_branch_and_detached_head() {
        let t = tempfile::tempdir().expect("tempdir");
        let repo = t.path().join("proj");
        std::fs::create_dir_all(repo.join(".git")).expect("mkdir");
        std::fs::create_dir_all(repo.join("src/deep")).expect("mkdir");
        std::fs::write(repo.join(".git/HEAD"), "ref: refs/heads/feature/x\n").expect("write");
        assert_eq!(
            git_session(&repo.join("src/deep")).as_deref(),
            Some("proj/feature/x")
        );
        std::fs::write(repo.join(".git/HEAD"), "0123abcd\n").expect("write");
        assert_eq!(git_session(&repo).as_deref(), Some("proj/detached"));
    }

    #[test]
    fn linked_worktree() {
        let t = tempfile::tempdir().expect("tempdir");
        let gd = t.path().join("main/.git/worktrees/wt");
        std::fs::create_dir_all(&gd).expect("mkdir");
        std::fs::write(gd.join("HEAD"), "ref: refs/heads/topic\n").expect("write");
        let wt = t.path().join("wt");
        std::fs::create_dir_all(&wt).expect("mkdir");
        std::fs::write(wt.join(".git"), format!("gitdir: {}\n", gd.display())).expect("write");
        assert_eq!(git_session(&wt).as_deref(), Some("wt/topic"));
    }
}
