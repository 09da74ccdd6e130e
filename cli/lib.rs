//! The mlpc command line as a library: subcommands and the renderers of diagnostics, so
//! tests can drive them in-process.

pub mod args;
pub mod commands;
pub mod disk;
pub mod export;
pub mod render;

use clap::ValueEnum;

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CheckFormat {
    /// Source snippets with labels (miette).
    Human,
    /// One line per diagnostic: `file:line:col: severity[CODE]: message`.
    Short,
    /// A JSON document for tools.
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// GitHub Actions workflow commands (annotations on the diff).
    Github,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    Json,
    Text,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}
