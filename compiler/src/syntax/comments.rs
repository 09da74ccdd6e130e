//! Comments are invisible to the grammar; this scanner finds them for the formatter and
//! for doc-comment lookup.

use super::ast::Comment;
use crate::source::Span;

/// Every `//` comment outside string literals, in order.
pub fn scan(text: &str) -> Vec<Comment> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
                let raw = text[i..end].trim_end();
                let doc = raw.starts_with("///") && !raw.starts_with("////");
                out.push(Comment { text: raw.to_string(), span: Span::new(i, i + raw.len()), doc });
                i = end;
            }
            _ => i += 1,
        }
    }
    out
}

/// The `///` block that sits on the lines directly above `offset`, without the slashes.
pub fn doc_above(text: &str, comments: &[Comment], offset: usize) -> Option<String> {
    let mut idx = comments.partition_point(|c| c.span.end <= offset);
    let mut lines = Vec::new();
    let mut next_start = offset;
    while idx > 0 {
        let c = &comments[idx - 1];
        let gap = &text[c.span.end..next_start];
        if !c.doc || !gap.chars().all(char::is_whitespace) || gap.matches('\n').count() != 1 {
            break;
        }
        let line_start = text[..c.span.start].rfind('\n').map_or(0, |n| n + 1);
        if !text[line_start..c.span.start].trim().is_empty() {
            break;
        }
        let body = &c.text[3..];
        lines.push(body.strip_prefix(' ').unwrap_or(body).to_string());
        next_start = c.span.start;
        idx -= 1;
    }
    if lines.is_empty() {
        return None;
    }
    lines.reverse();
    Some(lines.join("\n"))
}

/// The bytes of `text` that are code, with their offsets: string literals and comments
/// are stepped over (newlines that end a comment are kept).
fn code(text: &str) -> impl Iterator<Item = (usize, u8)> + '_ {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || loop {
        let b = *bytes.get(i)?;
        match b {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = text[i..].find('\n').map_or(text.len(), |n| i + n),
            _ => {
                i += 1;
                return Some((i - 1, b));
            }
        }
    })
}

/// Where the first `(`, `[` or `{` past `limit` levels of nesting opens, outside
/// strings and comments.
pub fn first_too_deep(text: &str, limit: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, b) in code(text) {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Some(i);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Up to `n` offsets (the first is 0) that split `text` into slices of about equal
/// size, each cut at the start of a top-level declaration: after a blank line, at a line
/// that starts with a declaration keyword or at the comment block right above one,
/// outside any brackets, string or comment.
pub fn cut_points(text: &str, n: usize) -> Vec<usize> {
    let mut cuts = vec![0];
    if n < 2 {
        return cuts;
    }
    let target = text.len() / n;
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    for (i, b) in code(text) {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'\n' if depth == 0 && i + 1 >= cuts.len() * target && i >= 1 && bytes[i - 1] == b'\n' => {
                // Comment lines (a doc block) may stand between the blank line and the keyword.
                let mut line = &text[i + 1..];
                while line.starts_with("//") {
                    line = line.find('\n').map_or("", |k| &line[k + 1..]);
                }
                let starts_declaration = super::DECLARATION_KEYWORDS
                    .iter()
                    .any(|k| line.strip_prefix(k).is_some_and(|rest| rest.starts_with([' ', '"'])));
                if starts_declaration {
                    cuts.push(i + 1);
                    if cuts.len() == n {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_slashes_in_strings_and_finds_docs() {
        let text = "x = \"a//b\" // trailing\n/// one\n/// two\nsource s";
        let comments = scan(text);
        assert_eq!(comments.len(), 3);
        assert_eq!(comments[0].text, "// trailing");
        assert!(!comments[0].doc && comments[1].doc);
        let at = text.find("source").unwrap();
        assert_eq!(doc_above(text, &comments, at).as_deref(), Some("one\ntwo"));
    }

    #[test]
    fn a_blank_line_detaches_the_doc() {
        let text = "/// lost\n\nsource s";
        let comments = scan(text);
        assert_eq!(doc_above(text, &comments, text.find("source").unwrap()), None);
    }

    #[test]
    fn cuts_only_between_declarations() {
        let text = "source a = csv(\"x\") {\n  id: int key\n}\n\nsource b = csv(\"{\") {\n  id: int key\n}\n\n/// doc\nsource c = csv(\"y\") {\n  id: int key\n}\n";
        let cuts = cut_points(text, 3);
        assert_eq!(cuts[0], 0);
        for c in &cuts[1..] {
            assert!(text[*c..].starts_with("source b") || text[*c..].starts_with("/// doc"), "cut at {c}");
        }
        assert_eq!(cut_points(text, 8).len(), 3);
        assert_eq!(cut_points(text, 1), vec![0]);
    }

    #[test]
    fn finds_deep_nesting() {
        assert_eq!(first_too_deep("((()))", 3), None);
        assert_eq!(first_too_deep("(((())))", 3), Some(3));
        assert_eq!(first_too_deep("\"((((\" // ((((", 1), None);
    }
}
