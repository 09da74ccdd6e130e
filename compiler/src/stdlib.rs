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
            _ => self.problems.push(format!("{path}: `{}` holds only parameters and attributes", e.name)),
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
    }
}
