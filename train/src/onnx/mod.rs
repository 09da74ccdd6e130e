//! ONNX export: the part of `onnx.proto` mlpc writes, as prost messages (no protoc), and
//! a small graph builder over it.

mod graph;
mod proto;

pub use graph::{attr, Graph, ML};
pub use proto::*;
