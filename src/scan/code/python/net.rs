//! Network calls in Python (SPEC §8.3): CODE-001 with the constant hosts it records for MAN-001,
//! CODE-002 at send sinks (with the declared-credential exception) and CODE-008 hidden recipients.

use super::fold::Val;
use super::{Mode, Py, Scope, T_CRED, T_SECRET, kids};
use crate::permissions::host_covered;
use crate::scan::code::{NetUse, terms};
use crate::scan::report::Severity;
use crate::scan::syntax;
use crate::scan::syntax::NodeExt;
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

const VERBS: [&str; 8] = [
    "get", "post", "put", "patch", "delete", "head", "options", "stream",
];

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
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
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

impl<'t> Py<'t> {
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
            NetArg::Host | NetArg::Tuple => {
                pos.first().copied().or_else(|| kwv(&["host", "address"]))
            }
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

    pub fn network(
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
                if all_declared {
                    Severity::Info
                } else {
                    Severity::Low
                },
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
                    self.caps.net.push(NetUse {
                        host: None,
                        file,
                        line,
                    });
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
        let undeclared =
            hosts.iter().any(|h| !declared(h)) || (dynamic && self.f.declared.outbound.is_empty());
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
                    Some("url") | None => self.cred_query_only(v, sc),
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

    /// True when a URL f-string puts every tainted value into a query field named like a credential
    /// (`?q={city}&appid={key}`; §8.3 CODE-002 exception).
    fn cred_query_only(&self, n: Node<'t>, sc: &Scope<'t>) -> bool {
        if n.ty() != "string" {
            return false;
        }
        let mut before = String::new();
        for c in super::all_kids(n) {
            match c.ty() {
                "string_content" => before.push_str(syntax::text(c, self.src)),
                "interpolation" => {
                    if self.taint_of(c, sc) != 0 {
                        let Some(field) = before.strip_suffix('=') else {
                            return false;
                        };
                        let name = field.rsplit(['?', '&']).next().unwrap_or("");
                        if !(field.contains('?')
                            && (is_credname(name) || name == "key" || name == "appid"))
                        {
                            return false;
                        }
                    }
                    before.push_str("{}");
                }
                _ => {}
            }
        }
        true
    }

    /// True when every tainted value of a dict literal sits under a CREDNAME, `key` or `appid` key.
    fn cred_fields_only(&self, n: Node<'t>, sc: &Scope<'t>) -> bool {
        if n.ty() != "dictionary" {
            return false;
        }
        kids(n).into_iter().all(|p| {
            let (Some(k), Some(v)) = (p.field("key"), p.field("value")) else {
                return p.ty() == "comment";
            };
            if self.taint_of(v, sc) == 0 {
                return true;
            }
            self.fold_str(k, sc)
                .is_some_and(|k| is_credname(&k) || k == "key" || k == "appid")
        })
    }

    /// CODE-008: a constant recipient under a recipient key reaching a send.
    pub fn recipients(
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

    fn recipient_value(
        &self,
        v: Node<'t>,
        sc: &Scope<'t>,
        constant: &mut Vec<String>,
        dynamic: &mut bool,
    ) {
        let vals = self.fold(v, sc);
        if vals.is_empty() {
            // A list mixing constants and arguments: `[to, "audit@x.example"]`.
            if matches!(v.ty(), "list" | "tuple") {
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
        match n.ty() {
            "dictionary" => {
                for p in kids(n) {
                    let (Some(k), Some(v)) = (p.field("key"), p.field("value")) else {
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
                    && rhs.ty() == "dictionary"
                {
                    self.recipient_dict(rhs, sc, constant, dynamic, d + 1);
                }
            }
            _ => {}
        }
    }

    /// `msg["Bcc"] = "…"` header assignments (CODE-008).
    pub fn header_assign(&self, l: Node<'t>, r: Node<'t>, sc: &mut Scope<'t>) {
        if l.ty() != "subscript" {
            return;
        }
        let (Some(obj), Some(key)) = (l.field("value"), l.field("subscript")) else {
            return;
        };
        if obj.ty() != "identifier" {
            return;
        }
        let Some(k) = self.fold_str(key, sc) else {
            return;
        };
        let v = self.fold_str(r, sc);
        sc.headers
            .entry(self.ident(obj))
            .or_default()
            .push((k, v, syntax::line(l)));
    }
}
