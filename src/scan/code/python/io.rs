//! File rules at Python call sites (SPEC §8.3): CODE-004 reads of CRED paths, CODE-005 persistence
//! writes, CODE-007 self-modification, and the constant write targets MAN-003 judges.

use super::fold::{SELF_ROOT, Val};
use super::taint::OPENERS;
use super::{Mode, Py, Scope, call_args};
use crate::scan::agent;
use crate::scan::code::FsWrite;
use crate::scan::code::man::is_outside_write;
use crate::scan::code::terms::{self, Persist};
use crate::scan::report::Severity;
use crate::scan::syntax;
use crate::scan::syntax::NodeExt;
use crate::scan::vocab::{fold_home, is_cred_path, is_env_file};
use tree_sitter::Node;

const CODE_EXTS: [&str; 13] = [
    ".py", ".pyw", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".mts", ".cts", ".sh", ".bash",
    ".zsh",
];
const MANIFESTS: [&str; 5] = [
    "tank.json",
    "skills.json",
    "SKILL.json",
    "package.json",
    "SKILL.md",
];

/// A path inside this package (folded from `__file__`), normalised; None when it leaves the package.
fn self_path(p: &str) -> Option<String> {
    let rest = p.strip_prefix(SELF_ROOT)?;
    let mut segs: Vec<&str> = Vec::new();
    for s in rest.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                segs.pop()?;
            }
            _ => segs.push(s),
        }
    }
    Some(segs.join("/"))
}

/// True for the package's own SKILL.md, manifest or code files (CODE-007).
fn is_own_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    MANIFESTS.iter().any(|m| m.eq_ignore_ascii_case(name))
        || CODE_EXTS.iter().any(|e| name.ends_with(e))
}

fn is_write_mode(m: &str) -> bool {
    m.contains(['w', 'a', 'x', '+'])
}

impl<'t> Py<'t> {
    fn texts(&self, n: Node<'t>, sc: &Scope<'t>) -> Vec<String> {
        self.fold(n, sc).iter().filter_map(Val::text).collect()
    }

    /// The path an open file handle expression refers to: `open(p, "w")` or a name bound to one.
    fn handle_path(&self, n: Node<'t>, sc: &Scope<'t>) -> Option<Node<'t>> {
        let call = match n.ty() {
            "call" => n,
            "identifier" => self.single_assign(&self.ident(n), sc)?.0,
            _ => return None,
        };
        if call.ty() != "call" {
            return None;
        }
        let func = call.field("function")?;
        let q = self.qual(func, sc)?;
        let (pos, _) = call_args(call, self.src);
        if OPENERS.contains(&q.as_str()) {
            return pos.first().copied();
        }
        // `Path(p).open("w")`.
        if func.ty() == "attribute"
            && func
                .field("attribute")
                .is_some_and(|a| syntax::text(a, self.src) == "open")
        {
            return func.field("object");
        }
        None
    }

    pub fn file_ops(
        &mut self,
        call: Node<'t>,
        q: &str,
        pos: &[Node<'t>],
        kw: &[(String, Node<'t>)],
        sc: &Scope<'t>,
    ) {
        let Some(func) = call.field("function") else {
            return;
        };
        let kwv = |name: &str| kw.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
        if OPENERS.contains(&q) {
            let Some(p) = pos.first().copied().or_else(|| kwv("file")) else {
                return;
            };
            let mode = pos
                .get(1)
                .copied()
                .or_else(|| kwv("mode").or_else(|| kwv("flags")))
                .map(|m| {
                    self.fold_str(m, sc)
                        .unwrap_or_else(|| syntax::text(m, self.src).to_string())
                })
                .unwrap_or_else(|| "r".into());
            let write = if q == "os.open" {
                ["O_WRONLY", "O_RDWR", "O_APPEND", "O_CREAT"]
                    .iter()
                    .any(|f| mode.contains(f))
            } else {
                is_write_mode(&mode)
            };
            if write {
                self.write_target(call, p, None, sc);
            } else {
                self.cred_read(call, p, sc);
            }
            return;
        }
        let (base, m) = q.rsplit_once('.').unwrap_or(("", q));
        match (base, m) {
            ("shutil", "copy" | "copy2" | "copyfile" | "copytree" | "move")
            | ("os", "symlink" | "link" | "rename" | "replace") => {
                if let Some(src) = pos.first() {
                    self.cred_read(call, *src, sc);
                }
                if let Some(dst) = pos.get(1).copied().or_else(|| kwv("dst")) {
                    self.write_target(call, dst, pos.first().copied(), sc);
                }
                return;
            }
            ("json" | "yaml" | "pickle" | "toml", "dump") => {
                if let Some(h) = pos.get(1)
                    && let Some(p) = self.handle_path(*h, sc)
                {
                    self.write_target(call, p, pos.first().copied(), sc);
                }
                return;
            }
            _ => {}
        }
        if func.ty() != "attribute" {
            return;
        }
        let Some(obj) = func.field("object") else {
            return;
        };
        let m = func
            .field("attribute")
            .map(|a| syntax::text(a, self.src))
            .unwrap_or("");
        match m {
            "read_text" | "read_bytes" => self.cred_read(call, obj, sc),
            "open" if !OPENERS.contains(&q) => {
                let mode = pos
                    .first()
                    .and_then(|n| self.fold_str(*n, sc))
                    .unwrap_or_else(|| "r".into());
                if is_write_mode(&mode) {
                    self.write_target(call, obj, None, sc);
                } else {
                    self.cred_read(call, obj, sc);
                }
            }
            "write_text" | "write_bytes" => self.write_target(call, obj, pos.first().copied(), sc),
            "write" | "writelines" => {
                if let Some(p) = self.handle_path(obj, sc) {
                    self.write_target(call, p, pos.first().copied(), sc);
                }
            }
            "symlink_to" | "hardlink_to" => self.write_target(call, obj, None, sc),
            _ => {}
        }
    }

    /// CODE-005: a constant written to a project-level agent configuration that defines an item STR-010
    /// rates high (hooks, a broad grant, an MCP command, a command helper, auto-enabled MCP servers, a
    /// hijacking env name).
    fn defines_high_item(&self, data: Node<'t>, sc: &Scope<'t>) -> bool {
        self.texts(data, sc).iter().any(|t| {
            let Some(v) = agent::parse_jsonc(t) else {
                return false;
            };
            let it = agent::ConfigItems::from_json(&v, true);
            !it.hooks.is_empty()
                || it.allow.iter().any(|a| agent::is_broad_grant(a))
                || !it.mcp_commands.is_empty()
                || !it.helpers.is_empty()
                || it.enable_all_mcp
                || it.enabled_mcpjson
                || it.env.iter().any(|(k, _)| agent::is_hijack_env(k))
        })
    }

    /// CODE-004: an open/read/copy of a path folding to a CRED path.
    fn cred_read(&mut self, call: Node<'t>, path: Node<'t>, sc: &Scope<'t>) {
        let texts = self.texts(path, sc);
        if sc.mode == Mode::Normal && texts.iter().any(|p| is_env_file(p) || is_cred_path(p)) {
            self.facts.reads_secret = true;
        }
        let Some(p) = texts
            .into_iter()
            .map(|p| fold_home(&p))
            .find(|p| is_cred_path(p))
        else {
            return;
        };
        self.emit(
            sc,
            call,
            "CODE-004",
            "sensitive_file_read",
            Severity::High,
            format!("Reads the credential file {p}."),
            None,
            0.9,
        );
    }

    /// CODE-005, CODE-007 and MAN-003 for a write to `path` (`data`: the written value when known).
    fn write_target(
        &mut self,
        call: Node<'t>,
        path: Node<'t>,
        data: Option<Node<'t>>,
        sc: &Scope<'t>,
    ) {
        let data_taint = data.map_or(0, |d| self.taint_of(d, sc));
        let data_const = data.is_some_and(|d| !self.fold(d, sc).is_empty());
        let special = Self::net_or_decoded(data_taint);
        for p in self.texts(path, sc) {
            let p = fold_home(&p);
            if let Some(rel) = self_path(&p) {
                if is_own_file(&rel) || terms::is_agent_skill_dir(&rel) {
                    let sev = if special {
                        Severity::High
                    } else {
                        Severity::Medium
                    };
                    self.emit(
                        sc,
                        call,
                        "CODE-007",
                        "self_modification",
                        sev,
                        format!("Writes to the package's own file {rel}."),
                        None,
                        0.85,
                    );
                }
                continue;
            }
            if terms::is_agent_skill_dir(&p) {
                let sev = if special {
                    Severity::High
                } else {
                    Severity::Medium
                };
                self.emit(
                    sc,
                    call,
                    "CODE-007",
                    "self_modification",
                    sev,
                    format!("Writes into the agent skill directory {p}."),
                    None,
                    0.85,
                );
                continue;
            }
            if let Some(kind) = terms::persistence_target(&p) {
                let text_ok = data.is_some() && (data_const || special);
                let sev = match kind {
                    Persist::High => Some(Severity::High),
                    Persist::ProjectConfig
                        if data.is_some_and(|d| self.defines_high_item(d, sc)) =>
                    {
                        Some(Severity::High)
                    }
                    Persist::ProjectConfig => Some(Severity::Medium),
                    Persist::UserInstructions if text_ok => Some(Severity::High),
                    Persist::ProjectInstructions if text_ok => Some(Severity::Medium),
                    _ => None,
                };
                if let Some(sev) = sev {
                    self.emit(
                        sc,
                        call,
                        "CODE-005",
                        "persistence",
                        sev,
                        format!("Writes to {p}, which runs or is read again on later sessions."),
                        None,
                        0.9,
                    );
                }
                continue;
            }
            if sc.mode == Mode::Normal && is_outside_write(&p) {
                let w = FsWrite {
                    path: p.clone(),
                    file: self.f.file.path.clone(),
                    line: syntax::line(call),
                };
                if !self.caps.fs_writes.contains(&w) {
                    self.caps.fs_writes.push(w);
                }
            }
        }
    }
}
