//! Sentence rules of stage 3 (SPEC §8.3): PI-001 – PI-004, PI-007(b), PI-008(b)(c), PI-009, PI-010 and
//! PI-013 on one normalised sentence (and its neighbour where the rule reads two). They report the token
//! that triggered and whether the negation/example gates turn the match into a note; the structural gates
//! (code block, warning context, pattern table) are applied by the engine.

use super::gates::{example, negated};
use super::normalize::Sentence;
pub use super::rules_data::{cred_paths, pi007_perchar, send_verb, urls};
use super::rules_data::{pi007b, pi008b, pi008c};
use crate::scan::report::Severity;
use crate::scan::vocab;
use regex::Regex;
use std::sync::LazyLock;

/// One sentence-rule match.
#[derive(Debug, Clone)]
pub struct Raw {
    pub rule: &'static str,
    pub sev: Severity,
    /// Negation / example gate, or a form the table calls a note.
    pub note: bool,
    pub msg: &'static str,
}

fn re(p: &str) -> Regex {
    Regex::new(p).expect("valid regex")
}

/// What a sentence rule may know beyond the sentence.
pub struct SentCx<'a> {
    pub next: Option<&'a Sentence>,
    pub prev: Option<&'a Sentence>,
    /// The raw text of the sentence (case kept: `DAN` must be upper case).
    pub raw: &'a str,
    /// The paragraph or list holds a send verb or a URL (PI-008(b) critical).
    pub group_sends: bool,
    /// The scope of the skill's own name (`@google/x` → `google`), for PI-010.
    pub scope: Option<&'a str>,
    pub outbound: &'a [String],
}

fn gated(s: &Sentence, i: usize) -> bool {
    negated(s, i) || example(s, i)
}

fn push(out: &mut Vec<Raw>, rule: &'static str, sev: Severity, note: bool, msg: &'static str) {
    out.push(Raw {
        rule,
        sev,
        note,
        msg,
    });
}

pub fn sentence_rules(s: &Sentence, cx: &SentCx) -> Vec<Raw> {
    let mut out = Vec::new();
    if let Some(i) = pi001(s) {
        push(
            &mut out,
            "PI-001",
            Severity::Critical,
            gated(s, i),
            "Text tells the agent to ignore its previous instructions.",
        );
    }
    if let Some((i, qualified)) = pi002(s, cx.raw) {
        push(
            &mut out,
            "PI-002",
            Severity::Critical,
            !qualified || gated(s, i),
            "Text tries to take over the agent's role.",
        );
    }
    if let Some(i) = pi003(s) {
        push(
            &mut out,
            "PI-003",
            Severity::Critical,
            gated(s, i),
            "Text asks the agent to reveal its system prompt.",
        );
    }
    if let Some(i) = pi004(s, cx.prev) {
        push(
            &mut out,
            "PI-004",
            Severity::High,
            example(s, i),
            "Text tells the agent to hide an action from the user.",
        );
    }
    if let Some(i) = pi007b(s) {
        push(
            &mut out,
            "PI-007",
            Severity::Critical,
            gated(s, i),
            "Text tells the agent to smuggle secrets or conversation data out through a URL or image.",
        );
    }
    if let Some((sev, i)) = pi008b(s, cx) {
        push(
            &mut out,
            "PI-008",
            sev,
            gated(s, i),
            "Text tells the agent to read a credential file (and send it).",
        );
    }
    if let Some((sev, i, note)) = pi008c(s, cx) {
        push(
            &mut out,
            "PI-008",
            sev,
            note || gated(s, i),
            "Text tells the agent to copy every message to a fixed recipient.",
        );
    }
    if let Some(i) = pi009(s) {
        push(
            &mut out,
            "PI-009",
            Severity::High,
            gated(s, i),
            "Text tells the agent or user to bypass permissions or security controls.",
        );
    }
    if let Some((sev, i)) = pi010(s, cx.scope) {
        push(
            &mut out,
            "PI-010",
            sev,
            example(s, i),
            "Text claims authority or approval it cannot have.",
        );
    }
    if let Some((cond, i)) = pi013(s, cx.next) {
        push(
            &mut out,
            "PI-013",
            Severity::High,
            !cond || gated(s, i),
            "Text tells the agent to fetch remote instructions and follow them.",
        );
    }
    out
}

const PI1_VERBS: [&str; 6] = [
    "ignore",
    "disregard",
    "forget",
    "bypass",
    "override",
    "overrule",
];
const STRONG_OBJ: [&str; 11] = [
    "instruction",
    "instructions",
    "guidance",
    "guideline",
    "guidelines",
    "directive",
    "directives",
    "prompt",
    "prompts",
    "programming",
    "safety",
];
const WEAK_OBJ: [&str; 9] = [
    "rule",
    "rules",
    "constraint",
    "constraints",
    "restriction",
    "restrictions",
    "policy",
    "policies",
    "context",
];
const WEAK_QUAL: [&str; 11] = [
    "previous",
    "prior",
    "above",
    "earlier",
    "preceding",
    "your",
    "system",
    "original",
    "initial",
    "developer",
    "safety",
];

/// PI-001: an override verb, then within 10 tokens an object with a qualifier between.
pub fn pi001(s: &Sentence) -> Option<usize> {
    let t: Vec<&str> = s.toks.iter().map(|t| t.s.as_str()).collect();
    for i in 0..t.len() {
        let from = if PI1_VERBS.contains(&t[i]) {
            i + 1
        } else if t[i] == "pay" && t.get(i + 1..i + 4) == Some(&["no", "attention", "to"][..]) {
            i + 4
        } else {
            continue;
        };
        for j in from..t.len().min(i + 11) {
            let between = &t[from..j];
            let strong = STRONG_OBJ.contains(&t[j])
                && between
                    .iter()
                    .any(|q| WEAK_QUAL.contains(q) || matches!(*q, "all" | "any" | "existing"));
            let weak = WEAK_OBJ.contains(&t[j]) && between.iter().any(|q| WEAK_QUAL.contains(q));
            if strong || weak {
                return Some(i);
            }
        }
    }
    None
}

static TAKEOVER: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(you are now|from now on you|pretend (that )?you are|pretend to be|act as (if|though) you|act as|role ?play as|roleplay as)\b",
    )
});
static MODE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(switch to|enter|enable|activate) (dan|god|jailbreak|unrestricted|unfiltered|evil) mode\b",
    )
});
static QUAL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(different|unrestricted|unfiltered|uncensored|jailbroken|jailbreak|evil|dan|no longer|not bound|without (any )?(restrictions|limits|rules|filters)|(developer|god|admin|root|dan) mode)\b",
    )
});
static DAN: LazyLock<Regex> = LazyLock::new(|| re(r"\bDAN\b"));

/// PI-002: (token, qualified). Without a qualifier the match is a note.
pub fn pi002(s: &Sentence, raw: &str) -> Option<(usize, bool)> {
    let dan_ok = DAN.is_match(raw);
    if let Some(m) = MODE.captures(&s.tstr)
        && (dan_ok || m.get(2).is_some_and(|g| g.as_str() != "dan"))
    {
        return Some((s.tok_at_tstr(m.get(0).map_or(0, |g| g.start())), true));
    }
    let m = TAKEOVER.find(&s.tstr)?;
    let i = s.tok_at_tstr(m.start());
    let after = s.tok_at_tstr(m.end());
    for k in after..s.toks.len().min(after + 8) {
        let rest = s.tstr.get(s.toks[k].ts..).unwrap_or("");
        if let Some(q) = QUAL.find(rest) {
            if q.as_str().starts_with("dan") && !dan_ok {
                continue;
            }
            return Some((i, true));
        }
    }
    Some((i, false))
}

const PI3_VERBS: [&str; 14] = [
    "reveal", "print", "output", "repeat", "show", "display", "dump", "leak", "disclose", "tell",
    "send", "include", "copy", "paste",
];
const PI3_OBJ: [(&str, &str); 8] = [
    ("system", "prompt"),
    ("system", "message"),
    ("system", "instructions"),
    ("hidden", "instructions"),
    ("initial", "instructions"),
    ("original", "instructions"),
    ("developer", "message"),
    ("developer", "instructions"),
];

/// PI-003: a disclosure verb, then within 8 tokens a system-prompt object.
pub fn pi003(s: &Sentence) -> Option<usize> {
    let t: Vec<&str> = s.toks.iter().map(|t| t.s.as_str()).collect();
    for i in 0..t.len() {
        let verb = PI3_VERBS.contains(&t[i]) || (t[i] == "write" && t.get(i + 1) == Some(&"out"));
        if !verb {
            continue;
        }
        for j in i + 1..t.len().min(i + 9) {
            if let Some(n) = t.get(j + 1)
                && PI3_OBJ.contains(&(t[j], *n))
            {
                return Some(i);
            }
        }
    }
    None
}

const ACT: &str = "(run|execute|send|upload|post|transmit|delete|remove|install|copy|read|cat|curl|wget|download|modify|write)";

static PI4: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    vec![
        re(
            r"\b(do not|don't|dont|never) (tell|inform|notify|alert|let) the user (about|that|what|know)\b",
        ),
        re(
            r"\b(not|never|don't|dont|no need to|needn't|without) (\S+ ){0,2}mention (this|it|that)( step| action| command)? to the user\b",
        ),
        re(
            r"\b(hide|conceal|keep) (this|it|these|the following)( step| action| command)? (from|secret from) the user\b",
        ),
        re(&format!(
            r"\b(silently|quietly|secretly|covertly|discreetly|without (telling|asking|informing|notifying) the user)( \S+){{0,3}} {ACT}\b"
        )),
        re(&format!(
            r"\b{ACT}\b.* (silently|quietly|secretly|covertly|discreetly|without (telling|asking|informing|notifying) the user)\b"
        )),
        re(
            r"\b(do not|don't|dont|never|no need to|not necessary to|unnecessary to|needn't) (mention|bring up|report|tell the user about|inform the user about|inform the user of) (this|that|these|the) (step|action|command|request|read|call|upload|download|file|parameter)s?\b",
        ),
        re(&format!(
            r"\b(do not|don't|dont|never) mention (that|how|why) you (first )?(need to |have to |will )?{ACT}\b"
        )),
    ]
});
static PI4_BRING: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(no need to|don't need to|dont need to|needn't) (bring|mention) (it|this|that) (up )?(to|with) the user\b",
    )
});
static ACT_RE: LazyLock<Regex> = LazyLock::new(|| re(&format!(r"\b{ACT}\b")));

/// PI-004: concealment wording.
pub fn pi004(s: &Sentence, prev: Option<&Sentence>) -> Option<usize> {
    for r in PI4.iter() {
        if let Some(m) = r.find(&s.tstr) {
            return Some(s.tok_at_tstr(m.start()));
        }
    }
    let m = PI4_BRING.find(&s.tstr)?;
    let acted = ACT_RE.is_match(s.tstr.get(..m.start()).unwrap_or(""))
        || prev.is_some_and(|p| ACT_RE.is_match(&p.tstr));
    acted.then(|| s.tok_at_tstr(m.start()))
}

static PI9_FLAGS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"--dangerously-skip-permissions|--dangerously-bypass-approvals-and-sandbox|--yolo\b|--permission-mode[ =]bypasspermissions|--approval-mode[ =]yolo|--trust-all-tools|--allow-all-tools|\bbypasspermissions\b|\bbash\(\*\)|spctl --master-disable|spctl --global-disable|csrutil disable|set-mppreference -disable|add-mppreference -exclusion",
    )
});
pub static DEFENDER: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(disable|turn off|switch off|pause) (windows defender|microsoft defender|defender|(the |your )?antivirus|(the |your )?anti virus|(the )?real time protection|gatekeeper|smartscreen|xprotect|system integrity protection)\b|\badd (a|an) (exclusion|exception) (to|in|for) (defender|windows defender|the antivirus|your antivirus)\b",
    )
});
static PI9_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\bauto ?approve\b|\badd( \S+){0,6} to (the )?(permissions )?allow( list)?\b|\bdisable (the )?(sandbox|confirmations?|approvals?|safety checks?|guardrails?|permission prompts?)\b|\brun( this| it| everything| all commands| the script| commands)? as root\b",
    )
});

/// PI-009: permission and security-control bypass.
pub fn pi009(s: &Sentence) -> Option<usize> {
    if let Some(m) = PI9_FLAGS.find(&s.norm) {
        return Some(s.tok_at_norm(m.start()));
    }
    let m = PI9_WORDS.find(&s.tstr).or_else(|| DEFENDER.find(&s.tstr))?;
    Some(s.tok_at_tstr(m.start()))
}

static PI10_FROM: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(message|instruction|notice|update|directive)s? from (anthropic|openai|the system|the developers?|the administrator|the admin|tank|the registry)\b",
    )
});
static PI10_APPROVED: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(skill|package|tool|code) (has been|was|is) (approved|verified|vetted|certified|whitelisted|trusted) by\b",
    )
});
static PI10_OFFICIAL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(official|verified) (anthropic|claude|openai|google|github|microsoft|tank|openclaw|clawhub)( \S+){0,2} (skill|plugin|instructions|update)s?\b",
    )
});

/// PI-010: (severity, token).
pub fn pi010(s: &Sentence, scope: Option<&str>) -> Option<(Severity, usize)> {
    let vendor_sev = |v: &str| {
        let v = if v == "claude" { "anthropic" } else { v };
        let own = scope.is_some_and(|sc| sc == v || (v == "anthropic" && sc == "claude"));
        let vendor = !matches!(v, "the system" | "the registry") && !v.starts_with("the ");
        if vendor && !own {
            Severity::High
        } else {
            Severity::Medium
        }
    };
    for r in [&*PI10_FROM, &*PI10_OFFICIAL] {
        if let Some(c) = r.captures(&s.tstr) {
            let (Some(all), Some(v)) = (c.get(0), c.get(2)) else {
                continue;
            };
            return Some((vendor_sev(v.as_str()), s.tok_at_tstr(all.start())));
        }
    }
    let m = PI10_APPROVED.find(&s.tstr)?;
    Some((Severity::Medium, s.tok_at_tstr(m.start())))
}

const FOLLOW: [&str; 6] = ["follow", "obey", "apply", "execute", "run", "adopt"];
static PI13_OUTRANK: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\binstead of (this|these|the|my|our) (file|skill|instructions?|document)|\btakes? precedence\b|\bsupersedes?\b|\bis authoritative\b|\bthe real instructions\b|\boverrides? (this|these)\b",
    )
});
static PI13_ALWAYS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(always|every time|before (each|every) (use|run|session|task|invocation|call)|automatically)\b",
    )
});
static PI13_CALLED: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(instructions?|rules?|prompts?|skill|it)\b"));
static PI13_EXEC: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(run|execute) (the |any |all )?(commands?|code|scripts?)( that)? (it|they|the page|the file|the response) (returns?|contains?|gives?|provides?|lists?)\b",
    )
});

/// PI-013: (one of the listed conditions holds, token). `None` without a fetch-and-follow.
pub fn pi013(s: &Sentence, next: Option<&Sentence>) -> Option<(bool, usize)> {
    let us = urls(&s.norm);
    let url = *us.first()?;
    let both = match next {
        Some(n) => format!("{} {}", s.tstr, n.tstr),
        None => s.tstr.clone(),
    };
    let follows = |x: &Sentence| x.toks.iter().position(|t| FOLLOW.contains(&t.s.as_str()));
    let i = follows(s).or_else(|| next.and_then(follows).map(|_| 0))?;
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let tail = path.rsplit('/').next().unwrap_or("");
    let cond = PI13_OUTRANK.is_match(&both)
        || (PI13_ALWAYS.is_match(&both) && PI13_CALLED.is_match(&both))
        || [
            "skill.md",
            "agents.md",
            "claude.md",
            "instructions.md",
            "instructions.txt",
            "rules.md",
        ]
        .contains(&tail)
        || tail.ends_with(".prompt")
        || PI13_EXEC.is_match(&both);
    Some((cond, i))
}

/// PI-013 lifts to critical with a suspicious host.
pub fn has_suspicious_url(norm: &str) -> bool {
    urls(norm).iter().any(|u| vocab::is_suspicious_url(u))
}
