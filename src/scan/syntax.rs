//! Tree-sitter parsing under the scan deadline (SPEC §8.1: "tree-sitter parses use a progress callback that
//! aborts at the deadline"). One place builds parsers so every stage parses the same way.

use super::StageError;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::ops::ControlFlow;
use std::sync::Mutex;
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
        let big = "x = [".repeat(20_000);
        let soon = Instant::now() + Duration::from_millis(5);
        let _ = parse(Grammar::Python, &big, soon); // Returns (tree or timeout), never hangs.
    }
}
