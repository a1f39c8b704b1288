//! Stars (SPEC §3.14): Bearer with effective `skills:read`, or a web session (writes need `X-CSRF-Token`). Credentials
//! are checked before the skill lookup, so anonymous callers learn nothing.

use crate::app::App;
use crate::auth::SCOPE_READ;
use crate::error::AppError;
use crate::http::limit::RateGate;
use crate::http::skills::find_skill;
use axum::Json;
use axum::body::Body;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub async fn handle(
    app: &App,
    gate: &RateGate,
    method: &Method,
    headers: &HeaderMap,
    name: &str,
    _body: Body,
) -> Result<Response, AppError> {
    let viewer_user = if headers.contains_key(header::AUTHORIZATION) {
        // The Bearer header decides when both are present (SPEC §2.8).
        let id = gate.required_auth(app, headers).await?;
        id.require_scope(SCOPE_READ)?;
        (id.viewer(), id.user.id)
    } else {
        let Some(session) = crate::web::current_session(app, headers).await else {
            return Err(gate.reject_unauthorized(app, AppError::Unauthorized { invalid: false }));
        };
        // Counted per user before the CSRF check, which is a 403 like a missing scope (SPEC §2.7).
        gate.session(app, &session)?;
        // Cookie-authenticated writes need the session's CSRF token in a header (SPEC §2.8).
        if *method != Method::GET && *method != Method::HEAD {
            let given = headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !crate::auth::ct_eq(&session.csrf_token, given) {
                return Err(AppError::Forbidden(
                    "Missing or invalid X-CSRF-Token.".into(),
                ));
            }
        }
        let viewer = crate::store::Viewer {
            user_id: Some(session.user.id.clone()),
            username: Some(session.user.username.clone()),
            admin: session.user.is_admin,
        };
        (viewer, session.user.id)
    };
    let (viewer, uid) = viewer_user;
    let skill = find_skill(app, name, viewer).await?;
    let store = app.store.clone();
    let sid = skill.id.clone();
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
