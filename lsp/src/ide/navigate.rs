//! Go to definition, find references, rename.

use super::{definition_of, occurrences, symbol_at};
use mlpc_compiler::check::Target;
use mlpc_compiler::{Compilation, FileId, Span};

pub fn definition(c: &Compilation, file: FileId, offset: usize) -> Option<(FileId, Span)> {
    let (_, target) = symbol_at(c, file, offset)?;
    definition_of(c, &target).map(|d| (d.file, d.span))
}

pub fn references(c: &Compilation, file: FileId, offset: usize, include_declaration: bool) -> Vec<(FileId, Span)> {
    let Some((_, target)) = symbol_at(c, file, offset) else { return Vec::new() };
    let mut all = occurrences(c, &target);
    if !include_declaration {
        if let Some(d) = definition_of(c, &target) {
            all.retain(|o| *o != (d.file, d.span));
        }
    }
    all
}

/// The span that a rename at the cursor would change, or why it cannot.
pub fn prepare_rename(c: &Compilation, file: FileId, offset: usize) -> Result<(Span, String), String> {
    let (span, target) = symbol_at(c, file, offset).ok_or("no renamable name here")?;
    match target {
        Target::Std { .. } => Err("built-in names cannot be renamed".into()),
        Target::Registered { .. } => Err("registered names are strings: edit them where they are written".into()),
        _ if definition_of(c, &target).is_none() => Err("this name is not declared in the program".into()),
        _ => Ok((span, c.sources.get(file).text[span.start..span.end].to_string())),
    }
}

/// The edits that rename the name at the cursor to `new_name`.
pub fn rename(c: &Compilation, file: FileId, offset: usize, new_name: &str) -> Result<Vec<(FileId, Span)>, String> {
    prepare_rename(c, file, offset)?;
    let (_, target) = symbol_at(c, file, offset).ok_or("no renamable name here")?;
    let valid = new_name.chars().next().is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_')
        && new_name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
    if !valid {
        return Err(format!("`{new_name}` is not a name: use letters, digits and `_`, not starting with a digit"));
    }
    if mlpc_compiler::syntax::KEYWORDS.contains(&new_name) {
        return Err(format!("`{new_name}` is a keyword"));
    }
    if let Some(clash) = collision(c, &target, new_name) {
        return Err(clash);
    }
    Ok(occurrences(c, &target))
}

/// A name already taken where `target` lives.
fn collision(c: &Compilation, target: &Target, new_name: &str) -> Option<String> {
    let a = &c.analysis;
    let taken = match target {
        Target::Decl { .. } => {
            a.sources.iter().any(|s| s.name == new_name)
                || a.views.iter().any(|v| v.name == new_name)
                || a.datasets.iter().any(|d| d.name == new_name)
                || a.models.iter().any(|m| m.name == new_name)
                || a.monitors.iter().any(|m| m.name == new_name)
        }
        Target::Column { table, .. } => {
            a.sources.iter().find(|s| &s.name == table).is_some_and(|s| s.column(new_name).is_some())
                || a.views.iter().filter(|v| &v.entity == table).any(|v| v.feature(new_name).is_some())
        }
        Target::Feature { view, .. } => {
            let v = a.views.iter().find(|v| &v.name == view);
            v.is_some_and(|v| v.feature(new_name).is_some())
                || v.and_then(|v| a.sources.iter().find(|s| s.name == v.entity))
                    .is_some_and(|s| s.column(new_name).is_some())
        }
        _ => false,
    };
    taken.then(|| format!("`{new_name}` is already declared here"))
}
