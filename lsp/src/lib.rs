//! `mlpc lsp`: the language server for `.mlp`, over stdio. It runs the compiler's own
//! analysis on every change (no second parser or checker) and answers from it.

mod convert;
pub mod ide;
mod overlay;
mod pages;
mod server;

pub use server::{run_stdio, serve};
