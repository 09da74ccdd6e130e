//! `--format json`: a stable document for tools.

use super::{severity, Located};
use mlpc_compiler::Sources;
use serde_json::{json, Value};

/// The JSON layout version of this output.
const VERSION: u32 = 1;

fn position(sources: &Sources, file: mlpc_compiler::FileId, span: mlpc_compiler::Span) -> Value {
    let f = sources.get(file);
    let (s, e) = (f.line_col(span.start), f.line_col(span.end));
    json!({
        "file": f.path,
        "start": { "line": s.line, "column": s.column, "offset": span.start },
        "end": { "line": e.line, "column": e.column, "offset": span.end },
    })
}

pub fn diagnostic(l: &Located) -> Value {
    let d = l.diag;
    let mut v = json!({
        "code": d.code.as_str(),
        "severity": severity(d),
        "message": d.message,
        "location": position(l.sources, d.primary.file, d.primary.span),
        "label": d.primary.message,
        "related": d.secondary.iter().map(|s| json!({
            "message": s.message,
            "location": position(l.sources, s.file, s.span),
        })).collect::<Vec<_>>(),
        "help": d.help,
    });
    if let Some(fix) = &d.fix {
        v["fix"] = json!({
            "title": fix.title,
            "location": position(l.sources, fix.file, fix.span),
            "replacement": fix.replacement,
        });
    }
    v
}

pub fn render(diags: &[Located], files: usize) -> String {
    let errors = diags.iter().filter(|l| l.diag.is_error()).count();
    let doc = json!({
        "version": VERSION,
        "diagnostics": diags.iter().map(diagnostic).collect::<Vec<_>>(),
        "summary": { "files": files, "errors": errors, "warnings": diags.len() - errors },
    });
    let mut s = serde_json::to_string_pretty(&doc).expect("JSON values serialize");
    s.push('\n');
    s
}
