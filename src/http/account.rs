//! Who am I (SPEC §3.18): Bearer only, effective scope `skills:read`.

use crate::app::AppState;
use crate::auth::SCOPE_READ;
use crate::domain::format_ts;
use crate::error::AppError;
use crate::http::limit::RateGate;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use serde_json::{Value, json};

pub async fn whoami(
    State(app): State<AppState>,
    Extension(gate): Extension<RateGate>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    let id = gate.required_auth(&app, &headers).await?;
    id.require_scope(SCOPE_READ)?;
    Ok(Json(json!({
        "userId": id.user.id,
        "name": id.user.username,
        "email": id.user.email,
        "scopes": id.token.scopes,
        "displayName": id.user.display(),
        "isAdmin": id.user.is_admin,
        "tokenExpiresAt": id.token.expires_at.map(format_ts),
    })))
}
