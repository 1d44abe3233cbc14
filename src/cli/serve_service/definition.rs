//! Text of the service definitions (systemd user unit, launchd agent plist), their quoting, the
//! checks that make an executable and arguments representable, and recognising our own files.

use std::path::Path;

use super::{InstallOptions, ServiceError};

/// Marker every definition we write carries; an existing file without it (or the legacy
/// identifiers below) is not ours to replace or remove.
pub const MARKER: &str = "Managed by Rampart";
/// `Description=` of the unit (also how units written by earlier Rampart versions are recognised).
pub const UNIT_DESCRIPTION: &str = "Rampart Approval Server";
/// launchd label.
pub const LAUNCHD_LABEL: &str = "sh.rampart.serve";

/// Quotes one word for a systemd `ExecStart=` line: always double-quoted; `\` `"` newline, CR
/// and tab as C escapes; other control characters as `\xNN`; `%` doubled (specifiers) and `$`
/// doubled (environment expansion), so systemd hands the process exactly `word`.
pub fn systemd_quote(word: &str) -> String {
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    for c in word.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The argument vector the service runs: executable, `serve`, then the caller's serve arguments.
pub fn service_argv(opts: &InstallOptions) -> Vec<String> {
    let mut argv = Vec::with_capacity(opts.serve_args.len() + 2);
    argv.push(opts.exe.to_string_lossy().into_owned());
    argv.push("serve".to_string());
    argv.extend(opts.serve_args.iter().cloned());
    argv
}

/// The systemd user unit. The admin token is deliberately not in it: serve reads
/// `~/.rampart/token` at start, so `rampart token rotate` takes effect on the next restart.
pub fn systemd_unit_text(opts: &InstallOptions) -> String {
    let exec: Vec<String> = service_argv(opts)
        .iter()
        .map(|w| systemd_quote(w))
        .collect();
    format!(
        "# {MARKER}: written by `rampart serve install`, removed by `rampart serve uninstall`.\n\
         # The admin token is read from ~/.rampart/token when the server starts.\n\
         [Unit]\n\
         Description={UNIT_DESCRIPTION}\n\
         After=network.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={}\n\
         Restart=on-failure\n\
         RestartSec=5\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
        exec.join(" ")
    )
}

/// Escapes text for XML element content. Characters XML 1.0 cannot carry at all (NUL and the
/// other C0 controls except tab, newline and CR) become U+FFFD; install refuses such arguments
/// before this is reached.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if !xml_char_ok(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn xml_char_ok(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// The launchd agent plist: label `sh.rampart.serve`, the service argv, run at load, restarted
/// when it exits unsuccessfully, working directory `home`, output appended to
/// `~/.rampart/serve.log`. No token in the environment, for the same reason as the unit.
pub fn launchd_plist_text(opts: &InstallOptions) -> String {
    let log = opts.home.join(".rampart").join("serve.log");
    let log = xml_escape(&log.to_string_lossy());
    let home = xml_escape(&opts.home.to_string_lossy());
    let mut args = String::new();
    for a in service_argv(opts) {
        args.push_str("\t\t<string>");
        args.push_str(&xml_escape(&a));
        args.push_str("</string>\n");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <!-- {MARKER}: written by rampart serve install, removed by rampart serve uninstall. -->\n\
         <plist version=\"1.0\">\n\
         <dict>\n\
         \t<key>Label</key>\n\
         \t<string>{LAUNCHD_LABEL}</string>\n\
         \t<key>ProgramArguments</key>\n\
         \t<array>\n\
         {args}\
         \t</array>\n\
         \t<key>WorkingDirectory</key>\n\
         \t<string>{home}</string>\n\
         \t<key>RunAtLoad</key>\n\
         \t<true/>\n\
         \t<key>KeepAlive</key>\n\
         \t<dict>\n\
         \t\t<key>SuccessfulExit</key>\n\
         \t\t<false/>\n\
         \t</dict>\n\
         \t<key>StandardOutPath</key>\n\
         \t<string>{log}</string>\n\
         \t<key>StandardErrorPath</key>\n\
         \t<string>{log}</string>\n\
         </dict>\n\
         </plist>\n"
    )
}

/// A unit file we wrote (marker comment) or an earlier Rampart wrote (its `Description=`).
pub fn is_managed_unit(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim();
        (l.starts_with('#') && l.contains(MARKER)) || l == format!("Description={UNIT_DESCRIPTION}")
    })
}

/// A plist we wrote (marker comment) or any plist for our label.
pub fn is_managed_plist(text: &str) -> bool {
    text.contains(&format!("<!-- {MARKER}"))
        || text.contains(&format!("<string>{LAUNCHD_LABEL}</string>"))
}

/// Checks that the executable and arguments can be written into a definition and run as given:
/// an absolute, UTF-8, existing file whose path has no control characters, quotes, backslashes
/// or `$` (systemd refuses or rewrites those in the program path); arguments without NUL, and for
/// launchd without characters XML cannot carry.
pub fn validate(opts: &InstallOptions, xml: bool) -> Result<(), ServiceError> {
    let exe = &opts.exe;
    let Some(s) = exe.to_str() else {
        return Err(invalid(exe, "is not valid UTF-8"));
    };
    if !exe.is_absolute() {
        return Err(invalid(exe, "is not an absolute path"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| c.is_control() || matches!(c, '"' | '\'' | '\\' | '$'))
    {
        return Err(invalid(
            exe,
            &format!("contains {c:?}, which a service definition cannot hold"),
        ));
    }
    if !exe.is_file() {
        return Err(invalid(exe, "does not exist or is not a file"));
    }
    for a in &opts.serve_args {
        if a.contains('\0') {
            return Err(ServiceError::Invalid(format!(
                "serve argument {a:?} contains a NUL byte"
            )));
        }
        if xml && !a.chars().all(xml_char_ok) {
            return Err(ServiceError::Invalid(format!(
                "serve argument {a:?} contains a control character a launchd plist cannot hold"
            )));
        }
    }
    Ok(())
}

fn invalid(exe: &Path, why: &str) -> ServiceError {
    ServiceError::Invalid(format!("executable {} {why}", exe.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// Independent reading of an `ExecStart=` value the way systemd does it for our quoted
    /// words: split into double-quoted words, C-unescape, then `%%` → `%` and `$$` → `$`.
    fn systemd_unquote(line: &str) -> Vec<String> {
        let mut words = Vec::new();
        let mut chars = line.chars().peekable();
        loop {
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            match chars.next() {
                None => return words,
                Some('"') => {}
                Some(c) => panic!("unquoted word starting with {c:?}"),
            }
            let mut raw = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('\\') => raw.push('\\'),
                        Some('"') => raw.push('"'),
                        Some('n') => raw.push('\n'),
                        Some('r') => raw.push('\r'),
                        Some('t') => raw.push('\t'),
                        Some('x') => {
                            let h: String = chars.by_ref().take(2).collect();
                            raw.push(char::from(u8::from_str_radix(&h, 16).unwrap()));
                        }
                        other => panic!("unknown escape {other:?}"),
                    },
                    Some(c) => {
                        assert!(!c.is_ascii_control(), "raw control character in unit");
                        raw.push(c)
                    }
                    None => panic!("unterminated quote"),
                }
            }
            words.push(raw.replace("%%", "\u{0}").replace("$$", "\u{1}"));
            let w = words.last_mut().unwrap();
            assert!(
                !w.contains('%') && !w.contains('$'),
                "unescaped specifier/variable in {w:?}"
            );
            *w = w.replace('\u{0}', "%").replace('\u{1}', "$");
        }
    }

    fn opts(args: &[&str]) -> InstallOptions {
        InstallOptions {
            exe: PathBuf::from("/usr/local/bin/rampart"),
            serve_args: args.iter().map(|s| s.to_string()).collect(),
            force: false,
            home: PathBuf::from("/home/u"),
        }
    }

    #[test]
    fn quoting_examples() {
        assert_eq!(systemd_quote("plain"), "\"plain\"");
        assert_eq!(systemd_quote("100%"), "\"100%%\"");
        assert_eq!(systemd_quote("%h"), "\"%%h\"");
        assert_eq!(systemd_quote("a\"b"), "\"a\\\"b\"");
        assert_eq!(systemd_quote("a\\b"), "\"a\\\\b\"");
        assert_eq!(systemd_quote("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
        assert_eq!(systemd_quote("\u{1}\u{1b}\u{7f}"), "\"\\x01\\x1b\\x7f\"");
        assert_eq!(systemd_quote("$HOME ${X}"), "\"$$HOME $${X}\"");
        assert_eq!(systemd_quote(";"), "\";\"");
        assert_eq!(systemd_quote(""), "\"\"");
        assert_eq!(systemd_quote("ünï"), "\"ünï\"");
    }

    #[test]
    fn unit_round_trips_hostile_arguments() {
        let hostile = [
            "--config",
            "/tmp/my dir/rampart.yaml",
            "50%",
            "%n%i",
            "quote\"d",
            "back\\slash",
            "new\nline",
            "cr\rtab\t",
            "\u{7}bell\u{1b}[31m",
            "$HOME",
            "${PATH}",
            ";",
            "\\;",
            "ExecStartPost=/bin/evil",
            "\n[Service]\nExecStartPre=/bin/evil",
        ];
        let o = opts(&hostile);
        let text = systemd_unit_text(&o);
        let exec_lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("ExecStart"))
            .collect();
        assert_eq!(exec_lines.len(), 1, "{text}");
        assert!(
            !text.lines().any(|l| l.starts_with("ExecStartPre")),
            "{text}"
        );
        assert_eq!(text.lines().filter(|l| *l == "[Service]").count(), 1);
        let words = systemd_unquote(exec_lines[0].strip_prefix("ExecStart=").unwrap());
        assert_eq!(words, service_argv(&o));
        assert_eq!(words[1], "serve");
    }

    #[test]
    fn unit_has_required_settings_and_no_token() {
        let t = systemd_unit_text(&opts(&["--port", "9191", "--approval-timeout", "5m"]));
        for line in [
            "[Unit]",
            "Description=Rampart Approval Server",
            "After=network.target",
            "[Service]",
            "Type=simple",
            "ExecStart=\"/usr/local/bin/rampart\" \"serve\" \"--port\" \"9191\" \"--approval-timeout\" \"5m\"",
            "Restart=on-failure",
            "RestartSec=5",
            "[Install]",
            "WantedBy=default.target",
        ] {
            assert!(t.lines().any(|l| l == line), "missing {line:?} in\n{t}");
        }
        assert!(!t.contains("RAMPART_TOKEN"));
        assert!(!t.contains("Environment"));
        assert!(is_managed_unit(&t));
        assert!(is_managed_unit(
            "[Unit]\nDescription=Rampart Approval Server\n"
        ));
        assert!(!is_managed_unit(
            "[Unit]\nDescription=Something else\n# rampart\n"
        ));
    }

    #[test]
    fn xml_escaping() {
        assert_eq!(
            xml_escape("a&b<c>d\"e'f"),
            "a&amp;b&lt;c&gt;d&quot;e&apos;f"
        );
        assert_eq!(xml_escape("x\ry\tz\n"), "x&#13;y\tz\n");
        assert_eq!(xml_escape("\u{0}\u{1b}"), "\u{FFFD}\u{FFFD}");
        assert_eq!(xml_escape("]]>--"), "]]&gt;--");
    }

    #[test]
    fn validation() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("rampart");
        std::fs::write(&exe, "").unwrap();
        let mut o = opts(&["--config", "a b%$\"\n"]);
        o.exe = exe.clone();
        validate(&o, false).unwrap();
        validate(&o, true).unwrap();
        o.serve_args = vec!["a\u{1b}".into()];
        validate(&o, false).unwrap();
        assert!(validate(&o, true).is_err());
        o.serve_args = vec!["a\0".into()];
        assert!(validate(&o, false).is_err());
        o.serve_args = vec![];
        o.exe = PathBuf::from("rampart");
        assert!(validate(&o, false).is_err());
        o.exe = dir.path().join("missing");
        assert!(validate(&o, false).is_err());
        for bad in ["ram\"part", "ram$part", "ram\\part", "ram\npart"] {
            let p = dir.path().join(bad);
            std::fs::write(&p, "").unwrap();
            o.exe = p;
            assert!(validate(&o, false).is_err(), "{bad:?}");
        }
    }
}
