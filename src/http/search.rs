//! `GET /api/v1/search` (SPEC §3.3): parameters, optional authentication (it only changes visibility) and
//! the response rows, read live from SQLite. Matching and ranking are `crate::search`'s.

use crate::app::{App, AppState};
use crate::domain::format_ts;
use crate::error::AppError;
use crate::http::extract::{parse_query, query_get, viewer_of};
use crate::http::limit::RateGate;
use crate::issue_path;
use crate::search::{self, MAX_LIMIT, MAX_PAGE, MAX_QUERY_CHARS};
use crate::store::Viewer;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};

const DEFAULT_LIMIT: u64 = 20;

/// A decimal integer clamped to `min..=max`; unparsable → `default` (SPEC §3.3). Integers too large for
/// 64 bits still clamp by their sign.
fn clamped(raw: Option<&str>, default: u64, min: u64, max: u64) -> u64 {
    let Some(s) = raw.map(str::trim) else {
        return default;
    };
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return default;
    }
    if neg {
        return min;
    }
    digits.parse::<u64>().unwrap_or(u64::MAX).clamp(min, max)
}

/// One search result as the API (§3.3) and the home page (§3.23) show it.
pub struct ResultRow {
    pub name: String,
    pub description: String,
    pub visibility: crate::domain::Visibility,
    pub latest_version: String,
    pub audit_score: i64,
    pub verdict: String,
    pub publisher: Option<String>,
    pub downloads: i64,
    pub stars: i64,
    pub updated_at: i64,
}

impl ResultRow {
    /// The skill page of this result (SPEC §3.23 "links to skill pages").
    pub fn page(&self) -> String {
        crate::web::skill_page_path(&self.name)
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "description": self.description,
            "visibility": self.visibility,
            "latestVersion": self.latest_version,
            "auditScore": self.audit_score,
            "verdict": self.verdict,
            "scanVerdict": self.verdict.to_ascii_lowercase(),
            "publisher": self.publisher,
            "downloads": self.downloads,
            "stars": self.stars,
            "updatedAt": format_ts(self.updated_at),
        })
    }
}

/// Runs a search for `viewer` (blocking: call from `spawn_blocking`). Returns the accessible total and the page.
pub fn run_search(
    app: &App,
    viewer: &Viewer,
    q: &str,
    page: u64,
    limit: u64,
) -> Result<(u64, Vec<ResultRow>), AppError> {
    let parsed = search::parse(q);
    // Stored counts plus unflushed increments, both as of one download flush: the epoch is read before
    // the increments, and a page whose stored counts carry another epoch (a flush fell in between) is
    // searched again. Flushes are at least 500 ms apart, so this repeats at most about once.
    let mut attempts = 0;
    let found = loop {
        let epoch = app.store.download_epoch();
        let pending_by_skill = app.downloads.pending_by_skill();
        let pending = |skill_id: &str| pending_by_skill.get(skill_id).copied().unwrap_or(0);
        let found = app
            .search
            .search(&app.store, viewer, &pending, &parsed, page, limit)
            .map_err(AppError::internal)?;
        attempts += 1;
        if found.downloads_epoch.is_none_or(|e| e == epoch) || attempts >= 8 {
            break found;
        }
    };
    let ids: Vec<&str> = found.hits.iter().map(|h| &*h.skill_id).collect();
    let rows = app
        .search
        .result_rows(&app.store, &ids)
        .map_err(AppError::internal)?;
    let results = rows
        .iter()
        .map(|r| ResultRow {
            name: r.name.clone(),
            description: r.description.clone(),
            visibility: r.visibility,
            latest_version: r.latest_version.clone(),
            audit_score: r.audit_score,
            verdict: r.verdict.clone(),
            publisher: r.publisher.clone(),
            downloads: found
                .hits
                .iter()
                .find(|h| *h.skill_id == r.id)
                .map(|h| h.downloads)
                .unwrap_or(0),
            stars: r.stars,
            updated_at: r.updated_at,
        })
        .collect();
    Ok((found.total, results))
}

/// `GET /api/v1/search`.
pub async fn search_skills(
    State(app): State<AppState>,
    Extension(gate): Extension<RateGate>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    // Counted in the caller's rate-limit bucket after authentication (SPEC §2.7, §2.9).
    let id = gate.optional_auth(&app, &headers).await?;
    let params = parse_query(uri.query())?;
    let q = query_get(&params, "q").unwrap_or("").trim().to_string();
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::validation(
            issue_path!["q"],
            format!("The query must be at most {MAX_QUERY_CHARS} characters."),
        ));
    }
    let page = clamped(query_get(&params, "page"), 1, 1, MAX_PAGE);
    let limit = clamped(query_get(&params, "limit"), DEFAULT_LIMIT, 1, MAX_LIMIT);
    let viewer = viewer_of(&id);
    let app2 = app.clone();
    let (total, rows) =
        tokio::task::spawn_blocking(move || run_search(&app2, &viewer, &q, page, limit)).await??;
    let rows: Vec<Value> = rows.iter().map(ResultRow::to_json).collect();
    Ok(Json(json!({
        "results": rows,
        "page": page,
        "limit": limit,
        "total": total,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::clamped;

    #[test]
    fn page_and_limit_clamping() {
        assert_eq!(clamped(None, 20, 1, 50), 20);
        assert_eq!(clamped(Some("abc"), 20, 1, 50), 20);
        assert_eq!(clamped(Some("1.5"), 20, 1, 50), 20);
        assert_eq!(clamped(Some(""), 1, 1, 10_000), 1);
        assert_eq!(clamped(Some("0"), 20, 1, 50), 1);
        assert_eq!(clamped(Some("-3"), 1, 1, 10_000), 1);
        assert_eq!(clamped(Some("51"), 20, 1, 50), 50);
        assert_eq!(clamped(Some("7"), 20, 1, 50), 7);
        assert_eq!(
            clamped(Some("99999999999999999999999"), 1, 1, 10_000),
            10_000
        );
        assert_eq!(clamped(Some("10001"), 1, 1, 10_000), 10_000);
    }
}
