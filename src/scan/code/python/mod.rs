//! Python analysis for stage 2 (SPEC §8.3: PY-001–PY-006, CODE-001–CODE-009 in Python, SUP-001 for Python
//! process calls): imports resolved, constants folded, taint followed on the tree-sitter-python tree.
//!
//! Layout: this file owns the walk over statements and scopes; `names.rs` resolves names to qualified
//! paths (imports, `__import__`, `getattr`, single-assignment aliases); `fold.rs` folds constants (§8.2);
//! `taint.rs` follows sensitive data (§8.2 "Taint"); `calls.rs` dispatches the rules at call sites to
//! `process.rs`, `net.rs` and `io.rs`.
//! Comments and docstrings are never code here (§8.1): they are not calls, so no rule sees them.

mod calls;
mod decode;
mod fold;
mod fold_call;
mod io;
mod names;
mod net;
mod process;
mod taint;
#[cfg(test)]
mod tests;

use super::{Capabilities, CodeOutput, FileCtx, STAGE};
use crate::scan::StageError;
use crate::scan::report::{Finding, Severity};
use crate::scan::syntax::NodeExt;
use crate::scan::syntax::{self, Grammar};
use crate::scan::vocab::severity_for_path;
use fold::Val;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::time::Instant;
use tree_sitter::Node;

/// Named children of a node.
pub(super) fn kids(n: Node) -> Vec<Node> {
    let mut c = n.walk();
    n.named_children(&mut c).collect()
}

/// Moves a cursor to the next named node in pre-order, into the current node's children when
/// `descend`; anonymous nodes (tokens) are skipped with their subtrees, as `kids` skips them. False
/// at the end of the cursor's tree.
fn next_named(cur: &mut tree_sitter::TreeCursor, descend: bool) -> bool {
    if descend && cur.goto_first_child() && cur.node().is_named() {
        return true;
    }
    loop {
        while cur.goto_next_sibling() {
            if cur.node().is_named() {
                return true;
            }
        }
        if !cur.goto_parent() {
            return false;
        }
    }
}

/// All children of a node (named or not).
pub(super) fn all_kids(n: Node) -> Vec<Node> {
    let mut c = n.walk();
    n.children(&mut c).collect()
}

/// Positional and keyword arguments of a call (splats are skipped).
pub(super) fn call_args<'t>(call: Node<'t>, src: &str) -> (Vec<Node<'t>>, Vec<(String, Node<'t>)>) {
    let mut pos = Vec::new();
    let mut kw = Vec::new();
    let Some(args) = call.field("arguments") else {
        return (pos, kw);
    };
    if args.ty() == "generator_expression" {
        pos.push(args);
        return (pos, kw);
    }
    for a in kids(args) {
        match a.ty() {
            "keyword_argument" => {
                if let (Some(n), Some(v)) = (a.field("name"), a.field("value")) {
                    kw.push((names::nfkc(syntax::text(n, src)), v));
                }
            }
            "comment" | "list_splat" | "dictionary_splat" => {}
            _ => pos.push(a),
        }
    }
    (pos, kw)
}

/// Deepest statement nesting the walk follows.
const MAX_NESTING: u32 = 200;

/// Taint labels (§8.2 "Taint"; CODE-002 sources, CODE-007/CODE-009 network data, PY-003 decoders).
pub(super) const T_SECRET: u8 = 1;
/// A CREDNAME env value or a keychain read: may go to declared hosts as a credential (CODE-002 exception).
pub(super) const T_CRED: u8 = 2;
pub(super) const T_NET: u8 = 4;
pub(super) const T_DEC: u8 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Normal,
    /// A second pass into a same-file function with tainted arguments: only CODE-002 is reported.
    ChainOnly,
    /// Computing a function's return taint: nothing is reported.
    Silent,
}

/// One function body or the module top level.
pub(super) struct Scope<'t> {
    pub is_module: bool,
    /// Simple assignments by name (`None`: assigned otherwise — loop target, unpacking, import, …).
    pub assigns: HashMap<String, Vec<Option<Node<'t>>>>,
    pub params: HashSet<String>,
    pub loop_vals: HashMap<String, Vec<Val>>,
    pub taint: HashMap<String, u8>,
    /// Header assignments `msg["Bcc"] = "…"` by variable (CODE-008): (key, value, line).
    pub headers: HashMap<String, Vec<(String, Option<String>, u32)>>,
    /// Expression nodes exempt from CODE-003 (an environment copy used only as a process `env`).
    pub exempt: HashSet<usize>,
    pub mode: Mode,
    pub ret: u8,
    pub root: Option<Node<'t>>,
    /// 0 at the top; 1 inside a function entered from a call with tainted arguments.
    pub inline_depth: u8,
    /// A socket's descriptor was duplicated onto stdin/stdout/stderr (`os.dup2(s.fileno(), 0)`, SH-002).
    pub dup_socket: bool,
}

impl<'t> Scope<'t> {
    fn new(is_module: bool, mode: Mode) -> Scope<'t> {
        Scope {
            is_module,
            assigns: HashMap::new(),
            params: HashSet::new(),
            loop_vals: HashMap::new(),
            taint: HashMap::new(),
            headers: HashMap::new(),
            exempt: HashSet::new(),
            mode,
            ret: 0,
            root: None,
            inline_depth: 0,
            dup_socket: false,
        }
    }
}

pub(super) struct Py<'t> {
    pub f: &'t FileCtx<'t>,
    pub src: &'t str,
    /// Local name → qualified name from imports (`import x as y`, `from x import y as z`).
    pub imports: HashMap<String, String>,
    pub module_assigns: HashMap<String, Vec<Option<Node<'t>>>>,
    /// An empty module-level scope for folding module constants.
    pub module_scope: Scope<'t>,
    /// Module-level taint, inherited by function bodies.
    pub module_taint: HashMap<String, u8>,
    pub funcs: HashMap<String, Node<'t>>,
    /// Names bound anywhere in the file (a bare `eval` that is rebound is not the builtin, PY-002).
    pub rebound: HashSet<String>,
    pub findings: Vec<Finding>,
    pub seen: HashSet<(&'static str, u32, bool)>,
    /// Decoded texts already re-scanned (a decoder and its sink report once).
    pub rescanned: HashSet<String>,
    pub caps: Capabilities,
    pub ret_cache: std::cell::RefCell<HashMap<usize, u8>>,
    /// Folded module constants by name.
    pub const_cache: std::cell::RefCell<HashMap<String, Vec<Val>>>,
    steps: Cell<u32>,
    /// Statement nesting depth of the walk (bounded recursion on hostile input).
    nesting: u32,
    timed_out: Cell<bool>,
    /// CODE-006: modules already reported in this file.
    pub imported_reported: HashSet<String>,
    deferred: Vec<Node<'t>>,
    pub facts: ChainFacts,
}

/// Per-file facts for CODE-002's multi-file heuristic (§8.3): the package is judged in `code::run`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChainFacts {
    /// (a) reads a CREDNAME env var, a CRED path or an ENV file.
    pub reads_secret: bool,
    /// (b) uses a base64 / hex / zlib encoder.
    pub encoder: bool,
    /// (c) sends a non-constant body to a host that is not declared.
    pub sends: bool,
}

/// Analyses one Python file (or packed / decoded Python content).
pub fn analyze(f: &FileCtx) -> Result<CodeOutput, StageError> {
    analyze_with_facts(f).map(|(o, _)| o)
}

/// `analyze` plus the file's facts for the multi-file exfiltration heuristic.
pub fn analyze_with_facts(f: &FileCtx) -> Result<(CodeOutput, ChainFacts), StageError> {
    let tree = super::parse_file(f, Grammar::Python)?;
    let root = tree.root_node();
    let mut py = Py {
        f,
        src: f.text,
        imports: HashMap::new(),
        module_assigns: HashMap::new(),
        module_scope: Scope::new(true, Mode::Silent),
        module_taint: HashMap::new(),
        funcs: HashMap::new(),
        rebound: HashSet::new(),
        findings: Vec::new(),
        seen: HashSet::new(),
        rescanned: HashSet::new(),
        caps: Capabilities::default(),
        ret_cache: Default::default(),
        const_cache: Default::default(),
        steps: Cell::new(0),
        nesting: 0,
        timed_out: Cell::new(false),
        imported_reported: HashSet::new(),
        deferred: Vec::new(),
        facts: ChainFacts::default(),
    };
    py.prepass(root);
    py.compute_returns();
    let mut sc = Scope::new(true, Mode::Normal);
    sc.root = Some(root);
    sc.assigns = py.module_assigns.clone();
    py.walk_block(root, &mut sc);
    py.module_taint = sc.taint.clone();
    let mut i = 0;
    while let Some(func) = py.deferred.get(i).copied() {
        i += 1;
        if py.timed_out.get() {
            break;
        }
        let mut fs = py.function_scope(func, Mode::Normal);
        if let Some(body) = func.field("body") {
            py.walk_block(body, &mut fs);
        }
    }
    if py.timed_out.get() || Instant::now() >= f.deadline {
        return Err(StageError::Timeout);
    }
    if !f.runtime {
        py.caps = Capabilities::default();
    }
    Ok((
        CodeOutput {
            findings: py.findings,
            caps: py.caps,
        },
        py.facts,
    ))
}

impl<'t> Py<'t> {
    /// Counts work; false once the deadline passed (checked every 256 steps, §8.1 "every 10 ms").
    pub fn tick(&self) -> bool {
        if self.timed_out.get() {
            return false;
        }
        let n = self.steps.get().wrapping_add(1);
        self.steps.set(n);
        if n % 256 == 0 && Instant::now() >= self.f.deadline {
            self.timed_out.set(true);
            return false;
        }
        true
    }

    /// A fresh scope for a function body: parameters, local assignments, module taint inherited.
    pub fn function_scope(&self, func: Node<'t>, mode: Mode) -> Scope<'t> {
        let mut fs = Scope::new(false, mode);
        fs.root = func.field("body");
        fs.taint = self.module_taint.clone();
        if let Some(ps) = func.field("parameters") {
            for p in kids(ps) {
                let name_node = match p.ty() {
                    "identifier" => Some(p),
                    _ => p
                        .field("name")
                        .or_else(|| kids(p).into_iter().find(|c| c.ty() == "identifier")),
                };
                if let Some(n) = name_node {
                    let name = self.ident(n);
                    fs.taint.remove(&name);
                    fs.params.insert(name);
                }
            }
        }
        if let Some(body) = fs.root {
            let mut assigns = HashMap::new();
            self.collect_assigns(body, &mut assigns);
            for k in assigns.keys() {
                fs.taint.remove(k);
            }
            fs.assigns = assigns;
        }
        fs
    }

    /// The 1-based line and trimmed source line of a node (evidence).
    pub fn line_of(&self, n: Node) -> (u32, String) {
        let line = syntax::line(n);
        // The node's row starts at byte `start - column`; the line ends at the next newline.
        let p = n.start_position();
        let start = n.start_byte().saturating_sub(p.column);
        let rest = self.src.get(start..).unwrap_or("");
        let text = rest.split('\n').next().unwrap_or("").trim().to_string();
        (line, text)
    }

    /// Records a finding with §8.2 path lowering, once per (rule, line).
    #[allow(clippy::too_many_arguments)]
    pub fn emit(
        &mut self,
        sc: &Scope<'t>,
        node: Node,
        rule_id: &'static str,
        rule_type: &'static str,
        sev: Severity,
        message: String,
        evidence: Option<String>,
        confidence: f64,
    ) {
        match sc.mode {
            Mode::Silent => return,
            Mode::ChainOnly if rule_id != "CODE-002" => return,
            _ => {}
        }
        let (line, src_line) = self.line_of(node);
        let note = sev == Severity::Info;
        if !self.seen.insert((rule_id, line, note)) {
            return;
        }
        // SUP-001 belongs to stage 5, which is never lowered by path (§8.2); it is "critical in runtime
        // Python" and medium elsewhere (chosen: a test helper installing packages is not runtime code).
        let (stage, sev) = if rule_id == "SUP-001" {
            let s = if self.f.runtime {
                sev
            } else {
                Severity::Medium
            };
            ("stage5", s)
        } else {
            (STAGE, severity_for_path(rule_id, sev, self.f.runtime))
        };
        let mut f = Finding::fact(
            stage,
            sev,
            rule_id,
            rule_type,
            message,
            Some(self.f.file.path.clone()),
        )
        .with_evidence(evidence.unwrap_or(src_line))
        .with_confidence(confidence);
        f.line = Some(line);
        self.findings.push(f);
    }

    /// Walks the statements of a block (or the module).
    pub fn walk_block(&mut self, node: Node<'t>, sc: &mut Scope<'t>) {
        for st in kids(node) {
            if !self.tick() {
                return;
            }
            self.walk_stmt(st, sc);
        }
    }

    fn walk_stmt(&mut self, st: Node<'t>, sc: &mut Scope<'t>) {
        // Python itself refuses ~100 nested blocks; deeper input is hostile and is not walked further.
        if self.nesting > MAX_NESTING {
            return;
        }
        self.nesting += 1;
        self.walk_stmt_inner(st, sc);
        self.nesting -= 1;
    }

    fn walk_stmt_inner(&mut self, st: Node<'t>, sc: &mut Scope<'t>) {
        match st.ty() {
            "comment" => {}
            "function_definition" => {
                if sc.mode == Mode::Normal && sc.inline_depth == 0 {
                    self.deferred.push(st);
                }
            }
            "decorated_definition" => {
                if let Some(d) = st.field("definition") {
                    self.walk_stmt(d, sc);
                }
            }
            "class_definition" => {
                if let Some(b) = st.field("body") {
                    self.walk_block(b, sc);
                }
            }
            "expression_statement" => {
                for c in kids(st) {
                    match c.ty() {
                        "assignment" => self.assign(c, sc),
                        "augmented_assignment" => {
                            if let Some(r) = c.field("right") {
                                self.scan_expr(r, sc);
                                let t = self.taint_of(r, sc);
                                if let Some(l) = c.field("left") {
                                    self.taint_target(l, t, sc, true);
                                }
                            }
                        }
                        _ => self.scan_expr(c, sc),
                    }
                }
            }
            "import_statement" | "import_from_statement" => self.import_rules(st, sc),
            "for_statement" => self.for_stmt(st, sc),
            "with_statement" => {
                for c in kids(st) {
                    if c.ty() == "with_clause" {
                        for item in kids(c) {
                            self.with_item(item, sc);
                        }
                    }
                }
                if let Some(b) = st.field("body") {
                    self.walk_block(b, sc);
                }
            }
            "return_statement" => {
                for c in kids(st) {
                    self.scan_expr(c, sc);
                    sc.ret |= self.taint_of(c, sc);
                }
            }
            k if k == "block" || k.ends_with("_clause") || k.ends_with("_statement") => {
                for c in kids(st) {
                    let ck = c.ty();
                    if ck == "block" || ck.ends_with("_clause") || ck.ends_with("_statement") {
                        self.walk_stmt(c, sc);
                    } else {
                        self.scan_expr(c, sc);
                    }
                }
            }
            _ => self.scan_expr(st, sc),
        }
    }

    fn assign(&mut self, a: Node<'t>, sc: &mut Scope<'t>) {
        let Some(right) = a.field("right") else {
            return;
        };
        let left = a.field("left");
        if let Some(l) = left
            && l.ty() == "identifier"
            && self.env_copy_only_for_processes(right, &self.ident(l), sc)
        {
            sc.exempt.insert(right.id());
        }
        if right.ty() == "assignment" {
            self.assign(right, sc);
        } else {
            self.scan_expr(right, sc);
        }
        // An environment copy used only as a process `env` carries no taint (CODE-003 exception).
        let t = if sc.exempt.contains(&right.id()) {
            0
        } else {
            self.taint_of(right, sc)
        };
        if let Some(l) = left {
            self.header_assign(l, right, sc);
            self.taint_target(l, t, sc, false);
        }
    }

    /// Taints the names bound by an assignment target; `d[k] = t` and `o.x = t` taint `d` / `o`.
    fn taint_target(&mut self, l: Node<'t>, t: u8, sc: &mut Scope<'t>, augment: bool) {
        match l.ty() {
            "identifier" => {
                let n = self.ident(l);
                if augment {
                    *sc.taint.entry(n).or_default() |= t;
                } else if t == 0 {
                    sc.taint.remove(&n);
                } else {
                    sc.taint.insert(n, t);
                }
            }
            "subscript" | "attribute" => {
                let base = l.field("value").or_else(|| l.field("object"));
                if let Some(b) = base
                    && t != 0
                {
                    self.taint_target(b, t, sc, true);
                }
            }
            _ => {
                for c in kids(l) {
                    self.taint_target(c, t, sc, augment);
                }
            }
        }
    }

    fn for_stmt(&mut self, st: Node<'t>, sc: &mut Scope<'t>) {
        let (Some(left), Some(right)) = (st.field("left"), st.field("right")) else {
            return;
        };
        self.scan_expr(right, sc);
        self.harvest_iter(right, sc);
        let t = self.taint_of(right, sc);
        self.taint_target(left, t, sc, false);
        // §8.2: a loop variable over a constant collection folds to each element in turn.
        let mut saved = None;
        if left.ty() == "identifier" {
            let name = self.ident(left);
            let items: Vec<Val> = self
                .fold(right, sc)
                .into_iter()
                .flat_map(|v| match v {
                    Val::List(items) => items,
                    Val::Dict(items) => items.into_iter().map(|(k, _)| k).collect(),
                    _ => Vec::new(),
                })
                .take(fold::MAX_ALTS)
                .collect();
            if !items.is_empty() {
                saved = Some((name.clone(), sc.loop_vals.insert(name, items)));
            }
        }
        for c in kids(st) {
            if c.ty() == "block" || c.ty() == "else_clause" {
                self.walk_stmt(c, sc);
            }
        }
        if let Some((name, prev)) = saved {
            match prev {
                Some(p) => sc.loop_vals.insert(name, p),
                None => sc.loop_vals.remove(&name),
            };
        }
    }

    fn with_item(&mut self, item: Node<'t>, sc: &mut Scope<'t>) {
        let Some(v) = item.field("value") else {
            return;
        };
        if v.ty() == "as_pattern" {
            let parts = kids(v);
            if let Some(e) = parts.first() {
                self.scan_expr(*e, sc);
                let t = self.taint_of(*e, sc);
                if let Some(target) = v.field("alias").or_else(|| parts.get(1).copied()) {
                    self.taint_target(target, t, sc, false);
                }
            }
        } else {
            self.scan_expr(v, sc);
        }
    }

    /// Visits every call and environment access inside an expression.
    pub fn scan_expr(&mut self, node: Node<'t>, sc: &mut Scope<'t>) {
        // Pre-order over named nodes with one cursor (not a cursor and a child list per node, issue
        // #4); the cursor cannot leave `node`.
        let mut cur = node.walk();
        loop {
            if !self.tick() {
                return;
            }
            let n = cur.node();
            let descend = match n.ty() {
                "function_definition" | "class_definition" | "comment" => false,
                "call" => {
                    self.check_call(n, sc);
                    true
                }
                "subscript" => {
                    self.env_subscript(n, sc);
                    true
                }
                "dictionary_splat" => {
                    self.harvest_splat(n, sc);
                    true
                }
                _ => true,
            };
            if !next_named(&mut cur, descend) {
                return;
            }
        }
    }
}
