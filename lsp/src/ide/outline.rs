//! Document symbols: the declarations of a file, with their columns and features.

use mlpc_compiler::ast::{ItemKind, StmtKind};
use mlpc_compiler::{Compilation, FileId, Span};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    pub name: String,
    /// The declaration keyword (`source`, `model`, …) or `column` / `feature`.
    pub kind: &'static str,
    pub span: Span,
    pub name_span: Span,
    pub children: Vec<Symbol>,
}

pub fn outline(c: &Compilation, file: FileId) -> Vec<Symbol> {
    let Some(m) = c.modules.iter().find(|m| m.file == file) else { return Vec::new() };
    let mut out = Vec::new();
    for item in &m.ast.items {
        let (name, name_span) = match &item.kind {
            ItemKind::Pipeline { name, .. }
            | ItemKind::Source { name, .. }
            | ItemKind::Features { name, .. }
            | ItemKind::Dataset { name, .. }
            | ItemKind::Model { name, .. }
            | ItemKind::Monitor { name, .. }
            | ItemKind::Score { name, .. }
            | ItemKind::Stdlib { name, .. } => (name.name.clone(), name.span),
            ItemKind::Check { target, .. } => (format!("check {}", target.name), target.span),
            ItemKind::Evaluate { model, data, .. } => {
                (format!("evaluate {} on {}", model.name, data.text()), model.span)
            }
            ItemKind::Register { registered, .. } => (format!("\"{}\"", registered.value), registered.span),
            ItemKind::Serve { registered, .. } => (format!("serve \"{}\"", registered.value), registered.span),
            ItemKind::Import { path } => (format!("import \"{}\"", path.value), path.span),
            ItemKind::Error { .. } => continue,
        };
        let children = item
            .kind
            .body()
            .map(|b| {
                b.stmts
                    .iter()
                    .filter_map(|s| match &s.kind {
                        StmtKind::Typed { name, .. } => Some(Symbol {
                            name: name.name.clone(),
                            kind: if matches!(item.kind, ItemKind::Features { .. }) { "feature" } else { "column" },
                            span: s.span,
                            name_span: name.span,
                            children: Vec::new(),
                        }),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(Symbol { name, kind: item.kind.keyword(), span: item.span, name_span, children });
    }
    out
}
