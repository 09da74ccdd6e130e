//! The Open Inference Protocol v2 (KServe, Triton, Seldon) over REST: health, server and
//! model metadata, readiness, inference, and Triton's `config` and `stats` extras.

use crate::app::{App, Inference, Slot};
use crate::binary;
use crate::error::ApiError;
use crate::input::{kind, Columns};
use crate::model::{datatype, Loaded};
use crate::reply::{Reply, Shared};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use mlpc_train::scorer::{Output, Port, TensorElementType};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Instant;

type Answer = Result<Json<Value>, Reply>;

/// What serves the models, as model metadata and Triton's config name it.
pub const PLATFORM: &str = "onnxruntime_onnx";

pub async fn server_metadata() -> Json<Value> {
    Json(
        json!({"name": "mlpc", "version": env!("CARGO_PKG_VERSION"), "extensions": ["model_configuration", "statistics", "binary_tensor_data"]}),
    )
}

pub async fn live() -> Json<Value> {
    Json(json!({"live": true}))
}

/// 200 when every served model has a version loaded (naming, under `degraded`, each that
/// serves another version than its stage's, and why), else 503 naming what is missing: no
/// version, or a refused online table.
pub async fn ready(State(app): Shared) -> (StatusCode, Json<Value>) {
    let waiting: serde_json::Map<String, Value> = app
        .models
        .iter()
        .filter_map(|m| match &*m.slot() {
            Slot::NotReady(why) => Some((m.spec.name.clone(), json!(why))),
            Slot::Ready(_) => m.problem().map(|why| (m.spec.name.clone(), json!(why))),
        })
        .collect();
    let degraded: serde_json::Map<String, Value> = app
        .models
        .iter()
        .filter_map(|m| m.degraded.load_full().map(|why| (m.spec.name.clone(), json!(*why))))
        .collect();
    if waiting.is_empty() && degraded.is_empty() {
        (StatusCode::OK, Json(json!({"ready": true})))
    } else if waiting.is_empty() {
        (StatusCode::OK, Json(json!({"ready": true, "degraded": degraded})))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"ready": false, "not_ready": waiting, "degraded": degraded})))
    }
}

fn ports(ports: &[Port]) -> Vec<Value> {
    ports.iter().map(|p| json!({"name": p.name, "datatype": datatype(p.ty), "shape": p.shape})).collect()
}

fn metadata(m: &Loaded) -> Value {
    json!({
        "name": m.name,
        "versions": [m.version.to_string()],
        "platform": PLATFORM,
        "inputs": ports(&m.inputs),
        "outputs": ports(&m.outputs),
    })
}

pub async fn model_metadata(State(app): Shared, Path(name): Path<String>) -> Answer {
    let m = app.served(&name).and_then(|s| s.ready()).map_err(Reply::oip)?;
    Ok(Json(metadata(&m)))
}

pub async fn version_metadata(State(app): Shared, Path((name, version)): Path<(String, String)>) -> Answer {
    let m = app.served(&name).and_then(|s| s.version(Some(&version))).map_err(Reply::oip)?;
    Ok(Json(metadata(&m)))
}

fn readiness(app: &App, name: &str, version: Option<&str>) -> (StatusCode, Json<Value>) {
    let served = match app.served(name) {
        Ok(s) => s,
        Err(e) => return (e.status, Json(json!({"name": name, "ready": false, "error": e.message}))),
    };
    match (served.version(version), served.problem()) {
        (Ok(_), Some(why)) => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"name": name, "ready": false, "error": why})))
        }
        (Ok(m), None) => match served.degraded.load_full() {
            Some(why) => (
                StatusCode::OK,
                Json(json!({"name": name, "ready": true, "version": m.version.to_string(), "reason": *why})),
            ),
            None => (StatusCode::OK, Json(json!({"name": name, "ready": true}))),
        },
        (Err(e), _) => (e.status, Json(json!({"name": name, "ready": false, "error": e.message}))),
    }
}

pub async fn model_ready(State(app): Shared, Path(name): Path<String>) -> (StatusCode, Json<Value>) {
    readiness(&app, &name, None)
}

pub async fn version_ready(State(app): Shared, Path((name, v)): Path<(String, String)>) -> (StatusCode, Json<Value>) {
    readiness(&app, &name, Some(&v))
}

pub async fn config(State(app): Shared, Path(name): Path<String>) -> Answer {
    let served = app.served(&name).map_err(Reply::oip)?;
    let m = served.ready().map_err(Reply::oip)?;
    let tensors = |ports: &[Port]| -> Vec<Value> {
        ports.iter().map(|p| json!({"name": p.name, "data_type": format!("TYPE_{}", match datatype(p.ty) { "BYTES" => "STRING", d => d }), "dims": p.shape})).collect()
    };
    Ok(Json(json!({
        "name": m.name,
        "platform": PLATFORM,
        "backend": "onnxruntime",
        "max_batch_size": 0,
        "input": tensors(&m.inputs),
        "output": tensors(&m.outputs),
        "version_policy": {"specific": {"versions": [m.version]}},
        "parameters": {
            "stage": {"string_value": served.spec.stage},
            "sha256": {"string_value": m.sha256},
        },
    })))
}

fn stats_of(app: &App, names: &[String]) -> Result<Value, ApiError> {
    let mut out = Vec::new();
    for name in names {
        let served = app.served(name)?;
        let s = &served.stats;
        let version = match &*served.slot() {
            Slot::Ready(m) => m.version.to_string(),
            Slot::NotReady(_) => String::new(),
        };
        let success = s.success.load(Ordering::Relaxed);
        out.push(json!({
            "name": name,
            "version": version,
            "last_inference": s.last_ms.load(Ordering::Relaxed),
            "inference_count": s.rows.load(Ordering::Relaxed),
            "execution_count": success,
            "inference_stats": {
                "success": {"count": success, "ns": s.success_ns.load(Ordering::Relaxed)},
                "fail": {"count": s.fail.load(Ordering::Relaxed), "ns": s.fail_ns.load(Ordering::Relaxed)},
            },
        }));
    }
    Ok(json!({"model_stats": out}))
}

pub async fn all_stats(State(app): Shared) -> Answer {
    let names: Vec<String> = app.models.iter().map(|m| m.spec.name.clone()).collect();
    stats_of(&app, &names).map(Json).map_err(Reply::oip)
}

pub async fn model_stats(State(app): Shared, Path(name): Path<String>) -> Answer {
    stats_of(&app, &[name]).map(Json).map_err(Reply::oip)
}

pub async fn infer(
    State(app): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Reply> {
    run_infer(&app, &name, None, &headers, body).await
}

pub async fn version_infer(
    State(app): Shared,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Reply> {
    run_infer(&app, &name, Some(&version), &headers, body).await
}

async fn run_infer(
    app: &App,
    name: &str,
    version: Option<&str>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Reply> {
    let request = binary::infer_request(headers, body, app.max_rows);
    let answered = answer(app, name, version, request).await.map_err(Reply::oip)?;
    let mut outputs = binary::Outputs::default();
    for (n, o) in answered.outputs() {
        outputs.push(&answered.request, n, o);
    }
    Ok(outputs.answer(json!({
        "model_name": name,
        "model_version": answered.done.loaded.version.to_string(),
        "id": answered.done.request_id,
    })))
}

/// An `infer` answered, before a transport writes it.
pub struct Answered {
    pub done: Inference,
    /// The request as decoded (how a transport learns the outputs' encoding).
    pub request: Value,
    /// The outputs the request named; None: all.
    wanted: Option<Vec<String>>,
}

impl Answered {
    /// The outputs to send back, in the model's order.
    pub fn outputs(&self) -> impl Iterator<Item = &(String, Output)> {
        self.done.outputs.iter().filter(|(n, _)| self.wanted.as_ref().is_none_or(|w| w.contains(n)))
    }
}

/// The one `infer` of both transports (REST, gRPC): `request` is the body decoded to the
/// REST JSON shape, or why it could not be; validated, scored and counted on the model.
pub async fn answer(
    app: &App,
    name: &str,
    version: Option<&str>,
    request: Result<Value, ApiError>,
) -> Result<Answered, ApiError> {
    let served = app.served(name)?;
    let started = Instant::now();
    let result = async {
        let m = served.version(version)?;
        let request = request?;
        let id = request.get("id").and_then(Value::as_str);
        let columns = tensors(&request, &m.inputs, app.max_rows)?;
        let wanted = requested_outputs(&request, &m)?;
        let done = app.infer(served, columns, app.request_id(id)).await?;
        let version = done.loaded.version;
        Ok::<_, ApiError>((Answered { done, request, wanted }, version))
    }
    .await;
    app.settle(served, started, result)
}

/// How many values a tensor's `data` holds, nested lists flattened (counted before anything
/// is allocated for them).
fn leaves(v: &Value) -> usize {
    match v {
        Value::Array(items) => items.iter().map(leaves).sum(),
        _ => 1,
    }
}

/// The request's input tensors as columns: one tensor per column, shape `[N]` or `[N, 1]`
/// agreeing with the data sent, at most `max_rows` rows, a datatype the model's input of
/// that name can take.
pub fn tensors(request: &Value, model_inputs: &[Port], max_rows: usize) -> Result<Columns, ApiError> {
    let inputs = request
        .get("inputs")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad("the request needs `inputs`: a list of {name, shape, datatype, data}"))?;
    let mut columns = Columns::default();
    let mut names = std::collections::HashSet::new();
    for (i, t) in inputs.iter().enumerate() {
        let field = |k: &str| t.get(k).ok_or_else(|| ApiError::bad(format!("input {} has no `{k}`", i + 1)));
        let name = field("name")?
            .as_str()
            .ok_or_else(|| ApiError::bad(format!("input {}: `name` must be a string", i + 1)))?;
        let dt = field("datatype")?
            .as_str()
            .ok_or_else(|| ApiError::bad(format!("input `{name}`: `datatype` must be a string")))?;
        let shape: Vec<u64> = field("shape")?
            .as_array()
            .and_then(|s| s.iter().map(Value::as_u64).collect())
            .ok_or_else(|| ApiError::bad(format!("input `{name}`: `shape` must be a list of sizes")))?;
        let values = field("data")?;
        let sent = leaves(values);
        let declared = shape.iter().try_fold(1u64, |n, d| n.checked_mul(*d));
        if declared != Some(sent as u64) {
            let holds = declared.map_or_else(|| format!("more than {}", u64::MAX), |n| n.to_string());
            return Err(ApiError::bad(format!(
                "input `{name}`: its shape {shape:?} holds {holds} values, but {sent} were sent"
            )));
        }
        let rows = match shape[..] {
            [n] | [n, 1] => n as usize,
            _ => return Err(ApiError::bad(format!("input `{name}` has shape {shape:?}; one column is [N] or [N, 1]"))),
        };
        if rows > max_rows {
            return Err(ApiError::too_large(format!(
                "the request has {rows} rows; this server takes at most {max_rows} per request (--max-rows): send them in smaller batches"
            )));
        }
        if let Some(port) = model_inputs.iter().find(|p| p.name == name) {
            if !accepts(port.ty, dt) {
                return Err(ApiError::bad(format!(
                    "input `{name}` is {} in the model; the request sent {dt}",
                    datatype(port.ty)
                )));
            }
        }
        // `rows` values were counted in `data`: the allocation is what the body holds.
        let mut data = Vec::with_capacity(rows);
        flatten(values, &mut data);
        if let Some(v) = data.iter().find(|v| !fits(dt, v)) {
            return Err(ApiError::bad(format!("input `{name}` is {dt}, but holds {} {v}", kind(v))));
        }
        if let Some((v, range)) = data.iter().find_map(|v| beyond(dt, v).map(|r| (v, r))) {
            return Err(ApiError::bad(format!(
                "input `{name}` is {dt}, whose values lie within {range}, but holds {v}: send a value in that range, or a wider datatype"
            )));
        }
        if i > 0 && rows != columns.rows {
            return Err(ApiError::bad(format!("input `{name}` has {rows} rows, the others {}", columns.rows)));
        }
        if !names.insert(name) {
            return Err(ApiError::bad(format!("input `{name}` is sent twice")));
        }
        columns.rows = rows;
        columns.push(name.to_string(), data);
    }
    Ok(columns)
}

fn flatten(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|x| flatten(x, out)),
        other => out.push(other.clone()),
    }
}

/// Whether a request datatype can feed a model input of this element type.
fn accepts(ty: TensorElementType, dt: &str) -> bool {
    use TensorElementType as T;
    let numeric = matches!(
        dt,
        "FP16" | "FP32" | "FP64" | "INT8" | "INT16" | "INT32" | "INT64" | "UINT8" | "UINT16" | "UINT32" | "UINT64"
    );
    match ty {
        T::Float32 | T::Float64 | T::Int64 | T::Int32 => numeric,
        T::Bool => dt == "BOOL",
        T::String => dt == "BYTES",
        _ => false,
    }
}

/// Whether a value is of its tensor's datatype. `null` is of every datatype here: whether
/// the input may be missing is the model's input's to say, as on every protocol.
fn fits(dt: &str, v: &Value) -> bool {
    match dt {
        _ if v.is_null() => true,
        "BOOL" => v.is_boolean(),
        "BYTES" => v.is_string(),
        d if d.starts_with("FP") => v.is_number(),
        _ => v.is_i64() || v.is_u64(),
    }
}

/// The range of a datatype, when a value (of that datatype) lies outside it.
fn beyond(dt: &str, v: &Value) -> Option<&'static str> {
    let within = |lo: f64, hi: f64| v.as_f64().is_some_and(|x| (lo..=hi).contains(&x));
    let int = |lo: i64, hi: u64| match (v.as_i64(), v.as_u64()) {
        (Some(i), _) => i >= lo && (i < 0 || i as u64 <= hi),
        (None, Some(u)) => u <= hi,
        _ => false,
    };
    let (ok, range) = match dt {
        "FP16" => (within(-65504.0, 65504.0), "±65504"),
        "FP32" => (within(f32::MIN.into(), f32::MAX.into()), "±3.4028235e38"),
        "INT8" => (int(i8::MIN.into(), i8::MAX as u64), "-128..=127"),
        "INT16" => (int(i16::MIN.into(), i16::MAX as u64), "-32768..=32767"),
        "INT32" => (int(i32::MIN.into(), i32::MAX as u64), "-2147483648..=2147483647"),
        "INT64" => (int(i64::MIN, i64::MAX as u64), "-9223372036854775808..=9223372036854775807"),
        "UINT8" => (int(0, u8::MAX.into()), "0..=255"),
        "UINT16" => (int(0, u16::MAX.into()), "0..=65535"),
        "UINT32" => (int(0, u32::MAX.into()), "0..=4294967295"),
        "UINT64" => (int(0, u64::MAX), "0..=18446744073709551615"),
        _ => (true, ""),
    };
    (!ok && !v.is_null()).then_some(range)
}

/// The outputs the request names, checked against the model's; None: all.
fn requested_outputs(request: &Value, m: &Loaded) -> Result<Option<Vec<String>>, ApiError> {
    let Some(list) = request.get("outputs").and_then(Value::as_array) else { return Ok(None) };
    let names: Vec<String> =
        list.iter().filter_map(|o| o.get("name").and_then(Value::as_str)).map(String::from).collect();
    if let Some(unknown) = names.iter().find(|n| !m.outputs.iter().any(|p| &&p.name == n)) {
        let have: Vec<&str> = m.outputs.iter().map(|p| p.name.as_str()).collect();
        return Err(ApiError::bad(format!("the model has no output `{unknown}`; outputs: {}", have.join(", "))));
    }
    Ok(Some(names))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(name: &str, ty: TensorElementType) -> Port {
        Port { name: name.into(), ty, shape: vec![-1, 1] }
    }

    fn infer(inputs: Value) -> Result<mlpc_train::Frame, String> {
        let ports = [
            port("spend", TensorElementType::Float32),
            port("plan", TensorElementType::String),
            port("n", TensorElementType::Int64),
        ];
        tensors(&json!({ "inputs": inputs }), &ports, 100).and_then(|c| c.to_frame(&ports, &[])).map_err(|e| e.message)
    }

    fn tensor(name: &str, dt: &str, data: Value) -> Value {
        let n = data.as_array().unwrap().len();
        json!({"name": name, "datatype": dt, "shape": [n], "data": data})
    }

    #[test]
    fn null_is_missing_where_the_input_may_be_missing() {
        let frame = infer(json!([
            tensor("spend", "FP32", json!([1.5, null])),
            tensor("plan", "BYTES", json!([null, "a"])),
            tensor("n", "INT64", json!([1, 2])),
        ]));
        assert_eq!(frame.unwrap().rows(), 2);
        let e = infer(json!([
            tensor("spend", "FP32", json!([1.5])),
            tensor("plan", "BYTES", json!(["a"])),
            tensor("n", "INT64", json!([null])),
        ]))
        .unwrap_err();
        assert!(e.contains("column `n`, row 1: expected a whole number (this input cannot be missing)"), "{e}");
    }

    #[test]
    fn a_value_beyond_its_datatype_is_refused() {
        let others =
            |spend: Value| json!([spend, tensor("plan", "BYTES", json!(["a"])), tensor("n", "INT64", json!([1]))]);
        for (dt, v, range) in [
            ("FP32", json!(1e39), "±3.4028235e38"),
            ("FP16", json!(70000.0), "±65504"),
            ("UINT8", json!(300), "0..=255"),
            ("UINT8", json!(-1), "0..=255"),
            ("INT8", json!(200), "-128..=127"),
            ("INT32", json!(3_000_000_000u64), "-2147483648..=2147483647"),
            ("INT64", json!(u64::MAX), "-9223372036854775808..=9223372036854775807"),
        ] {
            let e = infer(others(tensor("spend", dt, json!([v])))).unwrap_err();
            assert!(
                e.contains(&format!("input `spend` is {dt}, whose values lie within {range}, but holds {v}")),
                "{e}"
            );
        }
        for (dt, v) in
            [("FP32", json!(3.0e38)), ("UINT8", json!(255)), ("INT8", json!(-128)), ("UINT64", json!(u64::MAX))]
        {
            assert!(infer(others(tensor("spend", dt, json!([v])))).is_ok(), "{dt} {v}");
        }
    }
}
