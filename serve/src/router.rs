//! The routes of every protocol.

use crate::app::App;
use crate::error::ApiError;
use crate::reply::{error_shape, Reply, Shared};
use crate::{feedback, mlflow, oip, predict, status};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// OpenMetrics, or the Prometheus text format 0.0.4 when `Accept` prefers `text/plain`.
async fn metrics(State(app): Shared, headers: HeaderMap) -> impl IntoResponse {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    if crate::metrics::prefers_text(accept) {
        ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], app.metrics.encode_text())
    } else {
        ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], app.metrics.encode())
    }
}

async fn not_found() -> Reply {
    Reply::oip(ApiError::not_found(
        "no such endpoint; see /v2 (Open Inference Protocol), /invocations (MLflow), /v1/models/NAME/predict, /metrics",
    ))
}

/// A 405 (a path known, a method not) with an error body in the path's protocol's shape
/// naming the methods it takes, besides the `Allow` header axum writes.
async fn method_not_allowed(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let response = next.run(request).await;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let takes = allow.as_ref().and_then(|a| a.to_str().ok()).unwrap_or_default().to_string();
    let mut answer =
        error_shape(&path, StatusCode::METHOD_NOT_ALLOWED, format!("{path} does not take {method}; it takes {takes}"));
    if let Some(allow) = allow {
        answer.headers_mut().insert(header::ALLOW, allow);
    }
    answer
}

pub fn router(app: Arc<App>, body_limit: usize) -> Router {
    let routes = Router::new()
        .route("/v2", get(oip::server_metadata))
        .route("/v2/", get(oip::server_metadata))
        .route("/v2/health/live", get(oip::live))
        .route("/v2/health/ready", get(oip::ready))
        .route("/v2/models/stats", get(oip::all_stats))
        .route("/v2/models/{name}", get(oip::model_metadata))
        .route("/v2/models/{name}/ready", get(oip::model_ready))
        .route("/v2/models/{name}/infer", post(oip::infer))
        .route("/v2/models/{name}/config", get(oip::config))
        .route("/v2/models/{name}/stats", get(oip::model_stats))
        .route("/v2/models/{name}/versions/{version}", get(oip::version_metadata))
        .route("/v2/models/{name}/versions/{version}/ready", get(oip::version_ready))
        .route("/v2/models/{name}/versions/{version}/infer", post(oip::version_infer))
        .route("/invocations", post(mlflow::invocations))
        .route("/models/{name}/invocations", post(mlflow::model_invocations))
        .route("/ping", get(mlflow::ping))
        .route("/health", get(mlflow::ping))
        .route("/version", get(mlflow::version))
        .route("/v1/models/{name}/predict", post(predict::predict))
        .route("/v1/models/{name}/feedback", post(feedback::feedback))
        .route("/v1/models/{name}/canary", get(status::canary))
        .route("/v1/models/{name}/shadow", get(status::shadow))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(app);
    // Outside the routes: axum writes a 405's `Allow` header after a route's own layers.
    Router::new().fallback_service(routes).layer(middleware::from_fn(method_not_allowed))
}
