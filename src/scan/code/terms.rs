//! Language-neutral command and path terms of stage 2 (SPEC §8.3): installer command lines (SUP-001),
//! agent CLIs and their flags (CODE-009), persistence targets (CODE-005), agent skill directories
//! (CODE-007) and recipient keys (CODE-008). Inputs are folded argv words (`None` = not constant).

use crate::scan::report::Severity;
use crate::scan::vocab::{self, is_cred_path, is_env_file};

fn base(w: &str) -> String {
    w.rsplit(['/', '\\'])
        .next()
        .unwrap_or(w)
        .to_ascii_lowercase()
}

fn is_python(p: &str) -> bool {
    p == "python"
        || p == "python2"
        || p == "python3"
        || p == "py"
        || p == "pypy3"
        || p.strip_prefix("python3.")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Strips `sudo`, `env VAR=…`, `command`, `exec`, `nohup` and `time` wrappers (§8.2 shell terms).
pub fn strip_wrappers(mut w: &[Option<String>]) -> &[Option<String>] {
    for _ in 0..8 {
        let Some(Some(first)) = w.first() else { break };
        let b = base(first);
        if matches!(
            b.as_str(),
            "sudo" | "env" | "command" | "exec" | "nohup" | "time"
        ) {
            w = &w[1..];
            while let Some(Some(x)) = w.first() {
                if x.starts_with('-') || (b == "env" && x.contains('=')) {
                    w = &w[1..];
                } else {
                    break;
                }
            }
        } else {
            break;
        }
    }
    w
}

/// The first word after the program that is not an option.
fn subcommand(rest: &[Option<String>]) -> Option<&str> {
    rest.iter()
        .map(|w| w.as_deref())
        .find(|w| !w.is_some_and(|s| s.starts_with('-')))
        .flatten()
}

/// SUP-001: the argv runs a package installer (§8.3 SUP-001 list).
pub fn is_installer(argv: &[Option<String>]) -> bool {
    let argv = strip_wrappers(argv);
    let Some(Some(prog)) = argv.first() else {
        return false;
    };
    let mut p = base(prog);
    let mut rest = &argv[1..];
    if is_python(&p) {
        // `python -m pip install …`: the module becomes the program.
        let mut i = 0;
        while let Some(Some(w)) = rest.get(i) {
            if w == "-m" {
                match rest.get(i + 1) {
                    Some(Some(m)) => {
                        p = m.to_ascii_lowercase();
                        rest = &rest[i + 2..];
                        break;
                    }
                    _ => return false,
                }
            } else if w.starts_with('-') {
                i += 1;
            } else {
                return false;
            }
        }
        if is_python(&p) {
            return false;
        }
    }
    let sub = subcommand(rest);
    let has = |f: &str| rest.iter().any(|w| w.as_deref() == Some(f));
    match p.as_str() {
        "ensurepip" => true,
        "pip" | "pip3" => sub == Some("install"),
        _ if p.starts_with("pip3.") => sub == Some("install"),
        "uv" => {
            let words: Vec<&str> = rest.iter().filter_map(|w| w.as_deref()).collect();
            words
                .windows(2)
                .any(|x| x == ["pip", "install"] || x == ["tool", "install"])
                || sub == Some("add")
        }
        "pipx" => matches!(sub, Some("install" | "run")),
        "poetry" => sub == Some("add"),
        "conda" | "mamba" => sub == Some("install"),
        "npm" => matches!(sub, Some("install" | "i" | "add")),
        "yarn" => sub == Some("add"),
        "pnpm" | "bun" => matches!(sub, Some("add" | "install" | "i")),
        "npx" => has("-y") || has("--yes"),
        "go" | "cargo" | "gem" => sub == Some("install"),
        _ => false,
    }
}

/// CODE-009: the argv runs an AI agent CLI. Returns the arguments after the program.
pub fn agent_cli_args(argv: &[Option<String>]) -> Option<&[Option<String>]> {
    let argv = strip_wrappers(argv);
    let prog = base(argv.first()?.as_deref()?);
    if crate::scan::vocab::AGENT_CLIS.contains(&prog.as_str()) {
        return Some(&argv[1..]);
    }
    if prog == "q" && argv.get(1)?.as_deref() == Some("chat") {
        return Some(&argv[2..]);
    }
    let runner = matches!(prog.as_str(), "npx" | "bunx")
        || (prog == "pnpm" && argv.get(1).and_then(|w| w.as_deref()) == Some("dlx"));
    if runner {
        let i = argv.iter().skip(1).position(|w| {
            w.as_deref().is_some_and(|s| {
                let name = match s.rfind('@') {
                    Some(at) if at > 0 => &s[..at],
                    _ => s,
                };
                crate::scan::vocab::AGENT_PACKAGES.contains(&name)
            })
        })?;
        return argv.get(i + 2..);
    }
    None
}

fn is_bypass_flag(w: &str, next: Option<&str>) -> bool {
    let l = w.to_ascii_lowercase();
    if !l.starts_with('-') {
        return false;
    }
    if l == "-y" || l == "--yes-always" {
        return true;
    }
    if (l == "--permission-mode" && next == Some("bypassPermissions"))
        || (l == "--approval-mode" && next == Some("yolo"))
        || l == "--permission-mode=bypasspermissions"
        || l == "--approval-mode=yolo"
    {
        return true;
    }
    [
        "yolo",
        "skip-permissions",
        "bypass",
        "trust-all",
        "allow-all-tools",
    ]
    .iter()
    .any(|k| l.contains(k))
}

/// A prompt that pairs a collecting verb with a CRED path, an ENV file or a wallet / key term (§8.3
/// CODE-009 critical clause).
pub fn is_collecting_prompt(p: &str) -> bool {
    let l = p.to_ascii_lowercase();
    let tokens: Vec<&str> = l
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '\'')
        .filter(|t| !t.is_empty())
        .collect();
    let verb = tokens.iter().any(|t| vocab::COLLECT_VERBS.contains(t));
    let target = vocab::WALLET_TERMS.iter().any(|t| l.contains(t))
        || l.contains(".env")
        || l.split_whitespace().any(|w| {
            let w = w.trim_matches(|c: char| "\"'`,;:()".contains(c));
            is_cred_path(w) || is_env_file(w)
        });
    verb && target
}

/// CODE-009 severity from the arguments after the agent program (§8.3): critical for an approval-bypass
/// flag or a collecting constant prompt; high for a broad tool grant or a prompt from the network.
pub fn agent_cli_severity(args: &[Option<String>], net_prompt: bool) -> Severity {
    let words: Vec<Option<&str>> = args.iter().map(|w| w.as_deref()).collect();
    for (i, w) in words.iter().enumerate() {
        if let Some(w) = w
            && is_bypass_flag(w, words.get(i + 1).copied().flatten())
        {
            return Severity::Critical;
        }
    }
    if words
        .iter()
        .flatten()
        .any(|w| !w.starts_with('-') && is_collecting_prompt(w))
    {
        return Severity::Critical;
    }
    let broad = words.iter().flatten().any(|w| {
        let l = w.to_ascii_lowercase();
        l.starts_with("--allowedtools") || l.starts_with("--allowed-tools")
    });
    if broad || net_prompt {
        Severity::High
    } else {
        Severity::Medium
    }
}

/// Where a CODE-005 write lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persist {
    /// Shell start-up files, cron, launch agents, systemd, git hooks, user-level agent configuration.
    High,
    /// Project-level agent configuration file (by name) or `.vscode/tasks.json`.
    ProjectConfig,
    /// User-level agent instruction file or agent memory file (only constant/decoded/network text counts).
    UserInstructions,
    /// Project-level agent instruction file (only constant/decoded/network text counts).
    ProjectInstructions,
}

const HIGH_TARGETS: [&str; 12] = [
    "~/.bashrc",
    "~/.zshrc",
    "~/.profile",
    "~/.bash_profile",
    "~/.config/fish/config.fish",
    "~/.ssh/authorized_keys",
    "~/.claude/settings.json",
    "~/.claude.json",
    "~/.codex/config.toml",
    "~/.gemini/settings.json",
    "~/.cursor/mcp.json",
    "~/.cursor/hooks.json",
];
const HIGH_PREFIXES: [&str; 6] = [
    "/etc/cron",
    "~/Library/LaunchAgents/",
    "/Library/LaunchDaemons/",
    "/etc/systemd/",
    "~/.config/systemd/user/",
    "~/.config/autostart/",
];
const INSTRUCTION_NAMES: [&str; 7] = [
    "CLAUDE.md",
    "CLAUDE.local.md",
    "AGENTS.md",
    "GEMINI.md",
    ".cursorrules",
    ".windsurfrules",
    ".clinerules",
];
const USER_AGENT_DIRS: [&str; 5] = [
    "~/.claude/",
    "~/.codex/",
    "~/.gemini/",
    "~/.openclaw/",
    "~/.clawdbot/",
];

/// CODE-005: the persistence class of a folded write target (after `~` folding), if any.
pub fn persistence_target(path: &str) -> Option<Persist> {
    let p = crate::scan::vocab::fold_home(path);
    let p = p.strip_prefix("./").unwrap_or(&p);
    let name = p.rsplit('/').next().unwrap_or(p);
    if HIGH_TARGETS.contains(&p)
        || HIGH_PREFIXES.iter().any(|x| p.starts_with(x))
        || p.contains(".git/hooks/")
        || p.ends_with("claude_desktop_config.json")
        || p == "~/.codeium/windsurf/mcp_config.json"
        || p == "~/.openclaw/openclaw.json"
    {
        return Some(Persist::High);
    }
    let user = USER_AGENT_DIRS.iter().any(|d| p.starts_with(d));
    let memory = name == "SOUL.md"
        || name == "MEMORY.md"
        || (p.starts_with("~/.openclaw/") || p.starts_with("~/.clawdbot/"))
            && (matches!(name, "USER.md" | "IDENTITY.md" | "HEARTBEAT.md")
                || p.contains("/memory/"));
    let instruction = INSTRUCTION_NAMES.contains(&name)
        || p.contains(".cursor/rules/")
        || p.ends_with(".github/copilot-instructions.md")
        || p.contains(".github/instructions/");
    if memory || (user && (instruction || p.contains("/agents/") || p.contains("/commands/"))) {
        return Some(Persist::UserInstructions);
    }
    if instruction {
        return Some(Persist::ProjectInstructions);
    }
    if crate::scan::agent::is_agent_config_name(p) || p.ends_with(".vscode/tasks.json") {
        return Some(Persist::ProjectConfig);
    }
    None
}

/// Programs whose run is persistence (§8.3 CODE-005 "running crontab, launchctl load …").
pub fn is_persistence_command(argv: &[Option<String>]) -> bool {
    let argv = strip_wrappers(argv);
    let words: Vec<String> = argv
        .iter()
        .map(|w| w.as_deref().unwrap_or("").to_ascii_lowercase())
        .collect();
    let Some(p) = words.first().map(|w| base(w)) else {
        return false;
    };
    let has = |x: &str| words.iter().skip(1).any(|w| w == x);
    match p.as_str() {
        "crontab" => !has("-l"),
        "launchctl" => has("load") || has("bootstrap"),
        "systemctl" => has("--user") && has("enable"),
        "schtasks" => has("/create"),
        "reg" | "reg.exe" => has("add") && words.iter().any(|w| w.ends_with("\\run")),
        _ => false,
    }
}

/// An agent skill directory (§8.2) write target for CODE-007.
pub fn is_agent_skill_dir(path: &str) -> bool {
    let p = crate::scan::vocab::fold_home(path);
    [
        "~/.claude/",
        ".claude/",
        "~/.codex/",
        "~/.openclaw/",
        "~/.clawdbot/",
    ]
    .iter()
    .any(|root| {
        p.strip_prefix(root).is_some_and(|rest| {
            rest.starts_with("skills/")
                || rest.starts_with("plugins/")
                || rest.starts_with("workspace/skills/")
        })
    })
}

/// A recipient key of CODE-008 (any case, `-`/`_` ignored).
pub fn is_recipient_key(k: &str) -> bool {
    let n: String = k
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(
        n.as_str(),
        "to" | "cc"
            | "bcc"
            | "recipients"
            | "forwardto"
            | "replyto"
            | "chatid"
            | "webhook"
            | "webhookurl"
    )
}

/// A CODE-008 placeholder recipient (note): `<…>`, `{…}`, `your_`/`your-`, reserved example domains.
pub fn is_placeholder_recipient(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    if (l.contains('<') && l.contains('>'))
        || (l.contains('{') && l.contains('}'))
        || l.contains("your_")
        || l.contains("your-")
    {
        return true;
    }
    let domain = recipient_domain(&l).unwrap_or_default();
    ["example.com", "example.org", "example.net"]
        .iter()
        .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
        || domain.ends_with(".invalid")
        || domain == "localhost"
}

/// The domain of an e-mail address or URL recipient.
pub fn recipient_domain(v: &str) -> Option<String> {
    if let Some((_, d)) = v.rsplit_once('@') {
        return Some(d.trim_end_matches('>').to_ascii_lowercase());
    }
    url::Url::parse(v)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
}

/// A constant that looks like a recipient: an e-mail address, a phone number, a chat id or a URL.
pub fn looks_like_recipient(v: &str) -> bool {
    let t = v.trim();
    (t.contains('@') && t.contains('.'))
        || t.starts_with("https://")
        || t.starts_with("http://")
        || (t.len() >= 5
            && t.trim_start_matches(['+', '-'])
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b' ' || b == b'-'))
}
