//! pest pairs → syntax tree. The only module that knows pest; `parse` never fails.

use super::ast::*;
use super::comments;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};
use pest::iterators::Pair;
use pest::Parser;

#[derive(pest_derive::Parser)]
#[grammar = "syntax/mlp.pest"]
struct Grammar;

/// Deepest bracket nesting accepted; deeper input is refused before pest sees it.
const MAX_NESTING: usize = 64;
/// Deepest expression tree accepted (long operator chains nest too).
const MAX_EXPR_DEPTH: usize = 256;

/// Parses one file into a tree plus syntax diagnostics. Never fails, never panics.
pub fn parse(text: &str, file: FileId) -> (File, Vec<Diagnostic>) {
    let comments = comments::scan(text);
    if let Some(at) = comments::first_too_deep(text, MAX_NESTING) {
        let diag = Diagnostic::new(Code::E0001, file, Span::new(at, at + 1), "brackets nest too deeply")
            .label(format!("more than {MAX_NESTING} levels open here"))
            .help("split the expression or block into smaller named parts");
        return (File { items: Vec::new(), comments }, vec![diag]);
    }
    let mut b = Builder { t: Trim { text, comments: &comments }, text, file, comments: &comments, diags: Vec::new() };
    let items = match Grammar::parse(Rule::file, text) {
        Ok(mut pairs) => b.items(pairs.next().expect("file rule yields a pair")),
        Err(err) => {
            // Unreachable by construction (the catch-all rules accept anything), but a
            // grammar bug must still become a diagnostic, not a panic.
            b.diags.push(pest_error(&err, file, 0, text, "the file"));
            Vec::new()
        }
    };
    let diags = b.diags;
    (File { items, comments }, diags)
}

struct Builder<'a> {
    t: Trim<'a>,
    text: &'a str,
    file: FileId,
    comments: &'a [Comment],
    diags: Vec<Diagnostic>,
}

struct TooDeep(Span);

/// Spans without the whitespace and comments that pest's implicit skipping leaves at
/// the end of a rule.
#[derive(Clone, Copy)]
struct Trim<'a> {
    text: &'a str,
    comments: &'a [Comment],
}

impl Trim<'_> {
    fn span(&self, p: &Pair<Rule>) -> Span {
        let start = p.as_span().start();
        let mut end = p.as_span().end();
        loop {
            let trimmed = start + self.text[start..end].trim_end().len();
            let comment = self.comments.binary_search_by(|c| c.span.end.cmp(&trimmed));
            end = match comment {
                Ok(i) if self.comments[i].span.start >= start => self.comments[i].span.start,
                _ => return Span::new(start, trimmed),
            };
        }
    }
}

impl<'a> Builder<'a> {
    fn items(&mut self, file: Pair<'a, Rule>) -> Vec<Item> {
        let mut items = Vec::new();
        for p in file.into_inner() {
            if p.as_rule() == Rule::EOI {
                continue;
            }
            let mut sp = self.t.span(&p);
            let mut doc = comments::doc_above(self.text, self.comments, sp.start);
            let kind = if p.as_rule() == Rule::bad_item {
                // A declaration whose line goes on with what no rule matched is one
                // mistake: `dataset d = c with {` parses `dataset d = c`, then stops.
                let joins_previous =
                    items.last().is_some_and(|prev: &Item| !self.text[prev.span.end..sp.start].contains('\n'));
                if joins_previous {
                    let prev = items.pop().expect("checked above");
                    sp = prev.span.to(sp);
                    doc = prev.doc;
                }
                self.explain(Rule::strict_item, sp, "this declaration");
                self.misspelled_keyword(sp);
                ItemKind::Error { text: self.text[sp.start..sp.end].to_string() }
            } else {
                self.item(p)
            };
            items.push(Item { kind, doc, span: sp });
        }
        items
    }

    /// A declaration whose keyword is misspelled (`datset`) gets a "did you mean".
    fn misspelled_keyword(&mut self, sp: Span) {
        const KEYWORDS: &[&str] = &[
            "pipeline", "import", "source", "check", "features", "dataset", "model", "evaluate", "register", "serve",
            "monitor",
        ];
        let text = &self.text[sp.start..sp.end];
        let word: String = text.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if word.is_empty() || KEYWORDS.contains(&word.as_str()) {
            return;
        }
        if let (Some(best), Some(last)) =
            (crate::diagnostic::suggest(&word, KEYWORDS.iter().copied()), self.diags.last_mut())
        {
            let at = Span::new(sp.start, sp.start + word.len());
            let d = std::mem::replace(last, Diagnostic::new(Code::E0001, self.file, at, ""));
            *last = Diagnostic {
                primary: crate::diagnostic::Label {
                    file: self.file,
                    span: at,
                    message: "not a declaration keyword".into(),
                },
                message: format!("unknown declaration `{word}`"),
                ..d
            }
            .help(format!("did you mean `{best}`?"))
            .fix(format!("replace with `{best}`"), at, best);
        }
    }

    /// Reparses a recovered region with the strict rule to say what is wrong in it.
    fn explain(&mut self, rule: Rule, sp: Span, what: &str) {
        let region = &self.text[sp.start..sp.end];
        let diag = match Grammar::parse(rule, region) {
            Err(err) => pest_error(&err, self.file, sp.start, region, what),
            Ok(_) => Diagnostic::new(Code::E0001, self.file, sp, format!("{what} could not be read")),
        };
        self.diags.push(diag);
    }

    fn item(&mut self, p: Pair<'a, Rule>) -> ItemKind {
        let rule = p.as_rule();
        let mut it = p.into_inner().filter(|p| !is_keyword(p.as_rule()));
        let mut next = || it.next().expect("grammar guarantees this child");
        match rule {
            Rule::pipeline_decl => {
                let name = ident(self.t, next());
                ItemKind::Pipeline { name, body: it.next().map(|b| self.body(b)) }
            }
            Rule::import_decl => ItemKind::Import { path: string(self.t, next()) },
            Rule::source_decl => {
                let name = ident(self.t, next());
                let reader = self.call_or_poison(next());
                ItemKind::Source { name, reader, body: self.body(it.next().expect("source body")) }
            }
            Rule::check_decl => {
                let target = ident(self.t, next());
                ItemKind::Check { target, body: self.body(it.next().expect("check body")) }
            }
            Rule::features_decl => {
                let name = ident(self.t, next());
                let entity = ident(self.t, next());
                ItemKind::Features { name, entity, body: self.body(it.next().expect("features body")) }
            }
            Rule::dataset_decl => {
                let name = ident(self.t, next());
                let base = ident(self.t, next());
                let mut views = Vec::new();
                let mut body = None;
                for p in it {
                    match p.as_rule() {
                        Rule::ident => views.push(ident(self.t, p)),
                        _ => body = Some(self.body(p)),
                    }
                }
                ItemKind::Dataset { name, base, views, body }
            }
            Rule::model_decl => {
                let name = ident(self.t, next());
                let algorithm = self.call_or_poison(next());
                ItemKind::Model { name, algorithm, body: it.next().map(|b| self.body(b)) }
            }
            Rule::evaluate_decl => {
                let model = ident(self.t, next());
                let data = path(self.t, next());
                ItemKind::Evaluate { model, data, body: it.next().map(|b| self.body(b)) }
            }
            Rule::register_decl => {
                let model = ident(self.t, next());
                let registered = string(self.t, next());
                ItemKind::Register { model, registered, body: it.next().map(|b| self.body(b)) }
            }
            Rule::serve_decl => {
                let registered = string(self.t, next());
                ItemKind::Serve { registered, body: it.next().map(|b| self.body(b)) }
            }
            Rule::monitor_decl => {
                let name = ident(self.t, next());
                let registered = string(self.t, next());
                ItemKind::Monitor { name, registered, body: it.next().map(|b| self.body(b)) }
            }
            Rule::stdlib_decl => {
                let kind = next();
                let std = StdKind::from_keyword(kind.as_str()).expect("grammar lists the kinds");
                let name = ident(self.t, next());
                ItemKind::Stdlib { std, name, body: it.next().map(|b| self.body(b)) }
            }
            other => unreachable!("not a declaration rule: {other:?}"),
        }
    }

    /// A call in a header; an over-deep argument leaves the call without arguments.
    fn call_or_poison(&mut self, p: Pair<'a, Rule>) -> Call {
        let sp = self.t.span(&p);
        match self.call(p, 0) {
            Ok(c) => c,
            Err(TooDeep(at)) => {
                self.too_deep(at);
                Call { func: Ident { name: String::new(), span: sp }, args: Vec::new(), span: sp }
            }
        }
    }

    fn too_deep(&mut self, at: Span) {
        self.diags.push(
            Diagnostic::new(Code::E0001, self.file, at, "expression nests too deeply")
                .label(format!("more than {MAX_EXPR_DEPTH} levels"))
                .help("split the expression into named features"),
        );
    }

    fn body(&mut self, p: Pair<'a, Rule>) -> Body {
        let sp = self.t.span(&p);
        let mut stmts: Vec<Stmt> = Vec::new();
        for s in p.into_inner().filter(|s| !is_punct(s.as_rule())) {
            let ssp = self.t.span(&s);
            if s.as_rule() == Rule::bad_stmt {
                // Neighbouring bad lines are one mistake, and so is a statement whose
                // line goes on with what no rule matched: extend the previous statement.
                if let Some(last) = stmts.last_mut() {
                    let gap = &self.text[last.span.end..ssp.start];
                    let same_line = !gap.contains('\n') && !gap.contains(';');
                    if (matches!(last.kind, StmtKind::Error { .. }) || same_line) && gap.trim().is_empty() {
                        last.span = last.span.to(ssp);
                        last.kind = StmtKind::Error { text: self.text[last.span.start..last.span.end].to_string() };
                        continue;
                    }
                }
                stmts.push(Stmt { kind: StmtKind::Error { text: s.as_str().to_string() }, doc: None, span: ssp });
                continue;
            }
            let doc = comments::doc_above(self.text, self.comments, ssp.start);
            let kind = match self.stmt(s) {
                Ok(kind) => kind,
                Err(TooDeep(at)) => {
                    self.too_deep(at);
                    StmtKind::Error { text: self.text[ssp.start..ssp.end].to_string() }
                }
            };
            stmts.push(Stmt { kind, doc, span: ssp });
        }
        for s in &stmts {
            if matches!(s.kind, StmtKind::Error { .. }) {
                let sp = s.span;
                let first_line_end = self.text[sp.start..sp.end].find('\n').map_or(sp.end, |n| sp.start + n);
                self.explain(Rule::strict_stmt, Span::new(sp.start, first_line_end), "this statement");
            }
        }
        Body { stmts, span: sp }
    }

    fn stmt(&mut self, p: Pair<'a, Rule>) -> Result<StmtKind, TooDeep> {
        let rule = p.as_rule();
        let mut it = p.into_inner().filter(|p| !is_keyword(p.as_rule()) || p.as_rule() == Rule::kw_rollback);
        Ok(match rule {
            Rule::typed_stmt => {
                let name = ident(self.t, it.next().unwrap());
                let ty = ident(self.t, it.next().unwrap());
                let mut markers = Vec::new();
                let mut value = None;
                for p in it {
                    match p.as_rule() {
                        Rule::marker => markers.push(marker(self.t, p)),
                        _ => value = Some(self.expr(p, 0)?),
                    }
                }
                StmtKind::Typed { name, ty, markers, value }
            }
            Rule::assign_stmt => {
                let name = ident(self.t, it.next().unwrap());
                StmtKind::Assign { name, value: self.expr(it.next().unwrap(), 0)? }
            }
            Rule::expect_stmt => StmtKind::Expect { expr: self.expr(it.next().unwrap(), 0)? },
            Rule::slice_stmt => StmtKind::Slice { columns: it.map(|p| ident(self.t, p)).collect() },
            Rule::promote_stmt => {
                let first = it.next().unwrap();
                let (stage, cond) = if first.as_rule() == Rule::ident {
                    (Some(ident(self.t, first)), it.next().unwrap())
                } else {
                    (None, first)
                };
                StmtKind::Promote { stage, cond: self.expr(cond, 0)? }
            }
            Rule::rollback_stmt => {
                let cond = it.find(|p| p.as_rule() == Rule::expr).unwrap();
                StmtKind::Rollback { cond: self.expr(cond, 0)? }
            }
            Rule::alert_stmt => {
                let cond = self.expr(it.next().unwrap(), 0)?;
                let action = it.next().map(|a| {
                    let inner = a.into_inner().find(|p| p.as_rule() != Rule::kw_retrain).unwrap();
                    match inner.as_rule() {
                        Rule::kw_rollback => Action::Rollback { span: self.t.span(&inner) },
                        _ => Action::Retrain { model: ident(self.t, inner) },
                    }
                });
                StmtKind::Alert { cond, action }
            }
            Rule::block_stmt => {
                let name = ident(self.t, it.next().unwrap());
                StmtKind::Block { name, body: self.body(it.next().unwrap()) }
            }
            other => unreachable!("not a statement rule: {other:?}"),
        })
    }

    fn expr(&mut self, p: Pair<'a, Rule>, depth: usize) -> Result<Expr, TooDeep> {
        let sp = self.t.span(&p);
        if depth > MAX_EXPR_DEPTH {
            return Err(TooDeep(sp));
        }
        let rule = p.as_rule();
        match rule {
            Rule::expr => self.expr(p.into_inner().next().unwrap(), depth),
            Rule::or_expr | Rule::and_expr | Rule::add_expr | Rule::mul_expr => {
                let mut it = p.into_inner();
                let mut lhs = self.expr(it.next().unwrap(), depth + 1)?;
                let mut chain = depth;
                while let Some(op) = it.next() {
                    let op = match op.as_str() {
                        "+" => BinOp::Add,
                        "-" => BinOp::Sub,
                        "*" => BinOp::Mul,
                        "/" => BinOp::Div,
                        s if s.starts_with("or") => BinOp::Or,
                        _ => BinOp::And,
                    };
                    chain += 1;
                    if chain > MAX_EXPR_DEPTH {
                        return Err(TooDeep(sp));
                    }
                    let rhs = self.expr(it.next().unwrap(), depth + 1)?;
                    let s = lhs.span.to(rhs.span);
                    lhs = Expr { kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span: s };
                }
                Ok(lhs)
            }
            Rule::not_expr | Rule::unary_expr => {
                let inner: Vec<_> = p.into_inner().collect();
                let (ops, operand) = inner.split_at(inner.len() - 1);
                if depth + ops.len() > MAX_EXPR_DEPTH {
                    return Err(TooDeep(sp));
                }
                let mut e = self.expr(operand[0].clone(), depth + 1)?;
                let op = if rule == Rule::not_expr { UnaryOp::Not } else { UnaryOp::Neg };
                for _ in ops {
                    e = Expr { kind: ExprKind::Unary { op, expr: Box::new(e) }, span: sp };
                }
                Ok(e)
            }
            Rule::cmp_expr => {
                let mut it = p.into_inner();
                let lhs = self.expr(it.next().unwrap(), depth + 1)?;
                let Some(next) = it.next() else { return Ok(lhs) };
                if next.as_rule() == Rule::between {
                    let mut b = next.into_inner().filter(|p| !is_keyword(p.as_rule()));
                    let low = self.expr(b.next().unwrap(), depth + 1)?;
                    let high = self.expr(b.next().unwrap(), depth + 1)?;
                    return Ok(Expr {
                        kind: ExprKind::Between { expr: Box::new(lhs), low: Box::new(low), high: Box::new(high) },
                        span: sp,
                    });
                }
                let op = match next.as_str() {
                    "==" => BinOp::Eq,
                    "!=" => BinOp::Ne,
                    "<=" => BinOp::Le,
                    ">=" => BinOp::Ge,
                    "<" => BinOp::Lt,
                    _ => BinOp::Gt,
                };
                let rhs = self.expr(it.next().unwrap(), depth + 1)?;
                Ok(Expr { kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span: sp })
            }
            Rule::postfix => {
                let mut it = p.into_inner().filter(|p| !is_keyword(p.as_rule()) && !is_punct(p.as_rule()));
                let e = self.expr(it.next().unwrap(), depth + 1)?;
                match it.next() {
                    Some(w) => {
                        Ok(Expr { kind: ExprKind::Over { expr: Box::new(e), window: duration(self.t, w) }, span: sp })
                    }
                    // A parenthesized expression keeps its parentheses in its span.
                    None => Ok(Expr { span: sp, ..e }),
                }
            }
            Rule::list => {
                let items = p
                    .into_inner()
                    .filter(|e| !is_punct(e.as_rule()))
                    .map(|e| self.expr(e, depth + 1))
                    .collect::<Result<_, _>>()?;
                Ok(Expr { kind: ExprKind::List { items }, span: sp })
            }
            Rule::call => Ok(Expr { kind: ExprKind::Call(self.call(p, depth + 1)?), span: sp }),
            Rule::path => Ok(Expr { kind: ExprKind::Path(path(self.t, p)), span: sp }),
            Rule::number => {
                let text = p.as_str().to_string();
                let integer = !text.contains(['.', 'e', 'E']);
                let value = text.parse::<f64>().unwrap_or(f64::INFINITY);
                Ok(Expr { kind: ExprKind::Number { text, value, integer }, span: sp })
            }
            Rule::percent => {
                let text = p.as_str().to_string();
                let value = text.trim_end_matches('%').parse::<f64>().unwrap_or(f64::INFINITY);
                Ok(Expr { kind: ExprKind::Percent { text, value }, span: sp })
            }
            Rule::duration => Ok(Expr { kind: ExprKind::Duration(duration(self.t, p)), span: sp }),
            Rule::string => Ok(Expr { kind: ExprKind::Str { value: string(self.t, p).value }, span: sp }),
            Rule::boolean => Ok(Expr { kind: ExprKind::Bool { value: p.as_str() == "true" }, span: sp }),
            other => unreachable!("not an expression rule: {other:?}"),
        }
    }

    fn call(&mut self, p: Pair<'a, Rule>, depth: usize) -> Result<Call, TooDeep> {
        let sp = self.t.span(&p);
        let mut it = p.into_inner().filter(|a| !is_punct(a.as_rule()));
        let func = ident(self.t, it.next().unwrap());
        let mut args = Vec::new();
        for a in it {
            let mut parts: Vec<_> = a.into_inner().collect();
            let value = self.expr(parts.pop().unwrap(), depth + 1)?;
            let name = parts.pop().map(|p| ident(self.t, p));
            args.push(Arg { name, value });
        }
        Ok(Call { func, args, span: sp })
    }
}

fn is_punct(rule: Rule) -> bool {
    matches!(rule, Rule::rparen | Rule::rbracket | Rule::rbrace)
}

fn is_keyword(rule: Rule) -> bool {
    format!("{rule:?}").starts_with("kw_")
}

fn ident(t: Trim, p: Pair<Rule>) -> Ident {
    Ident { name: p.as_str().to_string(), span: t.span(&p) }
}

fn path(t: Trim, p: Pair<Rule>) -> Path {
    let sp = t.span(&p);
    Path { parts: p.into_inner().map(|p| ident(t, p)).collect(), span: sp }
}

fn marker(t: Trim, p: Pair<Rule>) -> Marker {
    let sp = t.span(&p);
    let mut it = p.into_inner();
    let kw = it.next().unwrap();
    match kw.as_rule() {
        Rule::kw_key => Marker::Key { span: sp },
        Rule::kw_time => Marker::Time { span: sp },
        _ => Marker::References { target: path(t, it.next().unwrap()) },
    }
}

fn duration(t: Trim, p: Pair<Rule>) -> Duration {
    let text = p.as_str();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let unit = match &text[digits..] {
        "ms" => DurationUnit::Ms,
        "s" => DurationUnit::S,
        "m" => DurationUnit::M,
        "h" => DurationUnit::H,
        "d" => DurationUnit::D,
        _ => DurationUnit::W,
    };
    Duration { value: text[..digits].parse().unwrap_or(u64::MAX), unit, span: t.span(&p) }
}

fn string(t: Trim, p: Pair<Rule>) -> StrLit {
    let raw = p.as_str();
    let inner = &raw[1..raw.len() - 1];
    let mut value = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            value.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => value.push('\n'),
            Some('t') => value.push('\t'),
            Some(other) => value.push(other),
            None => {}
        }
    }
    StrLit { value, span: t.span(&p) }
}

/// A pest error (offsets relative to `base`) as an E0001 diagnostic in plain words.
fn pest_error(err: &pest::error::Error<Rule>, file: FileId, base: usize, region: &str, what: &str) -> Diagnostic {
    let at = match err.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let expected = match &err.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let mut words: Vec<&str> = positives.iter().filter_map(|r| describe(*r)).collect();
            words.sort_unstable();
            words.dedup();
            words
        }
        pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let found = region.get(at..).unwrap_or("");
    let found_word: String = found.chars().take_while(|c| !c.is_whitespace()).take(20).collect();
    let start = base + at;
    let len = found_word.len();
    let message = match (expected.is_empty(), found_word.is_empty()) {
        (true, _) => format!("{what} is not valid .mlp"),
        (false, true) => format!("expected {}", join_or(&expected)),
        (false, false) => format!("expected {}, found `{found_word}`", join_or(&expected)),
    };
    Diagnostic::new(Code::E0001, file, Span::new(start, start + len), message)
        .label(if expected.is_empty() {
            "not understood".to_string()
        } else {
            format!("expected {}", join_or(&expected))
        })
        .help("see docs/language.md for the form of each declaration and statement")
}

fn join_or(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// A rule as a user would name it; `None` for rules that only add noise.
fn describe(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::ident => "a name",
        Rule::string => "a string",
        Rule::expr
        | Rule::or_expr
        | Rule::and_expr
        | Rule::not_expr
        | Rule::cmp_expr
        | Rule::add_expr
        | Rule::mul_expr
        | Rule::unary_expr
        | Rule::postfix
        | Rule::number
        | Rule::percent
        | Rule::boolean
        | Rule::list
        | Rule::path
        | Rule::call => "an expression",
        Rule::duration => "a duration like `30d`",
        Rule::body => "`{`",
        Rule::rparen => "`)`",
        Rule::rbracket => "`]`",
        Rule::rbrace => "`}`",
        Rule::marker => "`key`, `time` or `references`",
        Rule::cmp_op | Rule::between => "a comparison",
        Rule::add_op | Rule::mul_op => "an operator",
        Rule::arg => "an argument",
        Rule::action => "`retrain MODEL` or `rollback`",
        Rule::kw_on => "`on`",
        Rule::kw_with => "`with`",
        Rule::kw_as => "`as`",
        Rule::kw_when => "`when`",
        Rule::kw_by => "`by`",
        Rule::kw_to => "`to`",
        Rule::kw_then => "`then`",
        Rule::kw_and => "`and`",
        Rule::EOI => "the end of the statement",
        Rule::typed_stmt
        | Rule::assign_stmt
        | Rule::expect_stmt
        | Rule::slice_stmt
        | Rule::promote_stmt
        | Rule::rollback_stmt
        | Rule::alert_stmt
        | Rule::block_stmt => "a statement",
        Rule::pipeline_decl
        | Rule::import_decl
        | Rule::source_decl
        | Rule::check_decl
        | Rule::features_decl
        | Rule::dataset_decl
        | Rule::model_decl
        | Rule::evaluate_decl
        | Rule::register_decl
        | Rule::serve_decl
        | Rule::monitor_decl
        | Rule::stdlib_decl => "a declaration",
        _ => return None,
    })
}
