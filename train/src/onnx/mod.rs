//! ONNX export: the part of `onnx.proto` mlpc writes, as prost messages (no protoc), a
//! small graph builder over it, and a model file's signature read back with them.

mod graph;
mod proto;
mod signature;

pub use graph::{attr, Graph, ML};
pub use proto::*;
pub use signature::{signature, TensorInfo};
