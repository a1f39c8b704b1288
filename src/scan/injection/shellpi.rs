//! A small built-in reader of the commonest PI-008(a) command forms, so stage 3 stands on its own beside
//! the full shell analyser (`scan::shell::analyze`, whose hits are merged in `engine.rs`): fetcher or
//! decoder piped into a stdin interpreter, `bash <(curl …)` / `eval "$(curl …)"` / `iex (iwr …)`
//! (SH-001), reverse shells (SH-002), uploads of CRED paths or ENV files (SH-004), a fetched file later
//! run (SH-005), password prompts (SH-007), and the SH-006 security-control bypasses PI-008 reads as a
//! lifting condition. `echo '<base64>' | base64 -d` constants are decoded and re-read (depth ≤ 2).

use crate::scan::vocab;
use base64::Engine;
use regex::Regex;
use std::sync::LazyLock;

#[derive(Debug, Clone, PartialEq)]
pub struct ShHit {
    pub rule: &'static str,
    /// 1-based line in the analysed text.
    pub line: u32,
    pub evidence: String,
    /// The hit comes from decoded data.
    pub decoded: bool,
    /// SH-001 through a decoder or a package slice (keeps PI-008 high under install headings).
    pub decodes: bool,
}

fn re(p: &str) -> Regex {
    Regex::new(p).expect("valid regex")
}

static SUBST_RCE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)\b(ba|z|da|k)?sh\s+<\(\s*(curl|wget)\b|\b(source|\.)\s+<\(|\b(ba|z)?sh\s+-c\s+["']?\$\(\s*(curl|wget)\b|\beval\s+["']?\$\(\s*(curl|wget)\b|\b(iex|invoke-expression)\b.*\b(iwr|irm|invoke-webrequest|invoke-restmethod|downloadstring)\b|\b(iwr|irm|invoke-webrequest|invoke-restmethod)\b[^|]*\|\s*(iex|invoke-expression)\b"#,
    )
});
static REVSHELL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)/dev/(tcp|udp)/|\b(nc|ncat|netcat)\b[^|;&]*\s-[a-z]*[ec]\b|\bmkfifo\b.*\b(nc|ncat|netcat)\b|\bsocat\b.*\b(exec|system):|\bpython[0-9.]*\s+-c\b.*\bsocket\b.*\b(subprocess|pty|dup2)\b"#,
    )
});
static CRED_PROMPT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)\bosascript\b.*(hidden answer|default answer.*(password|passcode|credential))|\bdscl\s+\.\s+-?authonly\b|\bsecurity\s+dump-keychain\b|\bsecurity\s+find-(generic|internet)-password\b.*(safe storage)"#,
    )
});
static SH006: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)\bxattr\s+-[a-z]*d[a-z]*\s+com\.apple\.quarantine|\bxattr\s+-[a-z]*c|\bspctl\s+--(master|global)-disable\b|\bcsrutil\s+disable\b|\bset-mppreference\s+-disable|\badd-mppreference\s+-exclusion|\bunblock-file\b"#,
    )
});
static ECHO_B64: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)(?:\becho\s+(?:-n\s+)?|\bprintf\s+(?:'%s'\s+)?|<<<\s*)["']?([A-Za-z0-9+/=_-]{16,})["']?"#,
    )
});
static CHECKSUM: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)\b(sha256sum|sha512sum|shasum)\b.*\s-c\b|\bgpg\s+--verify\b|\bcosign\s+verify-blob\b|\bminisign\s+-V\b|\bcodesign\s+--verify\b"#,
    )
});

/// SH-006 in shell text (quarantine removal, security controls off).
pub fn has_sh006(text: &str) -> bool {
    SH006.is_match(text)
}

const DECODERS: [&str; 14] = [
    "gunzip", "zcat", "unxz", "xzcat", "bunzip2", "bzcat", "unzstd", "zstdcat", "rev", "uudecode",
    "base32", "basenc", "base64", "openssl",
];

fn strip_wrappers(mut w: &[String]) -> &[String] {
    loop {
        match w.first().map(String::as_str) {
            Some("sudo") => {
                w = &w[1..];
                while w.first().is_some_and(|a| a.starts_with('-')) {
                    w = &w[1..];
                }
            }
            Some("env" | "command" | "exec" | "nohup" | "time") => w = &w[1..],
            Some(a) if a.contains('=') && !a.starts_with('-') => w = &w[1..],
            _ => return w,
        }
    }
}

fn prog(w: &[String]) -> String {
    let p = w.first().map(String::as_str).unwrap_or("");
    p.rsplit(['/', '\\'])
        .next()
        .unwrap_or(p)
        .to_ascii_lowercase()
}

fn is_source(w: &[String]) -> (bool, bool) {
    let p = prog(w);
    let has = |f: &[&str]| w.iter().skip(1).any(|a| f.contains(&a.as_str()));
    if vocab::FETCHERS.contains(&p.as_str()) {
        return (true, false);
    }
    let decoder = match p.as_str() {
        "base64" | "basenc" | "base32" => has(&["-d", "-D", "--decode"]),
        "openssl" => has(&["-d"]) || has(&["base64"]) && has(&["-d"]),
        "xxd" => has(&["-r", "-r -p", "-rp"]),
        "gzip" | "xz" | "bzip2" | "zstd" => w.iter().skip(1).any(|a| a.starts_with("-d")),
        "tail" | "head" => w.iter().skip(1).any(|a| a.starts_with("-c")),
        "dd" => w
            .iter()
            .any(|a| a.starts_with("skip=") || a.starts_with("iseek=")),
        p => DECODERS[..10].contains(&p),
    };
    (decoder, decoder)
}

/// A stdin interpreter (§8.2); in prose, an operand without `/` or `.` is a word, not a script (chosen).
fn is_stdin_interp(w: &[String], prose: bool) -> bool {
    let p = prog(w);
    let shell = vocab::SHELLS.contains(&p.as_str());
    if !shell && !vocab::is_interpreter(&p) {
        return false;
    }
    let args = &w[1..];
    if args
        .iter()
        .any(|a| matches!(a.as_str(), "-c" | "-e" | "-m" | "-Command" | "-command"))
    {
        return false;
    }
    if args.iter().any(|a| a == "-" || a == "-s") {
        return true;
    }
    !args
        .iter()
        .any(|a| !a.starts_with('-') && (!prose || a.contains(['/', '.'])))
}

fn words(cmd: &str) -> Vec<String> {
    cmd.split_whitespace()
        .map(|w| {
            w.trim_matches(['"', '\'', '`', '(', ')', '{', '}'])
                .to_string()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

fn printable_ratio(b: &[u8]) -> f64 {
    if b.is_empty() {
        return 0.0;
    }
    let ok = b
        .iter()
        .filter(|&&c| c == b'\n' || c == b'\t' || (0x20..0x7f).contains(&c))
        .count();
    ok as f64 / b.len() as f64
}

/// Decodes a base64 constant to printable text (≥ 90 %), else None.
pub fn decode_b64(s: &str) -> Option<String> {
    let t: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let t = t.trim_end_matches('=');
    let engines = [
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let bytes = engines.iter().find_map(|e| e.decode(t).ok())?;
    (bytes.len() >= 4 && printable_ratio(&bytes) >= 0.9)
        .then(|| String::from_utf8_lossy(&bytes).into_owned())
}

/// The hits in `text` (`prose`: a fetcher-to-end-of-sentence span of prose). `depth` counts decodes.
pub fn fallback(text: &str, prose: bool, depth: u8) -> Vec<ShHit> {
    let mut out = Vec::new();
    let mut fetched: Vec<String> = Vec::new();
    let mut verified = false;
    for (n, raw_line) in text.lines().enumerate().take(5000) {
        let line_no = n as u32 + 1;
        let line = raw_line
            .trim_start()
            .trim_start_matches("$ ")
            .trim_start_matches("> ")
            .trim_start_matches("PS> ");
        if line.starts_with('#') {
            continue;
        }
        let hit = |rule, decodes| ShHit {
            rule,
            line: line_no,
            evidence: line.trim().to_string(),
            decoded: false,
            decodes,
        };
        if REVSHELL.is_match(line) {
            out.push(hit("SH-002", false));
        }
        if CRED_PROMPT.is_match(line) {
            out.push(hit("SH-007", false));
        }
        if SUBST_RCE.is_match(line) {
            out.push(hit("SH-001", false));
        }
        if CHECKSUM.is_match(line) {
            verified = true;
        }
        for cmd in line
            .split("&&")
            .flat_map(|c| c.split("||"))
            .flat_map(|c| c.split(';'))
        {
            let stages: Vec<Vec<String>> = cmd.split('|').map(words).collect();
            let mut source: Option<bool> = None;
            let mut sensitive_src = false;
            for st in &stages {
                let w = strip_wrappers(st);
                if w.is_empty() {
                    continue;
                }
                let p = prog(w);
                if let Some(decodes) = source
                    && is_stdin_interp(w, prose)
                {
                    out.push(hit("SH-001", decodes));
                    break;
                }
                let (src, dec) = is_source(w);
                if src {
                    source = Some(source.unwrap_or(false) || dec);
                }
                let sensitive = |a: &str| {
                    let a = a.rsplit('@').next().unwrap_or(a).trim_start_matches('<');
                    vocab::is_cred_path(a) || vocab::is_env_file(a)
                };
                if matches!(p.as_str(), "cat" | "env" | "printenv" | "set")
                    && (p != "cat" || w.iter().skip(1).any(|a| sensitive(a)))
                {
                    sensitive_src = true;
                }
                if matches!(p.as_str(), "curl" | "wget" | "scp" | "rsync" | "nc") {
                    let upload = p != "curl" && p != "wget"
                        || w.iter().any(|a| {
                            a.starts_with("-d")
                                || a.starts_with("--data")
                                || a.starts_with("-F")
                                || a.starts_with("--form")
                                || a == "-T"
                                || a == "--upload-file"
                                || a.starts_with("--post-file")
                        });
                    let direct = w.iter().skip(1).any(|a| sensitive(a));
                    if upload && (direct || sensitive_src) {
                        out.push(hit("SH-004", false));
                    }
                    if p == "curl" || p == "wget" {
                        fetched.extend(output_file(w));
                    }
                }
            }
            // SH-005: a file a fetcher wrote is run later (a checksum check in between makes it a note).
            let w = words(cmd);
            let w = strip_wrappers(&w);
            if !vocab::FETCHERS.contains(&prog(w).as_str()) && !verified {
                let runner = matches!(
                    prog(w).as_str(),
                    "sh" | "bash"
                        | "zsh"
                        | "source"
                        | "."
                        | "open"
                        | "xdg-open"
                        | "start"
                        | "start-process"
                        | "msiexec"
                        | "python"
                        | "python3"
                        | "node"
                        | "perl"
                ) || vocab::is_interpreter(&prog(w));
                let target = if runner { w.get(1) } else { w.first() };
                if let Some(t) = target {
                    let t = t.trim_start_matches("./");
                    if fetched.iter().any(|f| f.trim_start_matches("./") == t) {
                        out.push(hit("SH-005", false));
                    }
                }
            }
        }
        if depth < 2 {
            for dec in decode_consts(line) {
                for mut h in fallback(&dec, false, depth + 1) {
                    h.line = line_no;
                    h.decoded = true;
                    h.evidence = dec.trim().to_string();
                    out.push(h);
                }
            }
        }
    }
    out
}

/// Constants piped into a decoder on one line (`echo '<base64>' | base64 -d`, `xxd -r -p` of hex,
/// `base64 -d <<< '…'`), decoded when the result is printable text (§8.2 shell folding, base64 and hex
/// only: chosen).
pub fn decode_consts(line: &str) -> Vec<String> {
    let lower = line.to_ascii_lowercase();
    let hexy = lower.contains("xxd -r");
    if !hexy && !lower.contains("base64") {
        return Vec::new();
    }
    ECHO_B64
        .captures_iter(line)
        .filter_map(|c| {
            let m = c.get(1)?.as_str();
            if hexy {
                let b = hex::decode(m).ok()?;
                (printable_ratio(&b) >= 0.9).then(|| String::from_utf8_lossy(&b).into_owned())
            } else {
                decode_b64(m)
            }
        })
        .collect()
}

/// The file a `curl`/`wget` command writes, if any.
fn output_file(w: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let url = w.iter().find(|a| a.contains("://"));
    let base = url
        .and_then(|u| u.split(['?', '#']).next())
        .and_then(|u| u.rsplit('/').next())
        .filter(|b| !b.is_empty())
        .map(String::from);
    for (i, a) in w.iter().enumerate() {
        if a == "--output"
            || (a.starts_with('-') && !a.starts_with("--") && a.ends_with('o'))
            || (prog(w) == "wget" && a == "-O")
        {
            out.extend(w.get(i + 1).cloned());
        } else if a.starts_with('-') && !a.starts_with("--") && a.contains('O') {
            out.extend(base.clone());
        } else if a == ">" {
            out.extend(w.get(i + 1).cloned());
        } else if let Some(f) = a.strip_prefix('>') {
            out.push(f.to_string());
        }
    }
    if prog(w) == "wget" && out.is_empty() {
        out.extend(base);
    }
    out
}

/// Base64 of `s` (test data).
#[cfg(test)]
pub fn tests_b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}
