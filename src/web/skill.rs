//! Skill pages (SPEC §3.23): `GET /skills/{name}[/{version}]` with the version's scan, readme, versions,
//! downloads and stars, and `POST /skills/{name}/star` (session + CSRF). Visibility of §6 with the session
//! user: an invisible skill gets the same 404 page as a missing one.

use super::{
    Chrome, csrf_failure, current_session, markdown, message_page, read_form, render, see_other,
    session_csrf_ok,
};
use crate::app::AppState;
use crate::domain::{format_ts, is_valid_skill_name};
use crate::http::extract::decode_path_segment;
use crate::http::skills::{encode_component, find_skill, find_version, skill_downloads};
use crate::store::{Session, SkillRow, VersionRow, Viewer};
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

/// One row of the findings table.
pub struct FindingRow {
    pub severity: String,
    pub rule_id: String,
    pub rule_type: String,
    pub message: String,
    pub location: String,
}

impl FindingRow {
    /// Rows from a §3.15 / §8.6 `findings` array (missing fields render empty).
    pub fn from_report(report: &Value) -> Vec<FindingRow> {
        let s = |f: &Value, k: &str| f.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        report
            .get("findings")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|f| FindingRow {
                        severity: s(f, "severity"),
                        rule_id: s(f, "ruleId"),
                        rule_type: s(f, "type"),
                        message: s(f, "message"),
                        location: s(f, "location"),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub struct VersionLink {
    pub version: String,
    pub href: String,
    pub published_at: String,
    pub verdict: String,
    pub audit_score: i64,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "skill.html")]
struct SkillPage {
    signed_in: Option<String>,
    csrf_meta: Option<String>,
    name: String,
    description: String,
    version: String,
    verdict: String,
    audit_score: i64,
    permissions: String,
    findings: Vec<FindingRow>,
    notes: usize,
    versions: Vec<VersionLink>,
    downloads: i64,
    stars: i64,
    starred: Option<bool>,
    star_action: String,
    repository: Option<String>,
    readme_html: String,
    private: bool,
}

/// Splits `@scope/name[/rest…]` or `name[/rest…]` (segments already split at `/`) as SPEC §2.3 does.
fn split_name(raw: &str) -> Option<(String, Vec<String>)> {
    let segs: Vec<String> = raw
        .split('/')
        .map(decode_path_segment)
        .collect::<Result<_, _>>()
        .ok()?;
    if segs.iter().any(String::is_empty) {
        return None;
    }
    let (name, rest) = if segs[0].contains('/') {
        (segs[0].clone(), segs[1..].to_vec())
    } else if segs[0].starts_with('@') {
        (format!("{}/{}", segs[0], segs.get(1)?), segs[2..].to_vec())
    } else {
        (segs[0].clone(), segs[1..].to_vec())
    };
    is_valid_skill_name(&name).then_some((name, rest))
}

fn viewer_of(session: &Option<Session>) -> Viewer {
    match session {
        Some(s) => Viewer {
            user_id: Some(s.user.id.clone()),
            username: Some(s.user.username.clone()),
            admin: s.user.is_admin,
        },
        None => Viewer::anonymous(),
    }
}

/// The page path of a skill (scope and name as two readable segments).
pub fn page_path(name: &str) -> String {
    let enc: Vec<String> = name.split('/').map(encode_component).collect();
    format!("/skills/{}", enc.join("/"))
}

fn not_found(session: &Option<Session>) -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        session.as_ref(),
        "Not found",
        "There is no such skill or version, or you may not see it.",
    )
}

pub async fn skill_page(
    State(app): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Response {
    let session = current_session(&app, &headers).await;
    let Some((name, rest)) = split_name(&raw) else {
        return not_found(&session);
    };
    let wanted = match rest.as_slice() {
        [] => None,
        [v] => Some(v.clone()),
        _ => return not_found(&session),
    };
    let Ok(skill) = find_skill(&app, &name, viewer_of(&session)).await else {
        return not_found(&session);
    };
    let store = app.store.clone();
    let sid = skill.id.clone();
    let Ok(Ok(versions)) =
        tokio::task::spawn_blocking(move || store.published_versions(&sid)).await
    else {
        return error_page(&session);
    };
    let version = match &wanted {
        Some(v) => match find_version(&app, &skill, v).await {
            Ok(v) => v,
            Err(_) => return not_found(&session),
        },
        None => match versions.iter().find(|v| v.id == skill.latest_version_id) {
            Some(v) => v.clone(),
            None => return not_found(&session),
        },
    };
    let downloads = skill_downloads(&app, &skill.id).await.unwrap_or(0);
    let store = app.store.clone();
    let (sid, uid) = (
        skill.id.clone(),
        session.as_ref().map(|s| s.user.id.clone()),
    );
    let stars =
        tokio::task::spawn_blocking(move || -> crate::store::Result<(i64, Option<bool>)> {
            let count = store.star_count(&sid)?;
            let mine = match uid {
                Some(u) => Some(store.is_starred(&sid, &u)?),
                None => None,
            };
            Ok((count, mine))
        })
        .await;
    let Ok(Ok((stars, starred))) = stars else {
        return error_page(&session);
    };
    let chrome = Chrome::of(&session);
    render(
        StatusCode::OK,
        &build_page(
            chrome, &skill, &version, &versions, downloads, stars, starred,
        ),
    )
}

fn error_page(session: &Option<Session>) -> Response {
    message_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        session.as_ref(),
        "Something went wrong",
        "The page could not be built. Try again.",
    )
}

fn build_page(
    chrome: Chrome,
    skill: &SkillRow,
    v: &VersionRow,
    versions: &[VersionRow],
    downloads: i64,
    stars: i64,
    starred: Option<bool>,
) -> SkillPage {
    let base = page_path(&skill.name);
    let permissions = v
        .manifest
        .get("permissions")
        .map(|p| serde_json::to_string_pretty(p).unwrap_or_default())
        .unwrap_or_else(|| "none declared".into());
    let notes = v
        .scan
        .get("notes")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let mut links: Vec<VersionLink> = versions
        .iter()
        .map(|x| VersionLink {
            version: x.version.clone(),
            href: format!("{base}/{}", encode_component(&x.version)),
            published_at: format_ts(x.published_at),
            verdict: x.verdict.clone(),
            audit_score: x.audit_score,
            current: x.id == v.id,
        })
        .collect();
    links.reverse();
    // Only http(s) repository links (§3.23).
    let repository = skill.repository.clone().filter(|r| {
        let l = r.trim().to_ascii_lowercase();
        l.starts_with("https://") || l.starts_with("http://")
    });
    SkillPage {
        signed_in: chrome.signed_in,
        csrf_meta: chrome.csrf_meta,
        name: skill.name.clone(),
        description: skill.description.clone(),
        version: v.version.clone(),
        verdict: v.verdict.clone(),
        audit_score: v.audit_score,
        permissions,
        findings: FindingRow::from_report(&v.scan),
        notes,
        versions: links,
        downloads,
        stars,
        starred,
        star_action: format!("{base}/star"),
        repository,
        readme_html: markdown::render(&v.readme, &skill.name, &v.version),
        private: skill.visibility == crate::domain::Visibility::Private,
    }
}

/// `POST /skills/{name}/star` (SPEC §3.23): form `action` = star | unstar and `csrf_token`.
pub async fn star_form(
    State(app): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let session = current_session(&app, &headers).await;
    let (name, rest) = match split_name(&raw) {
        Some(x) => x,
        None => return not_found(&session),
    };
    if rest.as_slice() != ["star"] {
        return not_found(&session);
    }
    let Some(session) = session else {
        // Back to the page after signing in: a GET of `…/star` is not a page.
        let next = page_path(&name);
        return see_other(&format!("/login?next={}", encode_component(&next)));
    };
    let form = match read_form(&headers, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if !session_csrf_ok(&session, &form) {
        return csrf_failure(Some(&session));
    }
    let on = match form.get("action") {
        Some("star") => true,
        Some("unstar") => false,
        _ => {
            return message_page(
                StatusCode::BAD_REQUEST,
                Some(&session),
                "Bad request",
                "The form must say star or unstar.",
            );
        }
    };
    let some = Some(session.clone());
    let Ok(skill) = find_skill(&app, &name, viewer_of(&some)).await else {
        return not_found(&some);
    };
    let store = app.store.clone();
    let uid = session.user.id.clone();
    let sid = skill.id.clone();
    match tokio::task::spawn_blocking(move || store.set_star(&sid, &uid, on)).await {
        Ok(Ok(_)) => see_other(&page_path(&skill.name)),
        _ => error_page(&some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_like_the_api() {
        assert_eq!(split_name("hello"), Some(("hello".into(), vec![])));
        assert_eq!(
            split_name("@acme/tool/1.0.0"),
            Some(("@acme/tool".into(), vec!["1.0.0".into()]))
        );
        assert_eq!(
            split_name("%40acme%2Ftool/star"),
            Some(("@acme/tool".into(), vec!["star".into()]))
        );
        assert_eq!(split_name("@acme"), None);
        assert_eq!(split_name("Bad Name"), None);
        assert_eq!(split_name("a//b"), None);
        assert_eq!(page_path("@acme/tool"), "/skills/%40acme/tool");
    }
}
