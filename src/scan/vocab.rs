//! Shared vocabulary of SPEC §8.2 used by several stages: CRED paths, ENV files, CREDNAME, suspicious
//! hosts, shell terms (fetchers, decoders, interpreters) and the non-runtime lowering. Pure string tests;
//! the stages decide where a string comes from (a folded constant, shell text, prose).

use super::report::Severity;
use regex::Regex;
use std::sync::LazyLock;

/// Folds the home-directory spellings of §8.2 to `~/…` with forward slashes. Only leading forms are
/// folded; `expanduser`, `Path.home()` etc. are the code analyser's business (it folds them to `~`).
pub fn fold_home(path: &str) -> String {
    let p = path.trim().replace('\\', "/");
    let lower = p.to_ascii_lowercase();
    let pairs: [(&str, &str); 9] = [
        ("${home}", "~"),
        ("$home", "~"),
        ("%userprofile%", "~"),
        ("$env:userprofile", "~"),
        ("%appdata%", "~/AppData/Roaming"),
        ("%localappdata%", "~/AppData/Local"),
        ("$env:appdata", "~/AppData/Roaming"),
        ("$env:localappdata", "~/AppData/Local"),
        ("$env:home", "~"),
    ];
    for (from, to) in pairs {
        if lower.starts_with(from) {
            return format!("{to}{}", &p[from.len()..]);
        }
    }
    p
}

/// CRED path patterns after `fold_home` (§8.2). `*` = one segment, `**` = any depth.
const CRED_PATTERNS: &[&str] = &[
    "~/.aws/credentials",
    "~/.aws/config",
    "~/.config/gh/hosts.yml",
    "~/.docker/config.json",
    "~/.kube/config",
    "~/.npmrc",
    "~/.pypirc",
    "~/.netrc",
    "~/.git-credentials",
    "~/.gnupg/*",
    "~/.config/gcloud/**",
    "~/.azure/**",
    "~/.tank/config.json",
    "~/.claude.json",
    "~/.claude/.credentials.json",
    "~/.codex/auth.json",
    "~/.clawdbot/.env",
    "~/.openclaw/.env",
    "~/.openclaw/openclaw.json",
    "~/.openclaw/credentials/**",
    "~/.openclaw/agents/*/agent/auth-profiles.json",
    "~/.cursor/mcp.json",
    "~/.codeium/windsurf/mcp_config.json",
    "~/Library/Application Support/Claude/claude_desktop_config.json",
    "~/AppData/Roaming/Claude/claude_desktop_config.json",
    "~/.config/claude/**",
    "~/.gemini/oauth_creds.json",
    "~/.config/github-copilot/*",
    "/etc/shadow",
    "/etc/sudoers",
    "~/Library/Keychains/**",
    "**/wallet.dat",
    "~/.bitcoin/**",
    "~/.ethereum/keystore/**",
    "~/.electrum/wallets/**",
    "~/.config/solana/**",
    "~/.sui/**",
    "~/.aptos/**",
    "~/.near-credentials/**",
];

/// Wallet data directory names under the application-support roots of §8.2.
const WALLET_DIRS: [&str; 3] = [
    "Exodus/exodus.wallet",
    "atomic/Local Storage",
    "Ledger Live",
];
const APP_ROOTS: [&str; 3] = [
    "~/Library/Application Support/",
    "~/.config/",
    "~/AppData/Roaming/",
];
/// Browser credential stores and extension storage (under a browser profile).
const BROWSER_FILES: [&str; 4] = ["Login Data", "Cookies", "key4.db", "logins.json"];
const BROWSER_DIRS: [&str; 3] = [
    "Local Extension Settings",
    "Sync Extension Settings",
    "IndexedDB",
];

fn glob_match(pat: &[&str], path: &[&str]) -> bool {
    match (pat.first(), path.first()) {
        (None, None) => true,
        (Some(&"**"), _) => (0..=path.len()).any(|i| glob_match(&pat[1..], &path[i..])),
        (Some(p), Some(s)) => {
            let seg_ok = *p == "*" || p.eq_ignore_ascii_case(s);
            seg_ok && glob_match(&pat[1..], &path[1..])
        }
        _ => false,
    }
}

/// True for a CRED path of §8.2 (input in any home spelling; compared case-insensitively per segment).
pub fn is_cred_path(path: &str) -> bool {
    let p = fold_home(path);
    let p = p.trim_end_matches('/');
    let segs: Vec<&str> = p
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    // `/etc/shadow` keeps its leading root as an empty first segment in the patterns too.
    let segs_abs: Vec<&str> = if p.starts_with('/') {
        std::iter::once("").chain(segs.iter().copied()).collect()
    } else {
        segs.clone()
    };
    if let [.., dir, name] = segs.as_slice()
        && dir.eq_ignore_ascii_case(".ssh")
        && segs.first() == Some(&"~")
    {
        return !name.ends_with(".pub") && !name.eq_ignore_ascii_case("known_hosts");
    }
    for pat in CRED_PATTERNS {
        let ps: Vec<&str> = if let Some(rest) = pat.strip_prefix('/') {
            std::iter::once("").chain(rest.split('/')).collect()
        } else {
            pat.split('/').collect()
        };
        if glob_match(&ps, &segs_abs) {
            return true;
        }
    }
    let joined = segs.join("/");
    if APP_ROOTS.iter().any(|r| {
        joined.starts_with(r.trim_end_matches('/'))
            && WALLET_DIRS.iter().any(|w| joined.contains(w))
    }) {
        return true;
    }
    let in_browser_profile = segs.iter().any(|s| {
        let l = s.to_ascii_lowercase();
        l.contains("chrome")
            || l.contains("chromium")
            || l.contains("firefox")
            || l.contains("brave")
            || l.contains("edge")
            || l == "default"
            || l.starts_with("profile")
            || l.ends_with(".default")
            || l.ends_with(".default-release")
    });
    if in_browser_profile {
        if let Some(name) = segs.last()
            && BROWSER_FILES.iter().any(|b| b.eq_ignore_ascii_case(name))
        {
            return true;
        }
        if segs
            .iter()
            .any(|s| BROWSER_DIRS.iter().any(|d| d.eq_ignore_ascii_case(s)))
        {
            return true;
        }
    }
    false
}

/// ENV files (§8.2, chosen): `.env` and `.env.<name>` that are not CRED paths, except names ending in
/// `.example .sample .template .dist .defaults`.
pub fn is_env_file(path: &str) -> bool {
    let p = fold_home(path);
    let name = p.rsplit('/').next().unwrap_or(&p);
    let is_env = name == ".env" || (name.starts_with(".env.") && name.len() > 5);
    let excluded = [".example", ".sample", ".template", ".dist", ".defaults"]
        .iter()
        .any(|s| name.ends_with(s));
    is_env && !excluded && !is_cred_path(&p)
}

static CREDNAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(key|secret|token|passw(or)?d|pwd|credential|cred|auth|private|session|cookie|dsn|database_url|conn(ection)?_?str)")
        .expect("valid regex")
});

/// An environment-variable name that names a credential (§8.2 CREDNAME).
pub fn is_credname(name: &str) -> bool {
    CREDNAME.is_match(name)
}

const PASTE_HOSTS: [&str; 18] = [
    "pastebin.com",
    "paste.ee",
    "hastebin.com",
    "glot.io",
    "rentry.co",
    "rentry.org",
    "dpaste.com",
    "dpaste.org",
    "paste.rs",
    "termbin.com",
    "ix.io",
    "0x0.st",
    "transfer.sh",
    "temp.sh",
    "file.io",
    "gist.githubusercontent.com",
    "cdn.discordapp.com",
    "dl.dropboxusercontent.com",
];
const PASTE_SUFFIXES: [&str; 3] = [".ngrok.io", ".ngrok-free.app", ".trycloudflare.com"];

/// True for a loopback host (`localhost`, `127.x`, `::1`).
pub fn is_loopback_host(host: &str) -> bool {
    let h = host
        .trim_matches(|c| c == '[' || c == ']')
        .to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost") || h == "::1" || h.starts_with("127.")
}

/// A suspicious host of §8.2: a non-loopback IP literal, or a paste / file-drop / tunnel host. (The
/// `http://` clause needs the scheme: see `is_suspicious_url`.)
pub fn is_suspicious_host(host: &str) -> bool {
    let h = host
        .trim_matches(|c| c == '[' || c == ']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if is_loopback_host(&h) {
        return false;
    }
    if h.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    PASTE_HOSTS.contains(&h.as_str()) || PASTE_SUFFIXES.iter().any(|s| h.ends_with(s))
}

/// A URL whose host is suspicious (§8.2), including any non-loopback `http://` host. Defanged forms
/// (`hxxp://`, `[.]`) are not URLs.
pub fn is_suspicious_url(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url.trim()) else {
        return false;
    };
    let Some(host) = u.host_str() else {
        return false;
    };
    if u.scheme() == "http" && !is_loopback_host(host) {
        return true;
    }
    is_suspicious_host(host)
}

/// Shell fetchers of §8.2 (program names; `certutil -urlcache`, `bitsadmin /transfer` and
/// `Net.WebClient` need their arguments and are matched by the shell analyser).
pub const FETCHERS: [&str; 10] = [
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
];
/// Shells that read a script from stdin when given no script operand (§8.2 stdin interpreter).
pub const SHELLS: [&str; 6] = ["sh", "bash", "zsh", "dash", "ksh", "fish"];
/// Interpreters that read a program from stdin without a script operand or with `-` (§8.2).
pub const INTERPRETERS: [&str; 13] = [
    "python",
    "python2",
    "python3",
    "pypy3",
    "node",
    "deno",
    "bun",
    "perl",
    "ruby",
    "php",
    "osascript",
    "pwsh",
    "powershell",
];

/// AI agent CLI programs (CODE-009, SUP-005), shared by the shell, code and supply-chain analysers.
pub const AGENT_CLIS: [&str; 10] = [
    "claude",
    "codex",
    "gemini",
    "qchat",
    "cursor-agent",
    "aider",
    "opencode",
    "goose",
    "openclaw",
    "copilot",
];
/// npm packages of agent CLIs run through `npx`/`bunx`/`pnpm dlx` (CODE-009).
pub const AGENT_PACKAGES: [&str; 3] = [
    "@anthropic-ai/claude-code",
    "@openai/codex",
    "@google/gemini-cli",
];

/// True for an interpreter name of §8.2 (`python3.12` counts as `python3.<n>`).
pub fn is_interpreter(prog: &str) -> bool {
    let p = prog.rsplit('/').next().unwrap_or(prog).to_ascii_lowercase();
    INTERPRETERS.contains(&p.as_str())
        || p.strip_prefix("python3.")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Chain rules never lowered by path (§8.2 "Non-runtime files").
pub const CHAIN_RULES: [&str; 9] = [
    "CODE-002", "CODE-009", "PY-003", "JS-003", "SH-001", "SH-002", "SH-004", "SH-005", "SH-007",
];

/// Two levels lower (§8.2): critical→medium, high→low, medium and low→note.
pub fn lowered_two(sev: Severity) -> Severity {
    match sev {
        Severity::Critical => Severity::Medium,
        Severity::High => Severity::Low,
        _ => Severity::Info,
    }
}

/// The severity a stage 2 / stage 3 finding gets in a file that is non-runtime (§8.2); `runtime` is the
/// file's status (`!is_non_runtime_path || is_referenced`).
pub fn severity_for_path(rule_id: &str, sev: Severity, runtime: bool) -> Severity {
    if runtime || CHAIN_RULES.contains(&rule_id) {
        sev
    } else {
        lowered_two(sev)
    }
}

/// Verbs of a prompt that asks an agent to collect something (CODE-009's critical clause, §8.3): the
/// Python/JS analysers and the shell's agent-CLI check read the same list.
pub const COLLECT_VERBS: [&str; 11] = [
    "find",
    "list",
    "collect",
    "gather",
    "inventory",
    "search",
    "read",
    "copy",
    "dump",
    "upload",
    "send",
];

/// Wallet and key terms that make a collecting prompt critical (CODE-009, §8.3), matched as substrings of
/// the lower-cased prompt.
pub const WALLET_TERMS: [&str; 6] = [
    "wallet",
    "seed phrase",
    "mnemonic",
    "private key",
    "keystore",
    "keychain",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cred_paths() {
        for p in [
            "~/.ssh/id_rsa",
            "$HOME/.ssh/id_ed25519",
            "${HOME}/.aws/credentials",
            "%USERPROFILE%\\.aws\\credentials",
            "~/.config/solana/id.json",
            "~/.clawdbot/.env",
            "/etc/shadow",
            "~/.openclaw/agents/main/agent/auth-profiles.json",
            "~/Library/Application Support/Google/Chrome/Default/Local Extension Settings/nkbihfbeogaeaoehlefnkodbefgpgknn",
            "~/.config/google-chrome/Default/Login Data",
            "~/Library/Application Support/Exodus/exodus.wallet",
            "~/.gnupg/secring.gpg",
        ] {
            assert!(is_cred_path(p), "{p}");
        }
        for p in [
            "~/.ssh/id_rsa.pub",
            "~/.ssh/known_hosts",
            "./ssh/id_rsa",
            "config/credentials.json",
            "~/.config/app.json",
            "/etc/passwd",
            "Login Data",
        ] {
            assert!(!is_cred_path(p), "{p}");
        }
    }

    #[test]
    fn env_files_and_crednames() {
        assert!(is_env_file(".env"));
        assert!(is_env_file("app/.env.production"));
        assert!(!is_env_file(".env.example"));
        assert!(
            !is_env_file("~/.clawdbot/.env"),
            "a CRED path, not an ENV file"
        );
        assert!(!is_env_file("env.py"));
        assert!(is_credname("GITHUB_TOKEN"));
        assert!(is_credname("DATABASE_URL"));
        assert!(!is_credname("LOG_LEVEL"));
    }

    #[test]
    fn hosts() {
        assert!(is_suspicious_host("203.0.113.7"));
        assert!(!is_suspicious_host("127.0.0.1"));
        assert!(is_suspicious_host("pastebin.com"));
        assert!(is_suspicious_host("abc.ngrok-free.app"));
        assert!(!is_suspicious_host("api.github.com"));
        assert!(is_suspicious_url("http://updates.example.net/x"));
        assert!(!is_suspicious_url("http://localhost:8080/x"));
        assert!(!is_suspicious_url("https://api.github.com/x"));
        assert!(!is_suspicious_url("hxxp://evil[.]com/x"));
        assert!(is_interpreter("python3.12"));
        assert!(is_interpreter("/usr/bin/node"));
        assert!(!is_interpreter("python3.x1"));
    }

    #[test]
    fn lowering() {
        assert_eq!(
            severity_for_path("PY-001", Severity::Critical, false),
            Severity::Medium
        );
        assert_eq!(
            severity_for_path("PY-001", Severity::High, false),
            Severity::Low
        );
        assert_eq!(
            severity_for_path("PY-001", Severity::Medium, false),
            Severity::Info
        );
        assert_eq!(
            severity_for_path("SH-001", Severity::Critical, false),
            Severity::Critical
        );
        assert_eq!(
            severity_for_path("PY-001", Severity::Critical, true),
            Severity::Critical
        );
    }
}
