//! The Triton model repository KServe's `kserve-tritonserver` runtime loads: per model a
//! folder named as requests address it (`/v2/models/<folder>/infer`) holding `config.pbtxt`
//! and a numeric version folder with `model.onnx` (a bare `model.onnx` does not load).

/// A graph input or output, as the ONNX file declares it: `shape` holds `None` for a free
/// dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tensor {
    pub name: String,
    /// ONNX `TensorProto.DataType`.
    pub elem_type: i32,
    pub shape: Vec<Option<i64>>,
}

/// Where a model's files go, relative to the repository root.
pub fn paths(model: &str, version: i64) -> (String, String) {
    (format!("{model}/config.pbtxt"), format!("{model}/{version}/model.onnx"))
}

/// `config.pbtxt` (protobuf text of Triton's `ModelConfig`) for an ONNX model. When every
/// tensor's first dimension is free, Triton batches requests up to `max_batch_size` rows and
/// the dims leave that dimension out; a tensor that is only the batch (`[N]`) is declared
/// `[1]` and reshaped to `[]`.
pub fn config(model: &str, inputs: &[Tensor], outputs: &[Tensor], max_batch_size: u32) -> Result<String, String> {
    let batched = inputs.iter().chain(outputs).all(|t| t.shape.first() == Some(&None));
    let mut text = format!(
        "name: {}\nplatform: \"onnxruntime_onnx\"\nmax_batch_size: {}\n",
        quoted(model),
        if batched { max_batch_size } else { 0 }
    );
    for (key, tensors) in [("input", inputs), ("output", outputs)] {
        let entries = tensors.iter().map(|t| entry(t, batched)).collect::<Result<Vec<_>, _>>()?;
        text.push_str(&format!("{key} [\n{}\n]\n", entries.join(",\n")));
    }
    if batched {
        text.push_str("dynamic_batching { }\n");
    }
    Ok(text)
}

fn entry(t: &Tensor, batched: bool) -> Result<String, String> {
    let ty = data_type(t.elem_type)
        .ok_or_else(|| format!("`{}` has ONNX element type {}, which Triton does not serve", t.name, t.elem_type))?;
    let dims: Vec<i64> = t.shape.iter().skip(usize::from(batched)).map(|d| d.unwrap_or(-1)).collect();
    let (dims, reshape) = if dims.is_empty() { (vec![1], "\n    reshape: { shape: [ ] }") } else { (dims, "") };
    let dims: Vec<String> = dims.iter().map(i64::to_string).collect();
    Ok(format!(
        "  {{\n    name: {}\n    data_type: {ty}\n    dims: [ {} ]{reshape}\n  }}",
        quoted(&t.name),
        dims.join(", ")
    ))
}

/// Triton's `DataType` for an ONNX element type.
fn data_type(elem: i32) -> Option<&'static str> {
    Some(match elem {
        1 => "TYPE_FP32",
        2 => "TYPE_UINT8",
        3 => "TYPE_INT8",
        4 => "TYPE_UINT16",
        5 => "TYPE_INT16",
        6 => "TYPE_INT32",
        7 => "TYPE_INT64",
        8 => "TYPE_STRING",
        9 => "TYPE_BOOL",
        10 => "TYPE_FP16",
        11 => "TYPE_FP64",
        12 => "TYPE_UINT32",
        13 => "TYPE_UINT64",
        16 => "TYPE_BF16",
        _ => return None,
    })
}

/// A protobuf text string.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(name: &str, elem_type: i32, shape: &[Option<i64>]) -> Tensor {
        Tensor { name: name.into(), elem_type, shape: shape.to_vec() }
    }

    #[test]
    fn batch_only_tensors_are_reshaped_and_unknown_types_refused() {
        let inputs = [tensor("plan", 8, &[None, Some(1)])];
        let outputs = [tensor("label", 8, &[None]), tensor("probabilities", 1, &[None, Some(2)])];
        let text = config("churn", &inputs, &outputs, 64).unwrap();
        assert!(text.contains("max_batch_size: 64"), "{text}");
        assert!(
            text.contains("name: \"label\"\n    data_type: TYPE_STRING\n    dims: [ 1 ]\n    reshape: { shape: [ ] }")
        );
        assert!(text.contains("name: \"probabilities\"\n    data_type: TYPE_FP32\n    dims: [ 2 ]\n  }"));
        let fixed = config("m", &[tensor("x", 1, &[Some(3), Some(1)])], &[], 64).unwrap();
        assert!(fixed.contains("max_batch_size: 0") && fixed.contains("dims: [ 3, 1 ]"), "{fixed}");
        assert!(config("m", &[tensor("x", 14, &[None])], &[], 8).unwrap_err().contains("element type 14"));
    }
}
