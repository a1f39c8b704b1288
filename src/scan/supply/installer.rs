//! Installer lines (SPEC §8.3 stage 5, chosen): reads one simple command of `pip`, `pip3`, `uv`, `pipx`,
//! `npm`, `pnpm`, `yarn`, `bun`, `npx`, `uvx`, `gem`, `cargo` or `go install` and checks the packages and
//! index options it names with SUP-003, SUP-004 and SUP-006; MCP server launch commands also get SUP-002
//! for an unversioned `npx`/`bunx`/`uvx`/`pipx run` package. Where such commands are found is `sources.rs`.

use super::data::{self, Eco};
use super::deps::{self, Dep, Req, VerClass};
use super::npm::is_github_shorthand;
use super::words;
use super::{Origin, Out};

/// Options of pip-like installers that take a value.
const PIP_VALUE_OPTS: [&str; 34] = [
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-e",
    "--editable",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--trusted-host",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "--python",
    "-p",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--src",
    "--upgrade-strategy",
    "--log",
    "--proxy",
    "--retries",
    "--timeout",
    "--cache-dir",
    "--cert",
    "--client-cert",
    "--only-binary",
    "--no-binary",
    "--group",
];
/// Options of npm-like installers that take a value.
const NPM_VALUE_OPTS: [&str; 12] = [
    "--registry",
    "-w",
    "--workspace",
    "--prefix",
    "--tag",
    "--omit",
    "--include",
    "--cache",
    "--userconfig",
    "-C",
    "--cwd",
    "--filter",
];

/// One package named on an installer line.
struct Pkg {
    eco: Eco,
    name: String,
    req: Req,
    /// Named by a runner (`npx`, `bunx`, `uvx`, `pipx run`): SUP-002 applies in MCP launch commands.
    runner: bool,
}

/// A registry / index / source option on an installer line.
struct SourceOpt {
    message: String,
    url: Option<String>,
    trusted_host: bool,
}

#[derive(Default)]
struct Parsed {
    pkgs: Vec<Pkg>,
    sources: Vec<SourceOpt>,
}

/// Reads one simple command; `origin` is `Installer` or `Mcp`.
pub fn check_command(
    argv: &[&str],
    line: Option<u32>,
    evidence: &str,
    origin: Origin,
    out: &mut Out,
) {
    let Some(p) = parse(argv) else {
        return;
    };
    for s in p.sources {
        deps::untrusted(
            origin,
            s.url.as_deref(),
            s.trusted_host,
            s.message,
            line,
            evidence,
            out,
        );
    }
    for k in p.pkgs {
        let o = if origin == Origin::Mcp && k.runner {
            Origin::Mcp
        } else {
            Origin::Installer
        };
        deps::check(
            &Dep {
                eco: k.eco,
                name: k.name,
                req: k.req,
                line,
                evidence: evidence.to_string(),
            },
            o,
            out,
        );
    }
}

fn parse(argv: &[&str]) -> Option<Parsed> {
    let i = words::strip_wrappers(argv);
    let first = argv.get(i)?.trim_start_matches(['!', '%']);
    let prog = words::program(first);
    let rest: Vec<&str> = argv.get(i + 1..)?.to_vec();
    let sub = rest.first().copied().unwrap_or("");
    let after = |n: usize| rest.get(n..).unwrap_or(&[]).to_vec();
    let mut p = Parsed::default();
    let is_pip = |s: &str| {
        s == "pip"
            || s == "pip3"
            || s == "pip2"
            || s.strip_prefix("pip3.")
                .is_some_and(|v| v.bytes().all(|b| b.is_ascii_digit()))
    };
    match prog.as_str() {
        s if is_pip(s) && sub == "install" => pip_args(&after(1), &mut p),
        s if (s.starts_with("python") || s == "py") => {
            // `python -m pip install …` (also `-m uv pip install`).
            let m = rest.iter().position(|w| *w == "-m")?;
            let tail = rest.get(m + 1..)?;
            match tail {
                [pip, "install", args @ ..] if is_pip(pip) => pip_args(args, &mut p),
                ["uv", "pip", "install", args @ ..] => pip_args(args, &mut p),
                _ => return None,
            }
        }
        "uv" => match rest.as_slice() {
            ["pip", "install", args @ ..] | ["add", args @ ..] | ["tool", "install", args @ ..] => {
                pip_args(args, &mut p)
            }
            ["tool", "run", args @ ..] => uvx_args(args, &mut p),
            _ => return None,
        },
        "uvx" => uvx_args(&rest, &mut p),
        "pipx" => match rest.as_slice() {
            ["install", args @ ..] => pip_args(args, &mut p),
            ["inject", _venv, args @ ..] => pip_args(args, &mut p),
            ["run", args @ ..] => pipx_run_args(args, &mut p),
            _ => return None,
        },
        "npm" => match sub {
            "install" | "i" | "add" | "in" | "ins" | "inst" | "insta" | "instal" | "isntall" => {
                npm_args(&after(1), &mut p)
            }
            "exec" | "x" => npx_args(&after(1), &mut p),
            _ => return None,
        },
        "pnpm" => match sub {
            "add" | "install" | "i" => npm_args(&after(1), &mut p),
            "dlx" => npx_args(&after(1), &mut p),
            _ => return None,
        },
        "yarn" => match rest.as_slice() {
            ["add", args @ ..] | ["global", "add", args @ ..] => npm_args(args, &mut p),
            ["dlx", args @ ..] => npx_args(args, &mut p),
            _ => return None,
        },
        "bun" => match sub {
            "add" | "install" | "i" | "a" => npm_args(&after(1), &mut p),
            "x" => npx_args(&after(1), &mut p),
            _ => return None,
        },
        "npx" | "bunx" | "pnpx" => npx_args(&rest, &mut p),
        "gem" if sub == "install" => gem_args(&after(1), &mut p),
        "cargo" if sub == "install" => cargo_args(&after(1), &mut p),
        // `go install` names module paths with their host; no list or blocklist applies (chosen).
        "go" if sub == "install" || sub == "get" => return None,
        _ => return None,
    }
    Some(p)
}

/// Splits `--opt=value`; returns (option, inline value).
fn opt_split(w: &str) -> (&str, Option<&str>) {
    if w.starts_with("--")
        && let Some((o, v)) = w.split_once('=')
    {
        return (o, Some(v));
    }
    (w, None)
}

fn index_opt(eco: Eco, opt: &str, url: &str, p: &mut Parsed) {
    if url.contains('$') || deps::is_default_registry(eco, url) {
        return;
    }
    p.sources.push(SourceOpt {
        message: format!("{opt} points the installer at a non-default package index ({url})."),
        url: Some(url.to_string()),
        trusted_host: false,
    });
}

fn pip_args(args: &[&str], p: &mut Parsed) {
    let mut i = 0;
    while i < args.len() {
        let (opt, inline) = opt_split(args[i]);
        if opt.starts_with('-') && opt.len() > 1 {
            let takes = PIP_VALUE_OPTS.contains(&opt);
            let val = if takes && inline.is_none() {
                i += 1;
                args.get(i).copied()
            } else {
                inline
            };
            i += 1;
            let Some(v) = val else { continue };
            match opt {
                "-i" | "--index-url" | "--extra-index-url" | "--default-index" | "--index" => {
                    index_opt(Eco::Pypi, opt, v, p)
                }
                "--trusted-host" => p.sources.push(SourceOpt {
                    message: format!("--trusted-host turns off TLS verification for {v}."),
                    url: None,
                    trusted_host: true,
                }),
                "-f" | "--find-links" if v.starts_with("http://") || v.starts_with("https://") => {
                    p.sources.push(SourceOpt {
                        message: format!("{opt} makes the installer take packages from {v}."),
                        url: Some(v.to_string()),
                        trusted_host: false,
                    })
                }
                "-e" | "--editable" => pip_pkg(v, false, p),
                "-r" | "--requirement" | "-c" | "--constraint" if deps::url_source(v).is_some() => {
                    p.sources.push(SourceOpt {
                        message: format!("Requirements are read from the remote file {v}."),
                        url: Some(v.to_string()),
                        trusted_host: false,
                    })
                }
                _ => {}
            }
            continue;
        }
        pip_pkg(args[i], false, p);
        i += 1;
    }
}

/// A pip package argument: VCS/URL forms are untrusted sources, local paths are not judged (chosen: on a
/// documentation line they name the reader's files), names go through SUP-003/SUP-006.
fn pip_pkg(arg: &str, runner: bool, p: &mut Parsed) {
    if arg.contains('$') || arg.is_empty() {
        return;
    }
    if let Some((what, url)) = deps::url_source(arg) {
        let name = arg.split_once("#egg=").map_or(arg, |(_, n)| n).to_string();
        p.pkgs.push(Pkg {
            eco: Eco::Pypi,
            name,
            req: Req::Untrusted { what, url },
            runner,
        });
        return;
    }
    if arg.starts_with('.') || arg.starts_with('/') || arg.starts_with('~') || arg.contains('/') {
        return;
    }
    // uv also accepts `name@version`.
    let (spec, at_ver) = match arg.split_once('@') {
        Some((n, v)) if !v.contains("://") && !v.trim().is_empty() => (n, Some(v.trim())),
        _ => (arg, None),
    };
    let Some(r) = super::python::parse_pep508(spec) else {
        return;
    };
    let class = match at_ver {
        Some(v) if v.eq_ignore_ascii_case("latest") => VerClass::Unpinned,
        Some(v) => VerClass::Exact(v.to_string()),
        None => deps::classify_pep440(&r.spec),
    };
    p.pkgs.push(Pkg {
        eco: Eco::Pypi,
        name: r.name,
        req: Req::Version(class),
        runner,
    });
}

fn uvx_args(args: &[&str], p: &mut Parsed) {
    let mut from: Option<&str> = None;
    let mut i = 0;
    while i < args.len() {
        let (opt, inline) = opt_split(args[i]);
        if opt.starts_with('-') && opt.len() > 1 {
            let takes = matches!(
                opt,
                "--from"
                    | "--with"
                    | "-w"
                    | "-p"
                    | "--python"
                    | "--index-url"
                    | "-i"
                    | "--extra-index-url"
                    | "--index"
                    | "--default-index"
                    | "--with-requirements"
                    | "--with-editable"
                    | "-f"
                    | "--find-links"
            );
            let val = if takes && inline.is_none() {
                i += 1;
                args.get(i).copied()
            } else {
                inline
            };
            i += 1;
            if let Some(v) = val {
                match opt {
                    "--from" => from = Some(v),
                    "--with" | "-w" => pip_pkg(v, false, p),
                    "--index-url" | "-i" | "--extra-index-url" | "--index" | "--default-index" => {
                        index_opt(Eco::Pypi, opt, v, p)
                    }
                    _ => {}
                }
            }
            continue;
        }
        pip_pkg(from.unwrap_or(args[i]), true, p);
        return;
    }
    if let Some(f) = from {
        pip_pkg(f, true, p);
    }
}

fn pipx_run_args(args: &[&str], p: &mut Parsed) {
    let mut spec: Option<&str> = None;
    let mut i = 0;
    while i < args.len() {
        let (opt, inline) = opt_split(args[i]);
        if opt.starts_with('-') && opt.len() > 1 {
            let takes = matches!(opt, "--spec" | "--python" | "--index-url" | "--pip-args");
            let val = if takes && inline.is_none() {
                i += 1;
                args.get(i).copied()
            } else {
                inline
            };
            i += 1;
            match (opt, val) {
                ("--spec", Some(v)) => spec = Some(v),
                ("--index-url", Some(v)) => index_opt(Eco::Pypi, opt, v, p),
                _ => {}
            }
            continue;
        }
        pip_pkg(spec.unwrap_or(args[i]), true, p);
        return;
    }
    if let Some(s) = spec {
        pip_pkg(s, true, p);
    }
}

fn npm_args(args: &[&str], p: &mut Parsed) {
    let mut i = 0;
    while i < args.len() {
        let (opt, inline) = opt_split(args[i]);
        if opt == "--" {
            i += 1;
            continue;
        }
        if opt.starts_with('-') && opt.len() > 1 {
            let takes = NPM_VALUE_OPTS.contains(&opt);
            let val = if takes && inline.is_none() {
                i += 1;
                args.get(i).copied()
            } else {
                inline
            };
            i += 1;
            if let ("--registry", Some(v)) = (opt, val) {
                index_opt(Eco::Npm, opt, v, p);
            }
            continue;
        }
        npm_pkg(args[i], false, p);
        i += 1;
    }
}

/// `name`, `name@range`, `@scope/name@range`, and the git / URL / shorthand / path forms.
fn npm_pkg(arg: &str, runner: bool, p: &mut Parsed) {
    if arg.contains('$') || arg.is_empty() {
        return;
    }
    if let Some((what, url)) = deps::url_source(arg) {
        p.pkgs.push(Pkg {
            eco: Eco::Npm,
            name: arg.to_string(),
            req: Req::Untrusted { what, url },
            runner,
        });
        return;
    }
    if arg.starts_with('.') || arg.starts_with('/') || arg.starts_with('~') {
        return;
    }
    if arg.starts_with("file:") || arg.starts_with("link:") {
        let path = arg.split_once(':').map_or("", |(_, r)| r);
        if deps::resolve_inside("", path).is_none() {
            p.pkgs.push(Pkg {
                eco: Eco::Npm,
                name: arg.to_string(),
                req: Req::Untrusted {
                    what: "a local path outside the package".into(),
                    url: None,
                },
                runner,
            });
        }
        return;
    }
    if is_github_shorthand(arg) {
        p.pkgs.push(Pkg {
            eco: Eco::Npm,
            name: arg.to_string(),
            req: Req::Untrusted {
                what: "a GitHub repository (user/repo shorthand)".into(),
                url: None,
            },
            runner,
        });
        return;
    }
    let at = arg.get(1..).and_then(|r| r.find('@')).map(|i| i + 1);
    let (name, range) = match at {
        Some(i) => (&arg[..i], Some(&arg[i + 1..])),
        None => (arg, None),
    };
    if !data::valid_npm_name(name) {
        return;
    }
    let class = match range {
        None => VerClass::Unpinned,
        Some(r) => deps::classify_npm_range(r),
    };
    p.pkgs.push(Pkg {
        eco: Eco::Npm,
        name: name.to_string(),
        req: Req::Version(class),
        runner,
    });
}

fn npx_args(args: &[&str], p: &mut Parsed) {
    let mut named = false;
    let mut i = 0;
    while i < args.len() {
        let (opt, inline) = opt_split(args[i]);
        if opt == "--" {
            i += 1;
            continue;
        }
        if opt.starts_with('-') && opt.len() > 1 {
            let takes = matches!(opt, "-p" | "--package" | "-c" | "--call" | "--registry");
            let val = if takes && inline.is_none() {
                i += 1;
                args.get(i).copied()
            } else {
                inline
            };
            i += 1;
            match (opt, val) {
                ("-p" | "--package", Some(v)) => {
                    named = true;
                    npm_pkg(v, true, p);
                }
                ("-c" | "--call", _) => return,
                ("--registry", Some(v)) => index_opt(Eco::Npm, opt, v, p),
                _ => {}
            }
            continue;
        }
        // With `--package`, the first operand is the command name, not a package.
        if !named {
            npm_pkg(args[i], true, p);
        }
        return;
    }
}

fn gem_args(args: &[&str], p: &mut Parsed) {
    let mut i = 0;
    while i < args.len() {
        let (opt, inline) = opt_split(args[i]);
        if matches!(opt, "--source" | "-s") {
            let v = inline.or_else(|| {
                i += 1;
                args.get(i).copied()
            });
            if let Some(v) = v
                && !v
                    .trim_end_matches('/')
                    .eq_ignore_ascii_case("https://rubygems.org")
            {
                p.sources.push(SourceOpt {
                    message: format!("gem install takes gems from a non-default source ({v})."),
                    url: Some(v.to_string()),
                    trusted_host: false,
                });
            }
        }
        i += 1;
    }
}

fn cargo_args(args: &[&str], p: &mut Parsed) {
    let mut i = 0;
    while i < args.len() {
        let (opt, inline) = opt_split(args[i]);
        if matches!(opt, "--git" | "--index") {
            let v = inline.or_else(|| {
                i += 1;
                args.get(i).copied()
            });
            if let Some(v) = v {
                p.sources.push(SourceOpt {
                    message: format!("cargo install builds from {v}, not from the registry."),
                    url: Some(v.to_string()),
                    trusted_host: false,
                });
            }
        }
        i += 1;
    }
}
