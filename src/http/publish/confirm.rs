//! `POST /api/v1/skills/confirm` (SPEC §3.6): the confirm body, the analysis of the uploaded tarball (archive
//! checks and the scan, also used by ephemeral seeding), the blob and the publication transaction.

use super::{MAX_README, remove_quietly, valid_integrity};
use crate::app::{App, AppState};
use crate::auth;
use crate::domain::{format_ts, integrity_of, now_ms};
use crate::error::AppError;
use crate::http::limit::RateGate;
use crate::issue_path;
use crate::store::Publication;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
struct ConfirmBody {
    version_id: String,
    integrity: String,
    skill_id: Option<String>,
    readme: Option<String>,
}

/// A required string field of the confirm body: its value, or an issue (`Required` when absent, `invalid`
/// for a string that breaks the rule, `not_string` for any other JSON value).
fn required_str(
    v: &Value,
    key: &str,
    ok: impl Fn(&str) -> bool,
    invalid: &str,
    not_string: &str,
    issues: &mut Vec<crate::domain::Issue>,
) -> String {
    let message = match v.get(key) {
        Some(Value::String(s)) if ok(s) => return s.clone(),
        Some(Value::String(_)) => invalid,
        Some(_) => not_string,
        None => "Required",
    };
    issues.push(crate::domain::Issue::new(issue_path![key], message));
    String::new()
}

fn validate_confirm(v: &Value) -> Result<ConfirmBody, AppError> {
    let mut issues = Vec::new();
    let version_id = required_str(
        v,
        "versionId",
        |s| (1..=64).contains(&s.chars().count()),
        "Must be 1 to 64 characters.",
        "Expected a string.",
        &mut issues,
    );
    let integrity_msg = "Expected sha512- followed by the base64 of a 64-byte digest.";
    let integrity = required_str(
        v,
        "integrity",
        valid_integrity,
        integrity_msg,
        integrity_msg,
        &mut issues,
    );
    let skill_id = match v.get("skillId") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            issues.push(crate::domain::Issue::new(
                issue_path!["skillId"],
                "Expected a string.",
            ));
            None
        }
    };
    for key in ["fileCount", "tarballSize"] {
        if let Some(x) = v.get(key)
            && !x.is_u64()
        {
            issues.push(crate::domain::Issue::new(
                issue_path![key],
                "Expected a non-negative integer.",
            ));
        }
    }
    let readme = match v.get("readme") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= MAX_README => Some(s.clone()),
        Some(Value::String(_)) => {
            issues.push(crate::domain::Issue::new(
                issue_path!["readme"],
                "The readme is larger than 1 MiB.",
            ));
            None
        }
        Some(_) => {
            issues.push(crate::domain::Issue::new(
                issue_path!["readme"],
                "Expected a string or null.",
            ));
            None
        }
    };
    if !issues.is_empty() {
        return Err(AppError::issues(issues));
    }
    Ok(ConfirmBody {
        version_id,
        integrity,
        skill_id,
        readme,
    })
}

/// `POST /api/v1/skills/confirm` (SPEC §3.6), counted for `tank_publish_total` (§3.22): a 200 published,
/// a 422 rejected.
pub async fn confirm_publish(
    state: State<AppState>,
    gate: Extension<RateGate>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let app = state.0.clone();
    let r = confirm_inner(state, gate, headers, body).await;
    match &r {
        Ok(_) => app.metrics.publish(true),
        Err(AppError::Validation { .. }) => app.metrics.publish(false),
        Err(_) => {}
    }
    r
}

async fn confirm_inner(
    State(app): State<AppState>,
    Extension(gate): Extension<RateGate>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let (id, body) = super::publisher_and_body(&app, &gate, &headers, body).await?;
    let req = validate_confirm(&body)?;
    let not_found = || AppError::NotFound("The version to confirm was not found.".into());

    let lookup = |app: AppState, vid: String| async move {
        let store = app.store.clone();
        tokio::task::spawn_blocking(move || store.live_row(&vid, now_ms()))
            .await?
            .map_err(AppError::from)
    };
    // Step 1 before the lock (to learn the lock key), then again under it.
    let row = lookup(app.clone(), req.version_id.clone())
        .await?
        .ok_or_else(not_found)?;
    let _guard = app.locks.lock(&row.skill_name, &row.version_key).await;
    let row = lookup(app.clone(), req.version_id.clone())
        .await?
        .ok_or_else(not_found)?;
    if row.created_by != id.user.id || req.skill_id.as_ref().is_some_and(|s| s != &row.skill_id) {
        return Err(not_found());
    }
    // Step 2: namespace again.
    {
        let store = app.store.clone();
        let user = id.user.clone();
        let name = row.skill_name.clone();
        tokio::task::spawn_blocking(move || store.check_namespace(&user, &name)).await??;
    }
    // Steps 3–4.
    if row.state == "published" {
        return Err(AppError::VersionExists(format!(
            "Version {} of {} is already confirmed.",
            row.version, row.skill_name
        )));
    }
    let upload_path = app.config.upload_path(&row.version_id);
    let no_upload = || {
        AppError::validation(
            issue_path!["versionId"],
            "No tarball has been uploaded for this version.",
        )
    };
    if row.state == "pending" {
        return Err(no_upload());
    }
    // Step 5: hash the bytes we will publish; the PUT's hash is not trusted.
    let tarball = match tokio::fs::read(&upload_path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_upload()),
        Err(e) => return Err(e.into()),
    };
    let digest = Sha512::digest(&tarball);
    let computed = integrity_of(&digest);
    if !auth::ct_eq(&computed, &req.integrity) {
        return Err(AppError::validation(
            issue_path!["integrity"],
            format!("Integrity mismatch: the uploaded bytes hash to {computed}."),
        ));
    }
    let sha512_hex = hex::encode(digest);

    // Steps 6 and 8: archive check and scan on exactly these bytes, on the scan pool.
    let permit = app.scans.acquire(false).await?;
    let manifest: Value = serde_json::from_str(&row.manifest).map_err(AppError::internal)?;
    let timeout = app.config.scan_timeout;
    let protected = protected_names(&app, &row.skill_name).await?;
    let start_readme = row.readme.clone();
    let confirm_readme = req.readme.clone();
    let app_for_scan = app.clone();
    let analysed = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        analyse(
            &app_for_scan.metrics,
            &tarball,
            &manifest,
            confirm_readme.or(start_readme),
            &protected,
            timeout,
        )
    })
    .await??;
    let Analysed {
        report_json,
        audit_score,
        verdict,
        verdict_lower,
        readme,
        entries_json,
        file_count,
        size,
        tarball,
    } = analysed;

    // Step 9: blob first, then the publication transaction (SPEC §4.4).
    {
        let blobs = app.blobs.clone();
        let hex = sha512_hex.clone();
        tokio::task::spawn_blocking(move || {
            crate::blobs::BlobStore::put_bytes(&*blobs, &tarball, &hex)
        })
        .await??;
    }
    let store = app.store.clone();
    let vid = row.version_id.clone();
    let (integ, hex) = (computed.clone(), sha512_hex.clone());
    let verdict_c = verdict.clone();
    let published = tokio::task::spawn_blocking(move || {
        store.publish_version(
            &Publication {
                version_id: &vid,
                integrity: &integ,
                sha512_hex: &hex,
                tarball_size: size as i64,
                file_count,
                file_entries_json: &entries_json,
                scan_json: &report_json,
                audit_score,
                verdict: &verdict_c,
                readme: &readme,
            },
            now_ms(),
        )
    })
    .await?;
    let published = published?;
    remove_quietly(&upload_path).await;
    // Read-your-writes (SPEC §4.4 step 3): wait up to 2 s for the index; a failure still answers 200.
    app.search.signal();
    if !app
        .search
        .wait_for(published.index_seq, std::time::Duration::from_secs(2))
        .await
    {
        tracing::error!(skill = %published.name, "search index did not catch up within 2 s");
    }
    Ok(Json(json!({
        "success": true,
        "name": published.name,
        "version": published.version,
        "status": "published",
        "visibility": published.visibility,
        "auditScore": audit_score,
        "verdict": verdict,
        "scanVerdict": verdict_lower,
        "integrity": computed,
        "publishedAt": format_ts(published.published_at),
    }))
    .into_response())
}

/// SUP-007 at publication (SPEC §8.3): the unscoped names of this registry's public skills with ≥ 1,000
/// downloads in another scope than the publishing skill's; the skill itself is excluded. Unscoped names share
/// one global namespace, so a popular unscoped name protects against every publisher (chosen: there a squat
/// is exactly the attack).
async fn protected_names(app: &App, skill_name: &str) -> Result<Vec<String>, AppError> {
    let store = app.store.clone();
    let names = tokio::task::spawn_blocking(move || store.popular_public_names(1000)).await??;
    let scope_of = |n: &str| {
        n.strip_prefix('@')
            .and_then(|r| r.split_once('/'))
            .map(|(s, _)| s.to_string())
    };
    let own = scope_of(skill_name);
    let mut out: Vec<String> = names
        .iter()
        .filter(|n| {
            let scope = scope_of(n);
            n.as_str() != skill_name && (scope.is_none() || scope != own)
        })
        .map(|n| n.rsplit('/').next().unwrap_or(n).to_string())
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// The result of [`analyse`]; also used by ephemeral seeding (SPEC §11.6).
pub(crate) struct Analysed {
    pub(crate) report_json: String,
    pub(crate) audit_score: i64,
    pub(crate) verdict: String,
    pub(crate) verdict_lower: String,
    pub(crate) readme: String,
    pub(crate) entries_json: String,
    pub(crate) file_count: i64,
    pub(crate) size: u64,
    pub(crate) tarball: Vec<u8>,
}

/// Archive check, readme choice, file list and scan (blocking; runs on the scan pool). Also used by ephemeral
/// seeding, so that seeds go through exactly the checks of confirm (SPEC §11.6).
pub(crate) fn analyse(
    metrics: &crate::metrics::Metrics,
    tarball: &[u8],
    manifest: &Value,
    readme: Option<String>,
    protected_names: &[String],
    timeout: std::time::Duration,
) -> Result<Analysed, AppError> {
    let unreadable = || {
        AppError::validation(
            issue_path!["tarball"],
            "The uploaded file is not a readable .tar.gz archive.",
        )
    };
    // A stage 0 limit (entry count, decompressed size) is ARC-004, which the scan reports with the rule and
    // the offending entry (SPEC §3.6 step 6); only a truly unreadable archive gets the generic message.
    let entries = match crate::archive::list_files(tarball) {
        Ok(entries) => Some(entries),
        Err(
            crate::archive::ArchiveError::TooManyEntries | crate::archive::ArchiveError::TooLarge,
        ) => None,
        Err(_) => return Err(unreadable()),
    };
    // Readme: confirm's, else start's, else root SKILL.md, else root README.md, else "" (SPEC §3.6).
    let readme = match readme {
        Some(r) => r,
        None => ["SKILL.md", "README.md"]
            .iter()
            .find_map(|p| crate::archive::read_file(tarball, p).ok().flatten())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default(),
    };
    let report = crate::scan::scan(&crate::scan::ScanInput {
        tarball,
        manifest: Some(manifest),
        readme: Some(&readme),
        protected_names,
        timeout,
    });
    metrics.scan(report.verdict.as_lower());
    if let Some(b) = &report.blocking {
        return Err(AppError::validation(
            issue_path!["tarball"],
            b.message.clone(),
        ));
    }
    let entries = entries.ok_or_else(unreadable)?;
    let mut report_value = report.to_json(Some(&crate::domain::new_id("scan")));
    let entries_json = serde_json::to_string(
        &entries
            .iter()
            .map(|e| json!({"path": e.path, "size": e.size}))
            .collect::<Vec<_>>(),
    )
    .map_err(AppError::internal)?;
    if let Some(obj) = report_value.as_object_mut() {
        obj.remove("scanned_at");
    }
    Ok(Analysed {
        report_json: report_value.to_string(),
        audit_score: report.audit_score as i64,
        verdict: report.verdict.as_upper().to_string(),
        verdict_lower: report.verdict.as_lower().to_string(),
        readme,
        entries_json,
        file_count: entries.len() as i64,
        size: tarball.len() as u64,
        tarball: tarball.to_vec(),
    })
}
