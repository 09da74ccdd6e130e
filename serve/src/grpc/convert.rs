//! gRPC messages to and from the REST shapes: a `ModelInferRequest` as the JSON body REST's
//! `infer` takes (typed `contents` or `raw_input_contents` as `data`), an answer as a
//! `ModelInferResponse` (typed, or raw when the request was).

use super::proto::model_infer_request::InferInputTensor;
use super::proto::model_infer_response::InferOutputTensor;
use super::proto::{InferTensorContents, ModelInferRequest, ModelInferResponse};
use crate::error::ApiError;
use crate::oip::Answered;
use mlpc_train::scorer::Output;
use serde_json::{json, Value};

/// The request as REST's JSON body: inputs with their values as `data`, `id` and the
/// outputs asked for when given (proto3 cannot tell an empty list from none: all outputs).
pub fn request_json(r: &ModelInferRequest) -> Result<Value, ApiError> {
    let raw = &r.raw_input_contents;
    if !raw.is_empty() && raw.len() != r.inputs.len() {
        return Err(ApiError::bad(format!(
            "the request has {} inputs and {} raw_input_contents: send one raw content per input, in order, or none",
            r.inputs.len(),
            raw.len()
        )));
    }
    let inputs = r
        .inputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let data = match raw.get(i) {
                Some(_) if t.contents.as_ref().is_some_and(|c| count(c) > 0) => {
                    return Err(ApiError::bad(format!(
                        "input `{}` has both contents and raw_input_contents: send one",
                        t.name
                    )))
                }
                Some(bytes) => from_raw(&t.name, &t.datatype, bytes)?,
                None => typed(t)?,
            };
            Ok(json!({"name": t.name, "datatype": t.datatype, "shape": t.shape, "data": data}))
        })
        .collect::<Result<Vec<Value>, ApiError>>()?;
    let mut body = json!({ "inputs": inputs });
    if !r.id.is_empty() {
        body["id"] = json!(r.id);
    }
    if !r.outputs.is_empty() {
        body["outputs"] = r.outputs.iter().map(|o| json!({"name": o.name})).collect();
    }
    Ok(body)
}

fn count(c: &InferTensorContents) -> usize {
    c.bool_contents.len()
        + c.int_contents.len()
        + c.int64_contents.len()
        + c.uint_contents.len()
        + c.uint64_contents.len()
        + c.fp32_contents.len()
        + c.fp64_contents.len()
        + c.bytes_contents.len()
}

fn unknown(name: &str, dt: &str) -> ApiError {
    ApiError::bad(format!(
        "input `{name}` has datatype `{dt}`; the datatypes are BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64 and BYTES"
    ))
}

fn text(name: &str, bytes: &[u8]) -> Result<Value, ApiError> {
    std::str::from_utf8(bytes)
        .map(Value::from)
        .map_err(|e| ApiError::bad(format!("input `{name}` is BYTES, but holds a value that is not UTF-8 text: {e}")))
}

/// A float as JSON: NaN (which JSON lacks) is `null`, a missing value, as in the NaN of
/// numpy and of MLflow's `/invocations`; an infinity is refused, as on every protocol.
fn number(name: &str, x: f64) -> Result<Value, ApiError> {
    if x.is_infinite() {
        return Err(ApiError::bad(format!(
            "input `{name}` holds {x}: send a finite number, or NaN for a missing value"
        )));
    }
    Ok(Value::from(x))
}

/// An input's values from the `contents` field of its datatype.
fn typed(t: &InferInputTensor) -> Result<Vec<Value>, ApiError> {
    let c = t.contents.clone().unwrap_or_default();
    let (field, data): (&str, Vec<Value>) = match t.datatype.as_str() {
        "BOOL" => ("bool_contents", c.bool_contents.into_iter().map(Value::from).collect()),
        "INT8" | "INT16" | "INT32" => ("int_contents", c.int_contents.into_iter().map(Value::from).collect()),
        "INT64" => ("int64_contents", c.int64_contents.into_iter().map(Value::from).collect()),
        "UINT8" | "UINT16" | "UINT32" => ("uint_contents", c.uint_contents.into_iter().map(Value::from).collect()),
        "UINT64" => ("uint64_contents", c.uint64_contents.into_iter().map(Value::from).collect()),
        "FP32" => {
            ("fp32_contents", c.fp32_contents.into_iter().map(|x| number(&t.name, x.into())).collect::<Result<_, _>>()?)
        }
        "FP64" => ("fp64_contents", c.fp64_contents.into_iter().map(|x| number(&t.name, x)).collect::<Result<_, _>>()?),
        "BYTES" => ("bytes_contents", c.bytes_contents.iter().map(|b| text(&t.name, b)).collect::<Result<_, _>>()?),
        "FP16" => {
            return Err(ApiError::bad(format!(
                "input `{}` is FP16, which has no typed contents: send it in raw_input_contents",
                t.name
            )))
        }
        dt => return Err(unknown(&t.name, dt)),
    };
    if t.contents.as_ref().map_or(0, count) != data.len() {
        return Err(ApiError::bad(format!("input `{}` is {}: its values go in {field}", t.name, t.datatype)));
    }
    Ok(data)
}

/// N bytes as an array (the chunks given are N long).
fn le<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0; N];
    a.copy_from_slice(b);
    a
}

/// An input's values from its raw bytes: little-endian, BYTES each after its 4-byte length.
fn from_raw(name: &str, dt: &str, bytes: &[u8]) -> Result<Vec<Value>, ApiError> {
    let size = match dt {
        "BOOL" | "INT8" | "UINT8" => 1,
        "INT16" | "UINT16" | "FP16" => 2,
        "INT32" | "UINT32" | "FP32" => 4,
        "INT64" | "UINT64" | "FP64" => 8,
        "BYTES" => return strings(name, bytes),
        _ => return Err(unknown(name, dt)),
    };
    if !bytes.len().is_multiple_of(size) {
        return Err(ApiError::bad(format!(
            "input `{name}` is {dt}: its {} raw bytes are not a whole number of {size}-byte values",
            bytes.len()
        )));
    }
    bytes
        .chunks_exact(size)
        .map(|b| {
            Ok(match dt {
                "BOOL" => Value::from(b[0] != 0),
                "INT8" => Value::from(b[0] as i8),
                "UINT8" => Value::from(b[0]),
                "INT16" => Value::from(i16::from_le_bytes(le(b))),
                "UINT16" => Value::from(u16::from_le_bytes(le(b))),
                "FP16" => number(name, half::f16::from_le_bytes(le(b)).into())?,
                "INT32" => Value::from(i32::from_le_bytes(le(b))),
                "UINT32" => Value::from(u32::from_le_bytes(le(b))),
                "FP32" => number(name, f32::from_le_bytes(le(b)).into())?,
                "INT64" => Value::from(i64::from_le_bytes(le(b))),
                "UINT64" => Value::from(u64::from_le_bytes(le(b))),
                _ => number(name, f64::from_le_bytes(le(b)))?,
            })
        })
        .collect()
}

/// Raw BYTES: each value its length as 4 little-endian bytes, then the bytes.
fn strings(name: &str, mut bytes: &[u8]) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let truncated = || ApiError::bad(format!("input `{name}` is BYTES, but its raw contents end inside a value"));
        let (len, rest) = bytes.split_first_chunk::<4>().ok_or_else(truncated)?;
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return Err(truncated());
        }
        let (value, rest) = rest.split_at(len);
        out.push(text(name, value)?);
        bytes = rest;
    }
    Ok(out)
}

/// The answer as a `ModelInferResponse`: typed contents, or `raw_output_contents` in the
/// outputs' order.
pub fn response(model: &str, answered: &Answered, raw: bool) -> ModelInferResponse {
    let mut outputs = Vec::new();
    let mut raw_output_contents = Vec::new();
    for (name, output) in answered.outputs() {
        let (datatype, shape) = match output {
            Output::Numbers { shape, .. } => ("FP32", shape),
            Output::Strings { shape, .. } => ("BYTES", shape),
        };
        let contents = if raw {
            raw_output_contents.push(to_raw(output));
            None
        } else {
            Some(contents(output))
        };
        let tensor = InferOutputTensor {
            name: name.clone(),
            datatype: datatype.into(),
            shape: shape.clone(),
            contents,
            ..Default::default()
        };
        outputs.push(tensor);
    }
    ModelInferResponse {
        model_name: model.into(),
        model_version: answered.done.loaded.version.to_string(),
        id: answered.done.request_id.clone(),
        outputs,
        raw_output_contents,
        ..Default::default()
    }
}

fn contents(output: &Output) -> InferTensorContents {
    match output {
        Output::Numbers { data, .. } => InferTensorContents { fp32_contents: data.clone(), ..Default::default() },
        Output::Strings { data, .. } => InferTensorContents {
            bytes_contents: data.iter().map(|s| s.as_bytes().to_vec()).collect(),
            ..Default::default()
        },
    }
}

fn to_raw(output: &Output) -> Vec<u8> {
    match output {
        Output::Numbers { data, .. } => data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Output::Strings { data, .. } => {
            data.iter().flat_map(|s| (s.len() as u32).to_le_bytes().into_iter().chain(s.bytes())).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, datatype: &str, contents: Option<InferTensorContents>) -> InferInputTensor {
        InferInputTensor {
            name: name.into(),
            datatype: datatype.into(),
            shape: vec![2],
            contents,
            ..Default::default()
        }
    }

    fn data(r: &ModelInferRequest) -> Result<Vec<Value>, String> {
        let body = request_json(r).map_err(|e| e.message)?;
        Ok(body["inputs"].as_array().unwrap().iter().map(|t| t["data"].clone()).collect())
    }

    #[test]
    fn raw_inputs_are_read_little_endian() {
        let bytes = |b: &[&[u8]]| b.concat();
        let r = ModelInferRequest {
            inputs: vec![input("x", "FP32", None), input("plan", "BYTES", None), input("n", "INT16", None)],
            raw_input_contents: vec![
                bytes(&[&1.5f32.to_le_bytes(), &f32::NAN.to_le_bytes()]),
                bytes(&[&2u32.to_le_bytes(), b"ab", &0u32.to_le_bytes()]),
                bytes(&[&(-3i16).to_le_bytes(), &7i16.to_le_bytes()]),
            ],
            ..Default::default()
        };
        assert_eq!(data(&r).unwrap(), vec![json!([1.5, null]), json!(["ab", ""]), json!([-3, 7])]);
    }

    #[test]
    fn malformed_raw_inputs_are_refused() {
        let one = |dt: &str, raw: Vec<u8>| ModelInferRequest {
            inputs: vec![input("x", dt, None)],
            raw_input_contents: vec![raw],
            ..Default::default()
        };
        for (r, says) in [
            (one("FP32", vec![0; 6]), "input `x` is FP32: its 6 raw bytes are not a whole number of 4-byte values"),
            (one("BYTES", vec![9, 0, 0, 0, b'a']), "input `x` is BYTES, but its raw contents end inside a value"),
            (one("BYTES", vec![1, 0, 0, 0, 0xff]), "input `x` is BYTES, but holds a value that is not UTF-8 text"),
            (one("FP8", vec![0]), "input `x` has datatype `FP8`"),
            (
                ModelInferRequest {
                    inputs: vec![input("x", "FP32", None), input("y", "FP32", None)],
                    ..one("FP32", vec![0; 4])
                },
                "the request has 2 inputs and 1 raw_input_contents",
            ),
        ] {
            let e = data(&r).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn typed_contents_are_read_from_the_field_of_their_datatype() {
        let fp32 = InferTensorContents { fp32_contents: vec![0.5, f32::NAN], ..Default::default() };
        let r = ModelInferRequest { inputs: vec![input("x", "FP32", Some(fp32.clone()))], ..Default::default() };
        assert_eq!(data(&r).unwrap(), vec![json!([0.5, null])]);
        let inf = InferTensorContents { fp64_contents: vec![1.0, f64::NEG_INFINITY], ..Default::default() };
        let r = ModelInferRequest { inputs: vec![input("x", "FP64", Some(inf))], ..Default::default() };
        assert!(data(&r)
            .unwrap_err()
            .contains("input `x` holds -inf: send a finite number, or NaN for a missing value"));
        let r = ModelInferRequest { inputs: vec![input("x", "FP64", Some(fp32))], ..Default::default() };
        assert!(data(&r).unwrap_err().contains("input `x` is FP64: its values go in fp64_contents"));
        let r = ModelInferRequest { inputs: vec![input("x", "FP16", None)], ..Default::default() };
        assert!(data(&r).unwrap_err().contains("FP16, which has no typed contents"));
    }

    #[test]
    fn raw_outputs_are_written_as_raw_inputs_are_read() {
        let numbers = Output::Numbers { shape: vec![2], data: vec![0.25, -1.0] };
        let strings = Output::Strings { shape: vec![2], data: vec!["yes".into(), "".into()] };
        assert_eq!(from_raw("o", "FP32", &to_raw(&numbers)).unwrap(), vec![json!(0.25), json!(-1.0)]);
        assert_eq!(from_raw("o", "BYTES", &to_raw(&strings)).unwrap(), vec![json!("yes"), json!("")]);
        assert_eq!(contents(&strings).bytes_contents, vec![b"yes".to_vec(), Vec::new()]);
    }
}
