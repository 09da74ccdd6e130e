//! The binary tensor data extension of the Open Inference Protocol over REST (Triton's, also
//! KServe's): a body of a JSON header, `Inference-Header-Content-Length` bytes long, then
//! raw little-endian tensor data in the order of the tensors that say their
//! `binary_data_size`. BYTES elements are each a 4-byte little-endian length and the bytes.

use crate::error::{json_body, ApiError};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mlpc_train::scorer::Output;
use serde_json::{json, Map, Number, Value};

/// The header that says a body (request or answer) is framed.
pub const HEADER: &str = "inference-header-content-length";

/// Why a framed request body was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BinaryError {
    #[error("`Inference-Header-Content-Length` must be a number of bytes, found {0:?}")]
    HeaderLength(String),
    #[error("`Inference-Header-Content-Length` is {header} bytes, but the body has only {body}")]
    HeaderPastBody { header: usize, body: usize },
    #[error("malformed JSON header: {0}")]
    Json(String),
    #[error("input `{0}`: `binary_data_size` must be a number of bytes")]
    Size(String),
    #[error("input `{0}` has both `data` and `binary_data_size`: send one")]
    Both(String),
    #[error("the inputs' `binary_data_size`s add up to {sizes} bytes, but {rest} bytes follow the JSON header")]
    Sum { sizes: u128, rest: usize },
    #[error("input `{0}` sends binary data, so it needs `datatype` and `shape` (a list of sizes)")]
    Untyped(String),
    #[error("input `{name}`: binary data of datatype {datatype} is not taken; send BOOL, INT8..64, UINT8..64, FP16, FP32, FP64 or BYTES")]
    Datatype { name: String, datatype: String },
    #[error(
        "input `{name}` is {datatype} of shape {shape:?}: {expected} bytes in binary, but `binary_data_size` is {size}"
    )]
    Width { name: String, datatype: String, shape: Vec<u64>, expected: u128, size: usize },
    #[error("input `{name}`: its BYTES data must be {count} elements, each a 4-byte little-endian length and that many bytes; {problem}")]
    Bytes { name: String, count: usize, problem: String },
    #[error("input `{name}`, element {index}: an infinity is not a value (NaN is a missing value)")]
    Infinite { name: String, index: usize },
    #[error("input `{name}` has shape {shape:?}, more values than one column of the {max} rows this server takes per request (--max-rows): send them in smaller batches")]
    TooLarge { name: String, shape: Vec<u64>, max: usize },
}

impl From<BinaryError> for ApiError {
    fn from(e: BinaryError) -> ApiError {
        let status = match e {
            BinaryError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError { status, message: e.to_string() }
    }
}

/// An `infer` request: a JSON body, or a framed one when the request has
/// `Inference-Header-Content-Length`.
pub fn infer_request(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    max_values: usize,
) -> Result<Value, ApiError> {
    match headers.get(HEADER) {
        Some(length) => Ok(request(&body?, length, max_values)?),
        None => json_body(body),
    }
}

/// The request a framed body holds: its JSON header, each binary input's bytes decoded into
/// `data` as JSON would send them (a float NaN as `null`, a missing value). A tensor may hold
/// at most `max_values` values (one column of `--max-rows` rows), checked before decoding.
pub fn request(body: &[u8], header_length: &HeaderValue, max_values: usize) -> Result<Value, BinaryError> {
    let text = String::from_utf8_lossy(header_length.as_bytes());
    let length: usize = text.trim().parse().map_err(|_| BinaryError::HeaderLength(text.to_string()))?;
    if length > body.len() {
        return Err(BinaryError::HeaderPastBody { header: length, body: body.len() });
    }
    let (head, rest) = body.split_at(length);
    let mut request: Value = serde_json::from_slice(head).map_err(|e| BinaryError::Json(e.to_string()))?;
    let Some(inputs) = request.get_mut("inputs").and_then(Value::as_array_mut) else { return Ok(request) };
    let mut binary = Vec::new();
    for (i, input) in inputs.iter_mut().enumerate() {
        let Some(input) = input.as_object_mut() else { continue };
        let Some(size) = input.get("parameters").and_then(|p| p.get("binary_data_size")) else { continue };
        let name = input.get("name").and_then(Value::as_str).map_or_else(|| (i + 1).to_string(), String::from);
        let size =
            size.as_u64().and_then(|s| usize::try_from(s).ok()).ok_or_else(|| BinaryError::Size(name.clone()))?;
        if input.contains_key("data") {
            return Err(BinaryError::Both(name));
        }
        binary.push((input, name, size));
    }
    let sizes: u128 = binary.iter().map(|(_, _, size)| *size as u128).sum();
    if sizes != rest.len() as u128 {
        return Err(BinaryError::Sum { sizes, rest: rest.len() });
    }
    let mut offset = 0;
    for (input, name, size) in binary {
        let data = tensor(input, &name, &rest[offset..offset + size], max_values)?;
        input.insert("data".into(), Value::Array(data));
        offset += size;
    }
    Ok(request)
}

/// One input's bytes as JSON values, checked against its datatype and shape.
fn tensor(input: &Map<String, Value>, name: &str, bytes: &[u8], max_values: usize) -> Result<Vec<Value>, BinaryError> {
    let datatype = input.get("datatype").and_then(Value::as_str);
    let shape: Option<Vec<u64>> =
        input.get("shape").and_then(Value::as_array).and_then(|s| s.iter().map(Value::as_u64).collect());
    let (Some(datatype), Some(shape)) = (datatype, shape) else { return Err(BinaryError::Untyped(name.into())) };
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(usize::try_from(d).ok()?))
        .filter(|&n| n <= max_values)
        .ok_or_else(|| BinaryError::TooLarge { name: name.into(), shape: shape.clone(), max: max_values })?;
    let width = match datatype {
        "BOOL" | "INT8" | "UINT8" => 1,
        "INT16" | "UINT16" | "FP16" => 2,
        "INT32" | "UINT32" | "FP32" => 4,
        "INT64" | "UINT64" | "FP64" => 8,
        "BYTES" => return strings(name, count, bytes),
        _ => return Err(BinaryError::Datatype { name: name.into(), datatype: datatype.into() }),
    };
    let expected = count as u128 * width as u128;
    if expected != bytes.len() as u128 {
        let (name, datatype, size) = (name.into(), datatype.into(), bytes.len());
        return Err(BinaryError::Width { name, datatype, shape, expected, size });
    }
    let float = |index: usize, x: f64| match Number::from_f64(x) {
        Some(n) => Ok(Value::Number(n)),
        None if x.is_nan() => Ok(Value::Null),
        None => Err(BinaryError::Infinite { name: name.into(), index: index + 1 }),
    };
    bytes
        .chunks_exact(width)
        .enumerate()
        .map(|(i, b)| match datatype {
            "BOOL" => Ok(Value::Bool(b[0] != 0)),
            "INT8" => Ok(json!(b[0] as i8)),
            "UINT8" => Ok(json!(b[0])),
            "INT16" => Ok(json!(i16::from_le_bytes([b[0], b[1]]))),
            "UINT16" => Ok(json!(u16::from_le_bytes([b[0], b[1]]))),
            "FP16" => float(i, half::f16::from_le_bytes([b[0], b[1]]).to_f64()),
            "INT32" => Ok(json!(i32::from_le_bytes(b.try_into().expect("4 bytes")))),
            "UINT32" => Ok(json!(u32::from_le_bytes(b.try_into().expect("4 bytes")))),
            "FP32" => float(i, f32::from_le_bytes(b.try_into().expect("4 bytes")).into()),
            "INT64" => Ok(json!(i64::from_le_bytes(b.try_into().expect("8 bytes")))),
            "UINT64" => Ok(json!(u64::from_le_bytes(b.try_into().expect("8 bytes")))),
            _ /* FP64 */ => float(i, f64::from_le_bytes(b.try_into().expect("8 bytes"))),
        })
        .collect()
}

/// BYTES elements: `count` of them, each a 4-byte little-endian length and UTF-8 text.
fn strings(name: &str, count: usize, mut bytes: &[u8]) -> Result<Vec<Value>, BinaryError> {
    let bad = |problem: String| BinaryError::Bytes { name: name.into(), count, problem };
    // At least 4 bytes an element: the allocation is bounded by the bytes sent.
    let mut out = Vec::with_capacity(count.min(bytes.len() / 4));
    while !bytes.is_empty() {
        let index = out.len() + 1;
        if index > count {
            return Err(bad(format!("{} bytes follow element {count}", bytes.len())));
        }
        let (length, rest) = bytes.split_first_chunk::<4>().ok_or_else(|| {
            bad(format!("element {index} has {} bytes where its 4-byte length should be", bytes.len()))
        })?;
        let length = u32::from_le_bytes(*length) as usize;
        if length > rest.len() {
            return Err(bad(format!("element {index} says {length} bytes, but {} remain", rest.len())));
        }
        let (text, rest) = rest.split_at(length);
        let text = std::str::from_utf8(text).map_err(|e| bad(format!("element {index} is not UTF-8 text: {e}")))?;
        out.push(Value::String(text.into()));
        bytes = rest;
    }
    if out.len() != count {
        return Err(bad(format!("{} were sent", out.len())));
    }
    Ok(out)
}

/// Whether the request asks for output `name` in binary: its own `binary_data` parameter,
/// else the request's `binary_data_output`.
fn asks_binary(request: &Value, name: &str) -> bool {
    let flag = |parameters: Option<&Value>, key: &str| parameters.and_then(|p| p.get(key)).and_then(Value::as_bool);
    let own = request.get("outputs").and_then(Value::as_array).and_then(|list| {
        let named = list.iter().find(|o| o.get("name").and_then(Value::as_str) == Some(name));
        flag(named.and_then(|o| o.get("parameters")), "binary_data")
    });
    own.or_else(|| flag(request.get("parameters"), "binary_data_output")).unwrap_or(false)
}

/// The output tensors of an answer: as JSON `data`, or as binary data after the JSON header
/// for those the request asks so.
#[derive(Default)]
pub struct Outputs {
    tensors: Vec<Value>,
    data: Vec<u8>,
    binary: bool,
}

impl Outputs {
    pub fn push(&mut self, request: &Value, name: &str, output: &Output) {
        let (shape, datatype) = match output {
            Output::Numbers { shape, .. } => (shape, "FP32"),
            Output::Strings { shape, .. } => (shape, "BYTES"),
        };
        let mut tensor = json!({"name": name, "shape": shape, "datatype": datatype});
        if !asks_binary(request, name) {
            tensor["data"] = match output {
                Output::Numbers { data, .. } => json!(data),
                Output::Strings { data, .. } => json!(data),
            };
            self.tensors.push(tensor);
            return;
        }
        let start = self.data.len();
        match output {
            Output::Numbers { data, .. } => data.iter().for_each(|x| self.data.extend_from_slice(&x.to_le_bytes())),
            Output::Strings { data, .. } => data.iter().for_each(|s| {
                self.data.extend_from_slice(&(s.len() as u32).to_le_bytes());
                self.data.extend_from_slice(s.as_bytes());
            }),
        }
        tensor["parameters"] = json!({"binary_data_size": self.data.len() - start});
        self.tensors.push(tensor);
        self.binary = true;
    }

    /// The answer: `header` with these outputs under `outputs`, as JSON, or framed when an
    /// output is binary.
    pub fn answer(self, mut header: Value) -> Response {
        header["outputs"] = Value::Array(self.tensors);
        if !self.binary {
            return Json(header).into_response();
        }
        let mut body = serde_json::to_vec(&header).expect("a JSON value serializes");
        let length = body.len();
        body.extend_from_slice(&self.data);
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        headers.insert(HEADER, HeaderValue::from(length));
        (headers, body).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A framed body: the header's JSON, then `data`.
    fn framed(header: &Value, data: &[u8]) -> (Vec<u8>, HeaderValue) {
        let mut body = serde_json::to_vec(header).unwrap();
        let length = HeaderValue::from(body.len());
        body.extend_from_slice(data);
        (body, length)
    }

    fn input(name: &str, datatype: &str, shape: &[u64], size: usize) -> Value {
        json!({"name": name, "datatype": datatype, "shape": shape, "parameters": {"binary_data_size": size}})
    }

    fn decode(header: Value, data: &[u8]) -> Result<Value, BinaryError> {
        let (body, length) = framed(&header, data);
        request(&body, &length, 100)
    }

    fn bytes_tensor(items: &[&str]) -> Vec<u8> {
        items.iter().flat_map(|s| [&(s.len() as u32).to_le_bytes()[..], s.as_bytes()].concat()).collect()
    }

    #[test]
    fn every_datatype_decodes_as_json_would_send_it() {
        let mut data = Vec::new();
        [1.5f32, f32::NAN].iter().for_each(|x| data.extend_from_slice(&x.to_le_bytes()));
        [-3i64, 1 << 40].iter().for_each(|x| data.extend_from_slice(&x.to_le_bytes()));
        data.extend_from_slice(&[1, 0]);
        data.extend_from_slice(&bytes_tensor(&["basic", "é"]));
        data.extend_from_slice(&half::f16::from_f32(0.5).to_le_bytes());
        data.extend_from_slice(&[200, 255]);
        let strings = bytes_tensor(&["basic", "é"]).len();
        let header = json!({"id": "a", "inputs": [
            input("spend", "FP32", &[2, 1], 8),
            input("n", "INT64", &[2], 16),
            input("on", "BOOL", &[2], 2),
            input("plan", "BYTES", &[2, 1], strings),
            {"name": "json", "datatype": "FP64", "shape": [1], "data": [2.5]},
            input("half", "FP16", &[1], 2),
            input("small", "UINT8", &[2], 2),
        ]});
        let request = decode(header, &data).unwrap();
        let data: Vec<&Value> = request["inputs"].as_array().unwrap().iter().map(|i| &i["data"]).collect();
        assert_eq!(
            data,
            [
                &json!([1.5, null]),
                &json!([-3, 1u64 << 40]),
                &json!([true, false]),
                &json!(["basic", "é"]),
                &json!([2.5]),
                &json!([0.5]),
                &json!([200, 255])
            ]
        );
        assert_eq!(request["id"], "a");
    }

    #[test]
    fn hostile_framings_are_refused_by_name() {
        let fp32 = |size: usize| json!({"inputs": [input("x", "FP32", &[2], size)]});
        let cases: Vec<(Value, Vec<u8>, BinaryError)> = vec![
            (fp32(8), vec![0; 7], BinaryError::Sum { sizes: 8, rest: 7 }),
            (fp32(8), vec![0; 9], BinaryError::Sum { sizes: 8, rest: 9 }),
            (
                fp32(4),
                vec![0; 4],
                BinaryError::Width { name: "x".into(), datatype: "FP32".into(), shape: vec![2], expected: 8, size: 4 },
            ),
            (
                json!({"inputs": [input("x", "BF16", &[1], 2)]}),
                vec![0; 2],
                BinaryError::Datatype { name: "x".into(), datatype: "BF16".into() },
            ),
            (
                json!({"inputs": [input("x", "FP32", &[1], 4)]}),
                f32::INFINITY.to_le_bytes().to_vec(),
                BinaryError::Infinite { name: "x".into(), index: 1 },
            ),
            (
                json!({"inputs": [{"name": "x", "parameters": {"binary_data_size": -1}}]}),
                vec![],
                BinaryError::Size("x".into()),
            ),
            (
                json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1], "parameters": {"binary_data_size": 4}}]}),
                vec![0; 4],
                BinaryError::Both("x".into()),
            ),
            (
                json!({"inputs": [{"parameters": {"binary_data_size": 4}}]}),
                vec![0; 4],
                BinaryError::Untyped("1".into()),
            ),
            (
                json!({"inputs": [input("x", "FP32", &[101], 404)]}),
                vec![0; 404],
                BinaryError::TooLarge { name: "x".into(), shape: vec![101], max: 100 },
            ),
            (
                json!({"inputs": [input("x", "FP32", &[u64::MAX, u64::MAX], 0)]}),
                vec![],
                BinaryError::TooLarge { name: "x".into(), shape: vec![u64::MAX, u64::MAX], max: 100 },
            ),
        ];
        for (header, data, expected) in cases {
            assert_eq!(decode(header.clone(), &data), Err(expected), "{header}");
        }
        let strings = |data: &[u8]| {
            decode(json!({"inputs": [input("s", "BYTES", &[2], data.len())]}), data).unwrap_err().to_string()
        };
        assert!(strings(&bytes_tensor(&["a"])).ends_with("1 were sent"));
        assert!(strings(&bytes_tensor(&["a", "b", "c"])).ends_with("5 bytes follow element 2"));
        assert!(strings(&[5, 0, 0, 0, b'a']).ends_with("element 1 says 5 bytes, but 1 remain"));
        assert!(strings(&[1, 0, 0, 0, b'a', 1, 0]).ends_with("element 2 has 2 bytes where its 4-byte length should be"));
        assert!(strings(&[1, 0, 0, 0, 0xff, 0, 0, 0, 0]).contains("element 1 is not UTF-8 text"));
    }

    #[test]
    fn the_header_length_must_be_a_number_within_the_body() {
        let at = |length: &str, body: &[u8]| request(body, &HeaderValue::from_str(length).unwrap(), 100);
        assert_eq!(at("ten", b"{}"), Err(BinaryError::HeaderLength("ten".into())));
        assert_eq!(at("-1", b"{}"), Err(BinaryError::HeaderLength("-1".into())));
        assert_eq!(at("3", b"{}"), Err(BinaryError::HeaderPastBody { header: 3, body: 2 }));
        assert!(matches!(at("1", b"{}"), Err(BinaryError::Json(_))));
        assert_eq!(at("2", b"{}"), Ok(json!({})));
        let e = ApiError::from(at("3", b"{}").unwrap_err());
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    fn answer(request: Value) -> (HeaderMap, Vec<u8>) {
        let mut outputs = Outputs::default();
        outputs.push(&request, "label", &Output::Strings { shape: vec![2], data: vec!["yes".into(), "no".into()] });
        outputs.push(&request, "p", &Output::Numbers { shape: vec![2, 1], data: vec![0.25, 0.75] });
        let response = outputs.answer(json!({"id": "a"}));
        let headers = response.headers().clone();
        let body = body_of(response);
        (headers, body)
    }

    fn body_of(response: Response) -> Vec<u8> {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(axum::body::to_bytes(response.into_body(), usize::MAX)).unwrap().to_vec()
    }

    #[test]
    fn outputs_go_back_in_binary_when_asked() {
        let (headers, body) = answer(json!({}));
        assert!(headers.get(HEADER).is_none());
        let json: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["outputs"][1], json!({"name": "p", "shape": [2, 1], "datatype": "FP32", "data": [0.25, 0.75]}));

        // All outputs by the request's flag, but `label`, which says otherwise.
        let (headers, body) = answer(json!({"parameters": {"binary_data_output": true},
            "outputs": [{"name": "label", "parameters": {"binary_data": false}}, {"name": "p"}]}));
        let length: usize = headers[HEADER].to_str().unwrap().parse().unwrap();
        let (head, data) = body.split_at(length);
        let json: Value = serde_json::from_slice(head).unwrap();
        assert_eq!(json["outputs"][0]["data"], json!(["yes", "no"]));
        assert_eq!(json["outputs"][1]["parameters"], json!({"binary_data_size": 8}));
        assert!(json["outputs"][1].get("data").is_none());
        assert_eq!(data, [0.25f32.to_le_bytes(), 0.75f32.to_le_bytes()].concat());

        let (headers, body) = answer(json!({"outputs": [{"name": "label", "parameters": {"binary_data": true}}]}));
        let length: usize = headers[HEADER].to_str().unwrap().parse().unwrap();
        assert_eq!(&body[length..], bytes_tensor(&["yes", "no"]));
        assert_eq!(headers[header::CONTENT_TYPE], "application/octet-stream");
    }

    proptest! {
        /// Any bytes under any header length, and any cut or corruption of a valid body,
        /// decode or are refused: never a panic.
        #[test]
        fn no_framing_panics(body in proptest::collection::vec(any::<u8>(), 0..64), length in 0usize..80) {
            let _ = request(&body, &HeaderValue::from(length), 100);
        }

        #[test]
        fn no_corruption_of_a_valid_body_panics(cut in 0usize..200, at in 0usize..200, byte in any::<u8>(), length in 0usize..200) {
            let data = [bytes_tensor(&["basic", "pro"]), 1.5f64.to_le_bytes().to_vec()].concat();
            let header = json!({"inputs": [input("plan", "BYTES", &[2], 16), input("x", "FP64", &[1], 8)]});
            let (mut body, good) = framed(&header, &data);
            prop_assert!(request(&body, &good, 100).is_ok());
            if let Some(b) = body.get_mut(at) {
                *b = byte;
            }
            body.truncate(cut.max(1));
            let _ = request(&body, &good, 100);
            let _ = request(&body, &HeaderValue::from(length), 100);
        }
    }
}
