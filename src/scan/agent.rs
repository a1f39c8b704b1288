//! Agent and IDE file vocabulary of SPEC §8.2 ("Agent files"), shared by STR-010, STR-012 and STR-013 now
//! and by later stages (PI-009, CODE-005): which paths are agent configuration or IDE auto-run files, what
//! a broad tool grant is, which env names hijack traffic, and a lenient JSON-with-comments reader.

use serde_json::Value;

/// Agent configuration files recognised by name at any depth (§8.2).
const CONFIG_NAMES: [&str; 9] = [
    ".claude/settings.json",
    ".claude/settings.local.json",
    ".mcp.json",
    ".cursor/mcp.json",
    ".cursor/hooks.json",
    ".vscode/mcp.json",
    ".codex/config.toml",
    ".gemini/settings.json",
    "hooks/hooks.json",
];

/// True when `path` ends with `suffix` at a segment boundary.
fn ends_with_segments(path: &str, suffix: &str) -> bool {
    path == suffix || path.ends_with(&format!("/{suffix}"))
}

/// An agent configuration file by name (§8.2).
pub fn is_agent_config_name(path: &str) -> bool {
    CONFIG_NAMES.iter().any(|n| ends_with_segments(path, n))
}

/// The IDE auto-run files of §8.2 / STR-013.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdeFile {
    VscodeTasks,
    VscodeSettings,
    Devcontainer,
}

pub fn ide_file(path: &str) -> Option<IdeFile> {
    if ends_with_segments(path, ".vscode/tasks.json") {
        Some(IdeFile::VscodeTasks)
    } else if ends_with_segments(path, ".vscode/settings.json") {
        Some(IdeFile::VscodeSettings)
    } else if ends_with_segments(path, ".devcontainer/devcontainer.json")
        || ends_with_segments(path, ".devcontainer.json")
    {
        Some(IdeFile::Devcontainer)
    } else {
        None
    }
}

const FETCHERS: [&str; 14] = [
    "curl",
    "wget",
    "fetch",
    "http",
    "https",
    "aria2c",
    "iwr",
    "invoke-webrequest",
    "irm",
    "invoke-restmethod",
    "start-bitstransfer",
    "certutil",
    "bitsadmin",
    "nc",
];
const OTHERS: [&str; 8] = ["sudo", "eval", "env", "xargs", "npx", "bunx", "uvx", "pipx"];

/// A program that, given any arguments, can run anything (§8.2 "Broad tool grant").
pub fn is_open_program(p: &str) -> bool {
    let p = p.rsplit('/').next().unwrap_or(p).to_ascii_lowercase();
    let p = p.strip_suffix(".exe").unwrap_or(&p);
    super::vocab::SHELLS.contains(&p)
        || super::vocab::is_interpreter(p)
        || FETCHERS.contains(&p)
        || OTHERS.contains(&p)
}

/// §8.2 broad tool grant: `*`, `Bash`, `Bash(*)`, `Bash(:*)`, or `Bash(<p>…)` letting `<p>` take any
/// arguments where `<p>` is a shell, interpreter, fetcher, `sudo`, `eval`, `env`, `xargs`, `npx`, `bunx`,
/// `uvx` or `pipx`. Tool names compare case-insensitively.
pub fn is_broad_grant(entry: &str) -> bool {
    let e = entry.trim().trim_matches(|c| c == '"' || c == '\'');
    if e == "*" || e.eq_ignore_ascii_case("bash") {
        return true;
    }
    let Some(open) = e.find('(') else {
        return false;
    };
    if !e[..open].trim().eq_ignore_ascii_case("bash") || !e.ends_with(')') {
        return false;
    }
    let inner = e[open + 1..e.len() - 1].trim();
    if matches!(inner, "" | "*" | ":*" | "**") {
        return true;
    }
    let end = inner.find([' ', ':', '*']).unwrap_or(inner.len());
    let (prog, rest) = inner.split_at(end);
    if !is_open_program(prog) {
        return false;
    }
    // Any arguments: `p:*`, `p *`, `p*`, `p:` …; with one fixed `-c`/`-e` flag the code is still free.
    let rest = rest.trim();
    let rest = rest
        .strip_prefix("-c")
        .or_else(|| rest.strip_prefix("-e"))
        .map(str::trim)
        .unwrap_or(rest);
    matches!(rest, ":*" | "*" | ":" | ": *" | "**")
}

/// A tool-permission entry (§8.2 shape detection): `Bash`, `Read`, `Edit`, `Write`, `WebFetch`, `mcp__…` or
/// `<Tool>(…)`.
pub fn is_tool_permission(entry: &str) -> bool {
    let e = entry.trim();
    matches!(e, "Bash" | "Read" | "Edit" | "Write" | "WebFetch")
        || e.starts_with("mcp__")
        || (e.ends_with(')')
            && e.find('(').is_some_and(|i| {
                i > 0
                    && e[..i]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
            }))
}

/// §8.2 hijacking env names.
pub fn is_hijack_env(name: &str) -> bool {
    let u = name.to_ascii_uppercase();
    is_url_hijack_env(name)
        || matches!(
            u.as_str(),
            "NODE_OPTIONS"
                | "NODE_EXTRA_CA_CERTS"
                | "NODE_TLS_REJECT_UNAUTHORIZED"
                | "SSL_CERT_FILE"
                | "REQUESTS_CA_BUNDLE"
                | "PYTHONSTARTUP"
                | "LD_PRELOAD"
                | "DYLD_INSERT_LIBRARIES"
                | "BASH_ENV"
                | "PROMPT_COMMAND"
                | "GIT_SSH_COMMAND"
                | "GIT_ASKPASS"
                | "SSH_ASKPASS"
                | "ANTHROPIC_API_KEY"
                | "ANTHROPIC_AUTH_TOKEN"
                | "OPENAI_API_KEY"
        )
}

/// The URL-valued hijacking names: `*_BASE_URL`, `OPENAI_API_BASE` and the proxies (any case).
pub fn is_url_hijack_env(name: &str) -> bool {
    let u = name.to_ascii_uppercase();
    u.ends_with("_BASE_URL")
        || matches!(
            u.as_str(),
            "OPENAI_API_BASE" | "HTTP_PROXY" | "HTTPS_PROXY" | "ALL_PROXY"
        )
}

/// The host of the first `http(s)://` URL in `s`, lower-cased.
pub fn url_hosts(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lower = s.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("://") {
        let at = from + i;
        let scheme_start = lower[..at]
            .rfind(|c: char| !c.is_ascii_alphanumeric() && c != '+')
            .map(|j| j + 1)
            .unwrap_or(0);
        let scheme = &lower[scheme_start..at];
        let rest = &lower[at + 3..];
        let auth = rest
            .split(['/', '?', '#', '"', '\'', ' ', '`', ')', '\\'])
            .next()
            .unwrap_or("");
        let hp = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
        let host = if hp.starts_with('[') {
            hp.split(']')
                .next()
                .map(|h| format!("{h}]"))
                .unwrap_or_default()
        } else {
            hp.split(':').next().unwrap_or("").to_string()
        };
        if matches!(scheme, "http" | "https" | "ws" | "wss") && !host.is_empty() {
            out.push(host);
        }
        from = at + 3;
    }
    out
}

pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_end_matches('.');
    h == "localhost"
        || h.ends_with(".localhost")
        || h.starts_with("127.")
        || h == "[::1]"
        || h == "::1"
        || h == "0.0.0.0"
}

/// Names of fetchers and network APIs for STR-010's prompt-hook rule.
pub fn mentions_network(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    if url_hosts(&lower).iter().any(|h| !is_loopback(h)) {
        return true;
    }
    let word = |w: &str| {
        lower.match_indices(w).any(|(i, _)| {
            let before = lower[..i].chars().next_back();
            let after = lower[i + w.len()..].chars().next();
            !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    ["curl", "wget", "socket", "urllib", "axios"]
        .iter()
        .any(|w| word(w))
        || [
            "fetch(",
            "requests.",
            "httpx.",
            "http.request",
            "https.request",
        ]
        .iter()
        .any(|w| lower.contains(w))
}

/// Parses JSON that may hold `//` and `/* */` comments and trailing commas (VS Code style).
pub fn parse_jsonc(text: &str) -> Option<Value> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Ok(v) = serde_json::from_str(text) {
        return Some(v);
    }
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut in_str = false;
    let mut seg_start = 0;
    while i < b.len() {
        let c = b[i];
        if in_str {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => {
                in_str = true;
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                out.push_str(&text[seg_start..i]);
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                seg_start = i;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                out.push_str(&text[seg_start..i]);
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i = (i + 2).min(b.len());
                seg_start = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[seg_start.min(text.len())..]);
    // Trailing commas: a `,` followed (after whitespace) by `}` or `]`, outside strings.
    let ob = out.as_bytes();
    let mut cleaned = String::with_capacity(out.len());
    let mut in_str = false;
    let mut j = 0;
    let mut last = 0;
    while j < ob.len() {
        let c = ob[j];
        if in_str {
            if c == b'\\' {
                j += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
        } else if c == b'"' {
            in_str = true;
        } else if c == b',' {
            let next = ob[j + 1..].iter().find(|x| !x.is_ascii_whitespace());
            if matches!(next, Some(b'}') | Some(b']')) {
                cleaned.push_str(&out[last..j]);
                last = j + 1;
            }
        }
        j += 1;
    }
    cleaned.push_str(&out[last.min(out.len())..]);
    serde_json::from_str(&cleaned).ok()
}

/// What an agent configuration file defines (STR-010).
#[derive(Debug, Default)]
pub struct ConfigItems {
    /// (event name, command strings).
    pub hooks: Vec<(String, Vec<String>)>,
    pub allow: Vec<String>,
    pub default_mode: Option<String>,
    pub mcp_commands: Vec<String>,
    pub helpers: Vec<String>,
    pub enable_all_mcp: bool,
    pub enabled_mcpjson: bool,
    pub env: Vec<(String, String)>,
}

impl ConfigItems {
    /// `by_name`: the file is an agent configuration by name; only then does VS Code's `servers` key
    /// (`.vscode/mcp.json`) count as MCP servers.
    pub fn from_json(v: &Value, by_name: bool) -> ConfigItems {
        let mut it = ConfigItems::default();
        if let Some(h) = v.get("hooks").and_then(Value::as_object) {
            for (event, arr) in h {
                let mut cmds = Vec::new();
                collect_hook_commands(arr, &mut cmds, 0);
                if !cmds.is_empty() {
                    it.hooks.push((event.clone(), cmds));
                }
            }
        }
        if let Some(p) = v.get("permissions") {
            if let Some(a) = p.get("allow").and_then(Value::as_array) {
                it.allow = a
                    .iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect();
            }
            it.default_mode = p
                .get("defaultMode")
                .and_then(Value::as_str)
                .map(String::from);
        }
        let keys: &[&str] = if by_name {
            &["mcpServers", "mcp_servers", "servers"]
        } else {
            &["mcpServers", "mcp_servers"]
        };
        for key in keys {
            if let Some(servers) = v.get(key).and_then(Value::as_object) {
                for s in servers.values() {
                    if let Some(c) = s.get("command").and_then(Value::as_str) {
                        let args: Vec<&str> = s
                            .get("args")
                            .and_then(Value::as_array)
                            .map(|a| a.iter().filter_map(Value::as_str).collect())
                            .unwrap_or_default();
                        it.mcp_commands
                            .push(std::iter::once(c).chain(args).collect::<Vec<_>>().join(" "));
                    }
                }
            }
        }
        for key in [
            "apiKeyHelper",
            "awsAuthRefresh",
            "awsCredentialExport",
            "otelHeadersHelper",
            "notify",
        ] {
            if let Some(x) = v.get(key).filter(|x| !x.is_null()) {
                it.helpers.push(format!("{key}: {}", short(x)));
            }
        }
        if let Some(c) = v.get("statusLine").and_then(|s| s.get("command")) {
            it.helpers.push(format!("statusLine.command: {}", short(c)));
        }
        it.enable_all_mcp = v.get("enableAllProjectMcpServers") == Some(&Value::Bool(true));
        it.enabled_mcpjson = v
            .get("enabledMcpjsonServers")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        if let Some(env) = v.get("env").and_then(Value::as_object) {
            for (k, val) in env {
                it.env.push((
                    k.clone(),
                    val.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| val.to_string()),
                ));
            }
        }
        it
    }

    /// §8.2 "by shape": the top level looks like an agent configuration.
    pub fn looks_like_config(&self, v: &Value) -> bool {
        !self.hooks.is_empty()
            || self.allow.iter().any(|e| is_tool_permission(e))
            || self.default_mode.is_some()
            || v.get("apiKeyHelper").is_some()
            || v.get("statusLine").and_then(|s| s.get("command")).is_some()
            || v.get("enableAllProjectMcpServers").is_some()
            || !self.mcp_commands.is_empty()
    }
}

fn short(v: &Value) -> String {
    let s = v
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| v.to_string());
    super::report::truncate_chars(&s, 80)
}

/// Hook arrays hold objects with a `command` string, or a `hooks` array of such objects (Claude's
/// matcher groups).
fn collect_hook_commands(v: &Value, out: &mut Vec<String>, depth: u8) {
    if depth > 3 {
        return;
    }
    match v {
        Value::Array(a) => a
            .iter()
            .for_each(|x| collect_hook_commands(x, out, depth + 1)),
        Value::Object(o) => {
            if let Some(c) = o.get("command").and_then(Value::as_str) {
                out.push(c.to_string());
            }
            if let Some(h) = o.get("hooks") {
                collect_hook_commands(h, out, depth + 1);
            }
        }
        _ => {}
    }
}

/// The directory that holds the agent directory (`a/.claude/settings.json` → `a/`), where hook commands run.
pub fn agent_root(path: &str) -> String {
    let mut segs: Vec<&str> = path.split('/').collect();
    segs.pop();
    if segs
        .last()
        .is_some_and(|s| s.starts_with('.') || *s == "hooks")
    {
        segs.pop();
    }
    if segs.is_empty() {
        String::new()
    } else {
        format!("{}/", segs.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broad_grants() {
        for g in [
            "*",
            "Bash",
            "bash",
            "Bash(*)",
            "Bash(:*)",
            "Bash(curl:*)",
            "Bash(python3 *)",
            "Bash(sudo:*)",
            "Bash(bash -c:*)",
            "Bash(python3.12:*)",
            "Bash(npx:*)",
        ] {
            assert!(is_broad_grant(g), "{g}");
        }
        for g in [
            "Read",
            "Bash(npx prettier:*)",
            "Bash(git status:*)",
            "Bash(git diff:*)",
            "Bash(npm test:*)",
            "Bash(curl)",
            "WebFetch",
        ] {
            assert!(!is_broad_grant(g), "{g}");
        }
    }

    #[test]
    fn jsonc() {
        let v = parse_jsonc("{\n // c\n \"a\": \"x // not a comment\", /* b */ \"b\": [1,2,],\n}")
            .unwrap();
        assert_eq!(v["a"], "x // not a comment");
        assert_eq!(v["b"][1], 2);
    }

    #[test]
    fn hosts_and_network() {
        assert_eq!(
            url_hosts("see https://Relay.Example.net/v1 and http://127.0.0.1:8080/"),
            vec!["relay.example.net", "127.0.0.1"]
        );
        assert!(mentions_network("curl -s x | sh"));
        assert!(!mentions_network(
            "echo http://localhost:3000 done; curling"
        ));
        assert!(is_hijack_env("anthropic_base_url"));
        assert!(!is_hijack_env("LOG_LEVEL"));
    }
}
