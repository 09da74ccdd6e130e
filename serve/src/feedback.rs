//! Labels sent back: `POST /v1/models/{name}/feedback` with `{"id": REQUEST_ID, "label": …}`
//! (optionally `"row"`, 1-based, for a request of several rows), or `{"labels": [...]}`
//! of those. They are stored beside the request log, to be joined with the predictions.

use crate::error::{json_body, ApiError};
use crate::reply::{Reply, Shared};
use crate::request_log::Label;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

fn label(i: usize, v: &Value) -> Result<Label, ApiError> {
    let at = |what: &str| ApiError::bad(format!("label {}: {what}", i + 1));
    let request_id =
        v.get("id").and_then(Value::as_str).ok_or_else(|| at("`id` must be the request's id, a string"))?;
    let row_number = match v.get("row") {
        None => 1,
        Some(r) => r
            .as_u64()
            .and_then(|r| i32::try_from(r).ok())
            .filter(|r| *r >= 1)
            .ok_or_else(|| at("`row` must be 1 or more"))?,
    };
    let label = match v.get("label") {
        Some(Value::String(s)) => s.clone(),
        Some(l @ (Value::Bool(_) | Value::Number(_))) => l.to_string(),
        _ => return Err(at("`label` must be a string, number or bool")),
    };
    Ok(Label { request_id: request_id.into(), row_number, label })
}

pub async fn feedback(
    State(app): Shared,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), Reply> {
    let result = (|| {
        app.served(&name)?;
        let body = json_body(body)?;
        let labels = match body.get("labels") {
            Some(Value::Array(items)) => items.iter().enumerate().map(|(i, v)| label(i, v)).collect(),
            Some(_) => Err(ApiError::bad("`labels` must be a list of {\"id\", \"label\"}")),
            None => label(0, &body).map(|l| vec![l]),
        }?;
        let log = app.log.as_ref().ok_or_else(|| ApiError::unavailable("no request log is open"))?;
        let n = labels.len();
        log.add_labels(&name, labels).map_err(ApiError::unavailable)?;
        Ok((StatusCode::ACCEPTED, Json(json!({"model_name": name, "accepted": n}))))
    })();
    result.map_err(Reply::oip)
}
