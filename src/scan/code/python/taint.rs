//! Taint for Python (SPEC §8.2 "Taint"): sensitive sources (whole environment, CREDNAME env reads, CRED
//! path and ENV file contents, keychain reads), network responses and decoder output, propagated through
//! expressions; plus the environment rules PY-006 (env access) and CODE-003 (env harvest).

use super::{Mode, Py, Scope, T_CRED, T_DEC, T_NET, T_SECRET, call_args, kids};
use crate::scan::report::Severity;
use crate::scan::syntax;
use crate::scan::syntax::NodeExt;
use crate::scan::vocab::{fold_home, is_cred_path, is_credname, is_env_file};
use tree_sitter::Node;

const TAINT_DEPTH: u8 = 32;

/// `open`-like calls whose first argument is the path read.
pub const OPENERS: [&str; 5] = [
    "builtins.open",
    "io.open",
    "codecs.open",
    "os.open",
    "aiofiles.open",
];

impl<'t> Py<'t> {
    pub fn taint_of(&self, n: Node<'t>, sc: &Scope<'t>) -> u8 {
        self.taint_in(n, sc, 0)
    }

    fn is_environ(&self, n: Node<'t>, sc: &Scope<'t>) -> bool {
        matches!(n.ty(), "identifier" | "attribute")
            && matches!(
                self.qual(n, sc).as_deref(),
                Some("os.environ" | "os.environb")
            )
    }

    fn taint_in(&self, n: Node<'t>, sc: &Scope<'t>, d: u8) -> u8 {
        if d > TAINT_DEPTH || !self.tick() {
            return 0;
        }
        let d = d + 1;
        match n.ty() {
            "identifier" => {
                let name = self.ident(n);
                let mut t = sc.taint.get(&name).copied().unwrap_or(0);
                if self.is_environ(n, sc) {
                    t |= T_SECRET;
                }
                t
            }
            "attribute" => {
                if self.is_environ(n, sc) {
                    return T_SECRET;
                }
                n.field("object").map_or(0, |o| self.taint_in(o, sc, d))
            }
            "subscript" => {
                let Some(v) = n.field("value") else {
                    return 0;
                };
                if self.is_environ(v, sc) {
                    return self.env_name_taint(n.field("subscript"), sc);
                }
                // `s[::-1]` is a decoder (§8.3 PY-003).
                let reversed = n.field("subscript").is_some_and(|k| {
                    k.ty() == "slice" && syntax::text(k, self.src).replace(' ', "") == "::-1"
                });
                self.taint_in(v, sc, d) | if reversed { T_DEC } else { 0 }
            }
            "call" => self.call_taint(n, sc, d),
            "lambda" | "comment" => 0,
            _ => kids(n)
                .into_iter()
                .fold(0, |t, c| t | self.taint_in(c, sc, d)),
        }
    }

    /// A CREDNAME env read is a sensitive source (§8.3 CODE-002).
    fn env_name_taint(&self, name: Option<Node<'t>>, sc: &Scope<'t>) -> u8 {
        match name.and_then(|k| self.fold_str(k, sc)) {
            Some(k) if is_credname(&k) => T_CRED,
            _ => 0,
        }
    }

    /// True when a path expression folds to a CRED path or an ENV file (a CODE-002 source).
    pub fn sensitive_path(&self, n: Node<'t>, sc: &Scope<'t>) -> bool {
        self.fold(n, sc).iter().any(|v| {
            v.text().is_some_and(|p| {
                let p = fold_home(&p);
                is_cred_path(&p) || is_env_file(&p)
            })
        })
    }

    fn call_taint(&self, n: Node<'t>, sc: &Scope<'t>, d: u8) -> u8 {
        let Some(func) = n.field("function") else {
            return 0;
        };
        let (pos, kw) = call_args(n, self.src);
        let q = self.qual(func, sc).unwrap_or_default();
        let args = pos
            .iter()
            .chain(kw.iter().map(|(_, v)| v))
            .fold(0, |t, a| t | self.taint_in(*a, sc, d));
        match q.as_str() {
            "os.getenv" | "os.environ.get" | "os.getenvb" => {
                return self.env_name_taint(pos.first().copied(), sc);
            }
            "keyring.get_password" | "keyring.get_credential" => return T_CRED | args,
            "dotenv.dotenv_values" | "dotenv.main.dotenv_values" => return T_SECRET | args,
            _ => {}
        }
        if OPENERS.contains(&q.as_str())
            && let Some(p) = pos.first()
            && self.sensitive_path(*p, sc)
        {
            return T_SECRET | args;
        }
        let mut t = args;
        let map_chr = q == "builtins.map"
            && pos
                .first()
                .is_some_and(|f| self.qual(*f, sc).as_deref() == Some("builtins.chr"));
        if super::decode::is_decoder(&q) || map_chr {
            t |= T_DEC;
        }
        if super::net::net_call(&q).is_some() {
            t |= T_NET;
        }
        if func.ty() == "attribute"
            && let Some(obj) = func.field("object")
        {
            let m = func
                .field("attribute")
                .map(|a| syntax::text(a, self.src))
                .unwrap_or("");
            if matches!(m, "read_text" | "read_bytes" | "open" | "read")
                && self.sensitive_path(obj, sc)
            {
                t |= T_SECRET;
            }
            t |= self.taint_in(obj, sc, d);
        }
        if func.ty() == "identifier"
            && let Some(f) = self.funcs.get(&self.ident(func))
        {
            t |= self.ret_cache.borrow().get(&f.id()).copied().unwrap_or(0);
        }
        t
    }

    /// Computes the return taint of every same-file function (§8.2: "one level out of a same-file
    /// function whose return value is tainted").
    pub fn compute_returns(&mut self) {
        let funcs: Vec<Node<'t>> = self.funcs.values().copied().collect();
        for f in funcs {
            if !self.tick() {
                return;
            }
            let mut fs = self.function_scope(f, Mode::Silent);
            if let Some(b) = f.field("body") {
                self.walk_block(b, &mut fs);
            }
            self.ret_cache.borrow_mut().insert(f.id(), fs.ret);
        }
    }

    /// §8.2: one level into a same-file function called with a tainted argument (CODE-002 only).
    pub fn follow_into(&mut self, call: Node<'t>, sc: &Scope<'t>) {
        if sc.inline_depth > 0 || sc.mode != Mode::Normal {
            return;
        }
        let Some(func) = call.field("function") else {
            return;
        };
        if func.ty() != "identifier" {
            return;
        }
        let Some(def) = self.funcs.get(&self.ident(func)).copied() else {
            return;
        };
        let (pos, kw) = call_args(call, self.src);
        let taints: Vec<u8> = pos.iter().map(|a| self.taint_of(*a, sc)).collect();
        let kwt: Vec<(String, u8)> = kw
            .iter()
            .map(|(k, v)| (k.clone(), self.taint_of(*v, sc)))
            .collect();
        let sensitive = T_SECRET | T_CRED;
        if !taints
            .iter()
            .chain(kwt.iter().map(|(_, t)| t))
            .any(|t| t & sensitive != 0)
        {
            return;
        }
        let mut fs = self.function_scope(def, Mode::ChainOnly);
        fs.inline_depth = 1;
        if let Some(ps) = def.field("parameters") {
            let names: Vec<String> = kids(ps)
                .into_iter()
                .filter_map(|p| match p.ty() {
                    "identifier" => Some(self.ident(p)),
                    _ => p
                        .field("name")
                        .or_else(|| kids(p).into_iter().find(|c| c.ty() == "identifier"))
                        .map(|n| self.ident(n)),
                })
                .filter(|n| n != "self" && n != "cls")
                .collect();
            for (i, t) in taints.iter().enumerate() {
                if let Some(n) = names.get(i)
                    && *t != 0
                {
                    fs.taint.insert(n.clone(), *t);
                }
            }
            for (k, t) in kwt {
                if t != 0 && names.contains(&k) {
                    fs.taint.insert(k, t);
                }
            }
        }
        if let Some(b) = def.field("body") {
            self.walk_block(b, &mut fs);
        }
    }

    /// True when the node sits in an `env=` keyword argument (CODE-003 exception).
    fn in_env_kwarg(&self, n: Node<'t>) -> bool {
        let mut cur = n;
        for _ in 0..4 {
            let Some(p) = cur.parent() else { return false };
            if p.ty() == "keyword_argument" {
                return p
                    .field("name")
                    .is_some_and(|k| syntax::text(k, self.src) == "env");
            }
            if !matches!(
                p.ty(),
                "dictionary" | "dictionary_splat" | "call" | "argument_list"
            ) {
                return false;
            }
            cur = p;
        }
        false
    }

    /// An expression that copies the whole environment: `os.environ.copy()`, `dict(os.environ)`,
    /// `{**os.environ, …}`.
    fn is_env_copy(&self, n: Node<'t>, sc: &Scope<'t>) -> bool {
        match n.ty() {
            "call" => {
                let Some(func) = n.field("function") else {
                    return false;
                };
                let q = self.qual(func, sc).unwrap_or_default();
                let (pos, _) = call_args(n, self.src);
                q == "os.environ.copy"
                    || (q == "builtins.dict"
                        && pos.first().is_some_and(|a| self.is_environ(*a, sc)))
            }
            "dictionary" => kids(n).into_iter().any(|c| {
                c.ty() == "dictionary_splat"
                    && c.named_child(0).is_some_and(|e| self.is_environ(e, sc))
            }),
            _ => false,
        }
    }

    /// CODE-003 exception: `env = os.environ.copy(); env["X"] = …; subprocess.run(cmd, env=env)`.
    pub fn env_copy_only_for_processes(&self, rhs: Node<'t>, name: &str, sc: &Scope<'t>) -> bool {
        if !self.is_env_copy(rhs, sc) {
            return false;
        }
        let Some(root) = sc.root else { return false };
        let mut used_as_env = false;
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            if !self.tick() {
                return false;
            }
            if n.ty() == "identifier" && self.ident(n) == name {
                let Some(p) = n.parent() else { return false };
                let ok = match p.ty() {
                    "assignment" => p.field("left").is_some_and(|l| l.id() == n.id()),
                    "keyword_argument" => {
                        let env = p
                            .field("name")
                            .is_some_and(|k| syntax::text(k, self.src) == "env");
                        used_as_env |= env;
                        env
                    }
                    "subscript" => p.parent().is_some_and(|a| {
                        a.ty() == "assignment" && a.field("left").is_some_and(|l| l.id() == p.id())
                    }),
                    "attribute" => p.field("attribute").is_some_and(|a| {
                        matches!(
                            syntax::text(a, self.src),
                            "update" | "setdefault" | "pop" | "get"
                        )
                    }),
                    _ => false,
                };
                if !ok {
                    return false;
                }
            }
            stack.extend(kids(n));
        }
        used_as_env
    }

    fn harvest(&mut self, n: Node<'t>, sc: &Scope<'t>, what: &str) {
        if sc.exempt.contains(&n.id()) || self.in_env_kwarg(n) {
            return;
        }
        self.emit(
            sc,
            n,
            "CODE-003",
            "env_harvest",
            Severity::High,
            format!("Reads the whole environment ({what})."),
            None,
            0.9,
        );
    }

    /// CODE-003 at a call: `os.environ.copy/items/keys/values()` or `os.environ` passed as an argument.
    pub fn harvest_call(&mut self, call: Node<'t>, q: &str, sc: &Scope<'t>) {
        if matches!(
            q,
            "os.environ.copy" | "os.environ.items" | "os.environ.keys" | "os.environ.values"
        ) {
            let what = format!("{q}()");
            // `{**os.environ.copy()}` or `dict(os.environ.copy())` inside an exempt expression.
            let exempt_parent = call
                .parent()
                .and_then(|p| p.parent())
                .is_some_and(|gp| sc.exempt.contains(&gp.id()));
            if !exempt_parent {
                self.harvest(call, sc, &what);
            }
            return;
        }
        let (pos, kw) = call_args(call, self.src);
        let passed = pos.iter().any(|a| self.is_environ(*a, sc))
            || kw
                .iter()
                .any(|(k, v)| k != "env" && self.is_environ(*v, sc));
        if passed {
            self.harvest(call, sc, "os.environ passed as an argument");
        }
    }

    pub fn harvest_splat(&mut self, splat: Node<'t>, sc: &Scope<'t>) {
        if let Some(e) = splat.named_child(0)
            && self.is_environ(e, sc)
        {
            let dict = splat.parent().unwrap_or(splat);
            if !sc.exempt.contains(&dict.id()) {
                self.harvest(dict, sc, "{**os.environ}");
            }
        }
    }

    pub fn harvest_iter(&mut self, it: Node<'t>, sc: &Scope<'t>) {
        if self.is_environ(it, sc) {
            self.harvest(it, sc, "iterating os.environ");
        }
    }

    /// PY-006 for `os.environ[…]` reads.
    pub fn env_subscript(&mut self, n: Node<'t>, sc: &Scope<'t>) {
        let Some(v) = n.field("value") else {
            return;
        };
        if !self.is_environ(v, sc) {
            return;
        }
        let name = n.field("subscript").and_then(|k| self.fold_str(k, sc));
        self.env_access(n, name, sc);
    }

    /// PY-006: low for a CREDNAME or non-constant name, otherwise a note (§8.3).
    pub fn env_access(&mut self, n: Node<'t>, name: Option<String>, sc: &Scope<'t>) {
        if sc.mode == Mode::Normal && name.as_deref().is_some_and(is_credname) {
            self.facts.reads_secret = true;
        }
        let (sev, what) = match &name {
            Some(k) if is_credname(k) => {
                (Severity::Low, format!("the credential-like variable {k}"))
            }
            Some(k) => (Severity::Info, format!("the variable {k}")),
            None => (Severity::Low, "a variable chosen at run time".to_string()),
        };
        self.emit(
            sc,
            n,
            "PY-006",
            "env_access",
            sev,
            format!("Reads {what} from the environment."),
            None,
            0.9,
        );
    }

    /// Taint mask for "sensitive" sources (CODE-002).
    pub fn sensitive(t: u8) -> bool {
        t & (T_SECRET | T_CRED) != 0
    }

    /// True when data came from the network or a decoder (CODE-005/CODE-007 "high" clauses).
    pub fn net_or_decoded(t: u8) -> bool {
        t & (T_NET | T_DEC) != 0
    }
}
