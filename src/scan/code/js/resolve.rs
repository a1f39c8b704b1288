//! Qualified names (what module member an expression denotes) and partial folding of JS/TS expressions
//! (SPEC §8.3 stage 2 name resolution; §8.2 "a non-constant operand counts as absent").

use super::decode::join;
use super::fold::{Ctx, DYN, FOLD_STEPS, arg, args};
use super::scope::{Bind, GLOBAL_OBJECTS, Lookup, MAX_DEPTH, norm_module, strip};
use crate::scan::syntax::NodeExt;
use tree_sitter::Node;

impl<'t> Ctx<'t> {
    /// The qualified name an expression denotes: `child_process.execSync`, `fs.promises.readFile`,
    /// `fetch`, `process.env.HOME`. A call denotes its callee (`fetch(u).then` → `fetch.then`), so
    /// members of call results (`https.request(o).write`) resolve. Unbound identifiers are globals.
    pub fn qual(&self, n: Node<'t>) -> Option<String> {
        if let Some((q, steps)) = self.memo.qual.borrow().get(&n.id()) {
            self.steps.set(*steps);
            return q.clone();
        }
        let q = self.qual_d(n, 0);
        self.memo
            .qual
            .borrow_mut()
            .insert(n.id(), (q.clone(), self.steps.get()));
        q
    }

    /// Counts a step; false once the budget of this top-level call is spent.
    pub(super) fn step(&self, d: u32) -> bool {
        if d == 0 {
            self.steps.set(0);
        }
        let s = self.steps.get().saturating_add(1);
        self.steps.set(s);
        s <= FOLD_STEPS
    }

    pub(super) fn qual_d(&self, n: Node<'t>, d: u32) -> Option<String> {
        if d > MAX_DEPTH || !self.step(d) {
            return None;
        }
        let n = strip(n);
        match n.ty() {
            "identifier" => {
                let name = self.text(n);
                match self.sym.lookup(name) {
                    Lookup::Global => Some(name.to_string()),
                    Lookup::Bound(Bind::Import(q)) => Some(q.clone()),
                    Lookup::Bound(Bind::Value(v)) => self.qual_d(*v, d + 1),
                    Lookup::Bound(Bind::Member(v, k)) => {
                        Some(format!("{}.{k}", self.qual_d(*v, d + 1)?))
                    }
                    Lookup::Ambiguous => {
                        // The same `require(…)` repeated in several functions resolves (chosen).
                        let first = self.sym.same_value(name)?;
                        self.qual_d(first, d + 1)
                    }
                    _ => None,
                }
            }
            "this" => None,
            "member_expression" => {
                let obj = n.field("object")?;
                let prop = self.text(n.field("property")?);
                if obj.ty() == "import" {
                    return Some(format!("import.meta.{prop}"));
                }
                if obj.ty() == "meta_property" {
                    return Some(format!("import.meta.{prop}"));
                }
                let o = self.qual_d(obj, d + 1)?;
                Some(if GLOBAL_OBJECTS.contains(&o.as_str()) {
                    prop.to_string()
                } else {
                    format!("{o}.{prop}")
                })
            }
            "subscript_expression" => {
                let obj = n.field("object")?;
                let key = self.fold_d(n.field("index")?, d + 1)?;
                let key = key.as_str()?.to_string();
                let o = self.qual_d(obj, d + 1)?;
                Some(if GLOBAL_OBJECTS.contains(&o.as_str()) {
                    key
                } else {
                    format!("{o}.{key}")
                })
            }
            "call_expression" => {
                let f = n.field("function")?;
                if f.ty() == "import" {
                    return self.module_arg(n, d).map(|m| norm_module(&m));
                }
                let fq = self.qual_d(f, d + 1);
                match fq.as_deref() {
                    Some("require" | "module.require" | "process.mainModule.require") => {
                        self.module_arg(n, d).map(|m| norm_module(&m))
                    }
                    Some("module.createRequire") => Some("require".into()),
                    Some("util.promisify") => self.qual_d(arg(n, 0)?, d + 1),
                    _ => fq,
                }
            }
            "new_expression" => self.qual_d(n.field("constructor")?, d + 1),
            "await_expression" => self.qual_d(n.named_child(0)?, d + 1),
            // `(0, eval)(x)`: the last expression of a sequence.
            "sequence_expression" => {
                let k = n.named_child_count();
                self.qual_d(n.named_child(k.checked_sub(1)? as u32)?, d + 1)
            }
            _ => None,
        }
    }

    fn module_arg(&self, call: Node<'t>, d: u32) -> Option<String> {
        let a = arg(call, 0)?;
        self.fold_d(a, d + 1)?.as_str().map(str::to_string)
    }

    /// Folds with non-constant parts replaced by `DYN` (template literals and `+` chains), so that a
    /// command's program and constant words are known even when an operand is not (§8.2: "a non-constant
    /// operand counts as absent").
    pub fn fold_partial(&self, n: Node<'t>) -> String {
        self.partial_d(n, 0, &mut 64)
    }

    fn partial_d(&self, n: Node<'t>, d: u32, budget: &mut u32) -> String {
        if d > MAX_DEPTH || *budget == 0 {
            return DYN.to_string();
        }
        *budget -= 1;
        if let Some(v) = self.fold(n)
            && let Some(s) = v.strings().into_iter().next()
        {
            return s;
        }
        let n = strip(n);
        match n.ty() {
            "template_string" => {
                let mut out = String::new();
                let mut cur = n.walk();
                for c in n.named_children(&mut cur) {
                    match c.ty() {
                        "string_fragment" => out.push_str(self.text(c)),
                        "escape_sequence" => out.push_str(&super::scope::unescape_js(self.text(c))),
                        "template_substitution" => match c.named_child(0) {
                            Some(e) => out.push_str(&self.partial_d(e, d + 1, budget)),
                            None => out.push(DYN),
                        },
                        _ => out.push(DYN),
                    }
                }
                out
            }
            "binary_expression" if n.field("operator").map(|o| self.text(o)) == Some("+") => {
                let l = n.field("left").map(|x| self.partial_d(x, d + 1, budget));
                let r = n.field("right").map(|x| self.partial_d(x, d + 1, budget));
                format!("{}{}", l.unwrap_or_default(), r.unwrap_or_default())
            }
            "identifier" => match self.sym.lookup(self.text(n)) {
                Lookup::Bound(Bind::Value(v)) => self.partial_d(*v, d + 1, budget),
                _ => DYN.to_string(),
            },
            "call_expression" => {
                let q = n.field("function").and_then(|f| self.qual(f));
                if matches!(q.as_deref(), Some("path.join" | "path.resolve")) {
                    let parts: Vec<String> = args(n)
                        .into_iter()
                        .map(|a| self.partial_d(a, d + 1, budget))
                        .collect();
                    join(&parts)
                } else {
                    DYN.to_string()
                }
            }
            _ => DYN.to_string(),
        }
    }
}
