//! Rules at Python call sites (SPEC §8.3 stage 2): PY-001/PY-004 process calls (with SUP-001, CODE-009,
//! CODE-005 commands, the CODE-002 process sink and the shell analyser on command strings), PY-002 code
//! execution, PY-003 decoder flows and the decoded-data re-scan, PY-005 deserialisation, PY-006 env reads,
//! CODE-001 network use with CODE-002 and CODE-008 at send sinks.

use super::fold::{DYN, Val, is_decoder, is_true};
use super::{Mode, Py, Scope, T_CRED, T_DEC, T_NET, T_SECRET, call_args, kids};
use crate::permissions::host_covered;
use crate::scan::code::{NetUse, terms};
use crate::scan::report::Severity;
use crate::scan::shell;
use crate::scan::syntax;
use crate::scan::vocab::{is_credname, is_loopback_host};
use tree_sitter::Node;

/// Where a network call names its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetArg {
    /// A URL at this positional index (or `url=` / `base_url=`).
    Url(usize),
    /// A bare host (first positional or `host=`).
    Host,
    /// A `(host, port)` tuple.
    Tuple,
    /// No destination in this call (a send on an open connection).
    NoAddr,
}

const VERBS: [&str; 8] = ["get", "post", "put", "patch", "delete", "head", "options", "stream"];

/// CODE-001: the network calls of §8.3 by qualified name.
pub fn net_call(q: &str) -> Option<NetArg> {
    let (base, m) = q.rsplit_once('.')?;
    let verb = VERBS.contains(&m);
    let client = matches!(
        base,
        "requests.Session()"
            | "requests.session()"
            | "requests.sessions.Session()"
            | "httpx.Client()"
            | "httpx.AsyncClient()"
            | "aiohttp.ClientSession()"
    );
    match (base, m) {
        ("requests" | "httpx", _) if verb => Some(NetArg::Url(0)),
        ("requests" | "httpx" | "urllib3" | "aiohttp", "request") => Some(NetArg::Url(1)),
        _ if client && (verb || m == "ws_connect") => Some(NetArg::Url(0)),
        _ if client && m == "request" => Some(NetArg::Url(1)),
        ("httpx", "Client" | "AsyncClient") => Some(NetArg::Url(usize::MAX)),
        ("urllib.request" | "urllib2", "urlopen" | "urlretrieve" | "Request") => {
            Some(NetArg::Url(0))
        }
        ("urllib3.PoolManager()", "request" | "urlopen") => Some(NetArg::Url(1)),
        ("http.client" | "httplib", "HTTPConnection" | "HTTPSConnection") => Some(NetArg::Host),
        ("socket", "create_connection") => Some(NetArg::Tuple),
        ("socket.socket()", "connect" | "connect_ex" | "sendto") => Some(NetArg::Tuple),
        ("smtplib", "SMTP" | "SMTP_SSL") => Some(NetArg::Host),
        ("smtplib.SMTP()" | "smtplib.SMTP_SSL()", "sendmail" | "send_message") => {
            Some(NetArg::NoAddr)
        }
        ("ftplib", "FTP" | "FTP_TLS") => Some(NetArg::Host),
        ("websocket", "create_connection" | "WebSocketApp") => Some(NetArg::Url(0)),
        ("websockets" | "websockets.client", "connect") => Some(NetArg::Url(0)),
        _ => None,
    }
}

/// The host of a URL's constant start; None when scheme and host are not both constant.
pub fn url_host(s: &str, complete: bool) -> Option<String> {
    let (scheme, rest) = s.split_once("://")?;
    if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
        return None;
    }
    let end = rest.find(['/', '?', '#']);
    // A prefix that stops right after the host (`BASES[k] + path`) names its host unless the host may
    // still continue (`"https://api." + tld`).
    if end.is_none() && !complete && (rest.ends_with(['.', '-']) || !rest.contains('.')) {
        return None;
    }
    let auth = &rest[..end.unwrap_or(rest.len())];
    let hostport = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        hostport.split(':').next().unwrap_or("")
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Process-call classes of PY-001 / PY-004.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proc {
    /// The command is a shell string.
    Shell,
    /// The command is an argv (or a program path).
    Exec,
    /// `os.exec*`, `os.spawn*`, `os.posix_spawn*`.
    OsExec,
}

fn proc_kind(q: &str) -> Option<Proc> {
    let (base, m) = q.rsplit_once('.')?;
    match (base, m) {
        ("os", "system" | "popen" | "popen2" | "popen3" | "popen4")
        | ("subprocess" | "commands", "getoutput" | "getstatusoutput")
        | ("asyncio", "create_subprocess_shell") => Some(Proc::Shell),
        ("subprocess", "run" | "call" | "check_call" | "check_output" | "Popen")
        | ("pty", "spawn")
        | ("asyncio", "create_subprocess_exec") => Some(Proc::Exec),
        ("os", _) if m.starts_with("exec") || m.starts_with("spawn") || m.starts_with("posix_spawn") => {
            Some(Proc::OsExec)
        }
        _ => None,
    }
}

/// Splits shell text into simple commands' words (quotes removed; words with a dynamic part are None).
pub fn simple_commands(text: &str) -> Vec<Vec<Option<String>>> {
    let mut out = Vec::new();
    let mut words: Vec<Option<String>> = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let flush = |cur: &mut String, in_word: &mut bool, words: &mut Vec<Option<String>>| {
        if *in_word {
            let w = std::mem::take(cur);
            words.push((!w.contains(DYN)).then_some(w));
            *in_word = false;
        }
    };
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    in_word = true;
                }
                ' ' | '\t' => flush(&mut cur, &mut in_word, &mut words),
                ';' | '&' | '|' | '\n' | '(' | ')' => {
                    flush(&mut cur, &mut in_word, &mut words);
                    if !words.is_empty() {
                        out.push(std::mem::take(&mut words));
                    }
                }
                _ => {
                    cur.push(c);
                    in_word = true;
                }
            },
        }
    }
    flush(&mut cur, &mut in_word, &mut words);
    if !words.is_empty() {
        out.push(words);
    }
    out.truncate(256);
    out
}

/// Encoders of CODE-002's package heuristic (b).
fn is_encoder(q: &str) -> bool {
    (q.starts_with("base64.") && q.contains("encode"))
        || matches!(
            q,
            "binascii.hexlify" | "binascii.b2a_hex" | "binascii.b2a_base64" | "zlib.compress" | "codecs.encode"
        )
}

fn base_name(w: &str) -> &str {
    w.rsplit('/').next().unwrap_or(w)
}

const SEND_PROGRAMS: [&str; 9] = [
    "curl", "wget", "nc", "ncat", "netcat", "scp", "rsync", "ftp", "sftp",
];

impl<'t> Py<'t> {
    /// Renders a command expression as shell text: constant parts kept, others replaced by `$__dyn`.
    pub fn render(&self, n: Node<'t>, sc: &Scope<'t>, d: u8) -> String {
        if d > 16 {
            return DYN.to_string();
        }
        if let Some(Val::Str(s)) = self.fold(n, sc).first() {
            return s.clone();
        }
        match n.kind() {
            "string" => {
                let mut out = String::new();
                for c in super::all_kids(n) {
                    match c.kind() {
                        "string_content" => out.push_str(syntax::text(c, self.src)),
                        "interpolation" => match c.child_by_field_name("expression") {
                            Some(e) => out.push_str(&self.render(e, sc, d + 1)),
                            None => out.push_str(DYN),
                        },
                        _ => {}
                    }
                }
                out
            }
            "binary_operator" => {
                let op = n
                    .child_by_field_name("operator")
                    .map(|o| syntax::text(o, self.src))
                    .unwrap_or("");
                match (op, n.child_by_field_name("left"), n.child_by_field_name("right")) {
                    ("+", Some(l), Some(r)) => {
                        format!("{}{}", self.render(l, sc, d + 1), self.render(r, sc, d + 1))
                    }
                    ("%", Some(l), _) => self.render(l, sc, d + 1).replace("%s", DYN),
                    _ => DYN.to_string(),
                }
            }
            "parenthesized_expression" | "concatenated_string" => kids(n)
                .into_iter()
                .map(|c| self.render(c, sc, d + 1))
                .collect(),
            _ => DYN.to_string(),
        }
    }

    fn argv_of_list(&self, n: Node<'t>, sc: &Scope<'t>) -> Option<Vec<Option<String>>> {
        if matches!(n.kind(), "list" | "tuple") {
            return Some(
                kids(n)
                    .into_iter()
                    .filter(|c| c.kind() != "comment")
                    .map(|c| match c.kind() {
                        "list_splat" => None,
                        _ => self.fold(c, sc).first().and_then(Val::text),
                    })
                    .collect(),
            );
        }
        match self.fold(n, sc).into_iter().next() {
            Some(Val::List(items)) => Some(items.iter().map(Val::text).collect()),
            _ => None,
        }
    }

    pub fn check_call(&mut self, call: Node<'t>, sc: &mut Scope<'t>) {
        let Some(func) = call.child_by_field_name("function") else {
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
        if let Some(k) = proc_kind(&q) {
            self.process_call(call, k, &q, &pos, &kw, sc_ro);
        }
        self.code_exec(call, &q, &pos, sc_ro);
        self.deserialize(call, &q, &pos, &kw, sc_ro);
        if let Some(arg) = net_call(&q) {
            self.network(call, &q, arg, &pos, &kw, sc_ro);
        }
        if q.starts_with("pip.main") || q.starts_with("pip._internal") || q.starts_with("ensurepip.")
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
            .child_by_field_name("attribute")
            .map(|a| syntax::text(a, self.src))
            .unwrap_or("");
        if func.kind() == "attribute"
            && matches!(m, "send" | "send_email" | "send_message" | "sendmail" | "sendMail")
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
        if func.kind() == "attribute"
            && matches!(m, "append" | "extend" | "add" | "update" | "insert" | "setdefault")
            && let Some(obj) = func.child_by_field_name("object")
            && obj.kind() == "identifier"
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

    fn process_call(
        &mut self,
        call: Node<'t>,
        kind: Proc,
        q: &str,
        pos: &[Node<'t>],
        kw: &[(String, Node<'t>)],
        sc: &Scope<'t>,
    ) {
        let shell_kw = kw
            .iter()
            .find(|(k, _)| k == "shell")
            .is_some_and(|(_, v)| is_true(&self.fold(*v, sc)));
        let kind = if kind == Proc::Exec && shell_kw && q.starts_with("subprocess.") {
            Proc::Shell
        } else {
            kind
        };
        let cmd = pos.first().copied().or_else(|| {
            kw.iter()
                .find(|(k, _)| matches!(k.as_str(), "args" | "cmd" | "command"))
                .map(|(_, v)| *v)
        });
        let declared_sub = self.f.declared.subprocess;
        let mut argvs: Vec<Vec<Option<String>>> = Vec::new();
        let mut shell_texts: Vec<String> = Vec::new();
        let all_taint = pos
            .iter()
            .chain(kw.iter().filter(|(k, _)| k != "env").map(|(_, v)| v))
            .fold(0, |t, a| t | self.taint_of(*a, sc));
        let cmd_taint = cmd.map_or(0, |c| self.taint_of(c, sc));
        match kind {
            Proc::Shell => {
                let constant = cmd.is_some_and(|c| {
                    let v = self.fold(c, sc);
                    !v.is_empty() && v.iter().all(|x| matches!(x, Val::Str(_) | Val::Bytes(_)))
                });
                let text = cmd.map(|c| self.render(c, sc, 0)).unwrap_or_default();
                if constant {
                    self.emit(
                        sc,
                        call,
                        "PY-004",
                        "subprocess_usage",
                        if declared_sub { Severity::Info } else { Severity::Medium },
                        format!("Runs a constant shell command through {q}."),
                        None,
                        0.9,
                    );
                } else {
                    self.emit(
                        sc,
                        call,
                        "PY-001",
                        "shell_injection",
                        if declared_sub { Severity::High } else { Severity::Critical },
                        format!("Runs a shell command built at run time through {q}."),
                        None,
                        0.9,
                    );
                }
                shell_texts.push(text);
            }
            Proc::Exec | Proc::OsExec => {
                let argv = if kind == Proc::OsExec {
                    let rest: Vec<Node<'t>> = pos
                        .iter()
                        .copied()
                        .skip_while(|n| matches!(self.fold(*n, sc).first(), Some(Val::Int(_))))
                        .collect();
                    match rest.iter().find_map(|n| self.argv_of_list(*n, sc)) {
                        Some(a) => a,
                        None => rest
                            .iter()
                            .skip(usize::from(rest.len() > 1))
                            .map(|n| self.fold_str(*n, sc))
                            .collect(),
                    }
                } else if q == "asyncio.create_subprocess_exec" {
                    pos.iter().map(|n| self.fold_str(*n, sc)).collect()
                } else {
                    match cmd {
                        Some(c) => match self.argv_of_list(c, sc) {
                            Some(a) => a,
                            None => match self.fold_str(c, sc) {
                                Some(s) => s.split_whitespace().map(|w| Some(w.to_string())).collect(),
                                None => vec![None],
                            },
                        },
                        None => vec![None],
                    }
                };
                // `bash -c "<text>"`: the text is shell text too.
                if let Some(Some(p)) = argv.first()
                    && crate::scan::vocab::SHELLS.contains(&base_name(p))
                    && let Some(i) = argv.iter().position(|w| w.as_deref() == Some("-c"))
                    && let Some(Some(t)) = argv.get(i + 1)
                {
                    shell_texts.push(t.clone());
                }
                self.emit(
                    sc,
                    call,
                    "PY-004",
                    "subprocess_usage",
                    if declared_sub { Severity::Info } else { Severity::Medium },
                    format!("Runs a process through {q}."),
                    None,
                    0.9,
                );
                argvs.push(argv);
            }
        }
        if sc.mode == Mode::Normal {
            self.caps
                .subprocess
                .push((self.f.file.path.clone(), syntax::line(call)));
        }
        // PY-003: decoded data reaches the process call.
        if cmd_taint & T_DEC != 0 {
            self.obfuscation(call, cmd, sc);
        }
        for t in &shell_texts {
            argvs.extend(simple_commands(t));
            self.shell_hits(call, t, sc);
        }
        for argv in &argvs {
            self.command_rules(call, argv, all_taint, sc);
        }
    }

    /// SUP-001, CODE-009, CODE-005 (persistence commands) and the CODE-002 process sink for one argv.
    fn command_rules(&mut self, call: Node<'t>, argv: &[Option<String>], taint: u8, sc: &Scope<'t>) {
        if terms::is_installer(argv) {
            self.emit(
                sc,
                call,
                "SUP-001",
                "dynamic_install",
                Severity::Critical,
                "Installs packages at run time from a process call.".into(),
                None,
                0.9,
            );
        }
        if let Some(args) = terms::agent_cli_args(argv) {
            let sev = terms::agent_cli_severity(args, taint & T_NET != 0);
            let prog = argv
                .iter()
                .flatten()
                .next()
                .map(String::as_str)
                .unwrap_or("an agent CLI");
            self.emit(
                sc,
                call,
                "CODE-009",
                "agent_cli_invocation",
                sev,
                format!("Runs the AI agent CLI {}.", base_name(prog)),
                None,
                0.9,
            );
        }
        if terms::is_persistence_command(argv) {
            self.emit(
                sc,
                call,
                "CODE-005",
                "persistence",
                Severity::High,
                "Installs a persistent job or start-up entry from a process call.".into(),
                None,
                0.9,
            );
        }
        let stripped = terms::strip_wrappers(argv);
        if let Some(Some(p)) = stripped.first()
            && SEND_PROGRAMS.contains(&base_name(p))
            && Self::sensitive(taint)
        {
            self.emit(
                sc,
                call,
                "CODE-002",
                "exfiltration",
                Severity::Critical,
                format!("Sensitive data reaches a {} command.", base_name(p)),
                None,
                0.85,
            );
        }
    }

    /// Command strings of shell-executing calls are checked with the SH rules (§8.3 stage 2 intro).
    fn shell_hits(&mut self, call: Node<'t>, text: &str, sc: &Scope<'t>) {
        let opts = shell::ShellOpts {
            files: Some(self.f.files),
            declared: Some(self.f.declared),
            deadline: self.f.deadline,
            depth: self.f.depth,
        };
        for h in shell::analyze(text, &opts) {
            self.emit(
                sc,
                call,
                h.rule_id,
                h.rule_type,
                h.severity,
                h.message,
                Some(h.evidence),
                0.9,
            );
        }
    }

    /// PY-003 at a sink; evidence the decoded text when it folds.
    fn obfuscation(&mut self, call: Node<'t>, arg: Option<Node<'t>>, sc: &Scope<'t>) {
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
            "builtins.eval" | "builtins.exec" | "builtins.compile" | "runpy.run_path" | "runpy.run_module"
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
            if constant { Severity::Medium } else { Severity::Critical },
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
                    let t = self.qual(l, sc).unwrap_or_else(|| syntax::text(l, self.src).to_string());
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

    /// Constant hosts of a network call's destination, and whether any destination is not constant.
    fn destinations(
        &self,
        arg: NetArg,
        pos: &[Node<'t>],
        kw: &[(String, Node<'t>)],
        sc: &Scope<'t>,
    ) -> (Vec<String>, bool) {
        let kwv = |names: &[&str]| {
            kw.iter()
                .find(|(k, _)| names.contains(&k.as_str()))
                .map(|(_, v)| *v)
        };
        let node = match arg {
            NetArg::Url(usize::MAX) => kwv(&["base_url"]),
            NetArg::Url(i) => pos.get(i).copied().or_else(|| kwv(&["url", "base_url"])),
            NetArg::Host | NetArg::Tuple => pos.first().copied().or_else(|| kwv(&["host", "address"])),
            NetArg::NoAddr => return (Vec::new(), false),
        };
        let Some(node) = node else {
            return (Vec::new(), arg != NetArg::Url(usize::MAX));
        };
        let alts = self.fold(node, sc);
        let mut hosts = Vec::new();
        let mut dynamic = alts.is_empty();
        for v in &alts {
            let h = match (arg, v) {
                (NetArg::Url(_), Val::Str(s)) => url_host(s, true),
                (NetArg::Url(_), Val::Prefix(s)) => url_host(s, false),
                (NetArg::Host, Val::Str(s)) => Some(s.to_ascii_lowercase()),
                (NetArg::Tuple, Val::List(items)) => items.first().and_then(Val::text),
                _ => None,
            };
            match h {
                Some(h) if !hosts.contains(&h) => hosts.push(h),
                Some(_) => {}
                None => dynamic = true,
            }
        }
        (hosts, dynamic)
    }

    fn network(
        &mut self,
        call: Node<'t>,
        q: &str,
        arg: NetArg,
        pos: &[Node<'t>],
        kw: &[(String, Node<'t>)],
        sc: &Scope<'t>,
    ) {
        let (hosts, dynamic) = self.destinations(arg, pos, kw, sc);
        // A client built without a base URL reaches nothing yet; its requests are judged.
        if arg == NetArg::Url(usize::MAX) && hosts.is_empty() && !dynamic {
            return;
        }
        let declared = |h: &str| is_loopback_host(h) || host_covered(&self.f.declared.outbound, h);
        let all_declared = !hosts.is_empty() && !dynamic && hosts.iter().all(|h| declared(h));
        if arg != NetArg::NoAddr {
            let what = if hosts.is_empty() {
                "a host chosen at run time".to_string()
            } else {
                hosts.join(", ")
            };
            self.emit(
                sc,
                call,
                "CODE-001",
                "network_access",
                if all_declared { Severity::Info } else { Severity::Low },
                format!("Uses the network ({q}) to reach {what}."),
                None,
                0.9,
            );
            if sc.mode == Mode::Normal {
                let (file, line) = (self.f.file.path.clone(), syntax::line(call));
                for h in &hosts {
                    self.caps.net.push(NetUse {
                        host: Some(h.clone()),
                        file: file.clone(),
                        line,
                    });
                }
                if dynamic {
                    self.caps.net.push(NetUse { host: None, file, line });
                }
            }
        }
        // CODE-002 package heuristic (c): a non-constant body to a host that is not declared.
        let body = kw
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "data" | "json" | "content" | "files" | "body"))
            .map(|(_, v)| *v)
            .chain(match arg {
                NetArg::Url(i) if i != usize::MAX => pos.get(i + 1).copied(),
                _ => None,
            });
        let dyn_body = body.into_iter().any(|b| self.fold(b, sc).is_empty());
        let undeclared = hosts.iter().any(|h| !declared(h))
            || (dynamic && self.f.declared.outbound.is_empty());
        if sc.mode == Mode::Normal && dyn_body && undeclared {
            self.facts.sends = true;
        }
        // CODE-002: a sensitive value reaches any argument of the send.
        let mut secret = false;
        let mut cred_ok = true;
        let mut cred = false;
        for (k, v) in pos
            .iter()
            .map(|p| (None, *p))
            .chain(kw.iter().map(|(k, v)| (Some(k.as_str()), *v)))
        {
            let t = self.taint_of(v, sc);
            secret |= t & T_SECRET != 0;
            if t & T_CRED != 0 {
                cred = true;
                cred_ok &= match k {
                    Some("headers" | "auth" | "cookies") => true,
                    Some("params" | "data" | "json") => self.cred_fields_only(v, sc),
                    _ => false,
                };
            }
        }
        // §8.3 CODE-002 exception: a credential sent as a credential to a constant, declared host.
        if secret || (cred && !(cred_ok && all_declared)) {
            self.emit(
                sc,
                call,
                "CODE-002",
                "exfiltration",
                Severity::Critical,
                format!("Sensitive data (credentials, secrets or the environment) is sent over the network by {q}."),
                None,
                0.85,
            );
        }
        self.recipients(call, pos, kw, sc);
    }

    /// True when every tainted value of a dict literal sits under a CREDNAME, `key` or `appid` key.
    fn cred_fields_only(&self, n: Node<'t>, sc: &Scope<'t>) -> bool {
        if n.kind() != "dictionary" {
            return false;
        }
        kids(n).into_iter().all(|p| {
            let (Some(k), Some(v)) = (p.child_by_field_name("key"), p.child_by_field_name("value")) else {
                return p.kind() == "comment";
            };
            if self.taint_of(v, sc) == 0 {
                return true;
            }
            self.fold_str(k, sc)
                .is_some_and(|k| is_credname(&k) || k == "key" || k == "appid")
        })
    }

    /// Decoded constants are re-analysed as Python (§8.3 PY-003: depth ≤ 2, ≤ 64 KiB); findings are
    /// reported at the decoder's line with the prefix `In decoded data: `, evidence the decoded text.
    pub fn rescan(&mut self, at: Node<'t>, text: &str, sc: &Scope<'t>) {
        if sc.mode != Mode::Normal || self.f.depth >= 2 || text.len() > 64 * 1024 || text.trim().len() < 4
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
            if !self.seen.insert((f.rule_id, line, f.severity == Severity::Info)) {
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

    /// CODE-008: a constant recipient under a recipient key reaching a send.
    fn recipients(
        &mut self,
        call: Node<'t>,
        pos: &[Node<'t>],
        kw: &[(String, Node<'t>)],
        sc: &Scope<'t>,
    ) {
        let mut constant: Vec<String> = Vec::new();
        let mut dynamic = false;
        for (k, v) in pos
            .iter()
            .map(|p| (None, *p))
            .chain(kw.iter().map(|(k, v)| (Some(k.clone()), *v)))
        {
            if let Some(k) = &k
                && terms::is_recipient_key(k)
            {
                self.recipient_value(v, sc, &mut constant, &mut dynamic);
                continue;
            }
            self.recipient_dict(v, sc, &mut constant, &mut dynamic, 0);
        }
        let Some(first) = constant.first().cloned() else {
            return;
        };
        let placeholder = constant.iter().all(|c| terms::is_placeholder_recipient(c));
        let covered = terms::recipient_domain(&first)
            .is_some_and(|d| host_covered(&self.f.declared.outbound, &d));
        let sev = if placeholder {
            Severity::Info
        } else if !dynamic {
            Severity::Low
        } else if covered {
            Severity::Medium
        } else {
            Severity::High
        };
        self.emit(
            sc,
            call,
            "CODE-008",
            "hidden_recipient",
            sev,
            format!("A constant recipient ({first}) is added to what this call sends."),
            Some(constant.join(", ")),
            0.85,
        );
    }

    fn recipient_value(&self, v: Node<'t>, sc: &Scope<'t>, constant: &mut Vec<String>, dynamic: &mut bool) {
        let vals = self.fold(v, sc);
        if vals.is_empty() {
            // A list mixing constants and arguments: `[to, "audit@x.example"]`.
            if matches!(v.kind(), "list" | "tuple") {
                for c in kids(v) {
                    self.recipient_value(c, sc, constant, dynamic);
                }
            } else {
                *dynamic = true;
            }
            return;
        }
        for val in vals {
            let items = match val {
                Val::List(items) => items,
                o => vec![o],
            };
            for it in items {
                if let Some(t) = it.text()
                    && terms::looks_like_recipient(&t)
                    && !constant.contains(&t)
                {
                    constant.push(t);
                }
            }
        }
    }

    fn recipient_dict(
        &self,
        n: Node<'t>,
        sc: &Scope<'t>,
        constant: &mut Vec<String>,
        dynamic: &mut bool,
        d: u8,
    ) {
        if d > 3 {
            return;
        }
        match n.kind() {
            "dictionary" => {
                for p in kids(n) {
                    let (Some(k), Some(v)) = (p.child_by_field_name("key"), p.child_by_field_name("value"))
                    else {
                        continue;
                    };
                    match self.fold_str(k, sc) {
                        Some(k) if terms::is_recipient_key(&k) => {
                            self.recipient_value(v, sc, constant, dynamic)
                        }
                        _ => self.recipient_dict(v, sc, constant, dynamic, d + 1),
                    }
                }
            }
            "identifier" => {
                let name = self.ident(n);
                if let Some(hs) = sc.headers.get(&name) {
                    for (k, v, _) in hs {
                        if !terms::is_recipient_key(k) {
                            continue;
                        }
                        match v {
                            Some(v) if terms::looks_like_recipient(v) => {
                                if !constant.contains(v) {
                                    constant.push(v.clone());
                                }
                            }
                            Some(_) => {}
                            None => *dynamic = true,
                        }
                    }
                }
                if let Some((rhs, _)) = self.single_assign(&name, sc)
                    && rhs.kind() == "dictionary"
                {
                    self.recipient_dict(rhs, sc, constant, dynamic, d + 1);
                }
            }
            _ => {}
        }
    }

    /// `msg["Bcc"] = "…"` header assignments (CODE-008).
    pub fn header_assign(&self, l: Node<'t>, r: Node<'t>, sc: &mut Scope<'t>) {
        if l.kind() != "subscript" {
            return;
        }
        let (Some(obj), Some(key)) = (l.child_by_field_name("value"), l.child_by_field_name("subscript"))
        else {
            return;
        };
        if obj.kind() != "identifier" {
            return;
        }
        let Some(k) = self.fold_str(key, sc) else { return };
        let v = self.fold_str(r, sc);
        sc.headers
            .entry(self.ident(obj))
            .or_default()
            .push((k, v, syntax::line(l)));
    }
}

