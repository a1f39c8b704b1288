//! Rules at Python call sites, dispatched from `check_call` (SPEC §8.3 stage 2): PY-001/PY-004 process calls (with SUP-001, CODE-009,
//! CODE-005 commands, the CODE-002 process sink and the shell analyser on command strings), PY-002 code
//! execution, PY-003 decoder flows and the decoded-data re-scan, PY-005 deserialisation, PY-006 env reads,
//! CODE-001 network use with CODE-002 and CODE-008 at send sinks.

use super::fold::{Val, is_decoder};
use super::net::net_call;
use super::process::proc_kind;
use super::{Mode, Py, Scope, T_DEC, call_args};
use crate::scan::report::Severity;
use crate::scan::syntax;
use crate::scan::syntax::NodeExt;
use tree_sitter::Node;

/// Encoders of CODE-002's package heuristic (b).
fn is_encoder(q: &str) -> bool {
    (q.starts_with("base64.") && q.contains("encode"))
        || matches!(
            q,
            "binascii.hexlify"
                | "binascii.b2a_hex"
                | "binascii.b2a_base64"
                | "zlib.compress"
                | "codecs.encode"
        )
}

impl<'t> Py<'t> {
    pub fn check_call(&mut self, call: Node<'t>, sc: &mut Scope<'t>) {
        let Some(func) = call.field("function") else {
            return;
        };
        let q = self.qual(func, sc).unwrap_or_default();
        let (pos, kw) = call_args(call, self.src);
        let sc_ro: &Scope<'t> = sc;
        match q.as_str() {
            "os.getenv" | "os.environ.get" | "os.getenvb" => {
                let name = pos.first().and_then(|n| self.fold_str(*n, sc_ro));
                self.env_access(call, name, sc_ro);
            }
            _ => {}
        }
        self.harvest_call(call, &q, sc_ro);
        if q == "os.dup2" && pos.first().is_some_and(|a| self.is_socket(*a, sc_ro)) {
            sc.dup_socket = true;
        }
        let sc_ro: &Scope<'t> = sc;
        if let Some(k) = proc_kind(&q) {
            self.process_call(call, k, &q, &pos, &kw, sc_ro);
        }
        self.code_exec(call, &q, &pos, sc_ro);
        self.deserialize(call, &q, &pos, &kw, sc_ro);
        if let Some(arg) = net_call(&q) {
            self.network(call, &q, arg, &pos, &kw, sc_ro);
        }
        if q.starts_with("pip.main")
            || q.starts_with("pip._internal")
            || q.starts_with("ensurepip.")
        {
            self.emit(
                sc_ro,
                call,
                "SUP-001",
                "dynamic_install",
                Severity::Critical,
                format!("Installs packages at run time through {q}."),
                None,
                0.9,
            );
        }
        let m = func
            .field("attribute")
            .map(|a| syntax::text(a, self.src))
            .unwrap_or("");
        if func.ty() == "attribute"
            && matches!(
                m,
                "send" | "send_email" | "send_message" | "sendmail" | "sendMail"
            )
            && net_call(&q).is_none()
        {
            self.recipients(call, &pos, &kw, sc_ro);
        }
        self.file_ops(call, &q, &pos, &kw, sc_ro);
        if sc_ro.mode == Mode::Normal && is_encoder(&q) {
            self.facts.encoder = true;
        }
        if is_decoder(&q) && q != "builtins.chr" {
            let decoded = self.fold(call, sc_ro);
            if let Some(t) = decoded.first().and_then(Val::text) {
                self.rescan(call, &t, sc_ro);
            }
        }
        // Container writes taint the container (§8.2).
        if func.ty() == "attribute"
            && matches!(
                m,
                "append" | "extend" | "add" | "update" | "insert" | "setdefault"
            )
            && let Some(obj) = func.field("object")
            && obj.ty() == "identifier"
        {
            let t = pos
                .iter()
                .chain(kw.iter().map(|(_, v)| v))
                .fold(0, |t, a| t | self.taint_of(*a, sc));
            if t != 0 {
                *sc.taint.entry(self.ident(obj)).or_default() |= t;
            }
        }
        self.follow_into(call, sc);
    }

    /// PY-003 at a sink; evidence the decoded text when it folds.
    pub fn obfuscation(&mut self, call: Node<'t>, arg: Option<Node<'t>>, sc: &Scope<'t>) {
        let decoded = arg.and_then(|a| self.fold(a, sc).first().and_then(Val::text));
        if let Some(t) = &decoded {
            self.rescan(call, t, sc);
        }
        self.emit(
            sc,
            call,
            "PY-003",
            "obfuscation",
            Severity::Critical,
            "Decoded data is executed or used as a name.".into(),
            decoded,
            0.9,
        );
    }

    fn code_exec(&mut self, call: Node<'t>, q: &str, pos: &[Node<'t>], sc: &Scope<'t>) {
        let exec_like = matches!(
            q,
            "builtins.eval"
                | "builtins.exec"
                | "builtins.compile"
                | "runpy.run_path"
                | "runpy.run_module"
        );
        let importer = matches!(
            q,
            "builtins.__import__" | "importlib.import_module" | "importlib.__import__"
        );
        if q == "builtins.getattr"
            && let Some(name) = pos.get(1)
            && self.taint_of(*name, sc) & T_DEC != 0
        {
            self.obfuscation(call, Some(*name), sc);
        }
        if !exec_like && !importer {
            return;
        }
        let constant = pos.iter().all(|a| !self.fold(*a, sc).is_empty());
        if importer && constant {
            return;
        }
        let name = q.rsplit('.').next().unwrap_or(q);
        self.emit(
            sc,
            call,
            "PY-002",
            "code_execution",
            if constant {
                Severity::Medium
            } else {
                Severity::Critical
            },
            if importer {
                format!("Imports a module whose name is chosen at run time ({name}).")
            } else {
                format!("Executes dynamic code with {name}.")
            },
            None,
            0.9,
        );
        if let Some(a) = pos.first()
            && self.taint_of(*a, sc) & T_DEC != 0
        {
            self.obfuscation(call, Some(*a), sc);
        }
    }

    fn deserialize(
        &mut self,
        call: Node<'t>,
        q: &str,
        pos: &[Node<'t>],
        kw: &[(String, Node<'t>)],
        sc: &Scope<'t>,
    ) {
        let (base, m) = q.rsplit_once('.').unwrap_or(("", q));
        let hit = match (base, m) {
            ("pickle" | "cPickle" | "_pickle" | "dill" | "marshal", "load" | "loads") => true,
            ("shelve", "open") | ("joblib", "load") | ("jsonpickle", "decode") => true,
            ("yaml", "unsafe_load" | "unsafe_load_all") => true,
            ("yaml", "load" | "load_all") => {
                let loader = kw
                    .iter()
                    .find(|(k, _)| k == "Loader")
                    .map(|(_, v)| *v)
                    .or_else(|| pos.get(1).copied());
                !loader.is_some_and(|l| {
                    let t = self
                        .qual(l, sc)
                        .unwrap_or_else(|| syntax::text(l, self.src).to_string());
                    t.ends_with("SafeLoader") || t.ends_with("CSafeLoader")
                })
            }
            _ => false,
        };
        let arg = pos.first().or_else(|| kw.first().map(|(_, v)| v));
        if !hit || arg.is_some_and(|a| !self.fold(*a, sc).is_empty()) {
            return;
        }
        self.emit(
            sc,
            call,
            "PY-005",
            "insecure_deserialize",
            Severity::High,
            format!("Deserialises data with {q}, which can run code."),
            None,
            0.9,
        );
    }

    /// Decoded constants are re-analysed as Python (§8.3 PY-003: depth ≤ 2, ≤ 64 KiB); findings are
    /// reported at the decoder's line with the prefix `In decoded data: `, evidence the decoded text.
    pub fn rescan(&mut self, at: Node<'t>, text: &str, sc: &Scope<'t>) {
        if sc.mode != Mode::Normal
            || self.f.depth >= 2
            || text.len() > 64 * 1024
            || text.trim().len() < 4
        {
            return;
        }
        let printable = text
            .chars()
            .filter(|c| !c.is_control() || c.is_whitespace())
            .count();
        if printable * 10 < text.chars().count() * 9 || !self.rescanned.insert(text.to_string()) {
            return;
        }
        let inner = super::super::FileCtx {
            file: self.f.file,
            text,
            runtime: self.f.runtime,
            files: self.f.files,
            declared: self.f.declared,
            deadline: self.f.deadline,
            depth: self.f.depth + 1,
        };
        let Ok(out) = super::analyze(&inner) else {
            return;
        };
        let line = syntax::line(at);
        for mut f in out.findings {
            if !self
                .seen
                .insert((f.rule_id, line, f.severity == Severity::Info))
            {
                continue;
            }
            f.line = Some(line);
            if !f.message.starts_with("In decoded data: ") {
                f.message = format!("In decoded data: {}", f.message);
            }
            f = f.with_evidence(text.to_string());
            self.findings.push(f);
        }
        let mut caps = out.caps;
        for n in &mut caps.net {
            n.line = line;
        }
        for s in &mut caps.subprocess {
            s.1 = line;
        }
        for w in &mut caps.fs_writes {
            w.line = line;
        }
        self.caps.extend(caps);
    }
}
