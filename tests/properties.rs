//! Property tests: wrapping a denied command never makes it allowed, glob and parser never
//! panic, literal patterns match exactly themselves, a policy whose patterns are compiled on
//! first use decides like one compiled up front.

use proptest::prelude::*;
use rampart::engine::glob::{CommandGlob, PathGlob};
use rampart::engine::resolve::embedded;
use rampart::engine::{Action, CompiledPolicySet, ToolCall, compile, shell};
use std::sync::OnceLock;

fn standard() -> &'static CompiledPolicySet {
    static S: OnceLock<CompiledPolicySet> = OnceLock::new();
    S.get_or_init(|| compile(&embedded("standard").expect("embedded standard")))
}

/// The standard profile with every pattern compiled up front.
fn prepared() -> &'static CompiledPolicySet {
    static S: OnceLock<CompiledPolicySet> = OnceLock::new();
    S.get_or_init(|| {
        let p = compile(&embedded("standard").expect("embedded standard"));
        p.prepare();
        p
    })
}

/// Fragments of benign and dangerous calls, upper-cased and Windows-style ones included.
const WORDS: &[&str] = &[
    "rm",
    "-rf",
    "/",
    "git",
    "push",
    "--force",
    "status",
    "curl",
    "https://pastebin.com/x",
    "|",
    "bash",
    "sudo",
    "cat",
    "~/.ssh/id_rsa",
    "/etc/shadow",
    ".env",
    "&&",
    "npm",
    "install",
    "chmod",
    "777",
    "eval",
    "$(curl x)",
    "RM",
    "DD",
    "if=/dev/zero",
    "of=/dev/sda",
    "python3",
    "-c",
    "base64",
    "nc",
    "-e",
    "/bin/sh",
    "webhook.site",
    "AWS_SECRET_ACCESS_KEY=x",
    "export",
    "kubectl",
    "delete",
    "terraform",
    "destroy",
    "reset",
    "--hard",
    "C:\\Windows\\System32",
    "mkfs.ext4",
    "/dev/sda1",
    ";",
    ">",
    "/etc/passwd",
    "history",
    "crontab",
    "-r",
    "ls",
    "-la",
    "~/.aws/credentials",
    "src/main.rs",
    "'a b'",
    "\"x\"",
    "*",
    "?",
    "[ab]",
];

/// Single-quotes `s` for the shell, so nesting keeps the meaning.
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn wrap(kind: u8, inner: &str) -> String {
    match kind % 9 {
        0 => format!("bash -c {}", sq(inner)),
        1 => format!("sudo {inner}"),
        2 => format!("env FOO=1 {inner}"),
        3 => format!("timeout 5 {inner}"),
        4 => format!("echo $({inner})"),
        5 => format!("ls | {inner}"),
        6 => format!("nohup {inner} &"),
        7 => format!("sh -ec {}", sq(inner)),
        _ => format!("xargs -0 {inner}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn wrapping_a_denied_command_never_allows(
        target in prop::sample::select(vec!["/", "/etc", "~", "/usr/lib"]),
        layers in prop::collection::vec(any::<u8>(), 1..4),
    ) {
        let mut cmd = format!("rm -rf {target}");
        for k in layers {
            cmd = wrap(k, &cmd);
        }
        let d = standard().evaluate(&ToolCall::exec(&cmd));
        prop_assert!(d.action.is_restrictive(), "{cmd:?} -> {} ({})", d.action, d.message);
    }

    #[test]
    fn literal_patterns_match_only_themselves(s in "[a-z0-9 ./-]{1,40}", t in "[a-z0-9 ./-]{1,40}") {
        let g = CommandGlob::new(&s);
        prop_assert!(g.matches(&s));
        prop_assert_eq!(g.matches(&t), s == t);
    }

    #[test]
    fn matchers_and_parser_never_panic(p in "\\PC{0,60}", v in "\\PC{0,120}") {
        let _ = CommandGlob::new(&p).matches(&v);
        let _ = PathGlob::new(&p).matches(&v);
        let _ = shell::analyze(&v);
        let d = standard().evaluate(&ToolCall::exec(&v));
        prop_assert!(matches!(d.action, Action::Allow | Action::Watch | Action::Ask | Action::Deny | Action::Webhook));
    }

    #[test]
    fn lazily_compiled_patterns_decide_like_prepared_ones(
        calls in prop::collection::vec(
            (0u8..4, prop::collection::vec(prop::sample::select(WORDS), 1..6)),
            1..4,
        ),
    ) {
        // A fresh policy per case: its patterns compile as these calls reach them.
        let lazy = compile(&embedded("standard").expect("embedded standard"));
        for (tool, words) in calls {
            let call = match tool {
                0 | 1 => ToolCall::exec(&words.join(" ")),
                2 => ToolCall::path("read", &words.join("/")),
                _ => ToolCall::url("fetch", &format!("https://{}", words.join("/"))),
            };
            let (a, b) = (lazy.evaluate(&call), prepared().evaluate(&call));
            prop_assert_eq!(
                format!("{:?}", (a.action, &a.message, &a.matched_policies, &a.winner)),
                format!("{:?}", (b.action, &b.message, &b.matched_policies, &b.winner)),
                "{:?}", call
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Parser round trip: words quoted for the shell and joined parse back to exactly those
    /// words — one command, quote removal undone, nothing marked dynamic — whatever they hold
    /// (blanks, quotes, `$`, backticks, globs, operators, newlines, unicode).
    #[test]
    fn quoted_words_parse_back_to_themselves(
        words in proptest::collection::vec("[ -~\t\néß☃]{0,12}", 0..6)
    ) {
        let mut argv = vec!["printf".to_string()];
        argv.extend(words);
        let line = argv
            .iter()
            .map(|w| rampart::hook::setup::command::sh_quote(w))
            .collect::<Vec<_>>()
            .join(" ");
        let a = shell::analyze(&line);
        prop_assert!(a.parsed, "{line:?}: {:?}", a.error);
        prop_assert_eq!(a.commands.len(), 1, "{:?}", line);
        prop_assert_eq!(&a.commands[0].argv, &argv, "{:?}", line);
        prop_assert!(a.commands[0].dynamic.iter().all(|d| !d), "{:?}", line);
    }
}
