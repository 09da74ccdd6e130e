//! MLflow's scoring protocol: `POST /invocations` (and `/models/{name}/invocations`) with
//! exactly one of `dataframe_split`, `dataframe_records`, `instances` or `inputs` as JSON
//! (with Python's bare `NaN` for a missing value), or a CSV table (`text/csv`);
//! `GET /ping`, `/health` and `/version`.

use crate::app::App;
use crate::error::{json_body, ApiError};
use crate::input::Columns;
use crate::reply::{request_id, Reply, Shared};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};
use std::borrow::Cow;
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
    invoke(&app, &name, &headers, body).await
}

pub async fn model_invocations(
    State(app): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Reply> {
    invoke(&app, &name, &headers, body).await
}

async fn invoke(
    app: &App,
    name: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Reply> {
    let served = app.served(name).map_err(Reply::mlflow)?;
    let started = Instant::now();
    let result = async {
        let columns = match content_type(headers)? {
            Body::Json => {
                let body = body.map(|b| match python_nan_as_null(&b) {
                    Cow::Borrowed(_) => b,
                    Cow::Owned(rewritten) => rewritten.into(),
                });
                columns(&json_body(body)?)?
            }
            Body::Csv => Columns::from_csv(&body?)?,
        };
        let done = app.infer(served, columns, app.request_id(request_id(headers))).await?;
        Ok::<_, ApiError>((
            json!({"predictions": done.loaded.predictions(&done.outputs, done.rows)}),
            done.loaded.version,
        ))
    }
    .await;
    app.settle(served, started, result).map(Json).map_err(Reply::mlflow)
}

enum Body {
    Json,
    Csv,
}

/// The body's format from its `Content-Type`: JSON (also when the header is absent) or CSV;
/// any other is a 415, as MLflow's server answers.
fn content_type(headers: &HeaderMap) -> Result<Body, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else { return Ok(Body::Json) };
    let essence = value.to_str().unwrap_or_default().split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(Body::Json)
    } else if essence.eq_ignore_ascii_case("text/csv") {
        Ok(Body::Csv)
    } else {
        Err(ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: format!(
                "content type {value:?} is not taken: send application/json (one of {}) or text/csv (a header row of column names)",
                FORMATS.join(", ")
            ),
        })
    }
}

/// The body with each bare `NaN` token (outside strings) written `null`: Python's `json`
/// module, and so MLflow's client, writes a missing value as `NaN`, which JSON does not have
/// and MLflow's server reads as missing. The scan follows JSON's tokens: inside a string
/// (escapes included) nothing is touched, and only a whole `NaN` is replaced. `Infinity`
/// stays as it is, and the parser refuses it.
pub fn python_nan_as_null(body: &[u8]) -> Cow<'_, [u8]> {
    if !body.windows(3).any(|w| w == b"NaN") {
        return Cow::Borrowed(body);
    }
    let mut out = Vec::with_capacity(body.len() + 16);
    let (mut in_string, mut escaped) = (false, false);
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if body[i..].starts_with(b"NaN")
            && !body.get(i + 3).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            && !(i > 0 && (body[i - 1].is_ascii_alphanumeric() || matches!(body[i - 1], b'_' | b'-' | b'+' | b'.')))
        {
            out.extend_from_slice(b"null");
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    Cow::Owned(out)
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
        _ if format == "instances" => Err(ApiError::bad(
            "`instances` must be a list of objects, one per row, or an object of column → list of values",
        )),
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
        ("inputs" | "instances", Value::Object(columns)) => Columns::from_object(columns),
        _ => records(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(body: &str) -> String {
        String::from_utf8(python_nan_as_null(body.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn a_bare_nan_is_null_and_nothing_else_changes() {
        assert_eq!(rewritten(r#"{"a": [NaN, 1.5,NaN], "b":NaN}"#), r#"{"a": [null, 1.5,null], "b":null}"#);
        // Inside strings, escaped quotes included, and parts of other tokens stay as they are.
        for same in [
            r#"{"a": "NaN"}"#,
            r#"{"a\"NaN": "x\\", "b": "\" NaN"}"#,
            r#"{"a": -NaN}"#,
            r#"{"a": NaNa}"#,
            r#"{"a": Infinity}"#,
            r#"{"NaN": 1}"#,
        ] {
            assert_eq!(rewritten(same), same);
        }
        assert_eq!(rewritten(r#"{"a\"": NaN}"#), r#"{"a\"": null}"#);
    }

    #[test]
    fn instances_may_be_an_object_of_columns() {
        let c = columns(&json!({"instances": {"spend": [1.5, null], "plan": ["a", "b"]}})).unwrap();
        assert_eq!((c.names, c.rows), (vec!["plan".to_string(), "spend".to_string()], 2));
    }

    #[test]
    fn a_content_type_not_taken_is_a_415() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            content_type(&h)
        };
        assert!(matches!(with("application/json; charset=utf-8"), Ok(Body::Json)));
        assert!(matches!(with("text/csv"), Ok(Body::Csv)));
        assert!(matches!(content_type(&HeaderMap::new()), Ok(Body::Json)));
        let e = with("text/plain").err().unwrap();
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(e.message.contains("send application/json"), "{}", e.message);
    }
}
