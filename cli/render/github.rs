//! `--format github`: workflow commands that GitHub Actions turns into annotations.

use super::repository::Repository;
use super::Located;

/// Escapes a message as the workflow-command syntax requires.
fn data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a property value (also `,` and `:`).
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn render(diags: &[Located]) -> String {
    let repo = Repository::here();
    let mut out = String::new();
    for l in diags {
        let d = l.diag;
        let (s, e) = l.range();
        let kind = if d.is_error() { "error" } else { "warning" };
        let mut message = d.message.clone();
        if let Some(h) = &d.help {
            message.push_str(&format!("\nhelp: {h}"));
        }
        out.push_str(&format!(
            "::{kind} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
            property(&repo.annotated(l.path())),
            s.line,
            s.column,
            e.line,
            e.column,
            property(&format!("{} {}", d.code.as_str(), d.code.name())),
            data(&message)
        ));
    }
    out
}
