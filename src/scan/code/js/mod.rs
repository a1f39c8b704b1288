//! JavaScript / TypeScript analysis for stage 2 (SPEC §8.3: JS-001–JS-005, CODE-001–CODE-009 in JS/TS,
//! SUP-001 for JS process calls, SH-002 for sockets wired to shells) on tree-sitter-javascript /
//! -typescript trees. Names are resolved (`scope.rs`), constants folded (`fold.rs`, §8.2), process calls
//! read (`procs.rs`), rules applied per node (`rules.rs`, `write.rs`), taint followed per function
//! (`taint.rs`, CODE-002), mail sends checked for hidden recipients (`mail.rs`, CODE-008) and sockets
//! wired to shells found (`revshell.rs`). Comments are never code: only syntax nodes are read.
//! Not here: MAN-001–MAN-003 (the stage-2 runner computes them from `Capabilities`), the package-level
//! CODE-002 heuristic, and SH rules on command strings (handed to `scan::shell`).

mod argv;
mod decode;
mod env;
mod fold;
mod mail;
mod procs;
mod resolve;
mod revshell;
mod rules;
mod run;
mod scope;
mod sinks;
mod taint;
mod write;

#[cfg(test)]
mod tests;

use super::{CodeOutput, FileCtx, FsWrite, NetUse};
use crate::scan::kinds::{self, JsDialect};
use crate::scan::report::{Finding, Severity};
use crate::scan::syntax::{self, Grammar};
use crate::scan::{StageError, vocab};
use fold::Ctx;
use scope::Symbols;
use std::collections::HashMap;
use std::time::Instant;
use tree_sitter::Node;

const STAGE: &str = "stage2";
/// SPEC §8.6 confidences.
const AST: f64 = 0.9;
const FLOW: f64 = 0.85;
/// Decoded constants re-scanned per file (§8.2: ≤ 64 KiB).
const DECODE_BUDGET: usize = 64 * 1024;
/// Decoding depth (§8.2: ≤ 2).
const MAX_DECODE_DEPTH: u8 = 2;

/// Analyses one JS/TS file (or packed / decoded JS content); the grammar follows `kinds::js_dialect`.
pub fn analyze(f: &FileCtx) -> Result<CodeOutput, StageError> {
    analyze_text(f, f.text, kinds::js_dialect(&f.file.path))
}

fn analyze_text(f: &FileCtx, text: &str, dialect: JsDialect) -> Result<CodeOutput, StageError> {
    let g = match dialect {
        JsDialect::Js => Grammar::JavaScript,
        JsDialect::Ts => Grammar::TypeScript,
        JsDialect::Tsx => Grammar::Tsx,
    };
    let tree = if std::ptr::eq(text, f.text) {
        super::parse_file(f, g)?
    } else {
        syntax::parse(g, text, f.deadline)?
    };
    let root = tree.root_node();
    let cx = Ctx {
        src: text,
        sym: Symbols::build(root, text),
        steps: Default::default(),
        memo: Default::default(),
    };
    let mut js = Js {
        f,
        cx: &cx,
        root,
        lines: text.lines().collect(),
        out: Vec::new(),
        caps: Default::default(),
        taints: HashMap::new(),
        ticks: 0,
        decode_left: DECODE_BUDGET,
        memo: JsMemo::default(),
    };
    js.taint_pass()?;
    js.rules_pass()?;
    js.mail_pass()?;
    js.reverse_shell_pass()?;
    Ok(CodeOutput {
        findings: js.out,
        caps: js.caps,
    })
}

/// One file under analysis.
pub(super) struct Js<'c, 't> {
    f: &'c FileCtx<'c>,
    cx: &'c Ctx<'t>,
    root: Node<'t>,
    lines: Vec<&'t str>,
    out: Vec<Finding>,
    caps: super::Capabilities,
    /// Taint bits of every call argument (by node id), from the taint pass.
    taints: HashMap<usize, u8>,
    ticks: u32,
    decode_left: usize,
    memo: JsMemo,
}

/// `is_send` and `source` by call node id. Both depend only on the node (their `q` argument is always
/// the node's qualified callee); the taint pass asks them for every call in up to eight walks per
/// function (issue #4).
#[derive(Default)]
struct JsMemo {
    send: std::cell::RefCell<HashMap<usize, bool>>,
    source: std::cell::RefCell<HashMap<usize, u8>>,
}

impl<'t> Js<'_, 't> {
    /// Deadline check every 256 steps (§8.1: at least every 10 ms of work).
    fn tick(&mut self) -> Result<(), StageError> {
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks % 256 == 0 && Instant::now() >= self.f.deadline {
            return Err(StageError::Timeout);
        }
        Ok(())
    }

    fn line_text(&self, line: u32) -> String {
        self.lines
            .get(line.saturating_sub(1) as usize)
            .map(|l| l.trim().to_string())
            .unwrap_or_default()
    }

    /// Adds a stage-2 finding with §8.2 path lowering; one per (rule, line), the most severe kept.
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        rule_id: &'static str,
        rule_type: &'static str,
        sev: Severity,
        line: u32,
        message: String,
        evidence: String,
        confidence: f64,
    ) {
        let sev = vocab::severity_for_path(rule_id, sev, self.f.runtime);
        self.push(
            STAGE, rule_id, rule_type, sev, line, message, evidence, confidence,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        stage: &'static str,
        rule_id: &'static str,
        rule_type: &'static str,
        sev: Severity,
        line: u32,
        message: String,
        evidence: String,
        confidence: f64,
    ) {
        if let Some(old) = self
            .out
            .iter_mut()
            .find(|x| x.rule_id == rule_id && x.line == Some(line))
        {
            if sev < old.severity {
                old.severity = sev;
                old.message = message;
                old.evidence = Some(reportable(&evidence));
            }
            return;
        }
        let mut fd = Finding::fact(
            stage,
            sev,
            rule_id,
            rule_type,
            message,
            Some(self.f.file.path.clone()),
        )
        .with_evidence(reportable(&evidence))
        .with_confidence(confidence);
        fd.line = Some(line);
        self.out.push(fd);
    }

    fn net_use(&mut self, host: Option<String>, line: u32) {
        if self.f.runtime {
            self.caps.net.push(NetUse {
                host,
                file: self.f.file.path.clone(),
                line,
            });
        }
    }

    fn fs_write(&mut self, path: String, line: u32) {
        if self.f.runtime {
            self.caps.fs_writes.push(FsWrite {
                path,
                file: self.f.file.path.clone(),
                line,
            });
        }
    }

    fn subprocess(&mut self, line: u32) {
        if self.f.runtime {
            self.caps.subprocess.push((self.f.file.path.clone(), line));
        }
    }

    /// Re-analyses a decoded constant as JS (§8.2: depth ≤ 2, ≤ 64 KiB per file); its findings are
    /// reported at the decoder's line with the prefix `In decoded data: ` and the decoded text as evidence.
    fn rescan(&mut self, decoded: &str, line: u32) -> Result<(), StageError> {
        if self.f.depth >= MAX_DECODE_DEPTH
            || decoded.trim().len() < 4
            || decoded.len() > self.decode_left
        {
            return Ok(());
        }
        self.decode_left -= decoded.len();
        let sub = FileCtx {
            file: self.f.file,
            text: decoded,
            runtime: self.f.runtime,
            files: self.f.files,
            declared: self.f.declared,
            deadline: self.f.deadline,
            depth: self.f.depth + 1,
        };
        let r = analyze_text(&sub, decoded, JsDialect::Js)?;
        for mut fd in r.findings {
            fd.line = Some(line);
            if !fd.message.starts_with("In decoded data: ") {
                fd.message = format!("In decoded data: {}", fd.message);
            }
            fd.evidence = Some(crate::scan::report::truncate_chars(
                &reportable(decoded),
                200,
            ));
            if !self
                .out
                .iter()
                .any(|x| x.rule_id == fd.rule_id && x.line == fd.line && x.severity <= fd.severity)
            {
                self.out
                    .retain(|x| !(x.rule_id == fd.rule_id && x.line == fd.line));
                self.out.push(fd);
            }
        }
        for mut n in r.caps.net {
            n.line = line;
            self.caps.net.push(n);
        }
        for (file, _) in r.caps.subprocess {
            self.caps.subprocess.push((file, line));
        }
        for mut w in r.caps.fs_writes {
            w.line = line;
            self.caps.fs_writes.push(w);
        }
        Ok(())
    }
}

/// Evidence text: internal folding markers shown readably.
fn reportable(s: &str) -> String {
    s.replace(fold::PKG, "<package dir>")
        .replace("\u{1}self", "<this file>")
        .replace(fold::DYN, "…")
}

/// 1-based line of a node.
fn line_of(n: Node) -> u32 {
    syntax::line(n)
}
