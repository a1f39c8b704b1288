//! PI-014 (instruction persistence into agent instruction / memory files) and PI-015 (edits of agent
//! configuration and IDE auto-run files) — SPEC §8.3, with the §8.2 "Agent files" vocabulary. Both read a
//! sentence with a write verb and judge what it would persist: quoted text, long inline code, the code
//! block or quote after a sentence ending in `:`, or a package file the sentence names.

use super::doc::{Block, Region};
use super::engine::{Env, Hit, analyze};
use super::normalize::{Sentence, inflects};
use super::shellpi;
use crate::scan::agent::{self, ConfigItems};
use crate::scan::report::Severity;
use regex::Regex;
use std::sync::LazyLock;

fn re(p: &str) -> Regex {
    Regex::new(p).expect("valid regex")
}

static INSTR_FILE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(~/\.(claude|codex|gemini|openclaw|clawdbot)/(\S*/)?)?\b(claude\.local\.md|claude\.md|agents\.md|gemini\.md|soul\.md|memory\.md|copilot-instructions\.md)\b|\.cursorrules|\.windsurfrules|\.clinerules|\.cursor/rules/|\.github/instructions/|~/\.(openclaw|clawdbot)/(\S*/)?(user|identity|heartbeat)\.md|~/\.(openclaw|clawdbot)/memory/",
    )
});
static CONFIG_FILE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\.claude/settings(\.local)?\.json|\.mcp\.json|\.cursor/mcp\.json|\.cursor/hooks\.json|\.vscode/mcp\.json|\.codex/config\.toml|\.gemini/settings\.json|hooks/hooks\.json|~/\.claude\.json|claude_desktop_config\.json|\.codeium/windsurf/mcp_config\.json|\.openclaw/openclaw\.json|\.vscode/tasks\.json|\.vscode/settings\.json|devcontainer\.json",
    )
});
static APPROVAL: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(approve|approves|approved|approval|confirm|confirms|confirmed|consent|consents)\b")
});
static QUOTED: LazyLock<Regex> = LazyLock::new(|| re(r#""([^"]{10,})""#));
static GIT_REMOTE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\bgit\s+remote\s+(add|set-url)\b|\bgit\s+push\b|\bpushurl\b"));

const W14: [&str; 10] = [
    "append", "add", "write", "save", "insert", "put", "store", "record", "update", "remember",
];
const W15: [&str; 12] = [
    "add", "merge", "copy", "append", "write", "insert", "put", "paste", "set", "register",
    "install", "enable",
];

fn has_verb(s: &Sentence, verbs: &[&str]) -> bool {
    s.toks
        .iter()
        .any(|t| verbs.iter().any(|v| inflects(&t.s, v)))
}

/// The constant text a sentence would persist: quoted, inline code ≥ 20 characters (not a path), or the
/// code block / quote that follows it.
fn constant_text(
    raw: &str,
    b: &Block,
    s: &Sentence,
    following: Option<&Block>,
    quote_ok: bool,
) -> Option<String> {
    if let Some(c) = QUOTED.captures(raw).and_then(|c| c.get(1)) {
        return Some(c.as_str().to_string());
    }
    let in_sentence = |at: &usize| *at >= s.raw_start && *at < s.raw_end;
    if let Some((_, code)) = b
        .inline_code
        .iter()
        .find(|(at, c)| in_sentence(at) && c.chars().count() >= 20 && c.contains(' '))
    {
        return Some(code.clone());
    }
    following
        .filter(|f| f.region == Region::Code || (quote_ok && f.quoted))
        .map(|f| f.text.clone())
}

pub fn persist_rules(
    s: &Sentence,
    raw: &str,
    line: u32,
    b: &Block,
    following: Option<&Block>,
    env: &Env,
) -> Vec<Hit> {
    let mut out = Vec::new();
    if let Some(h) = pi014(s, raw, line, b, following, env) {
        out.push(h);
    }
    if let Some(h) = pi015(s, raw, line, b, following, env) {
        out.push(h);
    }
    out
}

fn pi014(
    s: &Sentence,
    raw: &str,
    line: u32,
    b: &Block,
    following: Option<&Block>,
    env: &Env,
) -> Option<Hit> {
    let m = INSTR_FILE.find(&s.norm)?;
    if !has_verb(s, &W14) {
        return None;
    }
    let t = m.as_str();
    let user = t.starts_with("~/") || t.contains("soul.md") || t.contains("memory.md");
    let mut sev = if user {
        Severity::High
    } else {
        Severity::Medium
    };
    let text = constant_text(raw, b, s, following, true);
    match &text {
        None => sev = Severity::Info,
        Some(_) if APPROVAL.is_match(&s.tstr) => sev = Severity::Info,
        Some(t) => {
            let triggers = env.depth < 2
                && analyze(&[Block::from_text(Region::Prose, t, line)], &env.sub())
                    .iter()
                    .any(|h| {
                        h.sev != Severity::Info
                            && matches!(
                                h.rule,
                                "PI-004" | "PI-008" | "PI-009" | "PI-012" | "PI-013" | "PI-015"
                            )
                    });
            if triggers || GIT_REMOTE.is_match(t) {
                sev = Severity::Critical;
            }
        }
    }
    let level = if user {
        "a user-level"
    } else {
        "a project-level"
    };
    Some(Hit::new(
        "PI-014",
        sev,
        line,
        format!(
            "Text tells the agent to write instructions into {level} agent instruction or memory file."
        ),
        raw,
    ))
}

static NAMED_PATH: LazyLock<Regex> =
    LazyLock::new(|| re(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*\.(json|jsonc|toml|ya?ml)"));

fn pi015(
    s: &Sentence,
    raw: &str,
    line: u32,
    _b: &Block,
    following: Option<&Block>,
    env: &Env,
) -> Option<Hit> {
    let target = CONFIG_FILE.find(&s.norm)?;
    if !has_verb(s, &W15) {
        return None;
    }
    // What is added: the code block that follows, or a package file the sentence names.
    let mut content: Option<String> = following
        .filter(|f| f.region == Region::Code)
        .map(|f| f.text.clone());
    if content.is_none()
        && let Some(files) = env.files
    {
        content = NAMED_PATH
            .find_iter(raw)
            .filter(|m| {
                !CONFIG_FILE.is_match(&m.as_str().to_ascii_lowercase())
                    || !m.as_str().contains(target.as_str())
            })
            .find_map(|m| {
                files
                    .get(m.as_str().trim_start_matches("./"))
                    .and_then(|f| f.text())
                    .map(|t| t.into_owned())
            });
    }
    let sev = match &content {
        Some(c) => judge_config(c, env),
        None => named_items(&s.tstr),
    };
    Some(Hit::new(
        "PI-015",
        sev,
        line,
        "Text tells the agent to edit an agent configuration or IDE auto-run file.",
        raw,
    ))
}

/// Items the sentence names itself (no content to read).
fn named_items(tstr: &str) -> Severity {
    if tstr.contains("bypasspermissions") {
        Severity::Critical
    } else if [
        "hook",
        "hooks",
        "apikeyhelper",
        "statusline",
        "enableallprojectmcpservers",
        "folderopen",
        "base url",
        "allow",
    ]
    .iter()
    .any(|w| format!(" {tstr} ").contains(&format!(" {w} ")))
    {
        Severity::High
    } else {
        Severity::Info
    }
}

/// STR-010 / STR-013 reading of the added content: critical items, high items, or only servers/settings.
fn judge_config(content: &str, env: &Env) -> Severity {
    let Some(v) =
        agent::parse_jsonc(content).or_else(|| agent::parse_jsonc(&format!("{{{content}}}")))
    else {
        return if content.contains("folderOpen") || content.contains("\"hooks\"") {
            Severity::High
        } else {
            Severity::Info
        };
    };
    let it = ConfigItems::from_json(&v, true);
    let cmds: Vec<&String> = it
        .hooks
        .iter()
        .flat_map(|(_, c)| c)
        .chain(&it.mcp_commands)
        .collect();
    let prompt_hook_net = it.hooks.iter().any(|(ev, c)| {
        matches!(
            ev.as_str(),
            "UserPromptSubmit" | "beforeSubmitPrompt" | "BeforeAgent"
        ) && c.iter().any(|x| agent::mentions_network(x))
    });
    let hijack_url = it.env.iter().any(|(k, val)| {
        agent::is_url_hijack_env(k)
            && agent::url_hosts(val).iter().any(|h| {
                !crate::permissions::host_covered(&env.outbound, h) && !agent::is_loopback(h)
            })
    });
    let sh = cmds
        .iter()
        .any(|c| !shellpi::fallback(c, false, env.depth).is_empty());
    if it.default_mode.as_deref() == Some("bypassPermissions")
        || prompt_hook_net
        || hijack_url
        || sh
    {
        return Severity::Critical;
    }
    let high = !it.hooks.is_empty()
        || it.allow.iter().any(|a| agent::is_broad_grant(a))
        || !it.helpers.is_empty()
        || it.enable_all_mcp
        || it.env.iter().any(|(k, _)| agent::is_hijack_env(k))
        || content.contains("folderOpen");
    if high { Severity::High } else { Severity::Info }
}
