//! Every output format of `mlpc check`, rendered from the one diagnostic type.

mod github;
mod human;
mod json;
mod repository;
mod sarif;

use crate::CheckFormat;
use mlpc_compiler::source::LineCol;
use mlpc_compiler::{Diagnostic, Sources};

/// A diagnostic with the files its spans point into.
pub struct Located<'a> {
    pub diag: &'a Diagnostic,
    pub sources: &'a Sources,
}

impl Located<'_> {
    pub fn path(&self) -> &str {
        &self.sources.get(self.diag.primary.file).path
    }
    /// Start and end of the primary span.
    pub fn range(&self) -> (LineCol, LineCol) {
        let f = self.sources.get(self.diag.primary.file);
        (f.line_col(self.diag.primary.span.start), f.line_col(self.diag.primary.span.end))
    }
}

pub fn render(format: CheckFormat, diags: &[Located], files: usize, color: bool) -> String {
    match format {
        CheckFormat::Human => human::render(diags, files, color),
        CheckFormat::Short => short(diags, files),
        CheckFormat::Json => json::render(diags, files),
        CheckFormat::Sarif => sarif::render(diags),
        CheckFormat::Github => github::render(diags),
    }
}

fn short(diags: &[Located], files: usize) -> String {
    let mut out = String::new();
    for l in diags {
        let (start, _) = l.range();
        out.push_str(&format!(
            "{}:{}:{}: {}[{}]: {}\n",
            l.path(),
            start.line,
            start.column,
            severity(l.diag),
            l.diag.code.as_str(),
            l.diag.message
        ));
    }
    out.push_str(&summary(diags, files));
    out
}

fn severity(d: &Diagnostic) -> &'static str {
    if d.is_error() {
        "error"
    } else {
        "warning"
    }
}

/// `checked 3 files: 1 error, 2 warnings`
pub fn summary(diags: &[Located], files: usize) -> String {
    let errors = diags.iter().filter(|l| l.diag.is_error()).count();
    let warnings = diags.len() - errors;
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    format!("checked {}: {}, {}\n", plural(files, "file"), plural(errors, "error"), plural(warnings, "warning"))
}
