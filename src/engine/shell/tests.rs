use super::*;
use std::time::{Duration, Instant};

fn argvs(src: &str) -> Vec<Vec<String>> {
    analyze(src).commands.into_iter().map(|c| c.argv).collect()
}

fn v(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// The first command with exactly this argv.
fn find<'a>(a: &'a ShellAnalysis, argv: &[&str]) -> &'a ExecutedCommand {
    a.commands
        .iter()
        .find(|c| c.argv == v(argv))
        .unwrap_or_else(|| panic!("no command {argv:?} in {:#?}", a.commands))
}

/// Asserts the analysis of `src` is valid and has exactly these commands and origins.
fn check(src: &str, expected: &[(&[&str], Origin)]) {
    let a = analyze(src);
    assert!(a.parsed, "{src:?} not parsed: {:?}", a.error);
    let got: Vec<(Vec<String>, Origin)> = a
        .commands
        .iter()
        .map(|c| (c.argv.clone(), c.origin))
        .collect();
    let want: Vec<(Vec<String>, Origin)> = expected.iter().map(|(w, o)| (v(w), *o)).collect();
    assert_eq!(got, want, "for {src:?}");
}

/// Asserts `src` runs `inner` through a launcher of `kind` whose parent runs before it.
fn launched(src: &str, inner: &[&str], kind: Launcher) {
    let a = analyze(src);
    assert!(a.parsed, "{src:?}: {:?}", a.error);
    let c = find(&a, inner);
    assert_eq!(c.origin, Origin::Launched(kind), "{src:?}");
    let parent = c.parent.expect("launched command has a parent");
    assert_eq!(c.depth, a.commands[parent].depth + 1);
    assert!(c.certain, "{src:?} uncertain");
}

const T: Origin = Origin::TopLevel;
const CS: Origin = Origin::CommandSubstitution;
const RM: &[&str] = &["rm", "-rf", "/"];

#[test]
fn simple_command_and_span() {
    let a = analyze("  ls -la  /tmp ; echo hi");
    assert!(a.parsed);
    assert_eq!(a.commands.len(), 2);
    assert_eq!(a.commands[0].argv, v(&["ls", "-la", "/tmp"]));
    assert_eq!(a.commands[0].span, Some(2..14));
    assert_eq!(a.commands[1].span, Some(17..24));
    assert_eq!(a.commands[0].dynamic, vec![false; 3]);
}

#[test]
fn lists_and_pipelines() {
    check(
        "! a | b |& c || d && e & f\ng; h",
        &[
            (&["a"], T),
            (&["b"], T),
            (&["c"], T),
            (&["d"], T),
            (&["e"], T),
            (&["f"], T),
            (&["g"], T),
            (&["h"], T),
        ],
    );
    check(
        "a &&\n b ||\n\n c |\n d",
        &[(&["a"], T), (&["b"], T), (&["c"], T), (&["d"], T)],
    );
}

#[test]
fn comments() {
    check(
        "echo a#b # rm -rf /\n# whole line\nls",
        &[(&["echo", "a#b"], T), (&["ls"], T)],
    );
}

#[test]
fn quoting() {
    check(
        r#"echo 'a b' "c\$d\"\\ \x" $'\x41\101\n\t\u00e9\'' $"loc" r\m "a"'b'c"#,
        &[(
            &["echo", "a b", "c$d\"\\ \\x", "AA\n\té'", "loc", "rm", "abc"],
            T,
        )],
    );
    let a = analyze("r\\m -r\\f /");
    assert_eq!(a.commands[0].argv, v(RM));
    assert_eq!(a.commands[0].dynamic, vec![false; 3]);
    // Line continuation.
    check("r\\\nm -rf \\\n /", &[(RM, T)]);
    check("echo \"a\\\nb\"", &[(&["echo", "ab"], T)]);
    check("echo $'\\cA\\e'", &[(&["echo", "\u{1}\u{1b}"], T)]);
}

#[test]
fn dynamic_words() {
    let a = analyze("echo $HOME ${x} \"$y z\" '$q' *.rs a?b [ab] [ ~ ~/x {a,b} {1..3} {} \\* '*'");
    let c = &a.commands[0];
    assert_eq!(c.argv[1], "$HOME");
    assert_eq!(c.argv[3], "$y z");
    assert_eq!(c.argv[4], "$q");
    assert_eq!(
        c.dynamic,
        vec![
            false, true, true, true, false, true, true, true, false, true, true, true, true, false,
            false, false
        ]
    );
}

#[test]
fn command_substitution() {
    check(
        "echo $(rm -rf /)",
        &[(&["echo", "$(rm -rf /)"], T), (RM, CS)],
    );
    check("echo `rm -rf /`", &[(&["echo", "`rm -rf /`"], T), (RM, CS)]);
    check(
        "echo \"x `a \\`b\\``\"",
        &[
            (&["echo", "x `a \\`b\\``"], T),
            (&["a", "`b`"], CS),
            (&["b"], CS),
        ],
    );
    let a = analyze("echo $( echo \"a $(echo \"b ) c\")\" )");
    assert!(a.parsed);
    assert_eq!(
        argvs("echo $( echo \"a $(echo \"b ) c\")\" )")[2],
        v(&["echo", "b ) c"])
    );
    assert_eq!(a.commands[2].depth, 2);
    check("x=$(case a in a) rm -rf /;; esac)", &[(&[], T), (RM, CS)]);
    check(
        "echo $( (rm -rf /) )",
        &[(&["echo", "$( (rm -rf /) )"], T), (RM, CS)],
    );
    check(
        "echo $((echo a) )",
        &[(&["echo", "$((echo a) )"], T), (&["echo", "a"], CS)],
    );
}

#[test]
fn process_substitution() {
    let p = Origin::ProcessSubstitution;
    check(
        "diff <(curl x) >(cat)",
        &[
            (&["diff", "<(curl x)", ">(cat)"], T),
            (&["curl", "x"], p),
            (&["cat"], p),
        ],
    );
    check("cat < <(rm -rf /)", &[(&["cat"], T), (RM, p)]);
}

#[test]
fn subshells_groups_and_compounds() {
    check("(rm -rf /)", &[(RM, T)]);
    check("{ rm -rf /; }", &[(RM, T)]);
    check(
        "( a; (b) ) | { c && d; } > out",
        &[(&["a"], T), (&["b"], T), (&["c"], T), (&["d"], T)],
    );
    check(
        "if a; then b; elif c; then d; else e; fi",
        &[
            (&["a"], T),
            (&["b"], T),
            (&["c"], T),
            (&["d"], T),
            (&["e"], T),
        ],
    );
    check(
        "while a; do b; done; until c; do d; done; for x in 1 $(g); do e $x; done",
        &[
            (&["a"], T),
            (&["b"], T),
            (&["c"], T),
            (&["d"], T),
            (&["g"], CS),
            (&["e", "$x"], T),
        ],
    );
    check(
        "for x; do a; done; for ((i=0; i<$(n); i++)); do b; done",
        &[(&["a"], T), (&["n"], CS), (&["b"], T)],
    );
    check("select x in a b; do c; done", &[(&["c"], T)]);
    check("for x in a\ndo\n b\ndone", &[(&["b"], T)]);
    check(
        "case $x in a|b) rm -rf /;; (*) echo;& c) d;;& esac",
        &[(RM, T), (&["echo"], T), (&["d"], T)],
    );
    check("case x in\n  a)\n    b\n    ;;\nesac", &[(&["b"], T)]);
    check(
        "time { a; }; time -p b",
        &[
            (&["a"], T),
            (&["time", "-p", "b"], T),
            (&["b"], Origin::Launched(Launcher::Transparent)),
        ],
    );
    check("coproc cat; coproc N { a; }", &[(&["cat"], T), (&["a"], T)]);
}

#[test]
fn functions() {
    check("f() { rm -rf /; }; f", &[(RM, T), (&["f"], T)]);
    check(
        "function g { a; }\nfunction h() ( b )",
        &[(&["a"], T), (&["b"], T)],
    );
    check("f () \n{\n a\n}", &[(&["a"], T)]);
}

#[test]
fn arithmetic_and_conditionals() {
    check(
        "echo $((1+$(rm -rf /))) ; ((x++)) ; [[ -f $(g) && $x =~ ^(a|b)$ ]]",
        &[(&["echo", "$((1+$(rm -rf /)))"], T), (RM, CS), (&["g"], CS)],
    );
    check(
        "(( $(a) > 1 )) && echo $[ $(b) + 1 ]",
        &[(&["a"], CS), (&["echo", "$[ $(b) + 1 ]"], T), (&["b"], CS)],
    );
}

#[test]
fn assignments() {
    let a = analyze("A=$(cmd) B+=2 C[1]=x D='q r' ls");
    assert!(a.parsed);
    let ls = find(&a, &["ls"]);
    let names: Vec<(&str, &str)> = ls
        .assignments
        .iter()
        .map(|x| (x.name.as_str(), x.value.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![("A", "$(cmd)"), ("B", "2"), ("C[1]", "x"), ("D", "q r")]
    );
    find(&a, &["cmd"]);
    check("a=(1 $(b) 3) c", &[(&["c"], T), (&["b"], CS)]);
    check(
        "declare -a x=(1 2) y=$(cmd); export z=$(cmd2); local w=`w`",
        &[
            (&["declare", "-a", "x=(1 2)", "y=$(cmd)"], T),
            (&["cmd"], CS),
            (&["export", "z=$(cmd2)"], T),
            (&["cmd2"], CS),
            (&["local", "w=`w`"], T),
            (&["w"], CS),
        ],
    );
    // `x=1` after the command name is an argument.
    check("echo x=1", &[(&["echo", "x=1"], T)]);
    check("'A'=1", &[(&["A=1"], T)]);
}

#[test]
fn parameter_expansion() {
    check(
        "echo ${var:-$(cmd)} ${x} \"${y:-\"a b\"}\" ${#z} ${w//\\}/x}",
        &[
            (
                &[
                    "echo",
                    "${var:-$(cmd)}",
                    "${x}",
                    "${y:-\"a b\"}",
                    "${#z}",
                    "${w//\\}/x}",
                ],
                T,
            ),
            (&["cmd"], CS),
        ],
    );
    check(
        "echo ${a:-`b`} \"${c:-$(d)}\"",
        &[
            (&["echo", "${a:-`b`}", "${c:-$(d)}"], T),
            (&["b"], CS),
            (&["d"], CS),
        ],
    );
}

#[test]
fn redirections() {
    let a = analyze("echo hi 2>&1 &> /dev/null >| x <> y 3<&0 {fd}>f >> z &>>w < in >&- 9>'q r'");
    assert!(a.parsed, "{:?}", a.error);
    let r: Vec<(Option<u32>, &str, &str)> = a.commands[0]
        .redirects
        .iter()
        .map(|r| (r.fd, r.op.as_str(), r.target.as_str()))
        .collect();
    assert_eq!(
        r,
        vec![
            (Some(2), ">&", "1"),
            (None, "&>", "/dev/null"),
            (None, ">|", "x"),
            (None, "<>", "y"),
            (Some(3), "<&", "0"),
            (None, ">", "f"),
            (None, ">>", "z"),
            (None, "&>>", "w"),
            (None, "<", "in"),
            (None, ">&", "-"),
            (Some(9), ">", "q r"),
        ]
    );
    assert_eq!(a.commands[0].argv, v(&["echo", "hi"]));
    let a = analyze("> out");
    assert!(a.parsed);
    assert_eq!(a.commands[0].argv, Vec::<String>::new());
    assert_eq!(a.commands[0].redirects[0].target, "out");
    // Process substitution as a redirection target.
    check(
        "wc < <(a)",
        &[(&["wc"], T), (&["a"], Origin::ProcessSubstitution)],
    );
}

#[test]
fn heredocs() {
    let a = analyze("cat <<EOF > out\nhello $(id)\n  world\nEOF\necho done");
    assert!(a.parsed);
    let cat = find(&a, &["cat"]);
    assert_eq!(cat.redirects[0].op, "<<");
    assert_eq!(cat.redirects[0].target, "EOF");
    assert_eq!(cat.redirects[0].heredoc, "hello $(id)\n  world\n");
    assert_eq!(find(&a, &["id"]).origin, CS);
    find(&a, &["echo", "done"]);
    // Quoted delimiter: no expansion; <<- strips tabs; two here-docs on one line.
    let a = analyze("cat <<'E' <<-\"F\"; ls\n$(no)\nE\n\tx\n\tF\nls2");
    assert!(a.parsed);
    assert_eq!(
        argvs("cat <<'E' <<-\"F\"; ls\n$(no)\nE\n\tx\n\tF\nls2"),
        vec![v(&["cat"]), v(&["ls"]), v(&["ls2"])]
    );
    assert_eq!(a.commands[0].redirects[0].heredoc, "$(no)\n");
    assert_eq!(a.commands[0].redirects[1].heredoc, "x\n");
    // Unterminated: the rest of the input is the body (bash only warns).
    let a = analyze("cat <<EOF\nrm -rf /");
    assert!(a.parsed);
    assert_eq!(a.commands.len(), 1);
    assert_eq!(a.commands[0].redirects[0].heredoc, "rm -rf /");
    // Inside a substitution.
    check("x=$(cat <<EOF\n)\nEOF\n)", &[(&[], T), (&["cat"], CS)]);
}

#[test]
fn heredocs_and_herestrings_fed_to_shells() {
    let si = Origin::ShellInput;
    check("bash <<< 'rm -rf /'", &[(&["bash"], T), (RM, si)]);
    check("bash <<EOF\nrm -rf /\nEOF", &[(&["bash"], T), (RM, si)]);
    check(
        "sh -s <<'EOF'\nrm -rf /\nEOF",
        &[(&["sh", "-s"], T), (RM, si)],
    );
    let a = analyze("cat <<EOF | sh\nrm -rf /\nEOF\necho after");
    assert!(a.parsed);
    let rm = find(&a, RM);
    assert_eq!(rm.origin, si);
    assert_eq!(a.commands[rm.parent.unwrap()].argv, v(&["sh"]));
    find(&a, &["echo", "after"]);
    let a = analyze("cat <<EOF | sudo bash -x\nrm -rf /\nEOF");
    let rm = find(&a, RM);
    assert_eq!(a.commands[rm.parent.unwrap()].argv, v(&["bash", "-x"]));
    check(
        "cat <<< 'rm -rf /' | bash",
        &[(&["cat"], T), (&["bash"], T), (RM, si)],
    );
    // A script file operand: stdin is data.
    check("bash x.sh <<EOF\nrm -rf /\nEOF", &[(&["bash", "x.sh"], T)]);
    check(
        "cat <<EOF | grep x\nrm -rf /\nEOF",
        &[(&["cat"], T), (&["grep", "x"], T)],
    );
}

#[test]
fn shell_strings() {
    let ss = Origin::ShellString;
    for src in [
        "bash -c 'rm -rf /'",
        "bash -lc 'rm -rf /'",
        "bash -o pipefail -c 'rm -rf /'",
        "sh -ec 'rm -rf /'",
        "/bin/bash --norc -c 'rm -rf /'",
        "bash --rcfile x -c 'rm -rf /'",
        "zsh -c 'rm -rf /'",
        "dash -c 'rm -rf /' name arg",
        "ksh -xc 'rm -rf /'",
        "ash -c 'rm -rf /'",
        "bash -euxo pipefail -c 'rm -rf /'",
        "bash +o history -c 'rm -rf /'",
    ] {
        let a = analyze(src);
        assert!(a.parsed, "{src}");
        let rm = find(&a, RM);
        assert_eq!(rm.origin, ss, "{src}");
        assert_eq!(rm.parent, Some(0), "{src}");
        assert_eq!(rm.depth, 1);
    }
    check(
        "bash -c 'a; b | c'",
        &[
            (&["bash", "-c", "a; b | c"], T),
            (&["a"], ss),
            (&["b"], ss),
            (&["c"], ss),
        ],
    );
    check("bash script.sh -c", &[(&["bash", "script.sh", "-c"], T)]);
    let a = analyze("sudo bash -c 'rm -rf /'");
    let rm = find(&a, RM);
    assert_eq!(rm.depth, 2);
    assert_eq!(
        a.commands[rm.parent.unwrap()].origin,
        Origin::Launched(Launcher::Privilege)
    );
    // Nested shell strings.
    let a = analyze(r#"bash -c "sh -c 'rm -rf /'""#);
    assert_eq!(find(&a, RM).depth, 2);
    // A syntax error inside a static shell string makes the whole line unparsed.
    let a = analyze("bash -c 'if true'");
    assert!(!a.parsed);
    // ... but not inside a dynamic one, whose runtime text is unknown.
    let a = analyze("bash -c \"$x; if\"");
    assert!(a.parsed);
}

#[test]
fn eval() {
    check(
        "eval 'rm -rf /'",
        &[(&["eval", "rm -rf /"], T), (RM, Origin::Eval)],
    );
    check(
        "eval rm -rf /",
        &[(&["eval", "rm", "-rf", "/"], T), (RM, Origin::Eval)],
    );
    let a = analyze("eval \"$(echo x)\"");
    assert!(a.parsed);
    assert_eq!(a.commands[1].argv, v(&["echo", "x"]));
    assert_eq!(a.commands[1].origin, CS);
    let e = a
        .commands
        .iter()
        .find(|c| c.origin == Origin::Eval)
        .unwrap();
    assert_eq!(e.dynamic, vec![true]);
}

#[test]
fn launchers_transparent() {
    use Launcher::Transparent as L;
    for src in [
        "time rm -rf /",
        "env -i FOO=1 rm -rf /",
        "env -u X -C /tmp -- rm -rf /",
        "nice -n 5 rm -rf /",
        "nice -5 rm -rf /",
        "nice --adjustment=3 rm -rf /",
        "nohup rm -rf /",
        "timeout 5s rm -rf /",
        "timeout -s KILL -k 1 --preserve-status 5 rm -rf /",
        "stdbuf -oL rm -rf /",
        "stdbuf -o L -e0 rm -rf /",
        "setsid -f rm -rf /",
        "command rm -rf /",
        "command -p rm -rf /",
        "exec rm -rf /",
        "exec -a name rm -rf /",
        "ionice -c3 rm -rf /",
        "ionice -c 2 -n 7 rm -rf /",
        "chrt -f 10 rm -rf /",
        "taskset -c 0,1 rm -rf /",
        "taskset 0x3 rm -rf /",
        "unbuffer rm -rf /",
        "builtin exec rm -rf /",
        "/usr/bin/time -v rm -rf /",
    ] {
        launched(src, RM, L);
    }
    let a = analyze("env -i FOO=1 BAR='a b' rm -rf /");
    let rm = find(&a, RM);
    assert_eq!(rm.assignments.len(), 2);
    assert_eq!(rm.assignments[1].value, "a b");
    launched("env -S 'rm -rf' /", RM, L);
    launched("env -S'rm -rf /'", RM, L);
    // No command started.
    assert_eq!(analyze("command -v rm").commands.len(), 1);
    assert_eq!(analyze("env FOO=1").commands.len(), 1);
    assert_eq!(analyze("ionice -p 12 -c3").commands.len(), 1);
    assert_eq!(analyze("nohup").commands.len(), 1);
}

#[test]
fn launchers_privilege() {
    use Launcher::Privilege as L;
    for src in [
        "sudo rm -rf /",
        "sudo -u root rm -rf /",
        "sudo -uroot -g wheel -E -H -n rm -rf /",
        "sudo --user=root -- rm -rf /",
        "sudo -i rm -rf /",
        "sudo FOO=1 rm -rf /",
        "doas rm -rf /",
        "doas -u root rm -rf /",
        "pkexec rm -rf /",
        "pkexec --user root rm -rf /",
        "runuser -u bob -- rm -rf /",
    ] {
        launched(src, RM, L);
    }
    for src in [
        "su -c 'rm -rf /'",
        "su root -c \"rm -rf /\"",
        "su - root -c 'rm -rf /'",
        "su -lc 'rm -rf /' bob",
        "su --command='rm -rf /'",
        "runuser -l bob -c 'rm -rf /'",
    ] {
        let a = analyze(src);
        assert!(a.parsed, "{src}");
        assert_eq!(find(&a, RM).origin, Origin::Launched(L), "{src}");
    }
    // Unwrapping is recursive.
    let a = analyze("sudo env nice rm -rf /");
    assert_eq!(
        a.commands
            .iter()
            .map(|c| (c.argv.len(), c.parent, c.depth))
            .collect::<Vec<_>>(),
        vec![
            (6, None, 0),
            (5, Some(0), 1),
            (4, Some(1), 2),
            (3, Some(2), 3)
        ]
    );
    assert_eq!(analyze("sudo -l").commands.len(), 1);
    assert_eq!(analyze("sudo -e /etc/hosts").commands.len(), 1);
    assert_eq!(analyze("su - bob").commands.len(), 1);
}

#[test]
fn launchers_indirect() {
    use Launcher::Indirect as L;
    for src in [
        "xargs rm -rf /",
        "xargs -0 -n1 rm -rf /",
        "xargs -I{} -P 4 -L 1 -d '\\n' -r -t rm -rf /",
        "xargs --null --max-args=1 -a list rm -rf /",
        "strace -f rm -rf /",
        "strace -e trace=open -o log rm -rf /",
        "ltrace rm -rf /",
        "flock /tmp/l rm -rf /",
        "flock -w 5 /tmp/l rm -rf /",
        "watch -x rm -rf /",
        "parallel rm -rf / ::: a",
    ] {
        launched(src, RM, L);
    }
    let a = analyze("find / -name x -exec rm -rf {} \\; -o -execdir echo {} + -ok a ';'");
    assert!(a.parsed);
    let got: Vec<(Vec<String>, Origin, Option<usize>)> = a.commands[1..]
        .iter()
        .map(|c| (c.argv.clone(), c.origin, c.parent))
        .collect();
    assert_eq!(
        got,
        vec![
            (v(&["rm", "-rf", "{}"]), Origin::Launched(L), Some(0)),
            (v(&["echo", "{}"]), Origin::Launched(L), Some(0)),
            (v(&["a"]), Origin::Launched(L), Some(0)),
        ]
    );
    let a = analyze("trap 'rm -rf /' EXIT; trap - EXIT; trap -p");
    assert_eq!(find(&a, RM).origin, Origin::Launched(L));
    assert_eq!(a.commands.len(), 4);
    // Unterminated -exec: best guess, uncertain.
    let a = analyze("find . -exec rm -rf {}");
    assert!(!find(&a, &["rm", "-rf", "{}"]).certain);
    // Strings run through a shell.
    for src in [
        "script -c 'rm -rf /'",
        "script -qc 'rm -rf /' /dev/null",
        "watch 'rm -rf /'",
        "watch -n 1 rm -rf /",
        "flock /tmp/l -c 'rm -rf /'",
        "parallel 'rm -rf {}' ::: a",
    ] {
        let a = analyze(src);
        assert!(a.parsed, "{src}");
        let c = a
            .commands
            .iter()
            .find(|c| c.argv.first().is_some_and(|a| a == "rm"))
            .unwrap_or_else(|| panic!("{src}: {:?}", a.commands));
        assert_eq!(c.origin, Origin::Launched(L), "{src}");
        assert_eq!(c.parent, Some(0));
    }
}

#[test]
fn launchers_remote_and_multicall() {
    use Launcher::Remote as R;
    for src in [
        "ssh host rm -rf /",
        "ssh -p 22 host 'rm -rf /'",
        "ssh -o StrictHostKeyChecking=no -i key -t user@host rm -rf /",
        "docker exec -it c rm -rf /",
        "docker exec -u root -e A=1 c rm -rf /",
        "docker container exec c rm -rf /",
        "podman exec c rm -rf /",
        "docker run --rm -it -v /:/host ubuntu rm -rf /",
        "kubectl exec pod -- rm -rf /",
        "kubectl -n ns exec -it pod -c ctr -- rm -rf /",
        "chroot /mnt rm -rf /",
        "chroot --userspec=a:b /mnt rm -rf /",
    ] {
        launched(src, RM, R);
    }
    let a = analyze("ssh host 'cd /; rm -rf / && echo ok'");
    assert!(a.parsed);
    assert_eq!(find(&a, RM).origin, Origin::Launched(R));
    assert_eq!(find(&a, &["echo", "ok"]).origin, Origin::Launched(R));
    assert_eq!(analyze("ssh host").commands.len(), 1);
    assert_eq!(analyze("ssh -N -L 80:x:80 host").commands.len(), 1);
    let a = analyze("kubectl exec pod rm -rf /");
    assert!(!find(&a, RM).certain);
    launched("busybox rm -rf /", RM, Launcher::Multicall);
    launched("toybox rm -rf /", RM, Launcher::Multicall);
    let a = analyze("busybox sh -c 'rm -rf /'");
    assert_eq!(find(&a, RM).origin, Origin::ShellString);
}

#[test]
fn uncertain_options() {
    let a = analyze("sudo --frobnicate rm -rf /");
    assert!(!find(&a, RM).certain);
    let a = analyze("timeout $OPTS 5 rm -rf /");
    assert!(!a.commands[1].certain);
    // Dynamic command name: nothing to unwrap.
    assert_eq!(analyze("$SUDO rm -rf /").commands.len(), 1);
}

#[test]
fn syntax_errors_are_reported_but_commands_recovered() {
    for src in [
        "rm -rf /; echo 'unterminated",
        "rm -rf /; echo \"unterminated",
        "echo $(rm -rf /",
        "(rm -rf /",
        "rm -rf /)",
        "if rm -rf /; then",
        "rm -rf / | | ls",
        "rm -rf / &&",
        "rm -rf / ;;",
        "echo > ; rm -rf /",
        "fi; rm -rf /",
        "{ rm -rf /",
        "rm -rf /; echo `",
    ] {
        let a = analyze(src);
        assert!(!a.parsed, "{src} should not parse");
        assert!(a.error.is_some(), "{src}");
        assert!(
            a.commands.iter().any(|c| c.argv == v(RM)),
            "{src}: {:?}",
            a.commands
        );
    }
}

/// Lines checked against `bash -n`: (source, valid).
const BASH_N_CASES: &[(&str, bool)] = &[
    ("ls -la", true),
    ("", true),
    ("# only a comment", true),
    ("echo a; echo b", true),
    ("echo a;", true),
    ("echo a &", true),
    ("a && b || c | d |& e", true),
    ("a &&\nb", true),
    ("a |\n\n b", true),
    ("! a", true),
    ("!", true),
    ("time", true),
    ("time -p a | b", true),
    ("(a; b) && { c; }", true),
    ("(echo a;)", true),
    ("if a; then b; elif c; then d; else e; fi", true),
    ("if a\nthen\n b\nfi", true),
    ("while a; do b; done", true),
    ("until a; do b; done", true),
    ("for i in 1 2 3; do echo $i; done", true),
    ("for i; do :; done", true),
    ("for ((i=0;i<3;i++)); do :; done", true),
    ("for x in; do :; done", true),
    ("for x in a; { echo; }", true),
    ("select x in a; do :; done", true),
    ("case x in a) b;; *) c;; esac", true),
    ("case x in (a|b) c;& d) e;;& esac", true),
    ("case x in esac", true),
    ("case x in a) b; esac", true),
    ("f() { :; }", true),
    ("f() { :; } > /dev/null", true),
    ("function f { :; }", true),
    ("function f() ( : )", true),
    ("x=1 }", true),
    ("echo }", true),
    ("echo a#b", true),
    ("echo $(( (1) ))", true),
    ("echo $( (echo) )", true),
    ("echo $((echo) )", true),
    ("x=$(case a in a) echo;; esac)", true),
    ("echo <(true) >(cat)", true),
    ("[[ $x =~ ^(a|b)$ ]]", true),
    ("[[ -f a && ! -d b || ( c < d ) ]]", true),
    ("echo {a,b} {1..3}", true),
    ("a[1]=2 b+=3 c=(1 2)", true),
    ("declare -a a=(1 2)", true),
    ("echo ${x:-\"a b\"} ${#y} ${z//a/b}", true),
    ("echo $[1+2]", true),
    ("echo $'a\\'b' $\"c\"", true),
    ("cat <<EOF\nbody\nEOF", true),
    ("cat <<EOF", true),
    ("cat <<-'EOF' | sh\n\tls\n\tEOF\necho done", true),
    ("echo 2>&1 &>/dev/null >|x <>y 3<&0 {fd}>f", true),
    ("coproc cat", true),
    ("a=$(b \"$(c 'd')\")", true),
    ("echo `echo \\`date\\``", true),
    ("echo \\\n a", true),
    ("sudo -u root bash -c 'rm -rf /tmp/x' && echo ok", true),
    ("find . -name '*.rs' -exec grep -l foo {} \\;", true),
    ("echo $(echo ')')", true),
    ("echo \"$(echo \"(\")\"", true),
    ("echo ${x/)/y}", true),
    ("case x in x) echo ')';; esac", true),
    ("echo \\( \\) a\\;b 'it''s' a=", true),
    ("{ echo a; } 2>&1 | cat", true),
    ("if [ x ]; then echo; fi > out", true),
    ("while read l; do echo $l; done < file", true),
    ("for f in *.txt; do mv \"$f\" \"${f%.txt}.md\"; done", true),
    ("git commit -m \"fix: handle (parens) and 'quotes'\"", true),
    ("f() ( : ) && g", true),
    ("! ! true", true),
    ("time time true", true),
    ("((x=1, y=2))", true),
    ("echo $(( $(echo 1) ))", true),
    ("echo \"${a[@]}\" \"${!b}\" \"${c:0:2}\" ~root", true),
    ("echo a;#c", true),
    ("cat <<EOF; cat <<EOF2\na\nEOF\nb\nEOF2\nls", true),
    ("echo $'\\'' 'a'\\''b'", true),
    ("[[ a && ( b || c ) ]]", true),
    ("coproc { echo; }", true),
    ("until :; do :; done &", true),
    ("echo |;", false),
    ("echo || ;", false),
    ("( )", false),
    ("{ ;}", false),
    ("if then fi", false),
    ("for in; do :; done", true),
    ("echo ${x", false),
    ("echo \"$(echo \")\"", false),
    ("echo $(echo ')", false),
    ("{ echo; ", false),
    ("while :", false),
    ("echo a >>", false),
    ("echo <<", false),
    ("cat <<< ", false),
    ("function", false),
    ("echo 'a", false),
    ("echo \"a", false),
    ("echo \"a\\", false),
    ("echo $'a", false),
    ("echo $(", false),
    ("echo $((1+2)", false),
    ("((1+2)", false),
    ("echo ${", false),
    ("echo `", false),
    ("$(", false),
    ("(echo", false),
    ("echo )", false),
    ("()", false),
    ("{ }", false),
    ("{echo; }", false),
    ("} ", false),
    ("in", false),
    ("]]", false),
    ("done", false),
    ("fi", false),
    ("then", false),
    (";", false),
    ("echo a; ;", false),
    ("echo a & ;", false),
    ("echo ;;", false),
    ("true |", false),
    ("a | | b", false),
    ("&& x", false),
    ("a &&", false),
    ("a ||", false),
    ("echo & & x", false),
    ("if true; then fi", false),
    ("if true; then :; else fi", false),
    ("if ; then :; fi", false),
    ("if true; then :", false),
    ("while true; do :", false),
    ("for x in a b c do; done", false),
    ("case x in a) b", false),
    ("f()", false),
    ("f() x", false),
    ("function f", false),
    ("a=(1 2", false),
    ("echo a=(1)", false),
    ("echo >", false),
    ("echo > ;", false),
    ("echo \"${x:-it's}\"", false),
    ("cat < <(a", false),
    ("x=`a", false),
];

#[test]
fn parsed_agrees_with_bash_n() {
    let bash = std::path::Path::new("/bin/bash");
    assert!(bash.exists(), "/bin/bash is needed for this test");
    assert!(BASH_N_CASES.len() >= 60);
    let mut mismatches = Vec::new();
    for &(src, expected) in BASH_N_CASES {
        let out = std::process::Command::new(bash)
            .args(["-n", "-c", src])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run bash -n");
        let bash_ok = out.status.success();
        // The table itself is checked against bash, so it cannot drift.
        assert_eq!(
            bash_ok, expected,
            "bash -n disagrees with the table for {src:?}"
        );
        let ours = analyze(src).parsed;
        if ours != bash_ok {
            mismatches.push((src, bash_ok, analyze(src).error));
        }
    }
    assert!(
        mismatches.is_empty(),
        "parsed differs from bash -n: {mismatches:#?}"
    );
}

/// A small deterministic generator (xorshift) for garbage inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn garbage_input_never_panics() {
    const PIECES: &[&str] = &[
        " ", "\n", ";", "&", "|", "(", ")", "{", "}", "<", ">", "<<", "<<<", "'", "\"", "`", "$",
        "$(", "${", "$((", "))", "\\", "#", "if", "then", "fi", "case", "in", "esac", ";;", "do",
        "done", "for", "while", "[[", "]]", "sudo", "bash", "-c", "x", "EOF", "=", "*", "$'",
        "\\x4", "find", "-exec", "\\;", "env", "-S", "eval", "!", "é", "\t", "ssh", "-é", "-ué",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = Instant::now();
    for _ in 0..20_000 {
        let mut s = String::new();
        let n = (rng.next() % 40) as usize;
        for _ in 0..n {
            if rng.next().is_multiple_of(4) {
                s.push(char::from((rng.next() % 128) as u8));
            } else {
                s.push_str(PIECES[(rng.next() % PIECES.len() as u64) as usize]);
            }
        }
        let a = analyze(&s);
        assert!(a.commands.len() <= parser::MAX_COMMANDS);
        if !a.parsed {
            assert!(a.error.is_some());
        }
    }
    // Random bytes interpreted as (lossy) UTF-8.
    for _ in 0..5_000 {
        let n = (rng.next() % 200) as usize;
        let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        analyze(&String::from_utf8_lossy(&bytes));
    }
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn deep_nesting_is_bounded() {
    let cases = [
        "$(".repeat(1000) + "rm" + &")".repeat(1000),
        "echo ".to_string() + &"$(".repeat(1000) + "rm" + &")".repeat(1000),
        "(".repeat(10_000),
        "((".repeat(5_000) + &"))".repeat(5_000),
        "{ ".repeat(5_000),
        "`".repeat(5_000),
        "\"$(".repeat(3000),
        "${".repeat(5_000),
        "if ".repeat(5_000),
        "bash -c '".to_string() + &"eval ".repeat(3000),
        "sudo ".repeat(3000) + "rm",
        "a | ".repeat(3000) + "b",
        "a=(".repeat(3000),
        "<(".repeat(5_000),
        "cat <<E\n".repeat(3000),
        "a;".repeat(4000),
    ];
    for src in &cases {
        let start = Instant::now();
        let a = analyze(src);
        let elapsed = start.elapsed();
        assert!(
            elapsed < Duration::from_secs(2),
            "{} took {elapsed:?}",
            &src[..20]
        );
        assert!(a.commands.len() <= parser::MAX_COMMANDS);
    }
    let a = analyze(&("echo ".to_string() + &"$(".repeat(1000) + "rm" + &")".repeat(1000)));
    assert!(a.truncated);
    assert!(!a.parsed);
    assert_eq!(a.commands[0].argv[0], "echo");
    let a = analyze(&"a;".repeat(4000));
    assert!(a.truncated);
    // Oversized input is cut, not rejected.
    let a = analyze(&"x ".repeat(MAX_INPUT));
    assert!(a.truncated);
}

#[test]
fn nesting_within_limits_is_complete() {
    let src = "echo ".to_string() + &"$(echo ".repeat(9) + "$(rm -rf /" + &")".repeat(10);
    let a = analyze(&src);
    assert!(a.parsed && !a.truncated, "{:?}", a.error);
    assert_eq!(find(&a, RM).depth, 10);
}

#[test]
fn non_ascii_options_do_not_panic() {
    for src in [
        "sudo -é rm",
        "sudo -aé rm",
        "xargs -é",
        "env -é rm",
        "nice -é5 rm",
        "bash -é -c x",
    ] {
        let a = analyze(src);
        assert!(a.parsed, "{src}");
    }
    assert!(!find(&analyze("sudo -é rm"), &["rm"]).certain);
}

#[test]
fn long_hostile_inputs_are_fast() {
    for piece in [
        "[", ")", "a", "'", "\"", "((", "$((", "{", "1", "#", "\\", "$", "`", ";;", "<<E\n", "fi ",
        "[[ ",
    ] {
        let src = piece.repeat(MAX_INPUT / piece.len());
        let start = Instant::now();
        let a = analyze(&src);
        let elapsed = start.elapsed();
        assert!(
            elapsed < Duration::from_millis(1500),
            "{piece:?} x {} took {elapsed:?}",
            src.len()
        );
        assert!(a.commands.len() <= parser::MAX_COMMANDS);
    }
}
