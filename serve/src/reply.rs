//! What a handler answers with: the shared application, an error written in its
//! protocol's shape, and the caller's request id.

use crate::app::App;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;

pub type Shared = State<Arc<App>>;

/// An error as a protocol writes it: `{"error": ...}` (Open Inference Protocol, plain JSON)
/// or `{"error_code": ..., "message": ...}` (MLflow).
pub struct Reply {
    error: ApiError,
    mlflow: bool,
}

impl Reply {
    pub fn oip(error: ApiError) -> Reply {
        Reply { error, mlflow: false }
    }
    pub fn mlflow(error: ApiError) -> Reply {
        Reply { error, mlflow: true }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let ApiError { status, message } = self.error;
        let body = if self.mlflow {
            let code = match status.as_u16() {
                404 => "RESOURCE_DOES_NOT_EXIST",
                503 => "TEMPORARILY_UNAVAILABLE",
                500..=599 => "INTERNAL_ERROR",
                _ => "BAD_REQUEST",
            };
            json!({"error_code": code, "message": message})
        } else {
            json!({"error": message})
        };
        (status, Json(body)).into_response()
    }
}

/// An error the connection layer answers itself (413, 408, 400 before the routes), in the
/// shape of the protocol the path belongs to.
pub fn error_shape(path: &str, status: axum::http::StatusCode, message: String) -> Response {
    let error = ApiError { status, message };
    if path == "/invocations" || (path.starts_with("/models/") && path.ends_with("/invocations")) {
        Reply::mlflow(error).into_response()
    } else {
        Reply::oip(error).into_response()
    }
}

/// The caller's `X-Request-Id`, if any.
pub fn request_id(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-request-id").and_then(|v| v.to_str().ok())
}
