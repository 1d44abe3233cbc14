//! Hand-written bash lexer and recursive-descent parser.
//!
//! The parser does not build a syntax tree: it walks the input once and appends every simple
//! command it meets to a shared output list, recursing into substitutions, compound commands,
//! here-documents and (through [`super::launchers`]) into the commands that launchers start.

use super::launchers::{self, Plan};
use super::{Assignment, ExecutedCommand, Origin, Redirect};

/// Maximum structural nesting (subshells, groups, compound commands, substitutions, shell
/// strings, launchers) before the analysis stops with `truncated`.
pub(super) const MAX_NEST: u32 = 32;
/// Maximum number of commands reported before the analysis stops with `truncated`.
pub(super) const MAX_COMMANDS: usize = 1000;

/// State shared by the parser of the analysed input and the parsers of nested strings.
#[derive(Default)]
pub(super) struct Ctx {
    pub(super) out: Vec<ExecutedCommand>,
    pub(super) error: Option<String>,
    pub(super) truncated: bool,
    /// A limit was hit: every parser sees end of input from now on.
    abort: bool,
    nest: u32,
    /// Greater than zero while parsing text whose runtime value is unknown: syntax errors there
    /// are not reported.
    quiet: u32,
}

/// A here-document whose body has not been read yet.
struct Pending {
    delim: Vec<u8>,
    strip_tabs: bool,
    quoted: bool,
    /// `(command index, redirect index)` receiving the body.
    target: Option<(usize, usize)>,
    /// Shell command that reads the body as a script.
    shell: Option<usize>,
}

/// A word after quote removal.
pub(super) struct Word {
    pub(super) text: String,
    pub(super) dynamic: bool,
    pub(super) quoted: bool,
    /// Byte offset of the `=` of a leading `NAME=` (or `NAME+=`, `NAME[..]=`).
    pub(super) assign: Option<usize>,
}

/// Parser over one source text (the analysed input or a nested script).
pub(super) struct Parser<'s, 'c> {
    src: &'s [u8],
    pos: usize,
    ctx: &'c mut Ctx,
    /// Origin, depth and parent given to the simple commands parsed at this point.
    origin: Origin,
    depth: u8,
    parent: Option<usize>,
    /// `src` is the analysed input: top-level commands get spans.
    root: bool,
    pending: Vec<Pending>,
}

const META: u8 = 1;
const SPECIAL: u8 = 2;

/// Byte classes: `META` ends a word, `SPECIAL` needs attention inside a word.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let meta = b" \t\n;&|<>()";
    let mut i = 0;
    while i < meta.len() {
        t[meta[i] as usize] = META | SPECIAL;
        i += 1;
    }
    let special = b"\\'\"$`*?[~{}=";
    let mut i = 0;
    while i < special.len() {
        t[special[i] as usize] = SPECIAL;
        i += 1;
    }
    t
};

fn is_meta(c: u8) -> bool {
    CLASS[c as usize] & META != 0
}

const RESERVED: &[&str] = &[
    "if", "then", "elif", "else", "fi", "do", "done", "case", "esac", "while", "until", "for",
    "select", "function", "time", "in", "{", "}", "!", "[[", "]]", "coproc",
];

fn bytes_to_string(v: Vec<u8>) -> String {
    String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// `NAME`, `NAME+`, `NAME[...]` or `NAME[...]+`: the part of an assignment before `=`.
fn is_assign_lhs(b: &[u8]) -> bool {
    let b = b.strip_suffix(b"+").unwrap_or(b);
    let name_end = b.iter().position(|&c| !is_name_char(c)).unwrap_or(b.len());
    if name_end == 0 || !is_name_start(b[0]) {
        return false;
    }
    let rest = &b[name_end..];
    rest.is_empty() || (rest.len() >= 2 && rest[0] == b'[' && rest[rest.len() - 1] == b']')
}

pub(super) fn is_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && is_name_start(b[0]) && b.iter().all(|&c| is_name_char(c))
}

impl<'s, 'c> Parser<'s, 'c> {
    pub(super) fn new(
        src: &'s [u8],
        ctx: &'c mut Ctx,
        origin: Origin,
        depth: u8,
        parent: Option<usize>,
        root: bool,
    ) -> Self {
        Parser {
            src,
            pos: 0,
            ctx,
            origin,
            depth,
            parent,
            root,
            pending: Vec::new(),
        }
    }

    // ----- low level -------------------------------------------------------------------------

    fn peek(&self) -> Option<u8> {
        if self.ctx.abort {
            None
        } else {
            self.src.get(self.pos).copied()
        }
    }

    fn peek_at(&self, off: usize) -> Option<u8> {
        if self.ctx.abort {
            None
        } else {
            self.src.get(self.pos + off).copied()
        }
    }

    fn error(&mut self, msg: impl Into<String>) {
        if self.ctx.quiet == 0 && self.ctx.error.is_none() {
            self.ctx.error = Some(msg.into());
        }
    }

    /// A limit was reached: stop everything.
    fn limit(&mut self, what: &str) {
        self.ctx.truncated = true;
        self.ctx.abort = true;
        if self.ctx.error.is_none() {
            self.ctx.error = Some(format!("analysis stopped: {what}"));
        }
    }

    fn enter(&mut self) -> bool {
        if self.ctx.nest >= MAX_NEST {
            self.limit("nesting too deep");
            return false;
        }
        self.ctx.nest += 1;
        true
    }

    fn leave(&mut self) {
        self.ctx.nest = self.ctx.nest.saturating_sub(1);
    }

    /// Skips blanks, line continuations and comments (never newlines).
    fn skip_blanks(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' => self.pos += 1,
                b'\\' if self.peek_at(1) == Some(b'\n') => self.pos += 2,
                b'#' => {
                    let rest = &self.src[self.pos..];
                    self.pos += memchr::memchr(b'\n', rest).unwrap_or(rest.len());
                }
                _ => break,
            }
        }
    }

    /// Consumes a newline token and reads the bodies of pending here-documents.
    fn newline(&mut self) {
        self.pos += 1;
        if !self.pending.is_empty() {
            self.read_heredocs();
        }
    }

    fn skip_newlines(&mut self) {
        loop {
            self.skip_blanks();
            if self.peek() == Some(b'\n') {
                self.newline();
            } else {
                break;
            }
        }
    }

    /// The reserved word at the current position, if the next token is one.
    fn peek_reserved(&self) -> Option<&'static str> {
        if self.ctx.abort {
            return None;
        }
        let rest = &self.src[self.pos.min(self.src.len())..];
        let len = rest
            .iter()
            .take(9)
            .position(|&c| is_meta(c))
            .unwrap_or(rest.len().min(9));
        if len == 0 || len > 8 {
            return None;
        }
        let w = &rest[..len];
        RESERVED.iter().copied().find(|r| r.as_bytes() == w)
    }

    fn at_reserved(&self, word: &str) -> bool {
        self.peek_reserved() == Some(word)
    }

    /// End of a list: end of input, `)`, a case terminator or a closing reserved word.
    fn at_list_end(&self) -> bool {
        match self.peek() {
            None | Some(b')') => true,
            Some(b';') => matches!(self.peek_at(1), Some(b';' | b'&')),
            Some(_) => matches!(
                self.peek_reserved(),
                Some("then" | "elif" | "else" | "fi" | "do" | "done" | "esac" | "}")
            ),
        }
    }

    /// Text of the token at the current position, for error messages.
    fn token_text(&self) -> String {
        let rest = &self.src[self.pos.min(self.src.len())..];
        let op_len = match rest {
            [b';', b';', b'&', ..] => 3,
            [b';', b';' | b'&', ..] | [b'&', b'&', ..] | [b'|', b'|' | b'&', ..] => 2,
            [b';' | b'&' | b'|' | b'(' | b')' | b'<' | b'>', ..] => 1,
            [b'\n', ..] => return "newline".into(),
            _ => rest
                .iter()
                .position(|&c| is_meta(c))
                .unwrap_or(rest.len())
                .max(1),
        };
        String::from_utf8_lossy(&rest[..op_len.min(rest.len())]).into_owned()
    }

    fn unexpected(&mut self) {
        if self.ctx.error.is_some() || self.ctx.quiet > 0 {
            return;
        }
        if self.peek().is_none() {
            self.error("syntax error: unexpected end of file");
        } else {
            let t = self.token_text();
            self.error(format!("syntax error near unexpected token `{t}'"));
        }
    }

    /// Skips one token after a syntax error (always makes progress unless at end of input).
    fn skip_token(&mut self) {
        let Some(c) = self.peek() else { return };
        let n = match (c, self.peek_at(1), self.peek_at(2)) {
            (b';', Some(b';'), Some(b'&')) => 3,
            (b';', Some(b';' | b'&'), _) | (b'&', Some(b'&'), _) | (b'|', Some(b'|' | b'&'), _) => {
                2
            }
            (b';' | b'&' | b'|' | b'(' | b')' | b'<' | b'>' | b'\n', _, _) => 1,
            _ => {
                if let Some(r) = self.peek_reserved() {
                    r.len()
                } else {
                    let before = self.pos;
                    self.read_word();
                    usize::from(self.pos == before)
                }
            }
        };
        self.pos += n;
    }

    // ----- lists and pipelines ---------------------------------------------------------------

    /// Parses a whole program (the analysed input or a nested shell string).
    pub(super) fn parse_program(&mut self) {
        loop {
            self.parse_list();
            self.skip_blanks();
            if self.peek().is_none() {
                break;
            }
            self.unexpected();
            self.skip_token();
        }
        if !self.pending.is_empty() {
            self.pos = self.src.len();
            self.read_heredocs();
        }
    }

    /// Parses `and_or ((; | & | newline) and_or)*`; returns whether any command was parsed.
    fn parse_list(&mut self) -> bool {
        let mut any = false;
        loop {
            self.skip_newlines();
            if self.at_list_end() {
                break;
            }
            let before = self.pos;
            self.parse_and_or();
            any = true;
            self.skip_blanks();
            match self.peek() {
                Some(b';') if !matches!(self.peek_at(1), Some(b';' | b'&')) => self.pos += 1,
                Some(b'&') if !matches!(self.peek_at(1), Some(b'&' | b'>')) => self.pos += 1,
                Some(b'\n') => self.newline(),
                _ => break,
            }
            if self.pos == before {
                break;
            }
        }
        any
    }

    fn parse_and_or(&mut self) {
        self.parse_pipeline();
        loop {
            self.skip_blanks();
            match (self.peek(), self.peek_at(1)) {
                (Some(b'&'), Some(b'&')) | (Some(b'|'), Some(b'|')) => {
                    self.pos += 2;
                    self.skip_newlines();
                    self.parse_pipeline();
                }
                _ => break,
            }
        }
    }

    fn parse_pipeline(&mut self) {
        let mut prefixed = false;
        loop {
            self.skip_blanks();
            match self.peek_reserved() {
                Some("!") => self.pos += 1,
                Some("time") => {
                    // `time simple-command` is left to the launcher logic; `time` before a
                    // compound command, `!` or nothing is the pipeline keyword.
                    let save = self.pos;
                    self.pos += 4;
                    self.skip_blanks();
                    if self.src[self.pos..].starts_with(b"-p")
                        && self.src.get(self.pos + 2).is_none_or(|&c| is_meta(c))
                    {
                        self.pos += 2;
                        self.skip_blanks();
                    }
                    let keyword = match self.peek() {
                        None | Some(b'\n' | b';' | b'&' | b'|' | b'(' | b')') => true,
                        Some(_) => self.peek_reserved().is_some(),
                    };
                    if !keyword {
                        self.pos = save;
                        break;
                    }
                }
                _ => break,
            }
            prefixed = true;
        }
        if prefixed && (self.at_list_end() || matches!(self.peek(), Some(b'\n' | b';' | b'&'))) {
            return;
        }
        let p0 = self.pending.len();
        let mut stages: Vec<Option<(usize, usize)>> = Vec::new();
        stages.push(self.parse_command());
        loop {
            self.skip_blanks();
            match (self.peek(), self.peek_at(1)) {
                (Some(b'|'), Some(b'&')) => self.pos += 2,
                (Some(b'|'), next) if next != Some(b'|') => self.pos += 1,
                _ => break,
            }
            self.skip_newlines();
            stages.push(self.parse_command());
        }
        if stages.len() < 2 {
            return;
        }
        // Here-documents and here-strings piped into a shell: `cat <<EOF | sh`.
        let Some(Some((_, shell))) = stages.last().copied() else {
            return;
        };
        if !self.reads_stdin_script(shell) {
            return;
        }
        let p0 = p0.min(self.pending.len());
        for p in &mut self.pending[p0..] {
            if p.shell.is_none() {
                p.shell = Some(shell);
            }
        }
        for (outer, _) in stages[..stages.len() - 1]
            .iter()
            .flatten()
            .copied()
            .collect::<Vec<_>>()
        {
            self.feed_herestrings(outer, shell);
        }
    }

    /// Whether the command at `idx` is a shell reading its script from standard input.
    fn reads_stdin_script(&self, idx: usize) -> bool {
        self.ctx
            .out
            .get(idx)
            .is_some_and(|c| launchers::shell_reads_stdin(&c.argv, &c.dynamic))
    }

    /// Parses the here-strings of command `outer` as scripts read by shell `shell`.
    fn feed_herestrings(&mut self, outer: usize, shell: usize) {
        let texts: Vec<String> = match self.ctx.out.get(outer) {
            Some(c) => c
                .redirects
                .iter()
                .filter(|r| r.op == "<<<")
                .map(|r| r.target.clone())
                .collect(),
            None => return,
        };
        for t in texts {
            let dynamic = memchr::memchr2(b'$', b'`', t.as_bytes()).is_some();
            self.run_string(&t, Origin::ShellInput, Some(shell), dynamic);
        }
    }

    // ----- commands --------------------------------------------------------------------------

    /// Parses one command. Returns `(index, effective index)` of a simple command, where the
    /// effective index is the innermost command started through launchers.
    fn parse_command(&mut self) -> Option<(usize, usize)> {
        self.skip_blanks();
        let Some(c) = self.peek() else {
            self.unexpected();
            return None;
        };
        if let Some(r) = self.peek_reserved() {
            match r {
                "{" => {
                    self.pos += 1;
                    self.compound(|p| p.group());
                    return None;
                }
                "if" | "while" | "until" | "for" | "select" | "case" | "[[" => {
                    self.pos += r.len();
                    self.compound(|p| match r {
                        "if" => p.if_clause(),
                        "while" | "until" => p.while_clause(),
                        "for" | "select" => p.for_clause(),
                        "case" => p.case_clause(),
                        _ => p.cond_command(),
                    });
                    return None;
                }
                "function" => {
                    self.pos += r.len();
                    self.function_keyword();
                    return None;
                }
                "coproc" => {
                    self.pos += r.len();
                    self.skip_blanks();
                    return self.coproc();
                }
                "!" | "time" => {}
                _ => {
                    self.unexpected();
                    return None;
                }
            }
        }
        match c {
            b'(' => {
                if self.peek_at(1) == Some(b'(')
                    && let Some(end) = self.arith_end(self.pos)
                {
                    let start = self.pos + 2;
                    self.pos = start;
                    self.scan_expansions(end - 2);
                    self.pos = end;
                    self.redirects_after_compound();
                } else {
                    self.pos += 1;
                    self.compound(|p| p.subshell());
                }
                None
            }
            b')' | b';' | b'|' | b'\n' => {
                self.unexpected();
                None
            }
            b'&' if self.peek_at(1) != Some(b'>') => {
                self.unexpected();
                None
            }
            _ => self.parse_simple(),
        }
    }

    /// Runs a compound-command body parser with nesting accounting, then its redirections.
    fn compound(&mut self, body: impl FnOnce(&mut Self)) {
        if !self.enter() {
            return;
        }
        body(self);
        self.leave();
        self.redirects_after_compound();
    }

    fn redirects_after_compound(&mut self) {
        loop {
            self.skip_blanks();
            if self.at_redirect().is_some() {
                let fd = self.redirect_fd();
                self.parse_redirect(fd, None);
            } else {
                break;
            }
        }
    }

    fn coproc(&mut self) -> Option<(usize, usize)> {
        if !self.enter() {
            return None;
        }
        let r = self.coproc_body();
        self.leave();
        r
    }

    fn coproc_body(&mut self) -> Option<(usize, usize)> {
        // `coproc NAME compound`: skip the name.
        let rest = &self.src[self.pos.min(self.src.len())..];
        let n = rest
            .iter()
            .position(|&c| !is_name_char(c))
            .unwrap_or(rest.len());
        if n > 0 && self.peek_reserved().is_none() {
            let after = &rest[n..];
            let blanks = after
                .iter()
                .position(|&c| c != b' ' && c != b'\t')
                .unwrap_or(after.len());
            if matches!(after.get(blanks), Some(b'{' | b'(')) {
                self.pos += n;
            }
        }
        self.parse_command()
    }

    fn expect_reserved(&mut self, word: &str) -> bool {
        self.skip_newlines();
        if self.at_reserved(word) {
            self.pos += word.len();
            true
        } else {
            self.unexpected();
            false
        }
    }

    /// A list that must not be empty (bash rejects `if true; then fi`).
    fn nonempty_list(&mut self) -> bool {
        if self.parse_list() {
            true
        } else {
            self.unexpected();
            false
        }
    }

    fn group(&mut self) {
        if self.nonempty_list() {
            self.expect_reserved("}");
        }
    }

    fn subshell(&mut self) {
        if self.nonempty_list() {
            self.close_paren();
        }
    }

    /// Expects `)`, reporting and recovering on anything else.
    fn close_paren(&mut self) {
        loop {
            self.skip_newlines();
            match self.peek() {
                Some(b')') => {
                    self.pos += 1;
                    return;
                }
                None => {
                    self.error("syntax error: unexpected end of file while looking for `)'");
                    return;
                }
                Some(_) => {
                    self.unexpected();
                    self.skip_token();
                    self.parse_list();
                }
            }
        }
    }

    fn if_clause(&mut self) {
        if !self.nonempty_list() || !self.expect_reserved("then") || !self.nonempty_list() {
            return;
        }
        loop {
            self.skip_newlines();
            match self.peek_reserved() {
                Some("elif") => {
                    self.pos += 4;
                    if !self.nonempty_list()
                        || !self.expect_reserved("then")
                        || !self.nonempty_list()
                    {
                        return;
                    }
                }
                Some("else") => {
                    self.pos += 4;
                    if self.nonempty_list() {
                        self.expect_reserved("fi");
                    }
                    return;
                }
                Some("fi") => {
                    self.pos += 2;
                    return;
                }
                _ => {
                    self.unexpected();
                    return;
                }
            }
        }
    }

    fn while_clause(&mut self) {
        if self.nonempty_list() && self.expect_reserved("do") && self.nonempty_list() {
            self.expect_reserved("done");
        }
    }

    fn do_group(&mut self) {
        self.skip_newlines();
        if self.at_reserved("{") {
            self.pos += 1;
            self.group();
        } else if self.expect_reserved("do") && self.nonempty_list() {
            self.expect_reserved("done");
        }
    }

    fn for_clause(&mut self) {
        self.skip_blanks();
        if self.peek() == Some(b'(') && self.peek_at(1) == Some(b'(') {
            let Some(end) = self.arith_end(self.pos) else {
                self.unexpected();
                return;
            };
            self.pos += 2;
            self.scan_expansions(end - 2);
            self.pos = end;
            self.skip_blanks();
            if self.peek() == Some(b';') {
                self.pos += 1;
            }
            self.do_group();
            return;
        }
        let before = self.pos;
        let name = self.read_word();
        if self.pos == before || !is_name(&name.text) || name.quoted {
            self.unexpected();
            return;
        }
        self.skip_newlines();
        if self.at_reserved("in") {
            self.pos += 2;
            loop {
                self.skip_blanks();
                match self.peek() {
                    Some(b';') => {
                        self.pos += 1;
                        break;
                    }
                    Some(b'\n') => {
                        self.newline();
                        break;
                    }
                    None => break,
                    Some(c) if is_meta(c) => {
                        self.unexpected();
                        return;
                    }
                    Some(_) => {
                        self.read_word();
                    }
                }
            }
        } else if self.peek() == Some(b';') {
            self.pos += 1;
        }
        self.do_group();
    }

    fn case_clause(&mut self) {
        self.skip_blanks();
        let before = self.pos;
        self.read_word();
        if self.pos == before {
            self.unexpected();
            return;
        }
        if !self.expect_reserved("in") {
            return;
        }
        loop {
            self.skip_newlines();
            if self.at_reserved("esac") {
                self.pos += 4;
                return;
            }
            if self.peek().is_none() {
                self.unexpected();
                return;
            }
            if self.peek() == Some(b'(') {
                self.pos += 1;
            }
            // Patterns: word (| word)* )
            loop {
                self.skip_blanks();
                let before = self.pos;
                self.read_word();
                self.skip_blanks();
                if self.pos == before {
                    self.unexpected();
                    return;
                }
                match self.peek() {
                    Some(b'|') => self.pos += 1,
                    Some(b')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => {
                        self.unexpected();
                        return;
                    }
                }
            }
            self.parse_list();
            self.skip_newlines();
            match (self.peek(), self.peek_at(1), self.peek_at(2)) {
                (Some(b';'), Some(b';'), Some(b'&')) => self.pos += 3,
                (Some(b';'), Some(b';' | b'&'), _) => self.pos += 2,
                _ if self.at_reserved("esac") => {}
                _ => {
                    self.unexpected();
                    return;
                }
            }
        }
    }

    /// `[[ ... ]]`: not a command, but expansions inside run.
    fn cond_command(&mut self) {
        loop {
            self.skip_blanks();
            let Some(c) = self.peek() else {
                self.unexpected();
                return;
            };
            if self.at_reserved("]]") {
                self.pos += 2;
                return;
            }
            match c {
                b'\n' => self.newline(),
                b'(' | b')' | b'|' | b'&' | b'<' | b'>' | b';' => self.pos += 1,
                _ => {
                    let before = self.pos;
                    self.read_word();
                    if self.pos == before {
                        self.pos += 1;
                    }
                }
            }
        }
    }

    fn function_keyword(&mut self) {
        self.skip_blanks();
        let before = self.pos;
        self.read_word();
        if self.pos == before {
            self.unexpected();
            return;
        }
        self.skip_blanks();
        if self.peek() == Some(b'(') {
            self.pos += 1;
            self.skip_blanks();
            if self.peek() != Some(b')') {
                self.unexpected();
                return;
            }
            self.pos += 1;
        }
        self.function_body();
    }

    fn function_body(&mut self) {
        self.skip_newlines();
        let compound = match self.peek() {
            Some(b'(') => true,
            Some(_) => matches!(
                self.peek_reserved(),
                Some("{" | "if" | "while" | "until" | "for" | "select" | "case" | "[[")
            ),
            None => false,
        };
        if compound {
            self.parse_command();
        } else {
            self.unexpected();
        }
    }

    // ----- simple commands -------------------------------------------------------------------

    /// If a redirection operator starts here, its length including a leading fd number.
    fn at_redirect(&self) -> Option<()> {
        let rest = &self.src[self.pos.min(self.src.len())..];
        if self.ctx.abort {
            return None;
        }
        let digits = rest
            .iter()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let mut i = digits;
        if digits == 0 && rest.first() == Some(&b'{') {
            // `{fd}>file`
            let n = rest[1..]
                .iter()
                .position(|&c| !is_name_char(c))
                .unwrap_or(0);
            if n > 0 && rest.get(1 + n) == Some(&b'}') {
                i = n + 2;
            }
        }
        match (rest.get(i), rest.get(i + 1)) {
            (Some(b'<' | b'>'), Some(b'(')) if i == 0 => None,
            (Some(b'<' | b'>'), _) => Some(()),
            (Some(b'&'), Some(b'>')) if i == 0 => Some(()),
            _ => None,
        }
    }

    /// Consumes an fd prefix (`2`, `{fd}`) of a redirection and returns the number.
    fn redirect_fd(&mut self) -> Option<u32> {
        let rest = &self.src[self.pos..];
        let digits = rest
            .iter()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits > 0 {
            self.pos += digits;
            return std::str::from_utf8(&rest[..digits]).ok()?.parse().ok();
        }
        if rest.first() == Some(&b'{') {
            let n = rest.iter().position(|&c| c == b'}').unwrap_or(0);
            self.pos += n + 1;
        }
        None
    }

    /// Parses a redirection operator and its target; `target` receives a here-document body.
    fn parse_redirect(&mut self, fd: Option<u32>, target: Option<(usize, usize)>) -> Redirect {
        let rest = &self.src[self.pos..];
        let op: &'static str = match rest {
            [b'<', b'<', b'<', ..] => "<<<",
            [b'<', b'<', b'-', ..] => "<<-",
            [b'<', b'<', ..] => "<<",
            [b'<', b'>', ..] => "<>",
            [b'<', b'&', ..] => "<&",
            [b'>', b'>', ..] => ">>",
            [b'>', b'|', ..] => ">|",
            [b'>', b'&', ..] => ">&",
            [b'&', b'>', b'>', ..] => "&>>",
            [b'&', b'>', ..] => "&>",
            [b'<', ..] => "<",
            _ => ">",
        };
        self.pos += op.len();
        self.skip_blanks();
        let ok = match self.peek() {
            None => false,
            Some(b'<' | b'>') => self.peek_at(1) == Some(b'('),
            Some(c) => !is_meta(c),
        };
        let mut r = Redirect {
            fd,
            op: op.to_string(),
            ..Default::default()
        };
        if !ok {
            self.unexpected();
            return r;
        }
        let w = self.read_word();
        if op == "<<" || op == "<<-" {
            self.pending.push(Pending {
                delim: w.text.as_bytes().to_vec(),
                strip_tabs: op == "<<-",
                quoted: w.quoted,
                target,
                shell: None,
            });
        }
        r.target = w.text;
        r
    }

    fn parse_simple(&mut self) -> Option<(usize, usize)> {
        let idx = self.ctx.out.len();
        if idx >= MAX_COMMANDS {
            self.limit("too many commands");
            return None;
        }
        let start = self.pos;
        self.ctx.out.push(ExecutedCommand::default());
        let mut argv: Vec<String> = Vec::new();
        let mut dynamic: Vec<bool> = Vec::new();
        let mut assignments: Vec<Assignment> = Vec::new();
        let mut end = self.pos;
        loop {
            self.skip_blanks();
            let Some(c) = self.peek() else { break };
            match c {
                b'\n' | b';' | b'|' | b')' => break,
                b'&' if self.peek_at(1) != Some(b'>') => break,
                b'(' => {
                    let first_plain = argv.len() == 1 && !dynamic[0] && assignments.is_empty();
                    if first_plain && self.ctx.out[idx].redirects.is_empty() {
                        // `name () compound`: a function definition, not a command.
                        self.pos += 1;
                        self.skip_blanks();
                        if self.peek() == Some(b')') {
                            self.pos += 1;
                            self.remove_command(idx);
                            self.function_body();
                            return None;
                        }
                    }
                    self.unexpected();
                    break;
                }
                _ if self.at_redirect().is_some() => {
                    let fd = self.redirect_fd();
                    let ri = self.ctx.out[idx].redirects.len();
                    let r = self.parse_redirect(fd, Some((idx, ri)));
                    if let Some(cmd) = self.ctx.out.get_mut(idx) {
                        cmd.redirects.push(r);
                    }
                }
                _ => {
                    let before = self.pos;
                    let w = self.read_word();
                    if self.pos == before {
                        self.unexpected();
                        self.pos += 1;
                        continue;
                    }
                    let array = w.assign.is_some_and(|i| i + 1 == w.text.len())
                        && self.peek() == Some(b'(')
                        && (argv.is_empty() || launchers::is_declaration(&argv[0]));
                    if let Some(eq) = w.assign.filter(|_| argv.is_empty()) {
                        let name = w.text[..eq].trim_end_matches('+').to_string();
                        let mut value = w.text[eq + 1..].to_string();
                        if array {
                            value = self.array_value();
                        }
                        assignments.push(Assignment { name, value });
                    } else {
                        let mut text = w.text;
                        if array {
                            text.push_str(&self.array_value());
                        }
                        argv.push(text);
                        dynamic.push(w.dynamic || array);
                    }
                }
            }
            end = self.pos;
        }
        let span = (self.root && self.depth == 0).then_some(start..end);
        if let Some(cmd) = self.ctx.out.get_mut(idx) {
            cmd.argv = argv;
            cmd.dynamic = dynamic;
            cmd.assignments = assignments;
            cmd.origin = self.origin;
            cmd.parent = self.parent;
            cmd.certain = true;
            cmd.depth = self.depth;
            cmd.span = span;
        }
        let eff = self.unwrap_launchers(idx);
        // `bash <<EOF`, `sudo sh <<< 'cmd'`: the input is a script.
        if self.reads_stdin_script(eff) {
            for p in &mut self.pending {
                if p.target.is_some_and(|(c, _)| c == idx) {
                    p.shell = Some(eff);
                }
            }
            self.feed_herestrings(idx, eff);
        }
        Some((idx, eff))
    }

    /// `name=(a b c)` after the `=`: returns the source text of the array.
    fn array_value(&mut self) -> String {
        let start = self.pos;
        self.pos += 1;
        loop {
            self.skip_newlines();
            match self.peek() {
                Some(b')') => {
                    self.pos += 1;
                    break;
                }
                None => {
                    self.unexpected();
                    break;
                }
                Some(c) if is_meta(c) && self.at_redirect().is_none() => {
                    self.unexpected();
                    self.pos += 1;
                }
                Some(_) => {
                    let before = self.pos;
                    self.read_word();
                    if self.pos == before {
                        self.pos += 1;
                    }
                }
            }
        }
        String::from_utf8_lossy(&self.src[start..self.pos]).into_owned()
    }

    /// Removes the command at `idx` (a placeholder that turned out to be a function name).
    fn remove_command(&mut self, idx: usize) {
        if idx + 1 == self.ctx.out.len() {
            self.ctx.out.pop();
            return;
        }
        self.ctx.out.remove(idx);
        for c in &mut self.ctx.out[idx..] {
            if let Some(p) = c.parent.as_mut()
                && *p > idx
            {
                *p -= 1;
            }
        }
        for p in &mut self.pending {
            if let Some((c, _)) = p.target.as_mut()
                && *c > idx
            {
                *c -= 1;
            }
            if let Some(s) = p.shell.as_mut()
                && *s > idx
            {
                *s -= 1;
            }
        }
    }

    // ----- launchers and nested scripts ------------------------------------------------------

    /// Emits the commands started by the launcher at `idx` (recursively); returns the index of
    /// the innermost command of the first chain.
    fn unwrap_launchers(&mut self, idx: usize) -> usize {
        let plans = match self.ctx.out.get(idx) {
            Some(c) => launchers::plan(&c.argv, &c.dynamic),
            None => return idx,
        };
        if plans.is_empty() || !self.enter() {
            return idx;
        }
        let depth = self.ctx.out[idx].depth.saturating_add(1);
        let mut eff = None;
        for plan in plans {
            match plan {
                Plan::Exec {
                    argv,
                    dynamic,
                    kind,
                    certain,
                    assignments,
                } => {
                    if self.ctx.out.len() >= MAX_COMMANDS {
                        self.limit("too many commands");
                        break;
                    }
                    self.ctx.out.push(ExecutedCommand {
                        argv,
                        dynamic,
                        assignments,
                        origin: Origin::Launched(kind),
                        parent: Some(idx),
                        certain,
                        depth,
                        ..Default::default()
                    });
                    let inner = self.ctx.out.len() - 1;
                    let e = self.unwrap_launchers(inner);
                    eff.get_or_insert(e);
                }
                Plan::Shell {
                    text,
                    dynamic,
                    origin,
                } => {
                    self.run_string(&text, origin, Some(idx), dynamic);
                }
            }
        }
        self.leave();
        eff.unwrap_or(idx)
    }

    /// Parses `text` as a nested bash script run by command `parent`.
    fn run_string(&mut self, text: &str, origin: Origin, parent: Option<usize>, dynamic: bool) {
        let depth = match parent.and_then(|p| self.ctx.out.get(p)) {
            Some(c) => c.depth.saturating_add(1),
            None => self.depth.saturating_add(1),
        };
        if !self.enter() {
            return;
        }
        if dynamic {
            self.ctx.quiet += 1;
        }
        Parser::new(text.as_bytes(), self.ctx, origin, depth, parent, false).parse_program();
        if dynamic {
            self.ctx.quiet -= 1;
        }
        self.leave();
    }

    // ----- here-documents --------------------------------------------------------------------

    fn read_heredocs(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for p in pending {
            let mut body = Vec::new();
            while self.pos < self.src.len() && !self.ctx.abort {
                let rest = &self.src[self.pos..];
                let line_len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
                let mut line = &rest[..line_len];
                self.pos += (line_len + 1).min(rest.len());
                if p.strip_tabs {
                    let tabs = line.iter().position(|&c| c != b'\t').unwrap_or(line.len());
                    line = &line[tabs..];
                }
                if line == p.delim.as_slice() {
                    break;
                }
                body.extend_from_slice(line);
                if line_len < rest.len() {
                    body.push(b'\n');
                }
            }
            let body = bytes_to_string(body);
            if let Some(shell) = p.shell {
                let dynamic = !p.quoted && memchr::memchr2(b'$', b'`', body.as_bytes()).is_some();
                self.run_string(&body, Origin::ShellInput, Some(shell), dynamic);
            } else if !p.quoted
                && memchr::memchr2(b'$', b'`', body.as_bytes()).is_some()
                && self.enter()
            {
                // Expansions in an unquoted here-document run.
                let depth = self.depth;
                let mut sub = Parser::new(
                    body.as_bytes(),
                    self.ctx,
                    self.origin,
                    depth,
                    self.parent,
                    false,
                );
                sub.scan_expansions(body.len());
                self.leave();
            }
            if let Some((c, r)) = p.target
                && let Some(redir) = self.ctx.out.get_mut(c).and_then(|c| c.redirects.get_mut(r))
            {
                redir.heredoc = body;
            }
        }
    }

    // ----- words -----------------------------------------------------------------------------

    /// Reads one word (quote removal, expansions kept as source text).
    pub(super) fn read_word(&mut self) -> Word {
        let src = self.src;
        let start = self.pos;
        let mut buf: Vec<u8> = Vec::new();
        let mut dynamic = false;
        let mut quoted = false;
        let mut assign = None;
        let mut brace: Option<usize> = None;
        let mut bracket = false;
        // Where the last look-ahead for a closing `]` ended, and whether it found one.
        let mut close_scan: (usize, bool) = (0, false);
        while let Some(c) = self.peek() {
            if CLASS[c as usize] == 0 {
                let rest = &src[self.pos..];
                let n = rest
                    .iter()
                    .position(|&c| CLASS[c as usize] != 0)
                    .unwrap_or(rest.len());
                buf.extend_from_slice(&rest[..n]);
                self.pos += n;
                continue;
            }
            match c {
                b'<' | b'>' if self.peek_at(1) == Some(b'(') => {
                    let s = self.pos;
                    self.pos += 2;
                    self.nested_list(Origin::ProcessSubstitution);
                    buf.extend_from_slice(&src[s..self.pos]);
                    dynamic = true;
                }
                _ if is_meta(c) => break,
                b'\\' => match self.peek_at(1) {
                    Some(b'\n') => self.pos += 2,
                    Some(n) => {
                        buf.push(n);
                        self.pos += 2;
                        quoted = true;
                    }
                    None => {
                        buf.push(b'\\');
                        self.pos += 1;
                    }
                },
                b'\'' => {
                    self.single_quoted(&mut buf);
                    quoted = true;
                }
                b'"' => {
                    dynamic |= self.double_quoted(&mut buf);
                    quoted = true;
                }
                b'$' => match self.peek_at(1) {
                    Some(b'\'') => {
                        self.pos += 1;
                        self.ansi_c(&mut buf);
                        quoted = true;
                    }
                    Some(b'"') => {
                        self.pos += 1;
                        dynamic |= self.double_quoted(&mut buf);
                        quoted = true;
                    }
                    _ => dynamic |= self.dollar(&mut buf),
                },
                b'`' => {
                    self.backtick(&mut buf, false);
                    dynamic = true;
                }
                b'*' | b'?' => {
                    dynamic = true;
                    buf.push(c);
                    self.pos += 1;
                }
                b'[' => {
                    if self.pos >= close_scan.0 {
                        let rest = &src[self.pos + 1..];
                        let n = rest
                            .iter()
                            .position(|&c| is_meta(c) || c == b']')
                            .unwrap_or(rest.len());
                        close_scan = (self.pos + 1 + n, rest.get(n) == Some(&b']'));
                    }
                    if close_scan.1 {
                        // A glob, unless it is the subscript of an assignment `a[i]=x`.
                        if assign.is_none() && !quoted && is_assign_lhs(&buf) {
                            bracket = true;
                        } else {
                            dynamic = true;
                        }
                    }
                    buf.push(c);
                    self.pos += 1;
                }
                b'~' => {
                    if self.pos == start
                        || (assign.is_some() && matches!(buf.last(), Some(b'=' | b':')))
                    {
                        dynamic = true;
                    }
                    buf.push(c);
                    self.pos += 1;
                }
                b'{' => {
                    brace = Some(buf.len());
                    buf.push(c);
                    self.pos += 1;
                }
                b'}' => {
                    if let Some(b) = brace {
                        let inner = &buf[b..];
                        if inner.contains(&b',') || inner.windows(2).any(|w| w == b"..") {
                            dynamic = true;
                        }
                    }
                    buf.push(c);
                    self.pos += 1;
                }
                b'=' => {
                    if assign.is_none() && !quoted && !dynamic && is_assign_lhs(&buf) {
                        assign = Some(buf.len());
                    }
                    buf.push(c);
                    self.pos += 1;
                }
                _ => {
                    buf.push(c);
                    self.pos += 1;
                }
            }
        }
        if bracket && assign.is_none() {
            dynamic = true;
        }
        Word {
            text: bytes_to_string(buf),
            dynamic,
            quoted,
            assign,
        }
    }

    fn single_quoted(&mut self, buf: &mut Vec<u8>) {
        let rest = &self.src[self.pos + 1..];
        match memchr::memchr(b'\'', rest) {
            Some(n) => {
                buf.extend_from_slice(&rest[..n]);
                self.pos += n + 2;
            }
            None => {
                buf.extend_from_slice(rest);
                self.pos = self.src.len();
                self.error("unexpected EOF while looking for matching `''");
            }
        }
    }

    /// `"..."`; returns whether it contains an expansion.
    fn double_quoted(&mut self, buf: &mut Vec<u8>) -> bool {
        self.pos += 1;
        let mut dynamic = false;
        loop {
            let Some(c) = self.peek() else {
                self.error("unexpected EOF while looking for matching `\"'");
                return dynamic;
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return dynamic;
                }
                b'\\' => match self.peek_at(1) {
                    Some(b'\n') => self.pos += 2,
                    Some(n @ (b'$' | b'`' | b'"' | b'\\')) => {
                        buf.push(n);
                        self.pos += 2;
                    }
                    _ => {
                        buf.push(b'\\');
                        self.pos += 1;
                    }
                },
                b'$' => dynamic |= self.dollar(buf),
                b'`' => {
                    self.backtick(buf, true);
                    dynamic = true;
                }
                _ => {
                    let rest = &self.src[self.pos..];
                    let n = rest
                        .iter()
                        .position(|&c| matches!(c, b'"' | b'\\' | b'$' | b'`'))
                        .unwrap_or(rest.len());
                    buf.extend_from_slice(&rest[..n]);
                    self.pos += n;
                }
            }
        }
    }

    /// `$'...'` (position on the quote): ANSI-C escapes are decoded.
    fn ansi_c(&mut self, buf: &mut Vec<u8>) {
        self.pos += 1;
        loop {
            let Some(c) = self.peek() else {
                self.error("unexpected EOF while looking for matching `''");
                return;
            };
            self.pos += 1;
            match c {
                b'\'' => return,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        buf.push(b'\\');
                        continue;
                    };
                    self.pos += 1;
                    let simple = match e {
                        b'n' => Some(b'\n'),
                        b't' => Some(b'\t'),
                        b'r' => Some(b'\r'),
                        b'a' => Some(7),
                        b'b' => Some(8),
                        b'e' | b'E' => Some(27),
                        b'f' => Some(12),
                        b'v' => Some(11),
                        b'\\' | b'\'' | b'"' | b'?' => Some(e),
                        _ => None,
                    };
                    if let Some(s) = simple {
                        buf.push(s);
                        continue;
                    }
                    match e {
                        b'x' => {
                            let v = self.digits(16, 2);
                            match v {
                                Some(v) => buf.push(v as u8),
                                None => buf.extend_from_slice(b"\\x"),
                            }
                        }
                        b'u' | b'U' => {
                            let max = if e == b'u' { 4 } else { 8 };
                            match self.digits(16, max) {
                                Some(v) => {
                                    let ch = char::from_u32(v).unwrap_or('\u{fffd}');
                                    let mut tmp = [0u8; 4];
                                    buf.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                                }
                                None => {
                                    buf.push(b'\\');
                                    buf.push(e);
                                }
                            }
                        }
                        b'0'..=b'7' => {
                            self.pos -= 1;
                            let v = self.digits(8, 3).unwrap_or(0);
                            buf.push((v & 0xff) as u8);
                        }
                        b'c' => {
                            if let Some(x) = self.peek() {
                                self.pos += 1;
                                buf.push(x & 0x1f);
                            }
                        }
                        _ => {
                            buf.push(b'\\');
                            buf.push(e);
                        }
                    }
                }
                _ => buf.push(c),
            }
        }
    }

    /// Reads up to `max` digits in `radix`.
    fn digits(&mut self, radix: u32, max: usize) -> Option<u32> {
        let mut v: u32 = 0;
        let mut n = 0;
        while n < max {
            let Some(d) = self.peek().and_then(|c| (c as char).to_digit(radix)) else {
                break;
            };
            v = v.wrapping_mul(radix).wrapping_add(d);
            self.pos += 1;
            n += 1;
        }
        (n > 0).then_some(v)
    }

    /// An expansion starting with `$`; appends its source text. Returns whether it is dynamic
    /// (false for a lone `$`).
    fn dollar(&mut self, buf: &mut Vec<u8>) -> bool {
        let src = self.src;
        let start = self.pos;
        match self.peek_at(1) {
            Some(b'(') => {
                if self.peek_at(2) == Some(b'(')
                    && let Some(end) = self.arith_end(self.pos + 1)
                {
                    self.pos += 3;
                    self.scan_expansions(end - 2);
                    self.pos = end;
                } else {
                    self.pos += 2;
                    self.nested_list(Origin::CommandSubstitution);
                }
            }
            Some(b'{') => {
                self.pos += 2;
                self.braced_parameter();
            }
            Some(b'[') => {
                self.pos += 2;
                let rest = &src[self.pos..];
                match memchr::memchr(b']', rest) {
                    Some(n) => {
                        self.scan_expansions(self.pos + n);
                        self.pos = start + 2 + n + 1;
                    }
                    None => {
                        self.pos = src.len();
                        self.error("unexpected EOF while looking for matching `]'");
                    }
                }
            }
            Some(c) if is_name_start(c) => {
                let rest = &src[self.pos + 1..];
                self.pos += 1 + rest
                    .iter()
                    .position(|&c| !is_name_char(c))
                    .unwrap_or(rest.len());
            }
            Some(c) if c.is_ascii_digit() || b"@*#?$!-".contains(&c) => self.pos += 2,
            _ => {
                buf.push(b'$');
                self.pos += 1;
                return false;
            }
        }
        buf.extend_from_slice(&src[start..self.pos.min(src.len())]);
        true
    }

    /// The body of `${...}` (position after `${`).
    fn braced_parameter(&mut self) {
        if self.enter() {
            self.braced_parameter_body();
            self.leave();
        }
    }

    fn braced_parameter_body(&mut self) {
        let mut scratch = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                self.error("unexpected EOF while looking for matching `}'");
                return;
            };
            match c {
                b'}' => {
                    self.pos += 1;
                    return;
                }
                b'\\' => self.pos = (self.pos + 2).min(self.src.len()),
                b'\'' => self.single_quoted(&mut scratch),
                b'"' => {
                    self.double_quoted(&mut scratch);
                }
                b'$' => {
                    self.dollar(&mut scratch);
                }
                b'`' => self.backtick(&mut scratch, true),
                _ => self.pos += 1,
            }
            scratch.clear();
        }
    }

    /// Backtick command substitution; the body is unescaped then parsed.
    fn backtick(&mut self, buf: &mut Vec<u8>, in_dq: bool) {
        let start = self.pos;
        self.pos += 1;
        let mut inner = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                self.error("unexpected EOF while looking for matching ``'");
                break;
            };
            match c {
                b'`' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => match self.peek_at(1) {
                    Some(n @ (b'$' | b'`' | b'\\')) => {
                        inner.push(n);
                        self.pos += 2;
                    }
                    Some(b'"') if in_dq => {
                        inner.push(b'"');
                        self.pos += 2;
                    }
                    _ => {
                        inner.push(b'\\');
                        self.pos += 1;
                    }
                },
                _ => {
                    inner.push(c);
                    self.pos += 1;
                }
            }
        }
        buf.extend_from_slice(&self.src[start..self.pos]);
        if !self.enter() {
            return;
        }
        let depth = self.depth.saturating_add(1);
        Parser::new(
            &inner,
            self.ctx,
            Origin::CommandSubstitution,
            depth,
            self.parent,
            false,
        )
        .parse_program();
        self.leave();
    }

    /// A list closed by `)` (position after the opening parenthesis), run with `origin` one
    /// level deeper.
    fn nested_list(&mut self, origin: Origin) {
        if !self.enter() {
            return;
        }
        let saved = (self.origin, self.depth);
        self.origin = origin;
        self.depth = self.depth.saturating_add(1);
        self.parse_list();
        self.close_paren();
        (self.origin, self.depth) = saved;
        self.leave();
    }

    /// Finds the end (after `))`) of an arithmetic expression starting with `((` at `at`.
    fn arith_end(&self, at: usize) -> Option<usize> {
        let src = self.src;
        let mut i = at + 2;
        let mut depth = 0usize;
        while i < src.len() {
            match src[i] {
                b'(' => depth += 1,
                b')' => {
                    if depth == 0 {
                        return (src.get(i + 1) == Some(&b')')).then_some(i + 2);
                    }
                    depth -= 1;
                }
                b'\\' => i += 1,
                q @ (b'\'' | b'"' | b'`') => {
                    i += 1;
                    while i < src.len() && src[i] != q {
                        if src[i] == b'\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    }

    /// Parses the substitutions in `pos..end` (arithmetic, unquoted here-document bodies).
    fn scan_expansions(&mut self, end: usize) {
        let mut scratch = Vec::new();
        while self.pos < end && !self.ctx.abort {
            match self.src[self.pos] {
                b'\\' => self.pos += 2,
                b'$' => {
                    self.dollar(&mut scratch);
                }
                b'`' => self.backtick(&mut scratch, true),
                _ => self.pos += 1,
            }
            scratch.clear();
        }
    }
}
