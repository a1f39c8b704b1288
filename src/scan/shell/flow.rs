//! Sequence rules: SH-005 (download then execute, note after a checksum or signature check) and SH-006
//! (quarantine / Gatekeeper / Defender bypass, a note after a verified download). SH-007 is in `prompt.rs`.

use super::model::{Cmd, Pipeline, Word};
use super::rules::{Analyzer, Download};
use super::terms::{self, Runs, cluster_has};
use crate::scan::report::Severity;
use crate::scan::vocab;

const DIGESTS: [&str; 8] = [
    "sha256sum",
    "sha512sum",
    "sha1sum",
    "sha384sum",
    "sha224sum",
    "shasum",
    "md5sum",
    "b2sum",
];

const MAX_DOWNLOADS: usize = 512;

/// Normalised path for matching downloads with later uses.
fn norm(w: &str) -> String {
    let t = w.trim().trim_matches(|c| c == '"' || c == '\'');
    let f = vocab::fold_home(t);
    let mut s = f.trim_start_matches("./").to_string();
    while s.contains("//") {
        s = s.replace("//", "/");
    }
    s
}

/// The last path segment of a URL (what `curl -O` / `wget` save as).
fn url_name(args: &[Word]) -> Option<String> {
    let u = args
        .iter()
        .map(|a| a.loose.as_str())
        .find(|a| a.contains("://"))?;
    let path = u.split(['?', '#']).next().unwrap_or(u);
    let after = path.split_once("://").map(|(_, r)| r).unwrap_or(path);
    let (_, p) = after.split_once('/')?;
    let name = p.rsplit('/').next().unwrap_or("");
    (!name.is_empty()).then(|| name.to_string())
}

/// Value of an option given as `-o f`, `--output f`, `--output=f`, or as the last letter of a cluster.
pub(super) fn opt_value(args: &[Word], short: char, long: &[&str]) -> Option<String> {
    for (i, a) in args.iter().enumerate() {
        let t = a.s();
        for l in long {
            if t.eq_ignore_ascii_case(l) {
                return args.get(i + 1).map(|w| w.loose.clone());
            }
            if let Some(v) = t.strip_prefix(&format!("{l}=")) {
                return Some(v.to_string());
            }
        }
        if t.len() >= 2 && t.starts_with('-') && !t.starts_with("--") && t.ends_with(short) {
            return args.get(i + 1).map(|w| w.loose.clone());
        }
    }
    None
}

impl Analyzer<'_> {
    fn find_download(&self, path: &str) -> Option<&Download> {
        let p = norm(path);
        if p.is_empty() {
            return None;
        }
        self.downloads.iter().rev().find(|d| {
            if d.root {
                if d.path.is_empty() {
                    !p.starts_with('/') && !p.starts_with('~') && !p.starts_with('$')
                } else {
                    p.starts_with(&format!("{}/", d.path.trim_end_matches('/')))
                }
            } else {
                d.path == p
            }
        })
    }

    fn add_download(&mut self, path: &str, line: u32, root: bool) {
        let p = norm(path);
        // Bounded state on hostile input (every later use scans the list).
        if (p.is_empty() && !root)
            || p == "-"
            || p == "/dev/null"
            || p == "/dev/stdout"
            || self.downloads.len() >= MAX_DOWNLOADS
        {
            return;
        }
        self.downloads.push(Download {
            path: p,
            line,
            verified: false,
            root,
        });
    }

    fn verify(&mut self, named: &[&Word]) {
        let names: Vec<String> = named.iter().map(|w| norm(&w.loose)).collect();
        let any_named = self.downloads.iter().any(|d| names.contains(&d.path));
        for d in self.downloads.iter_mut() {
            if !any_named || names.contains(&d.path) {
                d.verified = true;
            }
        }
    }

    /// Files a fetcher command writes.
    fn fetched_files(&self, c: &Cmd, p: &str, args: &[Word]) -> Vec<String> {
        let mut out = Vec::new();
        match p {
            "curl" => {
                if let Some(f) = opt_value(args, 'o', &["--output"]) {
                    out.push(f);
                } else if args
                    .iter()
                    .any(|a| a.s() == "--remote-name" || cluster_has(a.s(), 'O'))
                    && let Some(n) = url_name(args)
                {
                    out.push(n);
                }
            }
            "wget" => match opt_value(args, 'O', &["--output-document"]) {
                Some(f) => out.push(f),
                None => {
                    if let Some(n) = url_name(args) {
                        let dir = opt_value(args, 'P', &["--directory-prefix"]);
                        out.push(match dir {
                            Some(d) => format!("{}/{n}", d.trim_end_matches('/')),
                            None => n,
                        });
                    }
                }
            },
            "aria2c" | "fetch" | "http" | "https" => {
                if let Some(f) = opt_value(args, 'o', &["--out", "--output"]) {
                    out.push(f);
                } else if p == "aria2c"
                    && let Some(n) = url_name(args)
                {
                    out.push(n);
                }
            }
            "iwr" | "invoke-webrequest" | "irm" | "invoke-restmethod" => {
                if let Some(f) = opt_value(args, '\0', &["-OutFile", "-o"]) {
                    out.push(f);
                }
            }
            "start-bitstransfer" => {
                if let Some(f) = opt_value(args, '\0', &["-Destination"]) {
                    out.push(f);
                } else if let Some(w) = args.iter().filter(|a| !a.s().starts_with('-')).nth(1) {
                    out.push(w.loose.clone());
                }
            }
            "certutil" | "bitsadmin" => {
                if let Some(w) = args
                    .last()
                    .filter(|w| !w.loose.contains("://") && !w.s().starts_with(['-', '/']))
                {
                    out.push(w.loose.clone());
                }
            }
            _ => {}
        }
        for r in &c.redirs {
            if r.op == ">" || r.op == ">>" || r.op == "&>" {
                out.push(r.target.loose.clone());
            }
        }
        out
    }

    /// Per-command part of SH-005: checks, downloads, extractions, copies and runs.
    pub fn sh005_command(&mut self, c: &Cmd, p: &str, args: &[Word]) {
        let operands: Vec<&Word> = args.iter().filter(|a| !a.s().starts_with('-')).collect();
        // Checksum and signature checks (chosen: a `-c` check covers the downloads it names, or all
        // downloads so far when it reads a sums file).
        if DIGESTS.contains(&p)
            && args
                .iter()
                .any(|a| a.s() == "--check" || cluster_has(a.s(), 'c'))
        {
            self.verify(&operands);
            return;
        }
        let signature = match p {
            "gpg" | "gpg2" => args.iter().any(|a| a.s() == "--verify"),
            "gpgv" | "gpgv2" => true,
            "cosign" => args.first().is_some_and(|a| a.s().starts_with("verify")),
            "minisign" => args.iter().any(|a| a.s() == "-V"),
            "codesign" => args
                .iter()
                .any(|a| a.s() == "--verify" || cluster_has(a.s(), 'v')),
            "openssl" => args.iter().any(|a| a.s() == "-verify"),
            _ => false,
        };
        if signature {
            self.verify(&operands);
            return;
        }
        if terms::is_fetcher(p, args) {
            for f in self.fetched_files(c, p, args) {
                self.add_download(&f, c.line, false);
            }
            return;
        }
        // Extraction of a downloaded archive.
        let extract_from = match p {
            "tar" | "bsdtar" | "gtar" => {
                let x = args.iter().any(|a| {
                    let t = a.s();
                    t == "--extract"
                        || cluster_has(t, 'x')
                        || (!t.starts_with('-') && t.starts_with('x'))
                });
                x.then(|| {
                    opt_value(args, 'f', &["--file"]).or_else(|| {
                        // `tar xzf f`: the cluster without a dash.
                        args.iter()
                            .position(|a| !a.s().starts_with('-') && a.s().contains('f'))
                            .and_then(|i| args.get(i + 1))
                            .map(|w| w.loose.clone())
                    })
                })
                .flatten()
                .map(|f| {
                    (
                        f,
                        opt_value(args, 'C', &["--directory"]).unwrap_or_default(),
                    )
                })
            }
            "unzip" => operands.first().map(|f| {
                (
                    f.loose.clone(),
                    opt_value(args, 'd', &[]).unwrap_or_default(),
                )
            }),
            "7z" | "7za" | "7zz" if args.first().is_some_and(|a| a.s() == "x") => {
                let dir = args
                    .iter()
                    .find_map(|a| a.s().strip_prefix("-o").map(String::from));
                operands
                    .get(1)
                    .map(|f| (f.loose.clone(), dir.unwrap_or_default()))
            }
            "hdiutil" if args.first().is_some_and(|a| a.s() == "attach") => operands
                .get(1)
                .map(|f| (f.loose.clone(), "/Volumes".to_string())),
            _ => None,
        };
        if let Some((archive, dir)) = extract_from {
            if let Some(d) = self.find_download(&archive).cloned() {
                if self.downloads.len() >= MAX_DOWNLOADS {
                    return;
                }
                self.downloads.push(Download {
                    path: norm(&dir),
                    line: d.line,
                    verified: d.verified,
                    root: true,
                });
            }
            return;
        }
        if matches!(p, "cp" | "mv" | "install") && operands.len() >= 2 {
            let (dst, srcs) = operands
                .split_last()
                .map(|(d, s)| (norm(&d.loose), s.to_vec()))
                .unwrap_or_default();
            for s in srcs {
                if let Some(d) = self.find_download(&s.loose).cloned() {
                    let name = norm(&s.loose).rsplit('/').next().unwrap_or("").to_string();
                    let target = if dst.ends_with('/') {
                        format!("{dst}{name}")
                    } else {
                        dst.clone()
                    };
                    if self.downloads.len() < MAX_DOWNLOADS {
                        self.downloads.push(Download {
                            path: target,
                            root: false,
                            ..d
                        });
                    }
                }
            }
            return;
        }
        // Runs: the program itself, `source`/`.`, an interpreter's script, an opener.
        let prog_word = terms::program_index(&c.argv).and_then(|i| c.argv.get(i));
        let mut ran: Option<String> = None;
        if let Some(w) = prog_word {
            let in_bin = |d: &Download| !d.root && (d.path.ends_with(&format!("/bin/{}", w.loose)));
            if (w.loose.contains('/') && self.find_download(&w.loose).is_some())
                || (!w.loose.contains('/')
                    && !w.loose.is_empty()
                    && self.downloads.iter().any(in_bin))
            {
                ran = Some(w.loose.clone());
            }
        }
        if ran.is_none() {
            let target: Option<&Word> = if p == "source" || p == "." {
                args.first()
            } else if terms::is_interp(p) {
                match terms::interp_runs(p, args) {
                    Runs::Script(i) => args.get(i),
                    Runs::Stdin => c.redirs.iter().find(|r| r.op == "<").map(|r| &r.target),
                    _ => None,
                }
            } else if matches!(
                p,
                "open"
                    | "xdg-open"
                    | "start"
                    | "start-process"
                    | "invoke-item"
                    | "msiexec"
                    | "installer"
                    | "saps"
            ) {
                operands
                    .iter()
                    .copied()
                    .find(|w| self.find_download(&w.loose).is_some())
            } else {
                None
            };
            if let Some(t) = target
                && self.find_download(&t.loose).is_some()
            {
                ran = Some(t.loose.clone());
            }
        }
        let Some(file) = ran else {
            return;
        };
        let found = self.find_download(&file).cloned().or_else(|| {
            let suffix = format!("/bin/{file}");
            self.downloads
                .iter()
                .find(|d| !d.root && d.path.ends_with(&suffix))
                .cloned()
        });
        let Some(d) = found else {
            return;
        };
        if d.verified {
            self.hit(
                "SH-005",
                Severity::Info,
                c.line,
                format!(
                    "Runs `{file}`, downloaded at line {}, after a checksum or signature check.",
                    d.line
                ),
                &c.raw,
            );
        } else {
            self.hit(
                "SH-005",
                Severity::Critical,
                c.line,
                format!("Runs `{file}`, downloaded at line {}, without verifying it (download and execute).", d.line),
                &c.raw,
            );
        }
    }

    /// Pipeline part of SH-005: `curl … | tee f`, `curl … > f` at the end, `curl … | tar x`, and digest
    /// comparisons (`[ "$(sha256sum f | cut …)" = … ]`).
    pub fn sh005_pipeline(&mut self, p: &Pipeline) {
        let mut fetched = false;
        let n = p.cmds.len();
        for (i, c) in p.cmds.iter().enumerate() {
            let Some((prog, args)) = terms::prog(c) else {
                continue;
            };
            if (p.nested || n > 1) && DIGESTS.contains(&prog.as_str()) {
                let ops: Vec<&Word> = args.iter().filter(|a| !a.s().starts_with('-')).collect();
                if ops.iter().any(|w| self.find_download(&w.loose).is_some()) {
                    self.verify(&ops);
                }
            }
            if fetched {
                if prog == "tee" {
                    for w in args.iter().filter(|a| !a.s().starts_with('-')) {
                        self.add_download(&w.loose, c.line, false);
                    }
                }
                if matches!(prog.as_str(), "tar" | "bsdtar" | "gtar") {
                    let dir = opt_value(args, 'C', &["--directory"]).unwrap_or_default();
                    self.add_download(&dir, c.line, true);
                }
                if i + 1 == n && i > 0 {
                    for r in c.redirs.iter().filter(|r| r.op == ">" || r.op == ">>") {
                        self.add_download(&r.target.loose, c.line, false);
                    }
                }
            }
            fetched |= terms::is_fetcher(&prog, args);
        }
    }

    /// SH-006.
    pub fn sh006(&mut self, c: &Cmd, p: &str, args: &[Word]) {
        let operands: Vec<&Word> = args.iter().filter(|a| !a.s().starts_with('-')).collect();
        let verified = |a: &Analyzer, ws: &[&Word]| {
            ws.iter()
                .any(|w| a.find_download(&w.loose).is_some_and(|d| d.verified))
        };
        let what: Option<(&str, bool)> = match p {
            "xattr" => {
                let quarantine = args
                    .iter()
                    .any(|a| a.s().eq_ignore_ascii_case("com.apple.quarantine"));
                let delete = args.iter().any(|a| cluster_has(a.s(), 'd'));
                let clear = args.iter().any(|a| cluster_has(a.s(), 'c'));
                let fetched = operands
                    .iter()
                    .any(|w| self.find_download(&w.loose).is_some());
                if quarantine && delete {
                    Some((
                        "removes the macOS quarantine attribute (Gatekeeper bypass)",
                        verified(self, &operands),
                    ))
                } else if clear && fetched {
                    Some((
                        "clears the extended attributes, quarantine included, of a downloaded file",
                        verified(self, &operands),
                    ))
                } else {
                    None
                }
            }
            "spctl"
                if args
                    .iter()
                    .any(|a| matches!(a.s(), "--master-disable" | "--global-disable")) =>
            {
                Some(("disables Gatekeeper", false))
            }
            "csrutil" if args.iter().any(|a| a.s() == "disable") => {
                Some(("disables System Integrity Protection", false))
            }
            "set-mppreference"
                if args
                    .iter()
                    .any(|a| a.s().to_ascii_lowercase().starts_with("-disable")) =>
            {
                Some(("disables Microsoft Defender protection", false))
            }
            "add-mppreference"
                if args
                    .iter()
                    .any(|a| a.s().to_ascii_lowercase().starts_with("-exclusion")) =>
            {
                Some(("adds a Microsoft Defender exclusion", false))
            }
            "unblock-file" => Some((
                "removes the Mark of the Web from a file",
                verified(self, &operands),
            )),
            _ => None,
        };
        if let Some((why, ok)) = what {
            let sev = if ok { Severity::Info } else { Severity::High };
            let tail = if ok { " after a verified download" } else { "" };
            self.hit("SH-006", sev, c.line, format!("`{p}` {why}{tail}."), &c.raw);
        }
    }
}
