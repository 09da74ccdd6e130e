//! Plain JSON predictions: `POST /v1/models/{name}/predict` with `{"instances": [{...}]}`
//! or one bare record; with a feature view, a record may hold only the entity key.

use crate::error::{json_body, ApiError};
use crate::input::Columns;
use crate::reply::{request_id, Reply, Shared};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};
use std::time::Instant;

pub async fn predict(
    State(app): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Reply> {
    let served = app.served(&name).map_err(Reply::oip)?;
    let started = Instant::now();
    let result = async {
        let columns = columns(&json_body(body)?)?;
        let done = app.infer(served, columns, app.request_id(request_id(&headers))).await?;
        let answer = json!({
            "model_name": name,
            "model_version": done.loaded.version.to_string(),
            "id": done.request_id,
            "predictions": done.loaded.predictions(&done.outputs, done.rows),
        });
        Ok::<_, ApiError>((answer, done.loaded.version))
    }
    .await;
    app.settle(served, started, result).map(Json).map_err(Reply::oip)
}

/// The rows of a body: `{"instances": [{...}]}` or one record `{...}`.
pub fn columns(body: &Value) -> Result<Columns, ApiError> {
    match body {
        Value::Object(o) => match o.get("instances") {
            Some(Value::Array(rows)) if o.len() == 1 => Columns::from_records(rows),
            Some(_) if o.len() == 1 => Err(ApiError::bad("`instances` must be a list of objects, one per row")),
            _ => Columns::from_records(std::slice::from_ref(body)),
        },
        _ => Err(ApiError::bad("the body must be {\"instances\": [{...}]} or one record {...}")),
    }
}
