//! §8.2 shell folding of single words: quotes and escapes removed, variables assigned once to a constant
//! substituted, `$(echo … | base64 -d)` folded to its decoded output, here-documents expanded.

use super::builder::{Builder, MAX_DEPTH, named_children};
use super::decode;
use super::model::{Event, Script, Sub, Word};
use crate::scan::syntax::NodeExt;
use std::ops::Range;
use tree_sitter::Node;

impl<'t> Builder<'t> {
    pub(super) fn heredoc(&mut self, n: Node<'t>, quoted: bool, depth: usize) -> Word {
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
            let part = match ch.ty() {
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

    /// Folds a word node. `lookup_only`: called while resolving a variable (substitutions are not kept).
    pub(super) fn word(&mut self, n: Node<'t>, lookup_only: bool, depth: usize) -> Word {
        if depth > MAX_DEPTH {
            return nonconst(self.text(n));
        }
        match n.ty() {
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
                    let part = match ch.ty() {
                        "string_content" => Word::lit(&unescape_dq(self.text(ch))),
                        _ => self.word(ch, lookup_only, depth + 1),
                    };
                    append(&mut w, part);
                }
                if n.ty() == "concatenation" {
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
                let simple = names.len() == 1 && names[0].ty() == "variable_name";
                let name = names
                    .iter()
                    .find(|c| c.ty() == "variable_name")
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
                let process = n.ty() == "process_substitution";
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

pub(super) fn nonconst(raw: &str) -> Word {
    Word {
        text: None,
        loose: raw.to_string(),
        ..Word::default()
    }
}

pub(super) fn push_const(w: &mut Word, s: &str) {
    if let Some(t) = w.text.as_mut() {
        t.push_str(s);
    }
    w.loose.push_str(s);
}

pub(super) fn append(w: &mut Word, part: Word) {
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
pub(super) fn unescape_word(s: &str) -> String {
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
pub(super) fn unescape_dq(s: &str) -> String {
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
pub(super) fn ansi_c(s: &str) -> String {
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
pub(super) fn const_output(s: &Script, r: Range<usize>) -> Option<Vec<u8>> {
    let evs = s.events.get(r)?;
    let [Event::Pipe(p)] = evs else {
        return None;
    };
    let (out, _) = decode::pipeline_output(&p.cmds, 0, p.cmds.len())?;
    Some(out)
}
