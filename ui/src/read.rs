//! Reading the state folder off the async threads, and what a failed read shows.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mlpc_runtime::Store;
use std::path::PathBuf;

/// Why a page cannot be shown: the status and what to say.
pub struct Failed(pub StatusCode, pub String);

impl IntoResponse for Failed {
    fn into_response(self) -> Response {
        let body = crate::layout::page("Error", "", maud::html! { p.error role="alert" { (self.1) } });
        (self.0, body).into_response()
    }
}

impl From<String> for Failed {
    fn from(e: String) -> Failed {
        Failed(StatusCode::BAD_REQUEST, e)
    }
}

/// Runs blocking work (DuckDB) on tokio's blocking threads.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, Failed> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(Failed::from),
        Err(e) => Err(Failed(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

/// Reads the tracking store, held read-only for the call.
pub async fn store<T: Send + 'static>(
    dir: PathBuf,
    f: impl FnOnce(&Store) -> Result<T, String> + Send + 'static,
) -> Result<T, Failed> {
    blocking(move || f(&Store::open_read_only(&dir)?)).await
}
