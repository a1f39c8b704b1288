//! The shell script model the rules read: tree-sitter-bash trees flattened into events (pipelines of simple
//! commands and assignments) in execution order, with §8.2 shell folding applied to every word (variables
//! assigned once to a constant, here-strings and here-documents, `$(echo … | base64 -d)`). It does not
//! judge anything; `rules.rs` and `flow.rs` do.

use super::decode;
use super::terms;
use crate::scan::syntax::{self, Grammar};
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::time::Instant;
use tree_sitter::Node;

/// Tree depth beyond which the builder stops descending (bounded recursion on hostile input).
const MAX_DEPTH: usize = 120;
/// Events are handed to the analyser in batches of about this many (bounded memory on a 5 MiB script;
/// the analyser keeps its state across batches).
const BATCH: usize = 4_096;

/// A command substitution `$(…)` / backticks, or a process substitution `<(…)` / `>(…)`, inside a word;
/// `events` indexes `Script::events` (the inner statements are built first, so they come before the
/// command that uses them: execution order).
#[derive(Debug, Clone)]
pub(crate) struct Sub {
    pub process: bool,
    pub events: Range<usize>,
}

/// One shell word after folding.
#[derive(Debug, Clone, Default)]
pub(crate) struct Word {
    /// The constant value, or None when any part is not constant.
    pub text: Option<String>,
    /// Constant parts with unknown expansions kept as written (`$HOME/.ssh/id_rsa`), quotes removed: for
    /// path tests, which fold `$HOME` themselves.
    pub loose: String,
    /// Variables the word expands.
    pub vars: Vec<String>,
    pub subs: Vec<Sub>,
}

impl Word {
    pub fn lit(s: &str) -> Word {
        Word {
            text: Some(s.to_string()),
            loose: s.to_string(),
            ..Word::default()
        }
    }
    /// The constant value or "" (for option tests: a non-constant word is never an option).
    pub fn s(&self) -> &str {
        self.text.as_deref().unwrap_or("")
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Redir {
    /// `>`, `>>`, `<`, `>&`, `&>`, `<>` …
    pub op: String,
    pub target: Word,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Cmd {
    pub line: u32,
    /// Source text of the command (first line, for evidence).
    pub raw: String,
    /// Prefix assignments (`X=1 cmd`).
    pub env: Vec<(String, Word)>,
    pub argv: Vec<Word>,
    pub redirs: Vec<Redir>,
    /// Here-string or here-document content fed to stdin.
    pub stdin: Option<Word>,
    /// Statements nested directly in the command (tree-sitter reads PowerShell `iex (iwr …)` so).
    pub inner: Option<Range<usize>>,
    /// The program (lower-case base name) after wrapper stripping and its index in `argv`; computed
    /// once when the command is built (`terms::prog` reads it).
    pub prog: Option<(String, usize)>,
}

#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    pub line: u32,
    pub cmds: Vec<Cmd>,
    /// True inside a command or process substitution.
    pub nested: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Assign {
    pub name: String,
    pub value: Word,
}

#[derive(Debug, Clone)]
pub(crate) enum Event {
    Pipe(Pipeline),
    Assign(Assign),
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Script {
    pub events: Vec<Event>,
}

impl Script {
    /// Every command of the events in `r` (nested substitutions included: they lie inside the range).
    pub fn cmds_in(&self, r: Range<usize>) -> impl Iterator<Item = &Cmd> {
        self.events
            .get(r)
            .unwrap_or(&[])
            .iter()
            .filter_map(|e| match e {
                Event::Pipe(p) => Some(p.cmds.iter()),
                Event::Assign(_) => None,
            })
            .flatten()
    }

    pub fn pipelines(&self) -> impl Iterator<Item = &Pipeline> {
        self.events.iter().filter_map(|e| match e {
            Event::Pipe(p) => Some(p),
            Event::Assign(_) => None,
        })
    }
}

/// Parses and builds the whole model; None when the parse ran out of time.
pub(crate) fn build(text: &str, deadline: Instant) -> Option<Script> {
    let mut all = Script::default();
    let ok = build_each(text, deadline, |s| {
        let base = all.events.len();
        // Re-base the ranges of this batch onto the whole script.
        all.events
            .extend(s.events.iter().cloned().map(|e| shift(e, base)));
    });
    ok.then_some(all)
}

fn shift(e: Event, by: usize) -> Event {
    let mv = |r: &mut Range<usize>| *r = r.start + by..r.end + by;
    match e {
        Event::Pipe(mut p) => {
            for c in &mut p.cmds {
                if let Some(r) = c.inner.as_mut() {
                    mv(r);
                }
                for w in c
                    .argv
                    .iter_mut()
                    .chain(c.env.iter_mut().map(|(_, w)| w))
                    .chain(c.redirs.iter_mut().map(|r| &mut r.target))
                    .chain(c.stdin.iter_mut())
                {
                    w.subs.iter_mut().for_each(|s| mv(&mut s.events));
                }
            }
            Event::Pipe(p)
        }
        Event::Assign(mut a) => {
            a.value.subs.iter_mut().for_each(|s| mv(&mut s.events));
            Event::Assign(a)
        }
    }
}

/// Parses and builds the model, handing it to `f` in batches of whole top-level statements (ranges in
/// a batch index that batch). False when the parse or the build ran out of time.
pub(crate) fn build_each(text: &str, deadline: Instant, mut f: impl FnMut(&Script)) -> bool {
    let Ok(tree) = syntax::parse(Grammar::Bash, text, deadline) else {
        return false;
    };
    let mut b = Builder {
        src: text,
        assigned: HashMap::new(),
        consts: HashMap::new(),
        resolving: HashSet::new(),
        script: Script::default(),
        deadline,
        ticks: 0,
    };
    b.count_assignments(tree.root_node());
    let root = tree.root_node();
    let mut cursor = root.walk();
    for ch in root.named_children(&mut cursor) {
        if Instant::now() >= deadline {
            return false;
        }
        b.stmt(ch, false, 0);
        if b.script.events.len() >= BATCH {
            f(&b.script);
            b.script.events.clear();
        }
    }
    if !b.script.events.is_empty() {
        f(&b.script);
    }
    Instant::now() < deadline
}

struct Builder<'t> {
    src: &'t str,
    /// Assignment value nodes per variable name (None for a `read`/`for` target: never constant).
    assigned: HashMap<String, Vec<Option<Node<'t>>>>,
    consts: HashMap<String, Option<String>>,
    resolving: HashSet<String>,
    script: Script,
    deadline: Instant,
    ticks: u32,
}

fn named_children(n: Node) -> Vec<Node> {
    let mut c = n.walk();
    n.named_children(&mut c).collect()
}

impl<'t> Builder<'t> {
    fn text(&self, n: Node) -> &'t str {
        syntax::text(n, self.src)
    }

    fn out_of_budget(&mut self) -> bool {
        self.ticks = self.ticks.wrapping_add(1);
        self.ticks % 256 == 0 && Instant::now() >= self.deadline
    }

    /// Pass 1: which names are assigned, how often, to what. Iterative (no recursion on deep trees).
    fn count_assignments(&mut self, root: Node<'t>) {
        let mut cursor = root.walk();
        let mut visited = 0u64;
        loop {
            let n = cursor.node();
            visited += 1;
            if visited % 4096 == 0 && Instant::now() >= self.deadline {
                return;
            }
            if n.is_named() {
                self.count_one(n);
            }
            if cursor.goto_first_child() {
                continue;
            }
            loop {
                if cursor.goto_next_sibling() {
                    break;
                }
                if !cursor.goto_parent() {
                    return;
                }
            }
        }
    }

    fn count_one(&mut self, n: Node<'t>) {
        match n.kind() {
            "variable_assignment" => {
                if let Some(name) = n.child_by_field_name("name")
                    && name.kind() == "variable_name"
                {
                    let v = n.child_by_field_name("value");
                    let key = self.text(name).to_string();
                    // `X+=y` appends: never constant.
                    let appends = self.text(n).starts_with(&format!("{key}+="));
                    let e = self.assigned.entry(key).or_default();
                    e.push(v);
                    if appends {
                        e.push(None);
                    }
                }
            }
            "for_statement" => {
                if let Some(v) = n.child_by_field_name("variable") {
                    let key = self.text(v).to_string();
                    self.assigned.entry(key).or_default().extend([None, None]);
                }
            }
            "command" => {
                let name = n
                    .child_by_field_name("name")
                    .map(|c| self.text(c))
                    .unwrap_or("");
                if matches!(name, "read" | "mapfile" | "readarray" | "getopts") {
                    let mut c = n.walk();
                    let args: Vec<Node> = n.children_by_field_name("argument", &mut c).collect();
                    for a in args {
                        let t = self.text(a);
                        if !t.starts_with('-') {
                            self.assigned
                                .entry(t.to_string())
                                .or_default()
                                .extend([None, None]);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// The constant value of a variable assigned exactly once to a constant (§8.2 shell folding).
    fn lookup(&mut self, name: &str) -> Option<String> {
        if let Some(v) = self.consts.get(name) {
            return v.clone();
        }
        let nodes = self.assigned.get(name)?;
        let [node] = nodes.as_slice() else {
            return None;
        };
        let node = *node;
        // Bounded chains of `A=$B`, `B=$C`, … (the recursion runs once per link).
        if self.resolving.len() >= 16 || !self.resolving.insert(name.to_string()) {
            return None;
        }
        let v = match node {
            None => None,
            Some(n) => {
                // Substitutions inside a value are built where the assignment stands, not here.
                let saved = self.script.events.len();
                let w = self.word(n, true, 0);
                self.script.events.truncate(saved);
                w.text
            }
        };
        self.resolving.remove(name);
        self.consts.insert(name.to_string(), v.clone());
        v
    }

    /// Statements: pushes events in execution order.
    fn stmt(&mut self, n: Node<'t>, nested: bool, depth: usize) {
        if depth > MAX_DEPTH || self.out_of_budget() {
            return;
        }
        match n.kind() {
            "command" => {
                let c = self.command(n, depth);
                self.push_pipe(vec![c], nested);
            }
            "pipeline" => {
                let mut cmds = Vec::new();
                self.pipeline_cmds(n, nested, depth, &mut cmds);
                self.push_pipe(cmds, nested);
            }
            "redirected_statement" => {
                let mut cmds = Vec::new();
                self.redirected(n, nested, depth, &mut cmds);
                if !cmds.is_empty() {
                    self.push_pipe(cmds, nested);
                }
            }
            "variable_assignment" => self.assignment(n, depth),
            "declaration_command" => {
                for ch in named_children(n) {
                    if ch.kind() == "variable_assignment" {
                        self.assignment(ch, depth);
                    }
                }
            }
            "comment" | "heredoc_body" | "heredoc_start" | "heredoc_end" => {}
            "test_command" | "for_statement" | "case_statement" | "c_style_for_statement" => {
                // Words and tests here only matter for the substitutions they run.
                for ch in named_children(n) {
                    if is_statement(ch.kind()) {
                        self.stmt(ch, nested, depth + 1);
                    } else {
                        self.subs_in(ch, depth + 1);
                    }
                }
            }
            _ => {
                for ch in named_children(n) {
                    if is_statement(ch.kind()) || is_container(ch.kind()) {
                        self.stmt(ch, nested, depth + 1);
                    } else {
                        self.subs_in(ch, depth + 1);
                    }
                }
            }
        }
    }

    fn push_pipe(&mut self, cmds: Vec<Cmd>, nested: bool) {
        let line = cmds.first().map_or(1, |c| c.line);
        self.script
            .events
            .push(Event::Pipe(Pipeline { line, cmds, nested }));
    }

    /// Builds the substitutions found anywhere under a non-statement node (test expressions, for lists).
    fn subs_in(&mut self, n: Node<'t>, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match n.kind() {
            "command_substitution" | "process_substitution" => {
                for ch in named_children(n) {
                    self.stmt(ch, true, depth + 1);
                }
            }
            _ => {
                for ch in named_children(n) {
                    self.subs_in(ch, depth + 1);
                }
            }
        }
    }

    fn pipeline_cmds(&mut self, n: Node<'t>, nested: bool, depth: usize, out: &mut Vec<Cmd>) {
        if depth > MAX_DEPTH {
            return;
        }
        for ch in named_children(n) {
            match ch.kind() {
                "command" => {
                    let c = self.command(ch, depth + 1);
                    out.push(c);
                }
                "pipeline" => self.pipeline_cmds(ch, nested, depth + 1, out),
                "redirected_statement" => self.redirected(ch, nested, depth + 1, out),
                "comment" => {}
                _ => {
                    // A subshell or group inside a pipeline: its statements stand on their own; the
                    // pipeline keeps an empty placeholder at its position.
                    let start = self.script.events.len();
                    self.stmt(ch, nested, depth + 1);
                    out.push(Cmd {
                        line: syntax::line(ch),
                        raw: first_line(self.text(ch)),
                        inner: Some(start..self.script.events.len()),
                        ..Cmd::default()
                    });
                }
            }
        }
    }

    /// `body > f`, `cmd <<EOF | next …`: commands go to `out` (the pipeline being built).
    fn redirected(&mut self, n: Node<'t>, nested: bool, depth: usize, out: &mut Vec<Cmd>) {
        if depth > MAX_DEPTH {
            return;
        }
        let mut redirs = Vec::new();
        let mut stdin = None;
        let mut cont: Vec<Node> = Vec::new();
        let mut after: Vec<Node> = Vec::new();
        let body = n.child_by_field_name("body");
        for ch in named_children(n) {
            if Some(ch) == body {
                continue;
            }
            match ch.kind() {
                "file_redirect" => redirs.push(self.file_redirect(ch, depth + 1)),
                "herestring_redirect" => {
                    stdin = named_children(ch)
                        .into_iter()
                        .find(|c| c.kind() != "file_descriptor")
                        .map(|c| self.word(c, false, depth + 1));
                }
                "heredoc_redirect" => {
                    let quoted = named_children(ch)
                        .iter()
                        .find(|c| c.kind() == "heredoc_start")
                        .is_some_and(|s| {
                            let t = self.text(*s);
                            t.contains('\'') || t.contains('"') || t.contains('\\')
                        });
                    let right = ch.child_by_field_name("right");
                    for hc in named_children(ch) {
                        match hc.kind() {
                            "heredoc_body" => stdin = Some(self.heredoc(hc, quoted, depth + 1)),
                            "pipeline" | "command" | "redirected_statement" => {
                                if Some(hc) == right {
                                    after.push(hc);
                                } else {
                                    cont.push(hc);
                                }
                            }
                            "file_redirect" => redirs.push(self.file_redirect(hc, depth + 1)),
                            _ if Some(hc) == right => after.push(hc),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        let first = out.len();
        match body {
            Some(b) if b.kind() == "command" => {
                let c = self.command(b, depth + 1);
                out.push(c);
            }
            Some(b) if b.kind() == "pipeline" => self.pipeline_cmds(b, nested, depth + 1, out),
            Some(b) if b.kind() == "redirected_statement" => {
                self.redirected(b, nested, depth + 1, out)
            }
            Some(b) => {
                let start = self.script.events.len();
                self.stmt(b, nested, depth + 1);
                out.push(Cmd {
                    line: syntax::line(b),
                    raw: first_line(self.text(b)),
                    inner: Some(start..self.script.events.len()),
                    ..Cmd::default()
                });
            }
            None => {}
        }
        if let Some(c) = out.get_mut(first) {
            if stdin.is_some() {
                c.stdin = stdin;
            }
        }
        if let Some(c) = out.last_mut() {
            c.redirs.extend(redirs);
        }
        for c in cont {
            match c.kind() {
                "pipeline" => self.pipeline_cmds(c, nested, depth + 1, out),
                "command" => {
                    let c = self.command(c, depth + 1);
                    out.push(c);
                }
                _ => self.redirected(c, nested, depth + 1, out),
            }
        }
        for a in after {
            let done = std::mem::take(out);
            if !done.is_empty() {
                self.push_pipe(done, nested);
            }
            self.stmt(a, nested, depth + 1);
        }
    }

    fn file_redirect(&mut self, n: Node<'t>, depth: usize) -> Redir {
        let mut op = String::new();
        let mut c = n.walk();
        for ch in n.children(&mut c) {
            if !ch.is_named() {
                op = self.text(ch).to_string();
                break;
            }
        }
        let target = n
            .child_by_field_name("destination")
            .map(|d| self.word(d, false, depth + 1))
            .unwrap_or_default();
        Redir { op, target }
    }

    fn heredoc(&mut self, n: Node<'t>, quoted: bool, depth: usize) -> Word {
        let raw = self.text(n);
        if quoted {
            return Word::lit(raw);
        }
        let mut w = Word {
            text: Some(String::new()),
            ..Word::default()
        };
        let mut pos = n.start_byte();
        for ch in named_children(n) {
            // Text between the interpolated parts is heredoc content (or plain text the grammar skips).
            if let Some(gap) = self.src.get(pos..ch.start_byte()) {
                push_const(&mut w, gap);
            }
            let part = match ch.kind() {
                "heredoc_content" => Word::lit(self.text(ch)),
                _ => self.word(ch, false, depth + 1),
            };
            append(&mut w, part);
            pos = ch.end_byte();
        }
        if let Some(gap) = self.src.get(pos..n.end_byte()) {
            push_const(&mut w, gap);
        }
        w
    }

    fn assignment(&mut self, n: Node<'t>, depth: usize) {
        let Some(name) = n.child_by_field_name("name") else {
            return;
        };
        let value = n
            .child_by_field_name("value")
            .map(|v| self.word(v, false, depth + 1))
            .unwrap_or_else(|| Word::lit(""));
        let a = Assign {
            name: self.text(name).to_string(),
            value,
        };
        self.script.events.push(Event::Assign(a));
    }

    fn command(&mut self, n: Node<'t>, depth: usize) -> Cmd {
        let mut cmd = Cmd {
            line: syntax::line(n),
            raw: first_line(self.text(n)),
            ..Cmd::default()
        };
        let mut inner_start = None;
        for ch in named_children(n) {
            match ch.kind() {
                "variable_assignment" => {
                    let name = ch
                        .child_by_field_name("name")
                        .map(|x| self.text(x).to_string())
                        .unwrap_or_default();
                    let v = ch
                        .child_by_field_name("value")
                        .map(|v| self.word(v, false, depth + 1))
                        .unwrap_or_else(|| Word::lit(""));
                    cmd.env.push((name, v));
                }
                "command_name" => {
                    let w = named_children(ch)
                        .first()
                        .map(|x| self.word(*x, false, depth + 1))
                        .unwrap_or_default();
                    cmd.argv.insert(0, w);
                }
                "file_redirect" => {
                    let r = self.file_redirect(ch, depth + 1);
                    cmd.redirs.push(r);
                }
                "herestring_redirect" => {
                    cmd.stdin = named_children(ch)
                        .into_iter()
                        .find(|c| c.kind() != "file_descriptor")
                        .map(|c| self.word(c, false, depth + 1));
                }
                "subshell" | "compound_statement" => {
                    let s = *inner_start.get_or_insert(self.script.events.len());
                    let _ = s;
                    self.stmt(ch, true, depth + 1);
                }
                "comment" => {}
                _ => {
                    let w = self.word(ch, false, depth + 1);
                    cmd.argv.push(w);
                }
            }
        }
        if let Some(s) = inner_start {
            cmd.inner = Some(s..self.script.events.len());
        }
        cmd.prog = terms::program_index(&cmd.argv).and_then(|i| {
            let t = cmd.argv.get(i)?.text.as_deref()?;
            Some((terms::base(t), i))
        });
        cmd
    }

    /// Folds a word node. `lookup_only`: called while resolving a variable (substitutions are not kept).
    fn word(&mut self, n: Node<'t>, lookup_only: bool, depth: usize) -> Word {
        if depth > MAX_DEPTH {
            return nonconst(self.text(n));
        }
        match n.kind() {
            "word" | "number" => Word::lit(&unescape_word(self.text(n))),
            "raw_string" => {
                let t = self.text(n);
                Word::lit(
                    t.strip_prefix('\'')
                        .unwrap_or(t)
                        .strip_suffix('\'')
                        .unwrap_or(t),
                )
            }
            "ansi_c_string" => {
                let t = self.text(n);
                let inner = t.strip_prefix("$'").unwrap_or(t);
                Word::lit(&ansi_c(inner.strip_suffix('\'').unwrap_or(inner)))
            }
            "string" | "translated_string" | "concatenation" => {
                let mut w = Word {
                    text: Some(String::new()),
                    ..Word::default()
                };
                for ch in named_children(n) {
                    let part = match ch.kind() {
                        "string_content" => Word::lit(&unescape_dq(self.text(ch))),
                        _ => self.word(ch, lookup_only, depth + 1),
                    };
                    append(&mut w, part);
                }
                if n.kind() == "concatenation" {
                    // Unnamed pieces (`=`, `:`) between named ones are literal text too; rebuild from
                    // the source when the pieces do not cover it.
                    if named_children(n).is_empty() {
                        return Word::lit(&unescape_word(self.text(n)));
                    }
                }
                w
            }
            "simple_expansion" | "expansion" => {
                let raw = self.text(n);
                let names: Vec<Node> = named_children(n);
                let simple = names.len() == 1 && names[0].kind() == "variable_name";
                let name = names
                    .iter()
                    .find(|c| c.kind() == "variable_name")
                    .map(|c| self.text(*c).to_string());
                let mut w = nonconst(raw);
                if let Some(name) = name {
                    if simple && let Some(v) = self.lookup(&name) {
                        w = Word::lit(&v);
                    }
                    w.vars.push(name);
                }
                w
            }
            "command_substitution" | "process_substitution" => {
                let process = n.kind() == "process_substitution";
                let start = self.script.events.len();
                for ch in named_children(n) {
                    self.stmt(ch, true, depth + 1);
                }
                let range = start..self.script.events.len();
                let mut w = nonconst(self.text(n));
                if !process && let Some(out) = const_output(&self.script, range.clone()) {
                    let s = String::from_utf8_lossy(&out);
                    w = Word::lit(s.trim_end_matches('\n'));
                }
                if lookup_only {
                    self.script.events.truncate(start);
                } else {
                    w.subs.push(Sub {
                        process,
                        events: range,
                    });
                }
                w
            }
            _ => {
                let mut w = nonconst(self.text(n));
                // Substitutions in other shapes (arithmetic, arrays) still run.
                if !lookup_only {
                    let start = self.script.events.len();
                    self.subs_in(n, depth + 1);
                    if self.script.events.len() > start {
                        w.subs.push(Sub {
                            process: false,
                            events: start..self.script.events.len(),
                        });
                    }
                }
                w
            }
        }
    }
}

fn is_statement(kind: &str) -> bool {
    matches!(
        kind,
        "command"
            | "pipeline"
            | "list"
            | "redirected_statement"
            | "variable_assignment"
            | "declaration_command"
            | "subshell"
            | "compound_statement"
            | "if_statement"
            | "while_statement"
            | "for_statement"
            | "c_style_for_statement"
            | "case_statement"
            | "function_definition"
            | "negated_command"
            | "test_command"
            | "unset_command"
    )
}

fn is_container(kind: &str) -> bool {
    matches!(
        kind,
        "program"
            | "do_group"
            | "else_clause"
            | "elif_clause"
            | "case_item"
            | "variable_assignments"
    )
}

fn nonconst(raw: &str) -> Word {
    Word {
        text: None,
        loose: raw.to_string(),
        ..Word::default()
    }
}

fn push_const(w: &mut Word, s: &str) {
    if let Some(t) = w.text.as_mut() {
        t.push_str(s);
    }
    w.loose.push_str(s);
}

fn append(w: &mut Word, part: Word) {
    match (&mut w.text, part.text) {
        (Some(t), Some(p)) => t.push_str(&p),
        _ => w.text = None,
    }
    w.loose.push_str(&part.loose);
    w.vars.extend(part.vars);
    w.subs.extend(part.subs);
}

pub(crate) fn first_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or("");
    crate::scan::report::truncate_chars(l, 200)
}

/// Unquoted word: backslash escapes the next character.
fn unescape_word(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('\n') => {}
                Some(n) => out.push(n),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Inside double quotes only `\$ \` \" \\` and a line continuation are escapes.
fn unescape_dq(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.peek() {
                Some(&n) if matches!(n, '$' | '`' | '"' | '\\') => {
                    out.push(n);
                    it.next();
                }
                Some('\n') => {
                    it.next();
                }
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `$'…'` escapes (the common ones).
fn ansi_c(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' || i + 1 >= chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let n = chars[i + 1];
        i += 2;
        match n {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'e' | 'E' => out.push('\u{1b}'),
            '0'..='7' => {
                let mut v = n.to_digit(8).unwrap_or(0);
                let mut k = 0;
                while k < 2 && i < chars.len() && chars[i].is_digit(8) {
                    v = v * 8 + chars[i].to_digit(8).unwrap_or(0);
                    i += 1;
                    k += 1;
                }
                out.push(char::from_u32(v).unwrap_or('?'));
            }
            'x' => {
                let mut v = 0u32;
                let mut k = 0;
                while k < 2 && i < chars.len() && chars[i].is_ascii_hexdigit() {
                    v = v * 16 + chars[i].to_digit(16).unwrap_or(0);
                    i += 1;
                    k += 1;
                }
                out.push(char::from_u32(v).unwrap_or('?'));
            }
            other => out.push(other),
        }
    }
    out
}

/// The constant output of the pipelines in `r` when they are one pipeline of a constant producer
/// (`echo`/`printf` of constants, `cat` of a here-string / here-document) followed only by decoders
/// (§8.2 shell folding). Used for `$(echo … | base64 -d)` values.
fn const_output(s: &Script, r: Range<usize>) -> Option<Vec<u8>> {
    let evs = s.events.get(r)?;
    let [Event::Pipe(p)] = evs else {
        return None;
    };
    let (out, _) = decode::pipeline_output(&p.cmds, 0, p.cmds.len())?;
    Some(out)
}
