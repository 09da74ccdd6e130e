//! Semantic tokens: keywords, names coloured by what they resolve to, literals, comments.

use mlpc_compiler::ast::StdKind;
use mlpc_compiler::check::Target;
use mlpc_compiler::syntax::comments;
use mlpc_compiler::{Compilation, FileId, Span};

/// The token types, in legend order.
pub const LEGEND: &[&str] = &[
    "keyword",
    "type",
    "class",
    "property",
    "function",
    "variable",
    "string",
    "number",
    "comment",
    "enumMember",
    "operator",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub span: Span,
    /// Index into [`LEGEND`].
    pub kind: u32,
}

fn kind_of(name: &str) -> u32 {
    LEGEND.iter().position(|l| *l == name).expect("legend entry") as u32
}

fn target_kind(t: &Target) -> u32 {
    kind_of(match t {
        Target::Decl { .. } | Target::Registered { .. } => "class",
        Target::Column { .. } | Target::Feature { .. } => "property",
        Target::Std { kind: StdKind::Metric | StdKind::ServingMetric | StdKind::DriftTest, .. } => "enumMember",
        Target::Std { .. } => "function",
    })
}

/// Tokens of a file in order, none overlapping.
pub fn tokens(c: &Compilation, file: FileId) -> Vec<Token> {
    let text = &c.sources.get(file).text;
    let mut named: std::collections::HashMap<usize, (usize, u32)> = std::collections::HashMap::new();
    for r in c.analysis.references.iter().filter(|r| r.file == file) {
        named.insert(r.span.start, (r.span.end, target_kind(&r.target)));
    }
    for d in super::definitions(c).into_iter().filter(|d| d.file == file) {
        named.insert(d.span.start, (d.span.end, target_kind(&d.target)));
    }
    let mut out = Vec::new();
    let comment_spans: Vec<Span> = comments::scan(text).into_iter().map(|c| c.span).collect();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if let Some(cs) = comment_spans.iter().find(|s| s.start == i) {
            out.push(Token { span: *cs, kind: kind_of("comment") });
            i = cs.end;
            continue;
        }
        let ch = bytes[i];
        if ch == b'"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' && bytes[j] != b'\n' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            let mut end = (j + 1).min(bytes.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            let kind = named.get(&i).map_or(kind_of("string"), |(_, k)| *k);
            out.push(Token { span: Span::new(i, end), kind });
            i = end;
        } else if ch.is_ascii_digit() {
            let mut j = i;
            while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'.' || bytes[j] == b'%') {
                j += 1;
            }
            out.push(Token { span: Span::new(i, j), kind: kind_of("number") });
            i = j;
        } else if ch.is_ascii_alphabetic() || ch == b'_' {
            let mut j = i;
            while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                j += 1;
            }
            let word = &text[i..j];
            let kind = match named.get(&i) {
                Some((_, k)) => Some(*k),
                None if mlpc_compiler::syntax::KEYWORDS.contains(&word) => Some(kind_of("keyword")),
                None if mlpc_compiler::types::Type::from_name(word).is_some() => Some(kind_of("type")),
                None => None,
            };
            if let Some(kind) = kind {
                out.push(Token { span: Span::new(i, j), kind });
            }
            i = j;
        } else {
            i += if ch.is_ascii() { 1 } else { text[i..].chars().next().map_or(1, char::len_utf8) };
        }
    }
    out
}
