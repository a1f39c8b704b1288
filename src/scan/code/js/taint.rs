//! Taint within one function body or the module top level (SPEC §8.2 "Taint") and CODE-002
//! (exfiltration): sensitive sources (CREDNAME env reads, whole-env values, CRED-path and ENV-file
//! contents) reaching a send sink (any argument of a CODE-001 call, the argv of a process running a
//! sender). Also marks network responses and decoder output for CODE-005, CODE-007 and CODE-009.
//!
//! Callbacks passed to calls are walked inline (their parameters take the taint of the call's sources
//! and receiver); other nested functions are their own units and start from the module's state
//! (chosen: closures over a parent function's locals are not followed). One level into and out of
//! same-file functions through per-function summaries.

use super::Js;
use super::fold::args;
use super::scope::{MAX_DEPTH, is_function, strip};
use crate::scan::syntax::NodeExt;
use crate::scan::{StageError, vocab};
use std::collections::{HashMap, HashSet};
use tree_sitter::Node;

pub const ENV_CRED: u8 = 1;
pub const ENV_ALL: u8 = 2;
pub const CRED_FILE: u8 = 4;
pub const ENV_FILE: u8 = 8;
pub const NET: u8 = 16;
pub const DECODED: u8 = 32;
/// A parameter of the function being summarised.
const PARAM: u8 = 64;
pub const SENSITIVE: u8 = ENV_CRED | ENV_ALL | CRED_FILE | ENV_FILE;

type Vars = HashMap<String, u8>;

#[derive(Default, Clone)]
pub(super) struct Summary {
    pub(super) ret: u8,
    /// Parameter i reaches a send sink.
    pub(super) param_sink: Vec<bool>,
}

/// How a unit walk behaves.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Update state only.
    Quiet,
    /// Summarising a function: record PARAM reaching a sink.
    Summary,
    /// Report CODE-002 and record argument taints.
    Report,
}

pub(super) struct Walk {
    pub(super) vars: Vars,
    ret: u8,
    param_hit: bool,
    /// A send call was met in a reporting or summary pass.
    sends: bool,
    mode: Mode,
}

fn is_callback(n: Node) -> bool {
    n.parent().is_some_and(|p| p.ty() == "arguments")
}

impl<'t> Js<'_, 't> {
    pub(super) fn taint_pass(&mut self) -> Result<(), StageError> {
        // Units: the module top level and every function that is not a callback argument.
        let mut units = vec![self.root];
        let mut named: Vec<Node<'t>> = Vec::new();
        // Ids of the functions that are units of their own (`named`, never truncated): the unit walks
        // skip them without asking each function node for its parent again (issue #4).
        let mut own: HashSet<usize> = HashSet::new();
        let mut cur = self.root.walk();
        let mut up = false;
        loop {
            if !up {
                self.tick()?;
                let n = cur.node();
                if is_function(n.ty()) && !is_callback(n) {
                    units.push(n);
                    named.push(n);
                    own.insert(n.id());
                }
                if cur.goto_first_child() {
                    continue;
                }
            }
            if cur.goto_next_sibling() {
                up = false;
            } else if cur.goto_parent() {
                up = true;
            } else {
                break;
            }
        }
        let empty = HashMap::new();
        // Module state first (no summaries), then summaries of functions, then the reporting walks.
        let module = self
            .walk_unit(self.root, Vars::new(), Mode::Quiet, &empty, &own)?
            .vars;
        let mut summaries: HashMap<usize, Summary> = HashMap::new();
        for f in named.iter().take(500) {
            let params = self.params(*f);
            // Summary mode changes no state, only notes sends; with no PARAM in the start state
            // nothing is recorded, but `sends` tells whether any parameter walk could hit.
            let base = self.walk_unit(
                *f,
                self.unit_start(&module, &params),
                Mode::Summary,
                &empty,
                &own,
            )?;
            let mut s = Summary {
                ret: base.ret & !PARAM,
                param_sink: vec![false; params.len()],
            };
            // A parameter reaches a sink only through a send call walked in the unit; `is_send`
            // depends on the call node alone, so without one every parameter walk finds nothing.
            let walks = if base.sends { 8 } else { 0 };
            for (i, p) in params.iter().enumerate().take(walks) {
                let mut start = self.unit_start(&module, &params);
                for name in p {
                    start.insert(name.clone(), PARAM);
                }
                let w = self.walk_unit(*f, start, Mode::Summary, &empty, &own)?;
                s.param_sink[i] = w.param_hit;
            }
            summaries.insert(f.id(), s);
        }
        for u in units {
            let start = if u.id() == self.root.id() {
                Vars::new()
            } else {
                self.unit_start(&module, &self.params(u))
            };
            self.walk_unit(u, start, Mode::Report, &summaries, &own)?;
        }
        Ok(())
    }

    fn unit_start(&self, module: &Vars, params: &[Vec<String>]) -> Vars {
        let mut v = module.clone();
        for p in params.iter().flatten() {
            v.remove(p);
        }
        v
    }

    /// Parameter names of a function: one list of bound names per parameter.
    fn params(&self, f: Node<'t>) -> Vec<Vec<String>> {
        if let Some(p) = f.field("parameter") {
            return vec![vec![self.cx.text(p).to_string()]];
        }
        let Some(ps) = f.field("parameters") else {
            return Vec::new();
        };
        let mut cur = ps.walk();
        ps.named_children(&mut cur)
            .filter(|c| c.ty() != "comment")
            .map(|c| {
                let mut names = Vec::new();
                self.pattern_names(c, &mut names, 0);
                names
            })
            .collect()
    }

    fn pattern_names(&self, p: Node<'t>, out: &mut Vec<String>, d: u32) {
        if d > 12 {
            return;
        }
        match p.ty() {
            "identifier" | "shorthand_property_identifier_pattern" => {
                out.push(self.cx.text(p).to_string())
            }
            "assignment_pattern" | "object_assignment_pattern" => {
                if let Some(l) = p.field("left") {
                    self.pattern_names(l, out, d + 1);
                }
            }
            "pair_pattern" => {
                if let Some(v) = p.field("value") {
                    self.pattern_names(v, out, d + 1);
                }
            }
            "required_parameter" | "optional_parameter" => {
                if let Some(v) = p.field("pattern") {
                    self.pattern_names(v, out, d + 1);
                }
            }
            "object_pattern" | "array_pattern" | "rest_pattern" | "formal_parameters" => {
                let mut cur = p.walk();
                for c in p.named_children(&mut cur) {
                    self.pattern_names(c, out, d + 1);
                }
            }
            _ => {}
        }
    }

    fn bind(&self, w: &mut Walk, pat: Node<'t>, t: u8) {
        let mut names = Vec::new();
        self.pattern_names(pat, &mut names, 0);
        for n in names {
            *w.vars.entry(n).or_insert(0) |= t;
        }
    }

    /// Two passes over a unit (so that taint assigned later in a loop body is seen), the second in
    /// `mode`.
    fn walk_unit(
        &mut self,
        unit: Node<'t>,
        start: Vars,
        mode: Mode,
        sums: &HashMap<usize, Summary>,
        own: &HashSet<usize>,
    ) -> Result<Walk, StageError> {
        let mut w = Walk {
            vars: start,
            ret: 0,
            param_hit: false,
            sends: false,
            mode: Mode::Quiet,
        };
        let body = if unit.id() == self.root.id() {
            unit
        } else {
            match unit.field("body") {
                Some(b) => b,
                None => return Ok(w),
            }
        };
        for pass in 0..2 {
            w.mode = if pass == 1 { mode } else { Mode::Quiet };
            if body.ty() != "statement_block" && unit.id() != self.root.id() {
                // An arrow function's expression body is its return value.
                w.ret |= self.expr(&w, body, sums, 0);
            }
            // Pre-order over the body with one cursor (a cursor and a child list per node was a
            // large part of the walk's cost, issue #4); the cursor cannot leave `body`.
            let mut cur = body.walk();
            'walk: loop {
                self.tick()?;
                let n = cur.node();
                let nested = n.id() != body.id() && own.contains(&n.id());
                if !nested {
                    self.step(&mut w, n, sums);
                    if cur.goto_first_child() {
                        continue;
                    }
                }
                while !cur.goto_next_sibling() {
                    if !cur.goto_parent() {
                        break 'walk;
                    }
                }
            }
        }
        Ok(w)
    }

    fn step(&mut self, w: &mut Walk, n: Node<'t>, sums: &HashMap<usize, Summary>) {
        match n.ty() {
            "variable_declarator" => {
                if let (Some(name), Some(v)) = (n.field("name"), n.field("value")) {
                    let t = self.expr(w, v, sums, 0);
                    self.bind(w, name, t);
                }
            }
            "assignment_expression" | "augmented_assignment_expression" => {
                let (Some(l), Some(r)) = (n.field("left"), n.field("right")) else {
                    return;
                };
                let t = self.expr(w, r, sums, 0);
                if let Some(base) = self.base_name(l) {
                    *w.vars.entry(base).or_insert(0) |= t;
                }
            }
            "for_in_statement" => {
                if let (Some(l), Some(r)) = (n.field("left"), n.field("right")) {
                    let mut t = self.expr(w, r, sums, 0);
                    // `for (k in process.env)` hands out the environment's keys (and `process.env[k]`).
                    if self.cx.qual(r).as_deref() == Some("process.env") {
                        t |= ENV_ALL;
                    }
                    self.bind(w, l, t);
                }
            }
            "return_statement" => {
                if let Some(e) = n.named_child(0) {
                    w.ret |= self.expr(w, e, sums, 0);
                }
            }
            "call_expression" | "new_expression" => self.on_call_taint(w, n, sums),
            _ => {}
        }
    }

    /// The variable a write target belongs to (`d`, `d.k`, `d[k]` → `d`).
    pub(super) fn base_name(&self, mut l: Node<'t>) -> Option<String> {
        for _ in 0..MAX_DEPTH {
            l = strip(l);
            match l.ty() {
                "identifier" => return Some(self.cx.text(l).to_string()),
                "member_expression" | "subscript_expression" => l = l.field("object")?,
                _ => return None,
            }
        }
        None
    }

    fn on_call_taint(&mut self, w: &mut Walk, n: Node<'t>, sums: &HashMap<usize, Summary>) {
        let f = n
            .field("function")
            .or_else(|| n.field("constructor"))
            .map(strip);
        let q = f.and_then(|f| self.cx.qual(f)).unwrap_or_default();
        let a = args(n);
        let arg_t: Vec<u8> = a.iter().map(|x| self.expr(w, *x, sums, 0)).collect();
        let all: u8 = arg_t.iter().fold(0, |x, y| x | y);
        // Container writes: `l.push(t)`, `m.set(k, t)`, `Object.assign(d, t)`.
        if let Some(f) = f
            && f.ty() == "member_expression"
        {
            let prop = f.field("property").map(|p| self.cx.text(p));
            if matches!(
                prop,
                Some("push" | "unshift" | "set" | "append" | "add" | "write" | "assign")
            ) && let Some(obj) = f.field("object")
                && let Some(base) = self.base_name(obj)
                && !matches!(base.as_str(), "Object" | "process" | "console")
            {
                *w.vars.entry(base).or_insert(0) |= all;
            }
        }
        if q == "Object.assign"
            && let Some(t0) = a.first()
            && let Some(base) = self.base_name(*t0)
        {
            *w.vars.entry(base).or_insert(0) |= all;
        }
        // Callback parameters take the call's sources and its receiver's taint.
        let recv = f
            .filter(|f| f.ty() == "member_expression")
            .and_then(|f| f.field("object"))
            .map(|o| self.expr(w, o, sums, 0))
            .unwrap_or(0);
        let cb_t = self.source(n, &q) | recv;
        if cb_t != 0 {
            for x in &a {
                let x = strip(*x);
                if is_function(x.ty()) {
                    if let Some(p) = x.field("parameter") {
                        self.bind(w, p, cb_t);
                    } else if let Some(ps) = x.field("parameters") {
                        self.bind(w, ps, cb_t);
                    }
                }
            }
        }
        if w.mode == Mode::Quiet {
            return;
        }
        if w.mode == Mode::Report {
            for (x, t) in a.iter().zip(&arg_t) {
                *self.taints.entry(x.id()).or_insert(0) |= *t;
            }
        }
        // One level into same-file functions.
        if w.mode == Mode::Report
            && let Some(f) = f
            && f.ty() == "identifier"
            && let Some(fun) = self.cx.sym.function(self.cx.text(f))
            && let Some(s) = sums.get(&fun.id())
            && arg_t
                .iter()
                .zip(&s.param_sink)
                .any(|(t, hit)| *hit && t & SENSITIVE != 0)
        {
            self.exfil(n, all);
            return;
        }
        if !self.is_send(n, &q) {
            return;
        }
        w.sends = true;
        match w.mode {
            Mode::Summary if all & PARAM != 0 => w.param_hit = true,
            Mode::Report if all & SENSITIVE != 0 && !self.excepted(n, &q, w, sums) => {
                self.exfil(n, all);
            }
            _ => {}
        }
    }

    /// Taint of an expression under the walk's state.
    pub(super) fn expr(&self, w: &Walk, n: Node<'t>, sums: &HashMap<usize, Summary>, d: u32) -> u8 {
        if d > MAX_DEPTH {
            return 0;
        }
        let n = strip(n);
        match n.ty() {
            "identifier" | "shorthand_property_identifier" => {
                w.vars.get(self.cx.text(n)).copied().unwrap_or(0)
            }
            "member_expression" | "subscript_expression" => {
                let q = self.cx.qual(n).unwrap_or_default();
                if q == "process.env" || q == "Bun.env" {
                    return ENV_ALL;
                }
                let obj = n.field("object");
                let oq = obj.and_then(|o| self.cx.qual(o)).unwrap_or_default();
                if oq == "process.env" || oq == "Bun.env" {
                    let key = if n.ty() == "member_expression" {
                        n.field("property").map(|p| self.cx.text(p).to_string())
                    } else {
                        n.field("index").and_then(|i| self.cx.fold_str(i))
                    };
                    return match key {
                        Some(k) if vocab::is_credname(&k) => ENV_CRED,
                        Some(_) => 0,
                        None => n.field("index").map_or(0, |i| self.expr(w, i, sums, d + 1)),
                    };
                }
                let mut t = obj.map_or(0, |o| self.expr(w, o, sums, d + 1));
                if let Some(i) = n.field("index") {
                    t |= self.expr(w, i, sums, d + 1);
                }
                t
            }
            "call_expression" | "new_expression" => {
                let f = n
                    .field("function")
                    .or_else(|| n.field("constructor"))
                    .map(strip);
                let q = f.and_then(|f| self.cx.qual(f)).unwrap_or_default();
                let mut t = self.source(n, &q);
                for a in args(n) {
                    t |= self.expr(w, a, sums, d + 1);
                }
                if let Some(f) = f {
                    if f.ty() == "member_expression"
                        && let Some(o) = f.field("object")
                    {
                        t |= self.expr(w, o, sums, d + 1);
                    }
                    if f.ty() == "identifier"
                        && let Some(fun) = self.cx.sym.function(self.cx.text(f))
                        && let Some(s) = sums.get(&fun.id())
                    {
                        t |= s.ret;
                    }
                }
                t
            }
            "arrow_function"
            | "function_expression"
            | "function"
            | "string"
            | "number"
            | "regex"
            | "true"
            | "false"
            | "null"
            | "undefined"
            | "comment" => 0,
            _ => {
                let mut t = 0;
                let mut cur = n.walk();
                for c in n.named_children(&mut cur) {
                    t |= self.expr(w, c, sums, d + 1);
                }
                t
            }
        }
    }
}
