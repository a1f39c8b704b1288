//! `AppError`: one match decides every status code and the JSON envelope of SPEC §2.7. 5xx are logged once,
//! here; clients get a safe message.

use crate::domain::Issue;
use crate::store::{PublishError, StoreError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    /// `invalid`: credentials were presented but are not valid (adds `error="invalid_token"`).
    #[error("unauthorized")]
    Unauthorized { invalid: bool },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    #[error("{0}")]
    VersionExists(String),
    #[error("{0}")]
    Conflict(String),
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("{message}")]
    Validation { message: String, issues: Vec<Issue> },
    #[error("{message}")]
    RateLimited { retry_after: u64, message: String },
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after: Option<u64>,
    },
    #[error("internal error: {0}")]
    Internal(String),
    /// A status and code outside the table's usual pairs (the CLI-login exchange dialects, SPEC §3.21).
    #[error("{message}")]
    Custom {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
}

impl AppError {
    pub fn validation(path: Vec<crate::domain::PathSeg>, message: impl Into<String>) -> AppError {
        let message = message.into();
        AppError::Validation {
            message: message.clone(),
            issues: vec![Issue::new(path, message)],
        }
    }

    pub fn issues(issues: Vec<Issue>) -> AppError {
        let message = match issues.as_slice() {
            [one] => one.message.clone(),
            _ => "The request is invalid.".to_string(),
        };
        AppError::Validation { message, issues }
    }

    pub fn internal(e: impl std::fmt::Display) -> AppError {
        AppError::Internal(e.to_string())
    }

    pub fn skill_not_found(name: &str) -> AppError {
        AppError::NotFound(format!("Skill {name} was not found."))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::VersionExists(_) | AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Custom { status, .. } => *status,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "BAD_REQUEST",
            AppError::Unauthorized { .. } => "UNAUTHORIZED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            AppError::VersionExists(_) => "VERSION_EXISTS",
            AppError::Conflict(_) => "CONFLICT",
            AppError::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            AppError::Validation { .. } => "VALIDATION_ERROR",
            AppError::RateLimited { .. } => "RATE_LIMITED",
            AppError::Unavailable { .. } => "SERVICE_UNAVAILABLE",
            AppError::Internal(_) => "INTERNAL_ERROR",
            AppError::Custom { code, .. } => code,
        }
    }

    fn message(&self) -> String {
        match self {
            AppError::Unauthorized { invalid: true } => {
                "The presented token is invalid, expired or revoked.".into()
            }
            AppError::Unauthorized { invalid: false } => "Authentication is required.".into(),
            AppError::MethodNotAllowed { .. } => "This method is not allowed on this path.".into(),
            AppError::PayloadTooLarge => "The request body is too large.".into(),
            AppError::Internal(_) => "An unexpected error occurred.".into(),
            other => other.to_string(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = json!({"error": self.code(), "message": self.message()});
        match &self {
            AppError::Validation { issues, .. } => body["issues"] = json!(issues),
            AppError::RateLimited { retry_after, .. } => body["retryAfter"] = json!(retry_after),
            AppError::Internal(detail) => tracing::error!(error = %detail, "internal error"),
            _ => {}
        }
        let mut resp = (status, axum::Json(body)).into_response();
        let h = resp.headers_mut();
        match &self {
            AppError::Unauthorized { invalid } => {
                let v = if *invalid {
                    r#"Bearer realm="tank-registry", error="invalid_token""#
                } else {
                    r#"Bearer realm="tank-registry""#
                };
                h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(v));
            }
            AppError::MethodNotAllowed { allow } => {
                h.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            AppError::RateLimited { retry_after, .. } => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            AppError::Unavailable {
                retry_after: Some(s),
                ..
            } => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(*s));
            }
            _ => {}
        }
        resp
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<PublishError> for AppError {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::Forbidden(m) => AppError::Forbidden(m),
            PublishError::VersionExists(m) => AppError::VersionExists(m),
            PublishError::Escalation(issues) => AppError::Validation {
                message: "Permission escalation requires a larger version bump.".into(),
                issues,
            },
            PublishError::TooManyUnfinished { retry_after_secs } => AppError::RateLimited {
                retry_after: retry_after_secs as u64,
                message: format!(
                    "You have {} unfinished publishes; confirm or let one expire first.",
                    crate::store::MAX_UNFINISHED
                ),
            },
            PublishError::NotFound => AppError::NotFound("The upload was not found.".into()),
            PublishError::Store(s) => s.into(),
        }
    }
}

/// A full scan queue, or a wait for a scan slot past its limit (SPEC §8.1): 503 with `Retry-After`.
impl From<crate::app::ScanBusy> for AppError {
    fn from(_: crate::app::ScanBusy) -> Self {
        AppError::Unavailable {
            message: "The scanner is busy; try again shortly.".into(),
            retry_after: Some(5),
        }
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        AppError::Internal(format!("background task failed: {e}"))
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::Internal(format!("I/O error: {e}"))
    }
}
