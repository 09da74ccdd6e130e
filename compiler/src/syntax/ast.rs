//! The syntax tree. Every node keeps its span; recovered regions stay in the tree as
//! `Error` items and statements so nothing of the text is lost.

use crate::source::Span;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct File {
    pub items: Vec<Item>,
    pub comments: Vec<Comment>,
}

/// A `//` or `///` comment, kept for the formatter and for doc lookup.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comment {
    pub text: String,
    pub span: Span,
    pub doc: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Item {
    pub kind: ItemKind,
    /// The `///` lines right above the declaration, without the slashes.
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StdKind {
    Algorithm,
    Metric,
    Aggregation,
    Function,
    Expectation,
    Splitter,
    DriftTest,
    ServingMetric,
    Reader,
}

impl StdKind {
    pub fn keyword(self) -> &'static str {
        match self {
            StdKind::Algorithm => "algorithm",
            StdKind::Metric => "metric",
            StdKind::Aggregation => "aggregation",
            StdKind::Function => "function",
            StdKind::Expectation => "expectation",
            StdKind::Splitter => "splitter",
            StdKind::DriftTest => "drift_test",
            StdKind::ServingMetric => "serving_metric",
            StdKind::Reader => "reader",
        }
    }
    pub fn from_keyword(word: &str) -> Option<StdKind> {
        StdKind::ALL.iter().copied().find(|k| k.keyword() == word)
    }

    /// Every kind, in declaration order.
    pub const ALL: &'static [StdKind] = &[
        StdKind::Algorithm,
        StdKind::Metric,
        StdKind::Aggregation,
        StdKind::Function,
        StdKind::Expectation,
        StdKind::Splitter,
        StdKind::DriftTest,
        StdKind::ServingMetric,
        StdKind::Reader,
    ];
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ItemKind {
    Pipeline {
        name: Ident,
        body: Option<Body>,
    },
    Import {
        path: StrLit,
    },
    Source {
        name: Ident,
        reader: Call,
        body: Body,
    },
    Check {
        target: Ident,
        body: Body,
    },
    Features {
        name: Ident,
        entity: Ident,
        body: Body,
    },
    Dataset {
        name: Ident,
        base: Ident,
        views: Vec<Ident>,
        body: Option<Body>,
    },
    Model {
        name: Ident,
        algorithm: Call,
        body: Option<Body>,
    },
    Evaluate {
        model: Ident,
        data: Path,
        body: Option<Body>,
    },
    Register {
        model: Ident,
        registered: StrLit,
        body: Option<Body>,
    },
    Serve {
        registered: StrLit,
        body: Option<Body>,
    },
    Monitor {
        name: Ident,
        registered: StrLit,
        body: Option<Body>,
    },
    /// `score NAME on "REGISTERED" { … }`: a batch scoring job.
    Score {
        name: Ident,
        registered: StrLit,
        body: Option<Body>,
    },
    Stdlib {
        std: StdKind,
        name: Ident,
        body: Option<Body>,
    },
    /// Text at top level that no declaration rule matched; kept verbatim.
    Error {
        text: String,
    },
}

impl ItemKind {
    /// The declaration keyword, as written.
    pub fn keyword(&self) -> &'static str {
        match self {
            ItemKind::Pipeline { .. } => "pipeline",
            ItemKind::Import { .. } => "import",
            ItemKind::Source { .. } => "source",
            ItemKind::Check { .. } => "check",
            ItemKind::Features { .. } => "features",
            ItemKind::Dataset { .. } => "dataset",
            ItemKind::Model { .. } => "model",
            ItemKind::Evaluate { .. } => "evaluate",
            ItemKind::Register { .. } => "register",
            ItemKind::Serve { .. } => "serve",
            ItemKind::Monitor { .. } => "monitor",
            ItemKind::Score { .. } => "score",
            ItemKind::Stdlib { std, .. } => std.keyword(),
            ItemKind::Error { .. } => "",
        }
    }
    /// The kind and name of a declaration that enters the top-level namespace.
    pub fn declared_name(&self) -> Option<(&'static str, &Ident)> {
        match self {
            ItemKind::Pipeline { name, .. } => Some(("pipeline", name)),
            ItemKind::Source { name, .. } => Some(("source", name)),
            ItemKind::Features { name, .. } => Some(("features", name)),
            ItemKind::Dataset { name, .. } => Some(("dataset", name)),
            ItemKind::Model { name, .. } => Some(("model", name)),
            ItemKind::Monitor { name, .. } => Some(("monitor", name)),
            ItemKind::Score { name, .. } => Some(("score", name)),
            _ => None,
        }
    }

    pub fn body(&self) -> Option<&Body> {
        match self {
            ItemKind::Source { body, .. } | ItemKind::Check { body, .. } | ItemKind::Features { body, .. } => {
                Some(body)
            }
            ItemKind::Pipeline { body, .. }
            | ItemKind::Dataset { body, .. }
            | ItemKind::Model { body, .. }
            | ItemKind::Evaluate { body, .. }
            | ItemKind::Register { body, .. }
            | ItemKind::Serve { body, .. }
            | ItemKind::Monitor { body, .. }
            | ItemKind::Score { body, .. }
            | ItemKind::Stdlib { body, .. } => body.as_ref(),
            ItemKind::Import { .. } | ItemKind::Error { .. } => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Body {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stmt {
    pub kind: StmtKind,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StmtKind {
    /// `name: type markers… (= expr)?`: a column, a feature or a stdlib parameter.
    Typed {
        name: Ident,
        ty: Ident,
        markers: Vec<Marker>,
        value: Option<Expr>,
    },
    Assign {
        name: Ident,
        value: Expr,
    },
    Expect {
        expr: Expr,
    },
    Slice {
        columns: Vec<Ident>,
    },
    Promote {
        stage: Option<Ident>,
        cond: Expr,
    },
    Rollback {
        cond: Expr,
    },
    Alert {
        cond: Expr,
        action: Option<Action>,
    },
    Block {
        name: Ident,
        body: Body,
    },
    /// A statement no rule matched; kept verbatim.
    Error {
        text: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Marker {
    Key { span: Span },
    Time { span: Span },
    References { target: Path },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    Retrain { model: Ident },
    Rollback { span: Span },
}

/// `a.b.c`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Path {
    pub parts: Vec<Ident>,
    pub span: Span,
}

impl Path {
    pub fn text(&self) -> String {
        self.parts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(".")
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Call {
    pub func: Ident,
    pub args: Vec<Arg>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DurationUnit {
    Ms,
    S,
    M,
    H,
    D,
    W,
}

impl DurationUnit {
    pub fn suffix(self) -> &'static str {
        match self {
            DurationUnit::Ms => "ms",
            DurationUnit::S => "s",
            DurationUnit::M => "m",
            DurationUnit::H => "h",
            DurationUnit::D => "d",
            DurationUnit::W => "w",
        }
    }
    pub fn millis(self) -> u64 {
        match self {
            DurationUnit::Ms => 1,
            DurationUnit::S => 1_000,
            DurationUnit::M => 60_000,
            DurationUnit::H => 3_600_000,
            DurationUnit::D => 86_400_000,
            DurationUnit::W => 604_800_000,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Duration {
    pub value: u64,
    pub unit: DurationUnit,
    pub span: Span,
}

impl Duration {
    pub fn millis(&self) -> u64 {
        self.value.saturating_mul(self.unit.millis())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }
    /// Binding strength: higher binds tighter.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 4,
            BinOp::Add | BinOp::Sub => 5,
            BinOp::Mul | BinOp::Div => 6,
        }
    }
    pub fn is_comparison(self) -> bool {
        self.precedence() == 4
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExprKind {
    /// A number, with its text kept so it prints back as written.
    Number {
        text: String,
        value: f64,
        integer: bool,
    },
    Percent {
        text: String,
        value: f64,
    },
    Duration(Duration),
    Str {
        value: String,
    },
    Bool {
        value: bool,
    },
    List {
        items: Vec<Expr>,
    },
    Call(Call),
    Path(Path),
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
    },
    /// `agg(...) over 90d`: a time window on an aggregation.
    Over {
        expr: Box<Expr>,
        window: Duration,
    },
}

impl Expr {
    /// A number literal, negated or not, as (value, is it whole).
    pub fn number(&self) -> Option<(f64, bool)> {
        match &self.kind {
            ExprKind::Number { value, integer, .. } => Some((*value, *integer)),
            ExprKind::Unary { op: UnaryOp::Neg, expr } => expr.number().map(|(v, i)| (-v, i)),
            _ => None,
        }
    }

    /// Calls `f` on this expression and every expression inside it, outermost first.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        match &self.kind {
            ExprKind::List { items } => items.iter().for_each(|e| e.walk(f)),
            ExprKind::Call(c) => c.args.iter().for_each(|a| a.value.walk(f)),
            ExprKind::Unary { expr, .. } | ExprKind::Over { expr, .. } => expr.walk(f),
            ExprKind::Binary { lhs, rhs, .. } => {
                lhs.walk(f);
                rhs.walk(f);
            }
            ExprKind::Between { expr, low, high } => {
                expr.walk(f);
                low.walk(f);
                high.walk(f);
            }
            _ => {}
        }
    }
}

impl Item {
    /// Every call in the declaration: its header's and those inside its statements.
    pub fn calls(&self) -> Vec<&Call> {
        let mut out = Vec::new();
        match &self.kind {
            ItemKind::Source { reader: c, .. } | ItemKind::Model { algorithm: c, .. } => {
                out.push(c);
                c.args.iter().for_each(|a| a.value.walk(&mut |e| push_call(e, &mut out)));
            }
            _ => {}
        }
        if let Some(body) = self.kind.body() {
            body.walk_exprs(&mut |e| push_call(e, &mut out));
        }
        out
    }
}

fn push_call<'a>(e: &'a Expr, out: &mut Vec<&'a Call>) {
    if let ExprKind::Call(c) = &e.kind {
        out.push(c);
    }
}

impl Body {
    /// Calls `f` on every expression in the block's statements, nested blocks included.
    pub fn walk_exprs<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        for s in &self.stmts {
            match &s.kind {
                StmtKind::Typed { value: Some(e), .. }
                | StmtKind::Assign { value: e, .. }
                | StmtKind::Expect { expr: e }
                | StmtKind::Promote { cond: e, .. }
                | StmtKind::Rollback { cond: e }
                | StmtKind::Alert { cond: e, .. } => e.walk(f),
                StmtKind::Block { body, .. } => body.walk_exprs(f),
                _ => {}
            }
        }
    }
}
