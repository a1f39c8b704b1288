//! CODE-008 (hidden recipient, SPEC §8.3) in JS/TS: a constant e-mail address, phone number, chat id or
//! webhook URL under a recipient key of an object literal, a header assignment (`msg.bcc = …`,
//! `msg["Bcc"] = …`) or a list append, reaching a send sink. High when the same send also carries a
//! recipient from arguments or input (the constant one rides along unseen); low when every recipient is
//! constant; medium when the domain is declared; a note for placeholders.

use super::fold::{Val, args};
use super::scope::{Bind, Lookup, strip};
use super::{AST, Js, line_of};
use crate::permissions::host_covered;
use crate::scan::StageError;
use crate::scan::report::Severity;
use crate::scan::syntax::NodeExt;
use std::collections::HashMap;
use tree_sitter::Node;

const RECIPIENT_KEYS: [&str; 9] = [
    "to",
    "cc",
    "bcc",
    "recipients",
    "forwardto",
    "replyto",
    "chatid",
    "webhook",
    "webhookurl",
];

fn is_recipient_key(k: &str) -> bool {
    let n: String = k
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .collect::<String>()
        .to_ascii_lowercase();
    RECIPIENT_KEYS.contains(&n.as_str())
}

/// A constant that names a destination: e-mail, phone number, chat id or URL.
fn looks_recipient(s: &str) -> bool {
    let s = s.trim();
    let email = s.split(['<', '>', ' ']).any(|w| {
        w.split_once('@').is_some_and(|(u, d)| {
            !u.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        })
    });
    let digits = s.chars().filter(char::is_ascii_digit).count();
    let phone = digits >= 7 && s.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c));
    email || phone || s.starts_with("https://") || s.starts_with("http://")
}

/// CODE-008 placeholders (chosen, §8.3).
fn is_placeholder(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    let domain = l
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').to_string())
        .or_else(|| {
            url::Url::parse(&l)
                .ok()
                .and_then(|u| u.host_str().map(String::from))
        })
        .unwrap_or_default();
    let ex = ["example.com", "example.org", "example.net"]
        .iter()
        .any(|e| domain == *e || domain.ends_with(&format!(".{e}")));
    (l.contains('<') && l.contains('>') && !l.contains('@'))
        || (l.contains('{') && l.contains('}'))
        || l.contains("your_")
        || l.contains("your-")
        || ex
        || domain.ends_with(".invalid")
        || domain == "localhost"
}

fn domain_of(s: &str) -> Option<String> {
    if let Some((_, d)) = s.rsplit_once('@') {
        return Some(d.trim_end_matches('>').trim().to_ascii_lowercase());
    }
    url::Url::parse(s.trim())
        .ok()
        .and_then(|u| u.host_str().map(String::from))
}

#[derive(Default)]
struct Recipients {
    /// (value, line) of each constant recipient.
    constant: Vec<(String, u32)>,
    dynamic: bool,
}

impl<'t> Js<'_, 't> {
    pub(super) fn mail_pass(&mut self) -> Result<(), StageError> {
        // Header assignments and list appends, by the name they modify.
        let mut extra: HashMap<String, Vec<Node<'t>>> = HashMap::new();
        let mut sends: Vec<Node<'t>> = Vec::new();
        let mut cur = self.root.walk();
        let mut up = false;
        loop {
            if !up {
                self.tick()?;
                let n = cur.node();
                self.mail_scan(n, &mut extra, &mut sends);
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
        for s in sends {
            self.tick()?;
            let mut r = Recipients::default();
            for a in args(s) {
                self.collect(a, false, &extra, &mut r, 0, &mut 2_000);
            }
            self.judge(&r);
        }
        Ok(())
    }

    fn mail_scan(
        &self,
        n: Node<'t>,
        extra: &mut HashMap<String, Vec<Node<'t>>>,
        sends: &mut Vec<Node<'t>>,
    ) {
        match n.ty() {
            "assignment_expression" => {
                let Some(l) = n.field("left").map(strip) else {
                    return;
                };
                let key = match l.ty() {
                    "member_expression" => l.field("property").map(|p| self.cx.text(p).to_string()),
                    "subscript_expression" => l.field("index").and_then(|i| self.cx.fold_str(i)),
                    _ => None,
                };
                if let Some(k) = key
                    && is_recipient_key(&k)
                    && let Some(obj) = l.field("object").map(strip)
                    && obj.ty() == "identifier"
                    && let Some(v) = n.field("right")
                {
                    extra
                        .entry(self.cx.text(obj).to_string())
                        .or_default()
                        .push(v);
                }
            }
            "call_expression" => {
                let Some(f) = n.field("function").map(strip) else {
                    return;
                };
                let q = self.cx.qual(f).unwrap_or_default();
                let method = (f.ty() == "member_expression")
                    .then(|| f.field("property").map(|p| self.cx.text(p)))
                    .flatten();
                if matches!(method, Some("push" | "unshift"))
                    && let Some(obj) = f.field("object").map(strip)
                    && obj.ty() == "identifier"
                {
                    // `recipients.push("x@y")` counts when that list is under a recipient key.
                    let e = extra.entry(format!("[]{}", self.cx.text(obj))).or_default();
                    e.extend(args(n));
                }
                let mail = matches!(
                    method,
                    Some(
                        "sendMail" | "sendEmail" | "send" | "sendMessage" | "sendEmailWithTemplate"
                    )
                );
                if mail || self.net_hosts(n, &q).is_some() {
                    sends.push(n);
                }
            }
            _ => {}
        }
    }

    fn collect(
        &self,
        x: Node<'t>,
        under_key: bool,
        extra: &HashMap<String, Vec<Node<'t>>>,
        r: &mut Recipients,
        d: u32,
        budget: &mut u32,
    ) {
        if d > 12 || *budget == 0 {
            return;
        }
        *budget -= 1;
        let x = strip(x);
        if under_key {
            if let Some(v) = self.cx.fold(x) {
                let line = line_of(x);
                let mut push = |s: String| {
                    if looks_recipient(&s) {
                        r.constant.push((s, line));
                    }
                };
                match v {
                    Val::Arr(xs) => xs.iter().flat_map(|v| v.strings()).for_each(&mut push),
                    other => other.strings().into_iter().for_each(&mut push),
                }
            } else if x.ty() == "array" {
                let mut cur = x.walk();
                let kids: Vec<Node> = x.named_children(&mut cur).collect();
                for k in kids {
                    self.collect(k, true, extra, r, d + 1, budget);
                }
            } else if x.ty() == "identifier" {
                let name = self.cx.text(x);
                match self.cx.sym.lookup(name) {
                    Lookup::Bound(Bind::Value(v)) if strip(*v).ty() == "array" => {
                        self.collect(*v, true, extra, r, d + 1, budget)
                    }
                    _ => r.dynamic = true,
                }
                if let Some(pushed) = extra.get(&format!("[]{name}")) {
                    for p in pushed {
                        self.collect(*p, true, extra, r, d + 1, budget);
                    }
                }
            } else {
                r.dynamic = true;
            }
            return;
        }
        match x.ty() {
            "object" => {
                let mut cur = x.walk();
                let kids: Vec<Node> = x.named_children(&mut cur).collect();
                for c in kids {
                    match c.ty() {
                        "pair" => {
                            let k = c
                                .field("key")
                                .and_then(|k| self.cx.key_name(k))
                                .unwrap_or_default();
                            if let Some(v) = c.field("value") {
                                self.collect(v, is_recipient_key(&k), extra, r, d + 1, budget);
                            }
                        }
                        "shorthand_property_identifier" if is_recipient_key(self.cx.text(c)) => {
                            r.dynamic = true
                        }
                        "spread_element" => {
                            if let Some(e) = c.named_child(0) {
                                self.collect(e, false, extra, r, d + 1, budget);
                            }
                        }
                        _ => {}
                    }
                }
            }
            "identifier" => {
                if let Some(o) = self.cx.object_literal(x) {
                    self.collect(o, false, extra, r, d + 1, budget);
                }
                if let Some(vs) = extra.get(self.cx.text(x)) {
                    for v in vs {
                        self.collect(*v, true, extra, r, d + 1, budget);
                    }
                }
            }
            "call_expression" | "new_expression" | "array" | "arguments" => {
                let kids: Vec<Node> = if x.ty() == "array" {
                    let mut cur = x.walk();
                    x.named_children(&mut cur).collect()
                } else {
                    args(x)
                };
                for k in kids {
                    self.collect(k, false, extra, r, d + 1, budget);
                }
            }
            _ => {}
        }
    }

    fn judge(&mut self, r: &Recipients) {
        for (value, line) in &r.constant {
            let declared =
                domain_of(value).is_some_and(|dm| host_covered(&self.f.declared.outbound, &dm));
            let (sev, why) = if is_placeholder(value) {
                (Severity::Info, "a placeholder recipient")
            } else if r.dynamic {
                if declared {
                    (
                        Severity::Medium,
                        "a constant recipient (declared domain) beside the caller's",
                    )
                } else {
                    (
                        Severity::High,
                        "a hidden constant recipient beside the caller's",
                    )
                }
            } else {
                (Severity::Low, "a fixed constant recipient")
            };
            let ev = self.line_text(*line);
            self.emit(
                "CODE-008",
                "hidden_recipient",
                sev,
                *line,
                format!("The send includes {why}: `{value}`."),
                ev,
                AST,
            );
        }
    }
}
