//! A deliberately small reader for the YAML frontmatter of `SKILL.md` (SPEC §8.3 STR-003, STR-012, §8.5
//! check 2): top-level `key: value` scalars (plain, quoted, `|`/`>` block scalars) and lists (flow `[a, b]`
//! or block `- a`). Not a YAML parser: anchors, nested maps and multi-document files are out of scope; a
//! nested map's lines are skipped.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum FmValue {
    Str(String),
    List(Vec<String>),
}

impl FmValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            FmValue::Str(s) => Some(s),
            FmValue::List(_) => None,
        }
    }
}

/// The frontmatter of `text`, or None when it does not start with a `---` line closed by another `---`
/// (or `...`) line. A leading BOM is ignored.
pub fn parse(text: &str) -> Option<BTreeMap<String, FmValue>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    let mut body = Vec::new();
    let mut closed = false;
    for l in lines {
        let t = l.trim_end();
        if t == "---" || t == "..." {
            closed = true;
            break;
        }
        body.push(l);
    }
    if !closed {
        return None;
    }
    let mut map = BTreeMap::new();
    let mut i = 0;
    while i < body.len() {
        let line = body[i];
        i += 1;
        if line.starts_with(' ') || line.starts_with('\t') || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let key = unquote(key.trim()).to_string();
        let rest = strip_comment(rest).trim();
        // Indented continuation lines belong to this key.
        let start = i;
        while i < body.len()
            && (body[i].trim().is_empty()
                || body[i].starts_with(' ')
                || body[i].starts_with('\t')
                || body[i].starts_with("- "))
        {
            i += 1;
        }
        let cont = &body[start..i];
        let value = if rest.is_empty() {
            let items: Vec<String> = cont
                .iter()
                .filter_map(|l| {
                    l.trim_start()
                        .strip_prefix("- ")
                        .or_else(|| (l.trim() == "-").then_some(""))
                })
                .map(|v| unquote(strip_comment(v).trim()).to_string())
                .collect();
            if !items.is_empty() {
                FmValue::List(items)
            } else {
                FmValue::Str(join_plain(cont))
            }
        } else if rest.starts_with('|') || rest.starts_with('>') {
            let folded = rest.starts_with('>');
            let lines: Vec<&str> = cont.iter().map(|l| l.trim()).collect();
            FmValue::Str(if folded {
                lines.join(" ").trim().to_string()
            } else {
                lines.join("\n").trim().to_string()
            })
        } else if rest.starts_with('[') {
            let inner = rest.trim_start_matches('[').trim_end_matches(']');
            FmValue::List(
                split_top_level(inner, &[','])
                    .into_iter()
                    .map(|s| unquote(s.trim()).to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
            )
        } else {
            // Plain or quoted scalar, possibly continued on indented lines.
            let mut s = unquote(rest).to_string();
            let more = join_plain(cont);
            if !more.is_empty() {
                s.push(' ');
                s.push_str(&more);
            }
            FmValue::Str(s)
        };
        map.insert(key, value);
    }
    Some(map)
}

fn join_plain(lines: &[&str]) -> String {
    lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn strip_comment(s: &str) -> &str {
    // A ` #` outside quotes starts a comment.
    let mut quote = None;
    let bytes = s.as_bytes();
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"') | (None, '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if i == 0 || bytes[i - 1] == b' ' => return &s[..i],
            _ => {}
        }
    }
    s
}

fn unquote(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// Splits at any of `seps` outside parentheses, brackets and quotes.
pub fn split_top_level<'a>(s: &'a str, seps: &[char]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut quote = None;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"') | (None, '\'') => quote = Some(c),
            (None, '(') | (None, '[') => depth += 1,
            (None, ')') | (None, ']') => depth -= 1,
            (None, c) if depth <= 0 && seps.contains(&c) => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_lists_and_blocks() {
        let fm = parse(
            "---\nname: my-skill\ndescription: \"Does things\" # c\nallowed-tools: Read, Bash(git diff:*)\n\
             tools:\n  - Read\n  - \"Bash(curl:*)\"\nlong: |\n  one\n  two\nflow: [Read, 'Bash']\n---\n# Body\n",
        )
        .unwrap();
        assert_eq!(fm["name"], FmValue::Str("my-skill".into()));
        assert_eq!(fm["description"], FmValue::Str("Does things".into()));
        assert_eq!(
            fm["allowed-tools"],
            FmValue::Str("Read, Bash(git diff:*)".into())
        );
        assert_eq!(
            fm["tools"],
            FmValue::List(vec!["Read".into(), "Bash(curl:*)".into()])
        );
        assert_eq!(fm["long"], FmValue::Str("one\ntwo".into()));
        assert_eq!(
            fm["flow"],
            FmValue::List(vec!["Read".into(), "Bash".into()])
        );
    }

    #[test]
    fn absent_or_unclosed() {
        assert!(parse("# Simple Tool\n").is_none());
        assert!(parse("---\nname: x\n").is_none());
        assert!(parse("").is_none());
        assert!(parse("\u{feff}---\nname: x\n---\n").is_some());
    }

    #[test]
    fn split() {
        assert_eq!(
            split_top_level("Read, Edit Bash(git diff:*)", &[',', ' ']),
            vec!["Read", "Edit", "Bash(git diff:*)"]
        );
    }
}
