//! Stage-3 text taken from Python and JS/TS code (SPEC §8.3 scope): string literals of ≥ 40 characters
//! (docstrings included) and tool metadata of any length (§8.2 "Tool metadata"), with the pattern-table
//! gate (§8.2: strings in a regular-expression pattern or in a list/tuple/set of ≥ 3 strings) marked.

use super::doc::{Block, Region};
use crate::scan::StageError;
use crate::scan::syntax::NodeExt;
use crate::scan::syntax::{self, Grammar};
use std::time::Instant;
use tree_sitter::Node;

/// Strings shorter than this are read only when they are tool metadata (§8.3).
const MIN_LEN: usize = 40;
/// Ancestors walked to decide tool metadata or the pattern gate.
const UP: usize = 8;

pub fn code_blocks(g: Grammar, src: &str, deadline: Instant) -> Result<Vec<Block>, StageError> {
    code_blocks_in(syntax::parse(g, src, deadline)?, g, src, deadline)
}

/// `code_blocks` of an already parsed text.
pub fn code_blocks_in(
    tree: tree_sitter::Tree,
    g: Grammar,
    src: &str,
    deadline: Instant,
) -> Result<Vec<Block>, StageError> {
    let python = g == Grammar::Python;
    let mut out = Vec::new();
    // Pre-order with one cursor (not a cursor and a child list per node, issue #4).
    let mut cur = tree.root_node().walk();
    let mut steps = 0u32;
    'walk: loop {
        let n = cur.node();
        steps += 1;
        if steps & 4095 == 0 && Instant::now() >= deadline {
            return Err(StageError::Timeout);
        }
        let k = n.ty();
        let is_str = k == "string" || k == "template_string";
        if is_str {
            let content = content(n, src, python);
            let meta = is_meta(n, src, python);
            if meta || content.chars().count() >= MIN_LEN {
                let line = syntax::line(n);
                let mut b = Block::from_text(
                    if meta { Region::Meta } else { Region::Prose },
                    &content,
                    line,
                );
                b.pattern_gate = !meta && pattern_gated(n, src);
                b.group = out.len() + 1;
                out.push(b);
            }
        } else if cur.goto_first_child() {
            continue;
        }
        while !cur.goto_next_sibling() {
            if !cur.goto_parent() {
                break 'walk;
            }
        }
    }
    Ok(out)
}

/// The constant text of a string literal (Python: its `string_content` parts; JS: without the quotes).
fn content(n: Node, src: &str, python: bool) -> String {
    if python {
        let mut c = n.walk();
        let parts: Vec<&str> = n
            .children(&mut c)
            .filter(|x| x.ty() == "string_content")
            .map(|x| syntax::text(x, src))
            .collect();
        return parts.concat().replace("\\n", "\n");
    }
    let t = syntax::text(n, src);
    let inner = t.get(1..t.len().saturating_sub(1)).unwrap_or("");
    inner.replace("\\n", "\n")
}

/// `mcp.tool()` → `tool`; `z.string().describe` → `describe`.
fn last_segment(s: &str) -> &str {
    let s = s.trim();
    let s = s
        .strip_suffix(')')
        .map_or(s, |x| x.rsplit_once('(').map_or(x, |(h, _)| h));
    s.rsplit('.').next().unwrap_or(s).trim()
}

fn tool_callee(name: &str) -> bool {
    matches!(
        last_segment(name),
        "tool"
            | "Tool"
            | "registerTool"
            | "prompt"
            | "resource"
            | "registerPrompt"
            | "add_tool"
            | "Field"
    )
}

/// §8.2 tool metadata.
fn is_meta(n: Node, src: &str, python: bool) -> bool {
    let Some(p) = n.parent() else {
        return false;
    };
    if python {
        // Docstring of a function registered as a tool / prompt / resource.
        if p.ty() == "expression_statement"
            && let Some(block) = p.parent()
            && block.ty() == "block"
            && block.named_child(0).is_some_and(|f| f.id() == p.id())
            && let Some(func) = block.parent()
            && func.ty() == "function_definition"
            && let Some(dec) = func.parent()
            && dec.ty() == "decorated_definition"
        {
            let mut c = dec.walk();
            return dec
                .children(&mut c)
                .filter(|d| d.ty() == "decorator")
                .any(|d| {
                    let t = syntax::text(d, src).trim_start_matches('@');
                    let seg = last_segment(t);
                    matches!(seg, "tool" | "prompt" | "resource")
                });
        }
        // description= / title= of a tool call or Field(…).
        if p.ty() == "keyword_argument"
            && let Some(name) = p.field("name")
            && matches!(syntax::text(name, src), "description" | "title")
            && let Some(call) = p.parent().and_then(|a| a.parent())
            && call.ty() == "call"
            && let Some(f) = call.field("function")
        {
            return tool_callee(syntax::text(f, src));
        }
        // Annotated[str, "…"].
        let mut a = Some(p);
        for _ in 0..3 {
            let Some(x) = a else { break };
            if x.ty() == "subscript"
                && x.field("value")
                    .is_some_and(|v| last_segment(syntax::text(v, src)) == "Annotated")
            {
                return true;
            }
            a = x.parent();
        }
        return false;
    }
    // JS: arguments of server.tool(…)/registerTool/prompt, `.describe("…")`, description/title pairs in
    // a tool object (one with inputSchema) or inside such a call or an inputSchema.
    if p.ty() == "arguments"
        && let Some(call) = p.parent()
        && call.ty() == "call_expression"
        && let Some(f) = call.field("function")
    {
        let name = syntax::text(f, src);
        return tool_callee(name) || last_segment(name) == "describe";
    }
    if p.ty() == "pair"
        && p.field("key").is_some_and(|k| {
            matches!(
                syntax::text(k, src).trim_matches(['"', '\'']),
                "description" | "title"
            )
        })
    {
        let mut a = p.parent();
        for _ in 0..UP {
            let Some(x) = a else { break };
            match x.ty() {
                "object" if has_key(x, src, &["inputSchema", "input_schema"]) => return true,
                "pair"
                    if x.field("key").is_some_and(|k| {
                        matches!(
                            syntax::text(k, src).trim_matches(['"', '\'']),
                            "inputSchema" | "input_schema" | "tools"
                        )
                    }) =>
                {
                    return true;
                }
                "call_expression"
                    if x.field("function")
                        .is_some_and(|f| tool_callee(syntax::text(f, src))) =>
                {
                    return true;
                }
                _ => {}
            }
            a = x.parent();
        }
    }
    false
}

fn has_key(obj: Node, src: &str, keys: &[&str]) -> bool {
    let mut c = obj.walk();
    obj.children(&mut c).any(|p| {
        p.ty() == "pair"
            && p.field("key")
                .is_some_and(|k| keys.contains(&syntax::text(k, src).trim_matches(['"', '\''])))
    })
}

/// §8.2 pattern-table gate.
fn pattern_gated(n: Node, src: &str) -> bool {
    let Some(p) = n.parent() else {
        return false;
    };
    match p.ty() {
        "list" | "tuple" | "set" | "array" => {
            let mut c = p.walk();
            p.children(&mut c)
                .filter(|x| matches!(x.ty(), "string" | "template_string"))
                .count()
                >= 3
        }
        "argument_list" | "arguments" => p.parent().is_some_and(|call| {
            let f = call
                .field("function")
                .or_else(|| call.field("constructor"))
                .map(|f| syntax::text(f, src))
                .unwrap_or("");
            f.starts_with("re.")
                || f.starts_with("regex.")
                || f == "RegExp"
                || f.ends_with(".RegExp")
        }),
        _ => false,
    }
}
