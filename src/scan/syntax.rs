//! Tree-sitter parsing under the scan deadline (SPEC §8.1: "tree-sitter parses use a progress callback that
//! aborts at the deadline"). One place builds parsers so every stage parses the same way.

use super::StageError;
use std::ops::ControlFlow;
use std::time::Instant;
use tree_sitter::{Language, Node, ParseOptions, Parser, Tree};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
