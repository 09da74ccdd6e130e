//! The canonical layout of a `.mlp` file: one declaration per paragraph, two-space
//! indents, aligned runs of columns and keys, comments kept where they were.

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::source::FileId;
use crate::syntax;

/// Formats `text`; a file with syntax errors is refused with its diagnostics.
pub fn format(text: &str) -> Result<String, Vec<Diagnostic>> {
    let (file, diags) = syntax::parse(text, FileId(0));
    if !diags.is_empty() {
        return Err(diags);
    }
    let mut f = Formatter { text, comments: &file.comments, next_comment: 0, out: String::new(), last_end: 0 };
    for (i, item) in file.items.iter().enumerate() {
        let both_imports = i > 0
            && matches!(item.kind, ItemKind::Import { .. })
            && matches!(file.items[i - 1].kind, ItemKind::Import { .. });
        let blank = i > 0 && (!both_imports || f.blank_before(item.span.start));
        f.leading_comments(item.span.start, 0, blank);
        f.item(item);
        f.trailing_comments(item.span.end);
    }
    if f.next_comment < file.comments.len() {
        let first = file.comments[f.next_comment].span.start;
        f.leading_comments(first, 0, !file.items.is_empty());
        f.leading_comments(text.len(), 0, false);
        while f.out.ends_with("\n\n") {
            f.out.pop();
        }
    }
    Ok(f.out)
}

/// An expression in canonical form.
pub fn expr_to_string(e: &Expr) -> String {
    let mut s = String::new();
    write_expr(&mut s, e, 0);
    s
}

struct Formatter<'a> {
    text: &'a str,
    comments: &'a [Comment],
    next_comment: usize,
    out: String,
    /// Source offset of the last thing written.
    last_end: usize,
}

const INDENT: &str = "  ";

impl Formatter<'_> {
    fn blank_before(&self, offset: usize) -> bool {
        let gap = self.text.get(self.last_end..offset).unwrap_or("");
        gap.matches('\n').count() >= 2
    }

    /// Writes the comments that end before `offset`, each on its own line. `blank` asks
    /// for a blank line before what comes first.
    fn leading_comments(&mut self, offset: usize, depth: usize, mut blank: bool) {
        while let Some(c) = self.comments.get(self.next_comment) {
            if c.span.end > offset {
                break;
            }
            if blank || (!self.out.is_empty() && self.blank_before(c.span.start) && !self.out.ends_with("{\n")) {
                self.blank_line();
            }
            blank = false;
            self.line(depth, &c.text);
            self.last_end = c.span.end;
            self.next_comment += 1;
        }
        if blank || (!self.out.is_empty() && self.blank_before(offset) && !self.out.ends_with("{\n")) {
            self.blank_line();
        }
    }

    /// Comments inside `span` that were not written yet, plus one that follows on the
    /// same line, appended after what was just written.
    fn trailing_comments(&mut self, end: usize) {
        while let Some(c) = self.comments.get(self.next_comment) {
            let same_line = c.span.start >= end && !self.text[end..c.span.start].contains('\n');
            if c.span.end > end && !same_line {
                break;
            }
            if self.out.ends_with('\n') {
                self.out.pop();
            }
            self.out.push_str("  ");
            self.out.push_str(&c.text);
            self.out.push('\n');
            self.last_end = c.span.end;
            self.next_comment += 1;
        }
        self.last_end = self.last_end.max(end);
    }

    fn blank_line(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    fn line(&mut self, depth: usize, text: &str) {
        for _ in 0..depth {
            self.out.push_str(INDENT);
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn item(&mut self, item: &Item) {
        let head = match &item.kind {
            ItemKind::Pipeline { name, .. } => format!("pipeline {}", name.name),
            ItemKind::Import { path } => format!("import {}", quote(&path.value)),
            ItemKind::Source { name, reader, .. } => format!("source {} = {}", name.name, call(reader)),
            ItemKind::Check { target, .. } => format!("check {}", target.name),
            ItemKind::Features { name, entity, .. } => format!("features {} on {}", name.name, entity.name),
            ItemKind::Dataset { name, base, views, .. } => {
                let mut h = format!("dataset {} = {}", name.name, base.name);
                if !views.is_empty() {
                    let names: Vec<&str> = views.iter().map(|v| v.name.as_str()).collect();
                    h.push_str(&format!(" with {}", names.join(", ")));
                }
                h
            }
            ItemKind::Model { name, algorithm, .. } => format!("model {} = {}", name.name, call(algorithm)),
            ItemKind::Evaluate { model, data, .. } => format!("evaluate {} on {}", model.name, data.text()),
            ItemKind::Register { model, registered, .. } => {
                format!("register {} as {}", model.name, quote(&registered.value))
            }
            ItemKind::Serve { registered, .. } => format!("serve {}", quote(&registered.value)),
            ItemKind::Monitor { name, registered, .. } => {
                format!("monitor {} on {}", name.name, quote(&registered.value))
            }
            ItemKind::Score { name, registered, .. } => format!("score {} on {}", name.name, quote(&registered.value)),
            ItemKind::Stdlib { std, name, .. } => format!("{} {}", std.keyword(), name.name),
            ItemKind::Error { text } => text.trim_end().to_string(),
        };
        match item.kind.body() {
            Some(body) => self.body(&head, body, 0),
            None => {
                self.line(0, &head);
                self.last_end = item.span.end;
            }
        }
    }

    fn body(&mut self, head: &str, body: &Body, depth: usize) {
        if body.stmts.is_empty() && !self.has_comment_before(body.span.end) {
            self.line(depth, &format!("{head} {{}}"));
            self.last_end = body.span.end;
            return;
        }
        self.line(depth, &format!("{head} {{"));
        self.last_end = body.span.start + 1;
        let widths = run_widths(&body.stmts, self.text);
        for (stmt, w) in body.stmts.iter().zip(widths) {
            self.leading_comments(stmt.span.start, depth + 1, false);
            self.stmt(stmt, depth + 1, w);
            self.trailing_comments(stmt.span.end);
        }
        self.leading_comments(body.span.end - 1, depth + 1, false);
        self.line(depth, "}");
        self.last_end = body.span.end;
    }

    fn has_comment_before(&self, offset: usize) -> bool {
        self.comments.get(self.next_comment).is_some_and(|c| c.span.end <= offset)
    }

    fn stmt(&mut self, stmt: &Stmt, depth: usize, w: Widths) {
        let text = match &stmt.kind {
            StmtKind::Typed { name, ty, markers, value } => {
                let mut rest = String::new();
                for m in markers {
                    rest.push(' ');
                    rest.push_str(&match m {
                        Marker::Key { .. } => "key".to_string(),
                        Marker::Time { .. } => "time".to_string(),
                        Marker::References { target } => format!("references {}", target.text()),
                    });
                }
                if let Some(v) = value {
                    rest.push_str(" = ");
                    rest.push_str(&expr_to_string(v));
                }
                let head = format!("{:<width$}", format!("{}:", name.name), width = w.key);
                if rest.is_empty() {
                    format!("{head} {}", ty.name)
                } else {
                    format!("{head} {:<width$}{rest}", ty.name, width = w.ty)
                }
            }
            StmtKind::Assign { name, value } => {
                format!("{:<width$} = {}", name.name, expr_to_string(value), width = w.key)
            }
            StmtKind::Expect { expr } => format!("expect {}", expr_to_string(expr)),
            StmtKind::Slice { columns } => {
                let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
                format!("slice by {}", names.join(", "))
            }
            StmtKind::Promote { stage: Some(stage), cond } => {
                format!("promote to {:<width$} when {}", stage.name, expr_to_string(cond), width = w.key)
            }
            StmtKind::Promote { stage: None, cond } => {
                format!("{:<width$} when {}", "promote", expr_to_string(cond), width = w.key)
            }
            StmtKind::Rollback { cond } => {
                format!("{:<width$} when {}", "rollback", expr_to_string(cond), width = w.key)
            }
            StmtKind::Alert { cond, action } => {
                let mut s = format!("alert when {}", expr_to_string(cond));
                match action {
                    Some(Action::Retrain { model }) => s.push_str(&format!(" then retrain {}", model.name)),
                    Some(Action::Rollback { .. }) => s.push_str(" then rollback"),
                    None => {}
                }
                s
            }
            StmtKind::Block { name, body } => {
                self.body(&name.name, body, depth);
                return;
            }
            StmtKind::Error { text } => text.trim_end().to_string(),
        };
        self.line(depth, &text);
        self.last_end = stmt.span.end;
    }
}

/// Column widths shared by a run of like statements.
#[derive(Clone, Copy, Default)]
struct Widths {
    key: usize,
    ty: usize,
}

/// What aligns with what: statements of one shape, not parted by a blank line.
#[derive(PartialEq, Clone, Copy)]
enum Shape {
    Typed,
    Assign,
    StagePromote,
    Gate,
    Other,
}

fn shape(s: &StmtKind) -> Shape {
    match s {
        StmtKind::Typed { .. } => Shape::Typed,
        StmtKind::Assign { .. } => Shape::Assign,
        StmtKind::Promote { stage: Some(_), .. } => Shape::StagePromote,
        StmtKind::Promote { stage: None, .. } | StmtKind::Rollback { .. } => Shape::Gate,
        _ => Shape::Other,
    }
}

fn run_widths(stmts: &[Stmt], text: &str) -> Vec<Widths> {
    let mut out = vec![Widths::default(); stmts.len()];
    let mut start = 0;
    while start < stmts.len() {
        let sh = shape(&stmts[start].kind);
        let mut end = start + 1;
        while end < stmts.len()
            && shape(&stmts[end].kind) == sh
            && text[stmts[end - 1].span.end..stmts[end].span.start].matches('\n').count() < 2
        {
            end += 1;
        }
        let mut w = Widths::default();
        for s in &stmts[start..end] {
            match &s.kind {
                StmtKind::Typed { name, ty, .. } => {
                    w.key = w.key.max(name.name.len() + 1);
                    w.ty = w.ty.max(ty.name.len());
                }
                StmtKind::Assign { name, .. } => w.key = w.key.max(name.name.len()),
                StmtKind::Promote { stage: Some(st), .. } => w.key = w.key.max(st.name.len()),
                StmtKind::Promote { stage: None, .. } => w.key = w.key.max("promote".len()),
                StmtKind::Rollback { .. } => w.key = w.key.max("rollback".len()),
                _ => {}
            }
        }
        out[start..end].fill(w);
        start = end;
    }
    out
}

fn call(c: &Call) -> String {
    let mut s = String::new();
    write_call(&mut s, c);
    s
}

fn write_call(s: &mut String, c: &Call) {
    s.push_str(&c.func.name);
    s.push('(');
    for (i, a) in c.args.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        if let Some(n) = &a.name {
            s.push_str(&n.name);
            s.push_str(" = ");
        }
        write_expr(s, &a.value, 0);
    }
    s.push(')');
}

/// The binding strength of an expression's outermost operator.
fn precedence(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Binary { op, .. } => op.precedence(),
        ExprKind::Between { .. } => 4,
        ExprKind::Unary { op: UnaryOp::Not, .. } => 3,
        ExprKind::Unary { op: UnaryOp::Neg, .. } => 7,
        _ => 9,
    }
}

/// Writes `e`, in parentheses when it binds looser than `min`.
fn write_expr(s: &mut String, e: &Expr, min: u8) {
    let parens = precedence(e) < min;
    if parens {
        s.push('(');
    }
    match &e.kind {
        ExprKind::Number { text, .. } | ExprKind::Percent { text, .. } => s.push_str(text),
        ExprKind::Duration(d) => s.push_str(&format!("{}{}", d.value, d.unit.suffix())),
        ExprKind::Str { value } => s.push_str(&quote(value)),
        ExprKind::Bool { value } => s.push_str(if *value { "true" } else { "false" }),
        ExprKind::List { items } => {
            s.push('[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_expr(s, it, 0);
            }
            s.push(']');
        }
        ExprKind::Call(c) => write_call(s, c),
        ExprKind::Path(p) => s.push_str(&p.text()),
        ExprKind::Unary { op: UnaryOp::Not, expr } => {
            s.push_str("not ");
            write_expr(s, expr, 3);
        }
        ExprKind::Unary { op: UnaryOp::Neg, expr } => {
            s.push('-');
            write_expr(s, expr, 8);
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let p = op.precedence();
            let (lmin, rmin) = if op.is_comparison() { (p + 1, p + 1) } else { (p, p + 1) };
            write_expr(s, lhs, lmin);
            s.push(' ');
            s.push_str(op.symbol());
            s.push(' ');
            write_expr(s, rhs, rmin);
        }
        ExprKind::Between { expr, low, high } => {
            write_expr(s, expr, 5);
            s.push_str(" between ");
            write_expr(s, low, 5);
            s.push_str(" and ");
            write_expr(s, high, 5);
        }
        ExprKind::Over { expr, window } => {
            write_expr(s, expr, 9);
            s.push_str(&format!(" over {}{}", window.value, window.unit.suffix()));
        }
    }
    if parens {
        s.push(')');
    }
}

fn quote(value: &str) -> String {
    let mut s = String::with_capacity(value.len() + 2);
    s.push('"');
    for c in value.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_comments_and_is_idempotent() {
        let src = "// head\n\n/// doc\npipeline p {   owner = \"x\" // who\n  // inner\n schedule = \"0 2 * * *\"\n}\n\n\n\nsource s = csv(\"a\") { a: int key\n bb: timestamp time // t\n}\n// tail\n";
        let once = format(src).unwrap();
        assert_eq!(format(&once).unwrap(), once);
        for c in ["// head", "/// doc", "// who", "// inner", "// t", "// tail"] {
            assert!(once.contains(c), "{c} lost:\n{once}");
        }
        assert!(once.contains("  a:  int       key\n"), "{once}");
    }

    #[test]
    fn parenthesizes_only_where_needed() {
        let src = "features f on c { x: float = (a + b) * c - (d - e) over 1d\n y: bool = not (a < b) and (c or d) }";
        let out = format(src).unwrap();
        assert!(out.contains("x: float = (a + b) * c - (d - e over 1d)") || out.contains("(a + b) * c - ("), "{out}");
        assert!(out.contains("y: bool  = not a < b and (c or d)"), "{out}");
    }
}
