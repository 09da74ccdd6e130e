//! The typed expression IR: every name resolved, every operator an enum. Features, checks,
//! promotion rules, canary gates and monitor alerts are all written in it; `eval` evaluates
//! conditions, `sql` prints data expressions, and `Display` writes one back as a user would.

use crate::types::Type;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A typed expression, with every name resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum TExpr {
    /// A column of the row's own table.
    Column {
        name: String,
        #[serde(rename = "type")]
        ty: Type,
    },
    Feature {
        view: String,
        name: String,
        #[serde(rename = "type")]
        ty: Type,
    },
    Table {
        name: String,
    },
    /// A column of a parent table, one row per entity row, reached along `join` (the
    /// entity references the parent). `as_of`: the parent row current at the entity's time.
    Lookup {
        table: String,
        column: String,
        join: Vec<JoinStep>,
        as_of: bool,
        #[serde(rename = "type")]
        ty: Type,
    },
    /// A column of a related table (only inside an aggregation).
    Related {
        table: String,
        column: String,
        #[serde(rename = "type")]
        ty: Type,
    },
    /// An aggregation of the stdlib over `table`, joined to the entity along `join`,
    /// optionally over the window before each entity row's time.
    Aggregate {
        func: String,
        table: String,
        args: Vec<TExpr>,
        join: Vec<JoinStep>,
        window_ms: Option<u64>,
        #[serde(rename = "type")]
        ty: Type,
    },
    /// A function of the stdlib.
    Call {
        func: String,
        args: Vec<TExpr>,
        #[serde(rename = "type")]
        ty: Type,
    },
    Unary {
        operator: UnaryOp,
        arg: Box<TExpr>,
        #[serde(rename = "type")]
        ty: Type,
    },
    Binary {
        operator: BinaryOp,
        lhs: Box<TExpr>,
        rhs: Box<TExpr>,
        #[serde(rename = "type")]
        ty: Type,
    },
    Between {
        arg: Box<TExpr>,
        low: Box<TExpr>,
        high: Box<TExpr>,
    },
    /// A literal; percentages are fractions (1% → 0.01), durations milliseconds.
    Literal {
        value: serde_json::Value,
        #[serde(rename = "type")]
        ty: Type,
    },
    List {
        items: Vec<TExpr>,
    },
    /// A model metric; `stage` reads the version currently at that stage.
    Metric {
        name: String,
        stage: Option<String>,
    },
    ServingMetric {
        name: String,
        #[serde(rename = "type")]
        ty: Type,
    },
    DriftTest {
        name: String,
    },
    /// Whether a person approved the version (`mlpc approve`).
    Approved,
}

/// A prefix operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum UnaryOp {
    #[serde(rename = "-")]
    Neg,
    #[serde(rename = "not")]
    Not,
}

/// An infix operator, serialized as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum BinaryOp {
    #[serde(rename = "+")]
    Add,
    #[serde(rename = "-")]
    Sub,
    #[serde(rename = "*")]
    Mul,
    #[serde(rename = "/")]
    Div,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "and")]
    And,
    #[serde(rename = "or")]
    Or,
}

impl UnaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Not => "not",
        }
    }
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
        }
    }

    /// How tightly it binds: `or` < `and` < comparisons < `+ -` < `* /`.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul | BinaryOp::Div => 5,
            _ => 3,
        }
    }

    /// The comparison it makes on two numbers, for the comparison operators.
    pub fn compare(self, a: f64, b: f64) -> Option<bool> {
        Some(match self {
            BinaryOp::Lt => a < b,
            BinaryOp::Le => a <= b,
            BinaryOp::Gt => a > b,
            BinaryOp::Ge => a >= b,
            BinaryOp::Eq => a == b,
            BinaryOp::Ne => a != b,
            _ => return None,
        })
    }

    /// The arithmetic it does on two numbers; `None` for `x / 0` and non-arithmetic operators.
    pub fn arithmetic(self, a: f64, b: f64) -> Option<f64> {
        match self {
            BinaryOp::Add => Some(a + b),
            BinaryOp::Sub => Some(a - b),
            BinaryOp::Mul => Some(a * b),
            BinaryOp::Div if b != 0.0 => Some(a / b),
            _ => None,
        }
    }

    pub fn is_arithmetic(self) -> bool {
        matches!(self, BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div)
    }
}

/// One hop of a key path: `from_table.from_column` references `to_table.to_column`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JoinStep {
    pub from_table: String,
    pub from_column: String,
    pub to_table: String,
    pub to_column: String,
}

impl TExpr {
    pub fn lit(value: serde_json::Value, ty: Type) -> TExpr {
        TExpr::Literal { value, ty }
    }

    /// The expressions directly inside this one.
    pub fn children(&self) -> Vec<&TExpr> {
        match self {
            TExpr::Aggregate { args, .. } | TExpr::Call { args, .. } => args.iter().collect(),
            TExpr::List { items } => items.iter().collect(),
            TExpr::Unary { arg, .. } => vec![arg],
            TExpr::Binary { lhs, rhs, .. } => vec![lhs, rhs],
            TExpr::Between { arg, low, high } => vec![arg, low, high],
            _ => Vec::new(),
        }
    }

    /// This expression and every one inside it, outermost first.
    pub fn walk(&self) -> Vec<&TExpr> {
        let mut out = vec![self];
        let mut i = 0;
        while i < out.len() {
            out.extend(out[i].children());
            i += 1;
        }
        out
    }
}

/// A number as people read it: at most four decimals, no trailing zeros.
pub fn show_number(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// Milliseconds in the largest unit that divides them: `90d`, `30m`, `250ms`.
pub fn show_duration(ms: u64) -> String {
    let units = [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)];
    match units.iter().find(|(_, size)| ms > 0 && ms.is_multiple_of(*size)) {
        Some((unit, size)) => format!("{}{unit}", ms / size),
        None => format!("{ms}ms"),
    }
}

/// The expression as it would be written in the pipeline.
impl fmt::Display for TExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |items: &[TExpr]| items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        match self {
            TExpr::Metric { name, stage: None } => write!(f, "{name}"),
            TExpr::Metric { name, stage: Some(s) } => write!(f, "{s}.{name}"),
            TExpr::Approved => write!(f, "approved"),
            TExpr::Literal { value: serde_json::Value::Number(n), .. } => {
                write!(f, "{}", show_number(n.as_f64().unwrap_or(f64::NAN)))
            }
            TExpr::Literal { value, .. } => write!(f, "{value}"),
            TExpr::Unary { operator: UnaryOp::Not, arg, .. } => write!(f, "not {}", Operand(arg, 6, false)),
            TExpr::Unary { operator, arg, .. } => write!(f, "{}{}", operator.symbol(), Operand(arg, 6, false)),
            TExpr::Binary { operator, lhs, rhs, .. } => {
                let p = operator.precedence();
                write!(f, "{} {} {}", Operand(lhs, p, false), operator.symbol(), Operand(rhs, p, true))
            }
            TExpr::Between { arg, low, high } => write!(f, "{arg} between {low} and {high}"),
            TExpr::Column { name, .. }
            | TExpr::Table { name }
            | TExpr::ServingMetric { name, .. }
            | TExpr::DriftTest { name } => write!(f, "{name}"),
            TExpr::Feature { view, name, .. } => write!(f, "{view}.{name}"),
            TExpr::Lookup { table, column, .. } | TExpr::Related { table, column, .. } => {
                write!(f, "{table}.{column}")
            }
            TExpr::Call { func, args, .. } | TExpr::Aggregate { func, args, window_ms: None, .. } => {
                write!(f, "{func}({})", list(args))
            }
            TExpr::Aggregate { func, args, window_ms: Some(ms), .. } => {
                write!(f, "{func}({}) over {}", list(args), show_duration(*ms))
            }
            TExpr::List { items } => write!(f, "[{}]", list(items)),
        }
    }
}

/// An operand, parenthesized when its operator binds less tightly than its parent's
/// (or as tightly, on the right: operators group to the left).
struct Operand<'a>(&'a TExpr, u8, bool);

impl fmt::Display for Operand<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Operand(e, parent, right) = *self;
        match e {
            TExpr::Binary { operator, .. }
                if operator.precedence() < parent || (right && operator.precedence() == parent) =>
            {
                write!(f, "({e})")
            }
            _ => write!(f, "{e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn metric(name: &str) -> TExpr {
        TExpr::Metric { name: name.into(), stage: None }
    }
    fn bin(operator: BinaryOp, lhs: TExpr, rhs: TExpr) -> TExpr {
        TExpr::Binary { operator, lhs: Box::new(lhs), rhs: Box::new(rhs), ty: Type::Bool }
    }

    #[test]
    fn operators_serialize_as_written() {
        let e = bin(BinaryOp::Ge, metric("auc"), TExpr::lit(json!(0.8), Type::Float));
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["operator"], ">=");
        assert_eq!(serde_json::from_value::<TExpr>(v).unwrap(), e);
        assert!(serde_json::from_value::<BinaryOp>(json!("=>")).is_err());
    }

    #[test]
    fn text_parenthesizes_only_where_needed() {
        let sum = bin(BinaryOp::Add, metric("a"), metric("b"));
        let e = bin(BinaryOp::Mul, sum.clone(), metric("c"));
        assert_eq!(e.to_string(), "(a + b) * c");
        let right = bin(BinaryOp::Sub, metric("a"), sum);
        assert_eq!(right.to_string(), "a - (a + b)");
        assert_eq!(TExpr::lit(json!(0.80000), Type::Float).to_string(), "0.8");
        assert_eq!(show_duration(90 * 86_400_000), "90d");
        assert_eq!(e.walk().len(), 5);
    }
}
