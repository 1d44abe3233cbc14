//! Commands that run other commands: option parsing for `sudo`, `env`, `xargs`, `find -exec`,
//! shells with `-c`, `ssh`, `docker exec` and friends.

use super::parser::is_name;
use super::{Assignment, Launcher, Origin};

/// What a launcher runs.
pub(super) enum Plan {
    /// An argument vector executed directly.
    Exec {
        argv: Vec<String>,
        dynamic: Vec<bool>,
        kind: Launcher,
        certain: bool,
        assignments: Vec<Assignment>,
    },
    /// A string parsed as a bash script.
    Shell {
        text: String,
        dynamic: bool,
        origin: Origin,
    },
}

/// Option grammar of one command, getopt style.
#[derive(Default)]
struct Opts {
    /// Short options taking an argument (`-u root`, `-uroot`).
    arg: &'static [u8],
    /// Short options whose argument, if any, is attached (`-i{}`).
    attached: &'static [u8],
    /// Short flags.
    flag: &'static [u8],
    /// Long options taking an argument (`--user root`, `--user=root`).
    long_arg: &'static [&'static str],
    /// Long flags.
    long_flag: &'static [&'static str],
}

/// Result of skipping options.
struct Scan<'a> {
    /// Index of the first operand.
    next: usize,
    certain: bool,
    /// Short letters seen, long names seen, with their values.
    seen: Vec<(&'a str, Option<&'a str>)>,
}

impl Scan<'_> {
    fn has(&self, name: &str) -> bool {
        self.seen.iter().any(|&(n, _)| n == name)
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.seen
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_deref())
    }
}

/// Skips the options of `argv` starting at `i`, stopping at the first operand or after `--`.
fn scan<'a>(argv: &'a [String], dynamic: &[bool], mut i: usize, o: &Opts) -> Scan<'a> {
    let mut certain = true;
    let mut seen = Vec::new();
    while i < argv.len() {
        let a = argv[i].as_str();
        if a == "--" {
            i += 1;
            break;
        }
        if a.len() < 2 || !a.starts_with('-') {
            break;
        }
        if dynamic.get(i).copied().unwrap_or(false) {
            certain = false;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            if o.long_arg.contains(&name) && value.is_none() {
                seen.push((name, argv.get(i + 1).map(String::as_str)));
                i += 2;
                continue;
            }
            if !o.long_arg.contains(&name) && !o.long_flag.contains(&name) {
                certain = false;
            }
            seen.push((name, value));
            i += 1;
            continue;
        }
        let b = a.as_bytes();
        let mut j = 1;
        let mut step = 1;
        while j < b.len() {
            let ch = b[j];
            if !ch.is_ascii() {
                certain = false;
                j += 1;
                continue;
            }
            let letter = &a[j..j + 1];
            if o.arg.contains(&ch) {
                let value = if j + 1 < b.len() {
                    Some(&a[j + 1..])
                } else {
                    step = 2;
                    argv.get(i + 1).map(String::as_str)
                };
                seen.push((letter, value));
                break;
            }
            if o.attached.contains(&ch) {
                seen.push((letter, (j + 1 < b.len()).then(|| &a[j + 1..])));
                break;
            }
            if !o.flag.contains(&ch) {
                certain = false;
            }
            seen.push((letter, None));
            j += 1;
        }
        i += step;
    }
    Scan {
        next: i.min(argv.len()),
        certain,
        seen,
    }
}

fn basename(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// `declare`-like builtins whose `NAME=(...)` arguments are array assignments.
pub(super) fn is_declaration(argv0: &str) -> bool {
    matches!(
        argv0,
        "declare" | "typeset" | "local" | "export" | "readonly"
    )
}

fn is_shell(name: &str) -> bool {
    matches!(
        name,
        "bash"
            | "sh"
            | "zsh"
            | "dash"
            | "ksh"
            | "ash"
            | "mksh"
            | "yash"
            | "rbash"
            | "posh"
            | "lksh"
    )
}

enum ShellMode {
    /// `-c`: the operand at this index is the script.
    Command(usize),
    /// `-c` without a string.
    Missing,
    /// Reads the script from standard input.
    Stdin,
    /// Runs a script file.
    Script,
}

fn shell_mode(argv: &[String]) -> ShellMode {
    let mut i = 1;
    let mut c = false;
    let mut s = false;
    while i < argv.len() {
        let a = argv[i].as_str();
        if a == "--" || a == "-" {
            i += 1;
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            i += if matches!(long, "rcfile" | "init-file") {
                2
            } else {
                1
            };
            continue;
        }
        if a.len() > 1 && (a.starts_with('-') || a.starts_with('+')) {
            let mut extra = 0;
            for ch in a[1..].bytes() {
                match ch {
                    b'c' if a.starts_with('-') => c = true,
                    b's' => s = true,
                    b'o' | b'O' => extra += 1,
                    _ => {}
                }
            }
            i += 1 + extra;
            continue;
        }
        break;
    }
    if c {
        if i < argv.len() {
            ShellMode::Command(i)
        } else {
            ShellMode::Missing
        }
    } else if s || i >= argv.len() {
        ShellMode::Stdin
    } else {
        ShellMode::Script
    }
}

/// Whether `argv` is a shell that reads its script from standard input (`bash`, `sh -s`).
pub(super) fn shell_reads_stdin(argv: &[String], dynamic: &[bool]) -> bool {
    !argv.is_empty()
        && !dynamic[0]
        && is_shell(basename(&argv[0]))
        && matches!(shell_mode(argv), ShellMode::Stdin)
}

fn exec(argv: &[String], dynamic: &[bool], i: usize, kind: Launcher, certain: bool) -> Vec<Plan> {
    if i >= argv.len() {
        return Vec::new();
    }
    // A dynamic word among the launcher's own arguments may hide options or operands.
    let certain = certain && !dynamic[1..i].iter().any(|&d| d);
    vec![Plan::Exec {
        argv: argv[i..].to_vec(),
        dynamic: dynamic[i..].to_vec(),
        kind,
        certain,
        assignments: Vec::new(),
    }]
}

/// Like [`exec`], moving leading `NAME=value` words into assignments.
fn exec_env(
    argv: &[String],
    dynamic: &[bool],
    mut i: usize,
    kind: Launcher,
    certain: bool,
) -> Vec<Plan> {
    let mut assignments = Vec::new();
    while i < argv.len() {
        match argv[i].split_once('=') {
            Some((name, value)) if is_name(name) => {
                assignments.push(Assignment {
                    name: name.to_string(),
                    value: value.to_string(),
                });
                i += 1;
            }
            _ => break,
        }
    }
    let mut plans = exec(argv, dynamic, i, kind, certain);
    if let Some(Plan::Exec { assignments: a, .. }) = plans.first_mut() {
        *a = assignments;
    }
    plans
}

fn shell(text: String, dynamic: bool, origin: Origin) -> Vec<Plan> {
    vec![Plan::Shell {
        text,
        dynamic,
        origin,
    }]
}

/// Joins `argv[i..]` with spaces as a script (`ssh host cmd args`, `eval a b`).
fn joined(argv: &[String], dynamic: &[bool], i: usize, origin: Origin) -> Vec<Plan> {
    if i >= argv.len() {
        return Vec::new();
    }
    shell(argv[i..].join(" "), dynamic[i..].iter().any(|&d| d), origin)
}

/// The commands started by `argv`, if it is a launcher.
pub(super) fn plan(argv: &[String], dynamic: &[bool]) -> Vec<Plan> {
    if argv.is_empty() || dynamic[0] {
        return Vec::new();
    }
    use Launcher::*;
    let name = basename(&argv[0]);
    match name {
        _ if is_shell(name) => match shell_mode(argv) {
            ShellMode::Command(i) => shell(argv[i].clone(), dynamic[i], Origin::ShellString),
            _ => Vec::new(),
        },
        "eval" => joined(argv, dynamic, 1, Origin::Eval),
        // `trap 'code' SIGNAL...`: the code runs later, in this shell.
        "trap" if argv.len() >= 3 && !argv[1].starts_with('-') => {
            shell(argv[1].clone(), dynamic[1], Origin::Launched(Indirect))
        }
        "sudo" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    arg: b"CDghpRrTtUu",
                    flag: b"AbEeHiKklnPSsVvB",
                    long_arg: &[
                        "user",
                        "group",
                        "chdir",
                        "chroot",
                        "close-from",
                        "prompt",
                        "role",
                        "type",
                        "other-user",
                        "host",
                        "command-timeout",
                    ],
                    long_flag: &[
                        "preserve-env",
                        "login",
                        "shell",
                        "non-interactive",
                        "stdin",
                        "background",
                        "preserve-groups",
                        "set-home",
                        "askpass",
                        "bell",
                        "reset-timestamp",
                    ],
                    ..Default::default()
                },
            );
            if s.has("e") || s.has("edit") || s.has("l") || s.has("list") {
                return Vec::new();
            }
            exec_env(argv, dynamic, s.next, Privilege, s.certain)
        }
        "doas" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    arg: b"uC",
                    flag: b"nsL",
                    ..Default::default()
                },
            );
            if s.has("C") {
                return Vec::new();
            }
            exec_env(argv, dynamic, s.next, Privilege, s.certain)
        }
        "pkexec" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    long_arg: &["user"],
                    long_flag: &["keep-cwd", "disable-internal-agent"],
                    ..Default::default()
                },
            );
            exec(argv, dynamic, s.next, Privilege, s.certain)
        }
        "su" | "runuser" => su(argv, dynamic),
        "gosu" | "su-exec" => exec(argv, dynamic, 2, Privilege, true),
        "env" => env(argv, dynamic),
        "nice" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    arg: b"n",
                    flag: b"0123456789",
                    long_arg: &["adjustment"],
                    ..Default::default()
                },
            );
            exec(argv, dynamic, s.next, Transparent, s.certain)
        }
        "nohup" | "builtin" | "unbuffer" | "caffeinate" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    flag: b"p",
                    ..Default::default()
                },
            );
            exec(argv, dynamic, s.next, Transparent, s.certain)
        }
        "timeout" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    arg: b"sk",
                    flag: b"v",
                    long_arg: &["signal", "kill-after"],
                    long_flag: &["preserve-status", "foreground", "verbose"],
                    ..Default::default()
                },
            );
            exec(argv, dynamic, s.next + 1, Transparent, s.certain)
        }
        "stdbuf" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    arg: b"ioe",
                    long_arg: &["input", "output", "error"],
                    ..Default::default()
                },
            );
            exec(argv, dynamic, s.next, Transparent, s.certain)
        }
        "setsid" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    flag: b"cfw",
                    long_flag: &["ctty", "fork", "wait"],
                    ..Default::default()
                },
            );
            exec(argv, dynamic, s.next, Transparent, s.certain)
        }
        "command" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    flag: b"pvV",
                    ..Default::default()
                },
            );
            if s.has("v") || s.has("V") {
                return Vec::new();
            }
            exec(argv, dynamic, s.next, Transparent, s.certain)
        }
        "exec" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    arg: b"a",
                    flag: b"cl",
                    ..Default::default()
                },
            );
            exec(argv, dynamic, s.next, Transparent, s.certain)
        }
        "time" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    arg: b"fo",
                    flag: b"apqv",
                    long_arg: &["format", "output"],
                    long_flag: &["append", "portability", "verbose", "quiet"],
                    ..Default::default()
                },
            );
            exec(argv, dynamic, s.next, Transparent, s.certain)
        }
        "ionice" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    arg: b"cnpPu",
                    flag: b"t",
                    long_arg: &["class", "classdata", "pid", "pgid", "uid"],
                    long_flag: &["ignore"],
                    ..Default::default()
                },
            );
            if ["p", "P", "u", "pid", "pgid", "uid"]
                .iter()
                .any(|o| s.has(o))
            {
                return Vec::new();
            }
            exec(argv, dynamic, s.next, Transparent, s.certain)
        }
        "chrt" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    arg: b"TPD",
                    flag: b"abdefimorRv",
                    attached: b"",
                    ..Default::default()
                },
            );
            if s.has("p") || s.has("m") || s.has("pid") {
                return Vec::new();
            }
            exec(
                argv,
                dynamic,
                s.next + 1,
                Transparent,
                s.certain && argv.get(1).is_some(),
            )
        }
        "taskset" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    flag: b"acp",
                    long_flag: &["all-tasks", "cpu-list", "pid"],
                    ..Default::default()
                },
            );
            if s.has("p") || s.has("pid") {
                return Vec::new();
            }
            exec(argv, dynamic, s.next + 1, Transparent, s.certain)
        }
        "xargs" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    arg: b"nLPsIEda",
                    attached: b"iel",
                    flag: b"0rtpxo",
                    long_arg: &[
                        "max-args",
                        "max-procs",
                        "max-chars",
                        "delimiter",
                        "arg-file",
                        "process-slot-var",
                    ],
                    long_flag: &[
                        "null",
                        "no-run-if-empty",
                        "verbose",
                        "interactive",
                        "exit",
                        "open-tty",
                        "show-limits",
                        "replace",
                        "eof",
                        "max-lines",
                    ],
                },
            );
            exec(argv, dynamic, s.next, Indirect, s.certain)
        }
        "find" => find(argv, dynamic),
        "parallel" => parallel(argv, dynamic),
        "watch" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    arg: b"nq",
                    attached: b"d",
                    flag: b"bcCefghprstvwx",
                    long_arg: &["interval"],
                    long_flag: &[
                        "beep",
                        "color",
                        "no-color",
                        "differences",
                        "errexit",
                        "chgexit",
                        "exec",
                        "no-title",
                        "precise",
                        "no-wrap",
                        "no-rerun",
                    ],
                },
            );
            if s.has("x") || s.has("exec") {
                exec(argv, dynamic, s.next, Indirect, s.certain)
            } else {
                joined(argv, dynamic, s.next, Origin::Launched(Indirect))
            }
        }
        "flock" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    arg: b"wEc",
                    flag: b"sxenuoFv",
                    long_arg: &["timeout", "conflict-exit-code", "command"],
                    long_flag: &[
                        "shared",
                        "exclusive",
                        "nonblock",
                        "nb",
                        "unlock",
                        "close",
                        "no-fork",
                        "verbose",
                    ],
                    ..Default::default()
                },
            );
            let mut i = s.next + 1;
            let after = scan(
                argv,
                dynamic,
                i,
                &Opts {
                    arg: b"c",
                    long_arg: &["command"],
                    ..Default::default()
                },
            );
            if let Some(cmd) = s
                .value("c")
                .or(s.value("command"))
                .or(after.value("c"))
                .or(after.value("command"))
            {
                let dynamic = argv.iter().zip(dynamic).any(|(a, &d)| d && a == cmd);
                return shell(cmd.to_string(), dynamic, Origin::Launched(Indirect));
            }
            if argv.get(i).is_some_and(|a| a == "--") {
                i += 1;
            }
            exec(argv, dynamic, i, Indirect, s.certain)
        }
        "strace" | "ltrace" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    arg: b"abeEIoOpPsSuXUAnL",
                    flag: b"cCdDfFhiknqrtTvVwxyzZ",
                    ..Default::default()
                },
            );
            exec(argv, dynamic, s.next, Indirect, s.certain)
        }
        "script" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    arg: b"cEIOBTmo",
                    attached: b"t",
                    flag: b"aefqhV",
                    long_arg: &[
                        "command",
                        "echo",
                        "log-in",
                        "log-out",
                        "log-io",
                        "log-timing",
                        "logging-format",
                        "output-limit",
                    ],
                    long_flag: &["append", "return", "flush", "force", "quiet"],
                },
            );
            match s.value("c").or(s.value("command")) {
                Some(cmd) => {
                    let d = argv.iter().zip(dynamic).any(|(a, &d)| d && a == cmd);
                    shell(cmd.to_string(), d, Origin::Launched(Indirect))
                }
                None => Vec::new(),
            }
        }
        "ssh" => {
            let o = Opts {
                arg: b"BbcDEeFIiJLlmOopQRSWw",
                flag: b"46AaCfGgKkMNnqsTtVvXxYy",
                ..Default::default()
            };
            let s = scan(argv, dynamic, 1, &o);
            let after = scan(argv, dynamic, s.next + 1, &o);
            if s.has("N") || after.has("N") || s.has("s") || after.has("s") {
                return Vec::new();
            }
            joined(argv, dynamic, after.next, Origin::Launched(Remote))
        }
        "docker" | "podman" | "nerdctl" => container(argv, dynamic),
        "kubectl" | "oc" => kubectl(argv, dynamic),
        "chroot" => {
            let s = scan(
                argv,
                dynamic,
                1,
                &Opts {
                    long_arg: &["userspec", "groups"],
                    long_flag: &["skip-chdir"],
                    ..Default::default()
                },
            );
            exec(argv, dynamic, s.next + 1, Remote, s.certain)
        }
        "busybox" | "toybox" => {
            if argv.get(1).is_some_and(|a| a.starts_with('-')) {
                return Vec::new();
            }
            exec(argv, dynamic, 1, Multicall, true)
        }
        _ => Vec::new(),
    }
}

fn su(argv: &[String], dynamic: &[bool]) -> Vec<Plan> {
    let o = Opts {
        arg: b"cgGswu",
        flag: b"lmpfP",
        long_arg: &[
            "command",
            "session-command",
            "group",
            "supp-group",
            "shell",
            "whitelist-environment",
            "user",
        ],
        long_flag: &["login", "preserve-environment", "pty", "fast"],
        ..Default::default()
    };
    // Options may follow the user name (GNU getopt permutes arguments).
    let mut i = 1;
    let mut certain = true;
    let mut user_opt = false;
    let mut first_operand = None;
    while i < argv.len() {
        let a = argv[i].as_str();
        if a == "--" {
            first_operand.get_or_insert(i + 1);
            break;
        }
        if a == "-" || !a.starts_with('-') {
            if a != "-" {
                first_operand.get_or_insert(i);
                if user_opt {
                    break;
                }
            }
            i += 1;
            continue;
        }
        let s = scan(argv, dynamic, i, &o);
        certain &= s.certain;
        if let Some(cmd) = s
            .value("c")
            .or(s.value("command"))
            .or(s.value("session-command"))
        {
            let d = argv.iter().zip(dynamic).any(|(a, &d)| d && a == cmd);
            return shell(cmd.to_string(), d, Origin::Launched(Launcher::Privilege));
        }
        user_opt |= s.has("u") || s.has("user");
        if s.next > i && argv[s.next - 1] == "--" {
            first_operand.get_or_insert(s.next);
            break;
        }
        i = s.next.max(i + 1);
    }
    // `runuser -u USER -- cmd args`
    match first_operand {
        Some(start) if user_opt => exec(argv, dynamic, start, Launcher::Privilege, certain),
        _ => Vec::new(),
    }
}

fn env(argv: &[String], dynamic: &[bool]) -> Vec<Plan> {
    let mut args: Vec<(String, bool)> = argv
        .iter()
        .cloned()
        .zip(dynamic.iter().copied())
        .skip(1)
        .collect();
    let mut assignments = Vec::new();
    let mut certain = true;
    let mut i = 0;
    let mut splits = 0;
    while i < args.len() {
        let (a, d) = (&args[i].0, args[i].1);
        if d && a.starts_with('-') {
            certain = false;
        }
        let split_value = if let Some(v) = a.strip_prefix("--split-string=") {
            Some((v.to_string(), 1))
        } else if a == "-S" || a == "--split-string" {
            args.get(i + 1).map(|(v, _)| (v.clone(), 2))
        } else {
            a.strip_prefix("-S").map(|v| (v.to_string(), 1))
        };
        if let Some((value, used)) = split_value {
            splits += 1;
            if splits > 8 {
                break;
            }
            let words: Vec<(String, bool)> = split_string(&value)
                .into_iter()
                .map(|w| (w, false))
                .collect();
            let end = (i + used).min(args.len());
            args.splice(i..end, words);
            continue;
        }
        match a.as_str() {
            "-" | "-i" | "-0" | "-v" | "--ignore-environment" | "--null" | "--debug" => i += 1,
            "-u" | "-C" | "--unset" | "--chdir" => i += 2,
            "--" => {
                i += 1;
                break;
            }
            _ if a.starts_with("--unset=") || a.starts_with("--chdir=") => i += 1,
            _ if a.starts_with("-u") || a.starts_with("-C") => i += 1,
            _ if a.starts_with('-') && a.len() > 1 => {
                certain = false;
                i += 1;
            }
            _ => match a.split_once('=') {
                Some((name, value)) if !name.is_empty() => {
                    assignments.push(Assignment {
                        name: name.to_string(),
                        value: value.to_string(),
                    });
                    i += 1;
                }
                _ => break,
            },
        }
    }
    if i >= args.len() {
        return Vec::new();
    }
    let (argv, dynamic): (Vec<String>, Vec<bool>) = args.drain(i..).unzip();
    vec![Plan::Exec {
        argv,
        dynamic,
        kind: Launcher::Transparent,
        certain,
        assignments,
    }]
}

/// Splits an `env -S` string: blanks separate words, quotes and backslashes as in the shell.
fn split_string(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => cur.extend(chars.next()),
                        _ => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.extend(chars.next());
            }
            _ => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

fn find(argv: &[String], dynamic: &[bool]) -> Vec<Plan> {
    let mut plans = Vec::new();
    let mut i = 1;
    while i < argv.len() {
        if matches!(argv[i].as_str(), "-exec" | "-execdir" | "-ok" | "-okdir") {
            let start = i + 1;
            let mut j = start;
            let mut terminated = false;
            while j < argv.len() {
                let a = argv[j].as_str();
                if a == ";" || (a == "+" && j > start && argv[j - 1] == "{}") {
                    terminated = true;
                    break;
                }
                j += 1;
            }
            if j > start {
                plans.push(Plan::Exec {
                    argv: argv[start..j].to_vec(),
                    dynamic: dynamic[start..j].to_vec(),
                    kind: Launcher::Indirect,
                    certain: terminated,
                    assignments: Vec::new(),
                });
            }
            i = j + 1;
        } else {
            i += 1;
        }
    }
    plans
}

fn parallel(argv: &[String], dynamic: &[bool]) -> Vec<Plan> {
    let s = scan(
        argv,
        dynamic,
        1,
        &Opts {
            arg: b"jSanNILE",
            flag: b"kXmquv0rt",
            long_arg: &[
                "jobs", "halt", "delay", "joblog", "colsep", "block", "results", "timeout",
                "retries", "sshlogin", "arg-file", "max-args", "tmpdir", "workdir",
            ],
            long_flag: &[
                "eta",
                "bar",
                "progress",
                "null",
                "tag",
                "dry-run",
                "pipe",
                "line-buffer",
                "keep-order",
                "group",
                "ungroup",
            ],
            ..Default::default()
        },
    );
    let end = argv[s.next..]
        .iter()
        .position(|a| a.starts_with(":::"))
        .map_or(argv.len(), |p| s.next + p);
    if end <= s.next {
        return Vec::new();
    }
    if end == s.next + 1 && argv[s.next].contains([' ', ';', '|', '&']) {
        return shell(
            argv[s.next].clone(),
            dynamic[s.next],
            Origin::Launched(Launcher::Indirect),
        );
    }
    vec![Plan::Exec {
        argv: argv[s.next..end].to_vec(),
        dynamic: dynamic[s.next..end].to_vec(),
        kind: Launcher::Indirect,
        certain: s.certain,
        assignments: Vec::new(),
    }]
}

fn container(argv: &[String], dynamic: &[bool]) -> Vec<Plan> {
    let global = scan(
        argv,
        dynamic,
        1,
        &Opts {
            arg: b"cHl",
            flag: b"Dv",
            long_arg: &[
                "config",
                "context",
                "host",
                "log-level",
                "tlscacert",
                "tlscert",
                "tlskey",
            ],
            long_flag: &["debug", "tls", "tlsverify"],
            ..Default::default()
        },
    );
    let mut i = global.next;
    if argv.get(i).is_some_and(|a| a == "container") {
        i += 1;
    }
    match argv.get(i).map(String::as_str) {
        Some("exec") => {
            let s = scan(
                argv,
                dynamic,
                i + 1,
                &Opts {
                    arg: b"euw",
                    flag: b"dit",
                    long_arg: &["env", "env-file", "user", "workdir", "detach-keys"],
                    long_flag: &["detach", "interactive", "tty", "privileged"],
                    ..Default::default()
                },
            );
            exec(
                argv,
                dynamic,
                s.next + 1,
                Launcher::Remote,
                s.certain && global.certain,
            )
        }
        Some("run") => {
            let s = scan(
                argv,
                dynamic,
                i + 1,
                &Opts {
                    arg: b"aevpuwhlmc",
                    flag: b"diPtq",
                    long_arg: &[
                        "name",
                        "network",
                        "volume",
                        "mount",
                        "env",
                        "env-file",
                        "entrypoint",
                        "publish",
                        "user",
                        "workdir",
                        "hostname",
                        "label",
                        "memory",
                        "cpus",
                        "platform",
                        "restart",
                        "add-host",
                        "device",
                        "cap-add",
                        "cap-drop",
                        "security-opt",
                        "ulimit",
                        "log-driver",
                        "log-opt",
                        "pull",
                        "shm-size",
                        "gpus",
                        "ipc",
                        "pid",
                        "dns",
                        "tmpfs",
                        "stop-signal",
                        "expose",
                        "label-file",
                        "cidfile",
                        "runtime",
                        "userns",
                        "group-add",
                        "volumes-from",
                        "link",
                        "network-alias",
                        "ip",
                        "mac-address",
                        "cgroupns",
                        "uts",
                        "attach",
                        "cpu-shares",
                        "memory-swap",
                    ],
                    long_flag: &[
                        "rm",
                        "detach",
                        "interactive",
                        "tty",
                        "privileged",
                        "init",
                        "read-only",
                        "quiet",
                        "no-healthcheck",
                    ],
                    ..Default::default()
                },
            );
            exec(
                argv,
                dynamic,
                s.next + 1,
                Launcher::Remote,
                s.certain && global.certain,
            )
        }
        _ => Vec::new(),
    }
}

fn kubectl(argv: &[String], dynamic: &[bool]) -> Vec<Plan> {
    let Some(e) = argv.iter().position(|a| a == "exec") else {
        return Vec::new();
    };
    if let Some(dd) = argv[e..].iter().position(|a| a == "--") {
        return exec(argv, dynamic, e + dd + 1, Launcher::Remote, true);
    }
    // Deprecated `kubectl exec POD CMD`: best guess.
    let s = scan(
        argv,
        dynamic,
        e + 1,
        &Opts {
            arg: b"cnf",
            flag: b"itq",
            long_arg: &[
                "container",
                "namespace",
                "context",
                "kubeconfig",
                "filename",
            ],
            long_flag: &["stdin", "tty", "quiet"],
            ..Default::default()
        },
    );
    exec(argv, dynamic, s.next + 1, Launcher::Remote, false)
}
