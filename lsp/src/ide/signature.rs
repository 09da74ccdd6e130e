//! Signature help inside a call to a stdlib item: `sum(|` shows `sum(values: numeric)`.

use mlpc_compiler::ast::StdKind;
use mlpc_compiler::stdlib::{Entry, Stdlib};

pub struct Help {
    pub label: String,
    pub doc: Option<String>,
    /// (start, end) of each parameter within `label`, in bytes.
    pub params: Vec<(usize, usize, Option<String>)>,
    pub active: usize,
}

const KINDS: &[StdKind] = &[
    StdKind::Aggregation,
    StdKind::Function,
    StdKind::Expectation,
    StdKind::Algorithm,
    StdKind::Reader,
    StdKind::Splitter,
];

/// The innermost open call before `offset` in `text`, and the argument the cursor is in.
pub fn signature_help(text: &str, offset: usize) -> Option<Help> {
    let before = text.get(..offset)?;
    let (mut depth, mut commas) = (0i32, 0usize);
    for (i, ch) in before.char_indices().rev() {
        match ch {
            ')' | ']' => depth += 1,
            '[' => depth -= 1,
            '(' if depth > 0 => depth -= 1,
            '(' => {
                let name_start = before[..i].trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_').len();
                let name = &before[name_start..i];
                let entry = KINDS.iter().find_map(|k| Stdlib::get().lookup(*k, name))?;
                return Some(help(entry, commas));
            }
            ',' if depth == 0 => commas += 1,
            '\n' if before[..i].trim_end().ends_with('{') => return None,
            _ => {}
        }
    }
    None
}

fn help(e: &Entry, active: usize) -> Help {
    let mut label = format!("{}(", e.name);
    let mut params = Vec::new();
    for (i, p) in e.params.iter().enumerate() {
        if i > 0 {
            label.push_str(", ");
        }
        let start = label.len();
        label.push_str(&format!("{}: {}", p.name, p.ty.name()));
        if let Some(d) = &p.default {
            label.push_str(&format!(" = {d}"));
        }
        params.push((start, label.len(), p.doc.clone()));
    }
    label.push(')');
    if let Some(t) = e.returns {
        label.push_str(&format!(" -> {t}"));
    }
    let last = params.len().saturating_sub(1);
    Help { label, doc: e.doc.clone(), params, active: if e.variadic { active.min(last) } else { active } }
}
