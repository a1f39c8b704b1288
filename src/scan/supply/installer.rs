//! Installer lines (SPEC §8.3 stage 5, chosen): `pip`, `pip3`, `uv`, `pipx`, `npm`, `pnpm`, `yarn`, `bun`,
//! `npx`, `uvx`, `gem`, `cargo` and `go install` command lines in Markdown shell text and in command strings
//! of agent configuration (STR-010) and IDE auto-run (STR-013) files, checked by SUP-003, SUP-004 and
//! SUP-006 only; and MCP server launch commands (agent configs, the manifest's `mcp_server`), which also
//! get SUP-002 for an unversioned `npx`/`bunx`/`uvx`/`pipx run` package.

use super::data::{self, Eco};
use super::deps::{self, Dep, Req, VerClass};
use super::npm::is_github_shorthand;
use super::words::{self, Command};
use super::{Origin, Out, line_containing};
use crate::scan::StageCtx;
use crate::scan::StageError;
use crate::scan::agent::{self, ConfigItems};
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use serde_json::Value;

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

/// Shell text: every simple command, at `base_line + line - 1`.
fn shell_text(text: &str, base_line: u32, origin: Origin, out: &mut Out) {
    let lines: Vec<&str> = text.lines().collect();
    for cmd in words::split(text) {
        let Command { line, .. } = cmd;
        let argv = cmd.argv();
        let evidence = lines
            .get(line.saturating_sub(1) as usize)
            .map(|l| l.trim().to_string())
            .unwrap_or_else(|| argv.join(" "));
        check_command(&argv, Some(base_line + line - 1), &evidence, origin, out);
    }
}

/// Strips `$ ` and `> ` prompts (SPEC §8.2 Markdown shell text).
fn strip_prompts(block: &str) -> String {
    block
        .lines()
        .map(|l| {
            let t = l.trim_start();
            t.strip_prefix("$ ")
                .or_else(|| t.strip_prefix("> "))
                .unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Inline code and code blocks of a Markdown file.
pub fn markdown(ctx: &StageCtx, path: &str, text: &str, out: &mut Out) -> Result<(), StageError> {
    out.set_file(Some(path));
    let line_at = |off: usize| {
        text.get(..off)
            .map_or(1, |t| t.matches('\n').count() as u32 + 1)
    };
    let mut block: Option<(usize, String)> = None;
    for (n, (ev, range)) in Parser::new_ext(text, Options::empty())
        .into_offset_iter()
        .enumerate()
    {
        if n % 256 == 0 {
            ctx.check_deadline()?;
        }
        match ev {
            Event::Start(Tag::CodeBlock(kind)) => {
                let start = match kind {
                    // Content starts on the line after the opening fence.
                    CodeBlockKind::Fenced(_) => text
                        .get(range.start..)
                        .and_then(|t| t.find('\n'))
                        .map_or(range.start, |i| range.start + i + 1),
                    CodeBlockKind::Indented => range.start,
                };
                block = Some((start, String::new()));
            }
            Event::Text(t) => {
                if let Some((_, b)) = block.as_mut() {
                    b.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((start, b)) = block.take() {
                    shell_text(&strip_prompts(&b), line_at(start), Origin::Installer, out);
                }
            }
            Event::Code(c) => {
                shell_text(
                    &strip_prompts(&c),
                    line_at(range.start),
                    Origin::Installer,
                    out,
                );
            }
            _ => {}
        }
    }
    Ok(())
}

/// The 1-based line of a JSON string value in the file text.
fn json_string_line(text: &str, s: &str) -> Option<u32> {
    let head: String = s.chars().take(60).collect();
    line_containing(text, &head).or_else(|| {
        let esc = serde_json::to_string(&head).ok()?;
        line_containing(text, esc.trim_matches('"'))
    })
}

/// Agent configuration (STR-010, by name or by shape) and IDE auto-run (STR-013) files: command strings
/// are installer lines; MCP server entries are launch commands.
pub fn config_file(path: &str, text: &str, size: u64, out: &mut Out) {
    let by_name = agent::is_agent_config_name(path);
    let ide = agent::ide_file(path);
    let name = path.rsplit('/').next().unwrap_or(path);
    if path.ends_with(".toml") {
        if by_name {
            out.set_file(Some(path));
            codex_toml(text, out);
        }
        return;
    }
    if !by_name
        && ide.is_none()
        && (size > 1024 * 1024 || crate::scan::kinds::is_lock_file(path) || name == "package.json")
    {
        return;
    }
    let Some(v) = agent::parse_jsonc(text) else {
        return;
    };
    out.set_file(Some(path));
    if let Some(kind) = ide {
        for (c, needle) in ide_commands(kind, &v) {
            let line = json_string_line(text, &needle);
            shell_line(&c, line, out);
        }
        return;
    }
    let items = ConfigItems::from_json(&v, by_name);
    if !by_name && !items.looks_like_config(&v) {
        return;
    }
    let mut cmds: Vec<String> = items.hooks.into_iter().flat_map(|(_, c)| c).collect();
    for key in [
        "apiKeyHelper",
        "awsAuthRefresh",
        "awsCredentialExport",
        "otelHeadersHelper",
    ] {
        if let Some(s) = v.get(key).and_then(Value::as_str) {
            cmds.push(s.to_string());
        }
    }
    if let Some(s) = v.pointer("/statusLine/command").and_then(Value::as_str) {
        cmds.push(s.to_string());
    }
    for c in cmds {
        let line = json_string_line(text, &c);
        shell_line(&c, line, out);
    }
    let keys: &[&str] = if by_name {
        &["mcpServers", "mcp_servers", "servers"]
    } else {
        &["mcpServers", "mcp_servers"]
    };
    for key in keys {
        if let Some(servers) = v.get(key).and_then(Value::as_object) {
            for s in servers.values() {
                mcp_server(s, text, out);
            }
        }
    }
}

/// A command string read as shell: each simple command is an installer line at `line`.
fn shell_line(cmd: &str, line: Option<u32>, out: &mut Out) {
    for c in words::split(cmd) {
        let argv = c.argv();
        check_command(&argv, line, cmd, Origin::Installer, out);
    }
}

/// One MCP server object (`command` + `args`).
fn mcp_server(s: &Value, text: &str, out: &mut Out) {
    let Some(cmd) = s.get("command").and_then(Value::as_str) else {
        return;
    };
    let args: Vec<&str> = s
        .get("args")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    // The package operand is more distinctive than the command (`npx` may start several entries).
    let needle = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .copied()
        .unwrap_or(cmd);
    let line = json_string_line(text, needle).or_else(|| json_string_line(text, cmd));
    mcp_launch(cmd, &args, line, out);
}

fn mcp_launch(cmd: &str, args: &[&str], line: Option<u32>, out: &mut Out) {
    let split = words::split(cmd);
    let mut argv: Vec<String> = split
        .first()
        .map(|c| c.words.iter().map(|w| w.text.clone()).collect())
        .unwrap_or_default();
    argv.extend(args.iter().map(|a| a.to_string()));
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let evidence = refs.join(" ");
    check_command(&refs, line, &evidence, Origin::Mcp, out);
}

/// `.codex/config.toml`: `[mcp_servers.<name>]` with `command` and `args`.
fn codex_toml(text: &str, out: &mut Out) {
    if !super::toml_nesting_ok(text) {
        return;
    }
    let Ok(t) = text.parse::<toml::Table>() else {
        return;
    };
    let Some(servers) = t.get("mcp_servers").and_then(toml::Value::as_table) else {
        return;
    };
    for s in servers.values() {
        let Some(cmd) = s.get("command").and_then(toml::Value::as_str) else {
            continue;
        };
        let args: Vec<&str> = s
            .get("args")
            .and_then(toml::Value::as_array)
            .map(|a| a.iter().filter_map(toml::Value::as_str).collect())
            .unwrap_or_default();
        mcp_launch(cmd, &args, line_containing(text, cmd), out);
    }
}

/// Command strings of STR-013 files: task commands (with their args) and dev-container lifecycle
/// commands (string, array or object of either), each with the raw string that locates its line.
fn ide_commands(kind: agent::IdeFile, v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let as_cmd = |c: &Value| -> Option<(String, String)> {
        match c {
            Value::String(s) => Some((s.clone(), s.clone())),
            Value::Array(a) => {
                let parts: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
                Some((
                    parts
                        .iter()
                        .map(|p| shell_quote(p))
                        .collect::<Vec<_>>()
                        .join(" "),
                    parts.first().map(|p| p.to_string()).unwrap_or_default(),
                ))
            }
            _ => None,
        }
    };
    match kind {
        agent::IdeFile::VscodeTasks => {
            for t in v
                .get("tasks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some((mut c, needle)) = t.get("command").and_then(as_cmd) {
                    if let Some(a) = t.get("args").and_then(Value::as_array) {
                        for x in a.iter().filter_map(Value::as_str) {
                            c.push(' ');
                            c.push_str(&shell_quote(x));
                        }
                    }
                    out.push((c, needle));
                }
            }
        }
        agent::IdeFile::Devcontainer => {
            for k in [
                "initializeCommand",
                "onCreateCommand",
                "updateContentCommand",
                "postCreateCommand",
                "postStartCommand",
                "postAttachCommand",
            ] {
                match v.get(k) {
                    Some(Value::Object(o)) => out.extend(o.values().filter_map(as_cmd)),
                    Some(c) => out.extend(as_cmd(c)),
                    None => {}
                }
            }
        }
        agent::IdeFile::VscodeSettings => {}
    }
    out
}

/// Quotes an argv element so the tokenizer reads it back as one word.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@^~".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The effective manifest's `mcp_server` (SPEC §8.3 stage 5): a launch command like an MCP config entry.
pub fn manifest_mcp(ctx: &StageCtx, out: &mut Out) {
    let Some(m) = ctx.files.effective_manifest(ctx.input.manifest) else {
        return;
    };
    let Some(s) = m.get("mcp_server") else {
        return;
    };
    // The request manifest has no file; a root manifest file is named (SPEC §8.2 effective manifest).
    let file = if ctx.input.manifest.is_some() {
        None
    } else {
        ctx.files
            .root_manifests()
            .into_iter()
            .find(|(_, v)| v.is_some())
            .map(|(n, _)| n)
    };
    out.set_file(file);
    let text = file
        .and_then(|f| ctx.files.get(f))
        .and_then(|f| f.text())
        .map(|t| t.into_owned())
        .unwrap_or_default();
    let Some(cmd) = s.get("command").and_then(Value::as_str) else {
        return;
    };
    let args: Vec<&str> = s
        .get("args")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let line = line_containing(&text, "\"mcp_server\"");
    mcp_launch(cmd, &args, line, out);
}
