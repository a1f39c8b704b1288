//! Taint within one function body or the module top level (SPEC §8.2 "Taint") and CODE-002
//! (exfiltration): sensitive sources (CREDNAME env reads, whole-env values, CRED-path and ENV-file
//! contents) reaching a send sink (any argument of a CODE-001 call, the argv of a process running a
//! sender). Also marks network responses and decoder output for CODE-005, CODE-007 and CODE-009.
//!
//! Callbacks passed to calls are walked inline (their parameters take the taint of the call's sources
//! and receiver); other nested functions are their own units and start from the module's state
//! (chosen: closures over a parent function's locals are not followed). One level into and out of
//! same-file functions through per-function summaries.

use super::fold::{arg, args};
use super::procs;
use super::scope::{MAX_DEPTH, is_function, strip};
use super::{FLOW, Js, line_of};
use crate::permissions::host_covered;
use crate::scan::report::Severity;
use crate::scan::{StageError, vocab};
use std::collections::HashMap;
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
struct Summary {
    ret: u8,
    /// Parameter i reaches a send sink.
    param_sink: Vec<bool>,
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

struct Walk {
    vars: Vars,
    ret: u8,
    param_hit: bool,
    mode: Mode,
}

fn is_callback(n: Node) -> bool {
    n.parent().is_some_and(|p| p.kind() == "arguments")
}

impl<'t> Js<'_, 't> {
    pub(super) fn taint_pass(&mut self) -> Result<(), StageError> {
        // Units: the module top level and every function that is not a callback argument.
        let mut units = vec![self.root];
        let mut named: Vec<Node<'t>> = Vec::new();
        let mut cur = self.root.walk();
        let mut up = false;
        loop {
            if !up {
                self.tick()?;
                let n = cur.node();
                if is_function(n.kind()) && !is_callback(n) {
                    units.push(n);
                    named.push(n);
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
            .walk_unit(self.root, Vars::new(), Mode::Quiet, &empty)?
            .vars;
        let mut summaries: HashMap<usize, Summary> = HashMap::new();
        for f in named.iter().take(500) {
            let params = self.params(*f);
            let base =
                self.walk_unit(*f, self.unit_start(&module, &params), Mode::Quiet, &empty)?;
            let mut s = Summary {
                ret: base.ret & !PARAM,
                param_sink: vec![false; params.len()],
            };
            for (i, p) in params.iter().enumerate().take(8) {
                let mut start = self.unit_start(&module, &params);
                for name in p {
                    start.insert(name.clone(), PARAM);
                }
                let w = self.walk_unit(*f, start, Mode::Summary, &empty)?;
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
            self.walk_unit(u, start, Mode::Report, &summaries)?;
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
        if let Some(p) = f.child_by_field_name("parameter") {
            return vec![vec![self.cx.text(p).to_string()]];
        }
        let Some(ps) = f.child_by_field_name("parameters") else {
            return Vec::new();
        };
        let mut cur = ps.walk();
        ps.named_children(&mut cur)
            .filter(|c| c.kind() != "comment")
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
        match p.kind() {
            "identifier" | "shorthand_property_identifier_pattern" => {
                out.push(self.cx.text(p).to_string())
            }
            "assignment_pattern" | "object_assignment_pattern" => {
                if let Some(l) = p.child_by_field_name("left") {
                    self.pattern_names(l, out, d + 1);
                }
            }
            "pair_pattern" => {
                if let Some(v) = p.child_by_field_name("value") {
                    self.pattern_names(v, out, d + 1);
                }
            }
            "required_parameter" | "optional_parameter" => {
                if let Some(v) = p.child_by_field_name("pattern") {
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
    ) -> Result<Walk, StageError> {
        let mut w = Walk {
            vars: start,
            ret: 0,
            param_hit: false,
            mode: Mode::Quiet,
        };
        let body = if unit.id() == self.root.id() {
            unit
        } else {
            match unit.child_by_field_name("body") {
                Some(b) => b,
                None => return Ok(w),
            }
        };
        for pass in 0..2 {
            w.mode = if pass == 1 { mode } else { Mode::Quiet };
            if body.kind() != "statement_block" && unit.id() != self.root.id() {
                // An arrow function's expression body is its return value.
                w.ret |= self.expr(&w, body, sums, 0);
            }
            let mut stack = vec![body];
            while let Some(n) = stack.pop() {
                self.tick()?;
                if n.id() != body.id() && is_function(n.kind()) && !is_callback(n) {
                    continue;
                }
                self.step(&mut w, n, sums);
                let mut cur = n.walk();
                let kids: Vec<Node> = n.children(&mut cur).collect();
                stack.extend(kids.into_iter().rev());
            }
        }
        Ok(w)
    }

    fn step(&mut self, w: &mut Walk, n: Node<'t>, sums: &HashMap<usize, Summary>) {
        match n.kind() {
            "variable_declarator" => {
                if let (Some(name), Some(v)) = (
                    n.child_by_field_name("name"),
                    n.child_by_field_name("value"),
                ) {
                    let t = self.expr(w, v, sums, 0);
                    self.bind(w, name, t);
                }
            }
            "assignment_expression" | "augmented_assignment_expression" => {
                let (Some(l), Some(r)) = (
                    n.child_by_field_name("left"),
                    n.child_by_field_name("right"),
                ) else {
                    return;
                };
                let t = self.expr(w, r, sums, 0);
                if let Some(base) = self.base_name(l) {
                    *w.vars.entry(base).or_insert(0) |= t;
                }
            }
            "for_in_statement" => {
                if let (Some(l), Some(r)) = (
                    n.child_by_field_name("left"),
                    n.child_by_field_name("right"),
                ) {
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
            match l.kind() {
                "identifier" => return Some(self.cx.text(l).to_string()),
                "member_expression" | "subscript_expression" => {
                    l = l.child_by_field_name("object")?
                }
                _ => return None,
            }
        }
        None
    }

    fn on_call_taint(&mut self, w: &mut Walk, n: Node<'t>, sums: &HashMap<usize, Summary>) {
        let f = n
            .child_by_field_name("function")
            .or_else(|| n.child_by_field_name("constructor"))
            .map(strip);
        let q = f.and_then(|f| self.cx.qual(f)).unwrap_or_default();
        let a = args(n);
        let arg_t: Vec<u8> = a.iter().map(|x| self.expr(w, *x, sums, 0)).collect();
        let all: u8 = arg_t.iter().fold(0, |x, y| x | y);
        // Container writes: `l.push(t)`, `m.set(k, t)`, `Object.assign(d, t)`.
        if let Some(f) = f
            && f.kind() == "member_expression"
        {
            let prop = f.child_by_field_name("property").map(|p| self.cx.text(p));
            if matches!(
                prop,
                Some("push" | "unshift" | "set" | "append" | "add" | "write" | "assign")
            ) && let Some(obj) = f.child_by_field_name("object")
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
            .filter(|f| f.kind() == "member_expression")
            .and_then(|f| f.child_by_field_name("object"))
            .map(|o| self.expr(w, o, sums, 0))
            .unwrap_or(0);
        let cb_t = self.source(n, &q) | recv;
        if cb_t != 0 {
            for x in &a {
                let x = strip(*x);
                if is_function(x.kind()) {
                    if let Some(p) = x.child_by_field_name("parameter") {
                        self.bind(w, p, cb_t);
                    } else if let Some(ps) = x.child_by_field_name("parameters") {
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
            && f.kind() == "identifier"
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
        match w.mode {
            Mode::Summary => {
                if all & PARAM != 0 {
                    w.param_hit = true;
                }
            }
            Mode::Report if all & SENSITIVE != 0 && !self.excepted(n, &q, w, sums) => {
                self.exfil(n, all);
            }
            _ => {}
        }
    }

    fn exfil(&mut self, n: Node<'t>, t: u8) {
        let what = if t & CRED_FILE != 0 {
            "credential file contents"
        } else if t & ENV_ALL != 0 {
            "the whole environment"
        } else if t & ENV_FILE != 0 {
            "`.env` file contents"
        } else {
            "a credential environment variable"
        };
        let line = line_of(n);
        let ev = self.line_text(line);
        self.emit(
            "CODE-002",
            "exfiltration",
            Severity::Critical,
            line,
            format!("Sensitive data ({what}) is sent over the network."),
            ev,
            FLOW,
        );
    }

    /// A send sink: a CODE-001 call, a method of a network handle (`req.write`, `socket.send`), or a
    /// process running a sender (`curl`, `wget`, `nc`, `scp`, `rsync`, `ftp`).
    fn is_send(&self, n: Node<'t>, q: &str) -> bool {
        if self.net_hosts(n, q).is_some() {
            return true;
        }
        if let Some((base, m)) = q.rsplit_once('.')
            && matches!(m, "write" | "end" | "send")
            && let Some((bb, bm)) = base.rsplit_once('.').or(Some(("", base)))
            && self.net_hosts(n, base).is_some() | is_net_ctor(bb, bm, base)
        {
            return true;
        }
        self.cx
            .proc_call(n, q)
            .is_some_and(|p| p.simple.iter().any(|s| procs::is_sender(s)))
    }

    /// The §8.3 CODE-002 exception: only a CREDNAME env value, only in headers / auth / a
    /// credential-named field, to a constant declared host.
    fn excepted(&self, n: Node<'t>, q: &str, w: &Walk, sums: &HashMap<usize, Summary>) -> bool {
        let a = args(n);
        let t: u8 = a.iter().fold(0, |acc, x| acc | self.expr(w, *x, sums, 0));
        if t & SENSITIVE & !ENV_CRED != 0 {
            return false;
        }
        let Some(hosts) = self.net_hosts(n, q) else {
            return false;
        };
        let declared = !hosts.is_empty()
            && hosts.iter().all(|h| {
                h.as_ref().is_some_and(|h| {
                    vocab::is_loopback_host(h) || host_covered(&self.f.declared.outbound, h)
                })
            });
        declared && a.iter().all(|x| self.allowed_position(w, *x, sums, 0))
    }

    /// Every tainted part of `x` sits under `headers`/`auth` or a credential-named field, or after a
    /// credential-named query parameter of a URL.
    fn allowed_position(
        &self,
        w: &Walk,
        x: Node<'t>,
        sums: &HashMap<usize, Summary>,
        d: u32,
    ) -> bool {
        if d > 8 || self.expr(w, x, sums, 0) & SENSITIVE == 0 {
            return true;
        }
        let x = strip(x);
        let ok_key = |k: &str| {
            let l = k.to_ascii_lowercase();
            matches!(l.as_str(), "headers" | "auth" | "key" | "appid") || vocab::is_credname(k)
        };
        match x.kind() {
            "object" => {
                let mut cur = x.walk();
                let kids: Vec<Node> = x.named_children(&mut cur).collect();
                kids.into_iter().all(|c| match c.kind() {
                    "pair" => {
                        let k = c
                            .child_by_field_name("key")
                            .and_then(|k| self.cx.key_name(k))
                            .unwrap_or_default();
                        let Some(v) = c.child_by_field_name("value") else {
                            return true;
                        };
                        ok_key(&k) || self.allowed_position(w, v, sums, d + 1)
                    }
                    "shorthand_property_identifier" => {
                        let k = self.cx.text(c);
                        ok_key(k) || w.vars.get(k).copied().unwrap_or(0) & SENSITIVE == 0
                    }
                    _ => self.expr(w, c, sums, 0) & SENSITIVE == 0,
                })
            }
            "template_string" => {
                let mut prefix = String::new();
                let mut cur = x.walk();
                let kids: Vec<Node> = x.named_children(&mut cur).collect();
                for c in kids {
                    if c.kind() == "template_substitution" {
                        let tainted = c
                            .named_child(0)
                            .is_some_and(|e| self.expr(w, e, sums, 0) & SENSITIVE != 0);
                        if tainted {
                            let name = prefix
                                .strip_suffix('=')
                                .and_then(|p| p.rsplit(['?', '&']).next())
                                .unwrap_or("");
                            if name.is_empty() || !ok_key(name) {
                                return false;
                            }
                        }
                        prefix.push('\u{2}');
                    } else {
                        prefix.push_str(self.cx.text(c));
                    }
                }
                true
            }
            "call_expression" | "new_expression" => {
                let q = x
                    .child_by_field_name("function")
                    .or_else(|| x.child_by_field_name("constructor"))
                    .and_then(|f| self.cx.qual(f))
                    .unwrap_or_default();
                matches!(
                    q.as_str(),
                    "URLSearchParams" | "JSON.stringify" | "url.URLSearchParams"
                ) && args(x)
                    .iter()
                    .all(|a| self.allowed_position(w, *a, sums, d + 1))
            }
            "identifier" => self
                .cx
                .object_literal(x)
                .is_some_and(|o| self.allowed_position(w, o, sums, d + 1)),
            _ => false,
        }
    }

    /// Sources of a call: file reads of CRED paths / ENV files, dotenv, Deno env, network responses,
    /// decoders.
    fn source(&self, n: Node<'t>, q: &str) -> u8 {
        let mut t = 0;
        let qn = q
            .strip_prefix("fs.promises.")
            .map_or_else(|| q.to_string(), |r| format!("fs.{r}"));
        if matches!(
            qn.as_str(),
            "fs.readFileSync"
                | "fs.readFile"
                | "fs.createReadStream"
                | "fs.readJson"
                | "fs.readJsonSync"
                | "Bun.file"
                | "Deno.readTextFile"
                | "Deno.readTextFileSync"
                | "Deno.readFile"
                | "Deno.readFileSync"
        ) && let Some(p) = arg(n, 0)
        {
            for s in self.path_candidates(p) {
                if vocab::is_cred_path(&s) {
                    t |= CRED_FILE;
                } else if vocab::is_env_file(&s) {
                    t |= ENV_FILE;
                }
            }
        }
        match q {
            "dotenv.config" | "dotenv.parse" => t |= ENV_FILE,
            "Deno.env.toObject" => t |= ENV_ALL,
            "Deno.env.get" => {
                if arg(n, 0)
                    .and_then(|a| self.cx.fold_str(a))
                    .is_some_and(|k| vocab::is_credname(&k))
                {
                    t |= ENV_CRED;
                }
            }
            _ => {}
        }
        if self.net_hosts(n, q).is_some() {
            t |= NET;
        }
        if n.kind() == "call_expression" && self.is_decoder(n) {
            t |= DECODED;
        }
        t
    }

    /// Taint of an expression under the walk's state.
    fn expr(&self, w: &Walk, n: Node<'t>, sums: &HashMap<usize, Summary>, d: u32) -> u8 {
        if d > MAX_DEPTH {
            return 0;
        }
        let n = strip(n);
        match n.kind() {
            "identifier" | "shorthand_property_identifier" => {
                w.vars.get(self.cx.text(n)).copied().unwrap_or(0)
            }
            "member_expression" | "subscript_expression" => {
                let q = self.cx.qual(n).unwrap_or_default();
                if q == "process.env" || q == "Bun.env" {
                    return ENV_ALL;
                }
                let obj = n.child_by_field_name("object");
                let oq = obj.and_then(|o| self.cx.qual(o)).unwrap_or_default();
                if oq == "process.env" || oq == "Bun.env" {
                    let key = if n.kind() == "member_expression" {
                        n.child_by_field_name("property")
                            .map(|p| self.cx.text(p).to_string())
                    } else {
                        n.child_by_field_name("index")
                            .and_then(|i| self.cx.fold_str(i))
                    };
                    return match key {
                        Some(k) if vocab::is_credname(&k) => ENV_CRED,
                        Some(_) => 0,
                        None => n
                            .child_by_field_name("index")
                            .map_or(0, |i| self.expr(w, i, sums, d + 1)),
                    };
                }
                let mut t = obj.map_or(0, |o| self.expr(w, o, sums, d + 1));
                if let Some(i) = n.child_by_field_name("index") {
                    t |= self.expr(w, i, sums, d + 1);
                }
                t
            }
            "call_expression" | "new_expression" => {
                let f = n
                    .child_by_field_name("function")
                    .or_else(|| n.child_by_field_name("constructor"))
                    .map(strip);
                let q = f.and_then(|f| self.cx.qual(f)).unwrap_or_default();
                let mut t = self.source(n, &q);
                for a in args(n) {
                    t |= self.expr(w, a, sums, d + 1);
                }
                if let Some(f) = f {
                    if f.kind() == "member_expression"
                        && let Some(o) = f.child_by_field_name("object")
                    {
                        t |= self.expr(w, o, sums, d + 1);
                    }
                    if f.kind() == "identifier"
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

/// `new WebSocket(u).send`, `new net.Socket().write`, `new XMLHttpRequest().send`.
fn is_net_ctor(_bb: &str, _bm: &str, base: &str) -> bool {
    matches!(
        base,
        "WebSocket"
            | "ws"
            | "ws.WebSocket"
            | "net.Socket"
            | "XMLHttpRequest"
            | "tls.TLSSocket"
            | "dgram.createSocket"
    )
}
