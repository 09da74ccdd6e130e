//! What a model file takes and gives: its graph's inputs (initializers left out) and
//! outputs with element types and shapes, read from the bytes with the same messages the
//! export writes.

use super::proto::{DimValue, ModelProto, ValueInfoProto};
use prost::Message;

/// A graph input or output; `shape` has `None` for a free (named or unknown) dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    /// `TensorProto.DataType`; 0 when not given.
    pub elem_type: i32,
    pub shape: Vec<Option<i64>>,
}

/// The inputs and outputs of the ONNX model in `bytes`.
pub fn signature(bytes: &[u8]) -> Result<(Vec<TensorInfo>, Vec<TensorInfo>), String> {
    let model = ModelProto::decode(bytes).map_err(|e| format!("not an ONNX model: {e}"))?;
    let graph = model.graph.ok_or("the ONNX model holds no graph")?;
    let initializers: std::collections::HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let info = |v: &ValueInfoProto| {
        let tensor = v.r#type.as_ref().and_then(|t| t.tensor_type.as_ref());
        TensorInfo {
            name: v.name.clone(),
            elem_type: tensor.map_or(0, |t| t.elem_type),
            shape: tensor
                .and_then(|t| t.shape.as_ref())
                .map(|s| {
                    s.dim
                        .iter()
                        .map(|d| match d.value {
                            Some(DimValue::Value(n)) => Some(n),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    };
    let inputs = graph.input.iter().filter(|i| !initializers.contains(i.name.as_str())).map(info).collect();
    Ok((inputs, graph.output.iter().map(info).collect()))
}
