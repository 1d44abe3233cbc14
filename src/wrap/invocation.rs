//! How a shell was invoked: sh/bash/dash/zsh command-line syntax, parsed the way those shells
//! read it, so the shim judges exactly the command the real shell is about to run.
//!
//! Options come first: long options (`--login`, `--norc`, `--rcfile FILE`, …), single-letter
//! clusters with `-` or `+` (`-lc`, `-ec`, `-xc`, `+x`), where every `o`/`O` takes the next word
//! (`-o pipefail`, `+o posix`, `-eo pipefail`), and `--` or a lone `-` end them. With `c` among
//! the letters, the first operand is the command string, the next is `$0` and the rest are the
//! positional parameters; without it, the first operand is a script file; with no operand (or
//! `-s`) commands come from standard input.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// Long options that take the next word as their value (bash, zsh).
const LONG_WITH_VALUE: &[&str] = &["rcfile", "init-file", "emulate"];

/// What the shell is about to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// `-c STRING [NAME [ARGS…]]`.
    Command {
        /// The command string.
        command: OsString,
        /// `$0`.
        name: Option<OsString>,
        /// `$1…`.
        args: Vec<OsString>,
    },
    /// `SCRIPT [ARGS…]`: a script file.
    Script {
        /// The script path as given.
        path: OsString,
        /// `$1…`.
        args: Vec<OsString>,
    },
    /// Commands read from standard input (`-s`, or no operand).
    Stdin {
        /// `-i` was given.
        interactive: bool,
    },
    /// `--version` / `--help` alone: prints and exits, runs nothing.
    Info,
    /// Syntax the shell itself will reject (`-c` without a string, `-o` without a name).
    Invalid,
}

/// A parsed invocation and the option words before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// What runs.
    pub invocation: Invocation,
    /// `--login` or `l` among the letters (or `argv[0]` starting with `-`).
    pub login: bool,
}

/// Parses the arguments after `argv[0]`.
pub fn parse(args: &[OsString]) -> Parsed {
    let mut command_mode = false;
    let mut stdin_mode = false;
    let mut interactive = false;
    let mut login = false;
    let mut info = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_bytes();
        if a == b"--" || a == b"-" {
            i += 1;
            break;
        }
        if let Some(name) = a.strip_prefix(b"--") {
            let name = name.split(|&b| b == b'=').next().unwrap_or(name);
            match name {
                b"login" => login = true,
                b"version" | b"help" => info = true,
                _ => {}
            }
            let takes_value =
                !a.contains(&b'=') && LONG_WITH_VALUE.iter().any(|n| n.as_bytes() == name);
            i += 1;
            if takes_value {
                if i >= args.len() {
                    return invalid(login);
                }
                i += 1;
            }
            continue;
        }
        let Some((&sign, letters)) = a.split_first() else {
            break;
        };
        if !(sign == b'-' || sign == b'+') || letters.is_empty() {
            break;
        }
        let mut values = 0;
        for &l in letters {
            match (sign, l) {
                (b'-', b'c') => command_mode = true,
                (b'-', b's') => stdin_mode = true,
                (b'-', b'i') => interactive = true,
                (b'-', b'l') => login = true,
                (_, b'o' | b'O') => values += 1,
                _ => {}
            }
        }
        i += 1 + values;
        if i > args.len() {
            return invalid(login);
        }
    }
    let operands = args.get(i..).unwrap_or(&[]);
    let invocation = if command_mode {
        match operands.split_first() {
            Some((command, rest)) => Invocation::Command {
                command: command.clone(),
                name: rest.first().cloned(),
                args: rest.iter().skip(1).cloned().collect(),
            },
            None => Invocation::Invalid,
        }
    } else if info && operands.is_empty() && !stdin_mode {
        Invocation::Info
    } else if stdin_mode || operands.is_empty() {
        Invocation::Stdin { interactive }
    } else {
        Invocation::Script {
            path: operands[0].clone(),
            args: operands[1..].to_vec(),
        }
    };
    Parsed { invocation, login }
}

fn invalid(login: bool) -> Parsed {
    Parsed {
        invocation: Invocation::Invalid,
        login,
    }
}

/// One word as the shell would need it typed: bare when made only of safe characters, else in
/// single quotes (`'` written as `'\''`); empty as `''`.
pub fn quote(word: &OsStr) -> String {
    let s = word.to_string_lossy();
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b))
    {
        return s.into_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `words` rendered as one shell command line.
pub fn render(words: &[&OsStr]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Parsed {
        parse(&args.iter().map(OsString::from).collect::<Vec<_>>())
    }

    fn cmd(c: &str, name: Option<&str>, args: &[&str]) -> Invocation {
        Invocation::Command {
            command: c.into(),
            name: name.map(OsString::from),
            args: args.iter().map(OsString::from).collect(),
        }
    }

    #[test]
    fn command_string_after_combined_and_separate_options() {
        assert_eq!(
            p(&["-c", "echo hello world"]).invocation,
            cmd("echo hello world", None, &[])
        );
        for flags in [
            &["-lc"][..],
            &["-ec"],
            &["-xc"],
            &["-cl"],
            &["-l", "-c"],
            &["+x", "-c"],
        ] {
            let mut a = flags.to_vec();
            a.push("rm -rf /");
            assert_eq!(p(&a).invocation, cmd("rm -rf /", None, &[]), "{flags:?}");
        }
        assert!(p(&["-lc", "x"]).login);
        assert!(p(&["--login", "-c", "x"]).login);
        assert!(!p(&["-c", "x"]).login);
    }

    #[test]
    fn option_values_are_never_the_command() {
        assert_eq!(
            p(&["-o", "pipefail", "-c", "make"]).invocation,
            cmd("make", None, &[])
        );
        assert_eq!(
            p(&["-eo", "pipefail", "-c", "make"]).invocation,
            cmd("make", None, &[])
        );
        assert_eq!(
            p(&["+o", "posix", "-c", "make"]).invocation,
            cmd("make", None, &[])
        );
        assert_eq!(
            p(&["-O", "extglob", "-c", "make"]).invocation,
            cmd("make", None, &[])
        );
        assert_eq!(
            p(&["-co", "pipefail", "make"]).invocation,
            cmd("make", None, &[])
        );
        assert_eq!(
            p(&["--norc", "--rcfile", "-c", "-c", "make"]).invocation,
            cmd("make", None, &[])
        );
        assert_eq!(
            p(&["--rcfile=x", "-c", "make"]).invocation,
            cmd("make", None, &[])
        );
    }

    #[test]
    fn dollar_zero_and_positional_parameters() {
        assert_eq!(
            p(&["-c", "echo \"$0 $1\"", "name", "a", "b"]).invocation,
            cmd("echo \"$0 $1\"", Some("name"), &["a", "b"])
        );
        // Options end at the first operand: -x here is $0.
        assert_eq!(
            p(&["-c", "ls", "-x"]).invocation,
            cmd("ls", Some("-x"), &[])
        );
        // -c is a flag; the string is the first operand, even after more options.
        assert_eq!(p(&["-c", "-e", "ls"]).invocation, cmd("ls", None, &[]));
        assert_eq!(p(&["-c", "--", "-ls"]).invocation, cmd("-ls", None, &[]));
    }

    #[test]
    fn scripts_stdin_info_and_errors() {
        assert_eq!(
            p(&["script.sh", "a"]).invocation,
            Invocation::Script {
                path: "script.sh".into(),
                args: vec!["a".into()]
            }
        );
        assert_eq!(
            p(&["-e", "--", "-script"]).invocation,
            Invocation::Script {
                path: "-script".into(),
                args: vec![]
            }
        );
        assert_eq!(p(&[]).invocation, Invocation::Stdin { interactive: false });
        assert_eq!(
            p(&["-i"]).invocation,
            Invocation::Stdin { interactive: true }
        );
        assert_eq!(
            p(&["-s", "a", "b"]).invocation,
            Invocation::Stdin { interactive: false }
        );
        assert_eq!(p(&["--version"]).invocation, Invocation::Info);
        assert_eq!(p(&["--help"]).invocation, Invocation::Info);
        assert_eq!(p(&["-c"]).invocation, Invocation::Invalid);
        assert_eq!(p(&["-o"]).invocation, Invocation::Invalid);
        assert_eq!(p(&["--rcfile"]).invocation, Invocation::Invalid);
        // --version with a command still runs the command.
        assert_eq!(
            p(&["--version", "-c", "ls"]).invocation,
            cmd("ls", None, &[])
        );
    }

    #[test]
    fn quoting_keeps_each_word_one_word() {
        assert_eq!(quote(OsStr::new("abc/d.e-f")), "abc/d.e-f");
        assert_eq!(quote(OsStr::new("")), "''");
        assert_eq!(quote(OsStr::new("it's")), r"'it'\''s'");
        assert_eq!(
            render(&[OsStr::new("bash"), OsStr::new("a b"), OsStr::new("$x")]),
            "bash 'a b' '$x'"
        );
    }
}
