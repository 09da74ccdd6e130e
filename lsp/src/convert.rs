//! Between the compiler's byte offsets, paths and diagnostics and LSP's UTF-16
//! positions, URIs and diagnostics. The one place a `Diagnostic` becomes an LSP one.

use lsp_types as lsp;
use mlpc_compiler::source::SourceFile;
use mlpc_compiler::{Compilation, Diagnostic, FileId, Severity, Span};
use std::str::FromStr;

/// The LSP position (0-based line, UTF-16 column) of a byte offset.
pub fn position(file: &SourceFile, offset: usize) -> lsp::Position {
    let len = prefix_len(file, offset);
    let mut end = offset.min(file.text.len());
    while !file.text.is_char_boundary(end) {
        end -= 1;
    }
    let prefix = &file.text[end - len..end];
    lsp::Position::new((file.line_col(end).line - 1) as u32, prefix.encode_utf16().count() as u32)
}

/// Bytes between the start of the offset's line and the offset.
fn prefix_len(file: &SourceFile, offset: usize) -> usize {
    let mut offset = offset.min(file.text.len());
    while !file.text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset - file.text[..offset].rfind('\n').map_or(0, |n| n + 1)
}

pub fn range(file: &SourceFile, span: Span) -> lsp::Range {
    lsp::Range::new(position(file, span.start), position(file, span.end))
}

pub fn offset(file: &SourceFile, pos: lsp::Position) -> usize {
    file.offset_utf16(pos.line as usize, pos.character as usize)
}

pub fn uri_of_path(path: &str) -> Option<lsp::Uri> {
    let abs = std::path::Path::new(path);
    let url = url::Url::from_file_path(abs).ok()?;
    lsp::Uri::from_str(url.as_str()).ok()
}

pub fn path_of_uri(uri: &lsp::Uri) -> Option<String> {
    let url = url::Url::parse(uri.as_str()).ok()?;
    url.to_file_path().ok().map(|p| p.to_string_lossy().into_owned())
}

/// A link to a code's page (see [`crate::pages`]).
fn code_page(code: mlpc_compiler::Code) -> Option<lsp::CodeDescription> {
    let url = url::Url::from_file_path(crate::pages::page(code)?).ok()?;
    Some(lsp::CodeDescription { href: lsp::Uri::from_str(url.as_str()).ok()? })
}

/// A compiler diagnostic as LSP shows it: code, page link, secondary labels and help as
/// related information.
pub fn diagnostic(c: &Compilation, d: &Diagnostic) -> lsp::Diagnostic {
    let file = c.sources.get(d.primary.file);
    let mut related = Vec::new();
    for label in &d.secondary {
        let other = c.sources.get(label.file);
        if let Some(uri) = uri_of_path(&other.path) {
            related.push(lsp::DiagnosticRelatedInformation {
                location: lsp::Location { uri, range: range(other, label.span) },
                message: label.message.clone(),
            });
        }
    }
    if let (Some(help), Some(uri)) = (&d.help, uri_of_path(&file.path)) {
        related.push(lsp::DiagnosticRelatedInformation {
            location: lsp::Location { uri, range: range(file, d.primary.span) },
            message: format!("help: {help}"),
        });
    }
    let message =
        if d.primary.message.is_empty() { d.message.clone() } else { format!("{}\n{}", d.message, d.primary.message) };
    lsp::Diagnostic {
        range: range(file, d.primary.span),
        severity: Some(match d.severity {
            Severity::Error => lsp::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp::DiagnosticSeverity::WARNING,
        }),
        code: Some(lsp::NumberOrString::String(d.code.as_str().to_string())),
        code_description: code_page(d.code),
        source: Some("mlpc".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: (d.code == mlpc_compiler::Code::W0001).then(|| vec![lsp::DiagnosticTag::UNNECESSARY]),
        data: None,
    }
}

/// The file id of a path within a compilation.
pub fn file_id(c: &Compilation, path: &str) -> Option<FileId> {
    c.sources.find(path)
}
