//! File reads and writes in JS/TS (SPEC §8.3): CODE-004 (a read of a CRED path), CODE-005 (persistence
//! targets), CODE-007 (writes onto the package's own files or into agent skill directories) and the
//! constant write targets MAN-003 reads from `Capabilities`.

use super::fold::{DYN, PKG, Val, arg, to_json};
use super::taint::{DECODED, NET};
use super::{AST, Js, line_of};
use crate::scan::report::Severity;
use crate::scan::{StageError, agent, vocab};
use tree_sitter::Node;

/// (path argument, data argument) of a read or write API.
enum FsOp {
    Read(usize),
    /// Source read, destination written (copy).
    Copy,
    Write(usize, Option<usize>),
}

fn fs_op(q: &str) -> Option<FsOp> {
    let q = q
        .strip_prefix("fs.promises.")
        .map_or_else(|| q.to_string(), |rest| format!("fs.{rest}"));
    Some(match q.as_str() {
        "fs.readFileSync"
        | "fs.readFile"
        | "fs.createReadStream"
        | "fs.openSync"
        | "fs.open"
        | "fs.readJson"
        | "fs.readJsonSync"
        | "fs.readJSON"
        | "Bun.file"
        | "Deno.readTextFile"
        | "Deno.readTextFileSync"
        | "Deno.readFile"
        | "Deno.readFileSync"
        | "Deno.open"
        | "fs.readdirSync"
        | "fs.readdir"
        | "fs.opendir"
        | "fs.opendirSync" => FsOp::Read(0),
        "fs.copyFileSync" | "fs.copyFile" | "fs.cpSync" | "fs.cp" | "fs.copy" | "fs.copySync"
        | "Deno.copyFile" => FsOp::Copy,
        "fs.writeFileSync"
        | "fs.writeFile"
        | "fs.appendFileSync"
        | "fs.appendFile"
        | "fs.outputFile"
        | "fs.outputFileSync"
        | "fs.writeJson"
        | "fs.writeJsonSync"
        | "fs.outputJson"
        | "Bun.write"
        | "Deno.writeTextFile"
        | "Deno.writeTextFileSync"
        | "Deno.writeFile"
        | "Deno.writeFileSync" => FsOp::Write(0, Some(1)),
        "fs.createWriteStream" => FsOp::Write(0, None),
        "fs.symlinkSync" | "fs.symlink" | "fs.linkSync" | "fs.link" | "fs.renameSync"
        | "fs.rename" | "fs.moveSync" | "fs.move" | "Deno.symlink" | "Deno.rename" => {
            FsOp::Write(1, Some(0))
        }
        _ => return None,
    })
}

/// Forward slashes, `./` and doubled slashes removed, home spellings folded (§8.2).
fn norm(p: &str) -> String {
    let mut s = vocab::fold_home(p);
    while s.contains("//") {
        s = s.replace("//", "/");
    }
    s = s.replace("/./", "/");
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

/// CODE-005 target: (severity, counts only for constant / decoded / downloaded text).
fn persistence(path: &str) -> Option<(Severity, bool)> {
    let p = path
        .strip_prefix(PKG)
        .map_or(path, |r| r.trim_start_matches('/'));
    let lower = p.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    const RC: [&str; 7] = [
        "~/.bashrc",
        "~/.zshrc",
        "~/.profile",
        "~/.bash_profile",
        "~/.zprofile",
        "~/.config/fish/config.fish",
        "~/.ssh/authorized_keys",
    ];
    const DIRS: [&str; 6] = [
        "~/library/launchagents/",
        "/library/launchdaemons/",
        "/etc/systemd/",
        "~/.config/systemd/user/",
        "~/.config/autostart/",
        "/etc/cron",
    ];
    const USER_CONFIG: [&str; 8] = [
        "~/.claude/settings.json",
        "~/.claude.json",
        "~/.codex/config.toml",
        "~/.gemini/settings.json",
        "~/.cursor/mcp.json",
        "~/.cursor/hooks.json",
        "~/.codeium/windsurf/mcp_config.json",
        "~/.openclaw/openclaw.json",
    ];
    const USER_AGENT_DIRS: [&str; 5] = [
        "~/.claude/",
        "~/.codex/",
        "~/.gemini/",
        "~/.openclaw/",
        "~/.clawdbot/",
    ];
    const INSTRUCTIONS: [&str; 7] = [
        "claude.md",
        "claude.local.md",
        "agents.md",
        "gemini.md",
        ".cursorrules",
        ".windsurfrules",
        ".clinerules",
    ];
    if RC.contains(&lower.as_str())
        || DIRS.iter().any(|d| lower.starts_with(d))
        || lower.contains(".git/hooks/")
        || USER_CONFIG.contains(&lower.as_str())
        || name == "claude_desktop_config.json"
    {
        return Some((Severity::High, false));
    }
    if lower.ends_with(".vscode/tasks.json") {
        return Some((Severity::High, false));
    }
    if !lower.starts_with('~') && agent::is_agent_config_name(&lower) {
        return Some((Severity::Medium, false));
    }
    let user_agent = USER_AGENT_DIRS.iter().any(|d| lower.starts_with(d));
    let memory = matches!(name, "soul.md" | "memory.md")
        || ((lower.starts_with("~/.openclaw/") || lower.starts_with("~/.clawdbot/"))
            && (matches!(name, "user.md" | "identity.md" | "heartbeat.md")
                || (lower.contains("/memory/") && name.ends_with(".md"))));
    if memory {
        return Some((Severity::High, true));
    }
    let instruction = INSTRUCTIONS.contains(&name)
        || lower.contains(".cursor/rules/")
        || lower.ends_with(".github/copilot-instructions.md")
        || lower.contains(".github/instructions/");
    if user_agent
        && (instruction
            || ((lower.contains("/agents/")
                || lower.contains("/commands/")
                || lower.contains("/prompts/"))
                && name.ends_with(".md")))
    {
        return Some((Severity::High, true));
    }
    if instruction {
        return Some((Severity::Medium, true));
    }
    None
}

/// CODE-007 target: the package's own SKILL.md, manifest or code (paths built from `__dirname` and
/// friends), or an agent skill directory (§8.2).
fn self_target(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    if path.starts_with(PKG) {
        const OWN: [&str; 5] = [
            "skill.md",
            "tank.json",
            "skills.json",
            "skill.json",
            "package.json",
        ];
        const CODE: [&str; 13] = [
            ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".mts", ".cts", ".py", ".sh", ".bash",
            ".zsh", ".ps1",
        ];
        if OWN.contains(&name) || CODE.iter().any(|e| name.ends_with(e)) || name == "\u{1}self" {
            return true;
        }
    }
    const SKILL_ROOTS: [&str; 5] = [
        ".claude/",
        ".codex/",
        ".openclaw/",
        ".clawdbot/",
        ".openclaw/workspace/",
    ];
    SKILL_ROOTS.iter().any(|r| {
        ["skills/", "plugins/"].iter().any(|s| {
            let needle = format!("{r}{s}");
            lower.starts_with(&needle) || lower.contains(&format!("/{needle}"))
        })
    })
}

impl<'t> Js<'_, 't> {
    fn defines_high_config_item(&self, data: Node<'t>) -> bool {
        let json = match self.cx.fold(data) {
            Some(Val::Str(s)) => agent::parse_jsonc(&s),
            Some(v @ Val::Obj(_)) => Some(to_json(&v)),
            _ => None,
        };
        let Some(v) = json else { return false };
        let it = agent::ConfigItems::from_json(&v, true);
        !it.hooks.is_empty()
            || it.allow.iter().any(|a| agent::is_broad_grant(a))
            || !it.mcp_commands.is_empty()
            || !it.helpers.is_empty()
            || it.enable_all_mcp
            || it.enabled_mcpjson
            || it.env.iter().any(|(k, _)| agent::is_hijack_env(k))
    }

    /// The paths a read may open: every folded value, else the partly folded path when its directory
    /// is constant (`path.join(EXT_DIR, file)` under a wallet extension's storage, chosen).
    pub(super) fn path_candidates(&self, a: Node<'t>) -> Vec<String> {
        let all = self.cx.fold_strings(a);
        if !all.is_empty() {
            return all.iter().map(|p| norm(p)).collect();
        }
        let partial = self.cx.fold_partial(a);
        match partial.find(DYN) {
            Some(i) if partial[..i].contains('/') && !partial[..i].starts_with(DYN) => {
                vec![norm(&partial)]
            }
            _ => Vec::new(),
        }
    }

    pub(super) fn fs_call(&mut self, n: Node<'t>, q: &str) -> Result<(), StageError> {
        let Some(op) = fs_op(q) else { return Ok(()) };
        let line = line_of(n);
        let (read, write, data) = match op {
            FsOp::Read(i) => (Some(i), None, None),
            FsOp::Copy => (Some(0), Some(1), Some(0)),
            FsOp::Write(i, d) => (None, Some(i), d),
        };
        if let Some(i) = read
            && let Some(a) = arg(n, i)
        {
            let cred = self
                .path_candidates(a)
                .into_iter()
                .find(|p| vocab::is_cred_path(p));
            if let Some(p) = cred {
                let ev = self.line_text(line);
                self.emit(
                    "CODE-004",
                    "sensitive_file_read",
                    Severity::High,
                    line,
                    format!("The code reads the credential file `{p}`."),
                    ev,
                    AST,
                );
            }
        }
        let Some(w) = write.and_then(|i| arg(n, i)) else {
            return Ok(());
        };
        let data_node = data.and_then(|i| arg(n, i));
        let data_taint = data_node
            .and_then(|d| self.taints.get(&d.id()).copied())
            .unwrap_or(0);
        let data_special = data_taint & (NET | DECODED) != 0;
        let data_constant = data_node.is_some_and(|d| self.cx.fold(d).is_some());
        for p in self.cx.fold_strings(w).into_iter().map(|p| norm(&p)) {
            self.tick()?;
            let ev = self.line_text(line);
            if let Some((mut sev, needs_text)) = persistence(&p) {
                // A project-level agent configuration whose written constant defines an item STR-010
                // rates high (hooks, broad grants, MCP commands, helpers, hijacking env) is high.
                if sev == Severity::Medium
                    && !needs_text
                    && data_node.is_some_and(|d| self.defines_high_config_item(d))
                {
                    sev = Severity::High;
                }
                // A copy's source is a file: constant content for this purpose (chosen).
                let text_ok = data_constant || data_special || matches!(op, FsOp::Copy);
                if !needs_text || text_ok {
                    self.emit(
                        "CODE-005",
                        "persistence",
                        sev,
                        line,
                        format!(
                            "The code writes to `{}`, which runs or instructs agents later.",
                            super::reportable(&p)
                        ),
                        ev,
                        AST,
                    );
                }
                continue;
            }
            if self_target(&p) {
                let sev = if data_special {
                    Severity::High
                } else {
                    Severity::Medium
                };
                self.emit(
                    "CODE-007",
                    "self_modification",
                    sev,
                    line,
                    format!(
                        "The code rewrites its own package files or an agent skill directory (`{}`).",
                        super::reportable(&p)
                    ),
                    ev,
                    AST,
                );
                continue;
            }
            // MAN-003 capability: a constant absolute, `~`-based or `..`-escaping path.
            if !p.contains(DYN)
                && !p.starts_with(PKG)
                && (p.starts_with('/') || p.starts_with('~') || p.starts_with(".."))
            {
                self.fs_write(p, line);
            }
        }
        Ok(())
    }
}
