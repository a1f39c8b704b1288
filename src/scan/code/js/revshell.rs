//! SH-002 in JS code (SPEC §8.3 SH-002, chosen clause for Python/JS): a `net`/`tls` socket whose stream
//! becomes the stdio of a spawned shell or interpreter (`stdio: [s, s, s]`, or `socket.pipe(sh.stdin)` /
//! `sh.stdout.pipe(socket)`), whatever the host and the declarations.

use super::procs::basename;
use super::scope::strip;
use super::{AST, Js, line_of};
use crate::scan::report::Severity;
use crate::scan::syntax::NodeExt;
use crate::scan::{StageError, vocab};
use std::collections::{HashMap, HashSet};
use tree_sitter::Node;

const SOCKETS: [&str; 5] = [
    "net.connect",
    "net.createConnection",
    "tls.connect",
    "net.Socket",
    "net.Socket.connect",
];

fn is_shell_or_interpreter(prog: &str) -> bool {
    let b = basename(prog);
    vocab::SHELLS.contains(&b.as_str())
        || vocab::is_interpreter(&b)
        || matches!(b.as_str(), "cmd" | "powershell" | "pwsh")
}

impl<'t> Js<'_, 't> {
    pub(super) fn reverse_shell_pass(&mut self) -> Result<(), StageError> {
        let mut sockets: HashSet<String> = HashSet::new();
        let mut shells: HashMap<String, u32> = HashMap::new();
        let mut spawns: Vec<Node<'t>> = Vec::new();
        let mut pipes: Vec<Node<'t>> = Vec::new();
        let mut cur = self.root.walk();
        let mut up = false;
        loop {
            if !up {
                self.tick()?;
                let n = cur.node();
                match n.ty() {
                    "variable_declarator" => {
                        if let (Some(name), Some(v)) = (n.field("name"), n.field("value"))
                            && name.ty() == "identifier"
                        {
                            let q = self.cx.qual(v).unwrap_or_default();
                            if SOCKETS.contains(&q.as_str()) {
                                sockets.insert(self.cx.text(name).to_string());
                            }
                            if self.spawns_shell(strip(v), &q) {
                                shells.insert(self.cx.text(name).to_string(), line_of(n));
                            }
                        }
                    }
                    "call_expression" | "new_expression" => {
                        let f = n.field("function").or_else(|| n.field("constructor"));
                        let q = f.and_then(|f| self.cx.qual(f)).unwrap_or_default();
                        if self.spawns_shell(n, &q) {
                            spawns.push(n);
                        }
                        if f.is_some_and(|f| {
                            f.ty() == "member_expression"
                                && f.field("property")
                                    .is_some_and(|p| self.cx.text(p) == "pipe")
                        }) {
                            pipes.push(n);
                        }
                    }
                    _ => {}
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
        if sockets.is_empty() {
            return Ok(());
        }
        let mut hits: Vec<u32> = Vec::new();
        // `spawn('/bin/sh', [], { stdio: [client, client, client] })`.
        for s in spawns {
            let uses_socket = super::fold::args(s).iter().any(|a| {
                self.cx
                    .option_node(*a, "stdio")
                    .is_some_and(|v| self.mentions(v, &sockets, 0))
            });
            if uses_socket {
                hits.push(line_of(s));
            }
        }
        // `client.pipe(sh.stdin)` / `sh.stdout.pipe(client)`.
        for p in pipes {
            let from = p
                .field("function")
                .and_then(|f| f.field("object"))
                .and_then(|o| self.base_name(o));
            let to = super::fold::arg(p, 0).and_then(|a| self.base_name(a));
            let (Some(from), Some(to)) = (from, to) else {
                continue;
            };
            let line = if sockets.contains(&from) {
                shells.get(&to)
            } else if sockets.contains(&to) {
                shells.get(&from)
            } else {
                None
            };
            if let Some(l) = line {
                hits.push(*l);
            }
        }
        for line in hits {
            let ev = self.line_text(line);
            self.emit(
                "SH-002",
                "reverse_shell",
                Severity::Critical,
                line,
                "A network socket is wired to a spawned shell or interpreter (reverse shell)."
                    .into(),
                ev,
                AST,
            );
        }
        Ok(())
    }

    fn spawns_shell(&self, n: Node<'t>, q: &str) -> bool {
        if !matches!(n.ty(), "call_expression" | "new_expression") {
            return false;
        }
        let Some(p) = self.cx.proc_call(n, q) else {
            return false;
        };
        p.simple
            .first()
            .and_then(|s| s.first().cloned().flatten())
            .is_some_and(|prog| is_shell_or_interpreter(&prog))
    }

    fn mentions(&self, v: Node<'t>, names: &HashSet<String>, d: u32) -> bool {
        if d > 6 {
            return false;
        }
        let v = strip(v);
        if v.ty() == "identifier" {
            return names.contains(self.cx.text(v));
        }
        let mut cur = v.walk();
        let kids: Vec<Node> = v.named_children(&mut cur).collect();
        kids.into_iter().any(|k| self.mentions(k, names, d + 1))
    }
}
