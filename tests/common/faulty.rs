//! Faulty candidates for the canary and monitor tests: a version's exported ONNX graph
//! with nodes spliced in that make ONNX Runtime slow, or fail on inputs beyond what
//! evaluation saw.

use mlpc_runtime::{registry, Store};
use mlpc_train::onnx::{attr, dtype, AttributeProto, ModelProto, NodeProto, TensorProto};
use prost::Message;
use std::path::Path;

/// Rewrites the churn pipeline at `file` so that `churn_model` is `onnx("candidate.onnx")`:
/// version 1 of `churn-predictor` in `state` with `fault` (its `then retrain` goes, since
/// mlpc does not retrain an imported model). The next run evaluates and registers it.
pub fn import_faulty(file: &Path, state: &Path, fault: Fault) {
    let store = Store::open_read_only(state).unwrap();
    let sha = registry::version(&store, "churn-predictor", 1).unwrap().artifact_sha256;
    let v1 = std::fs::read(store.artifact_path(&sha, "onnx")).unwrap();
    drop(store);
    std::fs::write(file.with_file_name("candidate.onnx"), faulty(&v1, fault)).unwrap();
    let text = std::fs::read_to_string(file).unwrap().replace(" then retrain churn_model", "");
    let (a, b) = (text.find("model churn_model").unwrap(), text.find("evaluate churn_model").unwrap());
    let imported = "model churn_model = onnx(\"candidate.onnx\") {\n  schema = churn_data\n  inputs = customer_features + [plan, region, monthly_spend, support_tickets, tenure_months]\n}\n\n";
    std::fs::write(file, format!("{}{imported}{}", &text[..a], &text[b..])).unwrap();
}

/// How a candidate built from version 1's graph misbehaves.
#[derive(Clone, Copy)]
pub enum Fault {
    /// A 2048 × 2048 matrix product on every call (about 17 GFLOP), folded into the output
    /// as zero: the same answers, slowly.
    Slow,
    /// A lookup whose index is out of range when any `monthly_spend` is over 5000: ONNX
    /// Runtime fails the call. The evaluation split has no such row.
    Errors,
}

/// A version's ONNX model with `fault` spliced in before its `probabilities` output.
fn faulty(v1: &[u8], fault: Fault) -> Vec<u8> {
    let mut model = ModelProto::decode(v1).unwrap();
    let g = model.graph.as_mut().unwrap();
    let last = g.node.iter_mut().find(|n| n.output.iter().any(|o| o == "probabilities")).unwrap();
    last.output.iter_mut().filter(|o| *o == "probabilities").for_each(|o| *o = "p_inner".into());
    let node = |op: &str, inputs: &[&str], output: &str, attrs: Vec<AttributeProto>| NodeProto {
        input: inputs.iter().map(|i| i.to_string()).collect(),
        output: vec![output.into()],
        name: format!("fault_{output}"),
        op_type: op.into(),
        attribute: attrs,
        domain: String::new(),
    };
    let f32s = |name: &str, dims: &[i64], data: Vec<f32>| TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: dtype::FLOAT,
        float_data: data,
        ..Default::default()
    };
    let i64s = |name: &str, dims: &[i64], data: Vec<i64>| TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: dtype::INT64,
        int64_data: data,
        ..Default::default()
    };
    let all = || vec![attr::int("keepdims", 0)];
    match fault {
        Fault::Slow => {
            g.initializer.extend([i64s("square", &[2], vec![2048, 2048]), f32s("zero", &[], vec![0.0])]);
            g.node.extend([
                node("ReduceSum", &["p_inner"], "total", all()),
                node("Expand", &["total", "square"], "big", vec![]),
                node("MatMul", &["big", "big"], "product", vec![]),
                node("ReduceSum", &["product"], "product_total", all()),
                node("Mul", &["product_total", "zero"], "nothing", vec![]),
            ]);
        }
        Fault::Errors => {
            g.initializer.extend([
                f32s("limit", &[], vec![5000.0]),
                i64s("ten", &[], vec![10]),
                f32s("table", &[2], vec![0.0, 0.0]),
            ]);
            g.node.extend([
                node("Greater", &["monthly_spend", "limit"], "over", vec![]),
                node("Cast", &["over"], "over_index", vec![attr::int("to", dtype::INT64 as i64)]),
                node("Mul", &["over_index", "ten"], "index", vec![]),
                node("Gather", &["table", "index"], "looked_up", vec![attr::int("axis", 0)]),
                node("ReduceSum", &["looked_up"], "nothing", all()),
            ]);
        }
    }
    g.node.push(node("Add", &["p_inner", "nothing"], "probabilities", vec![]));
    model.encode_to_vec()
}
