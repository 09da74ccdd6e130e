//! Errors a request can meet, as HTTP statuses with a message that names the problem.

use axum::http::StatusCode;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::BAD_REQUEST, message: message.into() }
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::NOT_FOUND, message: message.into() }
    }
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::SERVICE_UNAVAILABLE, message: message.into() }
    }
    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::PAYLOAD_TOO_LARGE, message: message.into() }
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::INTERNAL_SERVER_ERROR, message: message.into() }
    }
}

/// A body that could not be read: too large (413), or cut short.
impl From<axum::extract::rejection::BytesRejection> for ApiError {
    fn from(e: axum::extract::rejection::BytesRejection) -> ApiError {
        ApiError { status: e.status(), message: e.body_text() }
    }
}

/// A request body as JSON: too large → 413, unreadable or malformed → 400.
pub fn json_body(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(&body?).map_err(|e| {
        let nan = if e.to_string().starts_with("expected value") {
            " (JSON has no NaN or Infinity: send null for a missing value)"
        } else {
            ""
        };
        ApiError::bad(format!("malformed JSON: {e}{nan}"))
    })
}
