//! The per-node rules of JS stage 2 (SPEC §8.3): JS-001–JS-005, CODE-001, CODE-003, CODE-004, CODE-006,
//! CODE-009, SUP-001, the JS-003 decoder flows and re-scan, and command strings handed to `scan::shell`.
//! File writes (CODE-005, CODE-007, MAN-003 capabilities) are in `write.rs`.

use super::fold::{DYN, arg, args};
use super::procs::{self, Proc};
use super::scope::{Bind, Lookup, MAX_DEPTH, is_function, norm_module, strip};
use super::taint::NET;
use super::{AST, Js, line_of};
use crate::permissions::host_covered;
use crate::scan::report::Severity;
use crate::scan::shell::{self, ShellOpts};
use crate::scan::{StageError, agent, vocab};
use tree_sitter::Node;

/// CODE-006 modules (JS): credential / input capture → medium; `vm` → low.
const IMPORT_MEDIUM: [&str; 4] = ["keytar", "robotjs", "node-keytar", "@nut-tree/nut-js"];
const IMPORT_LOW: [&str; 4] = ["vm", "ffi-napi", "node-pty", "screenshot-desktop"];

impl<'t> Js<'_, 't> {
    pub(super) fn rules_pass(&mut self) -> Result<(), StageError> {
        let mut cur = self.root.walk();
        let mut up = false;
        loop {
            if !up {
                self.tick()?;
                let n = cur.node();
                self.on_node(n)?;
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
        Ok(())
    }

    fn on_node(&mut self, n: Node<'t>) -> Result<(), StageError> {
        match n.kind() {
            "call_expression" => self.on_call(n)?,
            "new_expression" => self.on_new(n)?,
            "member_expression" | "subscript_expression" => self.on_member(n),
            "import_statement" => {
                if let Some(s) = n.child_by_field_name("source")
                    && let Some(m) = self.cx.fold_str(s)
                {
                    self.suspicious_import(&m, line_of(n));
                }
            }
            "variable_declarator" => self.on_declarator(n),
            _ => {}
        }
        Ok(())
    }

    fn on_call(&mut self, n: Node<'t>) -> Result<(), StageError> {
        let Some(f) = n.child_by_field_name("function").map(strip) else {
            return Ok(());
        };
        let line = line_of(n);
        if f.kind() == "import" {
            self.dynamic_import(n, line);
            return Ok(());
        }
        let q = self.cx.qual(f);
        let q = q.as_deref().unwrap_or("");
        match q {
            "require" | "module.require" | "process.mainModule.require" => {
                self.dynamic_import(n, line)
            }
            "eval" | "Function" => self.code_exec(n, q, &args(n)),
            "setTimeout" | "setInterval" | "setImmediate" | "timers.setTimeout"
            | "timers.setInterval" => {
                if let Some(a0) = arg(n, 0)
                    && self.is_string_like(a0, 0)
                {
                    self.code_exec(n, q, &[a0]);
                }
            }
            "vm.runInNewContext"
            | "vm.runInThisContext"
            | "vm.runInContext"
            | "vm.compileFunction"
            | "vm.Script.runInThisContext" => {
                let a: Vec<Node> = arg(n, 0).into_iter().collect();
                self.code_exec(n, q, &a);
            }
            "Deno.env.get" => {
                let name = arg(n, 0).and_then(|a| self.cx.fold_str(a));
                self.env_read(name, line);
            }
            "Deno.env.toObject" => self.env_harvest(n, line),
            _ => {}
        }
        // `globalThis[k](…)` with a non-constant key (§8.3 JS-002).
        if q.is_empty() && f.kind() == "subscript_expression" {
            let obj = f.child_by_field_name("object").map(strip);
            if let Some(o) = obj
                && scope_global(self, o)
            {
                self.code_exec(n, "globalThis[…]", &args(n));
            }
        }
        if let Some(p) = self.cx.proc_call(n, q) {
            self.on_proc(p)?;
        }
        if let Some(hosts) = self.net_hosts(n, q) {
            self.network(q, hosts, line);
        }
        self.fs_call(n, q)?;
        self.decoder_rescan(n, q)?;
        Ok(())
    }

    fn on_new(&mut self, n: Node<'t>) -> Result<(), StageError> {
        let Some(c) = n.child_by_field_name("constructor") else {
            return Ok(());
        };
        let q = self.cx.qual(c).unwrap_or_default();
        match q.as_str() {
            "Function" => self.code_exec(n, "Function", &args(n)),
            "vm.Script" => {
                let a: Vec<Node> = arg(n, 0).into_iter().collect();
                self.code_exec(n, "vm.Script", &a);
            }
            _ => {}
        }
        if let Some(p) = self.cx.proc_call(n, &q) {
            self.on_proc(p)?;
        }
        if let Some(hosts) = self.net_hosts(n, &q) {
            self.network(&q, hosts, line_of(n));
        }
        Ok(())
    }

    /// `import(x)` / `require(x)`: CODE-006 for constant modules, JS-002 for non-constant ones.
    fn dynamic_import(&mut self, n: Node<'t>, line: u32) {
        let Some(a) = arg(n, 0) else { return };
        match self.cx.fold_str(a) {
            Some(m) => self.suspicious_import(&m, line),
            None => {
                let ev = self.line_text(line);
                self.emit(
                    "JS-002",
                    "code_execution",
                    Severity::Critical,
                    line,
                    "Module loaded from a non-constant name (dynamic import/require).".into(),
                    ev,
                    AST,
                );
            }
        }
    }

    fn suspicious_import(&mut self, spec: &str, line: u32) {
        let m = norm_module(spec);
        let sev = if IMPORT_MEDIUM.contains(&m.as_str()) {
            Severity::Medium
        } else if IMPORT_LOW.contains(&m.as_str()) {
            Severity::Low
        } else {
            return;
        };
        // One finding per module per file (§8.3 CODE-006).
        let msg = format!("Import of `{m}`, a module rarely needed by skills.");
        if self
            .out
            .iter()
            .any(|x| x.rule_id == "CODE-006" && x.message == msg)
        {
            return;
        }
        let ev = self.line_text(line);
        self.emit("CODE-006", "suspicious_import", sev, line, msg, ev, AST);
    }

    /// JS-002 (and JS-003 when a decoder feeds the code).
    fn code_exec(&mut self, n: Node<'t>, what: &str, code: &[Node<'t>]) {
        let line = line_of(n);
        let constant = code.iter().all(|a| self.cx.fold(*a).is_some());
        let sev = if constant {
            Severity::Medium
        } else {
            Severity::Critical
        };
        let ev = self.line_text(line);
        self.emit(
            "JS-002",
            "code_execution",
            sev,
            line,
            format!("Dynamic code execution through `{what}`."),
            ev,
            AST,
        );
        self.decoder_flow(code, line);
    }

    /// JS-003: a decoder's output reaches a JS-001, JS-002 or JS-004 sink.
    fn decoder_flow(&mut self, sink_args: &[Node<'t>], line: u32) {
        let mut budget = 5_000u32;
        let found = sink_args
            .iter()
            .find_map(|a| self.find_decoder(*a, 0, &mut budget));
        let Some(dec) = found else { return };
        let decoded = self.cx.fold_str(dec);
        let ev = decoded.unwrap_or_else(|| self.line_text(line));
        self.emit(
            "JS-003",
            "obfuscation",
            Severity::Critical,
            line,
            "Decoded data is executed (obfuscated code or command).".into(),
            ev,
            AST,
        );
    }

    /// A decoder call inside an expression, following names bound once (not into functions).
    fn find_decoder(&self, n: Node<'t>, d: u32, budget: &mut u32) -> Option<Node<'t>> {
        if d > MAX_DEPTH || *budget == 0 {
            return None;
        }
        *budget -= 1;
        let n = strip(n);
        if is_function(n.kind()) {
            return None;
        }
        if n.kind() == "call_expression" && self.is_decoder(n) {
            return Some(n);
        }
        if n.kind() == "identifier" {
            return match self.cx.sym.lookup(self.cx.text(n)) {
                Lookup::Bound(Bind::Value(v)) => self.find_decoder(*v, d + 1, budget),
                _ => None,
            };
        }
        let mut cur = n.walk();
        let kids: Vec<Node> = n.named_children(&mut cur).collect();
        kids.into_iter()
            .find_map(|c| self.find_decoder(c, d + 1, budget))
    }

    /// Decoder calls of §8.3 JS-003.
    pub(super) fn is_decoder(&self, n: Node<'t>) -> bool {
        let Some(f) = n.child_by_field_name("function").map(strip) else {
            return false;
        };
        let q = self.cx.qual(f).unwrap_or_default();
        match q.as_str() {
            "atob"
            | "Buffer.atob"
            | "String.fromCharCode"
            | "String.fromCodePoint"
            | "String.fromCharCode.apply"
            | "unescape"
            | "decodeURIComponent"
            | "decodeURI" => true,
            "Buffer.from" => arg(n, 1)
                .and_then(|e| self.cx.fold_str(e))
                .is_some_and(|e| {
                    matches!(
                        e.to_ascii_lowercase().as_str(),
                        "base64" | "base64url" | "hex"
                    )
                }),
            _ => {
                // `.split('').reverse().join('')`, and `.toString()` of a decoded buffer.
                if f.kind() != "member_expression" {
                    return false;
                }
                let prop = f.child_by_field_name("property").map(|p| self.cx.text(p));
                let obj = f.child_by_field_name("object").map(strip);
                match (prop, obj) {
                    (Some("join"), Some(o)) if o.kind() == "call_expression" => o
                        .child_by_field_name("function")
                        .and_then(|g| g.child_by_field_name("property"))
                        .is_some_and(|p| self.cx.text(p) == "reverse"),
                    (Some("toString"), Some(o)) if o.kind() == "call_expression" => {
                        self.is_decoder(o)
                    }
                    _ => false,
                }
            }
        }
    }

    /// Re-scans a decoded constant (§8.3 JS-003 "re-scan as PY-003").
    fn decoder_rescan(&mut self, n: Node<'t>, _q: &str) -> Result<(), StageError> {
        if !self.is_decoder(n) {
            return Ok(());
        }
        // The outermost call of a chain (`Buffer.from(…).toString()`) is re-scanned once.
        if let Some(p) = n.parent()
            && p.kind() == "member_expression"
            && let Some(gp) = p.parent()
            && gp.kind() == "call_expression"
            && self.is_decoder(gp)
        {
            return Ok(());
        }
        if let Some(text) = self.cx.fold_str(n) {
            self.rescan(&text, line_of(n))?;
        }
        Ok(())
    }

    fn is_string_like(&self, n: Node<'t>, d: u32) -> bool {
        let n = strip(n);
        match n.kind() {
            "string" | "template_string" => true,
            "binary_expression" => true,
            "call_expression" => self.is_decoder(n),
            "identifier" if d < 8 => match self.cx.sym.lookup(self.cx.text(n)) {
                Lookup::Bound(Bind::Value(v)) => self.is_string_like(*v, d + 1),
                _ => false,
            },
            _ => false,
        }
    }

    /// A process call: JS-001 / JS-004, JS-003, shell text, SUP-001, CODE-009, CODE-005, CODE-004,
    /// CODE-001 for fetchers.
    fn on_proc(&mut self, p: Proc<'t>) -> Result<(), StageError> {
        let line = line_of(p.node);
        let ev = self.line_text(line);
        let declared = self.f.declared.subprocess;
        if p.shell && !p.constant {
            let sev = if declared {
                Severity::High
            } else {
                Severity::Critical
            };
            self.emit(
                "JS-001",
                "shell_injection",
                sev,
                line,
                "A shell runs a command built from non-constant data.".into(),
                ev.clone(),
                AST,
            );
        } else {
            let sev = if declared {
                Severity::Info
            } else {
                Severity::Medium
            };
            self.emit(
                "JS-004",
                "subprocess_usage",
                sev,
                line,
                "The code starts a subprocess.".into(),
                ev.clone(),
                AST,
            );
        }
        self.subprocess(line);
        self.decoder_flow(&args(p.node), line);
        if let Some(cmd) = &p.command {
            self.shell_text(cmd, line);
        }
        for s in &p.simple {
            self.tick()?;
            self.argv_rules(&p, s, line, &ev);
        }
        Ok(())
    }

    fn argv_rules(&mut self, p: &Proc<'t>, s: &[Option<String>], line: u32, ev: &str) {
        if procs::is_installer(s) {
            // Stage 5 findings are never lowered by path (§8.2); "critical in runtime JS" — a
            // non-runtime file gets medium, as shell scripts do (chosen).
            let sev = if self.f.runtime {
                Severity::Critical
            } else {
                Severity::Medium
            };
            self.push(
                "stage5",
                "SUP-001",
                "dynamic_install",
                sev,
                line,
                "The code installs packages at run time.".into(),
                ev.to_string(),
                AST,
            );
        }
        if let Some(k) = procs::agent_cli(s) {
            self.agent_cli(p, s, k, line, ev);
        }
        if procs::is_persistence_cmd(s) {
            self.emit(
                "CODE-005",
                "persistence",
                Severity::High,
                line,
                "The code registers itself to run again (scheduled task or service).".into(),
                ev.to_string(),
                AST,
            );
        }
        if let Some(path) = procs::cred_read_arg(s) {
            self.emit(
                "CODE-004",
                "sensitive_file_read",
                Severity::High,
                line,
                format!("The code reads the credential file `{path}`."),
                ev.to_string(),
                AST,
            );
        }
        if procs::is_sender(s) {
            let hosts = procs::argv_hosts(s);
            let prog = s.iter().flatten().next().cloned().unwrap_or_default();
            let hosts = if hosts.is_empty() { vec![None] } else { hosts };
            self.network(&procs::basename(&prog), hosts, line);
        }
    }

    fn agent_cli(&mut self, p: &Proc<'t>, s: &[Option<String>], k: usize, line: u32, ev: &str) {
        let prog = s
            .get(k.saturating_sub(1))
            .cloned()
            .flatten()
            .map(|w| procs::basename(&w))
            .unwrap_or_default();
        let rest = s.get(k..).unwrap_or(&[]);
        let bypass = rest.iter().enumerate().any(|(i, w)| {
            let next = rest.get(i + 1).and_then(|x| x.as_deref());
            w.as_deref()
                .is_some_and(|w| procs::is_bypass_flag(w, &prog, next))
        });
        let collecting = rest
            .iter()
            .flatten()
            .any(|w| !w.starts_with('-') && procs::is_collecting_prompt(w));
        let broad = rest
            .iter()
            .flatten()
            .any(|w| w.starts_with("--allowedTools") || w.starts_with("--allowed-tools"));
        let net = args(p.node)
            .iter()
            .any(|a| self.taints.get(&a.id()).is_some_and(|t| t & NET != 0));
        let (sev, why) = if bypass {
            (Severity::Critical, " with an approval-bypass flag")
        } else if collecting {
            (
                Severity::Critical,
                " with a prompt that collects credentials or wallets",
            )
        } else if broad {
            (Severity::High, " with a broad tool grant")
        } else if net {
            (
                Severity::High,
                " with a prompt taken from a network response",
            )
        } else {
            (Severity::Medium, "")
        };
        self.emit(
            "CODE-009",
            "agent_cli_invocation",
            sev,
            line,
            format!("The code runs the AI agent CLI `{prog}`{why}."),
            ev.to_string(),
            AST,
        );
    }

    /// Command strings of shell-executing calls are shell text (§8.3 stage 2); hits are reported at the
    /// call's line.
    fn shell_text(&mut self, cmd: &str, line: u32) {
        // A non-constant part becomes a variable the shell folding treats as absent (§8.2).
        let text = cmd.replace(DYN, "${__tank_dynamic}");
        let opts = ShellOpts {
            files: Some(self.f.files),
            declared: Some(self.f.declared),
            deadline: self.f.deadline,
            depth: self.f.depth,
        };
        for h in shell::analyze(&text, &opts) {
            self.emit(
                h.rule_id,
                h.rule_type,
                h.severity,
                line,
                h.message,
                h.evidence,
                AST,
            );
        }
    }

    /// CODE-001: low, or a note when every constant host is declared (loopback counts as declared).
    fn network(&mut self, api: &str, hosts: Vec<Option<String>>, line: u32) {
        let consts: Vec<&String> = hosts.iter().flatten().collect();
        let declared = !consts.is_empty()
            && consts
                .iter()
                .all(|h| vocab::is_loopback_host(h) || host_covered(&self.f.declared.outbound, h));
        let sev = if declared {
            Severity::Info
        } else {
            Severity::Low
        };
        let named = if consts.is_empty() {
            String::new()
        } else {
            format!(
                " to {}",
                consts
                    .iter()
                    .map(|h| h.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let ev = self.line_text(line);
        self.emit(
            "CODE-001",
            "network_access",
            sev,
            line,
            format!("Network access through `{api}`{named}."),
            ev,
            AST,
        );
        for h in hosts {
            self.net_use(h, line);
        }
    }

    /// The hosts of a network call (§8.3 CODE-001), `None` for a dynamic one; `None` overall when the
    /// call is not a network call.
    pub(super) fn net_hosts(&self, n: Node<'t>, q: &str) -> Option<Vec<Option<String>>> {
        const HTTP_METHODS: [&str; 9] = [
            "get", "post", "put", "patch", "delete", "head", "options", "request", "stream",
        ];
        let (base, last) = q.rsplit_once('.').unwrap_or(("", q));
        let url_first = matches!(
            q,
            "fetch"
                | "undici.fetch"
                | "undici.request"
                | "undici.stream"
                | "got"
                | "axios"
                | "ky"
                | "superagent"
                | "request"
                | "needle"
                | "http.request"
                | "http.get"
                | "https.request"
                | "https.get"
                | "http2.connect"
                | "navigator.sendBeacon"
                | "WebSocket"
                | "ws"
                | "ws.WebSocket"
                | "EventSource"
                | "Deno.connect"
        ) || (matches!(
            base,
            "axios" | "got" | "ky" | "superagent" | "needle" | "request"
        ) && HTTP_METHODS.contains(&last));
        let socket = matches!(
            q,
            "net.connect" | "net.createConnection" | "tls.connect" | "net.Socket.connect"
        );
        let dynamic = matches!(q, "dgram.createSocket" | "Bun.connect")
            || (base.ends_with("axios.create") && HTTP_METHODS.contains(&last));
        if q == "XMLHttpRequest.open" {
            return Some(vec![arg(n, 1).and_then(|u| self.url_host(u))]);
        }
        if dynamic {
            return Some(vec![None]);
        }
        if url_first {
            let a0 = arg(n, 0)?;
            if let Some(obj) = self.cx.object_literal(a0) {
                for k in ["url", "baseURL", "hostname", "host", "href"] {
                    if let Some(v) = self.cx.option_node(obj, k) {
                        let h = if k.starts_with("host") {
                            self.cx.fold_str(v).map(|h| h.to_ascii_lowercase())
                        } else {
                            self.url_host(v)
                        };
                        return Some(vec![h]);
                    }
                }
                return Some(vec![None]);
            }
            return Some(vec![self.url_host(a0)]);
        }
        if socket {
            let a0 = arg(n, 0);
            if let Some(obj) = a0.and_then(|a| self.cx.object_literal(a)) {
                let h = self
                    .cx
                    .option_node(obj, "host")
                    .and_then(|v| self.cx.fold_str(v));
                return Some(vec![h]);
            }
            let h = arg(n, 1).and_then(|a| self.cx.fold_str(a));
            return Some(vec![h.or_else(|| a0.is_some().then(|| "localhost".into()))]);
        }
        None
    }

    /// The host of a URL expression whose scheme and host are constant (the path may be dynamic).
    fn url_host(&self, u: Node<'t>) -> Option<String> {
        let s = self.cx.fold_partial(u);
        let hosts = agent::url_hosts(&s);
        let h = hosts.into_iter().next()?;
        let head = s.split("://").nth(1).unwrap_or("");
        let authority = head.split(['/', '?', '#']).next().unwrap_or("");
        (!h.contains(DYN) && !authority.contains(DYN)).then_some(h)
    }

    /// JS-005 for `process.env.X`, `process.env["X"]`, `Bun.env.X`; CODE-003 for whole-env uses.
    fn on_member(&mut self, n: Node<'t>) {
        let Some(obj) = n.child_by_field_name("object") else {
            return;
        };
        let parent = n.parent();
        let is_object_of_parent = parent.is_some_and(|p| {
            matches!(p.kind(), "member_expression" | "subscript_expression")
                && p.child_by_field_name("object").map(|o| o.id()) == Some(n.id())
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
            && p.kind() == "assignment_expression"
            && p.child_by_field_name("left").map(|l| l.id()) == Some(n.id())
        {
            return;
        }
        let name = if n.kind() == "member_expression" {
            n.child_by_field_name("property")
                .map(|p| self.cx.text(p).to_string())
        } else {
            n.child_by_field_name("index")
                .and_then(|i| self.cx.fold_str(i))
        };
        self.env_read(name, line_of(n));
    }

    fn env_read(&mut self, name: Option<String>, line: u32) {
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
    fn on_declarator(&mut self, n: Node<'t>) {
        let (Some(name), Some(v)) = (
            n.child_by_field_name("name"),
            n.child_by_field_name("value"),
        ) else {
            return;
        };
        if name.kind() != "object_pattern"
            || !matches!(self.cx.qual(v).as_deref(), Some("process.env" | "Bun.env"))
        {
            return;
        }
        let mut cur = name.walk();
        let keys: Vec<Option<String>> = name
            .named_children(&mut cur)
            .map(|c| match c.kind() {
                "shorthand_property_identifier_pattern" => Some(self.cx.text(c).to_string()),
                "object_assignment_pattern" => c
                    .child_by_field_name("left")
                    .map(|l| self.cx.text(l).to_string()),
                "pair_pattern" => c
                    .child_by_field_name("key")
                    .and_then(|k| self.cx.key_name(k)),
                _ => None,
            })
            .collect();
        for k in keys.into_iter().flatten() {
            self.env_read(Some(k), line_of(n));
        }
    }

    /// CODE-003: `process.env` used whole (§8.3), except only as the `env` of a process call.
    fn env_harvest(&mut self, n: Node<'t>, line: u32) {
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
    fn env_only_for_process(&self, n: Node<'t>, d: u32) -> bool {
        if d > 6 {
            return false;
        }
        let Some(p) = n.parent() else { return true };
        match p.kind() {
            "parenthesized_expression"
            | "as_expression"
            | "non_null_expression"
            | "satisfies_expression"
            | "await_expression" => self.env_only_for_process(p, d + 1),
            "pair" => p
                .child_by_field_name("key")
                .and_then(|k| self.cx.key_name(k))
                .is_some_and(|k| k == "env"),
            "spread_element" => {
                // `{ ...process.env, X: 1 }`: judged by where the object goes.
                p.parent()
                    .filter(|o| o.kind() == "object")
                    .is_some_and(|o| self.env_only_for_process(o, d + 1))
            }
            "variable_declarator" => match p.child_by_field_name("name") {
                Some(name) if name.kind() == "identifier" => {
                    self.alias_only_for_process(self.cx.text(name), d)
                }
                // `const { A, B } = process.env` reads named keys (JS-005); `...rest` takes it all.
                Some(name) if name.kind() == "object_pattern" => {
                    let mut cur = name.walk();
                    let rest = name
                        .named_children(&mut cur)
                        .any(|c| c.kind() == "rest_pattern");
                    !rest
                }
                _ => false,
            },
            "assignment_expression" => p
                .child_by_field_name("left")
                .filter(|l| l.kind() == "member_expression")
                .and_then(|l| l.child_by_field_name("property"))
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
    fn alias_only_for_process(&self, name: &str, d: u32) -> bool {
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
                let is_use = matches!(n.kind(), "identifier" | "shorthand_property_identifier")
                    && self.cx.text(n) == name
                    && !n.parent().is_some_and(|p| {
                        p.kind() == "variable_declarator"
                            && p.child_by_field_name("name").map(|x| x.id()) == Some(n.id())
                    });
                if is_use {
                    uses += 1;
                    if uses > 64 {
                        return false;
                    }
                    let ok = if n.kind() == "shorthand_property_identifier" {
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

fn scope_global(js: &Js, o: Node) -> bool {
    o.kind() == "identifier"
        && crate::scan::code::js::scope::GLOBAL_OBJECTS.contains(&js.cx.text(o))
        && matches!(js.cx.sym.lookup(js.cx.text(o)), Lookup::Global)
}
