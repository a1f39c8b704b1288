//! Runs the stage-3 prompt rules over a document's blocks and applies the structural gates of §8.2
//! (code block, warning context, pattern table): sentence rules (`rules_pi.rs`), PI-006 on hidden regions,
//! PI-008(a) on shell text, PI-012 per paragraph or list, PI-014 / PI-015 with the content they persist.

use super::doc::{Block, Region};
use super::gates::{has_warning_term, self_warning, starts_imperative};
use super::normalize::{Sentence, norm_string, sentences};
use super::rules_pi::{self, Raw, SentCx, cred_paths, has_suspicious_url, urls};
use super::shellpi;
use super::{blockrules, writes};
use crate::scan::files::FileSet;
use crate::scan::report::Severity;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// One stage-3 match before it becomes a `Finding`.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub rule: &'static str,
    pub ty: &'static str,
    pub sev: Severity,
    pub line: u32,
    pub msg: String,
    pub evidence: String,
    /// Capped by the warning-context gate: does not count for PI-011.
    pub capped: bool,
}

/// What the engine may consult.
pub struct Env<'a> {
    pub files: Option<&'a FileSet>,
    pub deadline: Instant,
    pub scope: Option<String>,
    pub outbound: Vec<String>,
    /// Decoding / re-reading depth (§8.2: ≤ 2).
    pub depth: u8,
}

impl<'a> Env<'a> {
    /// The environment for re-reading decoded or persisted text one level deeper.
    pub fn sub(&self) -> Env<'a> {
        Env {
            files: self.files,
            deadline: self.deadline,
            scope: self.scope.clone(),
            outbound: self.outbound.clone(),
            depth: self.depth + 1,
        }
    }
}

pub fn rule_type(rule: &str) -> &'static str {
    match rule {
        "PI-001" | "PI-002" | "PI-003" => "prompt_injection_pattern",
        "PI-004" => "concealment_instruction",
        "PI-005" => "format_token_injection",
        "PI-006" => "hidden_instruction",
        "PI-007" => "markdown_exfiltration",
        "PI-008" => "dangerous_instruction",
        "PI-009" => "permission_escalation_instruction",
        "PI-010" => "authority_claim",
        "PI-011" => "elevated_suspicion",
        "PI-012" => "download_execute_instruction",
        "PI-013" => "remote_instruction_loading",
        "PI-014" => "instruction_persistence",
        "PI-015" => "agent_config_edit",
        "UNI-001" => "bidirectional_override",
        "UNI-002" => "unicode_tag_smuggling",
        "UNI-003" => "zero_width_char",
        "UNI-004" => "homoglyph",
        "UNI-005" => "nfkc_mismatch",
        _ => "variation_selector_smuggling",
    }
}

impl Hit {
    pub fn new(
        rule: &'static str,
        sev: Severity,
        line: u32,
        msg: impl Into<String>,
        ev: &str,
    ) -> Hit {
        Hit {
            rule,
            ty: rule_type(rule),
            sev,
            line,
            msg: msg.into(),
            evidence: ev.trim().to_string(),
            capped: false,
        }
    }
}

/// Rules the code-block gate turns into notes.
const CODE_GATED: [&str; 7] = [
    "PI-001", "PI-002", "PI-003", "PI-004", "PI-010", "PI-012", "PI-013",
];
/// Rules the warning-context gate caps at medium.
const CAPPED: [&str; 7] = [
    "PI-004", "PI-008", "PI-009", "PI-012", "PI-013", "PI-014", "PI-015",
];

pub(super) fn cap(h: &mut Hit) {
    if h.sev < Severity::Medium {
        h.sev = Severity::Medium;
        h.capped = true;
    }
}

/// Per-block facts the gates need.
pub(super) struct BlockCx {
    pub sents: Vec<Sentence>,
    pub warn: bool,
    pub lift: bool,
    pub lead_pi004: bool,
}

fn pi004_any(sents: &[Sentence]) -> bool {
    sents
        .iter()
        .enumerate()
        .any(|(k, s)| rules_pi::pi004(s, k.checked_sub(1).and_then(|p| sents.get(p))).is_some())
}

pub fn analyze(blocks: &[Block], env: &Env) -> Vec<Hit> {
    let mut cxs: Vec<BlockCx> = Vec::with_capacity(blocks.len());
    let mut heading_cache: HashMap<usize, (bool, bool, String)> = HashMap::new();
    let mut last_prose: HashMap<usize, Sentence> = HashMap::new();
    for b in blocks {
        let sents = sentences(&b.text);
        let (h_warn, h_pi4, _) = heading_cache
            .entry(b.section)
            .or_insert_with(|| {
                let hs = sentences(&b.heading);
                let warn = hs.iter().any(|s| has_warning_term(&s.tstr));
                (warn, pi004_any(&hs), norm_string(&b.heading))
            })
            .clone();
        let lead = last_prose.get(&b.section);
        let lead_warn = lead.is_some_and(|s| has_warning_term(&s.tstr));
        let lead_pi004 = lead.is_some_and(|s| rules_pi::pi004(s, None).is_some());
        let warn = h_warn || ((b.in_list || b.is_code()) && lead_warn);
        let lift = starts_imperative(&b.text) || h_pi4 || lead_pi004;
        if b.region == Region::Prose
            && !b.in_list
            && let Some(s) = sents.last()
        {
            last_prose.insert(b.section, s.clone());
        }
        cxs.push(BlockCx {
            sents,
            warn,
            lift,
            lead_pi004,
        });
    }
    // Paragraph / list facts: a send verb or URL (PI-008(b)), a concealment (PI-008(c), PI-013).
    let mut group_sends: HashSet<usize> = HashSet::new();
    let mut group_pi004: HashSet<usize> = HashSet::new();
    for (b, cx) in blocks.iter().zip(&cxs) {
        if cx
            .sents
            .iter()
            .any(|s| rules_pi::send_verb(s).is_some() || !urls(&s.norm).is_empty())
        {
            group_sends.insert(b.group);
        }
        if pi004_any(&cx.sents) {
            group_pi004.insert(b.group);
        }
    }
    let mut out = Vec::new();
    for (bi, (b, cx)) in blocks.iter().zip(&cxs).enumerate() {
        if Instant::now() >= env.deadline {
            break;
        }
        for (k, s) in cx.sents.iter().enumerate() {
            let raw = b.text.get(s.raw_start..s.raw_end).unwrap_or(&s.norm);
            let scx = SentCx {
                next: cx.sents.get(k + 1),
                prev: k.checked_sub(1).and_then(|p| cx.sents.get(p)),
                raw,
                group_sends: group_sends.contains(&b.group),
                scope: env.scope.as_deref(),
                outbound: &env.outbound,
            };
            let line = b.line_at(s.raw_start);
            let warn = cx.warn || self_warning(s);
            for r in rules_pi::sentence_rules(s, &scx) {
                let mut h = from_raw(&r, line, raw);
                if r.rule == "PI-013"
                    && !r.note
                    && (has_suspicious_url(&s.norm) || group_pi004.contains(&b.group))
                {
                    h.sev = Severity::Critical;
                }
                if r.rule == "PI-008"
                    && r.msg.contains("recipient")
                    && !r.note
                    && group_pi004.contains(&b.group)
                {
                    h.sev = Severity::Critical;
                }
                structural(&mut h, b, warn, cx.lift);
                out.push(h);
            }
            if b.region != Region::Code {
                let following = following_block(blocks, bi, k + 1 == cx.sents.len());
                for mut h in writes::persist_rules(s, raw, line, b, following, env) {
                    structural(&mut h, b, warn, cx.lift);
                    out.push(h);
                }
            }
        }
        if b.region == Region::Hidden {
            out.extend(pi006(b, env));
        }
    }
    out.extend(blockrules::pi008_shell(blocks, &cxs, env));
    out.extend(blockrules::pi012(blocks, &cxs));
    out
}

fn from_raw(r: &Raw, line: u32, raw: &str) -> Hit {
    let mut h = Hit::new(r.rule, r.sev, line, r.msg, raw);
    if r.note {
        h.sev = Severity::Info;
    }
    h
}

/// Code-block, pattern-table and warning-context gates.
pub(super) fn structural(h: &mut Hit, b: &Block, warn: bool, lift: bool) {
    if h.sev == Severity::Info {
        return;
    }
    if (b.is_code() && CODE_GATED.contains(&h.rule)) || (b.pattern_gate && b.region != Region::Meta)
    {
        h.sev = Severity::Info;
        return;
    }
    if warn && !lift && CAPPED.contains(&h.rule) {
        cap(h);
    }
}

/// The block that follows a sentence ending in `:` (the last of its block), in the same section.
fn following_block(blocks: &[Block], bi: usize, last: bool) -> Option<&Block> {
    let b = blocks.get(bi)?;
    if !last || !b.text.trim_end().ends_with(':') {
        return None;
    }
    blocks
        .get(bi + 1..)?
        .iter()
        .find(|n| n.region != Region::Hidden)
        .filter(|n| n.section == b.section)
}

const PI6_AGENT: [&str; 8] = [
    "assistant",
    "ai",
    "claude",
    "model",
    "agent",
    "llm",
    "chatgpt",
    "gpt",
];
const PI6_VERBS: [&str; 30] = [
    "run", "execute", "read", "cat", "send", "upload", "post", "ignore", "forget", "fetch",
    "download", "curl", "wget", "write", "delete", "open", "include", "append", "call", "invoke",
    "install", "reply", "respond", "tell", "say", "print", "output", "copy", "use", "visit",
];

/// PI-006 on one hidden region (and a base64 run inside it).
fn pi006(b: &Block, env: &Env) -> Vec<Hit> {
    let mut out = Vec::new();
    let text = b.text.trim();
    if text.chars().count() >= 10 {
        out.extend(pi006_text(text, b.first_line(), env, "PI-006", ""));
    }
    if env.depth < 2 {
        for run in text.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=_-".contains(c))) {
            if run.len() >= 40
                && let Some(dec) = shellpi::decode_b64(run)
            {
                for mut h in pi006_text(&dec, b.first_line(), env, "PI-006", "In decoded data: ") {
                    h.ty = "base64_in_comment";
                    h.evidence = super::unicode::short(&dec);
                    out.push(h);
                }
            }
        }
    }
    out
}

fn pi006_text(text: &str, line: u32, env: &Env, rule: &'static str, prefix: &str) -> Vec<Hit> {
    let sents = sentences(text);
    let toks: Vec<&str> = sents
        .iter()
        .flat_map(|s| s.toks.iter().map(|t| t.s.as_str()))
        .collect();
    let addresses = toks.iter().enumerate().any(|(i, t)| {
        PI6_AGENT.contains(t)
            && toks[i + 1..toks.len().min(i + 4)]
                .iter()
                .any(|v| PI6_VERBS.contains(v))
    });
    let starts = toks.first().is_some_and(|t| PI6_VERBS.contains(t));
    let all = norm_string(text);
    let tstr = toks.join(" ");
    let creds = !cred_paths(&all).is_empty();
    let sub_env = env.sub();
    let inner = if env.depth < 2 {
        analyze(&[Block::from_text(Region::Prose, text, line)], &sub_env)
    } else {
        Vec::new()
    };
    let pi = inner
        .iter()
        .any(|h| h.sev != Severity::Info && h.rule.starts_with("PI-"));
    let sh = !shellpi::fallback(text, true, env.depth).is_empty();
    let other = !urls(&all).is_empty() || creds || regex_words(&tstr) || pi;
    let mut out = Vec::new();
    let sev = if pi || sh || creds {
        Severity::Critical
    } else {
        Severity::High
    };
    if addresses || (starts && other) {
        out.push(Hit::new(
            rule,
            sev,
            line,
            format!("{prefix}A hidden region holds instructions addressed to the agent."),
            text,
        ));
    } else if starts {
        out.push(Hit::new(
            rule,
            Severity::Info,
            line,
            format!("{prefix}A hidden region holds an imperative."),
            text,
        ));
    }
    out
}

fn regex_words(tstr: &str) -> bool {
    [
        "secret",
        "secrets",
        "token",
        "tokens",
        "password",
        "passwords",
        "credential",
        "credentials",
        "api key",
        "env",
        "environment",
        "the user",
    ]
    .iter()
    .any(|w| format!(" {tstr} ").contains(&format!(" {w} ")))
}
