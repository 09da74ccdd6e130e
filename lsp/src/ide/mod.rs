//! Editor features as pure functions of a compilation and a cursor: no LSP types here
//! beyond what the server converts.

pub mod complete;
pub mod hover;
pub mod navigate;
pub mod outline;
pub mod signature;
pub mod tokens;

use mlpc_compiler::check::{Site, Target};
use mlpc_compiler::{Compilation, FileId, Span};

/// A declared name: where it is written and what it declares.
#[derive(Clone, Debug)]
pub struct Definition {
    pub file: FileId,
    pub span: Span,
    pub target: Target,
}

fn def(site: &Site, target: Target) -> Definition {
    Definition { file: site.file, span: site.span, target }
}

/// Every declaration site of the program.
pub fn definitions(c: &Compilation) -> Vec<Definition> {
    let a = &c.analysis;
    let mut out = Vec::new();
    let decl = |kind: &'static str, name: &str| Target::Decl { kind, name: name.to_string() };
    for s in &a.sources {
        out.push(def(&s.site, decl("source", &s.name)));
        for col in &s.columns {
            out.push(def(&col.site, Target::Column { table: s.name.clone(), column: col.name.clone() }));
        }
    }
    for v in &a.views {
        out.push(def(&v.site, decl("features", &v.name)));
        for f in &v.features {
            out.push(def(&f.site, Target::Feature { view: v.name.clone(), name: f.name.clone() }));
        }
    }
    for d in &a.datasets {
        out.push(def(&d.site, decl("dataset", &d.name)));
    }
    for m in &a.models {
        out.push(def(&m.site, decl("model", &m.name)));
    }
    for m in &a.monitors {
        out.push(def(&m.site, decl("monitor", &m.name)));
    }
    for s in &a.scores {
        out.push(def(&s.site, decl("score", &s.name)));
    }
    for r in &a.registrations {
        out.push(def(&r.site, Target::Registered { name: r.registered.clone() }));
    }
    out
}

/// Where a target is declared, when it is declared in the program (not the stdlib).
pub fn definition_of(c: &Compilation, target: &Target) -> Option<Definition> {
    definitions(c).into_iter().find(|d| &d.target == target)
}

/// The name under the cursor, as a use or as a declaration.
pub fn symbol_at(c: &Compilation, file: FileId, offset: usize) -> Option<(Span, Target)> {
    let hit = |s: &Span| s.start <= offset && offset <= s.end;
    c.analysis
        .references
        .iter()
        .filter(|r| r.file == file && hit(&r.span))
        .min_by_key(|r| r.span.len())
        .map(|r| (r.span, r.target.clone()))
        .or_else(|| definitions(c).into_iter().find(|d| d.file == file && hit(&d.span)).map(|d| (d.span, d.target)))
}

/// Every place a target is written: its declaration first, then its uses.
pub fn occurrences(c: &Compilation, target: &Target) -> Vec<(FileId, Span)> {
    let mut out: Vec<(FileId, Span)> = definition_of(c, target).map(|d| (d.file, d.span)).into_iter().collect();
    for r in &c.analysis.references {
        if &r.target == target && !out.contains(&(r.file, r.span)) {
            out.push((r.file, r.span));
        }
    }
    out
}
