//! Folding of calls (SPEC §8.2): path functions (`os.path.join`, `Path`, `expanduser`, `Path.home()`,
//! `os.environ["HOME"]`), `chr` and `map(chr, …)`, decoders, and methods on folded receivers
//! (`"".join`, `format`, `encode`/`decode`, `joinpath`, `with_name`).

use super::decode::{decode, format_braces};
use super::fold::{Binds, Val, dirname, is_decoder, join_path};
use super::{Py, Scope};
use crate::scan::syntax;
use crate::scan::syntax::NodeExt;
use tree_sitter::Node;

impl<'t> Py<'t> {
    fn args_of(&self, call: Node<'t>) -> (Vec<Node<'t>>, Vec<(String, Node<'t>)>) {
        super::call_args(call, self.src)
    }

    pub fn fold_call(&self, node: Node<'t>, sc: &Scope<'t>, binds: Binds, d: u8) -> Vec<Val> {
        let Some(func) = node.field("function") else {
            return Vec::new();
        };
        let (pos, kw) = self.args_of(node);
        let arg = |i: usize| -> Vec<Val> {
            pos.get(i)
                .map(|n| self.fold_in(*n, sc, binds, d))
                .unwrap_or_default()
        };
        let q = self.qual(func, sc).unwrap_or_default();
        match q.as_str() {
            "builtins.str" | "pathlib.Path" | "pathlib.PurePath" | "pathlib.PosixPath"
            | "os.fspath" | "os.path.expanduser" | "os.path.abspath" | "os.path.normpath"
            | "os.path.realpath" | "os.path.expandvars" | "builtins.bytes"
            | "builtins.bytearray" | "builtins.list" | "builtins.tuple" => {
                if pos.len() > 1 && q.starts_with("pathlib.") {
                    return self.fold_join(&pos, sc, binds, d, None);
                }
                if pos.is_empty() && q.starts_with("pathlib.") {
                    return vec![Val::Str(".".into())];
                }
                let v = arg(0);
                if q == "builtins.bytes" {
                    return v
                        .into_iter()
                        .filter_map(|x| match x {
                            Val::List(items) => items
                                .iter()
                                .map(|i| match i {
                                    Val::Int(n) => u8::try_from(*n).ok(),
                                    _ => None,
                                })
                                .collect::<Option<Vec<u8>>>()
                                .map(Val::Bytes),
                            Val::Str(s) => Some(Val::Bytes(s.into_bytes())),
                            o => Some(o),
                        })
                        .collect();
                }
                v
            }
            "pathlib.Path.home" | "os.path.expanduser.home" => vec![Val::Str("~".into())],
            "os.path.join" | "posixpath.join" | "ntpath.join" => {
                self.fold_join(&pos, sc, binds, d, None)
            }
            "os.path.dirname" => arg(0)
                .iter()
                .filter_map(|v| v.text().map(|t| Val::Str(dirname(&t))))
                .collect(),
            "os.getenv" | "os.environ.get" => self.home_env(pos.first().copied(), sc),
            "builtins.chr" => arg(0)
                .into_iter()
                .filter_map(|v| match v {
                    Val::Int(n) => u32::try_from(n)
                        .ok()
                        .and_then(char::from_u32)
                        .map(|c| Val::Str(c.to_string())),
                    _ => None,
                })
                .collect(),
            "builtins.map" => {
                // `map(chr, [...])`.
                let f = pos.first().and_then(|f| self.qual(*f, sc));
                if f.as_deref() != Some("builtins.chr") {
                    return Vec::new();
                }
                arg(1)
                    .into_iter()
                    .filter_map(|v| match v {
                        Val::List(items) => items
                            .iter()
                            .map(|i| match i {
                                Val::Int(n) => u32::try_from(*n)
                                    .ok()
                                    .and_then(char::from_u32)
                                    .map(|c| Val::Str(c.to_string())),
                                _ => None,
                            })
                            .collect::<Option<Vec<Val>>>()
                            .map(Val::List),
                        _ => None,
                    })
                    .collect()
            }
            _ if is_decoder(&q) => {
                let extra = pos
                    .get(1)
                    .or_else(|| kw.iter().find(|(k, _)| k == "encoding").map(|(_, n)| n))
                    .and_then(|n| self.fold_in(*n, sc, binds, d).into_iter().next());
                arg(0)
                    .iter()
                    .filter_map(|v| decode(&q, v, extra.as_ref()))
                    .collect()
            }
            _ => self.fold_method(func, &pos, &kw, sc, binds, d),
        }
    }

    fn fold_join(
        &self,
        parts: &[Node<'t>],
        sc: &Scope<'t>,
        binds: Binds,
        d: u8,
        base: Option<Vec<Val>>,
    ) -> Vec<Val> {
        let mut acc = base.unwrap_or_else(|| vec![Val::Str(String::new())]);
        for p in parts {
            let v = self.fold_in(*p, sc, binds, d);
            acc = self.product(
                &acc,
                &v,
                |a, b| Some(Val::Str(join_path(&a.text()?, &b.text()?))),
                false,
            );
            if acc.is_empty() {
                break;
            }
        }
        acc
    }

    /// Method calls on a folded receiver: `"".join`, `format`, `encode`/`decode`, string cases,
    /// `expanduser`, `joinpath`, `with_name`.
    fn fold_method(
        &self,
        func: Node<'t>,
        pos: &[Node<'t>],
        kw: &[(String, Node<'t>)],
        sc: &Scope<'t>,
        binds: Binds,
        d: u8,
    ) -> Vec<Val> {
        if func.ty() != "attribute" {
            return Vec::new();
        }
        let (Some(obj), Some(attr)) = (func.field("object"), func.field("attribute")) else {
            return Vec::new();
        };
        let m = syntax::text(attr, self.src);
        let recv = self.fold_in(obj, sc, binds, d);
        if recv.is_empty() {
            return Vec::new();
        }
        let arg0 = || -> Vec<Val> {
            pos.first()
                .map(|n| self.fold_in(*n, sc, binds, d))
                .unwrap_or_default()
        };
        match m {
            "join" => {
                let items = arg0();
                self.product(
                    &recv,
                    &items,
                    |s, l| {
                        let sep = s.text()?;
                        let Val::List(l) = l else { return None };
                        let parts: Option<Vec<String>> = l.iter().map(Val::text).collect();
                        Some(Val::Str(parts?.join(&sep)))
                    },
                    false,
                )
            }
            "format" => {
                let mut pv = Vec::new();
                for p in pos {
                    match self.fold_in(*p, sc, binds, d).into_iter().next() {
                        Some(v) => pv.push(v),
                        None => {
                            return recv
                                .iter()
                                .filter_map(|r| {
                                    let t = r.text()?;
                                    Some(Val::Prefix(t.split('{').next()?.to_string()))
                                })
                                .collect();
                        }
                    }
                }
                let mut kv = Vec::new();
                for (k, n) in kw {
                    if let Some(v) = self.fold_in(*n, sc, binds, d).into_iter().next() {
                        kv.push((k.clone(), v));
                    }
                }
                recv.iter()
                    .filter_map(|r| format_braces(&r.text()?, &pv, &kv).map(Val::Str))
                    .collect()
            }
            "encode" => recv
                .into_iter()
                .filter_map(|v| v.text().map(|t| Val::Bytes(t.into_bytes())))
                .collect(),
            "decode" => recv
                .into_iter()
                .filter_map(|v| v.text().map(Val::Str))
                .collect(),
            "lower" | "upper" | "strip" | "lstrip" | "rstrip" => recv
                .into_iter()
                .filter_map(|v| {
                    let t = v.text()?;
                    Some(Val::Str(match m {
                        "lower" => t.to_lowercase(),
                        "upper" => t.to_uppercase(),
                        "strip" => t.trim().to_string(),
                        "lstrip" => t.trim_start().to_string(),
                        _ => t.trim_end().to_string(),
                    }))
                })
                .collect(),
            "replace" => {
                let a = pos.first().and_then(|n| self.fold_str(*n, sc));
                let b = pos.get(1).and_then(|n| self.fold_str(*n, sc));
                match (a, b) {
                    (Some(a), Some(b)) if !a.is_empty() => recv
                        .into_iter()
                        .filter_map(|v| v.text().map(|t| Val::Str(t.replace(&a, &b))))
                        .collect(),
                    _ => Vec::new(),
                }
            }
            "expanduser" | "resolve" | "absolute" | "as_posix" | "__str__" => recv,
            "joinpath" => self.fold_join(pos, sc, binds, d, Some(recv)),
            "with_name" => {
                let n = arg0();
                self.product(
                    &recv,
                    &n,
                    |a, b| Some(Val::Str(join_path(&dirname(&a.text()?), &b.text()?))),
                    false,
                )
            }
            _ => Vec::new(),
        }
    }
}
