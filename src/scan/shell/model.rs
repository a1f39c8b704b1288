//! The shell script model the rules read: tree-sitter-bash trees flattened into events (pipelines of simple
//! commands and assignments) in execution order, with §8.2 shell folding applied to every word (variables
//! assigned once to a constant, here-strings and here-documents, `$(echo … | base64 -d)`). It does not
//! judge anything; `rules.rs` and `flow.rs` do.

use super::builder::Builder;
use crate::scan::syntax::{self, Grammar};
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::time::Instant;

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
