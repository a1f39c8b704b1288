//! Shell analysis (SPEC §8.3 SH-001–SH-007, CODE-009 in shell text, §8.2 shell terms and shell folding) on
//! tree-sitter-bash syntax trees. Used by stage 2 (shell scripts, command strings of process calls and of
//! agent configuration / IDE auto-run files), by stage 3 (PI-008 reads these hits in Markdown shell text)
//! and by stage 5 (SUP-005 install scripts).
//!
//! Layout: `model.rs` builds the folded script model from the syntax tree, `terms.rs` and `decode.rs` hold
//! the §8.2 shell terms, `rules.rs`, `flow.rs` and `agentcli.rs` the rules, `pwsh.rs` the PowerShell
//! token fallback, `stage2.rs` the stage 2 file selection.

mod agentcli;
mod builder;
mod decode;
mod exfil;
mod flow;
mod model;
mod prompt;
mod pwsh;
mod rules;
mod stage2;
mod terms;
mod words;

use super::files::FileSet;
use super::report::{Finding, Severity};
use super::{StageCtx, StageError};
use crate::permissions::Permissions;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// One match of an SH rule (or CODE-009) in a piece of shell text.
#[derive(Debug, Clone, PartialEq)]
pub struct ShellHit {
    pub rule_id: &'static str,
    pub rule_type: &'static str,
    /// `Info` for the note variants (e.g. SH-005 after a checksum check).
    pub severity: Severity,
    /// 1-based line within the analysed text.
    pub line: u32,
    pub message: String,
    /// The command (≤ 200 characters) or, for decoded data, the decoded text.
    pub evidence: String,
    /// True when the hit comes from decoded data (message starts with `In decoded data: `).
    pub decoded: bool,
}

/// What the shell analyser may consult.
#[derive(Clone, Copy)]
pub struct ShellOpts<'a> {
    /// The package (package slices of §8.2, `tail -c +N <package file>`); None when unknown.
    pub files: Option<&'a FileSet>,
    /// Declared permissions (SH-002 "also with the host declared" never lowers; kept for messages).
    pub declared: Option<&'a Permissions>,
    pub deadline: Instant,
    /// Decoding depth already used (§8.2: depth ≤ 2).
    pub depth: u8,
}

/// Message prefix of hits found in decoded data (§8.2 shell folding).
pub const DECODED_PREFIX: &str = "In decoded data: ";

/// Analyses shell text (a script, one command string, or a Markdown block read as shell) and returns
/// the SH / CODE-009 hits. Never panics on any input; stops early at the deadline.
pub fn analyze(text: &str, opts: &ShellOpts) -> Vec<ShellHit> {
    analyze_seeing(text, opts, &mut |_| {})
}

/// `analyze`, also handing each batch of the model to `also` (stage 2 reads the scripts a text runs
/// from the same parse instead of parsing the text a second time; issue #4).
pub(crate) fn analyze_seeing(
    text: &str,
    opts: &ShellOpts,
    also: &mut dyn FnMut(&model::Script),
) -> Vec<ShellHit> {
    // §8.2: decoded data is re-scanned up to 64 KiB per file (per analysed text here).
    let budget = Cell::new(decode::MAX_DECODED);
    analyze_with(text, opts, 0, &budget, also)
}

/// `nest`: depth of constant code analysed in place (`bash -c '…'`, `eval '…'`).
fn analyze_inner(text: &str, opts: &ShellOpts, nest: u8, budget: &Cell<usize>) -> Vec<ShellHit> {
    analyze_with(text, opts, nest, budget, &mut |_| {})
}

fn analyze_with(
    text: &str,
    opts: &ShellOpts,
    nest: u8,
    budget: &Cell<usize>,
    also: &mut dyn FnMut(&model::Script),
) -> Vec<ShellHit> {
    if Instant::now() >= opts.deadline {
        return Vec::new();
    }
    let mut a = rules::Analyzer::new(opts, nest, budget);
    model::build_each(text, opts.deadline, |script| {
        a.run(script);
        a.sh002_fifo(script);
        also(script);
    });
    let mut hits = a.hits;
    // PowerShell does not parse as bash: token fallback, for lines the tree did not already judge.
    let seen: HashSet<(&str, u32)> = hits.iter().map(|h| (h.rule_id, h.line)).collect();
    let extra: Vec<ShellHit> = pwsh::scan(text)
        .into_iter()
        .filter(|h| !seen.contains(&(h.rule_id, h.line)))
        .collect();
    hits.extend(extra);
    dedupe(hits)
}

/// One hit per (rule, line) and per decoded text, the most severe kept, in line order.
fn dedupe(hits: Vec<ShellHit>) -> Vec<ShellHit> {
    let mut out: Vec<ShellHit> = Vec::new();
    let mut index: HashMap<(&'static str, u32, bool, String), usize> = HashMap::new();
    for h in hits {
        let ev = if h.decoded {
            h.evidence.clone()
        } else {
            String::new()
        };
        match index.get(&(h.rule_id, h.line, h.decoded, ev.clone())) {
            Some(&i) => {
                if h.severity < out[i].severity {
                    out[i] = h;
                }
            }
            None => {
                index.insert((h.rule_id, h.line, h.decoded, ev), out.len());
                out.push(h);
            }
        }
    }
    out.sort_by_key(|h| h.line);
    out
}

/// One simple command of shell text after shell folding (§8.2): its line and words. A word that does not
/// fold to a constant is `None` ("a non-constant operand counts as absent").
#[derive(Debug, Clone, PartialEq)]
pub struct SimpleCommand {
    pub line: u32,
    pub argv: Vec<Option<String>>,
}

/// The simple commands of shell text, in source order (pipelines, lists, subshells, substitutions
/// flattened), after stripping `sudo`/`env VAR=…`/`command`/`exec`/`nohup`/`time` wrappers is NOT done
/// here (callers decide). Used by stage 5 for installer lines and by stage 3.
pub fn commands(text: &str, deadline: Instant) -> Vec<SimpleCommand> {
    let Some(script) = model::build(text, deadline) else {
        return Vec::new();
    };
    let mut out = script
        .pipelines()
        .flat_map(|p| p.cmds.iter())
        .filter(|c| !c.argv.is_empty())
        .map(|c| SimpleCommand {
            line: c.line,
            argv: c.argv.iter().map(|w| w.text.clone()).collect(),
        })
        .collect::<Vec<_>>();
    // Substitutions are built before the command that uses them; callers want source order.
    out.sort_by_key(|c| c.line);
    out
}

/// Stage 2 findings for shell scripts (kind Shell, by name, shebang or use) and for the command strings
/// of agent configuration and IDE auto-run files (STR-010, STR-013), with §8.2 path lowering applied.
pub fn stage2_findings(ctx: &StageCtx) -> Result<Vec<Finding>, StageError> {
    stage2::findings(ctx)
}

#[cfg(test)]
mod folding_tests;
#[cfg(test)]
mod stage2_tests;
#[cfg(test)]
mod tests;
