//! pest pairs → syntax tree. The only module that knows pest; `parse` never fails.

use super::ast::*;
use super::comments;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser;
use std::sync::OnceLock;

#[derive(pest_derive::Parser)]
#[grammar = "syntax/mlp.pest"]
struct Grammar;

/// Deepest bracket nesting accepted; deeper input is refused before pest sees it.
const MAX_NESTING: usize = 64;
/// Deepest expression tree accepted (long operator chains nest too).
const MAX_EXPR_DEPTH: usize = 256;

/// Parses one file into a tree plus syntax diagnostics. Never fails, never panics.
pub fn parse(text: &str, file: FileId) -> (File, Vec<Diagnostic>) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    parse_in(text, file, threads)
}

/// [`parse`] on up to `threads` threads.
fn parse_in(text: &str, file: FileId, threads: usize) -> (File, Vec<Diagnostic>) {
    let comments = comments::scan(text);
    if let Some(at) = comments::first_too_deep(text, MAX_NESTING) {
        let diag = Diagnostic::new(Code::E0001, file, Span::new(at, at + 1), "brackets nest too deeply")
            .label(format!("more than {MAX_NESTING} levels open here"))
            .help("split the expression or block into smaller named parts");
        return (File { items: Vec::new(), comments }, vec![diag]);
    }
    let cuts = if text.len() >= PARALLEL_BYTES { comments::cut_points(text, threads) } else { vec![0] };
    let chunk = |i: usize| {
        let (start, end) = (cuts[i], cuts.get(i + 1).copied().unwrap_or(text.len()));
        let t = Trim { text, comments: &comments, base: start };
        let mut b = Builder { t, text, file, comments: &comments, diags: Vec::new() };
        let items = match Grammar::parse(Rule::file, &text[start..end]) {
            Ok(mut pairs) => b.items(pairs.next().expect("file rule yields a pair")),
            Err(err) => {
                // Unreachable by construction (the catch-all rules accept anything), but a
                // grammar bug must still become a diagnostic, not a panic.
                b.diags.push(pest_error(&err, file, start, &text[start..end], "the file"));
                Vec::new()
            }
        };
        (items, b.diags)
    };
    let parts: Vec<(Vec<Item>, Vec<Diagnostic>)> = if cuts.len() == 1 {
        vec![chunk(0)]
    } else {
        // Declarations are independent: large files parse in slices, one per core.
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..cuts.len()).map(|i| scope.spawn(move || chunk(i))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
        })
    };
    let (mut items, mut diags) = (Vec::new(), Vec::new());
    for (i, d) in parts {
        items.extend(i);
        diags.extend(d);
    }
    (File { items, comments }, diags)
}

/// Inputs at least this large are parsed on several threads.
const PARALLEL_BYTES: usize = 64 * 1024;

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
    /// Where the slice pest is parsing starts in `text`.
    base: usize,
}

impl Trim<'_> {
    fn span(&self, p: &Pair<Rule>) -> Span {
        let start = self.base + p.as_span().start();
        let mut end = self.base + p.as_span().end();
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
        let text = &self.text[sp.start..sp.end];
        let word: String = text.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if word.is_empty() || super::DECLARATION_KEYWORDS.contains(&word.as_str()) {
            return;
        }
        if let (Some(best), Some(last)) =
            (crate::diagnostic::suggest(&word, super::DECLARATION_KEYWORDS.iter().copied()), self.diags.last_mut())
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
            Rule::score_decl => {
                let name = ident(self.t, next());
                let registered = string(self.t, next());
                ItemKind::Score { name, registered, body: it.next().map(|b| self.body(b)) }
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
        expr(self.t, p, depth)
    }

    fn call(&mut self, p: Pair<'a, Rule>, depth: usize) -> Result<Call, TooDeep> {
        call(self.t, p, depth)
    }
}

/// Operator precedence, lowest first.
fn pratt() -> &'static PrattParser<Rule> {
    static PRATT: OnceLock<PrattParser<Rule>> = OnceLock::new();
    PRATT.get_or_init(|| {
        PrattParser::new()
            .op(Op::infix(Rule::kw_or, Assoc::Left))
            .op(Op::infix(Rule::kw_and, Assoc::Left))
            .op(Op::prefix(Rule::kw_not))
            .op(Op::infix(Rule::cmp_op, Assoc::Left) | Op::postfix(Rule::between))
            .op(Op::infix(Rule::add_op, Assoc::Left))
            .op(Op::infix(Rule::mul_op, Assoc::Left))
            .op(Op::prefix(Rule::neg))
    })
}

fn binop(op: &str) -> BinOp {
    match op {
        "+" => BinOp::Add,
        "-" => BinOp::Sub,
        "*" => BinOp::Mul,
        "/" => BinOp::Div,
        "==" => BinOp::Eq,
        "!=" => BinOp::Ne,
        "<=" => BinOp::Le,
        ">=" => BinOp::Ge,
        "<" => BinOp::Lt,
        ">" => BinOp::Gt,
        "or" => BinOp::Or,
        _ => BinOp::And,
    }
}

fn is_operator(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::kw_or
            | Rule::kw_and
            | Rule::kw_not
            | Rule::cmp_op
            | Rule::add_op
            | Rule::mul_op
            | Rule::neg
            | Rule::between
    )
}

fn expr(t: Trim, p: Pair<Rule>, depth: usize) -> Result<Expr, TooDeep> {
    let sp = t.span(&p);
    if depth > MAX_EXPR_DEPTH {
        return Err(TooDeep(sp));
    }
    match p.as_rule() {
        Rule::expr | Rule::arith => {
            let pairs = p.into_inner();
            // However the operators combine, the tree is no deeper than their number.
            if depth + pairs.clone().filter(|q| is_operator(q.as_rule())).count() > MAX_EXPR_DEPTH {
                return Err(TooDeep(sp));
            }
            pratt()
                .map_primary(|q| expr(t, q, depth + 1))
                .map_prefix(|op, rhs| {
                    let rhs = rhs?;
                    let op_span = t.span(&op);
                    let unary = if op.as_rule() == Rule::kw_not { UnaryOp::Not } else { UnaryOp::Neg };
                    let span = op_span.to(rhs.span);
                    Ok(Expr { kind: ExprKind::Unary { op: unary, expr: Box::new(rhs) }, span })
                })
                .map_postfix(|lhs, op| {
                    let lhs = lhs?;
                    let span = lhs.span.to(t.span(&op));
                    let mut bounds = op.into_inner().filter(|q| q.as_rule() == Rule::arith);
                    let low = expr(t, bounds.next().expect("between has a low bound"), depth + 1)?;
                    let high = expr(t, bounds.next().expect("between has a high bound"), depth + 1)?;
                    let kind = ExprKind::Between { expr: Box::new(lhs), low: Box::new(low), high: Box::new(high) };
                    Ok(Expr { kind, span })
                })
                .map_infix(|lhs, op, rhs| {
                    let (lhs, rhs) = (lhs?, rhs?);
                    let span = lhs.span.to(rhs.span);
                    let op = binop(op.as_str());
                    Ok(Expr { kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span })
                })
                .parse(pairs)
        }
        Rule::postfix => {
            let mut it = p.into_inner().filter(|p| !is_keyword(p.as_rule()) && !is_punct(p.as_rule()));
            let e = expr(t, it.next().unwrap(), depth + 1)?;
            match it.next() {
                Some(w) => Ok(Expr { kind: ExprKind::Over { expr: Box::new(e), window: duration(t, w) }, span: sp }),
                // A parenthesized expression keeps its parentheses in its span.
                None => Ok(Expr { span: sp, ..e }),
            }
        }
        Rule::list => {
            let items = p
                .into_inner()
                .filter(|e| !is_punct(e.as_rule()))
                .map(|e| expr(t, e, depth + 1))
                .collect::<Result<_, _>>()?;
            Ok(Expr { kind: ExprKind::List { items }, span: sp })
        }
        Rule::call => Ok(Expr { kind: ExprKind::Call(call(t, p, depth + 1)?), span: sp }),
        Rule::path => Ok(Expr { kind: ExprKind::Path(path(t, p)), span: sp }),
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
        Rule::duration => Ok(Expr { kind: ExprKind::Duration(duration(t, p)), span: sp }),
        Rule::string => Ok(Expr { kind: ExprKind::Str { value: string(t, p).value }, span: sp }),
        Rule::boolean => Ok(Expr { kind: ExprKind::Bool { value: p.as_str() == "true" }, span: sp }),
        other => unreachable!("not an expression rule: {other:?}"),
    }
}

fn call(t: Trim, p: Pair<Rule>, depth: usize) -> Result<Call, TooDeep> {
    let sp = t.span(&p);
    let mut it = p.into_inner().filter(|a| !is_punct(a.as_rule()));
    let func = ident(t, it.next().unwrap());
    let mut args = Vec::new();
    for a in it {
        let mut parts: Vec<_> = a.into_inner().collect();
        let value = expr(t, parts.pop().unwrap(), depth + 1)?;
        let name = parts.pop().map(|p| ident(t, p));
        args.push(Arg { name, value });
    }
    Ok(Call { func, args, span: sp })
}

fn is_punct(rule: Rule) -> bool {
    matches!(rule, Rule::rparen | Rule::rbracket | Rule::rbrace)
}

fn is_keyword(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::kw_pipeline
            | Rule::kw_import
            | Rule::kw_source
            | Rule::kw_check
            | Rule::kw_features
            | Rule::kw_dataset
            | Rule::kw_model
            | Rule::kw_evaluate
            | Rule::kw_register
            | Rule::kw_serve
            | Rule::kw_monitor
            | Rule::kw_score
            | Rule::kw_on
            | Rule::kw_with
            | Rule::kw_as
            | Rule::kw_key
            | Rule::kw_time
            | Rule::kw_references
            | Rule::kw_expect
            | Rule::kw_slice
            | Rule::kw_by
            | Rule::kw_promote
            | Rule::kw_to
            | Rule::kw_when
            | Rule::kw_rollback
            | Rule::kw_alert
            | Rule::kw_then
            | Rule::kw_retrain
            | Rule::kw_or
            | Rule::kw_and
            | Rule::kw_not
            | Rule::kw_between
            | Rule::kw_over
    )
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
        | Rule::arith
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
        | Rule::score_decl
        | Rule::stdlib_decl => "a declaration",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_parsing_gives_the_sequential_tree() {
        let churn = include_str!("../../../examples/churn/churn.mlp");
        let broken = churn.replacen("cv     = 5", "cv     = = 5", 1);
        let mut text = String::new();
        while text.len() < 2 * PARALLEL_BYTES {
            text.push_str(if text.len().is_multiple_of(3) { &broken } else { churn });
            text.push('\n');
        }
        let (one, one_diags) = parse_in(&text, FileId(0), 1);
        let (four, four_diags) = parse_in(&text, FileId(0), 4);
        assert!(comments::cut_points(&text, 4).len() > 1, "the text is cut");
        assert_eq!(one, four);
        assert_eq!(one_diags, four_diags);
        assert!(!one_diags.is_empty());
    }
}
