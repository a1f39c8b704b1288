//! Environment rules of JS stage 2 (SPEC §8.3): JS-005 (`process.env.X`, `process.env["X"]`, `Bun.env`,
//! `Deno.env.get`, destructuring) and CODE-003 (the whole environment copied, serialised, iterated or
//! passed on, except only as the `env` of a process call).

use super::{AST, Js, line_of};
use crate::scan::report::Severity;
use crate::scan::syntax::NodeExt;
use crate::scan::vocab;
use tree_sitter::Node;

impl<'t> Js<'_, 't> {
    /// JS-005 for `process.env.X`, `process.env["X"]`, `Bun.env.X`; CODE-003 for whole-env uses.
    pub(super) fn on_member(&mut self, n: Node<'t>) {
        let Some(obj) = n.field("object") else {
            return;
        };
        let parent = n.parent();
        let is_object_of_parent = parent.is_some_and(|p| {
            matches!(p.ty(), "member_expression" | "subscript_expression")
                && p.field("object").map(|o| o.id()) == Some(n.id())
        });
        let q = self.cx.qual(n).unwrap_or_default();
        if matches!(q.as_str(), "process.env" | "Bun.env") && !is_object_of_parent {
            self.env_harvest(n, line_of(n));
            return;
        }
        let oq = self.cx.qual(obj).unwrap_or_default();
        if !matches!(oq.as_str(), "process.env" | "Bun.env" | "import.meta.env") {
            return;
        }
        // Writes (`process.env.X = …`) are not reads.
        if let Some(p) = parent
            && p.ty() == "assignment_expression"
            && p.field("left").map(|l| l.id()) == Some(n.id())
        {
            return;
        }
        let name = if n.ty() == "member_expression" {
            n.field("property").map(|p| self.cx.text(p).to_string())
        } else {
            n.field("index").and_then(|i| self.cx.fold_str(i))
        };
        self.env_read(name, line_of(n));
    }

    pub(super) fn env_read(&mut self, name: Option<String>, line: u32) {
        let (sev, msg) = match &name {
            Some(v) if vocab::is_credname(v) => (
                Severity::Low,
                format!("Reads the credential environment variable `{v}`."),
            ),
            Some(v) => (
                Severity::Info,
                format!("Reads the environment variable `{v}`."),
            ),
            None => (
                Severity::Low,
                "Reads an environment variable with a non-constant name.".to_string(),
            ),
        };
        let ev = self.line_text(line);
        self.emit("JS-005", "env_access", sev, line, msg, ev, AST);
    }

    /// `const { A, B } = process.env` reads A and B.
    pub(super) fn on_declarator(&mut self, n: Node<'t>) {
        let (Some(name), Some(v)) = (n.field("name"), n.field("value")) else {
            return;
        };
        if name.ty() != "object_pattern"
            || !matches!(self.cx.qual(v).as_deref(), Some("process.env" | "Bun.env"))
        {
            return;
        }
        let mut cur = name.walk();
        let keys: Vec<Option<String>> = name
            .named_children(&mut cur)
            .map(|c| match c.ty() {
                "shorthand_property_identifier_pattern" => Some(self.cx.text(c).to_string()),
                "object_assignment_pattern" => c.field("left").map(|l| self.cx.text(l).to_string()),
                "pair_pattern" => c.field("key").and_then(|k| self.cx.key_name(k)),
                _ => None,
            })
            .collect();
        for k in keys.into_iter().flatten() {
            self.env_read(Some(k), line_of(n));
        }
    }

    /// CODE-003: `process.env` used whole (§8.3), except only as the `env` of a process call.
    pub(super) fn env_harvest(&mut self, n: Node<'t>, line: u32) {
        if self.env_only_for_process(n, 0) {
            return;
        }
        let ev = self.line_text(line);
        self.emit(
            "CODE-003",
            "env_harvest",
            Severity::High,
            line,
            "The whole environment is read (copied, serialised, iterated or passed on).".into(),
            ev,
            AST,
        );
    }

    /// True when a whole-env expression is not harvested: member access, a truthiness test, or use
    /// only as the `env` of a process call (directly, spread into it, or through a name).
    pub(super) fn env_only_for_process(&self, n: Node<'t>, d: u32) -> bool {
        if d > 6 {
            return false;
        }
        let Some(p) = n.parent() else { return true };
        match p.ty() {
            "parenthesized_expression"
            | "as_expression"
            | "non_null_expression"
            | "satisfies_expression"
            | "await_expression" => self.env_only_for_process(p, d + 1),
            "pair" => p
                .field("key")
                .and_then(|k| self.cx.key_name(k))
                .is_some_and(|k| k == "env"),
            "spread_element" => {
                // `{ ...process.env, X: 1 }`: judged by where the object goes.
                p.parent()
                    .filter(|o| o.ty() == "object")
                    .is_some_and(|o| self.env_only_for_process(o, d + 1))
            }
            "variable_declarator" => match p.field("name") {
                Some(name) if name.ty() == "identifier" => {
                    self.alias_only_for_process(self.cx.text(name), d)
                }
                // `const { A, B } = process.env` reads named keys (JS-005); `...rest` takes it all.
                Some(name) if name.ty() == "object_pattern" => {
                    let mut cur = name.walk();
                    let rest = name
                        .named_children(&mut cur)
                        .any(|c| c.ty() == "rest_pattern");
                    !rest
                }
                _ => false,
            },
            "assignment_expression" => p
                .field("left")
                .filter(|l| l.ty() == "member_expression")
                .and_then(|l| l.field("property"))
                .is_some_and(|pr| self.cx.text(pr) == "env"),
            "for_in_statement"
            | "arguments"
            | "spread_element_in_array"
            | "array"
            | "return_statement" => false,
            "member_expression" | "subscript_expression" => true,
            "call_expression" => false,
            _ => true,
        }
    }

    /// Every use of a name holding the environment is a member read or a process call's `env`.
    pub(super) fn alias_only_for_process(&self, name: &str, d: u32) -> bool {
        if d > 1 {
            return false;
        }
        let mut cur = self.root.walk();
        let mut up = false;
        let mut steps = 0u32;
        let mut uses = 0u32;
        loop {
            if !up {
                let n = cur.node();
                steps += 1;
                if steps > 200_000 {
                    return false;
                }
                let is_use = matches!(n.ty(), "identifier" | "shorthand_property_identifier")
                    && self.cx.text(n) == name
                    && !n.parent().is_some_and(|p| {
                        p.ty() == "variable_declarator"
                            && p.field("name").map(|x| x.id()) == Some(n.id())
                    });
                if is_use {
                    uses += 1;
                    if uses > 64 {
                        return false;
                    }
                    let ok = if n.ty() == "shorthand_property_identifier" {
                        name == "env"
                    } else {
                        self.env_only_for_process(n, d + 1)
                    };
                    if !ok {
                        return false;
                    }
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
                // A copy nobody uses as a process `env` is still a harvest.
                return uses > 0;
            }
        }
    }
}
