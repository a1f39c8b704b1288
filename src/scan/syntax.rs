//! Tree-sitter parsing under the scan deadline (SPEC §8.1: "tree-sitter parses use a progress callback that
//! aborts at the deadline"). One place builds parsers so every stage parses the same way.

use super::StageError;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::ops::ControlFlow;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;
use tree_sitter::{Language, Node, ParseOptions, Parser, Tree};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grammar {
    Python,
    JavaScript,
    TypeScript,
    Tsx,
    Bash,
}

fn language(g: Grammar) -> Language {
    match g {
        Grammar::Python => tree_sitter_python::LANGUAGE.into(),
        Grammar::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
        Grammar::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        Grammar::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
        Grammar::Bash => tree_sitter_bash::LANGUAGE.into(),
    }
}

/// Parses `text`; `Err(Timeout)` when the deadline passes during the parse. A syntax error is not an
/// error here: tree-sitter returns a tree with `ERROR` nodes and rules read what parsed.
pub fn parse(g: Grammar, text: &str, deadline: Instant) -> Result<Tree, StageError> {
    if Instant::now() >= deadline {
        return Err(StageError::Timeout);
    }
    let mut parser = Parser::new();
    // Cannot fail: the grammars are compiled in with the ABI of this tree-sitter version.
    if parser.set_language(&language(g)).is_err() {
        return Err(StageError::Timeout);
    }
    let bytes = text.as_bytes();
    let mut input = |i: usize, _| {
        if i < bytes.len() {
            &bytes[i..]
        } else {
            &[][..]
        }
    };
    let mut progress = |_: &tree_sitter::ParseState| {
        if Instant::now() >= deadline {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let opts = ParseOptions::new().progress_callback(&mut progress);
    parser
        .parse_with_options(&mut input, None, Some(opts))
        .ok_or(StageError::Timeout)
}

/// Source bytes whose trees the cache holds at most at once (bounds the memory of trees waiting for
/// their second reader).
const CACHE_LIMIT: usize = 16 * 1024 * 1024;

/// Trees of package files handed from one stage to another: stage 2 (code analysis) and stage 3
/// (strings and tool metadata) both parse every Python and JS/TS file, and they run in parallel
/// (issue #4). The first to parse a file leaves the tree here; the second takes it out. Keyed by path,
/// grammar and a hash of the text, so a reader with other text (packed or decoded content) parses
/// its own. Lives in the `FileSet`, so whatever no second reader took is dropped with the scan.
#[derive(Default)]
pub struct TreeCache {
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    trees: HashMap<(String, Grammar, u64), (Tree, usize)>,
    bytes: usize,
}

impl Clone for TreeCache {
    /// A copy starts empty: trees are a cache, not content.
    fn clone(&self) -> Self {
        TreeCache::default()
    }
}

impl std::fmt::Debug for TreeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TreeCache")
    }
}

impl TreeCache {
    /// `parse` of a package file's own text, sharing the tree with the other stage that reads it.
    pub fn parse(
        &self,
        path: &str,
        g: Grammar,
        text: &str,
        deadline: Instant,
    ) -> Result<Tree, StageError> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut h);
        let key = (path.to_string(), g, h.finish());
        {
            // One guard: the mutex is not re-entrant.
            let mut c = self.lock();
            if let Some((tree, n)) = c.trees.remove(&key) {
                c.bytes -= n;
                return Ok(tree);
            }
        }
        let tree = parse(g, text, deadline)?;
        let mut c = self.lock();
        if c.bytes + text.len() <= CACHE_LIMIT && !c.trees.contains_key(&key) {
            c.bytes += text.len();
            c.trees.insert(key, (tree.clone(), text.len()));
        }
        Ok(tree)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        // Nothing panics while holding the lock; a poisoned cache is still a consistent map.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Node kind and field look-ups from tables built once per grammar (issue #4): `Node::kind` measures
/// and validates the kind's C string on every call, and `Node::child_by_field_name` compares the name
/// with each field name of the grammar in turn; the analysers ask both of nearly every node they visit.
pub trait NodeExt<'t> {
    /// The same as `Node::kind`.
    fn ty(&self) -> &'static str;
    /// The same as `Node::child_by_field_name`.
    fn field(&self, name: &str) -> Option<Node<'t>>;
}

struct Tables {
    lang: Language,
    kinds: Vec<&'static str>,
    fields: HashMap<&'static str, u16>,
}

const GRAMMARS: [Grammar; 5] = [
    Grammar::Python,
    Grammar::JavaScript,
    Grammar::TypeScript,
    Grammar::Tsx,
    Grammar::Bash,
];

fn tables_of(n: &Node) -> Option<&'static Tables> {
    static ALL: OnceLock<Vec<Tables>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        GRAMMARS
            .iter()
            .map(|&g| {
                let lang = language(g);
                let kinds = (0..lang.node_kind_count())
                    .map(|i| {
                        u16::try_from(i)
                            .ok()
                            .and_then(|i| lang.node_kind_for_id(i))
                            .unwrap_or("")
                    })
                    .collect();
                let fields = (1..=lang.field_count())
                    .filter_map(|i| u16::try_from(i).ok())
                    .filter_map(|i| lang.field_name_for_id(i).map(|name| (name, i)))
                    .collect();
                Tables {
                    lang,
                    kinds,
                    fields,
                }
            })
            .collect()
    });
    let lang = n.language();
    all.iter().find(|t| t.lang == *lang)
}

impl<'t> NodeExt<'t> for Node<'t> {
    fn ty(&self) -> &'static str {
        tables_of(self)
            .and_then(|t| t.kinds.get(usize::from(self.kind_id())).copied())
            .unwrap_or_else(|| self.kind())
    }

    fn field(&self, name: &str) -> Option<Node<'t>> {
        match tables_of(self) {
            // A name the grammar does not have names no child.
            Some(t) => self.child_by_field_id(*t.fields.get(name)?),
            None => self.child_by_field_name(name),
        }
    }
}

/// The source text of a node (empty when the node does not cut the text at char boundaries).
pub fn text<'a>(node: Node, src: &'a str) -> &'a str {
    src.get(node.byte_range()).unwrap_or("")
}

/// 1-based line of a node's start.
pub fn line(node: Node) -> u32 {
    node.start_position().row as u32 + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn parses_each_grammar_and_honours_the_deadline() {
        let d = Instant::now() + Duration::from_secs(5);
        let t = parse(Grammar::Python, "import os\nos.system(x)\n", d).unwrap();
        assert_eq!(t.root_node().kind(), "module");
        let t = parse(Grammar::Bash, "curl x | sh\n", d).unwrap();
        assert_eq!(t.root_node().kind(), "program");
        for g in [Grammar::JavaScript, Grammar::TypeScript, Grammar::Tsx] {
            assert_eq!(
                parse(g, "let a = 1;", d).unwrap().root_node().kind(),
                "program"
            );
        }
        let past = Instant::now() - Duration::from_millis(1);
        assert_eq!(
            parse(Grammar::Python, "x = 1", past).unwrap_err(),
            StageError::Timeout
        );
        // The tables agree with tree-sitter's own look-ups on every node of each grammar.
        for (g, src) in [
            (Grammar::Python, "def f(a):\n    return os.system(a)\n"),
            (
                Grammar::JavaScript,
                "const x = require('y'); x.run(`a${b}`);",
            ),
            (
                Grammar::TypeScript,
                "function f(a: string): void { g(a as any); }",
            ),
            (Grammar::Tsx, "const e = <div id={x}>{y}</div>;"),
            (Grammar::Bash, "for i in a b; do curl \"$i\" | sh; done"),
        ] {
            let t = parse(g, src, d).unwrap();
            let mut stack = vec![t.root_node()];
            let mut seen = 0;
            while let Some(n) = stack.pop() {
                seen += 1;
                assert_eq!(n.ty(), n.kind());
                for f in [
                    "name",
                    "body",
                    "function",
                    "arguments",
                    "value",
                    "left",
                    "nope",
                ] {
                    assert_eq!(
                        n.field(f),
                        n.child_by_field_name(f),
                        "{g:?} {} {f}",
                        n.kind()
                    );
                }
                stack.extend((0..n.child_count()).filter_map(|i| n.child(i as u32)));
            }
            assert!(seen > 10);
        }
        let big = "x = [".repeat(20_000);
        let soon = Instant::now() + Duration::from_millis(5);
        let _ = parse(Grammar::Python, &big, soon); // Returns (tree or timeout), never hangs.
    }
}
