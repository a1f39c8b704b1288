//! Builds the shell model (`model.rs`) from a tree-sitter-bash tree: statements flattened into events in
//! execution order, assignments counted for §8.2 folding. Word folding lives in `words.rs`.

use super::model::{Assign, Cmd, Event, Pipeline, Redir, Script, Word};
use super::terms;
use super::words::first_line;
use crate::scan::syntax;
use crate::scan::syntax::NodeExt;
use std::collections::{HashMap, HashSet};
use std::time::Instant;
use tree_sitter::Node;

/// Tree depth beyond which the builder stops descending (bounded recursion on hostile input).
pub(super) const MAX_DEPTH: usize = 120;

pub(super) struct Builder<'t> {
    pub(super) src: &'t str,
    /// Assignment value nodes per variable name (None for a `read`/`for` target: never constant).
    pub(super) assigned: HashMap<String, Vec<Option<Node<'t>>>>,
    pub(super) consts: HashMap<String, Option<String>>,
    pub(super) resolving: HashSet<String>,
    pub(super) script: Script,
    pub(super) deadline: Instant,
    pub(super) ticks: u32,
}

pub(super) fn named_children(n: Node) -> Vec<Node> {
    let mut c = n.walk();
    n.named_children(&mut c).collect()
}

impl<'t> Builder<'t> {
    pub(super) fn text(&self, n: Node) -> &'t str {
        syntax::text(n, self.src)
    }

    fn out_of_budget(&mut self) -> bool {
        self.ticks = self.ticks.wrapping_add(1);
        self.ticks % 256 == 0 && Instant::now() >= self.deadline
    }

    /// Pass 1: which names are assigned, how often, to what. Iterative (no recursion on deep trees).
    pub(super) fn count_assignments(&mut self, root: Node<'t>) {
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
        match n.ty() {
            "variable_assignment" => {
                if let Some(name) = n.field("name")
                    && name.ty() == "variable_name"
                {
                    let v = n.field("value");
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
                if let Some(v) = n.field("variable") {
                    let key = self.text(v).to_string();
                    self.assigned.entry(key).or_default().extend([None, None]);
                }
            }
            "command" => {
                let name = n.field("name").map(|c| self.text(c)).unwrap_or("");
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
    pub(super) fn lookup(&mut self, name: &str) -> Option<String> {
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
    pub(super) fn stmt(&mut self, n: Node<'t>, nested: bool, depth: usize) {
        if depth > MAX_DEPTH || self.out_of_budget() {
            return;
        }
        match n.ty() {
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
                    if ch.ty() == "variable_assignment" {
                        self.assignment(ch, depth);
                    }
                }
            }
            "comment" | "heredoc_body" | "heredoc_start" | "heredoc_end" => {}
            "test_command" | "for_statement" | "case_statement" | "c_style_for_statement" => {
                // Words and tests here only matter for the substitutions they run.
                for ch in named_children(n) {
                    if is_statement(ch.ty()) {
                        self.stmt(ch, nested, depth + 1);
                    } else {
                        self.subs_in(ch, depth + 1);
                    }
                }
            }
            _ => {
                for ch in named_children(n) {
                    if is_statement(ch.ty()) || is_container(ch.ty()) {
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
    pub(super) fn subs_in(&mut self, n: Node<'t>, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match n.ty() {
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
            match ch.ty() {
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
        let body = n.field("body");
        for ch in named_children(n) {
            if Some(ch) == body {
                continue;
            }
            match ch.ty() {
                "file_redirect" => redirs.push(self.file_redirect(ch, depth + 1)),
                "herestring_redirect" => {
                    stdin = named_children(ch)
                        .into_iter()
                        .find(|c| c.ty() != "file_descriptor")
                        .map(|c| self.word(c, false, depth + 1));
                }
                "heredoc_redirect" => {
                    let quoted = named_children(ch)
                        .iter()
                        .find(|c| c.ty() == "heredoc_start")
                        .is_some_and(|s| {
                            let t = self.text(*s);
                            t.contains('\'') || t.contains('"') || t.contains('\\')
                        });
                    let right = ch.field("right");
                    for hc in named_children(ch) {
                        match hc.ty() {
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
            Some(b) if b.ty() == "command" => {
                let c = self.command(b, depth + 1);
                out.push(c);
            }
            Some(b) if b.ty() == "pipeline" => self.pipeline_cmds(b, nested, depth + 1, out),
            Some(b) if b.ty() == "redirected_statement" => {
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
            match c.ty() {
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

    pub(super) fn file_redirect(&mut self, n: Node<'t>, depth: usize) -> Redir {
        let mut op = String::new();
        let mut c = n.walk();
        for ch in n.children(&mut c) {
            if !ch.is_named() {
                op = self.text(ch).to_string();
                break;
            }
        }
        let target = n
            .field("destination")
            .map(|d| self.word(d, false, depth + 1))
            .unwrap_or_default();
        Redir { op, target }
    }

    fn assignment(&mut self, n: Node<'t>, depth: usize) {
        let Some(name) = n.field("name") else {
            return;
        };
        let value = n
            .field("value")
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
            match ch.ty() {
                "variable_assignment" => {
                    let name = ch
                        .field("name")
                        .map(|x| self.text(x).to_string())
                        .unwrap_or_default();
                    let v = ch
                        .field("value")
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
                        .find(|c| c.ty() != "file_descriptor")
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
