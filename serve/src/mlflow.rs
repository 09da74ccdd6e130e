//! MLflow's scoring protocol: `POST /invocations` (and `/models/{name}/invocations`) with
//! exactly one of `dataframe_split`, `dataframe_records`, `instances` or `inputs`;
//! `GET /ping`, `/health` and `/version`.

use crate::app::App;
use crate::error::{json_body, ApiError};
use crate::input::Columns;
use crate::router::{request_id, Reply, Shared};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};
use std::time::Instant;

const FORMATS: [&str; 4] = ["dataframe_split", "dataframe_records", "instances", "inputs"];

/// 200 when every served model is ready, else 503.
pub async fn ping(State(app): Shared) -> StatusCode {
    if app.all_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

pub async fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// `/invocations`: the one model this server serves.
pub async fn invocations(
    State(app): Shared,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Reply> {
    let name = match &app.models[..] {
        [one] => one.spec.name.clone(),
        many => {
            let names: Vec<&str> = many.iter().map(|m| m.spec.name.as_str()).collect();
            return Err(Reply::mlflow(ApiError::bad(format!(
                "this server serves several models ({}): POST to /models/NAME/invocations",
                names.join(", ")
            ))));
        }
    };
    invoke(&app, &name, &headers, body)
}

pub async fn model_invocations(
    State(app): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Reply> {
    invoke(&app, &name, &headers, body)
}

fn invoke(
    app: &App,
    name: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Reply> {
    let served = app.served(name).map_err(Reply::mlflow)?;
    let started = Instant::now();
    let result = (|| {
        let columns = columns(&json_body(body)?)?;
        let done = app.infer(served, columns, app.request_id(request_id(headers)))?;
        Ok(json!({"predictions": done.loaded.predictions(&done.outputs, done.rows)}))
    })();
    app.settle(served, started, result).map(Json).map_err(Reply::mlflow)
}

/// The request's rows, from whichever of the four formats it uses.
pub fn columns(body: &Value) -> Result<Columns, ApiError> {
    let Value::Object(body) = body else {
        return Err(ApiError::bad(format!("the body must be a JSON object with one of {}", FORMATS.join(", "))));
    };
    let present: Vec<&str> = FORMATS.iter().copied().filter(|f| body.contains_key(*f)).collect();
    if let Some(other) = body.keys().find(|k| !FORMATS.contains(&k.as_str()) && *k != "params") {
        return Err(ApiError::bad(format!(
            "unknown key `{other}`; the body has one of {} and optional `params`",
            FORMATS.join(", ")
        )));
    }
    let [format] = present[..] else {
        return Err(ApiError::bad(format!(
            "the body must have exactly one of {}; it has {}",
            FORMATS.join(", "),
            if present.is_empty() { "none".into() } else { present.join(", ") }
        )));
    };
    let value = &body[format];
    let records = |v: &Value| match v {
        Value::Array(rows) => Columns::from_records(rows),
        _ => Err(ApiError::bad(format!("`{format}` must be a list of objects, one per row"))),
    };
    match (format, value) {
        ("dataframe_split", Value::Object(split)) => {
            let list = |k: &str| {
                split
                    .get(k)
                    .and_then(Value::as_array)
                    .ok_or_else(|| ApiError::bad(format!("`dataframe_split` needs `{k}`: a list")))
            };
            Columns::from_split(list("columns")?, list("data")?)
        }
        ("dataframe_split", _) => {
            Err(ApiError::bad("`dataframe_split` must be {\"columns\": [...], \"data\": [[...]]}"))
        }
        ("inputs", Value::Object(columns)) => Columns::from_object(columns),
        _ => records(value),
    }
}
