//! The home page (SPEC §3.23 `GET /`): title and search form. Results arrive with the search index.

use super::{Chrome, current_session, render};
use crate::app::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::HashMap;

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    signed_in: Option<String>,
    csrf_meta: Option<String>,
    q: String,
}

pub async fn index(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let session = current_session(&app, &headers).await;
    let chrome = Chrome::of(&session);
    render(
        StatusCode::OK,
        &IndexPage {
            signed_in: chrome.signed_in,
            csrf_meta: chrome.csrf_meta,
            q: q.get("q").cloned().unwrap_or_default(),
        },
    )
}
