//! The home page (SPEC §3.23 `GET /`): title, search form and the §7 results for the session user, 20 per
//! page (`?page=`).

use super::{Chrome, current_session, message_page, render};
use crate::app::AppState;
use crate::http::search::{ResultRow, run_search};
use crate::search::{MAX_PAGE, MAX_QUERY_CHARS};
use crate::store::Viewer;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::HashMap;

const PER_PAGE: u64 = 20;

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    signed_in: Option<String>,
    csrf_meta: Option<String>,
    q: String,
    results: Vec<ResultRow>,
    total: u64,
    page: u64,
    prev_page: Option<u64>,
    next_page: Option<u64>,
}

pub async fn index(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let session = current_session(&app, &headers).await;
    let q = params
        .get("q")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let page = params
        .get("page")
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(1)
        .clamp(1, MAX_PAGE);
    let truncated: String = q.chars().take(MAX_QUERY_CHARS).collect();
    // Visibility of §6 with the session user (an admin signed in by session sees every skill).
    let viewer = match &session {
        Some(s) => Viewer {
            user_id: Some(s.user.id.clone()),
            username: Some(s.user.username.clone()),
            admin: s.user.is_admin,
        },
        None => Viewer::anonymous(),
    };
    let app2 = app.clone();
    let query = truncated.clone();
    let found =
        tokio::task::spawn_blocking(move || run_search(&app2, &viewer, &query, page, PER_PAGE))
            .await;
    let (total, results) = match found {
        Ok(Ok(r)) => r,
        _ => {
            return message_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                session.as_ref(),
                "Something went wrong",
                "The search could not be run. Try again.",
            );
        }
    };
    let chrome = Chrome::of(&session);
    render(
        StatusCode::OK,
        &IndexPage {
            signed_in: chrome.signed_in,
            csrf_meta: chrome.csrf_meta,
            q: truncated,
            next_page: (page * PER_PAGE < total).then_some(page + 1),
            prev_page: (page > 1).then_some(page - 1),
            results,
            total,
            page,
        },
    )
}
