//! The standard library: `stdlib/*.mlp`, embedded at build time and read with the
//! compiler's own parser. Every built-in name the checker knows comes from here.

use crate::ast::{Expr, ExprKind, Ident, ItemKind, StdKind, Stmt, StmtKind};
use crate::diagnostic::{suggest, Code, Diagnostic};
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
    /// Problems in the stdlib itself, located in [`FILES`] by file id; each refuses its
    /// entry. A test keeps this empty.
    pub diagnostics: Vec<Diagnostic>,
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

    /// Reads stdlib files (path, text); file ids are their indices. An entry with a problem
    /// (an unknown or repeated attribute, a value the attribute does not take, a missing
    /// one) is refused: it is reported in `diagnostics` and left out.
    fn load(files: &[(&str, &str)]) -> Stdlib {
        let mut std = Stdlib::default();
        for (i, (_, text)) in files.iter().enumerate() {
            let file = FileId(i as u32);
            let (ast, diags) = syntax::parse(text, file);
            std.diagnostics.extend(diags);
            for item in ast.items {
                let ItemKind::Stdlib { std: kind, name, body } = item.kind else {
                    if !matches!(item.kind, ItemKind::Error { .. }) {
                        let keyword = Span::new(item.span.start, item.span.start + item.kind.keyword().len());
                        std.diagnostics.push(
                            Diagnostic::new(Code::E0015, file, keyword, "only stdlib declarations belong in `stdlib/`")
                                .label("not a stdlib declaration")
                                .help("declare built-ins with `algorithm`, `metric`, `drift_test`, `reader`, …"),
                        );
                    }
                    continue;
                };
                let errors_before = std.diagnostics.len();
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
                let mut given: Vec<(&str, Span)> = Vec::new();
                for stmt in body.iter().flat_map(|b| &b.stmts) {
                    std.read_stmt(file, &mut e, stmt, &mut given);
                }
                std.require(file, &e, &given);
                if let Some(first) = std.lookup(kind, &e.name) {
                    let d = Diagnostic::new(
                        Code::E0003,
                        file,
                        e.span,
                        format!("{} `{}` is declared twice", kind.keyword(), e.name),
                    )
                    .label("again here")
                    .secondary(first.file, first.span, "first declared here")
                    .help("keep one");
                    std.diagnostics.push(d);
                } else if std.diagnostics.len() == errors_before {
                    std.entries.insert((kind_key(kind), e.name.clone()), e);
                }
            }
        }
        std
    }

    fn read_stmt<'s>(&mut self, file: FileId, e: &mut Entry, stmt: &'s Stmt, given: &mut Vec<(&'s str, Span)>) {
        match &stmt.kind {
            StmtKind::Typed { name, ty, value, .. } => match ParamType::from_name(&ty.name) {
                Some(pt) => e.params.push(Param {
                    name: name.name.clone(),
                    ty: pt,
                    default: value.as_ref().map(crate::format::expr_to_string),
                    doc: stmt.doc.clone(),
                    range: Range::default(),
                }),
                None => self.diagnostics.push(
                    Diagnostic::new(Code::E0002, file, ty.span, format!("unknown parameter type `{}`", ty.name))
                        .label("not a type")
                        .help("a parameter's type is a column type or one of: numeric, temporal, ordered, any, table, drift_test"),
                ),
            },
            StmtKind::Assign { name, value } => {
                if let Some((_, first)) = given.iter().find(|(n, _)| *n == name.name) {
                    self.diagnostics.push(
                        Diagnostic::new(Code::E0003, file, name.span, format!("`{}` is given twice", name.name))
                            .label("again here")
                            .secondary(file, *first, "first given here")
                            .help("keep one"),
                    );
                    return;
                }
                given.push((&name.name, name.span));
                self.read_attribute(file, e, &name.name, name.span, value);
            }
            StmtKind::Expect { expr } => self.read_range(file, e, expr),
            _ => self.diagnostics.push(
                Diagnostic::new(Code::E0015, file, stmt.span, format!("`{}` holds only parameters and attributes", e.name))
                    .label("not a parameter or attribute")
                    .help("write parameters as `name: type = default` and attributes as `key = value`"),
            ),
        }
    }

    /// `key = value` in a stdlib declaration: one of the attributes its kind takes, with a
    /// value that attribute accepts.
    fn read_attribute(&mut self, file: FileId, e: &mut Entry, key: &str, key_span: Span, value: &Expr) {
        let takes = attributes(e.kind);
        if !takes.contains(&key) {
            let d = Diagnostic::new(
                Code::E0015,
                file,
                key_span,
                format!("`{key}` is not an attribute of `{}` declarations", e.kind.keyword()),
            )
            .label("unknown attribute");
            self.diagnostics.push(match suggest(key, takes.iter().copied()) {
                Some(best) => {
                    d.help(format!("did you mean `{best}`?")).fix(format!("replace with `{best}`"), key_span, best)
                }
                None if takes.is_empty() => {
                    d.help(format!("`{}` declarations take parameters only (`name: type = default`)", e.kind.keyword()))
                }
                None => d.help(format!("`{}` declarations take: {}", e.kind.keyword(), takes.join(", "))),
            });
            return;
        }
        let word = |x: &Expr| (crate::format::expr_to_string(x), x.span);
        let words: Vec<(String, Span)> = match &value.kind {
            ExprKind::List { items } => items.iter().map(word).collect(),
            _ => vec![word(value)],
        };
        let whole = word(value);
        match key {
            "tasks" => {
                let names = ["classification", "regression"];
                e.tasks = words
                    .iter()
                    .filter_map(|w| self.one_of(file, key, w, &names))
                    .filter_map(|w| Task::from_name(&w))
                    .collect();
            }
            "kinds" => e.kinds = words.iter().filter_map(|w| self.one_of(file, key, w, DRIFT_KINDS)).collect(),
            "usable_in" => e.usable_in = words.into_iter().map(|(w, _)| w).collect(),
            "returns" if whole.0 == "same" => e.returns = None,
            "returns" => match Type::from_name(&whole.0) {
                Some(t) => e.returns = Some(t),
                None => self.diagnostics.push(
                    Diagnostic::new(Code::E0002, file, whole.1, format!("unknown return type `{}`", whole.0))
                        .label("not a type")
                        .help("`returns` is a column type, or `same` for the type of the first argument"),
                ),
            },
            "threshold" => match value.number() {
                Some((t, _)) => e.threshold = Some(t),
                None => self.diagnostics.push(
                    Diagnostic::new(Code::E0019, file, value.span, "`threshold` takes a number")
                        .label("not a number")
                        .help(attribute_help(key)),
                ),
            },
            "drift_when" => {
                if let Some(w) = self.one_of(file, key, &whole, &["above", "below"]) {
                    e.drift_when_below = w == "below";
                }
            }
            _ => {
                if let Some(w) = self.one_of(file, key, &whole, &["true", "false"]) {
                    let flag = w == "true";
                    match key {
                        "higher" => e.higher_is_better = flag,
                        "variadic" => e.variadic = flag,
                        _ => e.whole_table = flag,
                    }
                }
            }
        }
    }

    /// `word` when `key` takes it, else `None`, reported.
    fn one_of(&mut self, file: FileId, key: &str, (word, span): &(String, Span), allowed: &[&str]) -> Option<String> {
        if allowed.contains(&word.as_str()) {
            return Some(word.clone());
        }
        self.diagnostics.push(
            Diagnostic::new(Code::E0019, file, *span, format!("`{key}` takes {}, not `{word}`", or_list(allowed)))
                .label("not accepted here")
                .help(attribute_help(key)),
        );
        None
    }

    /// The attributes a declaration of its kind cannot do without.
    fn require(&mut self, file: FileId, e: &Entry, given: &[(&str, Span)]) {
        let missing: Vec<&str> =
            required(e.kind).iter().copied().filter(|r| !given.iter().any(|(g, _)| g == r)).collect();
        if missing.is_empty() {
            return;
        }
        let listed: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
        self.diagnostics.push(
            Diagnostic::new(
                Code::E0016,
                file,
                e.span,
                format!("{} `{}` has no {}", e.kind.keyword(), e.name, listed.join(" and ")),
            )
            .label(format!("needs {}", listed.join(" and ")))
            .help(missing.iter().map(|m| attribute_help(m)).collect::<Vec<_>>().join("; ")),
        );
    }
    /// `expect NAME >= 1`, `expect NAME between 2 and 255`, `expect NAME > 0 and NAME <= 1`:
    /// the range of a parameter declared above it.
    fn read_range(&mut self, file: FileId, e: &mut Entry, expr: &Expr) {
        use crate::ast::BinOp;
        let mut bounds: Vec<(&Ident, Range)> = Vec::new();
        let mut todo = vec![expr];
        fn name_of(x: &Expr) -> Option<&Ident> {
            match &x.kind {
                ExprKind::Path(p) if p.parts.len() == 1 => p.parts.first(),
                _ => None,
            }
        }
        while let Some(x) = todo.pop() {
            let bound = match &x.kind {
                ExprKind::Binary { op: BinOp::And, lhs, rhs } => {
                    todo.push(rhs);
                    todo.push(lhs);
                    continue;
                }
                ExprKind::Binary { op, lhs, rhs } => match (name_of(lhs), rhs.number()) {
                    (Some(n), Some((v, _))) => match op {
                        BinOp::Ge => Some((n, Range { min: Some((v, false)), max: None })),
                        BinOp::Gt => Some((n, Range { min: Some((v, true)), max: None })),
                        BinOp::Le => Some((n, Range { min: None, max: Some((v, false)) })),
                        BinOp::Lt => Some((n, Range { min: None, max: Some((v, true)) })),
                        _ => None,
                    },
                    _ => None,
                },
                ExprKind::Between { expr, low, high } => match (name_of(expr), low.number(), high.number()) {
                    (Some(n), Some((a, _)), Some((b, _))) => {
                        Some((n, Range { min: Some((a, false)), max: Some((b, false)) }))
                    }
                    _ => None,
                },
                _ => None,
            };
            let Some(bound) = bound else {
                self.diagnostics.push(
                    Diagnostic::new(Code::E0019, file, x.span, "an `expect` compares a parameter with numbers")
                        .label("not a bound")
                        .help("write e.g. `expect trees >= 1` or `expect max_bins between 2 and 255`"),
                );
                return;
            };
            bounds.push(bound);
        }
        for (name, Range { min, max }) in bounds {
            let Some(p) = e.params.iter_mut().find(|p| p.name == name.name) else {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::E0002,
                        file,
                        name.span,
                        format!("`expect` on `{}`, which is not declared above", name.name),
                    )
                    .label("not a parameter")
                    .help("declare the parameter before its `expect` line"),
                );
                continue;
            };
            p.range.min = min.or(p.range.min);
            p.range.max = max.or(p.range.max);
        }
    }
}

/// The attributes (`key = value`) each kind of stdlib declaration takes.
fn attributes(kind: StdKind) -> &'static [&'static str] {
    match kind {
        StdKind::Algorithm => &["tasks"],
        StdKind::Metric => &["tasks", "higher"],
        StdKind::Aggregation | StdKind::ServingMetric => &["returns"],
        StdKind::Function => &["returns", "usable_in"],
        StdKind::Expectation => &["returns", "variadic", "whole_table"],
        StdKind::DriftTest => &["kinds", "threshold", "drift_when"],
        StdKind::Splitter | StdKind::Reader => &[],
    }
}

/// The attributes a declaration of each kind must give.
fn required(kind: StdKind) -> &'static [&'static str] {
    match kind {
        StdKind::DriftTest => &["kinds", "threshold", "drift_when"],
        _ => &[],
    }
}

/// The column kinds a drift test may apply to.
const DRIFT_KINDS: &[&str] = &["numeric", "categorical"];

/// What an attribute takes, for help lines.
fn attribute_help(key: &str) -> &'static str {
    match key {
        "tasks" => "`tasks` lists `classification` and/or `regression`",
        "kinds" => "`kinds` lists the column kinds the test applies to: `numeric` and/or `categorical`",
        "threshold" => "`threshold` is the score at which a column counts as drifted, e.g. `threshold = 0.05`",
        "drift_when" => {
            "`drift_when = above` for a distance (drift when large), `below` for a p-value (drift when small)"
        }
        _ => "`true` or `false`",
    }
}

/// `a`, `a or b`, `a, b or c`, each in backticks.
fn or_list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stdlib_reads_clean() {
        let std = Stdlib::get();
        assert!(std.diagnostics.is_empty(), "{:#?}", std.diagnostics);
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

    /// Loads one stdlib text and checks that its entry is refused with exactly `want`:
    /// (code, the text the diagnostic points at, message).
    fn assert_refused(text: &str, want: &[(Code, &str, &str)]) {
        let std = Stdlib::load(&[("stdlib/test.mlp", text)]);
        let mut got: Vec<(Code, &str, &str)> = std
            .diagnostics
            .iter()
            .map(|d| (d.code, &text[d.primary.span.start..d.primary.span.end], d.message.as_str()))
            .collect();
        let mut want = want.to_vec();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{text}");
        assert!(std.entries().next().is_none(), "refused: {text}");
    }

    #[test]
    fn an_entry_with_an_unknown_or_bad_attribute_is_refused_where_it_is_wrong() {
        assert_refused(
            "drift_test psi { kinds = [numeric]; threshold = 0.1; drift_when = above; thresold = 0.2 }",
            &[(Code::E0015, "thresold", "`thresold` is not an attribute of `drift_test` declarations")],
        );
        assert_refused(
            "drift_test psi { kinds = [numeric]; threshold = 0.1; drift_whenn = above }",
            &[
                (Code::E0016, "psi", "drift_test `psi` has no `drift_when`"),
                (Code::E0015, "drift_whenn", "`drift_whenn` is not an attribute of `drift_test` declarations"),
            ],
        );
        assert_refused(
            "drift_test psi { kinds = [numeric]; threshold = 0.1; drift_when = sideways }",
            &[(Code::E0019, "sideways", "`drift_when` takes `above` or `below`, not `sideways`")],
        );
        assert_refused(
            "drift_test psi { kinds = [numeric, text]; threshold = 0.1; drift_when = above }",
            &[(Code::E0019, "text", "`kinds` takes `numeric` or `categorical`, not `text`")],
        );
        assert_refused(
            "drift_test psi { kinds = [numeric] }",
            &[(Code::E0016, "psi", "drift_test `psi` has no `threshold` and `drift_when`")],
        );
        assert_refused(
            "algorithm fast { tasks = [classification]\n trees: int = 1\n treees = 2 }",
            &[(Code::E0015, "treees", "`treees` is not an attribute of `algorithm` declarations")],
        );
        assert_refused(
            "reader csv { path: string\n delimter = \",\" }",
            &[(Code::E0015, "delimter", "`delimter` is not an attribute of `reader` declarations")],
        );
        assert_refused(
            "metric auc { tasks = [clasification]; higher = true; higher = false }",
            &[
                (Code::E0019, "clasification", "`tasks` takes `classification` or `regression`, not `clasification`"),
                (Code::E0003, "higher", "`higher` is given twice"),
            ],
        );
    }

    #[test]
    fn a_second_entry_of_a_name_is_refused() {
        let std = Stdlib::load(&[(
            "stdlib/test.mlp",
            "splitter random { seed: int = 0 }\nsplitter random { seed: int = 1 }",
        )]);
        let messages: Vec<&str> = std.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages, ["splitter `random` is declared twice"]);
        let kept = std.lookup(StdKind::Splitter, "random").and_then(|e| e.param("seed")?.default.clone());
        assert_eq!(kept.as_deref(), Some("0"));
    }

    /// A compiler file system holding one program.
    struct Program(String);
    impl crate::FileSystem for Program {
        fn read_to_string(&self, _path: &str) -> Result<String, String> {
            Ok(self.0.clone())
        }
    }

    #[test]
    fn every_drift_test_is_accepted_on_the_column_kinds_it_lists() {
        let std = Stdlib::get();
        let column = |kind: &str| if kind == "numeric" { "monthly_spend" } else { "plan" };
        let alerts: Vec<String> = std
            .entries()
            .filter(|e| e.kind == StdKind::DriftTest)
            .flat_map(|e| e.kinds.iter().map(|k| format!("  alert when drift({}, {}) > 0.2\n", column(k), e.name)))
            .collect();
        assert!(alerts.iter().any(|a| a.contains("z_test")), "{alerts:?}");
        let program = format!(
            "source customers = csv(\"customers.csv\") {{\n  customer_id: int key\n  plan: category\n  monthly_spend: float\n  churned: bool\n}}\n\
             dataset churn_data = customers {{\n  label = churned\n  split = random(train = 80%, test = 20%)\n}}\n\
             model churn_model = logistic_regression() {{\n  train = churn_data.train\n  inputs = [monthly_spend, plan]\n}}\n\
             register churn_model as \"churn\" {{}}\n\
             serve \"churn\" {{\n  stage = production\n}}\n\
             monitor churn_drift on \"churn\" {{\n  every = 1h\n  window = 24h\n{}}}\n",
            alerts.concat()
        );
        let c = crate::compile("p.mlp", &Program(program.clone()));
        let messages: Vec<&str> = c.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert!(messages.is_empty(), "{program}\n{messages:#?}");
    }
}
