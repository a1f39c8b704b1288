//! The §8.2 shell terms on folded words: wrapper stripping, fetchers, decoders, package slices and stdin
//! interpreters. Pure tests on one simple command; the rules combine them.

use super::model::{Cmd, Word};
use crate::scan::files::FileSet;
use crate::scan::vocab;

/// Lower-case base name of a program word, without `.exe`.
pub(crate) fn base(w: &str) -> String {
    let b = w
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(w)
        .to_ascii_lowercase();
    b.strip_suffix(".exe").map(String::from).unwrap_or(b)
}

/// sudo options that take a value.
const SUDO_VALUE_OPTS: [&str; 9] = ["-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U"];

/// Index of the program word after stripping `sudo` (and its options), `env` (and `VAR=…`), `command`,
/// `exec`, `nohup` and `time` (§8.2 stdin interpreter). None for an empty or non-constant program.
pub(crate) fn program_index(argv: &[Word]) -> Option<usize> {
    let mut i = 0;
    let mut rounds = 0;
    // A wrapper with nothing after it (`env`, `time`) is itself the program.
    let mut last = None;
    while let Some(w) = argv.get(i) {
        rounds += 1;
        if rounds > 16 {
            return None;
        }
        let p = base(w.text.as_deref()?);
        last = Some(i);
        match p.as_str() {
            "sudo" | "doas" => {
                i += 1;
                while let Some(a) = argv.get(i).and_then(|a| a.text.as_deref()) {
                    if a == "--" {
                        i += 1;
                        break;
                    }
                    if !a.starts_with('-') {
                        break;
                    }
                    i += if SUDO_VALUE_OPTS.contains(&a) { 2 } else { 1 };
                }
            }
            "env" => {
                i += 1;
                while let Some(a) = argv.get(i).and_then(|a| a.text.as_deref()) {
                    if a == "-u" || a == "--unset" || a == "-C" || a == "--chdir" {
                        i += 2;
                    } else if a.starts_with('-') || is_assignment(a) {
                        i += 1;
                    } else {
                        break;
                    }
                }
            }
            "command" => {
                // `command -v x` looks a program up instead of running it.
                if argv
                    .get(i + 1)
                    .and_then(|a| a.text.as_deref())
                    .is_some_and(|a| a == "-v" || a == "-V")
                {
                    return None;
                }
                i += 1;
                while argv.get(i).is_some_and(|a| a.s() == "-p" || a.s() == "--") {
                    i += 1;
                }
            }
            "exec" => {
                i += 1;
                while let Some(a) = argv.get(i).and_then(|a| a.text.as_deref()) {
                    match a {
                        "-a" => i += 2,
                        "-c" | "-l" | "--" => i += 1,
                        _ => break,
                    }
                }
            }
            "nohup" => i += 1,
            "time" => {
                i += 1;
                while argv.get(i).is_some_and(|a| a.s() == "-p") {
                    i += 1;
                }
            }
            _ => return Some(i),
        }
    }
    last
}

fn is_assignment(a: &str) -> bool {
    a.split_once('=').is_some_and(|(k, _)| {
        !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The program (lower-case base name) and its arguments after wrapper stripping.
pub(crate) fn prog(c: &Cmd) -> Option<(String, &[Word])> {
    let (p, i) = c.prog.as_ref()?;
    Some((p.clone(), c.argv.get(i + 1..).unwrap_or(&[])))
}

/// A short-option cluster (`-fsSL`) that contains `ch`.
pub(crate) fn cluster_has(a: &str, ch: char) -> bool {
    a.len() > 1 && a.starts_with('-') && !a.starts_with("--") && a[1..].contains(ch)
}

pub(crate) fn has_arg(args: &[Word], pred: impl Fn(&str) -> bool) -> bool {
    args.iter().any(|a| pred(a.s()))
}

pub(crate) fn is_shell(p: &str) -> bool {
    vocab::SHELLS.contains(&p)
}

pub(crate) fn is_interp(p: &str) -> bool {
    is_shell(p) || vocab::is_interpreter(p)
}

/// §8.2 fetcher.
pub(crate) fn is_fetcher(p: &str, args: &[Word]) -> bool {
    if vocab::FETCHERS.contains(&p) || p == "start-bitstransfer" {
        return true;
    }
    let lower = |a: &Word| a.loose.to_ascii_lowercase();
    match p {
        "certutil" => args.iter().any(|a| lower(a).contains("urlcache")),
        "bitsadmin" => args.iter().any(|a| lower(a) == "/transfer"),
        "pwsh" | "powershell" => args.iter().any(|a| {
            let l = lower(a);
            (l.contains("net.webclient") && l.contains("download"))
                || ["iwr ", "irm ", "invoke-webrequest", "invoke-restmethod"]
                    .iter()
                    .any(|k| l.contains(k))
        }),
        _ => false,
    }
}

/// §8.2 package slice: `tail -c`, `head -c`, `dd skip=/iseek=`, `cut -b` applied to a package file.
pub(crate) fn is_slice(p: &str, args: &[Word], files: Option<&FileSet>) -> bool {
    let operand_is_package = |ops: Vec<&Word>| {
        ops.iter().any(|w| match w.text.as_deref() {
            Some(t) => is_package_file(t, files),
            None => false,
        })
    };
    match p {
        "tail" | "head" => {
            let mut sliced = false;
            let mut ops = Vec::new();
            let mut skip_next = false;
            for a in args {
                let t = a.s();
                if skip_next {
                    skip_next = false;
                    continue;
                }
                if t == "-c" || t.starts_with("--bytes") {
                    sliced = true;
                    skip_next = t == "-c" || t == "--bytes";
                } else if t.starts_with("-c") {
                    sliced = true;
                } else if t == "-n" {
                    skip_next = true;
                } else if !t.starts_with('-') || a.text.is_none() {
                    ops.push(a);
                }
            }
            sliced && operand_is_package(ops)
        }
        "dd" => {
            let skip = has_arg(args, |a| a.starts_with("skip=") || a.starts_with("iseek="));
            let input = args
                .iter()
                .filter_map(|a| a.text.as_deref()?.strip_prefix("if="))
                .any(|f| is_package_file(f, files));
            skip && input
        }
        "cut" => {
            let bytes = has_arg(args, |a| a.starts_with("-b") || a.starts_with("--bytes"));
            let ops = args
                .iter()
                .enumerate()
                .filter(|(i, a)| {
                    let after_b = *i > 0 && args.get(i - 1).is_some_and(|p| p.s() == "-b");
                    !a.s().starts_with('-') && !after_b
                })
                .map(|(_, a)| a)
                .collect();
            bytes && operand_is_package(ops)
        }
        _ => false,
    }
}

/// A path naming a package file; without a file set any relative path counts (Markdown read alone).
pub(crate) fn is_package_file(path: &str, files: Option<&FileSet>) -> bool {
    let t = path.trim_start_matches("./");
    if t.is_empty() || t.starts_with('/') || t.starts_with('~') || t.starts_with('$') {
        return false;
    }
    match files {
        None => true,
        Some(fs) => {
            fs.get(t).is_some() || fs.files.iter().any(|f| f.path.ends_with(&format!("/{t}")))
        }
    }
}

/// Code given with `-c`/`-e` that hands stdin to `exec`/`eval`/`compile`/`Function`/`system` (§8.2).
pub(crate) fn code_runs_stdin(code: &str) -> bool {
    let l = code.to_ascii_lowercase();
    let stdin = [
        "stdin",
        "<>",
        "readfilesync(0",
        "$input",
        "readtoend",
        "php://stdin",
    ]
    .iter()
    .any(|k| l.contains(k));
    let exec = [
        "exec(",
        "eval(",
        "compile(",
        "function(",
        "system(",
        "exec ",
        "eval ",
        "iex",
        "invoke-expression",
    ]
    .iter()
    .any(|k| l.contains(k));
    stdin && exec
}

/// What an interpreter invocation runs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Runs {
    /// Reads its program from stdin (§8.2 stdin interpreter).
    Stdin,
    /// Inline code (`-c`/`-e`): the code word index in `args`.
    Code(usize),
    /// A script operand (index in `args`).
    Script(usize),
    /// A module (`-m`) or something else that is not stdin.
    Other,
}

/// Options that take a value, per interpreter family.
fn value_opt(p: &str, a: &str) -> bool {
    if is_shell(p) {
        return matches!(a, "-o" | "+o" | "-O" | "+O" | "--rcfile" | "--init-file");
    }
    if p.starts_with("python") || p.starts_with("pypy") {
        return matches!(a, "-W" | "-X" | "-Q");
    }
    match p {
        "node" | "deno" | "bun" => matches!(
            a,
            "-r" | "--require" | "--import" | "--loader" | "--experimental-loader"
        ),
        "perl" | "ruby" => matches!(a, "-I" | "-M" | "-r"),
        "osascript" => matches!(a, "-l" | "-s"),
        "pwsh" | "powershell" => {
            let l = a.to_ascii_lowercase();
            matches!(
                l.as_str(),
                "-executionpolicy" | "-ep" | "-ex" | "-windowstyle" | "-w" | "-configurationname"
            )
        }
        _ => false,
    }
}

fn is_code_flag(p: &str, a: &str) -> bool {
    if is_shell(p) {
        return a == "-c" || (cluster_has(a, 'c') && a.len() <= 4);
    }
    if p.starts_with("python") || p.starts_with("pypy") {
        return a == "-c";
    }
    match p {
        "node" | "bun" => matches!(a, "-e" | "--eval" | "-p" | "--print"),
        "deno" => a == "eval",
        "perl" => matches!(a, "-e" | "-E") || (cluster_has(a, 'e') && a.len() <= 4),
        "ruby" => a == "-e",
        "php" => a == "-r",
        "osascript" => a == "-e",
        "pwsh" | "powershell" => {
            let l = a.to_ascii_lowercase();
            matches!(
                l.as_str(),
                "-c" | "-command" | "-encodedcommand" | "-e" | "-enc"
            )
        }
        _ => false,
    }
}

/// Classifies an interpreter invocation (program `p` already stripped of wrappers).
pub(crate) fn interp_runs(p: &str, args: &[Word]) -> Runs {
    if !is_interp(p) {
        return Runs::Other;
    }
    let mut i = 0;
    if matches!(p, "deno" | "bun") && args.first().is_some_and(|a| a.s() == "run") {
        i = 1;
    }
    while let Some(a) = args.get(i) {
        let Some(t) = a.text.as_deref() else {
            // A non-constant operand counts as absent (§8.2).
            i += 1;
            continue;
        };
        if t == "-" || (is_shell(p) && t == "-s") {
            return Runs::Stdin;
        }
        if (p.starts_with("python") || p.starts_with("pypy")) && t == "-m" {
            return Runs::Other;
        }
        if is_code_flag(p, t) {
            if matches!(p, "pwsh" | "powershell") && args.get(i + 1).is_some_and(|c| c.s() == "-") {
                return Runs::Stdin;
            }
            if t.eq_ignore_ascii_case("-encodedcommand") || t.eq_ignore_ascii_case("-enc") {
                return Runs::Other;
            }
            return Runs::Code(i + 1);
        }
        if matches!(p, "pwsh" | "powershell") && t.eq_ignore_ascii_case("-file") {
            return match args.get(i + 1) {
                Some(f) if f.s() == "-" => Runs::Stdin,
                Some(_) => Runs::Script(i + 1),
                None => Runs::Other,
            };
        }
        if value_opt(p, t) {
            i += 2;
            continue;
        }
        if t.starts_with('-') || (is_shell(p) && t.starts_with('+')) {
            i += 1;
            continue;
        }
        return Runs::Script(i);
    }
    Runs::Stdin
}

/// §8.2 stdin interpreter (PowerShell's `iex` / `Invoke-Expression` without arguments counts too).
pub(crate) fn is_stdin_interpreter(p: &str, args: &[Word]) -> bool {
    if matches!(p, "iex" | "invoke-expression") {
        return args.is_empty();
    }
    match interp_runs(p, args) {
        Runs::Stdin => true,
        Runs::Code(i) => args.get(i).is_some_and(|c| code_runs_stdin(&c.loose)),
        _ => false,
    }
}
