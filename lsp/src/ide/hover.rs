//! Hover: what a name is (its type, its doc comment, a stdlib item's signature), or the
//! type of the expression under the cursor.

use super::symbol_at;
use mlpc_compiler::ast::StdKind;
use mlpc_compiler::check::Target;
use mlpc_compiler::stdlib::Stdlib;
use mlpc_compiler::{Compilation, FileId, Span};

/// Markdown for the cursor position, and the span it describes.
pub fn hover(c: &Compilation, file: FileId, offset: usize) -> Option<(Span, String)> {
    if let Some((span, target)) = symbol_at(c, file, offset) {
        if let Some(text) = describe(c, &target) {
            return Some((span, text));
        }
    }
    if let Some(found) = named_argument(c, file, offset) {
        return Some(found);
    }
    let (_, span, ty) = c
        .analysis
        .types
        .iter()
        .filter(|(f, s, _)| *f == file && s.start <= offset && offset <= s.end)
        .min_by_key(|(_, s, _)| s.len())?;
    let text = c.sources.get(file).text.get(span.start..span.end)?;
    Some((*span, format!("```mlp\n{text}\n```\n`{ty}`")))
}

/// A named argument of a stdlib call (`trees = 200`): the parameter's type and doc.
fn named_argument(c: &Compilation, file: FileId, offset: usize) -> Option<(Span, String)> {
    let module = c.modules.iter().find(|m| m.file == file)?;
    let item = module.ast.items.iter().find(|i| i.span.start <= offset && offset <= i.span.end)?;
    let kinds = [StdKind::Algorithm, StdKind::Reader, StdKind::Splitter, StdKind::Function, StdKind::Aggregation];
    item.calls().into_iter().find_map(|call| {
        let name = call.args.iter().filter_map(|a| a.name.as_ref()).find(|n| n.span.contains(offset))?;
        let entry = kinds.iter().find_map(|k| Stdlib::get().lookup(*k, &call.func.name))?;
        let text = match entry.param(&name.name) {
            Some(p) => {
                let default = p.default.as_ref().map(|d| format!(" = {d}")).unwrap_or_default();
                with_doc(format!("{}({}: {}{default})", entry.name, p.name, p.ty.name()), p.doc.as_ref())
            }
            // Split shares are named freely: `train = 80%`.
            None if entry.kind == StdKind::Splitter => {
                format!("```mlp\n{}: percent\n```\n---\nThe share of rows in split `{}`.", name.name, name.name)
            }
            None => return None,
        };
        Some((name.span, text))
    })
}

fn with_doc(head: String, doc: Option<&String>) -> String {
    match doc {
        Some(d) => format!("```mlp\n{head}\n```\n---\n{d}"),
        None => format!("```mlp\n{head}\n```"),
    }
}

/// A name's signature and doc, as hover shows it.
pub fn describe(c: &Compilation, target: &Target) -> Option<String> {
    let a = &c.analysis;
    Some(match target {
        Target::Decl { kind: "source", name } => {
            let s = a.sources.iter().find(|s| &s.name == name)?;
            let cols: Vec<String> = s.columns.iter().map(|c| format!("{}: {}", c.name, c.ty)).collect();
            with_doc(
                format!("source {} = {}(\"{}\")  // {}", s.name, s.format, s.path, cols.join(", ")),
                s.site.doc.as_ref(),
            )
        }
        Target::Decl { kind: "features", name } => {
            let v = a.views.iter().find(|v| &v.name == name)?;
            let fs: Vec<String> = v.features.iter().map(|f| format!("{}: {}", f.name, f.ty)).collect();
            with_doc(format!("features {} on {}  // {}", v.name, v.entity, fs.join(", ")), v.site.doc.as_ref())
        }
        Target::Decl { kind: "dataset", name } => {
            let d = a.datasets.iter().find(|d| &d.name == name)?;
            let splits: Vec<String> = d
                .split
                .iter()
                .flat_map(|s| s.parts.iter().map(|(n, share)| format!("{n} {}%", (share * 100.0).round())))
                .collect();
            let task = d.task.map_or("no task", |t| t.name());
            let label = d.label.as_deref().unwrap_or("?");
            with_doc(
                format!("dataset {} = {}  // label {label} ({task}); splits: {}", d.name, d.base, splits.join(", ")),
                d.site.doc.as_ref(),
            )
        }
        Target::Decl { kind: "model", name } => {
            let m = a.models.iter().find(|m| &m.name == name)?;
            let trainer = match &m.trainer {
                mlpc_compiler::check::Trainer::Algorithm { algorithm, .. } => algorithm.clone(),
                mlpc_compiler::check::Trainer::Onnx { path } => format!("onnx(\"{path}\")"),
                mlpc_compiler::check::Trainer::Command { .. } => "command(…)".into(),
            };
            let inputs: Vec<&str> = m.inputs.iter().map(|c| c.name.as_str()).collect();
            let task = m.task.map_or("unknown task", |t| t.name());
            with_doc(
                format!("model {} = {trainer}  // {task}; inputs: {}", m.name, inputs.join(", ")),
                m.site.doc.as_ref(),
            )
        }
        Target::Decl { kind, name } => {
            let doc = a.monitors.iter().find(|m| &m.name == name).and_then(|m| m.site.doc.as_ref());
            with_doc(format!("{kind} {name}"), doc)
        }
        Target::Column { table, column } => {
            let s = a.sources.iter().find(|s| &s.name == table)?;
            let col = s.column(column)?;
            let mut marks = String::new();
            if col.key {
                marks.push_str(" key");
            }
            if col.time {
                marks.push_str(" time");
            }
            if let Some(r) = &col.references {
                marks.push_str(&format!(" references {}.{}", r.table, r.column));
            }
            with_doc(format!("{table}.{column}: {}{marks}", col.ty), col.site.doc.as_ref())
        }
        Target::Feature { view, name } => {
            let f = a.views.iter().find(|v| &v.name == view)?.feature(name)?;
            with_doc(format!("{view}.{name}: {}", f.ty), f.site.doc.as_ref())
        }
        Target::Registered { name } => {
            let r = a.registrations.iter().find(|r| &r.registered == name)?;
            with_doc(format!("register {} as \"{name}\"", r.model), r.site.doc.as_ref())
        }
        Target::Std { kind, name } => {
            let e = Stdlib::get().lookup(*kind, name)?;
            let mut head = e.signature();
            if !e.tasks.is_empty() {
                let tasks: Vec<&str> = e.tasks.iter().map(|t| t.name()).collect();
                head.push_str(&format!("  // {}", tasks.join(", ")));
            }
            let mut doc = e.doc.clone().unwrap_or_default();
            for p in e.params.iter().filter(|p| p.doc.is_some()) {
                doc.push_str(&format!("\n- `{}`: {}", p.name, p.doc.as_deref().unwrap_or("")));
            }
            with_doc(head, Some(&doc))
        }
    })
}
