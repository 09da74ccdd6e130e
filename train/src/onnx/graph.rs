//! Builds an ONNX graph node by node, naming intermediate values, and encodes the model.

use super::proto::*;
use prost::Message;

/// The domain of the `ai.onnx.ml` operators (encoders, imputer, scaler, tree ensembles).
pub const ML: &str = "ai.onnx.ml";

/// Opsets the exported models import.
const OPSET: i64 = 17;
const ML_OPSET: i64 = 3;

#[derive(Default)]
pub struct Graph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
    next: usize,
}

/// A value's type: element type and shape, `None` for the free batch dimension.
fn value_info(name: &str, elem: i32, shape: &[Option<i64>]) -> ValueInfoProto {
    let dim = shape
        .iter()
        .map(|d| Dimension { value: Some(d.map_or_else(|| DimValue::Param("N".into()), DimValue::Value)) })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto { elem_type: elem, shape: Some(TensorShapeProto { dim }) }),
        }),
        doc_string: String::new(),
    }
}

impl Graph {
    pub fn input(&mut self, name: &str, elem: i32, shape: &[Option<i64>]) {
        self.inputs.push(value_info(name, elem, shape));
    }
    pub fn output(&mut self, name: &str, elem: i32, shape: &[Option<i64>]) {
        self.outputs.push(value_info(name, elem, shape));
    }
    fn fresh(&mut self, op: &str) -> String {
        self.next += 1;
        format!("{}_{}", op.to_lowercase(), self.next)
    }
    /// Adds a node with one output and returns that output's name.
    pub fn node(&mut self, op: &str, domain: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        self.node_n(op, domain, inputs, 1, attrs).remove(0)
    }
    /// Adds a node with `n` outputs and returns their names.
    pub fn node_n(
        &mut self,
        op: &str,
        domain: &str,
        inputs: &[&str],
        n: usize,
        attrs: Vec<AttributeProto>,
    ) -> Vec<String> {
        let outputs: Vec<String> = (0..n).map(|_| self.fresh(op)).collect();
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.clone(),
            name: outputs[0].clone(),
            op_type: op.into(),
            attribute: attrs,
            domain: domain.into(),
        });
        outputs
    }
    /// Adds a node that writes a graph output by name.
    pub fn node_into(&mut self, op: &str, domain: &str, inputs: &[&str], output: &str, attrs: Vec<AttributeProto>) {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            name: output.into(),
            op_type: op.into(),
            attribute: attrs,
            domain: domain.into(),
        });
    }
    pub fn const_f32(&mut self, dims: &[i64], data: Vec<f32>) -> String {
        let name = self.fresh("const");
        self.initializers.push(TensorProto {
            dims: dims.to_vec(),
            data_type: dtype::FLOAT,
            float_data: data,
            name: name.clone(),
            ..Default::default()
        });
        name
    }
    pub fn const_i64(&mut self, dims: &[i64], data: Vec<i64>) -> String {
        let name = self.fresh("const");
        self.initializers.push(TensorProto {
            dims: dims.to_vec(),
            data_type: dtype::INT64,
            int64_data: data,
            name: name.clone(),
            ..Default::default()
        });
        name
    }
    pub fn const_strings(&mut self, dims: &[i64], data: &[String]) -> String {
        let name = self.fresh("const");
        self.initializers.push(TensorProto {
            dims: dims.to_vec(),
            data_type: dtype::STRING,
            string_data: data.iter().map(|s| s.as_bytes().to_vec()).collect(),
            name: name.clone(),
            ..Default::default()
        });
        name
    }
    /// The encoded `ModelProto`; `metadata` lands in its `metadata_props`.
    pub fn encode(self, name: &str, doc: &str, metadata: &[(String, String)]) -> Vec<u8> {
        let model = ModelProto {
            ir_version: 8,
            producer_name: "mlpc".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            domain: String::new(),
            model_version: 1,
            doc_string: doc.into(),
            graph: Some(GraphProto {
                node: self.nodes,
                name: name.into(),
                initializer: self.initializers,
                doc_string: String::new(),
                input: self.inputs,
                output: self.outputs,
            }),
            opset_import: vec![
                OperatorSetIdProto { domain: String::new(), version: OPSET },
                OperatorSetIdProto { domain: ML.into(), version: ML_OPSET },
            ],
            metadata_props: metadata
                .iter()
                .map(|(k, v)| StringStringEntryProto { key: k.clone(), value: v.clone() })
                .collect(),
        };
        model.encode_to_vec()
    }
}

/// Attribute constructors.
pub mod attr {
    use super::super::proto::{attr_type, AttributeProto, TensorProto};

    fn named(name: &str, ty: i32) -> AttributeProto {
        AttributeProto { name: name.into(), r#type: ty, ..Default::default() }
    }
    pub fn int(name: &str, i: i64) -> AttributeProto {
        AttributeProto { i, ..named(name, attr_type::INT) }
    }
    pub fn float(name: &str, f: f32) -> AttributeProto {
        AttributeProto { f, ..named(name, attr_type::FLOAT) }
    }
    pub fn string(name: &str, s: &str) -> AttributeProto {
        AttributeProto { s: s.as_bytes().to_vec(), ..named(name, attr_type::STRING) }
    }
    pub fn ints(name: &str, ints: Vec<i64>) -> AttributeProto {
        AttributeProto { ints, ..named(name, attr_type::INTS) }
    }
    pub fn floats(name: &str, floats: Vec<f32>) -> AttributeProto {
        AttributeProto { floats, ..named(name, attr_type::FLOATS) }
    }
    pub fn strings(name: &str, strings: &[String]) -> AttributeProto {
        AttributeProto {
            strings: strings.iter().map(|s| s.as_bytes().to_vec()).collect(),
            ..named(name, attr_type::STRINGS)
        }
    }
    pub fn tensor(name: &str, t: TensorProto) -> AttributeProto {
        AttributeProto { t: Some(t), ..named(name, attr_type::TENSOR) }
    }
}
