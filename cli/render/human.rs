//! Source snippets with labels, drawn by miette.

use super::{summary, Located};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use mlpc_compiler::{FileId, Severity};
use std::fmt;

/// One file's part of a diagnostic, in the shape miette draws.
#[derive(Debug)]
struct Report {
    message: String,
    code: Option<String>,
    severity: miette::Severity,
    source: NamedSource<String>,
    labels: Vec<LabeledSpan>,
    help: Option<String>,
    related: Vec<Report>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code.as_ref().map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|r| r as &dyn miette::Diagnostic)))
    }
}

fn span(s: mlpc_compiler::Span) -> SourceSpan {
    SourceSpan::new(s.start.into(), s.len())
}

fn label(text: &str, s: mlpc_compiler::Span, primary: bool) -> LabeledSpan {
    let text = (!text.is_empty()).then(|| text.to_string());
    if primary {
        LabeledSpan::new_primary_with_span(text, span(s))
    } else {
        LabeledSpan::new_with_span(text, span(s))
    }
}

fn report(l: &Located) -> Report {
    let d = l.diag;
    let file = d.primary.file;
    let src = l.sources.get(file);
    let mut labels = vec![label(&d.primary.message, d.primary.span, true)];
    let mut others: Vec<(FileId, Vec<LabeledSpan>)> = Vec::new();
    for s in &d.secondary {
        if s.file == file {
            labels.push(label(&s.message, s.span, false));
        } else {
            match others.iter_mut().find(|(f, _)| *f == s.file) {
                Some((_, v)) => v.push(label(&s.message, s.span, false)),
                None => others.push((s.file, vec![label(&s.message, s.span, false)])),
            }
        }
    }
    let related = others
        .into_iter()
        .map(|(f, labels)| {
            let other = l.sources.get(f);
            Report {
                message: format!("see {}", other.path),
                code: None,
                severity: miette::Severity::Advice,
                source: NamedSource::new(other.path.clone(), other.text.clone()),
                labels,
                help: None,
                related: Vec::new(),
            }
        })
        .collect();
    Report {
        message: d.message.clone(),
        code: Some(d.code.as_str().to_string()),
        severity: match d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        },
        source: NamedSource::new(src.path.clone(), src.text.clone()),
        labels,
        help: d.help.clone(),
        related,
    }
}

pub fn render(diags: &[Located], files: usize, color: bool) -> String {
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100).with_links(false);
    let mut out = String::new();
    for l in diags {
        let mut one = String::new();
        if handler.render_report(&mut one, &report(l)).is_err() {
            one = format!("{}: {}\n", l.diag.code.as_str(), l.diag.message);
        }
        out.push_str(&one);
        out.push('\n');
    }
    out.push_str(&summary(diags, files));
    out
}
