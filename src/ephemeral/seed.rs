//! Seeding an ephemeral instance (SPEC §11.6): resolving `--seed` paths into skill directories, reading and
//! validating their manifests, ownership of scopes, and publication in process through the same store,
//! archive check, scan and blob code as an HTTP publish (`http::publish::analyse`), without upload URLs or
//! per-version index waits. The caller commits the search index once afterwards.
//!
//! Not here: packing (`pack.rs`) and the instance's lifecycle (`mod.rs`).

use super::pack;
use crate::app::AppState;
use crate::domain::{Issue, PathSeg, now_ms, precedence, split_name, version_key};
use crate::error::AppError;
use crate::manifest::{Manifest, validate_manifest};
use crate::store::{Publication, PublishError, StartPublish, User};
use futures_util::StreamExt;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// At most 64 `--seed` paths (SPEC §11.1).
pub const MAX_SEEDS: usize = 64;

/// Seeding failed: one line per problem, each already prefixed with `seed <path>: `.
#[derive(Debug)]
pub struct SeedError(pub Vec<String>);

impl SeedError {
    fn one(path: &Path, message: impl std::fmt::Display) -> SeedError {
        SeedError(vec![format!("seed {}: {message}", path.display())])
    }
}

/// What seeding did (the ready line's `seeded`, SPEC §11.4).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seeded {
    pub skills: usize,
    pub versions: usize,
}

/// A skill directory with its validated manifest.
struct SkillDir {
    dir: PathBuf,
    manifest: Manifest,
    publish_files: Option<Vec<String>>,
}

/// `issue.path` as `a.b[0].c` for the one-line messages of SPEC §11.6 step 3.
fn dotted(path: &[PathSeg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            PathSeg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            PathSeg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn issue_lines(dir: &Path, issues: &[Issue]) -> Vec<String> {
    issues
        .iter()
        .map(|i| {
            if i.path.is_empty() {
                format!("seed {}: {}", dir.display(), i.message)
            } else {
                format!("seed {}: {}: {}", dir.display(), dotted(&i.path), i.message)
            }
        })
        .collect()
}

fn has_manifest(dir: &Path) -> bool {
    std::fs::metadata(dir.join("tank.json")).is_ok_and(|m| m.is_file())
}

/// The skill directories of one `--seed` PATH (SPEC §11.6 "Sources").
fn skill_dirs(path: &Path) -> Result<Vec<PathBuf>, SeedError> {
    if !std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(SeedError::one(path, "not a skill directory"));
    }
    if has_manifest(path) {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| SeedError::one(path, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| SeedError::one(path, e))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) && has_manifest(&entry.path()) {
            out.push(entry.path());
        }
    }
    if out.is_empty() {
        return Err(SeedError::one(path, "no tank.json found"));
    }
    Ok(out)
}

/// Reads and validates one skill directory's `tank.json` (SPEC §11.6 step 3).
fn read_skill(dir: &Path) -> Result<SkillDir, Vec<String>> {
    let fail = |m: String| vec![format!("seed {}: {m}", dir.display())];
    let text = std::fs::read_to_string(dir.join("tank.json"))
        .map_err(|e| fail(format!("cannot read tank.json: {e}")))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| fail(format!("tank.json is not valid JSON: {e}")))?;
    let publish_files = match value.get("publish").and_then(|p| p.get("files")) {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| fail("publish.files must be an array of strings".into()))?,
        ),
        Some(_) => return Err(fail("publish.files must be an array of strings".into())),
    };
    let manifest = validate_manifest(&value, &[PathSeg::from("manifest")])
        .map_err(|issues| issue_lines(dir, &issues))?;
    Ok(SkillDir {
        dir: dir.to_path_buf(),
        manifest,
        publish_files,
    })
}

/// A message for a refused publication.
fn publish_error_lines(dir: &Path, what: &str, e: PublishError) -> Vec<String> {
    match e {
        PublishError::Escalation(issues) => {
            let mut lines = vec![format!(
                "seed {}: {what}: Permission escalation requires a larger version bump.",
                dir.display()
            )];
            lines.extend(issue_lines(dir, &issues));
            lines
        }
        other => vec![format!("seed {}: {what}: {other}", dir.display())],
    }
}

fn app_error_lines(dir: &Path, what: &str, e: AppError) -> Vec<String> {
    match e {
        AppError::Validation { issues, .. } if !issues.is_empty() => issues
            .iter()
            .map(|i| format!("seed {}: {what}: {}", dir.display(), i.message))
            .collect(),
        other => vec![format!("seed {}: {what}: {other}", dir.display())],
    }
}

/// Makes sure `admin` may publish under the scope of `name` (SPEC §11.6 "Ownership").
fn ensure_scope(app: &AppState, admin: &User, name: &str, dir: &Path) -> Result<(), SeedError> {
    let (Some(scope), _) = split_name(name) else {
        return Ok(());
    };
    if scope == admin.username {
        return Ok(());
    }
    if !crate::admin::valid_slug(scope) {
        return Err(SeedError::one(
            dir,
            format!("the scope @{scope} is not a valid organisation name"),
        ));
    }
    let store = &app.store;
    let member = store
        .is_org_member(scope, &admin.id)
        .map_err(|e| SeedError::one(dir, e))?;
    if member {
        return Ok(());
    }
    // Owned by nobody: an org with the admin as its only member. Owned by someone else: the namespace check
    // of publish start refuses it with its own message.
    match store.create_org(scope, &admin.username) {
        Ok(_) | Err(crate::store::StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(SeedError::one(dir, e)),
    }
}

/// Packed and analysed, ready to publish.
struct Ready {
    packed: pack::Packed,
    analysed: crate::http::publish::Analysed,
}

/// Packs and analyses one skill directory on the scan pool (waiting for a slot rather than failing).
async fn prepare_one(app: AppState, skill: &SkillDir) -> Result<Ready, Vec<String>> {
    let dir = skill.dir.clone();
    let publish_files = skill.publish_files.clone();
    let manifest = skill.manifest.raw.clone();
    let what = format!("{}@{}", skill.manifest.name, skill.manifest.version_str);
    let permit = app.scans.acquire(true).await.map_err(|_| {
        vec![format!(
            "seed {}: the scanner is unavailable",
            dir.display()
        )]
    })?;
    let timeout = app.config.scan_timeout;
    let d = dir.clone();
    let app2 = app.clone();
    let out = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let packed = pack::pack(&d, publish_files.as_deref())
            .map_err(|e| vec![format!("seed {}: {e}", d.display())])?;
        // Seeds are published into an empty registry: no registry-protected names yet (SUP-007).
        let analysed = crate::http::publish::analyse(
            &app2.metrics,
            &packed.tarball,
            &manifest,
            None,
            &[],
            timeout,
        )
        .map_err(|e| app_error_lines(&d, &what, e))?;
        Ok(Ready { packed, analysed })
    })
    .await;
    match out {
        Ok(r) => r,
        Err(e) => Err(vec![format!("seed {}: {e}", dir.display())]),
    }
}

/// Publishes one prepared skill directory: §3.4 steps 1–3 (namespace, conflict, escalation) as `admin`, then
/// the blob and the publication transaction of §3.6 step 9 (which re-checks escalation).
fn publish_one(
    app: &AppState,
    admin: &User,
    skill: &SkillDir,
    ready: Ready,
) -> Result<(), Vec<String>> {
    let m = &skill.manifest;
    let dir = &skill.dir;
    let what = format!("{}@{}", m.name, m.version_str);
    let manifest_json = serde_json::to_string(&m.raw).map_err(|e| vec![e.to_string()])?;
    let files_json = serde_json::to_string(&ready.packed.files).map_err(|e| vec![e.to_string()])?;
    let started = app
        .store
        .start_publish(
            admin,
            &StartPublish {
                name: &m.name,
                version: &m.version,
                version_str: &m.version_str,
                permissions: &m.permissions,
                manifest_json: &manifest_json,
                readme: None,
                files_json: &files_json,
            },
            now_ms(),
        )
        .map_err(|e| publish_error_lines(dir, &what, e))?;
    let a = ready.analysed;
    let digest = {
        use sha2::Digest;
        sha2::Sha512::digest(&a.tarball)
    };
    let integrity = crate::domain::integrity_of(&digest);
    let sha512_hex = hex::encode(digest);
    crate::blobs::BlobStore::put_bytes(&*app.blobs, &a.tarball, &sha512_hex).map_err(|e| {
        vec![format!(
            "seed {}: cannot store the tarball: {e}",
            dir.display()
        )]
    })?;
    app.store
        .publish_version(
            &Publication {
                version_id: &started.version_id,
                integrity: &integrity,
                sha512_hex: &sha512_hex,
                tarball_size: a.size as i64,
                file_count: a.file_count,
                file_entries_json: &a.entries_json,
                scan_json: &a.report_json,
                audit_score: a.audit_score,
                verdict: &a.verdict,
                readme: &a.readme,
            },
            now_ms(),
        )
        .map_err(|e| publish_error_lines(dir, &what, e))?;
    tracing::info!(skill = %m.name, version = %m.version_str, verdict = %a.verdict, "seeded");
    Ok(())
}

/// Seeds every PATH in order (SPEC §11.6) and commits the search index once.
pub async fn seed_all(app: &AppState, paths: &[PathBuf]) -> Result<Seeded, SeedError> {
    if paths.is_empty() {
        return Ok(Seeded::default());
    }
    let admin = {
        let store = app.store.clone();
        tokio::task::spawn_blocking(move || store.user_by_name("admin"))
            .await
            .map_err(|e| SeedError(vec![format!("seed: {e}")]))?
            .map_err(|e| SeedError(vec![format!("seed: {e}")]))?
            .ok_or_else(|| SeedError(vec!["seed: no admin user".into()]))?
    };
    // (name, version key) → the directory that seeded it.
    let mut seen: HashMap<(String, String), PathBuf> = HashMap::new();
    let mut names = BTreeSet::new();
    let mut versions = 0;
    for path in paths {
        let dirs = skill_dirs(path)?;
        let mut problems = Vec::new();
        let mut skills = Vec::new();
        for d in &dirs {
            match read_skill(d) {
                Ok(s) => skills.push(s),
                Err(lines) => problems.extend(lines),
            }
        }
        if !problems.is_empty() {
            return Err(SeedError(problems));
        }
        // Ascending (name, SemVer precedence): a lower version is the escalation baseline of a higher one.
        skills.sort_by(|a, b| {
            a.manifest
                .name
                .as_bytes()
                .cmp(b.manifest.name.as_bytes())
                .then_with(|| precedence(&a.manifest.version, &b.manifest.version))
        });
        for s in &skills {
            let key = (s.manifest.name.clone(), version_key(&s.manifest.version));
            if let Some(other) = seen.get(&key) {
                return Err(SeedError::one(
                    &s.dir,
                    format!(
                        "{}@{} is already seeded by {}",
                        s.manifest.name,
                        s.manifest.version_str,
                        other.display()
                    ),
                ));
            }
            seen.insert(key, s.dir.clone());
        }
        // Packing and scanning run ahead on the scan pool, in order; publication is sequential.
        let workers = app.config.scan_workers.max(1);
        let mut prepared = futures_util::stream::iter(skills.iter())
            .map(|s| prepare_one(app.clone(), s))
            .buffered(workers * 2);
        let mut i = 0;
        while let Some(ready) = prepared.next().await {
            let skill = &skills[i];
            i += 1;
            let ready = ready.map_err(SeedError)?;
            let (app2, admin2) = (app.clone(), admin.clone());
            let dir = skill.dir.clone();
            let name = skill.manifest.name.clone();
            // Scope ownership and publication touch only SQLite and the blob store: blocking, but short.
            tokio::task::block_in_place(|| {
                ensure_scope(&app2, &admin2, &name, &dir)?;
                publish_one(&app2, &admin2, skill, ready).map_err(SeedError)
            })?;
            names.insert(name);
            versions += 1;
        }
    }
    // One index commit after the last seed (SPEC §11.6).
    let (search, store) = (app.search.clone(), app.store.clone());
    tokio::task::spawn_blocking(move || search.catch_up(&store))
        .await
        .map_err(|e| SeedError(vec![format!("seed: {e}")]))?
        .map_err(|e| SeedError(vec![format!("seed: {e}")]))?;
    Ok(Seeded {
        skills: names.len(),
        versions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths() {
        assert_eq!(
            dotted(&[PathSeg::from("manifest"), PathSeg::from("version")]),
            "manifest.version"
        );
        assert_eq!(
            dotted(&[
                PathSeg::from("manifest"),
                PathSeg::from("skills"),
                PathSeg::from(0usize),
                PathSeg::from("x")
            ]),
            "manifest.skills[0].x"
        );
    }
}
