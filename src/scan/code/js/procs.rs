//! Process calls in JS/TS (SPEC §8.3 JS-001 / JS-004, CODE-009, SUP-001, CODE-005 commands): which calls
//! start a process, whether a shell reads their command, and what their argv holds after folding; plus
//! the argv vocabulary (installers, agent CLIs, fetchers, persistence commands).

use super::fold::{Ctx, DYN, Val, arg};
use super::scope::strip;
use crate::scan::vocab;
use tree_sitter::Node;

/// A process call.
pub struct Proc<'t> {
    pub node: Node<'t>,
    /// A shell reads the command (`exec`, `shell: true`, `sh -c`).
    pub shell: bool,
    /// The shell command text (`DYN` marks non-constant parts); only when `shell`.
    pub command: Option<String>,
    /// The simple commands this call runs (one for argv calls; split at `;`, `&&`, `||`, `|` for shell).
    pub simple: Vec<Vec<Option<String>>>,
    /// Every part of the command or argv is constant.
    pub constant: bool,
}

const CP_SHELL: [&str; 2] = ["exec", "execSync"];
const CP_ARGV: [&str; 4] = ["spawn", "spawnSync", "execFile", "execFileSync"];

fn shell_program(p: &str) -> bool {
    let b = basename(p);
    vocab::SHELLS.contains(&b.as_str()) || matches!(b.as_str(), "cmd" | "powershell" | "pwsh")
}

/// Lower-case basename without `.exe`/`.cmd`.
pub fn basename(p: &str) -> String {
    let b = p
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(p)
        .to_ascii_lowercase();
    b.trim_end_matches(".exe")
        .trim_end_matches(".cmd")
        .to_string()
}

impl<'t> Ctx<'t> {
    /// The process call `node` (a call or new expression) makes, if any.
    pub fn proc_call(&self, node: Node<'t>, q: &str) -> Option<Proc<'t>> {
        let (module, method) = q.rsplit_once('.').unwrap_or(("", q));
        let cp = module == "child_process";
        if cp && CP_SHELL.contains(&method) {
            let cmd = arg(node, 0)?;
            return Some(self.shell_proc(node, cmd));
        }
        if (cp && (CP_ARGV.contains(&method) || method == "fork"))
            || matches!(
                q,
                "execa" | "execa.execa" | "execa.execaSync" | "cross-spawn"
            )
        {
            let prog = arg(node, 0)?;
            let list = arg(node, 1).filter(|a| strip(*a).kind() == "array");
            let opts = if list.is_some() {
                arg(node, 2)
            } else {
                arg(node, 1)
            };
            let mut argv = vec![self.fold_str(prog)];
            if method == "fork" {
                argv.insert(0, Some("node".into()));
            }
            let mut constant = argv.iter().all(Option::is_some);
            if let Some(l) = list {
                let (items, c) = self.array_words(l);
                constant &= c;
                argv.extend(items);
            }
            let shell_opt = opts.is_some_and(|o| self.option_truthy(o, "shell"));
            return Some(self.argv_proc(node, argv, constant, shell_opt));
        }
        if matches!(q, "Bun.spawn" | "Bun.spawnSync") {
            let first = arg(node, 0)?;
            let list = match strip(first).kind() {
                "array" => Some(first),
                "object" => self.option_node(first, "cmd"),
                _ => None,
            };
            let (argv, constant) = match list {
                Some(l) => self.array_words(l),
                None => (vec![None], false),
            };
            return Some(self.argv_proc(node, argv, constant, false));
        }
        if q == "Deno.Command" || q == "Deno.run" {
            let first = arg(node, 0)?;
            let (mut argv, mut constant) = if q == "Deno.run" {
                match self.option_node(first, "cmd") {
                    Some(l) => self.array_words(l),
                    None => (vec![None], false),
                }
            } else {
                let p = self.fold_str(first);
                let c = p.is_some();
                (vec![p], c)
            };
            if q == "Deno.Command"
                && let Some(opts) = arg(node, 1)
                && let Some(l) = self.option_node(opts, "args")
            {
                let (items, c) = self.array_words(l);
                argv.extend(items);
                constant &= c;
            }
            return Some(self.argv_proc(node, argv, constant, false));
        }
        if q == "execa.execaCommand" || q == "execa.execaCommandSync" {
            let cmd = arg(node, 0)?;
            let mut p = self.shell_proc(node, cmd);
            p.shell = false; // execaCommand splits on spaces; no shell (still a process call).
            return Some(p);
        }
        None
    }

    fn shell_proc(&self, node: Node<'t>, cmd: Node<'t>) -> Proc<'t> {
        let text = self.fold_partial(cmd);
        let simple = split_commands(&text);
        Proc {
            node,
            shell: true,
            constant: !text.contains(DYN),
            simple,
            command: Some(text),
        }
    }

    fn argv_proc(
        &self,
        node: Node<'t>,
        argv: Vec<Option<String>>,
        constant: bool,
        shell_opt: bool,
    ) -> Proc<'t> {
        let prog = argv.first().cloned().flatten().unwrap_or_default();
        // `sh -c CMD`, `bash -lc CMD`, `cmd /c CMD`, `pwsh -Command CMD`: the shell reads CMD.
        if shell_program(&prog) {
            let flag = argv.iter().skip(1).position(|a| {
                a.as_deref().is_some_and(|a| {
                    let l = a.to_ascii_lowercase();
                    (l.starts_with('-') && !l.starts_with("--") && l.ends_with('c'))
                        || l == "/c"
                        || l == "-command"
                })
            });
            if let Some(i) = flag {
                let cmd = argv.get(i + 2).cloned().flatten();
                let text = cmd.unwrap_or_else(|| DYN.to_string());
                let simple = split_commands(&text);
                return Proc {
                    node,
                    shell: true,
                    constant: !text.contains(DYN),
                    simple,
                    command: Some(text),
                };
            }
        }
        if shell_opt {
            let text = argv
                .iter()
                .map(|a| a.clone().unwrap_or_else(|| DYN.to_string()))
                .collect::<Vec<_>>()
                .join(" ");
            let simple = split_commands(&text);
            return Proc {
                node,
                shell: true,
                constant,
                simple,
                command: Some(text),
            };
        }
        Proc {
            node,
            shell: false,
            command: None,
            simple: vec![argv],
            constant,
        }
    }

    /// The folded words of an array literal (or a name bound to one) and whether all are constant.
    fn array_words(&self, l: Node<'t>) -> (Vec<Option<String>>, bool) {
        let l = strip(l);
        if l.kind() != "array" {
            return match self.fold(l) {
                Some(Val::Arr(xs)) => {
                    let v: Vec<Option<String>> =
                        xs.iter().map(|x| x.as_str().map(String::from)).collect();
                    let c = v.iter().all(Option::is_some);
                    (v, c)
                }
                _ => (vec![None], false),
            };
        }
        let mut out = Vec::new();
        let mut cur = l.walk();
        for c in l.named_children(&mut cur) {
            if c.kind() == "comment" {
                continue;
            }
            if c.kind() == "spread_element" {
                out.push(None);
                continue;
            }
            out.push(self.fold_str(c));
        }
        let c = out.iter().all(Option::is_some);
        (out, c)
    }

    /// The value node of `key` in an object literal (or a name bound to one).
    pub fn option_node(&self, obj: Node<'t>, key: &str) -> Option<Node<'t>> {
        let obj = self.object_literal(obj)?;
        let mut cur = obj.walk();
        let found = obj.named_children(&mut cur).find_map(|c| match c.kind() {
            "pair" => {
                let k = self.key_name(c.child_by_field_name("key")?)?;
                (k == key).then(|| c.child_by_field_name("value")).flatten()
            }
            "shorthand_property_identifier" if self.text(c) == key => Some(c),
            _ => None,
        });
        found
    }

    /// The object literal an expression is, or a name bound once to one.
    pub fn object_literal(&self, n: Node<'t>) -> Option<Node<'t>> {
        let mut n = strip(n);
        for _ in 0..8 {
            match n.kind() {
                "object" => return Some(n),
                "identifier" => match self.sym.lookup(self.text(n)) {
                    super::scope::Lookup::Bound(super::scope::Bind::Value(v)) => n = strip(*v),
                    _ => return None,
                },
                _ => return None,
            }
        }
        None
    }

    fn option_truthy(&self, obj: Node<'t>, key: &str) -> bool {
        match self.option_node(obj, key) {
            Some(v) => match self.fold(v) {
                Some(val) => val.is_truthy(),
                None => true, // `shell: useShell` — a shell may read it (chosen: count as shell).
            },
            None => false,
        }
    }
}

/// Splits shell text into simple commands (at `;`, `&`, `|`, newlines, `$(`, backticks) and words
/// (quotes removed). A word holding a non-constant part is `None`. A small splitter for argv
/// vocabulary; the full shell analysis is `scan::shell`.
pub fn split_commands(text: &str) -> Vec<Vec<Option<String>>> {
    let mut cmds: Vec<Vec<Option<String>>> = Vec::new();
    let mut words: Vec<Option<String>> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let flush_word = |word: &mut String, in_word: &mut bool, words: &mut Vec<Option<String>>| {
        if *in_word {
            let w = std::mem::take(word);
            words.push(if w.contains(DYN) { None } else { Some(w) });
            *in_word = false;
        }
    };
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else if c == '\\' && q == '"' {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            } else {
                word.push(c);
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                in_word = true;
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    word.push(n);
                    in_word = true;
                }
            }
            ' ' | '\t' => flush_word(&mut word, &mut in_word, &mut words),
            ';' | '&' | '|' | '\n' | '`' | '(' | ')' => {
                flush_word(&mut word, &mut in_word, &mut words);
                if !words.is_empty() {
                    cmds.push(std::mem::take(&mut words));
                }
            }
            '$' if chars.peek() == Some(&'(') => {
                flush_word(&mut word, &mut in_word, &mut words);
                if !words.is_empty() {
                    cmds.push(std::mem::take(&mut words));
                }
            }
            _ => {
                word.push(c);
                in_word = true;
            }
        }
        if cmds.len() > 256 {
            break;
        }
    }
    flush_word(&mut word, &mut in_word, &mut words);
    if !words.is_empty() {
        cmds.push(words);
    }
    cmds
}

/// The argv without wrappers (`sudo` and its options, `env` and `VAR=…`, `command`, `exec`, `nohup`,
/// `time`; §8.2 stdin-interpreter stripping).
pub fn unwrap_argv(argv: &[Option<String>]) -> &[Option<String>] {
    let mut i = 0;
    while let Some(Some(w)) = argv.get(i) {
        let b = basename(w);
        if matches!(
            b.as_str(),
            "sudo" | "env" | "command" | "exec" | "nohup" | "time" | "doas"
        ) {
            i += 1;
            while let Some(Some(o)) = argv.get(i) {
                if o.starts_with('-') || (b == "env" && o.contains('=')) {
                    i += 1;
                } else {
                    break;
                }
            }
        } else if w.contains('=') && !w.starts_with('-') && i == 0 {
            i += 1; // `VAR=x cmd`
        } else {
            break;
        }
    }
    argv.get(i..).unwrap_or(&[])
}

fn word(argv: &[Option<String>], i: usize) -> Option<&str> {
    argv.get(i).and_then(|w| w.as_deref())
}

/// SUP-001: the argv runs an installer (§8.3 list).
pub fn is_installer(argv: &[Option<String>]) -> bool {
    let a = unwrap_argv(argv);
    let Some(p) = word(a, 0).map(basename) else {
        return false;
    };
    let w1 = word(a, 1).unwrap_or("");
    let w2 = word(a, 2).unwrap_or("");
    let has = |f: &str| a.iter().any(|w| w.as_deref() == Some(f));
    match p.as_str() {
        "pip" | "pip3" => w1 == "install",
        _ if p.starts_with("pip3.") => w1 == "install",
        _ if p.starts_with("python") || p.starts_with("pypy") || p == "py" => {
            w1 == "-m" && ((w2 == "pip" && word(a, 3) == Some("install")) || w2 == "ensurepip")
        }
        "uv" => {
            (w1 == "pip" && w2 == "install") || w1 == "add" || (w1 == "tool" && w2 == "install")
        }
        "pipx" => w1 == "install" || w1 == "run",
        "poetry" => w1 == "add",
        "conda" | "mamba" => w1 == "install",
        "npm" => matches!(w1, "install" | "i" | "add" | "in" | "isntall"),
        "yarn" => w1 == "add",
        "pnpm" => matches!(w1, "add" | "install" | "i"),
        "bun" => matches!(w1, "add" | "install" | "i"),
        "npx" | "bunx" => has("-y") || has("--yes"),
        "go" => w1 == "install",
        "cargo" => w1 == "install",
        "gem" => w1 == "install",
        _ => false,
    }
}

const AGENT_CLIS: [&str; 11] = [
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
    "q",
];
const AGENT_PACKAGES: [&str; 3] = [
    "@anthropic-ai/claude-code",
    "@openai/codex",
    "@google/gemini-cli",
];

/// CODE-009: the index in `argv` where the agent CLI's own arguments start, if the program is one.
pub fn agent_cli(argv: &[Option<String>]) -> Option<usize> {
    let a = unwrap_argv(argv);
    let skip = argv.len() - a.len();
    let p = basename(word(a, 0)?);
    if p == "q" {
        return (word(a, 1) == Some("chat")).then_some(skip + 2);
    }
    if AGENT_CLIS.contains(&p.as_str()) {
        return Some(skip + 1);
    }
    let runner = matches!(p.as_str(), "npx" | "bunx") || (p == "pnpm" && word(a, 1) == Some("dlx"));
    if runner {
        for (i, w) in a.iter().enumerate().skip(1) {
            let Some(w) = w.as_deref() else { continue };
            if w.starts_with('-') || w == "dlx" {
                continue;
            }
            let name = match w.rfind('@') {
                Some(at) if at > 0 => &w[..at],
                _ => w,
            };
            return AGENT_PACKAGES.contains(&name).then_some(skip + i + 1);
        }
    }
    None
}

/// CODE-009 approval-bypass flags.
pub fn is_bypass_flag(w: &str, program: &str, next: Option<&str>) -> bool {
    let l = w.to_ascii_lowercase();
    l.starts_with('-')
        && (l.contains("yolo")
            || l.contains("skip-permissions")
            || l.contains("bypass")
            || l.contains("trust-all")
            || l == "--allow-all-tools"
            || l == "--yes-always"
            || (program == "gemini" && l == "-y")
            || (l == "--permission-mode" && next == Some("bypassPermissions"))
            || (l == "--approval-mode" && next == Some("yolo")))
        || l == "--permission-mode=bypasspermissions"
}

/// CODE-009 critical prompt: a collecting verb with a CRED path, an ENV file or wallet vocabulary.
pub fn is_collecting_prompt(text: &str) -> bool {
    let lower = text.to_lowercase();
    let tokens: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|t| !t.is_empty())
        .collect();
    const VERBS: [&str; 11] = [
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
    let verb = tokens.iter().any(|t| {
        VERBS
            .iter()
            .any(|v| *t == *v || (t.starts_with(v) && t.len() <= v.len() + 3))
    });
    if !verb {
        return false;
    }
    let wallet = [
        "wallet",
        "seed phrase",
        "mnemonic",
        "private key",
        "keystore",
        "keychain",
    ]
    .iter()
    .any(|w| lower.contains(w));
    let path = text.split_whitespace().any(|w| {
        let w = w.trim_matches(|c: char| "\"'`,;:()[]{}".contains(c));
        vocab::is_cred_path(w) || vocab::is_env_file(w) || w == ".env" || w.ends_with("/.env")
    });
    wallet || path
}

/// Programs whose command line sends data (CODE-002 sinks, CODE-001 in process calls).
pub fn is_sender(argv: &[Option<String>]) -> bool {
    let a = unwrap_argv(argv);
    let Some(p) = word(a, 0).map(basename) else {
        return false;
    };
    match p.as_str() {
        "curl" | "wget" | "scp" | "rsync" | "ftp" | "sftp" => true,
        "nc" | "ncat" | "netcat" => !a.iter().any(|w| w.as_deref() == Some("-z")),
        _ => false,
    }
}

/// CODE-005 commands: `crontab`, `launchctl load`, `systemctl --user enable`, `schtasks /create`,
/// `reg add …\Run`.
pub fn is_persistence_cmd(argv: &[Option<String>]) -> bool {
    let a = unwrap_argv(argv);
    let Some(p) = word(a, 0).map(basename) else {
        return false;
    };
    let has = |f: &str| {
        a.iter()
            .any(|w| w.as_deref().is_some_and(|w| w.eq_ignore_ascii_case(f)))
    };
    match p.as_str() {
        "crontab" => !has("-l"),
        "launchctl" => has("load") || has("bootstrap"),
        "systemctl" => has("enable"),
        "schtasks" => has("/create"),
        "reg" => {
            has("add")
                && a.iter().any(|w| {
                    w.as_deref()
                        .is_some_and(|w| w.to_ascii_lowercase().contains("\\run"))
                })
        }
        _ => false,
    }
}

/// CODE-004 in a process call: `cat`/`cp`/`base64`/`tar`/… of a CRED path.
pub fn cred_read_arg(argv: &[Option<String>]) -> Option<String> {
    let a = unwrap_argv(argv);
    let p = word(a, 0).map(basename)?;
    if !matches!(
        p.as_str(),
        "cat"
            | "cp"
            | "base64"
            | "tar"
            | "head"
            | "tail"
            | "less"
            | "more"
            | "zip"
            | "xxd"
            | "scp"
            | "rsync"
            | "curl"
    ) {
        return None;
    }
    a.iter().skip(1).flatten().find_map(|w| {
        let w = w.trim_start_matches('@');
        let w = w
            .rsplit_once('=')
            .map_or(w, |(_, v)| v)
            .trim_start_matches('@');
        vocab::is_cred_path(w).then(|| w.to_string())
    })
}

/// URL hosts named in constant words of a process call (CODE-001 for `curl`, `wget`, …).
pub fn argv_hosts(argv: &[Option<String>]) -> Vec<Option<String>> {
    let a = unwrap_argv(argv);
    let mut out = Vec::new();
    let mut any_dyn = false;
    for w in a.iter().skip(1) {
        match w {
            Some(w) => out.extend(crate::scan::agent::url_hosts(w).into_iter().map(Some)),
            None => any_dyn = true,
        }
    }
    if out.is_empty() && any_dyn {
        out.push(None);
    }
    out
}
