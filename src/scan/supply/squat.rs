//! SUP-007 skill-name squats (SPEC §8.3): the skill's unscoped name (effective manifest `name`) and, when
//! different, the root `SKILL.md` frontmatter `name`, each checked on its own against the protected names
//! (`data/protected-skills.txt` plus `ScanInput::protected_names`). Only the listed variants count: one
//! character added (not a trailing `s`), one removed, two adjacent swapped, a separator added, removed or
//! changed, confusables (`0`/`o`, `1`/`l`/`i`, `rn`/`m`, `vv`/`w`); a plain letter substitution does not.

use super::data;
use super::npm::json_key_line;
use super::{Out, line_containing};
use crate::scan::StageCtx;
use crate::scan::frontmatter::{self, FmValue};
use crate::scan::report::Severity;
use std::collections::BTreeSet;

/// Protected names shorter than this never produce a finding (SPEC §8.3 SUP-007).
const MIN_PROTECTED: usize = 6;

fn unscoped(name: &str) -> String {
    let n = data::npm_norm(name);
    match n.strip_prefix('@').and_then(|s| s.split_once('/')) {
        Some((_, p)) => p.to_string(),
        None => n,
    }
}

fn is_sep(c: char) -> bool {
    matches!(c, '-' | '_' | '.')
}

/// `name` is `p` with one character inserted.
fn one_added(name: &[char], p: &[char]) -> bool {
    name.len() == p.len() + 1
        && (0..name.len()).any(|i| name[..i] == p[..i] && name[i + 1..] == p[i..])
}

/// `name` and `p` differ by one substituted character, both separators.
fn separator_changed(name: &[char], p: &[char]) -> bool {
    if name.len() != p.len() {
        return false;
    }
    let diffs: Vec<usize> = (0..name.len()).filter(|&i| name[i] != p[i]).collect();
    diffs.len() == 1 && is_sep(name[diffs[0]]) && is_sep(p[diffs[0]])
}

fn adjacent_swap(name: &[char], p: &[char]) -> bool {
    if name.len() != p.len() {
        return false;
    }
    let diffs: Vec<usize> = (0..name.len()).filter(|&i| name[i] != p[i]).collect();
    diffs.len() == 2
        && diffs[1] == diffs[0] + 1
        && name[diffs[0]] == p[diffs[1]]
        && name[diffs[1]] == p[diffs[0]]
}

/// Confusable skeleton: `rn`→`m`, `vv`→`w`, `0`→`o`, `1`/`i`→`l`.
fn skeleton(s: &str) -> String {
    s.replace("rn", "m")
        .replace("vv", "w")
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' | 'i' => 'l',
            c => c,
        })
        .collect()
}

/// Which squat variant of `p` the (normalised) `name` is, if any.
pub fn variant(name: &str, p: &str) -> Option<&'static str> {
    if name == p || p.chars().count() < MIN_PROTECTED {
        return None;
    }
    let n: Vec<char> = name.chars().collect();
    let pc: Vec<char> = p.chars().collect();
    if one_added(&n, &pc) {
        if name.strip_suffix('s') == Some(p) {
            return None;
        }
        return Some(
            if n.iter().filter(|c| is_sep(**c)).count() > pc.iter().filter(|c| is_sep(**c)).count()
            {
                "a separator added"
            } else {
                "one character added"
            },
        );
    }
    if one_added(&pc, &n) {
        return Some(
            if pc.iter().filter(|c| is_sep(**c)).count() > n.iter().filter(|c| is_sep(**c)).count()
            {
                "a separator removed"
            } else {
                "one character removed"
            },
        );
    }
    if adjacent_swap(&n, &pc) {
        return Some("two adjacent characters swapped");
    }
    if separator_changed(&n, &pc) {
        return Some("a separator changed");
    }
    if skeleton(name) == skeleton(p) {
        return Some("a look-alike character substituted");
    }
    None
}

/// SUP-007 for the scan.
pub fn check(ctx: &StageCtx, out: &mut Out) {
    let mut protected: BTreeSet<String> = data::protected_skills().iter().cloned().collect();
    protected.extend(ctx.input.protected_names.iter().map(|n| unscoped(n)));

    // (name, file, line) candidates.
    let mut names: Vec<(String, Option<String>, Option<u32>)> = Vec::new();
    if let Some(m) = ctx.files.effective_manifest(ctx.input.manifest)
        && let Some(n) = m.get("name").and_then(|v| v.as_str())
    {
        let file = if ctx.input.manifest.is_some() {
            None
        } else {
            ctx.files
                .root_manifests()
                .into_iter()
                .find(|(_, v)| v.is_some())
                .map(|(f, _)| f.to_string())
        };
        let line = file
            .as_deref()
            .and_then(|f| ctx.files.get(f))
            .and_then(|f| f.text())
            .and_then(|t| json_key_line(&t, None, "name"));
        names.push((unscoped(n), file, line));
    }
    if let Some(sk) = ctx.files.skill_md()
        && let Some(text) = sk.text()
        && let Some(fm) = frontmatter::parse(&text)
        && let Some(FmValue::Str(n)) = fm.get("name")
    {
        let n = unscoped(n);
        if !names.iter().any(|(x, _, _)| *x == n) {
            let line = text
                .lines()
                .position(|l| l.starts_with("name:"))
                .map(|i| i as u32 + 1)
                .or_else(|| line_containing(&text, "name"));
            names.push((n, Some(sk.path.clone()), line));
        }
    }

    for (name, file, line) in names {
        if name.is_empty() || protected.contains(&name) {
            continue;
        }
        let hit = protected
            .iter()
            .find_map(|p| variant(&name, p).map(|why| (p.clone(), why)));
        if let Some((p, why)) = hit {
            out.set_file(file.as_deref());
            out.push(
                Severity::High,
                "SUP-007",
                "skill_name_squat",
                format!("The skill name \"{name}\" imitates the protected name \"{p}\" ({why})."),
                line,
                p,
            );
        }
    }
}
