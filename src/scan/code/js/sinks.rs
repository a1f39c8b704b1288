//! CODE-002 sinks and sources (SPEC §8.3): what sends data (CODE-001 calls, methods of network handles,
//! processes running a sender), which calls produce sensitive, network or decoded data, and the
//! exception for a credential sent only as a header or credential-named field to a declared host.

use super::argv;
use super::fold::{arg, args};
use super::scope::{Bind, Lookup, strip};
use super::taint::{
    CRED_FILE, DECODED, ENV_ALL, ENV_CRED, ENV_FILE, NET, SENSITIVE, Summary, Walk,
};
use super::{FLOW, Js, line_of};
use crate::permissions::host_covered;
use crate::scan::report::Severity;
use crate::scan::syntax::NodeExt;
use crate::scan::vocab;
use std::collections::HashMap;
use tree_sitter::Node;

impl<'t> Js<'_, 't> {
    pub(super) fn exfil(&mut self, n: Node<'t>, t: u8) {
        let what = if t & CRED_FILE != 0 {
            "credential file contents"
        } else if t & ENV_ALL != 0 {
            "the whole environment"
        } else if t & ENV_FILE != 0 {
            "`.env` file contents"
        } else {
            "a credential environment variable"
        };
        let line = line_of(n);
        let ev = self.line_text(line);
        self.emit(
            "CODE-002",
            "exfiltration",
            Severity::Critical,
            line,
            format!("Sensitive data ({what}) is sent over the network."),
            ev,
            FLOW,
        );
    }

    /// A send sink: a CODE-001 call, a method of a network handle (`req.write`, `socket.send`), or a
    /// process running a sender (`curl`, `wget`, `nc`, `scp`, `rsync`, `ftp`).
    pub(super) fn is_send(&self, n: Node<'t>, q: &str) -> bool {
        if let Some(v) = self.memo.send.borrow().get(&n.id()) {
            return *v;
        }
        let v = self.is_send_uncached(n, q);
        self.memo.send.borrow_mut().insert(n.id(), v);
        v
    }

    fn is_send_uncached(&self, n: Node<'t>, q: &str) -> bool {
        if self.net_hosts(n, q).is_some() {
            return true;
        }
        if let Some((base, m)) = q.rsplit_once('.')
            && matches!(m, "write" | "end" | "send")
            && let Some((bb, bm)) = base.rsplit_once('.').or(Some(("", base)))
            && self.net_hosts(n, base).is_some() | is_net_ctor(bb, bm, base)
        {
            return true;
        }
        self.cx
            .proc_call(n, q)
            .is_some_and(|p| p.simple.iter().any(|s| argv::is_sender(s)))
    }

    /// The §8.3 CODE-002 exception: only a CREDNAME env value, only in headers / auth / a
    /// credential-named field, to a constant declared host.
    pub(super) fn excepted(
        &self,
        n: Node<'t>,
        q: &str,
        w: &Walk,
        sums: &HashMap<usize, Summary>,
    ) -> bool {
        let a = args(n);
        let t: u8 = a.iter().fold(0, |acc, x| acc | self.expr(w, *x, sums, 0));
        if t & SENSITIVE & !ENV_CRED != 0 {
            return false;
        }
        let Some(hosts) = self.net_hosts(n, q) else {
            return false;
        };
        let declared = !hosts.is_empty()
            && hosts.iter().all(|h| {
                h.as_ref().is_some_and(|h| {
                    vocab::is_loopback_host(h) || host_covered(&self.f.declared.outbound, h)
                })
            });
        declared && a.iter().all(|x| self.allowed_position(w, *x, sums, 0))
    }

    /// Every tainted part of `x` sits under `headers`/`auth` or a credential-named field, or after a
    /// credential-named query parameter of a URL.
    fn allowed_position(
        &self,
        w: &Walk,
        x: Node<'t>,
        sums: &HashMap<usize, Summary>,
        d: u32,
    ) -> bool {
        if d > 8 || self.expr(w, x, sums, 0) & SENSITIVE == 0 {
            return true;
        }
        let x = strip(x);
        let ok_key = |k: &str| {
            let l = k.to_ascii_lowercase();
            matches!(l.as_str(), "headers" | "auth" | "key" | "appid") || vocab::is_credname(k)
        };
        match x.ty() {
            "object" => {
                let mut cur = x.walk();
                let kids: Vec<Node> = x.named_children(&mut cur).collect();
                kids.into_iter().all(|c| match c.ty() {
                    "pair" => {
                        let k = c
                            .field("key")
                            .and_then(|k| self.cx.key_name(k))
                            .unwrap_or_default();
                        let Some(v) = c.field("value") else {
                            return true;
                        };
                        ok_key(&k) || self.allowed_position(w, v, sums, d + 1)
                    }
                    "shorthand_property_identifier" => {
                        let k = self.cx.text(c);
                        ok_key(k) || w.vars.get(k).copied().unwrap_or(0) & SENSITIVE == 0
                    }
                    _ => self.expr(w, c, sums, 0) & SENSITIVE == 0,
                })
            }
            "template_string" => {
                let mut prefix = String::new();
                let mut cur = x.walk();
                let kids: Vec<Node> = x.named_children(&mut cur).collect();
                for c in kids {
                    if c.ty() == "template_substitution" {
                        let tainted = c
                            .named_child(0)
                            .is_some_and(|e| self.expr(w, e, sums, 0) & SENSITIVE != 0);
                        if tainted {
                            let name = prefix
                                .strip_suffix('=')
                                .and_then(|p| p.rsplit(['?', '&']).next())
                                .unwrap_or("");
                            if name.is_empty() || !ok_key(name) {
                                return false;
                            }
                        }
                        prefix.push('\u{2}');
                    } else {
                        prefix.push_str(self.cx.text(c));
                    }
                }
                true
            }
            "call_expression" | "new_expression" => {
                let q = x
                    .field("function")
                    .or_else(|| x.field("constructor"))
                    .and_then(|f| self.cx.qual(f))
                    .unwrap_or_default();
                matches!(
                    q.as_str(),
                    "URLSearchParams" | "JSON.stringify" | "url.URLSearchParams"
                ) && args(x)
                    .iter()
                    .all(|a| self.allowed_position(w, *a, sums, d + 1))
            }
            // A name bound once: judged by its value (`const url = `…&appid=${KEY}``).
            "identifier" => match self.cx.sym.lookup(self.cx.text(x)) {
                Lookup::Bound(Bind::Value(v)) => self.allowed_position(w, *v, sums, d + 1),
                _ => false,
            },
            _ => false,
        }
    }

    /// Sources of a call: file reads of CRED paths / ENV files, dotenv, Deno env, network responses,
    /// decoders.
    pub(super) fn source(&self, n: Node<'t>, q: &str) -> u8 {
        if let Some(v) = self.memo.source.borrow().get(&n.id()) {
            return *v;
        }
        let v = self.source_uncached(n, q);
        self.memo.source.borrow_mut().insert(n.id(), v);
        v
    }

    fn source_uncached(&self, n: Node<'t>, q: &str) -> u8 {
        let mut t = 0;
        let qn = q
            .strip_prefix("fs.promises.")
            .map_or_else(|| q.to_string(), |r| format!("fs.{r}"));
        if matches!(
            qn.as_str(),
            "fs.readFileSync"
                | "fs.readFile"
                | "fs.createReadStream"
                | "fs.readJson"
                | "fs.readJsonSync"
                | "Bun.file"
                | "Deno.readTextFile"
                | "Deno.readTextFileSync"
                | "Deno.readFile"
                | "Deno.readFileSync"
        ) && let Some(p) = arg(n, 0)
        {
            for s in self.path_candidates(p) {
                if vocab::is_cred_path(&s) {
                    t |= CRED_FILE;
                } else if vocab::is_env_file(&s) {
                    t |= ENV_FILE;
                }
            }
        }
        match q {
            "dotenv.config" | "dotenv.parse" => t |= ENV_FILE,
            "Deno.env.toObject" => t |= ENV_ALL,
            "Deno.env.get"
                if arg(n, 0)
                    .and_then(|a| self.cx.fold_str(a))
                    .is_some_and(|k| vocab::is_credname(&k)) =>
            {
                t |= ENV_CRED;
            }
            _ => {}
        }
        if self.net_hosts(n, q).is_some() {
            t |= NET;
        }
        if n.ty() == "call_expression" && self.is_decoder(n) {
            t |= DECODED;
        }
        t
    }
}

/// `new WebSocket(u).send`, `new net.Socket().write`, `new XMLHttpRequest().send`.
fn is_net_ctor(_bb: &str, _bm: &str, base: &str) -> bool {
    matches!(
        base,
        "WebSocket"
            | "ws"
            | "ws.WebSocket"
            | "net.Socket"
            | "XMLHttpRequest"
            | "tls.TLSSocket"
            | "dgram.createSocket"
    )
}
