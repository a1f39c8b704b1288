//! Skill routes on the raw path (SPEC §2.3): metadata (§3.7), versions (§3.8), version detail (§3.9), and
//! dispatch to files, tarball, scan and stars.

use crate::app::{App, AppState};
use crate::auth;
use crate::domain::{format_ts, is_valid_skill_name, now_ms, parse_version};
use crate::error::AppError;
use crate::http::extract::{Identity, decode_path_segment, viewer_of};
use crate::http::limit::RateGate;
use crate::http::{files, stars};
use crate::store::{SkillRow, VersionRow, Viewer};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

/// What the remaining segments after the name select (SPEC §2.3 table).
#[derive(Debug, PartialEq, Eq)]
pub enum SkillRoute {
    Metadata,
    Versions,
    Star,
    Detail(String),
    Tarball(String),
    Files(String),
    File(String, Vec<String>),
    Scan(String),
}

/// Parses the raw path after `/api/v1/skills/` into (name, route). Empty segments and invalid names → 404;
/// bad percent-encoding → 400.
pub fn parse_skill_path(raw: &str) -> Result<(String, SkillRoute), AppError> {
    let not_found = || AppError::NotFound("No such API route.".into());
    let raw_segments: Vec<&str> = raw.split('/').collect();
    if raw_segments.iter().any(|s| s.is_empty()) {
        return Err(not_found());
    }
    let decoded: Vec<String> = raw_segments
        .iter()
        .map(|s| decode_path_segment(s))
        .collect::<Result<_, _>>()?;
    let (name, rest) = if decoded[0].contains('/') {
        (decoded[0].clone(), &decoded[1..])
    } else if decoded[0].starts_with('@') {
        let second = decoded.get(1).ok_or_else(not_found)?;
        (format!("{}/{}", decoded[0], second), &decoded[2..])
    } else {
        (decoded[0].clone(), &decoded[1..])
    };
    if !is_valid_skill_name(&name) {
        return Err(AppError::skill_not_found(&name));
    }
    let route = match rest {
        [] => SkillRoute::Metadata,
        [s] if s == "versions" => SkillRoute::Versions,
        [s] if s == "star" => SkillRoute::Star,
        [v] => SkillRoute::Detail(v.clone()),
        [v, s] if s == "tarball" => SkillRoute::Tarball(v.clone()),
        [v, s] if s == "files" => SkillRoute::Files(v.clone()),
        [v, s] if s == "scan" => SkillRoute::Scan(v.clone()),
        [v, s, path @ ..] if s == "files" => {
            // Inside the file path a `.`/`..` segment (raw or encoded), NUL or `\` is 400 (SPEC §3.12).
            // A decoded `%2F` splits too: `a%2F..%2Fb` is the path `a/../b`, a traversal.
            if path.iter().any(|p| {
                p.split('/').any(|c| c == "." || c == "..") || p.contains('\0') || p.contains('\\')
            }) {
                return Err(AppError::BadRequest("The file path is invalid.".into()));
            }
            SkillRoute::File(v.clone(), path.to_vec())
        }
        _ => return Err(not_found()),
    };
    Ok((name, route))
}

/// One entry point for `/api/v1/skills/{…}` (and the non-POST methods of `/api/v1/skills/confirm`).
///
/// Credentials are resolved once here, through the rate-limit gate, after the route is known (SPEC §2.7);
/// the tarball is exempt from rate limiting (SPEC §2.9) and authenticates on its own.
pub async fn dispatch(
    State(app): State<AppState>,
    Extension(gate): Extension<RateGate>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let raw = uri
        .path()
        .strip_prefix("/api/v1/skills/")
        .unwrap_or_default();
    let result = match parse_skill_path(raw) {
        Err(e) => Err(e),
        Ok((name, route)) => {
            let is_get = method == Method::GET || method == Method::HEAD;
            match route {
                SkillRoute::Star => match method {
                    Method::GET | Method::HEAD | Method::POST | Method::DELETE => {
                        stars::handle(&app, &gate, &method, &headers, &name, body).await
                    }
                    _ => Err(AppError::MethodNotAllowed {
                        allow: "GET, HEAD, POST, DELETE",
                    }),
                },
                // `/api/v1/skills/confirm` also takes POST (SPEC §2.2), so its `Allow` lists it.
                _ if !is_get && raw == "confirm" => Err(AppError::MethodNotAllowed {
                    allow: "GET, HEAD, POST",
                }),
                _ if !is_get => Err(AppError::MethodNotAllowed { allow: "GET, HEAD" }),
                SkillRoute::Tarball(v) => {
                    files::download_tarball(&app, &headers, &uri, &name, &v, method == Method::GET)
                        .await
                }
                route => match gate.optional_auth(&app, &headers).await {
                    Err(e) => Err(e),
                    Ok(id) => read_route(&app, &id, &name, route).await,
                },
            }
        }
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// The read routes with optional Bearer auth, once the caller is known and counted.
async fn read_route(
    app: &App,
    id: &Option<Identity>,
    name: &str,
    route: SkillRoute,
) -> Result<Response, AppError> {
    match route {
        SkillRoute::Metadata => get_skill(app, id, name).await,
        SkillRoute::Versions => list_versions(app, id, name).await,
        SkillRoute::Detail(v) => get_version(app, id, name, &v).await,
        SkillRoute::Files(v) => files::list_files(app, id, name, &v).await,
        SkillRoute::File(v, p) => files::get_file(app, id, name, &v, &p.join("/")).await,
        SkillRoute::Scan(v) => files::get_version_scan(app, id, name, &v).await,
        SkillRoute::Star | SkillRoute::Tarball(_) => {
            Err(AppError::Internal("route dispatched twice".into()))
        }
    }
}

/// The visible skill or the one 404 body for missing and invisible alike (SPEC §6).
pub async fn find_skill(app: &App, name: &str, viewer: Viewer) -> Result<SkillRow, AppError> {
    let store = app.store.clone();
    let n = name.to_string();
    tokio::task::spawn_blocking(move || store.visible_skill(&n, &viewer))
        .await??
        .ok_or_else(|| AppError::skill_not_found(name))
}

/// A published version of a visible skill; unparsable or unknown versions → 404.
pub async fn find_version(
    app: &App,
    skill: &SkillRow,
    version: &str,
) -> Result<VersionRow, AppError> {
    let not_found = || {
        AppError::NotFound(format!(
            "Version {version} of {} was not found.",
            skill.name
        ))
    };
    let requested = parse_version(version).ok_or_else(not_found)?;
    let store = app.store.clone();
    let sid = skill.id.clone();
    tokio::task::spawn_blocking(move || store.published_version(&sid, &requested))
        .await??
        .ok_or_else(not_found)
}

/// Looks up name and version for the caller of a read endpoint.
pub async fn resolve(
    app: &App,
    id: &Option<Identity>,
    name: &str,
    version: &str,
) -> Result<(SkillRow, VersionRow), AppError> {
    let skill = find_skill(app, name, viewer_of(id)).await?;
    let v = find_version(app, &skill, version).await?;
    Ok((skill, v))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> crate::store::Result<T> + Send + 'static,
) -> Result<T, AppError> {
    Ok(tokio::task::spawn_blocking(f).await??)
}

fn publisher_json(user: &Option<crate::store::User>) -> Value {
    match user {
        Some(u) => json!({"name": u.username, "displayName": u.display()}),
        None => json!({"name": null, "displayName": null}),
    }
}

fn version_summary(v: &VersionRow) -> Value {
    json!({
        "version": v.version,
        "publishedAt": format_ts(v.published_at),
        "auditScore": v.audit_score,
        "verdict": v.verdict,
        "scanVerdict": v.verdict.to_ascii_lowercase(),
        "auditStatus": "completed",
        "integrity": v.integrity,
        "tarballSize": v.tarball_size,
        "fileCount": v.file_count,
    })
}

fn declared_permissions(v: &VersionRow) -> Value {
    v.manifest
        .get("permissions")
        .cloned()
        .unwrap_or_else(|| json!({}))
}

/// Stored plus unflushed downloads of a skill (SPEC §3.10 read-your-writes).
pub async fn skill_downloads(app: &App, skill_id: &str) -> Result<i64, AppError> {
    let store = app.store.clone();
    let sid = skill_id.to_string();
    let stored = blocking(move || store.skill_downloads(&sid)).await?;
    Ok(stored + app.downloads.pending_for_skill(skill_id))
}

/// `GET /api/v1/skills/{name}` (SPEC §3.7).
async fn get_skill(app: &App, id: &Option<Identity>, name: &str) -> Result<Response, AppError> {
    let skill = find_skill(app, name, viewer_of(id)).await?;
    let store = app.store.clone();
    let sid = skill.id.clone();
    let versions = blocking(move || store.published_versions(&sid)).await?;
    let latest = versions
        .iter()
        .find(|v| v.id == skill.latest_version_id)
        .ok_or_else(|| AppError::Internal("latest version missing".into()))?;
    let store = app.store.clone();
    let by = latest.created_by.clone();
    let publisher = blocking(move || store.user_by_id(&by)).await?;
    let store = app.store.clone();
    let sid = skill.id.clone();
    let stars = blocking(move || store.star_count(&sid)).await?;
    let downloads = skill_downloads(app, &skill.id).await?;
    Ok(Json(json!({
        "name": skill.name,
        "description": skill.description,
        "visibility": skill.visibility,
        "latestVersion": latest.version,
        "publisher": publisher_json(&publisher),
        "createdAt": format_ts(skill.created_at),
        "updatedAt": format_ts(skill.updated_at),
        "repository": skill.repository,
        "downloads": downloads,
        "stars": stars,
        "auditScore": latest.audit_score,
        "verdict": latest.verdict,
        "scanVerdict": latest.verdict.to_ascii_lowercase(),
        "auditStatus": "completed",
        "permissions": declared_permissions(latest),
        "readme": latest.readme,
        "versions": versions.iter().map(version_summary).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// `GET /api/v1/skills/{name}/versions` (SPEC §3.8).
async fn list_versions(app: &App, id: &Option<Identity>, name: &str) -> Result<Response, AppError> {
    let skill = find_skill(app, name, viewer_of(id)).await?;
    let store = app.store.clone();
    let sid = skill.id.clone();
    let versions = blocking(move || store.published_versions(&sid)).await?;
    Ok(Json(json!({
        "name": skill.name,
        "versions": versions.iter().map(version_summary).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// `encodeURIComponent` (the name is one path segment, SPEC §3.9).
pub fn encode_component(s: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'!')
        .remove(b'~')
        .remove(b'*')
        .remove(b'\'')
        .remove(b'(')
        .remove(b')');
    utf8_percent_encode(s, KEEP).to_string()
}

/// `GET /api/v1/skills/{name}/{version}` (SPEC §3.9). Never counts a download.
async fn get_version(
    app: &App,
    id: &Option<Identity>,
    name: &str,
    version: &str,
) -> Result<Response, AppError> {
    let (skill, v) = resolve(app, id, name, version).await?;
    let mut download_url = format!(
        "{}/api/v1/skills/{}/{}/tarball",
        app.public_url,
        encode_component(&skill.name),
        encode_component(&v.version)
    );
    if skill.visibility == crate::domain::Visibility::Private {
        // A capability bound to the caller, valid one hour (SPEC §3.9).
        let uid = id
            .as_ref()
            .map(|i| i.user.id.clone())
            .ok_or_else(|| AppError::Internal("private skill visible without identity".into()))?;
        let expires = now_ms() / 1000 + 3600;
        let sig = auth::sign(
            &app.secret,
            &auth::download_message(&skill.name, &v.version, &uid, expires),
        );
        download_url.push_str(&format!("?uid={uid}&expires={expires}&signature={sig}"));
    }
    let store = app.store.clone();
    let by = v.created_by.clone();
    let publisher = blocking(move || store.user_by_id(&by)).await?;
    let downloads = v.downloads + app.downloads.pending_for_version(&v.id);
    Ok(Json(json!({
        "name": skill.name,
        "version": v.version,
        "description": v.manifest.get("description").and_then(Value::as_str).unwrap_or(""),
        "visibility": skill.visibility,
        "permissions": declared_permissions(&v),
        "repository": v.manifest.get("repository").and_then(Value::as_str),
        "auditScore": v.audit_score,
        "verdict": v.verdict,
        "scanVerdict": v.verdict.to_ascii_lowercase(),
        "integrity": v.integrity,
        "publishedAt": format_ts(v.published_at),
        "downloadUrl": download_url,
        "auditStatus": "completed",
        "scanFindings": v.scan.get("findings").cloned().unwrap_or_else(|| json!([])),
        "dependencies": v.manifest.get("skills").cloned().unwrap_or_else(|| json!({})),
        "downloads": downloads,
        "fileCount": v.file_count,
        "tarballSize": v.tarball_size,
        "publisher": publisher_json(&publisher),
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<(String, SkillRoute), u16> {
        parse_skill_path(raw).map_err(|e| e.status().as_u16())
    }

    #[test]
    fn raw_path_forms() {
        assert_eq!(
            parse("%40acme%2Fx").unwrap(),
            ("@acme/x".into(), SkillRoute::Metadata)
        );
        assert_eq!(
            parse("@acme/x").unwrap(),
            ("@acme/x".into(), SkillRoute::Metadata)
        );
        assert_eq!(parse("@acme/x/versions").unwrap().1, SkillRoute::Versions);
        assert_eq!(
            parse("%40acme%2Fx/1.0.0/tarball").unwrap().1,
            SkillRoute::Tarball("1.0.0".into())
        );
        assert_eq!(
            parse("x/1.0.0/files/a/b%20c").unwrap().1,
            SkillRoute::File("1.0.0".into(), vec!["a".into(), "b c".into()])
        );
        assert_eq!(parse("x/1.0.0/files/a/%2e%2e/b"), Err(400));
        assert_eq!(parse("x/1.0.0/files/a/../b"), Err(400));
        assert_eq!(parse("x/1.0.0/files/a%5cb"), Err(400));
        assert_eq!(parse("x/1.0.0/files/a%2F..%2Fb"), Err(400));
        assert_eq!(parse("x/"), Err(404));
        assert_eq!(parse("x//versions"), Err(404));
        assert_eq!(parse("%2540org%252Fx"), Err(404));
        assert_eq!(parse("%zz"), Err(400));
        assert_eq!(parse("@acme"), Err(404));
        assert_eq!(parse("Upper"), Err(404));
        assert_eq!(parse("x/1.0.0/other"), Err(404));
        assert_eq!(
            parse("x/1.0.0/files"),
            Ok(("x".into(), SkillRoute::Files("1.0.0".into())))
        );
    }

    #[test]
    fn component_encoding() {
        assert_eq!(
            encode_component("@acme/hello-world"),
            "%40acme%2Fhello-world"
        );
        assert_eq!(encode_component("1.0.0+b.1"), "1.0.0%2Bb.1");
    }
}
