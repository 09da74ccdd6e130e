//! The vendored assets (htmx from npm, the stylesheet), embedded in the binary.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::RustEmbed)]
#[folder = "assets/"]
struct Assets;

pub async fn serve(Path(file): Path<String>) -> Response {
    let Some(content) = Assets::get(&file) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let kind = match file.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        _ => "application/octet-stream",
    };
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "max-age=3600")], content.data).into_response()
}
