//! Constant folding for Python (SPEC §8.2 "Constant folding"): literals, concatenation, f-strings, `%` and
//! `format`, single-assignment names, dict subscripts, path building (`os.path.join`, `Path /`,
//! `expanduser`, `Path.home()` → `~`), `chr` chains, `"".join`, hex/base64/zlib decoding and loop
//! variables over constant collections. A fold yields *alternatives* (a loop variable or a dict indexed by
//! a non-constant key folds to each value in turn); an empty result means "not constant".

pub use super::decode::is_decoder;
use super::decode::{format_percent, unescape};
use super::{Py, Scope};
use crate::scan::syntax;
use crate::scan::syntax::NodeExt;
use tree_sitter::Node;

/// At most this many alternatives per fold (bounded work).
pub const MAX_ALTS: usize = 16;
/// Folding recursion limit (names referring to names, nested calls).
const MAX_DEPTH: u8 = 24;
/// Longest folded string / decoded data kept (§8.2: re-scans read ≤ 64 KiB).
pub const MAX_LEN: usize = 64 * 1024;
/// What `__file__` folds to: a marker for "this package" followed by the file's path (CODE-007).
pub const SELF_ROOT: &str = "@pkg/";
/// Placeholder for a non-constant part of a command string handed to the shell analyser.
pub const DYN: &str = "$__dyn";

#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Str(String),
    /// A string whose start is constant and whose rest is not (a URL with a dynamic path).
    Prefix(String),
    Bytes(Vec<u8>),
    Int(i64),
    Bool(bool),
    List(Vec<Val>),
    Dict(Vec<(Val, Val)>),
}

impl Val {
    /// The text of a fully constant string (bytes decoded as UTF-8 with replacement).
    pub fn text(&self) -> Option<String> {
        match self {
            Val::Str(s) => Some(s.clone()),
            Val::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Val::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }
    /// The constant start of a string (full text or prefix).
    pub fn prefix(&self) -> Option<&str> {
        match self {
            Val::Str(s) | Val::Prefix(s) => Some(s),
            _ => None,
        }
    }
    fn truthy(&self) -> bool {
        match self {
            Val::Bool(b) => *b,
            Val::Int(i) => *i != 0,
            Val::Str(s) => !s.is_empty(),
            _ => true,
        }
    }
}

/// True when the value is a constant true (`shell=True`).
pub fn is_true(alts: &[Val]) -> bool {
    !alts.is_empty() && alts.iter().all(Val::truthy)
}

/// Extra name bindings while folding a comprehension body.
pub type Binds<'b> = &'b [(String, Val)];

fn cap(mut v: Vec<Val>) -> Vec<Val> {
    v.truncate(MAX_ALTS);
    v
}

pub fn join_path(a: &str, b: &str) -> String {
    if b.starts_with('/') || b.starts_with('~') || a.is_empty() {
        b.to_string()
    } else if a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

pub fn dirname(p: &str) -> String {
    match p.trim_end_matches('/').rfind('/') {
        Some(0) => "/".to_string(),
        Some(i) => p[..i].to_string(),
        None => String::new(),
    }
}

fn concat(a: &Val, b: &Val) -> Option<Val> {
    // Bounded growth: `b = a + a; c = b + b; …` must not build huge strings (chosen: too long = dynamic).
    let len = |v: &Val| match v {
        Val::Str(s) | Val::Prefix(s) => s.len(),
        Val::Bytes(b) => b.len(),
        Val::List(l) => l.len(),
        _ => 0,
    };
    if len(a) + len(b) > MAX_LEN {
        return None;
    }
    Some(match (a, b) {
        (Val::Str(x), Val::Str(y)) => Val::Str(format!("{x}{y}")),
        (Val::Str(x), Val::Prefix(y)) => Val::Prefix(format!("{x}{y}")),
        (Val::Prefix(x), _) => Val::Prefix(x.clone()),
        (Val::Bytes(x), Val::Bytes(y)) => Val::Bytes([x.as_slice(), y].concat()),
        (Val::Int(x), Val::Int(y)) => Val::Int(x.checked_add(*y)?),
        (Val::List(x), Val::List(y)) => Val::List([x.as_slice(), y].concat()),
        _ => return None,
    })
}

impl<'t> Py<'t> {
    /// Folds `node` to its constant alternatives (empty: not constant).
    pub fn fold(&self, node: Node<'t>, sc: &Scope<'t>) -> Vec<Val> {
        self.fold_in(node, sc, &[], 0)
    }

    /// The first alternative's text, if the node folds to a constant string.
    pub fn fold_str(&self, node: Node<'t>, sc: &Scope<'t>) -> Option<String> {
        self.fold(node, sc).first().and_then(Val::text)
    }

    pub fn fold_in(&self, node: Node<'t>, sc: &Scope<'t>, binds: Binds, d: u8) -> Vec<Val> {
        if d > MAX_DEPTH || !self.tick() {
            return Vec::new();
        }
        let d = d + 1;
        let src = self.src;
        let r = match node.ty() {
            "string" => self.fold_string(node, sc, binds, d),
            "concatenated_string" => {
                let mut acc = vec![Val::Str(String::new())];
                for c in super::kids(node) {
                    let v = self.fold_in(c, sc, binds, d);
                    acc = self.product(&acc, &v, concat, true);
                }
                acc
            }
            "integer" => {
                let t = syntax::text(node, src)
                    .replace('_', "")
                    .to_ascii_lowercase();
                let v = if let Some(h) = t.strip_prefix("0x") {
                    i64::from_str_radix(h, 16).ok()
                } else if let Some(o) = t.strip_prefix("0o") {
                    i64::from_str_radix(o, 8).ok()
                } else if let Some(b) = t.strip_prefix("0b") {
                    i64::from_str_radix(b, 2).ok()
                } else {
                    t.parse().ok()
                };
                v.map(Val::Int).into_iter().collect()
            }
            "true" => vec![Val::Bool(true)],
            "false" => vec![Val::Bool(false)],
            "parenthesized_expression" => match node.named_child(0) {
                Some(c) => self.fold_in(c, sc, binds, d),
                None => Vec::new(),
            },
            "binary_operator" => self.fold_binary(node, sc, binds, d),
            "list" | "tuple" | "set" | "expression_list" => {
                let mut items = Vec::new();
                for c in super::kids(node) {
                    if c.ty() == "comment" {
                        continue;
                    }
                    match self.fold_in(c, sc, binds, d).into_iter().next() {
                        Some(v) => items.push(v),
                        None => return Vec::new(),
                    }
                }
                vec![Val::List(items)]
            }
            "dictionary" => {
                let mut items = Vec::new();
                for p in super::kids(node) {
                    if p.ty() != "pair" {
                        return Vec::new();
                    }
                    let (Some(k), Some(v)) = (p.field("key"), p.field("value")) else {
                        return Vec::new();
                    };
                    let k = self.fold_in(k, sc, binds, d).into_iter().next();
                    let v = self.fold_in(v, sc, binds, d).into_iter().next();
                    match (k, v) {
                        (Some(k), Some(v)) => items.push((k, v)),
                        _ => return Vec::new(),
                    }
                }
                vec![Val::Dict(items)]
            }
            "subscript" => self.fold_subscript(node, sc, binds, d),
            "identifier" => self.fold_name(&self.ident(node), sc, binds, d),
            "attribute" => match self.qual(node, sc).as_deref() {
                Some("sys.executable") => vec![Val::Str("python3".into())],
                Some("os.sep") => vec![Val::Str("/".into())],
                _ => {
                    // `Path(x).parent`
                    let attr = node
                        .field("attribute")
                        .map(|a| syntax::text(a, src))
                        .unwrap_or("");
                    match (attr, node.field("object")) {
                        ("parent", Some(o)) => self
                            .fold_in(o, sc, binds, d)
                            .iter()
                            .filter_map(|v| v.text().map(|t| Val::Str(dirname(&t))))
                            .collect(),
                        _ => Vec::new(),
                    }
                }
            },
            "call" => self.fold_call(node, sc, binds, d),
            "list_comprehension" | "generator_expression" => {
                self.fold_comprehension(node, sc, binds, d)
            }
            _ => Vec::new(),
        };
        cap(r)
    }

    /// Combines alternatives pairwise with `f` (capped); with `keep_prefix`, a non-constant right side
    /// turns a constant string on the left into a prefix.
    pub fn product(
        &self,
        a: &[Val],
        b: &[Val],
        f: fn(&Val, &Val) -> Option<Val>,
        keep_prefix: bool,
    ) -> Vec<Val> {
        if b.is_empty() {
            if keep_prefix {
                return a
                    .iter()
                    .filter_map(|x| x.prefix().map(|p| Val::Prefix(p.to_string())))
                    .collect();
            }
            return Vec::new();
        }
        let mut out = Vec::new();
        for x in a {
            for y in b {
                if let Some(v) = f(x, y)
                    && !out.contains(&v)
                    && out.len() < MAX_ALTS
                {
                    out.push(v);
                }
            }
        }
        out
    }

    fn fold_string(&self, node: Node<'t>, sc: &Scope<'t>, binds: Binds, d: u8) -> Vec<Val> {
        let src = self.src;
        let mut flags = String::new();
        let mut acc = vec![Val::Str(String::new())];
        for c in super::all_kids(node) {
            match c.ty() {
                "string_start" => {
                    flags = syntax::text(c, src)
                        .chars()
                        .take_while(|ch| ch.is_ascii_alphabetic())
                        .collect::<String>()
                        .to_ascii_lowercase();
                }
                "string_content" => {
                    let raw = syntax::text(c, src);
                    let mut t = if flags.contains('r') {
                        raw.to_string()
                    } else {
                        unescape(raw)
                    };
                    if flags.contains('f') {
                        t = t.replace("{{", "{").replace("}}", "}");
                    }
                    let piece = [Val::Str(t)];
                    acc = self.product(&acc, &piece, concat, true);
                }
                "interpolation" => {
                    let v = match c.field("expression") {
                        Some(e) => self.fold_in(e, sc, binds, d),
                        None => Vec::new(),
                    };
                    let v: Vec<Val> = v.iter().filter_map(|x| x.text().map(Val::Str)).collect();
                    acc = self.product(&acc, &v, concat, true);
                }
                _ => {}
            }
        }
        if flags.contains('b') {
            return acc
                .into_iter()
                .map(|v| match v {
                    Val::Str(s) => Val::Bytes(s.chars().map(|c| c as u32 as u8).collect()),
                    o => o,
                })
                .collect();
        }
        acc
    }

    fn fold_binary(&self, node: Node<'t>, sc: &Scope<'t>, binds: Binds, d: u8) -> Vec<Val> {
        let (Some(l), Some(r), Some(op)) = (
            node.field("left"),
            node.field("right"),
            node.field("operator"),
        ) else {
            return Vec::new();
        };
        let lv = self.fold_in(l, sc, binds, d);
        match syntax::text(op, self.src) {
            "+" => {
                let rv = self.fold_in(r, sc, binds, d);
                self.product(&lv, &rv, concat, true)
            }
            "%" => {
                let rv = self.fold_in(r, sc, binds, d);
                self.product(
                    &lv,
                    &rv,
                    |a, b| {
                        let f = a.text()?;
                        let args = match b {
                            Val::List(x) => x.clone(),
                            o => vec![o.clone()],
                        };
                        format_percent(&f, &args).map(Val::Str)
                    },
                    false,
                )
            }
            "/" => {
                // `Path / "x"`.
                let rv = self.fold_in(r, sc, binds, d);
                self.product(
                    &lv,
                    &rv,
                    |a, b| Some(Val::Str(join_path(&a.text()?, &b.text()?))),
                    false,
                )
            }
            "*" => {
                let rv = self.fold_in(r, sc, binds, d);
                self.product(
                    &lv,
                    &rv,
                    |a, b| match (a, b) {
                        (Val::Str(s), Val::Int(n))
                            if *n >= 0
                                && s.len()
                                    .checked_mul(*n as usize)
                                    .is_some_and(|l| l < MAX_LEN) =>
                        {
                            Some(Val::Str(s.repeat(*n as usize)))
                        }
                        (Val::Int(x), Val::Int(y)) => x.checked_mul(*y).map(Val::Int),
                        _ => None,
                    },
                    false,
                )
            }
            "-" => {
                let rv = self.fold_in(r, sc, binds, d);
                self.product(
                    &lv,
                    &rv,
                    |a, b| match (a, b) {
                        (Val::Int(x), Val::Int(y)) => x.checked_sub(*y).map(Val::Int),
                        _ => None,
                    },
                    false,
                )
            }
            "^" => {
                let rv = self.fold_in(r, sc, binds, d);
                self.product(
                    &lv,
                    &rv,
                    |a, b| match (a, b) {
                        (Val::Int(x), Val::Int(y)) => Some(Val::Int(x ^ y)),
                        _ => None,
                    },
                    false,
                )
            }
            _ => Vec::new(),
        }
    }

    fn fold_subscript(&self, node: Node<'t>, sc: &Scope<'t>, binds: Binds, d: u8) -> Vec<Val> {
        let Some(obj) = node.field("value") else {
            return Vec::new();
        };
        if matches!(self.qual(obj, sc).as_deref(), Some("os.environ")) {
            return self.home_env(node.field("subscript"), sc);
        }
        let Some(key) = node.field("subscript") else {
            return Vec::new();
        };
        let ov = self.fold_in(obj, sc, binds, d);
        if key.ty() == "slice" {
            let t = syntax::text(key, self.src).replace(' ', "");
            if t == "::-1" {
                return ov
                    .into_iter()
                    .filter_map(|v| match v {
                        Val::Str(s) => Some(Val::Str(s.chars().rev().collect())),
                        Val::Bytes(mut b) => {
                            b.reverse();
                            Some(Val::Bytes(b))
                        }
                        _ => None,
                    })
                    .collect();
            }
            return Vec::new();
        }
        let kv = self.fold_in(key, sc, binds, d);
        let mut out = Vec::new();
        for o in &ov {
            match o {
                Val::Dict(items) => {
                    if kv.is_empty() {
                        // A constant dict indexed by a non-constant key folds to each value (chosen,
                        // like a loop variable: a dict of base URLs resolves to its hosts).
                        out.extend(items.iter().map(|(_, v)| v.clone()));
                    } else {
                        for k in &kv {
                            if let Some((_, v)) = items.iter().find(|(ik, _)| ik == k) {
                                out.push(v.clone());
                            }
                        }
                    }
                }
                Val::List(items) => {
                    for k in &kv {
                        if let Val::Int(i) = k {
                            let i = if *i < 0 { items.len() as i64 + i } else { *i };
                            if let Some(v) = usize::try_from(i).ok().and_then(|i| items.get(i)) {
                                out.push(v.clone());
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// `os.environ["HOME"]` / `os.getenv("HOME")` fold to `~` (§8.2 CRED path folding).
    pub fn home_env(&self, key: Option<Node<'t>>, sc: &Scope<'t>) -> Vec<Val> {
        match key.and_then(|k| self.fold_str(k, sc)).as_deref() {
            Some("HOME" | "USERPROFILE") => vec![Val::Str("~".into())],
            Some("APPDATA") => vec![Val::Str("~/AppData/Roaming".into())],
            Some("LOCALAPPDATA") => vec![Val::Str("~/AppData/Local".into())],
            _ => Vec::new(),
        }
    }

    fn fold_name(&self, name: &str, sc: &Scope<'t>, binds: Binds, d: u8) -> Vec<Val> {
        if let Some((_, v)) = binds.iter().rev().find(|(n, _)| n == name) {
            return vec![v.clone()];
        }
        if let Some(v) = sc.loop_vals.get(name) {
            return v.clone();
        }
        if name == "__file__" {
            return vec![Val::Str(format!("{SELF_ROOT}{}", self.f.file.path))];
        }
        match self.single_assign(name, sc) {
            Some((rhs, true)) => {
                // Module constants are folded once (names built from names must not cost 2^depth).
                if let Some(v) = self.const_cache.borrow().get(name) {
                    return v.clone();
                }
                let v = self.fold_in(rhs, &self.module_scope, &[], d);
                self.const_cache
                    .borrow_mut()
                    .insert(name.to_string(), v.clone());
                v
            }
            Some((rhs, false)) => self.fold_in(rhs, sc, binds, d),
            None => Vec::new(),
        }
    }

    fn fold_comprehension(&self, node: Node<'t>, sc: &Scope<'t>, binds: Binds, d: u8) -> Vec<Val> {
        let Some(body) = node.field("body") else {
            return Vec::new();
        };
        let clauses: Vec<Node> = super::kids(node)
            .into_iter()
            .filter(|c| c.ty() == "for_in_clause" || c.ty() == "if_clause")
            .collect();
        let [clause] = clauses.as_slice() else {
            return Vec::new();
        };
        let (Some(left), Some(right)) = (clause.field("left"), clause.field("right")) else {
            return Vec::new();
        };
        if left.ty() != "identifier" {
            return Vec::new();
        }
        let var = self.ident(left);
        let Some(Val::List(items)) = self.fold_in(right, sc, binds, d).into_iter().next() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut b: Vec<(String, Val)> = binds.to_vec();
        for it in items.into_iter().take(4096) {
            b.push((var.clone(), it));
            match self.fold_in(body, sc, &b, d).into_iter().next() {
                Some(v) => out.push(v),
                None => return Vec::new(),
            }
            b.pop();
        }
        vec![Val::List(out)]
    }
}
