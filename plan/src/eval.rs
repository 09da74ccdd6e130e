//! The one evaluator of conditions — promotion rules, canary gates, monitor alerts — over
//! what a context measured. A value that could not be measured (too few rows, no labels,
//! `x / 0`) is unknown, and so is a comparison that reads it; `and`, `or` and `not` follow
//! three-valued logic. A comparison with a stage no version holds yet is vacuously true
//! (a first deployment). Every outcome comes with the reasons a person would want.

use crate::expr::{show_number, BinaryOp, TExpr, UnaryOp};
use std::fmt;

/// A number a context reads for a leaf of a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Reading {
    Value(f64),
    /// Not measurable now; the reason.
    Unknown(String),
    /// Nothing to compare with, so any comparison with it holds; the reason.
    Vacuous(String),
}

/// What a condition reads, asked for by the leaf that reads it.
pub trait Facts {
    /// The number behind a leaf: a `Metric`, `ServingMetric`, or a `Call` of `drift` or
    /// `drift_share`. An error means the leaf cannot be read in this context at all.
    fn read(&mut self, leaf: &TExpr) -> Result<Reading, EvalError>;
    /// Whether the version was approved, with who did; only promotion rules answer.
    fn approved(&mut self) -> Result<(bool, String), EvalError> {
        Err(EvalError::NotHere("`approved`".into()))
    }
}

/// Why a condition could not be evaluated at all.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("{0} cannot be read here")]
    NotHere(String),
    #[error("`{0}` is not a condition")]
    NotCondition(String),
    #[error("`{0}` is not a number a condition can measure")]
    NotNumber(String),
    #[error("{0}")]
    Missing(String),
}

/// A condition's truth (`None`: unknown) and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub value: Option<bool>,
    /// The parts that decided the outcome: failed comparisons, unknowns, approvals.
    pub notes: Vec<String>,
}

impl Verdict {
    fn of(value: Option<bool>) -> Verdict {
        Verdict { value, notes: Vec::new() }
    }
    fn noted(value: Option<bool>, note: String) -> Verdict {
        Verdict { value, notes: vec![note] }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.notes.join("; "))
    }
}

/// Evaluates a condition.
pub fn evaluate(e: &TExpr, facts: &mut dyn Facts) -> Result<Verdict, EvalError> {
    Ok(match e {
        TExpr::Binary { operator: op @ (BinaryOp::And | BinaryOp::Or), lhs, rhs, .. } => {
            let (a, b) = (evaluate(lhs, facts)?, evaluate(rhs, facts)?);
            let and = *op == BinaryOp::And;
            let value = match (a.value, b.value) {
                (Some(x), Some(y)) => Some(if and { x && y } else { x || y }),
                // false and unknown = false; true or unknown = true.
                (Some(x), None) | (None, Some(x)) if x != and => Some(x),
                _ => None,
            };
            // Keep the notes that explain the outcome: the sides that decided it.
            let notes = [a, b].into_iter().filter(|v| v.value == value).flat_map(|v| v.notes).collect();
            Verdict { value, notes }
        }
        TExpr::Binary { operator, lhs, rhs, .. } if operator.compare(0.0, 0.0).is_some() => {
            match (number(lhs, facts)?, number(rhs, facts)?) {
                (Reading::Value(a), Reading::Value(b)) => {
                    let held = operator.compare(a, b).expect("a comparison");
                    let note =
                        format!("`{e}` fails: {} is not {} {}", show_number(a), operator.symbol(), show_number(b));
                    if held {
                        Verdict::of(Some(true))
                    } else {
                        Verdict::noted(Some(false), note)
                    }
                }
                pair => unmeasured(e, pair.0, pair.1),
            }
        }
        TExpr::Between { arg, low, high } => match (number(arg, facts)?, number(low, facts)?, number(high, facts)?) {
            (Reading::Value(x), Reading::Value(lo), Reading::Value(hi)) if lo <= x && x <= hi => {
                Verdict::of(Some(true))
            }
            (Reading::Value(x), Reading::Value(lo), Reading::Value(hi)) => Verdict::noted(
                Some(false),
                format!("`{e}` fails: {} is not between {} and {}", show_number(x), show_number(lo), show_number(hi)),
            ),
            (x, lo, hi) => {
                let first = if matches!(x, Reading::Value(_)) { lo } else { x };
                unmeasured(e, first, hi)
            }
        },
        TExpr::Unary { operator: UnaryOp::Not, arg, .. } => {
            let inner = evaluate(arg, facts)?;
            match inner.value {
                Some(true) => Verdict::noted(Some(false), format!("`{arg}` holds")),
                Some(false) => Verdict::of(Some(true)),
                None => inner,
            }
        }
        TExpr::Approved => {
            let (held, note) = facts.approved()?;
            Verdict::noted(Some(held), note)
        }
        TExpr::Literal { value: serde_json::Value::Bool(b), .. } => Verdict::of(Some(*b)),
        other => return Err(EvalError::NotCondition(other.to_string())),
    })
}

/// A comparison that read something other than two values.
fn unmeasured(e: &TExpr, a: Reading, b: Reading) -> Verdict {
    match (a, b) {
        (Reading::Unknown(why), _) | (_, Reading::Unknown(why)) => Verdict::noted(None, format!("`{e}`: {why}")),
        (Reading::Vacuous(why), _) | (_, Reading::Vacuous(why)) => {
            Verdict::noted(Some(true), format!("`{e}` holds: {why}"))
        }
        _ => unreachable!("called with at least one unmeasured side"),
    }
}

/// The number an operand stands for.
pub fn number(e: &TExpr, facts: &mut dyn Facts) -> Result<Reading, EvalError> {
    Ok(match e {
        TExpr::Literal { value, .. } => {
            Reading::Value(value.as_f64().ok_or_else(|| EvalError::NotNumber(value.to_string()))?)
        }
        TExpr::Metric { .. } | TExpr::ServingMetric { .. } => facts.read(e)?,
        TExpr::Call { func, .. } if func == "drift" || func == "drift_share" => facts.read(e)?,
        TExpr::Unary { operator: UnaryOp::Neg, arg, .. } => match number(arg, facts)? {
            Reading::Value(x) => Reading::Value(-x),
            other => other,
        },
        TExpr::Binary { operator, lhs, rhs, .. } if operator.is_arithmetic() => {
            match (number(lhs, facts)?, number(rhs, facts)?) {
                (Reading::Value(a), Reading::Value(b)) => match operator.arithmetic(a, b) {
                    Some(x) => Reading::Value(x),
                    None => Reading::Unknown(format!("`{e}` divides by zero")),
                },
                (other @ (Reading::Unknown(_) | Reading::Vacuous(_)), _) | (_, other) => other,
            }
        }
        other => return Err(EvalError::NotNumber(other.to_string())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Type;
    use serde_json::json;

    /// `auc` = 0.75, `production.auc` unheld, `drift(…, psi)` = 0.3, `drift_share()` unknown.
    struct Fixed;

    impl Facts for Fixed {
        fn read(&mut self, leaf: &TExpr) -> Result<Reading, EvalError> {
            Ok(match leaf {
                TExpr::Metric { stage: Some(s), .. } => Reading::Vacuous(format!("no version is in {s} yet")),
                TExpr::Metric { .. } => Reading::Value(0.75),
                TExpr::Call { func, .. } if func == "drift" => Reading::Value(0.3),
                _ => Reading::Unknown("too few rows".into()),
            })
        }
    }

    fn parse(v: serde_json::Value) -> TExpr {
        serde_json::from_value(v).unwrap()
    }
    fn cmp(lhs: serde_json::Value, op: &str, value: f64) -> serde_json::Value {
        json!({"op": "binary", "operator": op, "type": "bool", "lhs": lhs,
            "rhs": {"op": "literal", "type": "float", "value": value}})
    }
    fn eval(v: serde_json::Value) -> Verdict {
        evaluate(&parse(v), &mut Fixed).unwrap()
    }

    #[test]
    fn three_valued_with_reasons() {
        let drift = json!({"op": "call", "func": "drift", "type": "float", "args": [
            {"op": "column", "name": "spend", "type": "float"}, {"op": "drift_test", "name": "psi"}]});
        let share = json!({"op": "call", "func": "drift_share", "type": "percent", "args": []});
        let auc = json!({"op": "metric", "name": "auc", "stage": null});
        assert_eq!(eval(cmp(drift.clone(), ">", 0.2)).value, Some(true));
        let unknown = eval(cmp(share.clone(), ">", 0.3));
        assert_eq!(unknown.value, None);
        assert_eq!(unknown.notes, ["`drift_share() > 0.3`: too few rows"]);
        let or = json!({"op": "binary", "operator": "or", "type": "bool",
            "lhs": cmp(share.clone(), ">", 0.3), "rhs": cmp(drift, ">", 0.2)});
        assert_eq!(eval(or).value, Some(true));
        let and = json!({"op": "binary", "operator": "and", "type": "bool",
            "lhs": cmp(auc.clone(), ">=", 0.8), "rhs": cmp(share, ">", 0.9)});
        let failed = eval(and);
        assert_eq!(failed.value, Some(false));
        assert_eq!(failed.notes, ["`auc >= 0.8` fails: 0.75 is not >= 0.8"]);
    }

    #[test]
    fn first_deployment_and_division_by_zero() {
        let prod = json!({"op": "metric", "name": "auc", "stage": "production"});
        let auc = json!({"op": "metric", "name": "auc", "stage": null});
        let v = eval(json!({"op": "binary", "operator": ">=", "type": "bool", "lhs": auc.clone(), "rhs": prod}));
        assert_eq!(v.value, Some(true));
        assert_eq!(v.notes, ["`auc >= production.auc` holds: no version is in production yet"]);
        let ratio = json!({"op": "binary", "operator": "/", "type": "float", "lhs": auc,
            "rhs": {"op": "literal", "type": "float", "value": 0.0}});
        assert_eq!(eval(cmp(ratio, ">", 1.0)).value, None);
        let e = TExpr::Column { name: "x".into(), ty: Type::Float };
        assert_eq!(evaluate(&e, &mut Fixed), Err(EvalError::NotCondition("x".into())));
    }
}
