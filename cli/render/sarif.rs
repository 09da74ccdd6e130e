//! `--format sarif`: SARIF 2.1.0, one run, one rule per code reported.

use super::repository::{Repository, SRCROOT};
use super::Located;
use mlpc_compiler::{Code, Severity, Sources};
use serde_json::{json, Value};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn location(
    repo: &Repository,
    sources: &Sources,
    file: mlpc_compiler::FileId,
    span: mlpc_compiler::Span,
    message: Option<&str>,
) -> Value {
    let f = sources.get(file);
    let (s, e) = (f.line_col(span.start), f.line_col(span.end));
    let mut v = json!({
        "physicalLocation": {
            "artifactLocation": repo.artifact(&f.path),
            "region": {
                "startLine": s.line, "startColumn": s.column,
                "endLine": e.line, "endColumn": e.column,
                "charOffset": span.start, "charLength": span.len(),
            },
        },
    });
    if let Some(m) = message.filter(|m| !m.is_empty()) {
        v["message"] = json!({ "text": m });
    }
    v
}

pub fn render(diags: &[Located]) -> String {
    let repo = Repository::here();
    // The rules reported, in the codes' order; each with its whole page as Markdown help,
    // which code scanning shows beside an alert.
    let reported: Vec<Code> = Code::ALL.iter().copied().filter(|c| diags.iter().any(|l| l.diag.code == *c)).collect();
    let rules: Vec<Value> = reported
        .iter()
        .map(|c| {
            json!({
                "id": c.as_str(),
                "name": c.name(),
                "shortDescription": { "text": c.title() },
                "fullDescription": { "text": c.page().lines().find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or(c.title()) },
                "help": {
                    "text": format!("Run `mlpc explain {}` for a wrong and a right example.", c.as_str()),
                    "markdown": c.page(),
                },
                "defaultConfiguration": { "level": level(c.severity()) },
            })
        })
        .collect();
    let results: Vec<Value> = diags
        .iter()
        .map(|l| {
            let d = l.diag;
            let mut text = d.message.clone();
            if let Some(h) = &d.help {
                text.push_str(&format!("\nhelp: {h}"));
            }
            let mut r = json!({
                "ruleId": d.code.as_str(),
                "ruleIndex": reported.iter().position(|c| *c == d.code).expect("a reported code"),
                "level": level(d.severity),
                "message": { "text": text },
                "locations": [location(&repo, l.sources, d.primary.file, d.primary.span, Some(&d.primary.message))],
            });
            if !d.secondary.is_empty() {
                r["relatedLocations"] = d
                    .secondary
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let mut loc = location(&repo, l.sources, s.file, s.span, Some(&s.message));
                        loc["id"] = json!(i);
                        loc
                    })
                    .collect();
            }
            r
        })
        .collect();
    let mut doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "mlpc",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    });
    if let Some(root) = repo.root_uri() {
        doc["runs"][0]["originalUriBaseIds"] = json!({ SRCROOT: { "uri": root.as_str() } });
    }
    let mut s = serde_json::to_string_pretty(&doc).expect("JSON values serialize");
    s.push('\n');
    s
}
