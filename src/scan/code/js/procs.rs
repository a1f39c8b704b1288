//! Process calls in JS/TS (SPEC §8.3 JS-001 / JS-004, CODE-009, SUP-001, CODE-005 commands): which calls
//! start a process, whether a shell reads their command, and what their argv holds after folding; plus
//! the argv vocabulary (installers, agent CLIs, fetchers, persistence commands).

use super::argv::split_commands;
use super::fold::{Ctx, DYN, Val, arg};
use super::scope::strip;
use crate::scan::syntax::NodeExt;
use crate::scan::vocab;
use tree_sitter::Node;

/// A process call.
pub struct Proc<'t> {
    pub node: Node<'t>,
    /// A shell reads the command (`exec`, `shell: true`, `sh -c`).
    pub shell: bool,
    /// The shell command text (`DYN` marks non-constant parts); only when `shell`.
    pub command: Option<String>,
    /// The simple commands this call runs (one for argv calls; split at `;`, `&&`, `||`, `|` for shell).
    pub simple: Vec<Vec<Option<String>>>,
    /// Every part of the command or argv is constant.
    pub constant: bool,
}

const CP_SHELL: [&str; 2] = ["exec", "execSync"];
const CP_ARGV: [&str; 4] = ["spawn", "spawnSync", "execFile", "execFileSync"];

fn shell_program(p: &str) -> bool {
    let b = basename(p);
    vocab::SHELLS.contains(&b.as_str()) || matches!(b.as_str(), "cmd" | "powershell" | "pwsh")
}

/// Lower-case basename without `.exe`/`.cmd`.
pub fn basename(p: &str) -> String {
    let b = p
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(p)
        .to_ascii_lowercase();
    b.trim_end_matches(".exe")
        .trim_end_matches(".cmd")
        .to_string()
}

impl<'t> Ctx<'t> {
    /// The process call `node` (a call or new expression) makes, if any.
    pub fn proc_call(&self, node: Node<'t>, q: &str) -> Option<Proc<'t>> {
        let (module, method) = q.rsplit_once('.').unwrap_or(("", q));
        let cp = module == "child_process";
        if cp && CP_SHELL.contains(&method) {
            let cmd = arg(node, 0)?;
            return Some(self.shell_proc(node, cmd));
        }
        if (cp && (CP_ARGV.contains(&method) || method == "fork"))
            || matches!(
                q,
                "execa" | "execa.execa" | "execa.execaSync" | "cross-spawn"
            )
        {
            let prog = arg(node, 0)?;
            let list = arg(node, 1).filter(|a| strip(*a).ty() == "array");
            let opts = if list.is_some() {
                arg(node, 2)
            } else {
                arg(node, 1)
            };
            let mut argv = vec![self.fold_str(prog)];
            if method == "fork" {
                argv.insert(0, Some("node".into()));
            }
            let mut constant = argv.iter().all(Option::is_some);
            if let Some(l) = list {
                let (items, c) = self.array_words(l);
                constant &= c;
                argv.extend(items);
            }
            let shell_opt = opts.is_some_and(|o| self.option_truthy(o, "shell"));
            return Some(self.argv_proc(node, argv, constant, shell_opt));
        }
        if matches!(q, "Bun.spawn" | "Bun.spawnSync") {
            let first = arg(node, 0)?;
            let list = match strip(first).ty() {
                "array" => Some(first),
                "object" => self.option_node(first, "cmd"),
                _ => None,
            };
            let (argv, constant) = match list {
                Some(l) => self.array_words(l),
                None => (vec![None], false),
            };
            return Some(self.argv_proc(node, argv, constant, false));
        }
        if q == "Deno.Command" || q == "Deno.run" {
            let first = arg(node, 0)?;
            let (mut argv, mut constant) = if q == "Deno.run" {
                match self.option_node(first, "cmd") {
                    Some(l) => self.array_words(l),
                    None => (vec![None], false),
                }
            } else {
                let p = self.fold_str(first);
                let c = p.is_some();
                (vec![p], c)
            };
            if q == "Deno.Command"
                && let Some(opts) = arg(node, 1)
                && let Some(l) = self.option_node(opts, "args")
            {
                let (items, c) = self.array_words(l);
                argv.extend(items);
                constant &= c;
            }
            return Some(self.argv_proc(node, argv, constant, false));
        }
        if q == "execa.execaCommand" || q == "execa.execaCommandSync" {
            let cmd = arg(node, 0)?;
            let mut p = self.shell_proc(node, cmd);
            p.shell = false; // execaCommand splits on spaces; no shell (still a process call).
            return Some(p);
        }
        None
    }

    fn shell_proc(&self, node: Node<'t>, cmd: Node<'t>) -> Proc<'t> {
        let text = self.fold_partial(cmd);
        let simple = split_commands(&text);
        Proc {
            node,
            shell: true,
            constant: !text.contains(DYN),
            simple,
            command: Some(text),
        }
    }

    fn argv_proc(
        &self,
        node: Node<'t>,
        argv: Vec<Option<String>>,
        constant: bool,
        shell_opt: bool,
    ) -> Proc<'t> {
        let prog = argv.first().cloned().flatten().unwrap_or_default();
        // `sh -c CMD`, `bash -lc CMD`, `cmd /c CMD`, `pwsh -Command CMD`: the shell reads CMD.
        if shell_program(&prog) {
            let flag = argv.iter().skip(1).position(|a| {
                a.as_deref().is_some_and(|a| {
                    let l = a.to_ascii_lowercase();
                    (l.starts_with('-') && !l.starts_with("--") && l.ends_with('c'))
                        || l == "/c"
                        || l == "-command"
                })
            });
            if let Some(i) = flag {
                let cmd = argv.get(i + 2).cloned().flatten();
                let text = cmd.unwrap_or_else(|| DYN.to_string());
                let simple = split_commands(&text);
                return Proc {
                    node,
                    shell: true,
                    constant: !text.contains(DYN),
                    simple,
                    command: Some(text),
                };
            }
        }
        if shell_opt {
            let text = argv
                .iter()
                .map(|a| a.clone().unwrap_or_else(|| DYN.to_string()))
                .collect::<Vec<_>>()
                .join(" ");
            let simple = split_commands(&text);
            return Proc {
                node,
                shell: true,
                constant,
                simple,
                command: Some(text),
            };
        }
        Proc {
            node,
            shell: false,
            command: None,
            simple: vec![argv],
            constant,
        }
    }

    /// The folded words of an array literal (or a name bound to one) and whether all are constant.
    fn array_words(&self, l: Node<'t>) -> (Vec<Option<String>>, bool) {
        let l = strip(l);
        if l.ty() != "array" {
            return match self.fold(l) {
                Some(Val::Arr(xs)) => {
                    let v: Vec<Option<String>> =
                        xs.iter().map(|x| x.as_str().map(String::from)).collect();
                    let c = v.iter().all(Option::is_some);
                    (v, c)
                }
                _ => (vec![None], false),
            };
        }
        let mut out = Vec::new();
        let mut cur = l.walk();
        for c in l.named_children(&mut cur) {
            if c.ty() == "comment" {
                continue;
            }
            if c.ty() == "spread_element" {
                out.push(None);
                continue;
            }
            out.push(self.fold_str(c));
        }
        let c = out.iter().all(Option::is_some);
        (out, c)
    }

    /// The value node of `key` in an object literal (or a name bound to one).
    pub fn option_node(&self, obj: Node<'t>, key: &str) -> Option<Node<'t>> {
        let obj = self.object_literal(obj)?;
        let mut cur = obj.walk();
        obj.named_children(&mut cur).find_map(|c| match c.ty() {
            "pair" => {
                let k = self.key_name(c.field("key")?)?;
                (k == key).then(|| c.field("value")).flatten()
            }
            "shorthand_property_identifier" if self.text(c) == key => Some(c),
            _ => None,
        })
    }

    /// The object literal an expression is, or a name bound once to one.
    pub fn object_literal(&self, n: Node<'t>) -> Option<Node<'t>> {
        let mut n = strip(n);
        for _ in 0..8 {
            match n.ty() {
                "object" => return Some(n),
                "identifier" => match self.sym.lookup(self.text(n)) {
                    super::scope::Lookup::Bound(super::scope::Bind::Value(v)) => n = strip(*v),
                    _ => return None,
                },
                _ => return None,
            }
        }
        None
    }

    fn option_truthy(&self, obj: Node<'t>, key: &str) -> bool {
        match self.option_node(obj, key) {
            Some(v) => match self.fold(v) {
                Some(val) => val.is_truthy(),
                None => true, // `shell: useShell` — a shell may read it (chosen: count as shell).
            },
            None => false,
        }
    }
}
