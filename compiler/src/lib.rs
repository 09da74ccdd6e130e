//! The mlpc compiler: parse, check and lower `.mlp` programs. It does no IO (files come
//! through [`FileSystem`]) and never panics on any input.

pub mod check;
pub mod compile;
pub mod diagnostic;
pub mod files;
pub mod format;
pub mod onnx;
pub mod plan;
pub mod source;
pub mod stdlib;
pub mod syntax;
pub use mlpc_plan::types;

pub use compile::{analyze, compile, Compilation};
pub use diagnostic::{Code, Diagnostic, Severity};
pub use files::FileSystem;
pub use source::{FileId, Sources, Span};
pub use syntax::ast;
