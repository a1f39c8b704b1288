//! Tarball download (SPEC §3.10), file list (§3.11), file content (§3.12) and a version's stored scan (§3.13).

use crate::app::App;
use crate::auth;
use crate::blobs::BlobStore;
use crate::domain::{Visibility, format_ts, now_ms};
use crate::error::AppError;
use crate::http::extract::{Identity, optional_auth, parse_query, query_get, viewer_of};
use crate::http::skills::{find_skill, find_version, resolve};
use crate::store::{SkillRow, VersionRow, Viewer};
use axum::Json;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

fn cache_control(skill: &SkillRow) -> &'static str {
    match skill.visibility {
        Visibility::Public => "public, max-age=31536000, immutable",
        Visibility::Private => "private, no-store",
    }
}

async fn read_blob(app: &App, v: &VersionRow) -> Result<Vec<u8>, AppError> {
    let blobs = app.blobs.clone();
    let hex = v.sha512_hex.clone();
    Ok(tokio::task::spawn_blocking(move || blobs.read(&hex)).await??)
}

/// A valid download capability for (name, version) of the request (SPEC §3.10), as the viewer it grants.
async fn capability_viewer(app: &App, uri: &Uri, name: &str) -> Option<(String, Viewer, i64)> {
    let q = parse_query(uri.query()).ok()?;
    let uid = query_get(&q, "uid")?.to_string();
    let expires: i64 = query_get(&q, "expires")?.parse().ok()?;
    let signature = query_get(&q, "signature")?.to_string();
    if now_ms() / 1000 > expires {
        return None;
    }
    let store = app.store.clone();
    let u = uid.clone();
    let user = tokio::task::spawn_blocking(move || store.user_by_id(&u))
        .await
        .ok()?
        .ok()??;
    if user.disabled {
        return None;
    }
    let _ = name;
    Some((
        signature,
        Viewer {
            user_id: Some(user.id),
            username: Some(user.username),
            // For this check an admin user may see every skill (SPEC §3.10).
            admin: user.is_admin,
        },
        expires,
    ))
}

/// `GET|HEAD …/{version}/tarball`. `count`: a GET answered 200 adds one download.
pub async fn download_tarball(
    app: &App,
    headers: &HeaderMap,
    uri: &Uri,
    name: &str,
    version: &str,
    count: bool,
) -> Result<Response, AppError> {
    // An invalid Bearer token is still a 401 (SPEC §3.10).
    let id = optional_auth(app, headers).await?;
    // A query that is not valid UTF-8 percent-encoding is a 400 like everywhere (SPEC §2.4), not an
    // absent capability.
    parse_query(uri.query())?;
    let mut found: Option<(SkillRow, VersionRow)> = None;
    if let Some((signature, viewer, expires)) = capability_viewer(app, uri, name).await
        && let Ok(skill) = find_skill(app, name, viewer.clone()).await
        && let Ok(v) = find_version(app, &skill, version).await
    {
        let uid = viewer.user_id.clone().unwrap_or_default();
        if auth::verify(
            &app.secret,
            &auth::download_message(&skill.name, &v.version, &uid, expires),
            &signature,
        ) {
            found = Some((skill, v));
        }
    }
    let (skill, v) = match found {
        Some(f) => f,
        // A bad or expired capability is judged as if there were none.
        None => {
            let skill = find_skill(app, name, viewer_of(&id)).await?;
            let v = find_version(app, &skill, version).await?;
            (skill, v)
        }
    };
    let bytes = read_blob(app, &v).await?;
    if count {
        app.downloads.add(&v.id, &skill.id);
    }
    let filename = format!(
        "{}-{}.tgz",
        skill.name.replace('@', "").replace('/', "-"),
        v.version
    );
    let mut resp = Response::new(Body::from(bytes));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/gzip"),
    );
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", v.integrity)) {
        h.insert(header::ETAG, etag);
    }
    if let Ok(cd) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, cd);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control(&skill)),
    );
    Ok(resp)
}

fn entries_of(v: &VersionRow) -> Vec<(String, u64)> {
    v.file_entries
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| {
                    Some((
                        e.get("path")?.as_str()?.to_string(),
                        e.get("size")?.as_u64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `GET …/{version}/files` (SPEC §3.11): computed at confirm from the stored bytes.
pub async fn list_files(
    app: &App,
    id: &Option<Identity>,
    name: &str,
    version: &str,
) -> Result<Response, AppError> {
    let (skill, v) = resolve(app, id, name, version).await?;
    let entries = entries_of(&v);
    Ok(Json(json!({
        "name": skill.name,
        "version": v.version,
        "files": entries.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        "entries": entries.iter().map(|(p, s)| json!({"path": p, "size": s})).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// Content type by extension; anything that could be active content is plain text (SPEC §3.12).
pub fn content_type_for(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "md" | "markdown" | "mdx" => "text/markdown; charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        _ => "text/plain; charset=utf-8",
    }
}

/// `GET|HEAD …/{version}/files/{path…}` (SPEC §3.12).
pub async fn get_file(
    app: &App,
    id: &Option<Identity>,
    name: &str,
    version: &str,
    path: &str,
) -> Result<Response, AppError> {
    let (skill, v) = resolve(app, id, name, version).await?;
    let not_found = || {
        AppError::NotFound(format!(
            "File {path} was not found in {}@{}.",
            skill.name, v.version
        ))
    };
    if !entries_of(&v).iter().any(|(p, _)| p == path) {
        return Err(not_found());
    }
    let tarball = read_blob(app, &v).await?;
    let p = path.to_string();
    let content = tokio::task::spawn_blocking(move || crate::archive::read_file(&tarball, &p))
        .await?
        .map_err(AppError::internal)?
        .ok_or_else(not_found)?;
    let mut resp = (StatusCode::OK, content).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type_for(path)),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control(&skill)),
    );
    Ok(resp)
}

/// `GET …/{version}/scan` (SPEC §3.13): the stored report plus `scanned_at`.
pub async fn get_version_scan(
    app: &App,
    id: &Option<Identity>,
    name: &str,
    version: &str,
) -> Result<Response, AppError> {
    let (_, v) = resolve(app, id, name, version).await?;
    let mut report: Value = v.scan.clone();
    if let Some(obj) = report.as_object_mut() {
        obj.insert("scanned_at".into(), json!(format_ts(v.published_at)));
    }
    Ok(Json(report).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(content_type_for("SKILL.md"), "text/markdown; charset=utf-8");
        assert_eq!(content_type_for("a/b.JSON"), "application/json");
        assert_eq!(content_type_for("x.html"), "text/plain; charset=utf-8");
        assert_eq!(content_type_for("x.svg"), "text/plain; charset=utf-8");
        assert_eq!(content_type_for("Makefile"), "text/plain; charset=utf-8");
        assert_eq!(content_type_for("i.JPEG"), "image/jpeg");
    }
}
