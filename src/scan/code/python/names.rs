//! Name resolution for Python (SPEC §8.3 stage 2 intro): `import x [as y]`, `from x import y [as z]`,
//! `__import__("x")`, `importlib.import_module("x")`, `getattr(module, "name")` with constants, and
//! names assigned once to such an expression (`s = os.system`, `m = __import__("os")`). Identifiers are
//! NFKC-normalised first, as Python does (§8.2). CODE-006 (suspicious imports) lives here too.

use super::{Py, Scope, kids};
use crate::scan::report::Severity;
use crate::scan::syntax;
use crate::scan::syntax::NodeExt;
use std::collections::HashMap;
use tree_sitter::Node;
use unicode_normalization::UnicodeNormalization;

/// Builtins the rules know by name (they resolve to `builtins.<name>` unless rebound in the file).
const BUILTINS: [&str; 16] = [
    "eval",
    "exec",
    "compile",
    "open",
    "getattr",
    "__import__",
    "dict",
    "str",
    "repr",
    "chr",
    "map",
    "bytes",
    "bytearray",
    "list",
    "tuple",
    "print",
];

const QUAL_DEPTH: u8 = 12;

/// NFKC form of an identifier (`ｅｖａｌ` is `eval` to Python).
pub fn nfkc(s: &str) -> String {
    if s.is_ascii() {
        s.to_string()
    } else {
        s.nfkc().collect()
    }
}

/// CODE-006 modules (§8.3): medium for credential / input-capture modules, low for the others.
fn suspicious_module(m: &str) -> Option<Severity> {
    let root = m.split('.').next().unwrap_or(m);
    match root {
        "keyring" | "browser_cookie3" | "win32crypt" | "pynput" => Some(Severity::Medium),
        "ctypes" | "cffi" | "marshal" | "pty" | "winreg" | "pyautogui" | "mss" => {
            Some(Severity::Low)
        }
        _ => None,
    }
}

impl<'t> Py<'t> {
    pub fn ident(&self, n: Node) -> String {
        nfkc(syntax::text(n, self.src))
    }

    /// Collects imports, module-level assignments, functions and rebound names.
    pub fn prepass(&mut self, root: Node<'t>) {
        let mut assigns = HashMap::new();
        self.collect_assigns(root, &mut assigns);
        self.module_assigns = assigns;
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            if !self.tick() {
                return;
            }
            match n.ty() {
                "import_statement" => {
                    for c in kids(n) {
                        match c.ty() {
                            "dotted_name" => {
                                let full = self.ident(c);
                                let first = full.split('.').next().unwrap_or("").to_string();
                                self.imports.insert(first.clone(), first);
                            }
                            "aliased_import" => {
                                if let (Some(name), Some(alias)) =
                                    (c.field("name"), c.field("alias"))
                                {
                                    self.imports.insert(self.ident(alias), self.ident(name));
                                }
                            }
                            _ => {}
                        }
                    }
                }
                "import_from_statement" => {
                    let module = n
                        .field("module_name")
                        .map(|m| self.ident(m))
                        .unwrap_or_default();
                    let mut c = n.walk();
                    for name in n.children_by_field_name("name", &mut c) {
                        let (orig, local) = match name.ty() {
                            "aliased_import" => (
                                name.field("name").map(|x| self.ident(x)),
                                name.field("alias").map(|x| self.ident(x)),
                            ),
                            _ => (Some(self.ident(name)), Some(self.ident(name))),
                        };
                        if let (Some(o), Some(l)) = (orig, local) {
                            self.rebound.insert(l.clone());
                            self.imports.insert(l, format!("{module}.{o}"));
                        }
                    }
                }
                "function_definition" => {
                    if let Some(name) = n.field("name") {
                        let name = self.ident(name);
                        self.rebound.insert(name.clone());
                        self.funcs.insert(name, n);
                    }
                }
                "class_definition" => {
                    if let Some(name) = n.field("name") {
                        self.rebound.insert(self.ident(name));
                    }
                }
                "assignment" => {
                    if let Some(l) = n.field("left")
                        && l.ty() == "identifier"
                    {
                        self.rebound.insert(self.ident(l));
                    }
                }
                _ => {}
            }
            stack.extend(kids(n));
        }
    }

    /// Assignments of one scope (not entering nested functions and classes).
    pub fn collect_assigns(
        &self,
        node: Node<'t>,
        out: &mut HashMap<String, Vec<Option<Node<'t>>>>,
    ) {
        let mut stack = kids(node);
        while let Some(n) = stack.pop() {
            if !self.tick() {
                return;
            }
            match n.ty() {
                "function_definition" | "class_definition" | "lambda" => {
                    if let Some(name) = n.field("name") {
                        out.entry(self.ident(name)).or_default().push(None);
                    }
                    continue;
                }
                "assignment" => {
                    if let (Some(l), Some(r)) = (n.field("left"), n.field("right")) {
                        if l.ty() == "identifier" {
                            let r = if r.ty() == "assignment" {
                                r.field("right").unwrap_or(r)
                            } else {
                                r
                            };
                            out.entry(self.ident(l)).or_default().push(Some(r));
                        } else {
                            self.bind_none(l, out);
                        }
                    }
                }
                "augmented_assignment" => {
                    if let Some(l) = n.field("left") {
                        self.bind_none(l, out);
                    }
                }
                "for_statement" | "for_in_clause" => {
                    if let Some(l) = n.field("left") {
                        self.bind_none(l, out);
                    }
                }
                "as_pattern" => {
                    let parts = kids(n);
                    if let (Some(e), Some(t)) =
                        (parts.first(), n.field("alias").or(parts.get(1).copied()))
                    {
                        let t = if t.ty() == "as_pattern_target" {
                            kids(t).into_iter().next().unwrap_or(t)
                        } else {
                            t
                        };
                        if t.ty() == "identifier" {
                            out.entry(self.ident(t)).or_default().push(Some(*e));
                        } else {
                            self.bind_none(t, out);
                        }
                    }
                }
                "import_statement" | "import_from_statement" => {}
                _ => {}
            }
            stack.extend(kids(n));
        }
    }

    fn bind_none(&self, target: Node<'t>, out: &mut HashMap<String, Vec<Option<Node<'t>>>>) {
        if target.ty() == "identifier" {
            out.entry(self.ident(target)).or_default().push(None);
            return;
        }
        if matches!(target.ty(), "subscript" | "attribute") {
            return;
        }
        for c in kids(target) {
            self.bind_none(c, out);
        }
    }

    /// The single simple assignment of a name visible from `sc`, if any.
    pub fn single_assign(&self, name: &str, sc: &Scope<'t>) -> Option<(Node<'t>, bool)> {
        if !sc.is_module {
            if sc.params.contains(name) {
                return None;
            }
            if let Some(v) = sc.assigns.get(name) {
                return match v.as_slice() {
                    [Some(n)] => Some((*n, false)),
                    _ => None,
                };
            }
        }
        match self.module_assigns.get(name).map(Vec::as_slice) {
            Some([Some(n)]) => Some((*n, true)),
            _ => None,
        }
    }

    /// The qualified name of an expression: `os.system`, `builtins.exec`, `requests.Session()` (an
    /// instance), or None when it is not resolvable.
    pub fn qual(&self, n: Node<'t>, sc: &Scope<'t>) -> Option<String> {
        self.qual_in(n, sc, 0)
    }

    fn qual_in(&self, n: Node<'t>, sc: &Scope<'t>, d: u8) -> Option<String> {
        if d > QUAL_DEPTH || !self.tick() {
            return None;
        }
        match n.ty() {
            "identifier" => {
                let name = self.ident(n);
                if sc.loop_vals.contains_key(&name) {
                    return None;
                }
                if let Some((rhs, module)) = self.single_assign(&name, sc)
                    && matches!(rhs.ty(), "attribute" | "call" | "identifier")
                {
                    let s = if module { &self.module_scope } else { sc };
                    return self.qual_in(rhs, s, d + 1);
                }
                if let Some(q) = self.imports.get(&name) {
                    return Some(q.clone());
                }
                if BUILTINS.contains(&name.as_str()) && !self.rebound.contains(&name) {
                    return Some(format!("builtins.{name}"));
                }
                if name == "builtins" || name == "__builtins__" {
                    return Some("builtins".into());
                }
                None
            }
            "attribute" => {
                let obj = n.field("object")?;
                let attr = n.field("attribute")?;
                let base = self.qual_in(obj, sc, d + 1)?;
                Some(format!("{base}.{}", self.ident(attr)))
            }
            "parenthesized_expression" => self.qual_in(n.named_child(0)?, sc, d + 1),
            "await" => self.qual_in(n.named_child(0)?, sc, d + 1),
            "call" => {
                let func = n.field("function")?;
                let q = self.qual_in(func, sc, d + 1)?;
                let (pos, _) = super::call_args(n, self.src);
                match q.as_str() {
                    "builtins.__import__" | "importlib.import_module" | "importlib.__import__" => {
                        let m = self.fold_str(*pos.first()?, sc)?;
                        Some(if m == "__builtin__" {
                            "builtins".into()
                        } else {
                            m
                        })
                    }
                    "builtins.getattr" => {
                        let base = self.qual_in(*pos.first()?, sc, d + 1)?;
                        let name = self.fold_str(*pos.get(1)?, sc)?;
                        Some(format!("{base}.{}", nfkc(&name)))
                    }
                    _ => Some(format!("{q}()")),
                }
            }
            _ => None,
        }
    }

    /// CODE-006 for `import` / `from … import`.
    pub fn import_rules(&mut self, st: Node<'t>, sc: &Scope<'t>) {
        let mut mods = Vec::new();
        if st.ty() == "import_statement" {
            for c in kids(st) {
                let name = match c.ty() {
                    "aliased_import" => c.field("name"),
                    _ => Some(c),
                };
                if let Some(name) = name {
                    mods.push(self.ident(name));
                }
            }
        } else if let Some(m) = st.field("module_name") {
            mods.push(self.ident(m));
        }
        for m in mods {
            let Some(sev) = suspicious_module(&m) else {
                continue;
            };
            let root = m.split('.').next().unwrap_or(&m).to_string();
            if !self.imported_reported.insert(root.clone()) {
                continue;
            }
            self.emit(
                sc,
                st,
                "CODE-006",
                "suspicious_import",
                sev,
                format!("Imports the module {root}, which skills rarely need."),
                None,
                0.9,
            );
        }
    }
}
