//! The per-node rules of JS stage 2 (SPEC §8.3): JS-001–JS-005, CODE-001, CODE-003, CODE-004, CODE-006,
//! CODE-009, SUP-001, the JS-003 decoder flows and re-scan, and command strings handed to `scan::shell`.
//! File writes (CODE-005, CODE-007, MAN-003 capabilities) are in `write.rs`.

use super::fold::{DYN, arg, args};
use super::scope::{Bind, Lookup, MAX_DEPTH, is_function, norm_module, strip};
use super::{AST, Js, line_of};
use crate::scan::report::Severity;
use crate::scan::syntax::NodeExt;
use crate::scan::{StageError, agent};
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

    pub(super) fn on_node(&mut self, n: Node<'t>) -> Result<(), StageError> {
        match n.ty() {
            "call_expression" => self.on_call(n)?,
            "new_expression" => self.on_new(n)?,
            "member_expression" | "subscript_expression" => self.on_member(n),
            "import_statement" => {
                if let Some(s) = n.field("source")
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

    pub(super) fn on_call(&mut self, n: Node<'t>) -> Result<(), StageError> {
        let Some(f) = n.field("function").map(strip) else {
            return Ok(());
        };
        let line = line_of(n);
        if f.ty() == "import" {
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
        if q.is_empty() && f.ty() == "subscript_expression" {
            let obj = f.field("object").map(strip);
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

    pub(super) fn on_new(&mut self, n: Node<'t>) -> Result<(), StageError> {
        let Some(c) = n.field("constructor") else {
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
    pub(super) fn dynamic_import(&mut self, n: Node<'t>, line: u32) {
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

    pub(super) fn suspicious_import(&mut self, spec: &str, line: u32) {
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
    pub(super) fn code_exec(&mut self, n: Node<'t>, what: &str, code: &[Node<'t>]) {
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
    pub(super) fn decoder_flow(&mut self, sink_args: &[Node<'t>], line: u32) {
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
    pub(super) fn find_decoder(&self, n: Node<'t>, d: u32, budget: &mut u32) -> Option<Node<'t>> {
        if d > MAX_DEPTH || *budget == 0 {
            return None;
        }
        *budget -= 1;
        let n = strip(n);
        if is_function(n.ty()) {
            return None;
        }
        if n.ty() == "call_expression" && self.is_decoder(n) {
            return Some(n);
        }
        if n.ty() == "identifier" {
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
        let Some(f) = n.field("function").map(strip) else {
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
                if f.ty() != "member_expression" {
                    return false;
                }
                let prop = f.field("property").map(|p| self.cx.text(p));
                let obj = f.field("object").map(strip);
                match (prop, obj) {
                    (Some("join"), Some(o)) if o.ty() == "call_expression" => o
                        .field("function")
                        .and_then(|g| g.field("property"))
                        .is_some_and(|p| self.cx.text(p) == "reverse"),
                    (Some("toString"), Some(o)) if o.ty() == "call_expression" => {
                        self.is_decoder(o)
                    }
                    _ => false,
                }
            }
        }
    }

    /// Re-scans a decoded constant (§8.3 JS-003 "re-scan as PY-003").
    pub(super) fn decoder_rescan(&mut self, n: Node<'t>, _q: &str) -> Result<(), StageError> {
        if !self.is_decoder(n) {
            return Ok(());
        }
        // The outermost call of a chain (`Buffer.from(…).toString()`) is re-scanned once.
        if let Some(p) = n.parent()
            && p.ty() == "member_expression"
            && let Some(gp) = p.parent()
            && gp.ty() == "call_expression"
            && self.is_decoder(gp)
        {
            return Ok(());
        }
        if let Some(text) = self.cx.fold_str(n) {
            self.rescan(&text, line_of(n))?;
        }
        Ok(())
    }

    pub(super) fn is_string_like(&self, n: Node<'t>, d: u32) -> bool {
        let n = strip(n);
        match n.ty() {
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
    pub(super) fn url_host(&self, u: Node<'t>) -> Option<String> {
        let s = self.cx.fold_partial(u);
        let hosts = agent::url_hosts(&s);
        let h = hosts.into_iter().next()?;
        let head = s.split("://").nth(1).unwrap_or("");
        let authority = head.split(['/', '?', '#']).next().unwrap_or("");
        (!h.contains(DYN) && !authority.contains(DYN)).then_some(h)
    }
}

fn scope_global(js: &Js, o: Node) -> bool {
    o.ty() == "identifier"
        && crate::scan::code::js::scope::GLOBAL_OBJECTS.contains(&js.cx.text(o))
        && matches!(js.cx.sym.lookup(js.cx.text(o)), Lookup::Global)
}
