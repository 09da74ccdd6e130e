//! The mlpc compiler: parse, check and lower `.mlp` programs. It does no IO (files come
//! through [`FileSystem`]) and never panics on any input.

pub mod diagnostic;
pub mod source;
pub mod syntax;

pub use diagnostic::{Code, Diagnostic, Severity};
pub use source::{FileId, Sources, Span};
