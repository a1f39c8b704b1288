//! Qualified names and constant folding for JS/TS (SPEC §8.2 "Constant folding"): string literals, `+`,
//! template literals, names bound once, object/array literals subscripted by constants, `path.join`,
//! `os.homedir()` / `process.env.HOME` → `~`, `String.fromCharCode`, `atob`, `Buffer.from(…, 'base64'|'hex')`,
//! `decodeURIComponent`/`unescape`, `.split('').reverse().join('')`, and loop variables over constant
//! arrays (each element in turn).

use super::decode::{decode_b64, dirname, from_char_codes, join, parse_num, percent_decode};
use super::scope::{Bind, Lookup, MAX_DEPTH, Symbols, string_text, strip};
use crate::scan::syntax;
use crate::scan::syntax::NodeExt;
use base64::Engine;
use tree_sitter::Node;

/// The package directory (`__dirname`, `import.meta.dirname`) inside folded paths (CODE-007).
pub const PKG: &str = "\u{1}pkg";
/// Stands for a non-constant part in a partly folded string (`fold_partial`).
pub const DYN: char = '\u{2}';
/// At most this many alternatives of a loop-variable fold (§8.2 "each element in turn").
const MAX_ALT: usize = 32;
/// Folded strings longer than this are not built further (bounded work).
const MAX_STR: usize = 256 * 1024;

#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Str(String),
    Num(f64),
    Bool(bool),
    Arr(Vec<Val>),
    Obj(Vec<(String, Val)>),
    /// One of these (a loop variable over a constant array).
    Alt(Vec<Val>),
}

impl Val {
    /// Every string this value may be (a loop variable gives several).
    pub fn strings(&self) -> Vec<String> {
        match self {
            Val::Str(s) => vec![s.clone()],
            Val::Num(n) => vec![num_str(*n)],
            Val::Alt(v) => v.iter().flat_map(|x| x.strings()).collect(),
            _ => Vec::new(),
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }
    fn truthy(&self) -> bool {
        match self {
            Val::Str(s) => !s.is_empty(),
            Val::Num(n) => *n != 0.0,
            Val::Bool(b) => *b,
            _ => true,
        }
    }
    pub fn is_truthy(&self) -> bool {
        self.truthy()
    }
}

/// A folded value as JSON (`JSON.stringify` of a constant; CODE-005 reads written agent configs).
pub fn to_json(v: &Val) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Val::Str(s) => J::String(s.clone()),
        Val::Num(n) => serde_json::Number::from_f64(*n).map_or(J::Null, J::Number),
        Val::Bool(b) => J::Bool(*b),
        Val::Arr(xs) | Val::Alt(xs) => J::Array(xs.iter().map(to_json).collect()),
        Val::Obj(ps) => J::Object(ps.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

/// Approximate bytes held by a value (bounds folding memory).
fn size(v: &Val) -> usize {
    match v {
        Val::Str(s) => s.len(),
        Val::Arr(xs) | Val::Alt(xs) => xs.iter().map(size).sum::<usize>() + xs.len(),
        Val::Obj(ps) => ps.iter().map(|(k, v)| k.len() + size(v)).sum(),
        _ => 8,
    }
}

fn num_str(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Applies `f` across the alternatives of `a` and `b` (cartesian, capped).
fn combine(a: Val, b: Val, f: &dyn Fn(Val, Val) -> Option<Val>) -> Option<Val> {
    match (a, b) {
        (Val::Alt(xs), b) => {
            let out: Vec<Val> = xs
                .into_iter()
                .take(MAX_ALT)
                .filter_map(|x| combine(x, b.clone(), f))
                .collect();
            (!out.is_empty()).then_some(Val::Alt(out))
        }
        (a, Val::Alt(ys)) => {
            let out: Vec<Val> = ys
                .into_iter()
                .take(MAX_ALT)
                .filter_map(|y| combine(a.clone(), y, f))
                .collect();
            (!out.is_empty()).then_some(Val::Alt(out))
        }
        (a, b) => f(a, b),
    }
}

fn concat(a: Val, b: Val) -> Option<Val> {
    combine(a, b, &|a, b| match (&a, &b) {
        (Val::Num(x), Val::Num(y)) => Some(Val::Num(x + y)),
        _ => {
            let (x, y) = (to_str(&a)?, to_str(&b)?);
            (x.len() + y.len() <= MAX_STR).then(|| Val::Str(x + &y))
        }
    })
}

fn to_str(v: &Val) -> Option<String> {
    match v {
        Val::Str(s) => Some(s.clone()),
        Val::Num(n) => Some(num_str(*n)),
        Val::Bool(b) => Some(b.to_string()),
        Val::Arr(xs) => xs
            .iter()
            .map(to_str)
            .collect::<Option<Vec<_>>>()
            .map(|v| v.join(",")),
        _ => None,
    }
}

/// Steps one top-level `qual` / `fold` may take: names bound to expressions that reuse other names
/// (`const b = a + a; const c = b + b; …`) would otherwise take exponential time.
pub const FOLD_STEPS: u32 = 20_000;

/// Name resolution and folding over one file.
pub struct Ctx<'t> {
    pub src: &'t str,
    pub sym: Symbols<'t>,
    pub steps: std::cell::Cell<u32>,
    /// Top-level `qual` / `fold` results by node id, with the step count each left behind. The taint
    /// walks and the rules ask the same nodes many times (issue #4); a top-level call starts from zero
    /// steps, so its result depends on the node alone, and a hit restores the count it would have left.
    pub memo: Memo<'t>,
}

/// See `Ctx::memo`.
#[derive(Default)]
pub struct Memo<'t> {
    pub(super) qual: std::cell::RefCell<std::collections::HashMap<usize, (Option<String>, u32)>>,
    pub(super) fold: std::cell::RefCell<std::collections::HashMap<usize, (Option<Val>, u32)>>,
    _t: std::marker::PhantomData<Node<'t>>,
}

impl<'t> Ctx<'t> {
    pub fn text(&self, n: Node) -> &'t str {
        syntax::text(n, self.src)
    }

    /// The constant value of an expression, if it folds (§8.2).
    pub fn fold(&self, n: Node<'t>) -> Option<Val> {
        if let Some((v, steps)) = self.memo.fold.borrow().get(&n.id()) {
            self.steps.set(*steps);
            return v.clone();
        }
        let v = self.fold_d(n, 0);
        self.memo
            .fold
            .borrow_mut()
            .insert(n.id(), (v.clone(), self.steps.get()));
        v
    }

    /// The single string an expression folds to (not a loop alternative).
    pub fn fold_str(&self, n: Node<'t>) -> Option<String> {
        match self.fold(n)? {
            Val::Str(s) => Some(s),
            Val::Num(x) => Some(num_str(x)),
            _ => None,
        }
    }

    /// Every string an expression may fold to (loop variables give several).
    pub fn fold_strings(&self, n: Node<'t>) -> Vec<String> {
        self.fold(n).map(|v| v.strings()).unwrap_or_default()
    }

    pub(super) fn fold_d(&self, n: Node<'t>, d: u32) -> Option<Val> {
        if d > MAX_DEPTH || !self.step(d) {
            return None;
        }
        let n = strip(n);
        match n.ty() {
            "string" => string_text(n, self.src).map(Val::Str),
            "number" => parse_num(self.text(n)).map(Val::Num),
            "true" => Some(Val::Bool(true)),
            "false" => Some(Val::Bool(false)),
            "template_string" => {
                let mut acc = Val::Str(String::new());
                let mut cur = n.walk();
                for c in n.named_children(&mut cur) {
                    let part = match c.ty() {
                        "string_fragment" => Val::Str(self.text(c).to_string()),
                        "escape_sequence" => Val::Str(super::scope::unescape_js(self.text(c))),
                        "template_substitution" => self.fold_d(c.named_child(0)?, d + 1)?,
                        _ => return None,
                    };
                    acc = concat(acc, part)?;
                }
                Some(acc)
            }
            "binary_expression" => {
                let op = self.text(n.field("operator")?);
                let l = self.fold_d(n.field("left")?, d + 1)?;
                let r = self.fold_d(n.field("right")?, d + 1)?;
                match op {
                    "+" => concat(l, r),
                    "-" | "*" | "^" | "|" | "&" => match (l, r) {
                        (Val::Num(a), Val::Num(b)) => Some(Val::Num(match op {
                            "-" => a - b,
                            "*" => a * b,
                            "^" => ((a as i64) ^ (b as i64)) as f64,
                            "|" => ((a as i64) | (b as i64)) as f64,
                            _ => ((a as i64) & (b as i64)) as f64,
                        })),
                        _ => None,
                    },
                    "||" | "??" => Some(l),
                    _ => None,
                }
            }
            "identifier" => {
                let name = self.text(n);
                match self.sym.lookup(name) {
                    Lookup::Bound(Bind::Value(v)) => self.fold_d(*v, d + 1),
                    Lookup::Bound(Bind::Member(v, k)) => index(self.fold_d(*v, d + 1)?, k),
                    Lookup::Bound(Bind::Elems(v)) => match self.fold_d(*v, d + 1)? {
                        Val::Arr(xs) if !xs.is_empty() => {
                            Some(Val::Alt(xs.into_iter().take(MAX_ALT).collect()))
                        }
                        Val::Alt(xs) => Some(Val::Alt(xs)),
                        _ => None,
                    },
                    Lookup::Global => match name {
                        "__dirname" => Some(Val::Str(PKG.into())),
                        "__filename" => Some(Val::Str(format!("{PKG}/\u{1}self"))),
                        _ => None,
                    },
                    _ => None,
                }
            }
            "member_expression" | "subscript_expression" => {
                if let Some(q) = self.qual_d(n, d + 1) {
                    match q.as_str() {
                        "process.env.HOME" | "process.env.USERPROFILE" | "os.homedir" => {
                            return Some(Val::Str("~".into()));
                        }
                        "process.env.APPDATA" => return Some(Val::Str("~/AppData/Roaming".into())),
                        "process.env.LOCALAPPDATA" => {
                            return Some(Val::Str("~/AppData/Local".into()));
                        }
                        "import.meta.dirname" => return Some(Val::Str(PKG.into())),
                        "import.meta.url" | "import.meta.filename" => {
                            return Some(Val::Str(format!("{PKG}/\u{1}self")));
                        }
                        _ => {}
                    }
                }
                let obj = self.fold_d(n.field("object")?, d + 1)?;
                let key = if n.ty() == "member_expression" {
                    self.text(n.field("property")?).to_string()
                } else {
                    to_str(&self.fold_d(n.field("index")?, d + 1)?)?
                };
                if key == "length" {
                    return match obj {
                        Val::Str(s) => Some(Val::Num(s.chars().count() as f64)),
                        Val::Arr(a) => Some(Val::Num(a.len() as f64)),
                        _ => None,
                    };
                }
                index(obj, &key)
            }
            "array" => {
                let mut out = Vec::new();
                let mut bytes = 0usize;
                let mut cur = n.walk();
                for c in n.named_children(&mut cur) {
                    if c.ty() == "spread_element" {
                        match self.fold_d(c.named_child(0)?, d + 1)? {
                            Val::Arr(xs) => out.extend(xs),
                            Val::Str(s) => out.extend(s.chars().map(|c| Val::Str(c.into()))),
                            _ => return None,
                        }
                    } else if c.ty() != "comment" {
                        out.push(self.fold_d(c, d + 1)?);
                    }
                    bytes += out.last().map_or(0, size);
                    if out.len() > 4096 || bytes > MAX_STR * 4 {
                        return None;
                    }
                }
                Some(Val::Arr(out))
            }
            "object" => {
                let mut out = Vec::new();
                let mut bytes = 0usize;
                let mut cur = n.walk();
                for c in n.named_children(&mut cur) {
                    if c.ty() == "pair"
                        && let (Some(k), Some(v)) = (c.field("key"), c.field("value"))
                        && let Some(key) = self.key_name(k)
                        && let Some(val) = self.fold_d(v, d + 1)
                    {
                        bytes += key.len() + size(&val);
                        out.push((key, val));
                        if bytes > MAX_STR * 4 {
                            return None;
                        }
                    }
                }
                Some(Val::Obj(out))
            }
            "call_expression" => self.fold_call(n, d),
            "new_expression" => {
                // `new URL(rel, base)`: the joined path (CODE-007 paths from `import.meta.url`).
                let q = self.qual_d(n.field("constructor")?, d + 1)?;
                let args = n.field("arguments")?;
                if q == "URL" || q == "url.URL" {
                    let rel = to_str(&self.fold_d(args.named_child(0)?, d + 1)?)?;
                    if let Some(base) = args.named_child(1) {
                        let base = to_str(&self.fold_d(base, d + 1)?)?;
                        return Some(Val::Str(join(&[dirname(&base), rel])));
                    }
                    return Some(Val::Str(rel));
                }
                None
            }
            _ => None,
        }
    }

    /// A property key as text (`a`, `"a-b"`, `[K]` with constant K).
    pub fn key_name(&self, k: Node<'t>) -> Option<String> {
        match k.ty() {
            "property_identifier" | "shorthand_property_identifier" | "number" => {
                Some(self.text(k).to_string())
            }
            "string" => string_text(k, self.src),
            "computed_property_name" => self.fold_str(k.named_child(0)?),
            _ => None,
        }
    }

    fn fold_call(&self, n: Node<'t>, d: u32) -> Option<Val> {
        let f = strip(n.field("function")?);
        let args = n.field("arguments")?;
        let argv = |i: usize| -> Option<Val> { self.fold_d(args.named_child(i as u32)?, d + 1) };
        let all_args = || -> Option<Vec<Val>> {
            let mut out = Vec::new();
            let mut cur = args.walk();
            for c in args.named_children(&mut cur) {
                if c.ty() == "spread_element" {
                    match self.fold_d(c.named_child(0)?, d + 1)? {
                        Val::Arr(xs) => out.extend(xs),
                        _ => return None,
                    }
                } else if c.ty() != "comment" {
                    out.push(self.fold_d(c, d + 1)?);
                }
            }
            Some(out)
        };
        let q = self.qual_d(f, d + 1);
        match q.as_deref() {
            Some("path.join" | "path.resolve" | "path.posix.join" | "path.normalize") => {
                let parts = all_args()?;
                let mut acc = Val::Str(String::new());
                for (i, p) in parts.into_iter().enumerate() {
                    acc = if i == 0 {
                        p
                    } else {
                        combine(acc, p, &|a, b| {
                            Some(Val::Str(join(&[to_str(&a)?, to_str(&b)?])))
                        })?
                    };
                }
                return Some(acc);
            }
            Some("os.homedir") => return Some(Val::Str("~".into())),
            Some("path.dirname") => return Some(Val::Str(dirname(&to_str(&argv(0)?)?))),
            Some("path.basename") => {
                let s = to_str(&argv(0)?)?;
                return Some(Val::Str(s.rsplit('/').next().unwrap_or(&s).to_string()));
            }
            Some("url.fileURLToPath" | "String" | "url.pathToFileURL") => return argv(0),
            Some("JSON.stringify") => return Some(Val::Str(to_json(&argv(0)?).to_string())),
            Some("String.fromCharCode" | "String.fromCodePoint") => {
                return from_char_codes(&all_args()?);
            }
            Some("String.fromCharCode.apply" | "String.fromCodePoint.apply") => {
                return match argv(1)? {
                    Val::Arr(xs) => from_char_codes(&xs),
                    _ => None,
                };
            }
            Some("atob" | "Buffer.atob") => {
                return decode_b64(&to_str(&argv(0)?)?).map(Val::Str);
            }
            Some("decodeURIComponent" | "decodeURI" | "unescape" | "querystring.unescape") => {
                return Some(Val::Str(percent_decode(&to_str(&argv(0)?)?)));
            }
            Some("Buffer.from") => {
                let data = argv(0)?;
                let enc = args
                    .named_child(1)
                    .and_then(|e| self.fold_d(e, d + 1))
                    .and_then(|v| to_str(&v))
                    .unwrap_or_else(|| "utf8".into())
                    .to_ascii_lowercase();
                return match data {
                    Val::Str(s) => match enc.as_str() {
                        "base64" | "base64url" => decode_b64(&s).map(Val::Str),
                        "hex" => hex::decode(s.trim())
                            .ok()
                            .map(|b| Val::Str(String::from_utf8_lossy(&b).into_owned())),
                        _ => Some(Val::Str(s)),
                    },
                    Val::Arr(xs) => {
                        let bytes: Option<Vec<u8>> = xs
                            .iter()
                            .map(|x| match x {
                                Val::Num(n) => Some(*n as u8),
                                _ => None,
                            })
                            .collect();
                        Some(Val::Str(String::from_utf8_lossy(&bytes?).into_owned()))
                    }
                    _ => None,
                };
            }
            _ => {}
        }
        // Methods on a constant receiver.
        if f.ty() != "member_expression" {
            return None;
        }
        let method = self.text(f.field("property")?);
        let recv = self.fold_d(f.field("object")?, d + 1)?;
        let sarg = |i: usize| argv(i).and_then(|v| to_str(&v));
        match (recv, method) {
            (Val::Str(s), "split") => {
                let sep = sarg(0)?;
                let parts: Vec<Val> = if sep.is_empty() {
                    s.chars().map(|c| Val::Str(c.into())).collect()
                } else {
                    s.split(sep.as_str()).map(|p| Val::Str(p.into())).collect()
                };
                Some(Val::Arr(parts))
            }
            (Val::Str(s), "toString") => match sarg(0).as_deref() {
                Some("base64") => Some(Val::Str(
                    base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
                )),
                Some("hex") => Some(Val::Str(hex::encode(s.as_bytes()))),
                _ => Some(Val::Str(s)),
            },
            (Val::Str(s), "trim") => Some(Val::Str(s.trim().into())),
            (Val::Str(s), "toLowerCase") => Some(Val::Str(s.to_lowercase())),
            (Val::Str(s), "toUpperCase") => Some(Val::Str(s.to_uppercase())),
            (Val::Str(s), "concat") => {
                let mut out = s;
                for v in all_args()? {
                    out.push_str(&to_str(&v)?);
                }
                (out.len() <= MAX_STR).then_some(Val::Str(out))
            }
            (Val::Str(s), "replace") => Some(Val::Str(s.replacen(&sarg(0)?, &sarg(1)?, 1))),
            (Val::Str(s), "replaceAll") => {
                let (from, to) = (sarg(0)?, sarg(1)?);
                if from.is_empty() || s.matches(from.as_str()).count() * to.len() > MAX_STR {
                    return None;
                }
                Some(Val::Str(s.replace(&from, &to)))
            }
            (Val::Str(s), "slice" | "substring") => {
                let chars: Vec<char> = s.chars().collect();
                let len = chars.len() as i64;
                let idx = |v: Option<Val>, dflt: i64| match v {
                    Some(Val::Num(x)) => {
                        let x = x as i64;
                        if x < 0 { (len + x).max(0) } else { x.min(len) }
                    }
                    _ => dflt,
                };
                let a = idx(argv(0), 0);
                let b = idx(argv(1), len);
                let (a, b) = (a as usize, b.max(a) as usize);
                Some(Val::Str(chars.get(a..b)?.iter().collect()))
            }
            (Val::Arr(xs), "reverse") => Some(Val::Arr(xs.into_iter().rev().collect())),
            (Val::Arr(xs), "join") => {
                let sep = if args.named_child_count() == 0 {
                    ",".into()
                } else {
                    sarg(0)?
                };
                let parts: Vec<String> = xs.iter().map(to_str).collect::<Option<_>>()?;
                let total: usize = parts.iter().map(|p| p.len() + sep.len()).sum();
                (total <= MAX_STR).then(|| Val::Str(parts.join(&sep)))
            }
            (Val::Arr(mut xs), "concat") => {
                for v in all_args()? {
                    match v {
                        Val::Arr(ys) => xs.extend(ys),
                        other => xs.push(other),
                    }
                }
                Some(Val::Arr(xs))
            }
            _ => None,
        }
    }
}

/// The i-th argument of a call or new expression.
pub fn arg<'t>(call: Node<'t>, i: usize) -> Option<Node<'t>> {
    let args = call.field("arguments")?;
    if args.ty() != "arguments" {
        return None;
    }
    let mut cur = args.walk();
    args.named_children(&mut cur)
        .filter(|c| c.ty() != "comment")
        .nth(i)
}

/// All arguments of a call or new expression.
pub fn args<'t>(call: Node<'t>) -> Vec<Node<'t>> {
    let Some(a) = call.field("arguments") else {
        return Vec::new();
    };
    if a.ty() != "arguments" {
        return vec![a]; // A tagged template.
    }
    let mut cur = a.walk();
    a.named_children(&mut cur)
        .filter(|c| c.ty() != "comment")
        .collect()
}

fn index(v: Val, key: &str) -> Option<Val> {
    match v {
        Val::Obj(pairs) => pairs
            .into_iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v),
        Val::Arr(xs) => key
            .parse::<usize>()
            .ok()
            .and_then(|i| xs.into_iter().nth(i)),
        Val::Str(s) => key
            .parse::<usize>()
            .ok()
            .and_then(|i| s.chars().nth(i))
            .map(|c| Val::Str(c.into())),
        Val::Alt(xs) => {
            let out: Vec<Val> = xs.into_iter().filter_map(|x| index(x, key)).collect();
            (!out.is_empty()).then_some(Val::Alt(out))
        }
        _ => None,
    }
}
