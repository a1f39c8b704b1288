//! Name resolution for the JS analyser (SPEC §8.3 stage 2): which module member a name or member chain
//! denotes (`require`, `node:` prefixes, ESM default / named / namespace imports, destructuring, dynamic
//! `import()` of constants, aliases assigned once). Scopes are not modelled: a name is resolved when the
//! file binds it exactly once and never reassigns it (chosen; an import wins over a shadowing parameter).

use crate::scan::syntax;
use crate::scan::syntax::NodeExt;
use std::collections::{HashMap, HashSet};
use tree_sitter::Node;

/// Recursion bound for resolving and folding (aliases of aliases, nested expressions).
pub const MAX_DEPTH: u32 = 48;

/// What a name is bound to.
#[derive(Clone, Debug)]
pub enum Bind<'t> {
    /// `const x = <expr>` (also `let`/`var` never reassigned).
    Value(Node<'t>),
    /// An ESM import: the qualified name (`child_process`, `child_process.execSync`).
    Import(String),
    /// `const { k: x } = <expr>` or `const [x] = <expr>`: `<expr>.k`.
    Member(Node<'t>, String),
    /// A loop variable over `<expr>` (`for…of`, `.forEach`): each element in turn (§8.2).
    Elems(Node<'t>),
    /// A same-file function declaration.
    Func(Node<'t>),
    /// A parameter, catch variable or other binding without a known value.
    Opaque,
}

/// The file's bindings.
#[derive(Default)]
pub struct Symbols<'t> {
    binds: HashMap<String, Vec<Bind<'t>>>,
    reassigned: HashSet<String>,
    /// `lookup`'s answer per bound name, decided once after the walk: names such as `a`, `v` or
    /// `values` are bound by hundreds of parameters, and scanning their lists on every lookup made
    /// resolution quadratic in the file size (issue #4).
    resolved: HashMap<String, Resolved>,
}

/// A precomputed `lookup` result: the index of the winning binding, or ambiguous.
#[derive(Clone, Copy)]
enum Resolved {
    Bound(usize),
    /// With the index of the first value binding when every value binding has the same text (the same
    /// `require(…)` repeated in several functions; see `same_value`).
    Ambiguous(Option<usize>),
}

/// Objects whose members are globals (`globalThis.eval` is `eval`).
pub const GLOBAL_OBJECTS: [&str; 4] = ["globalThis", "window", "global", "self"];

/// Function-like node kinds.
pub fn is_function(kind: &str) -> bool {
    matches!(
        kind,
        "function_declaration"
            | "function_expression"
            | "function"
            | "arrow_function"
            | "method_definition"
            | "generator_function_declaration"
            | "generator_function"
    )
}

/// Unwraps parentheses and TypeScript-only wrappers (`x as T`, `x!`, `x satisfies T`, `<T>x`).
pub fn strip<'t>(mut n: Node<'t>) -> Node<'t> {
    for _ in 0..MAX_DEPTH {
        match n.ty() {
            "parenthesized_expression"
            | "as_expression"
            | "non_null_expression"
            | "satisfies_expression"
            | "type_assertion" => match n.named_child(0) {
                Some(c) if c.ty() != "type_annotation" => n = c,
                _ => return n,
            },
            _ => return n,
        }
    }
    n
}

/// Module specifier normalised: `node:` prefix removed, `fs/promises` → `fs.promises`, drop-in
/// replacements folded to the module they replace (chosen: `fs-extra`, `graceful-fs`, fetch polyfills).
pub fn norm_module(spec: &str) -> String {
    let s = spec.trim();
    let s = s.strip_prefix("node:").unwrap_or(s);
    match s {
        "fs-extra" | "graceful-fs" => "fs".into(),
        "fs/promises" => "fs.promises".into(),
        "path/posix" | "path/win32" | "upath" => "path".into(),
        "child_process/promises" => "child_process".into(),
        "node-fetch" | "cross-fetch" | "isomorphic-fetch" | "make-fetch-happen" => "fetch".into(),
        "dns/promises" => "dns.promises".into(),
        "stream/promises" => "stream".into(),
        "timers/promises" => "timers".into(),
        _ => s.to_string(),
    }
}

impl<'t> Symbols<'t> {
    pub fn build(root: Node<'t>, src: &'t str) -> Symbols<'t> {
        let mut s = Symbols::default();
        let mut cur = root.walk();
        let mut visited_children = false;
        loop {
            if !visited_children {
                s.visit(cur.node(), src);
                if cur.goto_first_child() {
                    continue;
                }
            }
            if cur.goto_next_sibling() {
                visited_children = false;
            } else if cur.goto_parent() {
                visited_children = true;
            } else {
                break;
            }
        }
        s.resolved = s
            .binds
            .iter()
            .map(|(name, list)| {
                let r = resolve(list, s.reassigned.contains(name), src);
                (name.clone(), r)
            })
            .collect();
        s
    }

    fn add(&mut self, name: &str, b: Bind<'t>) {
        if !name.is_empty() {
            self.binds.entry(name.to_string()).or_default().push(b);
        }
    }

    fn visit(&mut self, n: Node<'t>, src: &'t str) {
        let t = |n: Node| syntax::text(n, src);
        match n.ty() {
            "variable_declarator" => {
                let (Some(name), value) = (n.field("name"), n.field("value")) else {
                    return;
                };
                match (name.ty(), value) {
                    ("identifier", Some(v)) => self.add(t(name), Bind::Value(v)),
                    ("identifier", None) => self.add(t(name), Bind::Opaque),
                    (_, Some(v)) => self.destructure(name, v, src, 0),
                    _ => self.opaque_pattern(name, src, 0),
                }
            }
            "import_require_clause" => {
                // TypeScript `import cp = require('child_process')`.
                let id = n.named_child(0).filter(|x| x.ty() == "identifier");
                let source = n.field("source");
                if let (Some(id), Some(s)) = (id, source) {
                    let module = norm_module(string_text(s, src).as_deref().unwrap_or(""));
                    self.add(t(id), Bind::Import(module));
                }
            }
            "import_statement" => {
                let Some(source) = n.field("source") else {
                    return;
                };
                let module = norm_module(string_text(source, src).as_deref().unwrap_or(""));
                for i in 0..n.named_child_count() {
                    let Some(c) = n.named_child(i as u32) else {
                        continue;
                    };
                    if c.ty() == "import_clause" {
                        self.import_clause(c, &module, src);
                    }
                }
            }
            "function_declaration" | "generator_function_declaration" => {
                if let Some(name) = n.field("name") {
                    self.add(t(name), Bind::Func(n));
                }
            }
            "class_declaration" => {
                if let Some(name) = n.field("name") {
                    self.add(t(name), Bind::Opaque);
                }
            }
            "formal_parameters" => self.opaque_pattern(n, src, 0),
            "arrow_function" => {
                if let Some(p) = n.field("parameter") {
                    // `ARR.forEach(p => …)`: p is each element of ARR (§8.2 loop folding).
                    match for_each_receiver(n, src) {
                        Some(arr) => self.add(t(p), Bind::Elems(arr)),
                        None => self.add(t(p), Bind::Opaque),
                    }
                } else if let Some(arr) = for_each_receiver(n, src) {
                    let first = n
                        .field("parameters")
                        .and_then(|ps| ps.named_child(0))
                        .map(param_ident);
                    if let Some(Some(id)) = first {
                        // The formal_parameters visit adds Opaque too; the loop binding wins below.
                        self.add(t(id), Bind::Elems(arr));
                    }
                }
            }
            "function_expression" | "function" => {
                if let Some(arr) = for_each_receiver(n, src) {
                    let first = n
                        .field("parameters")
                        .and_then(|ps| ps.named_child(0))
                        .map(param_ident);
                    if let Some(Some(id)) = first {
                        self.add(t(id), Bind::Elems(arr));
                    }
                }
            }
            "for_in_statement" => {
                let (Some(left), Some(right)) = (n.field("left"), n.field("right")) else {
                    return;
                };
                let of = n.field("operator").is_some_and(|o| t(o) == "of");
                if left.ty() == "identifier" {
                    let b = if of { Bind::Elems(right) } else { Bind::Opaque };
                    self.add(t(left), b);
                } else {
                    self.opaque_pattern(left, src, 0);
                }
            }
            "catch_clause" => {
                if let Some(p) = n.field("parameter") {
                    self.opaque_pattern(p, src, 0);
                }
            }
            "assignment_expression" | "augmented_assignment_expression" => {
                if let Some(l) = n.field("left").map(strip)
                    && l.ty() == "identifier"
                {
                    self.reassigned.insert(t(l).to_string());
                }
            }
            "update_expression" => {
                if let Some(a) = n.field("argument").map(strip)
                    && a.ty() == "identifier"
                {
                    self.reassigned.insert(t(a).to_string());
                }
            }
            _ => {}
        }
    }

    fn import_clause(&mut self, c: Node<'t>, module: &str, src: &'t str) {
        for j in 0..c.named_child_count() {
            let Some(k) = c.named_child(j as u32) else {
                continue;
            };
            match k.ty() {
                "identifier" => self.add(syntax::text(k, src), Bind::Import(module.to_string())),
                "namespace_import" => {
                    if let Some(id) = k.named_child(0) {
                        self.add(syntax::text(id, src), Bind::Import(module.to_string()));
                    }
                }
                "named_imports" => {
                    for m in 0..k.named_child_count() {
                        let Some(spec) = k.named_child(m as u32) else {
                            continue;
                        };
                        if spec.ty() != "import_specifier" {
                            continue;
                        }
                        let Some(name) = spec.field("name") else {
                            continue;
                        };
                        let local = spec.field("alias").unwrap_or(name);
                        let member = string_text(name, src)
                            .unwrap_or_else(|| syntax::text(name, src).to_string());
                        let q = if member == "default" {
                            module.to_string()
                        } else {
                            format!("{module}.{member}")
                        };
                        self.add(syntax::text(local, src), Bind::Import(q));
                    }
                }
                _ => {}
            }
        }
    }

    /// `const { a, b: c, d = 1 } = v` and `const [x, y] = v`.
    fn destructure(&mut self, pat: Node<'t>, v: Node<'t>, src: &'t str, depth: u32) {
        if depth > 8 {
            return;
        }
        let t = |n: Node| syntax::text(n, src);
        match pat.ty() {
            "object_pattern" => {
                for i in 0..pat.named_child_count() {
                    let Some(c) = pat.named_child(i as u32) else {
                        continue;
                    };
                    match c.ty() {
                        "shorthand_property_identifier_pattern" => {
                            self.add(t(c), Bind::Member(v, t(c).to_string()))
                        }
                        "object_assignment_pattern" => match c.field("left") {
                            Some(l) if l.ty() == "shorthand_property_identifier_pattern" => {
                                self.add(t(l), Bind::Member(v, t(l).to_string()))
                            }
                            Some(l) => self.opaque_pattern(l, src, depth + 1),
                            None => {}
                        },
                        "pair_pattern" => {
                            let key = c
                                .field("key")
                                .map(|k| string_text(k, src).unwrap_or_else(|| t(k).to_string()));
                            match (key, c.field("value")) {
                                (Some(k), Some(val)) if val.ty() == "identifier" => {
                                    self.add(t(val), Bind::Member(v, k))
                                }
                                (_, Some(val)) => self.opaque_pattern(val, src, depth + 1),
                                _ => {}
                            }
                        }
                        _ => self.opaque_pattern(c, src, depth + 1),
                    }
                }
            }
            "array_pattern" => {
                let mut cur = pat.walk();
                for (idx, c) in pat.named_children(&mut cur).enumerate() {
                    if c.ty() == "identifier" {
                        self.add(t(c), Bind::Member(v, idx.to_string()));
                    } else {
                        self.opaque_pattern(c, src, depth + 1);
                    }
                }
            }
            _ => self.opaque_pattern(pat, src, depth + 1),
        }
    }

    /// Every name a pattern (or parameter list) binds, as Opaque; default values are not bindings.
    fn opaque_pattern(&mut self, pat: Node<'t>, src: &'t str, depth: u32) {
        if depth > 16 {
            return;
        }
        match pat.ty() {
            "identifier" | "shorthand_property_identifier_pattern" => {
                self.add(syntax::text(pat, src), Bind::Opaque)
            }
            "assignment_pattern" | "object_assignment_pattern" => {
                if let Some(l) = pat.field("left") {
                    self.opaque_pattern(l, src, depth + 1);
                }
            }
            "pair_pattern" => {
                if let Some(v) = pat.field("value") {
                    self.opaque_pattern(v, src, depth + 1);
                }
            }
            "required_parameter" | "optional_parameter" => {
                if let Some(p) = pat.field("pattern") {
                    self.opaque_pattern(p, src, depth + 1);
                }
            }
            "object_pattern" | "array_pattern" | "formal_parameters" | "rest_pattern" => {
                let mut cur = pat.walk();
                for c in pat.named_children(&mut cur) {
                    self.opaque_pattern(c, src, depth + 1);
                }
            }
            _ => {}
        }
    }

    /// The one binding of `name`; `None` when the name is unbound (a global) — see `Lookup`.
    pub fn lookup(&self, name: &str) -> Lookup<'_, 't> {
        match self.resolved.get(name) {
            None => Lookup::Global,
            Some(Resolved::Ambiguous(_)) => Lookup::Ambiguous,
            Some(Resolved::Bound(i)) => match self.binds.get(name).and_then(|l| l.get(*i)) {
                Some(b) => Lookup::Bound(b),
                None => Lookup::Ambiguous,
            },
        }
    }

    /// For an ambiguous name: its first value binding when all its value bindings have the same text
    /// (decided once in `build`).
    pub fn same_value(&self, name: &str) -> Option<Node<'t>> {
        match self.resolved.get(name)? {
            Resolved::Ambiguous(Some(i)) => match self.binds.get(name)?.get(*i)? {
                Bind::Value(v) => Some(*v),
                _ => None,
            },
            _ => None,
        }
    }

    /// Same-file functions by name (`function f`, `const f = () => …`).
    pub fn function(&self, name: &str) -> Option<Node<'t>> {
        match self.lookup(name) {
            Lookup::Bound(Bind::Func(n)) => Some(*n),
            Lookup::Bound(Bind::Value(v)) => {
                let v = strip(*v);
                is_function(v.ty()).then_some(v)
            }
            _ => None,
        }
    }
}

/// Which binding of a name's list `lookup` returns (the rules once applied per lookup).
fn resolve(list: &[Bind], reassigned: bool, src: &str) -> Resolved {
    if list.len() == 1 && !reassigned {
        return Resolved::Bound(0);
    }
    // Loop variables: the loop binding wins over the parameter list's Opaque (same node).
    if list.len() == 2
        && let Some(i) = list.iter().position(|b| matches!(b, Bind::Elems(_)))
    {
        return Resolved::Bound(i);
    }
    // Imports and requires resolve even when a parameter elsewhere shadows the name (chosen).
    if let Some(i) = list.iter().position(|b| matches!(b, Bind::Import(_))) {
        return Resolved::Bound(i);
    }
    let mut vals = list.iter().enumerate().filter_map(|(i, b)| match b {
        Bind::Value(v) => Some((i, *v)),
        _ => None,
    });
    let same = vals.next().filter(|(_, first)| {
        let t = syntax::text(*first, src);
        vals.all(|(_, v)| syntax::text(v, src) == t)
    });
    Resolved::Ambiguous(same.map(|(i, _)| i))
}

pub enum Lookup<'s, 't> {
    Global,
    Bound(&'s Bind<'t>),
    Ambiguous,
}

/// The first identifier a parameter node binds (`p`, `p = 1`, `p: T`).
fn param_ident(p: Node) -> Option<Node> {
    match p.ty() {
        "identifier" => Some(p),
        "assignment_pattern" => p.field("left").filter(|l| l.ty() == "identifier"),
        "required_parameter" | "optional_parameter" => {
            p.field("pattern").filter(|l| l.ty() == "identifier")
        }
        _ => None,
    }
}

/// For a callback `X.forEach(fn)` (also `map`, `filter`, `some`, `every`, `flatMap`): the node `X`.
pub fn for_each_receiver<'t>(func: Node<'t>, src: &str) -> Option<Node<'t>> {
    let args = func.parent().filter(|p| p.ty() == "arguments")?;
    if args.named_child(0).map(|c| c.id()) != Some(func.id()) {
        return None;
    }
    let call = args.parent().filter(|p| p.ty() == "call_expression")?;
    let callee = call.field("function").map(strip)?;
    if callee.ty() != "member_expression" {
        return None;
    }
    let prop = syntax::text(callee.field("property")?, src);
    matches!(
        prop,
        "forEach" | "map" | "filter" | "some" | "every" | "flatMap" | "find"
    )
    .then(|| callee.field("object"))
    .flatten()
}

/// The value of a string literal node (escapes decoded), or None for other nodes.
pub fn string_text(n: Node, src: &str) -> Option<String> {
    if n.ty() != "string" {
        return None;
    }
    let raw = syntax::text(n, src);
    let inner = raw.get(1..raw.len().saturating_sub(1)).unwrap_or("");
    Some(unescape_js(inner))
}

/// Decodes JS string escapes (`\n`, `\xHH`, `\uHHHH`, `\u{H…}`, line continuations); invalid ones are
/// kept as the escaped character.
pub fn unescape_js(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = it.next() else { break };
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            '0' => out.push('\0'),
            '\n' => {}
            'x' => {
                let h: String = (0..2).filter_map(|_| it.next()).collect();
                match u32::from_str_radix(&h, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&h),
                }
            }
            'u' => {
                let h: String = if it.peek() == Some(&'{') {
                    it.next();
                    let mut h = String::new();
                    for ch in it.by_ref() {
                        if ch == '}' || h.len() > 8 {
                            break;
                        }
                        h.push(ch);
                    }
                    h
                } else {
                    (0..4).filter_map(|_| it.next()).collect()
                };
                match u32::from_str_radix(&h, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&h),
                }
            }
            other => out.push(other),
        }
    }
    out
}
