//! Stars (SPEC §3.14): Bearer with effective `skills:read` (sessions come with the web sign-in). Credentials
//! are checked before the skill lookup, so anonymous callers learn nothing.

use crate::app::App;
use crate::auth::SCOPE_READ;
use crate::error::AppError;
use crate::http::extract::required_auth;
use crate::http::skills::find_skill;
use axum::Json;
use axum::body::Body;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub async fn handle(
    app: &App,
    method: &Method,
    headers: &HeaderMap,
    name: &str,
    _body: Body,
) -> Result<Response, AppError> {
    let id = required_auth(app, headers).await?;
    id.require_scope(SCOPE_READ)?;
    let skill = find_skill(app, name, id.viewer()).await?;
    let store = app.store.clone();
    let (sid, uid) = (skill.id.clone(), id.user.id.clone());
    let body = match *method {
        Method::POST | Method::DELETE => {
            let on = *method == Method::POST;
            let stars =
                tokio::task::spawn_blocking(move || store.set_star(&sid, &uid, on)).await??;
            json!({"starred": on, "stars": stars, "success": true})
        }
        _ => {
            let (starred, stars) = tokio::task::spawn_blocking(move || {
                Ok::<_, crate::store::StoreError>((
                    store.is_starred(&sid, &uid)?,
                    store.star_count(&sid)?,
                ))
            })
            .await??;
            json!({"starred": starred, "stars": stars, "isStarred": starred, "count": stars})
        }
    };
    Ok(Json(body).into_response())
}
