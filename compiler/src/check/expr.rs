//! Expression typing, per context: what a name or call means depends on the block.

use super::{Checker, Reference, Target};
use crate::ast::{BinOp, Call, Duration, Expr, ExprKind, Path, StdKind, UnaryOp};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::FileId;
use crate::stdlib::{Entry, ParamType};
use crate::types::{Task, Type};
use mlpc_plan::{JoinStep, TExpr};
use std::collections::BTreeSet;

/// Where an expression sits, which decides what its names mean.
#[derive(Clone, Copy)]
pub(crate) enum Ctx<'c> {
    /// `expect` in a check: the checked table's columns.
    Check { table: &'c str },
    /// A feature: the entity's columns, related tables, other features.
    Feature { view: &'c str, entity: &'c str },
    /// A promotion rule: the model's evaluated metrics, `stage.metric`, `approved`.
    Promotion { model: &'c str, task: Option<Task> },
    /// A canary gate: what the serving path measures.
    Canary,
    /// A monitor alert: serving metrics, model metrics from feedback, drift functions.
    Alert { task: Option<Task>, inputs: &'c [super::Column] },
}

impl Ctx<'_> {
    fn name(&self) -> &'static str {
        match self {
            Ctx::Check { .. } => "check",
            Ctx::Feature { .. } => "features",
            Ctx::Promotion { .. } => "register",
            Ctx::Canary => "canary",
            Ctx::Alert { .. } => "monitor",
        }
    }
}

/// What an expression evaluates to.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Val {
    Scalar(Type),
    /// A whole table, only meaningful as an aggregation's argument.
    Table(String),
    /// A column of a related table, only meaningful inside an aggregation.
    Related(String, Type),
    DriftTest(String),
}

impl Val {
    fn scalar(&self) -> Type {
        match self {
            Val::Scalar(t) => *t,
            _ => Type::Unknown,
        }
    }
}

/// What an expression reads, gathered while typing it.
#[derive(Default)]
pub(crate) struct Deps {
    pub columns: BTreeSet<String>,
    pub features: BTreeSet<(String, String)>,
    pub tables: BTreeSet<String>,
    /// Columns read outside any aggregation (a check's row-level expectation).
    pub row_columns: bool,
    in_aggregate: bool,
}

impl Checker<'_> {
    /// Types `e`, reporting what is wrong, and returns its value and typed form.
    pub(crate) fn expr(&mut self, file: FileId, e: &Expr, ctx: Ctx, deps: &mut Deps) -> (Val, TExpr) {
        let (val, texpr) = self.expr_inner(file, e, ctx, deps);
        if let Val::Scalar(ty) = val {
            self.a.types.push((file, e.span, ty));
        }
        (val, texpr)
    }

    fn expr_inner(&mut self, file: FileId, e: &Expr, ctx: Ctx, deps: &mut Deps) -> (Val, TExpr) {
        match &e.kind {
            ExprKind::Number { value, integer, .. } => {
                let ty = if *integer { Type::Int } else { Type::Float };
                (Val::Scalar(ty), TExpr::lit(serde_json::json!(value), ty))
            }
            ExprKind::Percent { value, .. } => {
                if !(0.0..=100.0).contains(value) {
                    self.err(
                        Code::E0019,
                        file,
                        e.span,
                        "a percentage must be between 0% and 100%",
                        "out of range",
                        "use a value from 0% to 100%",
                    );
                }
                (Val::Scalar(Type::Percent), TExpr::lit(serde_json::json!(value / 100.0), Type::Percent))
            }
            ExprKind::Duration(d) => {
                (Val::Scalar(Type::Duration), TExpr::lit(serde_json::json!(d.millis()), Type::Duration))
            }
            ExprKind::Str { value } => (Val::Scalar(Type::String), TExpr::lit(serde_json::json!(value), Type::String)),
            ExprKind::Bool { value } => (Val::Scalar(Type::Bool), TExpr::lit(serde_json::json!(value), Type::Bool)),
            ExprKind::List { items } => {
                let items = items.iter().map(|i| self.expr(file, i, ctx, deps).1).collect();
                (Val::Scalar(Type::List), TExpr::List { items })
            }
            ExprKind::Path(p) => self.path(file, p, ctx, deps),
            ExprKind::Call(c) => self.call(file, c, None, ctx, deps),
            ExprKind::Over { window, .. } if window.millis() == 0 => {
                self.err(
                    Code::E0019,
                    file,
                    window.span,
                    "a window must be longer than zero",
                    "empty window",
                    "use a positive duration such as `30d`",
                );
                (Val::Scalar(Type::Unknown), TExpr::lit(serde_json::Value::Null, Type::Unknown))
            }
            ExprKind::Over { expr, window } => match &expr.kind {
                ExprKind::Call(c) if self.std.lookup(StdKind::Aggregation, &c.func.name).is_some() => {
                    self.call(file, c, Some(window), ctx, deps)
                }
                _ => {
                    self.expr(file, expr, ctx, deps);
                    self.err(
                        Code::E0004,
                        file,
                        window.span,
                        "`over` windows an aggregation",
                        "nothing to window",
                        "put `over` after an aggregation, e.g. `sum(orders.amount) over 90d`",
                    );
                    (Val::Scalar(Type::Unknown), TExpr::lit(serde_json::Value::Null, Type::Unknown))
                }
            },
            ExprKind::Unary { op, expr } => {
                let (v, t) = self.expr(file, expr, ctx, deps);
                let ty = self.operand(file, expr, &v);
                let out = match op {
                    UnaryOp::Not => {
                        self.expect_type(file, expr, ty, Type::Bool, "`not` takes a condition");
                        Type::Bool
                    }
                    UnaryOp::Neg => {
                        if !ty.is_numeric() {
                            self.mismatch(file, expr, format!("cannot negate a `{ty}`"), "a number is needed");
                        }
                        if ty.is_numeric() {
                            ty
                        } else {
                            Type::Unknown
                        }
                    }
                };
                let operator = if *op == UnaryOp::Not { mlpc_plan::UnaryOp::Not } else { mlpc_plan::UnaryOp::Neg };
                (Val::Scalar(out), TExpr::Unary { operator, arg: Box::new(t), ty: out })
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (lv, lt) = self.expr(file, lhs, ctx, deps);
                let (rv, rt) = self.expr(file, rhs, ctx, deps);
                let (l, r) = (self.operand(file, lhs, &lv), self.operand(file, rhs, &rv));
                let out = self.binary(file, e, *op, l, r);
                (
                    Val::Scalar(out),
                    TExpr::Binary { operator: ir_op(*op), lhs: Box::new(lt), rhs: Box::new(rt), ty: out },
                )
            }
            ExprKind::Between { expr, low, high } => {
                let (v, t) = self.expr(file, expr, ctx, deps);
                let (lv, lt) = self.expr(file, low, ctx, deps);
                let (hv, ht) = self.expr(file, high, ctx, deps);
                let ty = self.operand(file, expr, &v);
                for (bound, bv) in [(low, lv), (high, hv)] {
                    let bt = self.operand(file, bound, &bv);
                    if !comparable(ty, bt) {
                        self.mismatch(
                            file,
                            bound,
                            format!("cannot compare `{ty}` with `{bt}`"),
                            format!("this is `{bt}`"),
                        );
                    }
                }
                (Val::Scalar(Type::Bool), TExpr::Between { arg: Box::new(t), low: Box::new(lt), high: Box::new(ht) })
            }
        }
    }

    /// The scalar type of an operand; tables and related columns are reported.
    fn operand(&mut self, file: FileId, e: &Expr, v: &Val) -> Type {
        match v {
            Val::Scalar(t) => *t,
            Val::Table(t) => {
                self.err(
                    Code::E0004,
                    file,
                    e.span,
                    format!("the table `{t}` is not a value"),
                    "a whole table",
                    format!("aggregate it, e.g. `count({t})`"),
                );
                Type::Unknown
            }
            Val::Related(..) | Val::DriftTest(_) => Type::Unknown,
        }
    }

    fn binary(&mut self, file: FileId, e: &Expr, op: BinOp, l: Type, r: Type) -> Type {
        let ExprKind::Binary { lhs, rhs, .. } = &e.kind else { return Type::Unknown };
        match op {
            BinOp::And | BinOp::Or => {
                self.expect_type(file, lhs, l, Type::Bool, &format!("`{}` joins conditions", op.symbol()));
                self.expect_type(file, rhs, r, Type::Bool, &format!("`{}` joins conditions", op.symbol()));
                Type::Bool
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => {
                if l == Type::Unknown || r == Type::Unknown {
                    return Type::Unknown;
                }
                if !(l.is_numeric() && r.is_numeric()) {
                    let bad = if l.is_numeric() { rhs } else { lhs };
                    self.mismatch(
                        file,
                        bad,
                        format!("cannot apply `{}` to `{l}` and `{r}`", op.symbol()),
                        "arithmetic needs numbers",
                    );
                    return Type::Unknown;
                }
                if l == Type::Int && r == Type::Int && op != BinOp::Div {
                    Type::Int
                } else {
                    Type::Float
                }
            }
            _ => {
                if !comparable(l, r) {
                    self.diags.push(
                        Diagnostic::new(Code::E0004, file, rhs.span, format!("cannot compare `{l}` with `{r}`"))
                            .label(format!("this is `{r}`"))
                            .secondary(file, lhs.span, format!("this is `{l}`"))
                            .help(compare_help(l, r)),
                    );
                }
                Type::Bool
            }
        }
    }

    fn expect_type(&mut self, file: FileId, e: &Expr, found: Type, want: Type, why: &str) {
        if !want.accepts(found) {
            self.mismatch(file, e, format!("expected `{want}`, found `{found}`"), why.to_string());
        }
    }

    pub(crate) fn mismatch(&mut self, file: FileId, e: &Expr, message: String, label: impl Into<String>) {
        self.diags.push(
            Diagnostic::new(Code::E0004, file, e.span, message)
                .label(label)
                .help("see docs/language.md#types for what each operator takes"),
        );
    }

    fn reference(&mut self, file: FileId, span: crate::source::Span, target: Target) {
        self.a.references.push(Reference { file, span, target });
    }

    fn path(&mut self, file: FileId, p: &Path, ctx: Ctx, deps: &mut Deps) -> (Val, TExpr) {
        let poison = (Val::Scalar(Type::Unknown), TExpr::lit(serde_json::Value::Null, Type::Unknown));
        let first = &p.parts[0];
        if p.parts.len() > 2 {
            self.too_many_parts(file, p, "`name` or `table.name`", "refer to a column as `column` or `table.column`");
            return poison;
        }
        match ctx {
            Ctx::Check { table } | Ctx::Feature { entity: table, .. } => {
                let view = if let Ctx::Feature { view, .. } = ctx { Some(view) } else { None };
                let (owner, col) = match p.parts.get(1) {
                    Some(second) => (first, second),
                    None => (first, first),
                };
                if p.parts.len() == 2 && owner.name != table {
                    return self.qualified(file, owner, col, view, table, deps).unwrap_or(poison);
                }
                let found = self.source_info(table).and_then(|s| s.column(&col.name)).map(|c| (c.name.clone(), c.ty));
                if let Some((name, ty)) = found {
                    self.reference(file, col.span, Target::Column { table: table.to_string(), column: name.clone() });
                    if !deps.in_aggregate {
                        deps.row_columns = true;
                    }
                    deps.columns.insert(name.clone());
                    return (Val::Scalar(ty), TExpr::Column { name, ty });
                }
                if p.parts.len() == 1 {
                    if let Some(view) = view {
                        let feature = self.view_info(view).and_then(|v| v.feature(&col.name)).map(|f| f.ty);
                        if let Some(ty) = feature {
                            self.reference(
                                file,
                                col.span,
                                Target::Feature { view: view.into(), name: col.name.clone() },
                            );
                            deps.features.insert((view.to_string(), col.name.clone()));
                            return (Val::Scalar(ty), TExpr::Feature { view: view.into(), name: col.name.clone(), ty });
                        }
                        if self.names.get(&col.name).is_some_and(|(k, _, _)| *k == "source") {
                            self.lookup(file, col, "source");
                            return (Val::Table(col.name.clone()), TExpr::Table { name: col.name.clone() });
                        }
                    }
                }
                let mut candidates: Vec<String> = self
                    .source_info(table)
                    .map(|s| s.columns.iter().map(|c| c.name.clone()).collect())
                    .unwrap_or_default();
                if let Some(view) = view {
                    if let Some(v) = self.view_info(view) {
                        candidates.extend(v.features.iter().map(|f| f.name.clone()));
                    }
                    candidates.extend(self.names.iter().filter(|(_, v)| v.0 == "source").map(|(n, _)| n.clone()));
                }
                self.unknown(
                    file,
                    col.span,
                    &format!("column of `{table}`"),
                    &col.name,
                    candidates.iter().map(String::as_str),
                );
                poison
            }
            Ctx::Promotion { model, task } => {
                if p.parts.len() == 1 && first.name == "approved" {
                    return (Val::Scalar(Type::Bool), TExpr::Approved);
                }
                let (stage, metric) = match p.parts.get(1) {
                    Some(m) => (Some(first), m),
                    None => (None, first),
                };
                if let Some(stage) = stage {
                    if !["staging", "production"].contains(&stage.name.as_str()) {
                        self.unknown(file, stage.span, "stage", &stage.name, ["staging", "production"]);
                        return poison;
                    }
                }
                if self.metric(file, metric, model, task, true) {
                    let stage = stage.map(|s| s.name.clone());
                    return (Val::Scalar(Type::Float), TExpr::Metric { name: metric.name.clone(), stage });
                }
                poison
            }
            Ctx::Canary | Ctx::Alert { .. } => {
                if p.parts.len() == 2 {
                    self.err(
                        Code::E0002,
                        file,
                        p.span,
                        format!("`{}` is not something a monitor or canary can read", p.text()),
                        "not a metric",
                        "use a serving metric such as `p99_latency`, or a model metric",
                    );
                    return poison;
                }
                if let Some(m) = self.std.lookup(StdKind::ServingMetric, &first.name) {
                    let ty = m.returns.unwrap_or(Type::Unknown);
                    self.reference(
                        file,
                        first.span,
                        Target::Std { kind: StdKind::ServingMetric, name: first.name.clone() },
                    );
                    return (Val::Scalar(ty), TExpr::ServingMetric { name: first.name.clone(), ty });
                }
                let is_metric = self.std.lookup(StdKind::Metric, &first.name).is_some();
                match ctx {
                    Ctx::Canary if is_metric => {
                        self.diags.push(
                            Diagnostic::new(
                                Code::E0010,
                                file,
                                first.span,
                                format!("a canary cannot observe `{}`", first.name),
                            )
                            .label("needs labels, which arrive long after the canary step")
                            .help(format!(
                                "gate the canary on what serving measures: {}",
                                self.std.names(StdKind::ServingMetric).collect::<Vec<_>>().join(", ")
                            )),
                        );
                        poison
                    }
                    Ctx::Alert { task, .. } if is_metric => {
                        if self.metric(file, first, "", task, false) {
                            (Val::Scalar(Type::Float), TExpr::Metric { name: first.name.clone(), stage: None })
                        } else {
                            poison
                        }
                    }
                    _ => {
                        let mut names: Vec<&str> = self.std.names(StdKind::ServingMetric).collect();
                        if matches!(ctx, Ctx::Alert { .. }) {
                            names.extend(self.std.names(StdKind::Metric));
                        }
                        self.unknown(file, first.span, "metric", &first.name, names);
                        poison
                    }
                }
            }
        }
    }

    /// `table.column` or `view.feature` from inside a feature view or check.
    fn qualified(
        &mut self,
        file: FileId,
        owner: &crate::ast::Ident,
        col: &crate::ast::Ident,
        view: Option<&str>,
        entity: &str,
        deps: &mut Deps,
    ) -> Option<(Val, TExpr)> {
        let kind = self.names.get(&owner.name).map(|(k, _, _)| *k);
        match (kind, view) {
            (Some("source"), Some(_)) => {
                self.lookup(file, owner, "source");
                let src = self.source_info(&owner.name)?;
                let Some(c) = src.column(&col.name).cloned() else {
                    let names: Vec<String> = src.columns.iter().map(|c| c.name.clone()).collect();
                    self.unknown(
                        file,
                        col.span,
                        &format!("column of `{}`", owner.name),
                        &col.name,
                        names.iter().map(String::as_str),
                    );
                    return None;
                };
                self.reference(file, col.span, Target::Column { table: owner.name.clone(), column: c.name.clone() });
                if let Some(join) = self.key_path(entity, &owner.name).filter(|_| !deps.in_aggregate) {
                    let has_time = |t: &str| self.source_info(t).is_some_and(|s| s.time_column().is_some());
                    let as_of = has_time(entity) && has_time(&owner.name);
                    let lookup =
                        TExpr::Lookup { table: owner.name.clone(), column: c.name.clone(), join, as_of, ty: c.ty };
                    return Some((Val::Scalar(c.ty), lookup));
                }
                if self.key_path(&owner.name, entity).is_none() {
                    self.err(
                        Code::E0005,
                        file,
                        owner.span.to(col.span),
                        format!("`{}` has no key path to or from `{entity}`", owner.name),
                        "cannot tell which rows belong together",
                        format!(
                            "declare a column of `{}` that `references` `{entity}` (or the other way round)",
                            owner.name
                        ),
                    );
                    return None;
                }
                if !deps.in_aggregate {
                    self.diags.push(
                        Diagnostic::new(
                            Code::E0020,
                            file,
                            owner.span.to(col.span),
                            format!("`{}.{}` has many rows per `{entity}` row", owner.name, col.name),
                        )
                        .label("a related table's column must be aggregated")
                        .help(format!(
                            "wrap it in an aggregation, e.g. `max({}.{})` or `sum({}.{})`",
                            owner.name, col.name, owner.name, col.name
                        )),
                    );
                    return None;
                }
                Some((
                    Val::Related(owner.name.clone(), c.ty),
                    TExpr::Related { table: owner.name.clone(), column: c.name.clone(), ty: c.ty },
                ))
            }
            (Some("features"), Some(_)) => {
                self.lookup(file, owner, "features");
                let v = self.view_info(&owner.name)?.clone();
                if v.entity != entity {
                    self.err(
                        Code::E0005,
                        file,
                        owner.span,
                        format!("feature view `{}` is computed per `{}`, not per `{entity}`", v.name, v.entity),
                        "another entity",
                        format!("use features of a view declared `on {entity}`"),
                    );
                    return None;
                }
                let Some(f) = v.feature(&col.name) else {
                    let names: Vec<String> = v.features.iter().map(|f| f.name.clone()).collect();
                    self.unknown(
                        file,
                        col.span,
                        &format!("feature of `{}`", v.name),
                        &col.name,
                        names.iter().map(String::as_str),
                    );
                    return None;
                };
                self.reference(file, col.span, Target::Feature { view: v.name.clone(), name: f.name.clone() });
                deps.features.insert((v.name.clone(), f.name.clone()));
                Some((Val::Scalar(f.ty), TExpr::Feature { view: v.name.clone(), name: f.name.clone(), ty: f.ty }))
            }
            (Some("source"), None) => {
                self.err(
                    Code::E0002,
                    file,
                    owner.span,
                    format!("a check on `{entity}` reads only `{entity}`; `{}` is another table", owner.name),
                    "not the checked table",
                    format!("write a separate `check {} {{ … }}` block", owner.name),
                );
                None
            }
            _ => {
                let mut names: Vec<String> = vec![entity.to_string()];
                if view.is_some() {
                    names.extend(
                        self.names.iter().filter(|(_, v)| v.0 == "source" || v.0 == "features").map(|(n, _)| n.clone()),
                    );
                }
                self.unknown(file, owner.span, "table", &owner.name, names.iter().map(String::as_str));
                None
            }
        }
    }

    /// Checks a model metric name; `evaluated` also demands an evaluation that computes it.
    fn metric(
        &mut self,
        file: FileId,
        m: &crate::ast::Ident,
        model: &str,
        task: Option<Task>,
        evaluated: bool,
    ) -> bool {
        let also: &[&str] = if evaluated { &["approved"] } else { &[] };
        if !self.metric_name(file, m, task, also) {
            return false;
        }
        if evaluated {
            let evals: Vec<_> = self.evaluations_of(model).cloned().collect();
            let computing: Vec<_> = evals.iter().filter(|e| e.metrics.contains(&m.name)).collect();
            if computing.len() > 1 {
                let mut d = Diagnostic::new(
                    Code::E0003,
                    file,
                    m.span,
                    format!(
                        "`{}` is computed by {} evaluations of `{model}`: the rule cannot tell which",
                        m.name,
                        computing.len()
                    ),
                )
                .label("ambiguous");
                for e in &computing {
                    d = d.secondary(e.site.file, e.site.span, format!("on {}", e.data.text()));
                }
                self.diags.push(d.help("compute the metrics that promotion reads in one evaluation only"));
                return false;
            }
            if computing.is_empty() {
                let mut d = Diagnostic::new(
                    Code::E0009,
                    file,
                    m.span,
                    format!("no evaluation of `{model}` computes `{}`", m.name),
                )
                .label("this rule could never be decided");
                for e in &evals {
                    d = d.secondary(e.site.file, e.site.span, format!("computes: {}", e.metrics.join(", ")));
                }
                d = if evals.is_empty() {
                    d.help(format!("add `evaluate {model} on DATASET.SPLIT {{ metrics = [{}] }}`", m.name))
                } else {
                    d.help(format!("add `{}` to the `metrics` of an `evaluate {model}` block", m.name))
                };
                self.diags.push(d);
                return false;
            }
        }
        true
    }

    fn call(&mut self, file: FileId, c: &Call, window: Option<&Duration>, ctx: Ctx, deps: &mut Deps) -> (Val, TExpr) {
        let poison = (Val::Scalar(Type::Unknown), TExpr::lit(serde_json::Value::Null, Type::Unknown));
        let kinds: &[StdKind] = match ctx {
            Ctx::Check { .. } => &[StdKind::Expectation, StdKind::Aggregation, StdKind::Function],
            Ctx::Feature { .. } => &[StdKind::Aggregation, StdKind::Function],
            Ctx::Alert { .. } => &[StdKind::Function],
            Ctx::Promotion { .. } | Ctx::Canary => &[],
        };
        let name = &c.func.name;
        let Some(entry) = self.std.lookup_any(kinds, name) else {
            let everywhere = [StdKind::Expectation, StdKind::Aggregation, StdKind::Function];
            if let Some(e) = self.std.lookup_any(&everywhere, name) {
                self.err(
                    Code::E0015,
                    file,
                    c.func.span,
                    format!("`{name}` cannot be used in a {} block", ctx.name()),
                    format!("a {}", e.kind.keyword()),
                    misplaced_call_help(e.kind),
                );
            } else {
                let names: Vec<&str> = kinds.iter().flat_map(|k| self.std.names(*k)).collect();
                self.unknown(file, c.func.span, "function", name, names);
            }
            for a in &c.args {
                self.expr(file, &a.value, ctx, deps);
            }
            return poison;
        };
        if !entry.usable_in.is_empty() && !entry.usable_in.iter().any(|u| u == ctx.name()) {
            self.err(
                Code::E0015,
                file,
                c.func.span,
                format!("`{name}` can only be used in {}", entry.usable_in.join(", ")),
                "not available here",
                format!("move this condition into a {} block", entry.usable_in.join(" or ")),
            );
            return poison;
        }
        self.reference(file, c.func.span, Target::Std { kind: entry.kind, name: name.clone() });
        if !self.arity(file, c, entry) {
            return poison;
        }
        let is_agg = entry.kind == StdKind::Aggregation;
        let outer = deps.in_aggregate;
        if is_agg || entry.whole_table {
            deps.in_aggregate = true;
        }
        let mut args = Vec::new();
        let mut first = Type::Unknown;
        let mut table: Option<String> = None;
        for (i, a) in c.args.iter().enumerate() {
            let param = entry.params.get(i).or(entry.params.last()).expect("arity checked");
            let (val, texpr) = match (param.ty, ctx) {
                (ParamType::DriftTest, _) => self.drift_test_arg(file, &a.value),
                (_, Ctx::Alert { inputs, .. }) if entry.name == "drift" && i == 0 => {
                    self.served_column(file, &a.value, inputs)
                }
                _ => self.expr(file, &a.value, ctx, deps),
            };
            let ty = match (&val, param.ty, ctx) {
                (Val::Table(t), ParamType::Table, _) => {
                    table = Some(t.clone());
                    Type::Unknown
                }
                (Val::Related(t, ty), pt, Ctx::Feature { .. }) if is_agg && pt != ParamType::Table => {
                    if table.as_ref().is_some_and(|prev| prev != t) {
                        self.err(
                            Code::E0017,
                            file,
                            a.value.span,
                            format!("one aggregation reads one table; `{t}` differs"),
                            "another table",
                            "aggregate each table separately and combine the results",
                        );
                    }
                    table = Some(t.clone());
                    *ty
                }
                (Val::Scalar(ty), pt, Ctx::Feature { entity, .. })
                    if is_agg && *ty != Type::Unknown && pt.admits(*ty) =>
                {
                    self.err(
                        Code::E0017,
                        file,
                        a.value.span,
                        format!("`{name}` aggregates a related table, not `{entity}` itself"),
                        format!("one value per `{entity}` row"),
                        format!(
                            "aggregate a column of a table that references `{entity}`, e.g. `{name}(orders.amount)`"
                        ),
                    );
                    Type::Unknown
                }
                (Val::Table(t), _, _) => {
                    self.err(
                        Code::E0004,
                        file,
                        a.value.span,
                        format!("`{name}` takes a column here, not the table `{t}`"),
                        "a whole table",
                        format!("name a column, e.g. `{t}.column`"),
                    );
                    Type::Unknown
                }
                (Val::DriftTest(_), _, _) => Type::Unknown,
                (v, ParamType::Table, _) => {
                    if v.scalar() != Type::Unknown {
                        self.err(
                            Code::E0004,
                            file,
                            a.value.span,
                            format!("`{name}` takes a table"),
                            "not a table",
                            format!("name a related table, e.g. `{name}(orders)`"),
                        );
                    }
                    Type::Unknown
                }
                (v, _, _) => v.scalar(),
            };
            if !param.ty.admits(ty) {
                self.mismatch(
                    file,
                    &a.value,
                    format!("`{name}` expects `{}` for `{}`, found `{ty}`", param.ty.name(), param.name),
                    format!("this is `{ty}`"),
                );
            }
            if i == 0 {
                first = ty;
            }
            if let (Val::DriftTest(test), true) = (&val, i > 0) {
                self.drift_kind(file, &a.value, test, first);
            }
            if let (ExprKind::List { items }, true) = (&a.value.kind, i > 0 && first != Type::Unknown) {
                for it in items {
                    let item_ty = self.a.types.iter().rev().find(|(f, s, _)| *f == file && *s == it.span).map(|t| t.2);
                    if let Some(item_ty) = item_ty.filter(|t| !comparable(first, *t)) {
                        self.mismatch(
                            file,
                            it,
                            format!("`{name}` compares with `{first}` values, this is `{item_ty}`"),
                            "wrong type of value",
                        );
                    }
                }
            }
            args.push(texpr);
        }
        deps.in_aggregate = outer;
        let ty = entry.returns.unwrap_or(first);
        if !is_agg || !matches!(ctx, Ctx::Feature { .. }) {
            if let Some(w) = window {
                self.err(
                    Code::E0004,
                    file,
                    w.span,
                    format!("`over` needs an aggregation over a related table; here `{name}` reads no related table"),
                    "no window to apply",
                    "drop `over`, or aggregate a related table",
                );
            }
            return (Val::Scalar(ty), TExpr::Call { func: name.clone(), args, ty });
        }
        let (Ctx::Feature { entity, .. }, Some(table)) = (ctx, table) else {
            return poison;
        };
        deps.tables.insert(table.clone());
        let join = self.join_path(file, c, &table, entity, window);
        (
            Val::Scalar(ty),
            TExpr::Aggregate {
                func: name.clone(),
                table,
                args,
                join: join.unwrap_or_default(),
                window_ms: window.map(Duration::millis),
                ty,
            },
        )
    }

    /// A drift test used on a column it does not apply to (`ks` on a category).
    fn drift_kind(&mut self, file: FileId, e: &Expr, test: &str, column: Type) {
        let Some(entry) = self.std.lookup(StdKind::DriftTest, test) else { return };
        let kind = if column.is_numeric() && column != Type::Unknown {
            "numeric"
        } else if column.is_categorical() && column != Type::Unknown {
            "categorical"
        } else {
            return;
        };
        if !entry.kinds.iter().any(|k| k == kind) {
            let fits: Vec<&str> = self
                .std
                .entries()
                .filter(|d| d.kind == StdKind::DriftTest && d.kinds.iter().any(|k| k == kind))
                .map(|d| d.name.as_str())
                .collect();
            self.err(
                Code::E0004,
                file,
                e.span,
                format!("`{test}` applies to {} columns, not to a `{column}` column", entry.kinds.join(" and ")),
                "wrong kind of column",
                format!("for {kind} columns use one of: {}", fits.join(", ")),
            );
        }
    }

    fn arity(&mut self, file: FileId, c: &Call, entry: &Entry) -> bool {
        let required = entry.params.iter().filter(|p| p.default.is_none()).count();
        let n = c.args.len();
        let ok = if entry.variadic { n >= required.max(1) } else { n >= required && n <= entry.params.len() };
        if let Some(named) = c.args.iter().find_map(|a| a.name.as_ref()) {
            self.err(
                Code::E0017,
                file,
                named.span,
                format!("`{}` takes its arguments by position", entry.name),
                "named argument",
                format!("signature: {}", entry.signature()),
            );
            return false;
        }
        if !ok {
            let want = if entry.variadic {
                format!("at least {}", required.max(1))
            } else if required == entry.params.len() {
                required.to_string()
            } else {
                format!("{required} to {}", entry.params.len())
            };
            self.err(
                Code::E0017,
                file,
                c.span,
                format!("`{}` takes {want} argument(s), found {n}", entry.name),
                "wrong number of arguments",
                format!("signature: {}", entry.signature()),
            );
        }
        ok
    }

    fn drift_test_arg(&mut self, file: FileId, e: &Expr) -> (Val, TExpr) {
        let poison = (Val::DriftTest(String::new()), TExpr::lit(serde_json::Value::Null, Type::Unknown));
        match &e.kind {
            ExprKind::Path(p) if p.parts.len() == 1 => {
                let name = &p.parts[0].name;
                if self.std.lookup(StdKind::DriftTest, name).is_some() {
                    self.reference(file, p.span, Target::Std { kind: StdKind::DriftTest, name: name.clone() });
                    (Val::DriftTest(name.clone()), TExpr::DriftTest { name: name.clone() })
                } else {
                    let names: Vec<&str> = self.std.names(StdKind::DriftTest).collect();
                    self.unknown(file, p.span, "drift test", name, names);
                    poison
                }
            }
            _ => {
                let names: Vec<&str> = self.std.names(StdKind::DriftTest).collect();
                self.err(
                    Code::E0004,
                    file,
                    e.span,
                    "expected a drift test",
                    "not a drift test",
                    format!("name one of: {}", names.join(", ")),
                );
                poison
            }
        }
    }

    /// A column a monitor watches: it must be an input of the served model.
    fn served_column(&mut self, file: FileId, e: &Expr, inputs: &[super::Column]) -> (Val, TExpr) {
        let poison = (Val::Scalar(Type::Unknown), TExpr::lit(serde_json::Value::Null, Type::Unknown));
        let ExprKind::Path(p) = &e.kind else {
            self.err(
                Code::E0004,
                file,
                e.span,
                "`drift` watches one input column",
                "not a column",
                "name an input column of the served model",
            );
            return poison;
        };
        let name = p.parts.last().map(|i| i.name.clone()).unwrap_or_default();
        match inputs.iter().find(|c| c.name == name) {
            Some(c) => (Val::Scalar(c.ty), TExpr::Column { name, ty: c.ty }),
            None if inputs.is_empty() => poison,
            None => {
                let names: Vec<&str> = inputs.iter().map(|c| c.name.as_str()).collect();
                let mut d = Diagnostic::new(
                    Code::E0011,
                    file,
                    p.span,
                    format!("the served model does not take `{}`", p.text()),
                )
                .label("not a model input: serving never sees it");
                d = match crate::diagnostic::suggest(&name, names.iter().copied()) {
                    Some(best) => {
                        d.help(format!("did you mean `{best}`?")).fix(format!("replace with `{best}`"), p.span, best)
                    }
                    None => d.help(format!("the model's inputs: {}", names.join(", "))),
                };
                self.diags.push(d);
                poison
            }
        }
    }

    /// The chain of references from `table` to `entity`, checking time columns.
    fn join_path(
        &mut self,
        file: FileId,
        c: &Call,
        table: &str,
        entity: &str,
        window: Option<&Duration>,
    ) -> Option<Vec<JoinStep>> {
        let path = self.key_path(table, entity);
        let Some(path) = path else {
            let key = self
                .a
                .sources
                .iter()
                .find(|s| s.name == entity)
                .and_then(|s| s.columns.iter().find(|c| c.key))
                .map(|c| c.name.clone())
                .unwrap_or_else(|| "id".into());
            self.err(Code::E0005, file, c.span, format!("`{table}` has no key path to `{entity}`"), format!("cannot tell which `{table}` rows belong to each `{entity}` row"), format!("declare a column of `{table}` with `references {entity}.{key}` (and mark `{entity}.{key}` as `key`)"));
            return None;
        };
        let time_of = |name: &str| self.source_info(name).and_then(|s| s.time_column()).map(|c| c.name.clone());
        let (entity_time, table_time) = (time_of(entity), time_of(table));
        let span = window.map_or(c.span, |w| c.span.to(w.span));
        match (entity_time, table_time, window) {
            (Some(et), None, _) => self.err(
                Code::E0007,
                file,
                span,
                format!("`{table}` has no `time` column, so rows after each `{entity}.{et}` would be used"),
                "cannot be made point-in-time correct",
                format!("mark the column of `{table}` that records when each row happened with `time`"),
            ),
            (None, _, Some(_)) => self.err(
                Code::E0007,
                file,
                span,
                format!("a window needs a `time` column on `{entity}` to count back from"),
                "no time to measure the window from",
                format!("mark the column of `{entity}` that records when each row was true with `time`"),
            ),
            _ => {}
        }
        Some(path)
    }

    /// Breadth-first search along `references` markers from `from` to `to`.
    fn key_path(&self, from: &str, to: &str) -> Option<Vec<JoinStep>> {
        let mut queue = std::collections::VecDeque::from([(from.to_string(), Vec::<JoinStep>::new())]);
        let mut seen = BTreeSet::from([from.to_string()]);
        while let Some((table, path)) = queue.pop_front() {
            if table == to && !path.is_empty() {
                return Some(path);
            }
            let Some(src) = self.source_info(&table) else { continue };
            for c in &src.columns {
                if let Some(r) = &c.references {
                    if seen.insert(r.table.clone()) || r.table == to {
                        let mut next = path.clone();
                        next.push(JoinStep {
                            from_table: table.clone(),
                            from_column: c.name.clone(),
                            to_table: r.table.clone(),
                            to_column: r.column.clone(),
                        });
                        queue.push_back((r.table.clone(), next));
                    }
                }
            }
        }
        None
    }
}

fn comparable(l: Type, r: Type) -> bool {
    if l == Type::Unknown || r == Type::Unknown {
        return true;
    }
    match (l, r) {
        (Type::Percent, t) | (t, Type::Percent) => t == Type::Percent,
        (Type::Duration, t) | (t, Type::Duration) => t == Type::Duration,
        _ => l.comparable(r),
    }
}

fn compare_help(l: Type, r: Type) -> String {
    match (l, r) {
        (Type::Percent, _) | (_, Type::Percent) => "a rate compares with a percentage, e.g. `error_rate < 1%`".into(),
        (Type::Duration, _) | (_, Type::Duration) => {
            "a latency compares with a duration, e.g. `p99_latency < 50ms`".into()
        }
        _ => format!("compare values of one type; `{l}` and `{r}` differ"),
    }
}

fn misplaced_call_help(kind: StdKind) -> &'static str {
    match kind {
        StdKind::Expectation => "expectations belong in `check` blocks (`expect unique(id)`)",
        StdKind::Aggregation => "aggregations compute features or check whole tables",
        _ => "this function is for feature and check expressions",
    }
}

/// The plan's operator for a syntax tree's.
fn ir_op(op: BinOp) -> mlpc_plan::BinaryOp {
    use mlpc_plan::BinaryOp as Ir;
    match op {
        BinOp::Or => Ir::Or,
        BinOp::And => Ir::And,
        BinOp::Eq => Ir::Eq,
        BinOp::Ne => Ir::Ne,
        BinOp::Lt => Ir::Lt,
        BinOp::Le => Ir::Le,
        BinOp::Gt => Ir::Gt,
        BinOp::Ge => Ir::Ge,
        BinOp::Add => Ir::Add,
        BinOp::Sub => Ir::Sub,
        BinOp::Mul => Ir::Mul,
        BinOp::Div => Ir::Div,
    }
}
