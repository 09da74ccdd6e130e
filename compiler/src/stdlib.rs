//! The standard library: `stdlib/*.mlp`, embedded at build time and read with the
//! compiler's own parser. Every built-in name the checker knows comes from here.

use crate::ast::{ExprKind, ItemKind, StdKind, StmtKind};
use crate::source::{FileId, Span};
use crate::syntax;
use crate::types::{Task, Type};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The embedded stdlib files, as (virtual path, text).
pub const FILES: &[(&str, &str)] = &[
    ("stdlib/algorithms.mlp", include_str!("../../stdlib/algorithms.mlp")),
    ("stdlib/metrics.mlp", include_str!("../../stdlib/metrics.mlp")),
    ("stdlib/functions.mlp", include_str!("../../stdlib/functions.mlp")),
    ("stdlib/checks.mlp", include_str!("../../stdlib/checks.mlp")),
    ("stdlib/splits.mlp", include_str!("../../stdlib/splits.mlp")),
    ("stdlib/drift.mlp", include_str!("../../stdlib/drift.mlp")),
    ("stdlib/serving.mlp", include_str!("../../stdlib/serving.mlp")),
    ("stdlib/readers.mlp", include_str!("../../stdlib/readers.mlp")),
];

/// A parameter's accepted values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    Exact(Type),
    Numeric,
    Temporal,
    Ordered,
    Any,
    Table,
    DriftTest,
}

impl ParamType {
    fn from_name(name: &str) -> Option<ParamType> {
        Some(match name {
            "numeric" => ParamType::Numeric,
            "temporal" => ParamType::Temporal,
            "ordered" => ParamType::Ordered,
            "any" => ParamType::Any,
            "table" => ParamType::Table,
            "drift_test" => ParamType::DriftTest,
            other => ParamType::Exact(Type::from_name(other)?),
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            ParamType::Exact(t) => t.name(),
            ParamType::Numeric => "numeric",
            ParamType::Temporal => "temporal",
            ParamType::Ordered => "ordered",
            ParamType::Any => "any",
            ParamType::Table => "table",
            ParamType::DriftTest => "drift_test",
        }
    }
    pub fn admits(self, ty: Type) -> bool {
        match self {
            ParamType::Exact(t) => t.accepts(ty),
            ParamType::Numeric => ty.is_numeric(),
            ParamType::Temporal => ty.is_temporal(),
            ParamType::Ordered => ty.is_numeric() || ty.is_temporal() || matches!(ty, Type::String | Type::Category),
            ParamType::Any => true,
            ParamType::Table | ParamType::DriftTest => ty == Type::Unknown,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Param {
    pub name: String,
    pub ty: ParamType,
    /// The default as written, `None` when the parameter is required.
    pub default: Option<String>,
    pub doc: Option<String>,
    /// The values it accepts, from `expect NAME >= 1` lines after it; for a list, each item's.
    pub range: Range,
}

/// A numeric parameter's accepted values: `expect trees >= 1`, `expect max_bins between 2
/// and 255`, `expect learning_rate > 0`, `expect x > 0 and x <= 1` in a stdlib declaration.
/// The checker and the runtime both read it, so the stdlib is the one place it is written.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Range {
    /// The low bound, and whether the bound itself is excluded.
    pub min: Option<(f64, bool)>,
    /// The high bound, and whether the bound itself is excluded.
    pub max: Option<(f64, bool)>,
}

impl Range {
    pub fn is_empty(&self) -> bool {
        self.min.is_none() && self.max.is_none()
    }
    pub fn contains(&self, v: f64) -> bool {
        let low = self.min.is_none_or(|(m, strict)| if strict { v > m } else { v >= m });
        let high = self.max.is_none_or(|(m, strict)| if strict { v < m } else { v <= m });
        v.is_finite() && low && high
    }
    /// `at least 1`, `above 0`, `between 2 and 255`, `above 0 and at most 1`.
    pub fn describe(&self) -> String {
        let low = self.min.map(|(m, strict)| if strict { format!("above {m}") } else { format!("at least {m}") });
        let high = self.max.map(|(m, strict)| if strict { format!("below {m}") } else { format!("at most {m}") });
        match (self.min, self.max, low, high) {
            (Some((a, false)), Some((b, false)), _, _) => format!("between {a} and {b}"),
            (_, _, Some(l), Some(h)) => format!("{l} and {h}"),
            (_, _, Some(l), None) => l,
            (_, _, None, Some(h)) => h,
            _ => "any number".to_string(),
        }
    }
    /// `Err("`trees` must be at least 1, not 0")` for a value outside the range.
    pub fn check(&self, name: &str, v: f64) -> Result<(), String> {
        if self.contains(v) {
            Ok(())
        } else {
            Err(format!("`{name}` must be {}, not {v}", self.describe()))
        }
    }
}

/// One stdlib declaration.
#[derive(Clone, Debug)]
pub struct Entry {
    pub kind: StdKind,
    pub name: String,
    pub doc: Option<String>,
    pub params: Vec<Param>,
    pub variadic: bool,
    /// Expectations that read all rows at once (`unique`, `row_count`), like aggregations.
    pub whole_table: bool,
    /// `None`: the type of the first argument (`returns = same`).
    pub returns: Option<Type>,
    pub tasks: Vec<Task>,
    pub higher_is_better: bool,
    pub usable_in: Vec<String>,
    /// Drift tests: the column kinds (`numeric`, `categorical`) and the threshold.
    pub kinds: Vec<String>,
    pub threshold: Option<f64>,
    pub drift_when_below: bool,
    pub file: FileId,
    pub span: Span,
}

impl Entry {
    /// `name(param: type = default, …) -> returns`, for hover and signature help.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| match &p.default {
                Some(d) => format!("{}: {} = {d}", p.name, p.ty.name()),
                None => format!("{}: {}", p.name, p.ty.name()),
            })
            .collect();
        let dots = if self.variadic { ", …" } else { "" };
        let ret = match (self.kind, self.returns) {
            (StdKind::Algorithm, _) => String::new(),
            (_, Some(t)) => format!(" -> {t}"),
            (_, None) => " -> same".to_string(),
        };
        format!("{} {}({}{dots}){ret}", self.kind.keyword(), self.name, params.join(", "))
    }
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }
    pub fn applies_to(&self, task: Task) -> bool {
        self.tasks.contains(&task)
    }
}

#[derive(Debug, Default)]
pub struct Stdlib {
    entries: BTreeMap<(u8, String), Entry>,
    /// Problems in the stdlib itself; a test keeps this empty.
    pub problems: Vec<String>,
}

fn kind_key(kind: StdKind) -> u8 {
    kind as u8
}

impl Stdlib {
    /// The embedded stdlib, read once. File ids are the indices into [`FILES`].
    pub fn get() -> &'static Stdlib {
        static STD: OnceLock<Stdlib> = OnceLock::new();
        STD.get_or_init(|| Stdlib::load(FILES))
    }

    pub fn lookup(&self, kind: StdKind, name: &str) -> Option<&Entry> {
        self.entries.get(&(kind_key(kind), name.to_string()))
    }
    /// The first of `kinds` that declares `name`.
    pub fn lookup_any(&self, kinds: &[StdKind], name: &str) -> Option<&Entry> {
        kinds.iter().find_map(|k| self.lookup(*k, name))
    }
    pub fn names(&self, kind: StdKind) -> impl Iterator<Item = &str> {
        self.entries.values().filter(move |e| e.kind == kind).map(|e| e.name.as_str())
    }
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// Checks an algorithm's parameter values, as a plan carries them, against the ranges
    /// declared here: what `mlpc run` checks before training, worded as `mlpc check` words it.
    pub fn check_algorithm_params<'v>(
        &self,
        algorithm: &str,
        params: impl IntoIterator<Item = (&'v String, &'v serde_json::Value)>,
    ) -> Result<(), String> {
        let Some(entry) = self.lookup(StdKind::Algorithm, algorithm) else {
            return Err(format!("unknown algorithm `{algorithm}`"));
        };
        for (name, value) in params {
            let Some(p) = entry.param(name).filter(|p| !p.range.is_empty()) else { continue };
            let values: Vec<&serde_json::Value> = match value {
                serde_json::Value::Array(items) => items.iter().collect(),
                v => vec![v],
            };
            for v in values {
                if let Some(x) = v.as_f64() {
                    p.range.check(name, x).map_err(|e| format!("parameter {e}"))?;
                }
            }
        }
        Ok(())
    }

    fn load(files: &[(&str, &str)]) -> Stdlib {
        let mut std = Stdlib::default();
        for (i, (path, text)) in files.iter().enumerate() {
            let file = FileId(i as u32);
            let (ast, diags) = syntax::parse(text, file);
            for d in diags {
                std.problems.push(format!("{path}: {}", d.message));
            }
            for item in ast.items {
                let ItemKind::Stdlib { std: kind, name, body } = item.kind else {
                    std.problems.push(format!("{path}: only stdlib declarations belong here"));
                    continue;
                };
                let mut e = Entry {
                    kind,
                    name: name.name.clone(),
                    doc: item.doc,
                    params: Vec::new(),
                    variadic: false,
                    whole_table: false,
                    returns: None,
                    tasks: Vec::new(),
                    higher_is_better: true,
                    usable_in: Vec::new(),
                    kinds: Vec::new(),
                    threshold: None,
                    drift_when_below: false,
                    file,
                    span: name.span,
                };
                for stmt in body.iter().flat_map(|b| &b.stmts) {
                    std.read_stmt(path, &mut e, &stmt.kind, stmt.doc.clone());
                }
                std.entries.insert((kind_key(kind), e.name.clone()), e);
            }
        }
        std
    }

    fn read_stmt(&mut self, path: &str, e: &mut Entry, stmt: &StmtKind, doc: Option<String>) {
        match stmt {
            StmtKind::Typed { name, ty, value, .. } => match ParamType::from_name(&ty.name) {
                Some(pt) => e.params.push(Param {
                    name: name.name.clone(),
                    ty: pt,
                    default: value.as_ref().map(crate::format::expr_to_string),
                    doc,
                    range: Range::default(),
                }),
                None => self.problems.push(format!("{path}: unknown parameter type `{}`", ty.name)),
            },
            StmtKind::Assign { name, value } => {
                let words: Vec<String> = match &value.kind {
                    ExprKind::List { items } => items.iter().map(crate::format::expr_to_string).collect(),
                    _ => vec![crate::format::expr_to_string(value)],
                };
                let first = words.first().cloned().unwrap_or_default();
                match name.name.as_str() {
                    "tasks" => e.tasks = words.iter().filter_map(|w| Task::from_name(w)).collect(),
                    "returns" if first == "same" => e.returns = None,
                    "returns" => match Type::from_name(&first) {
                        Some(t) => e.returns = Some(t),
                        None => self.problems.push(format!("{path}: unknown return type `{first}`")),
                    },
                    "higher" => e.higher_is_better = first == "true",
                    "variadic" => e.variadic = first == "true",
                    "whole_table" => e.whole_table = first == "true",
                    "usable_in" => e.usable_in = words,
                    "kinds" => e.kinds = words,
                    "threshold" => e.threshold = first.parse().ok(),
                    "drift_when" => e.drift_when_below = first == "below",
                    other => self.problems.push(format!("{path}: unknown attribute `{other}`")),
                }
            }
            StmtKind::Expect { expr } => self.read_range(path, e, expr),
            _ => self.problems.push(format!("{path}: `{}` holds only parameters and attributes", e.name)),
        }
    }

    /// `expect NAME >= 1`, `expect NAME between 2 and 255`, `expect NAME > 0 and NAME <= 1`:
    /// the range of a parameter declared above it.
    fn read_range(&mut self, path: &str, e: &mut Entry, expr: &crate::ast::Expr) {
        use crate::ast::BinOp;
        let mut bounds: Vec<(String, Range)> = Vec::new();
        let mut todo = vec![expr];
        let mut ok = true;
        let name_of = |x: &crate::ast::Expr| match &x.kind {
            ExprKind::Path(p) if p.parts.len() == 1 => Some(p.parts[0].name.clone()),
            _ => None,
        };
        while let Some(x) = todo.pop() {
            match &x.kind {
                ExprKind::Binary { op: BinOp::And, lhs, rhs } => {
                    todo.push(rhs);
                    todo.push(lhs);
                }
                ExprKind::Binary { op, lhs, rhs } => match (name_of(lhs), rhs.number()) {
                    (Some(n), Some((v, _))) => match op {
                        BinOp::Ge => bounds.push((n, Range { min: Some((v, false)), max: None })),
                        BinOp::Gt => bounds.push((n, Range { min: Some((v, true)), max: None })),
                        BinOp::Le => bounds.push((n, Range { min: None, max: Some((v, false)) })),
                        BinOp::Lt => bounds.push((n, Range { min: None, max: Some((v, true)) })),
                        _ => ok = false,
                    },
                    _ => ok = false,
                },
                ExprKind::Between { expr, low, high } => match (name_of(expr), low.number(), high.number()) {
                    (Some(n), Some((a, _)), Some((b, _))) => {
                        bounds.push((n, Range { min: Some((a, false)), max: Some((b, false)) }))
                    }
                    _ => ok = false,
                },
                _ => ok = false,
            }
        }
        if !ok {
            self.problems.push(format!(
                "{path}: `{}`: an `expect` compares a parameter with numbers (`expect trees >= 1`)",
                e.name
            ));
            return;
        }
        for (name, Range { min, max }) in bounds {
            let Some(p) = e.params.iter_mut().find(|p| p.name == name) else {
                self.problems.push(format!("{path}: `{}`: `expect` on `{name}`, which is not declared above", e.name));
                continue;
            };
            p.range.min = min.or(p.range.min);
            p.range.max = max.or(p.range.max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stdlib_reads_clean() {
        let std = Stdlib::get();
        assert!(std.problems.is_empty(), "{:#?}", std.problems);
        let gb = std.lookup(StdKind::Algorithm, "gradient_boosting").unwrap();
        assert_eq!(gb.param("trees").unwrap().default.as_deref(), Some("100"));
        assert!(gb.applies_to(Task::Regression));
        assert!(!std.lookup(StdKind::Metric, "auc").unwrap().applies_to(Task::Regression));
        assert_eq!(std.lookup(StdKind::Aggregation, "sum").unwrap().returns, None);
        assert!(std.lookup(StdKind::Expectation, "unique").unwrap().variadic);
        for &kind in StdKind::ALL {
            assert!(std.names(kind).count() > 0, "no {kind:?} in stdlib");
        }
        assert!(std.entries().all(|e| e.doc.is_some()), "every stdlib item has a doc comment");
        assert_eq!(gb.param("trees").unwrap().range.describe(), "between 1 and 100000");
        assert_eq!(gb.param("learning_rate").unwrap().range.describe(), "above 0");
        let rf = std.lookup(StdKind::Algorithm, "random_forest").unwrap();
        assert_eq!(rf.param("max_features").unwrap().range.describe(), "above 0 and at most 1");
    }

    #[test]
    fn every_numeric_algorithm_parameter_has_a_range_holding_its_default() {
        let std = Stdlib::get();
        for e in std.entries().filter(|e| e.kind == StdKind::Algorithm) {
            for p in &e.params {
                if matches!(p.ty, ParamType::Exact(Type::Int | Type::Float | Type::List)) {
                    assert!(!p.range.is_empty(), "`{}.{}` declares no range", e.name, p.name);
                    let d: serde_json::Value = serde_json::from_str(p.default.as_deref().unwrap()).unwrap();
                    let params = [(p.name.clone(), d)];
                    let checked = std.check_algorithm_params(&e.name, params.iter().map(|(k, v)| (k, v)));
                    assert!(checked.is_ok(), "`{}.{}`: {checked:?}", e.name, p.name);
                }
            }
        }
        let bad = [("trees".to_string(), serde_json::json!(0))];
        let err = std.check_algorithm_params("gradient_boosting", bad.iter().map(|(k, v)| (k, v))).unwrap_err();
        assert_eq!(err, "parameter `trees` must be between 1 and 100000, not 0");
    }
}
