//! Promotion rules: a rule's typed expression evaluated against a version's metrics, the
//! metrics of the versions holding stages, and approvals — with, in words, why it holds or not.

use mlpc_compiler::plan::TExpr;
use std::collections::BTreeMap;

/// Each stage held by a version: that version and its metrics.
pub(crate) type Holders = BTreeMap<String, (i64, BTreeMap<String, f64>)>;

/// What a rule reads.
pub(crate) struct Facts<'a> {
    pub name: &'a str,
    pub version: i64,
    /// The rule's stage (what `approved` is about).
    pub stage: &'a str,
    pub metrics: &'a BTreeMap<String, f64>,
    pub holders: &'a Holders,
    /// Who approved this version for the rule's stage.
    pub approvers: &'a [String],
}

/// Whether a rule holds; `notes` says why not (each failed part) or, when it holds, what
/// is worth knowing (a first deployment, who approved).
#[derive(Debug, PartialEq)]
pub(crate) struct Verdict {
    pub held: bool,
    pub notes: Vec<String>,
}

impl Verdict {
    fn new(held: bool, note: impl Into<String>) -> Verdict {
        Verdict { held, notes: vec![note.into()] }
    }
}

/// A number, or "no version holds this stage yet" (any comparison with it holds).
enum Num {
    Value(f64),
    NoHolder(String),
}

pub(crate) fn evaluate(e: &TExpr, f: &Facts) -> Verdict {
    match e {
        TExpr::Binary { operator, lhs, rhs, .. } if operator == "and" || operator == "or" => {
            let (a, b) = (evaluate(lhs, f), evaluate(rhs, f));
            let held = if operator == "and" { a.held && b.held } else { a.held || b.held };
            // Keep the notes that explain the outcome: the failed sides, or the sides that held.
            let notes = [a, b].into_iter().filter(|v| v.held == held).flat_map(|v| v.notes).collect();
            Verdict { held, notes }
        }
        TExpr::Binary { operator, lhs, rhs, .. } if comparison(operator).is_some() => {
            let (l, r) = match (number(lhs, f), number(rhs, f)) {
                (Ok(l), Ok(r)) => (l, r),
                (Err(why), _) | (_, Err(why)) => return Verdict::new(false, why),
            };
            match (l, r) {
                (Num::NoHolder(stage), _) | (_, Num::NoHolder(stage)) => {
                    Verdict::new(true, format!("`{}` holds: no version is in {stage} yet (first deployment)", text(e)))
                }
                (Num::Value(l), Num::Value(r)) => {
                    let held = comparison(operator).expect("a comparison")(l, r);
                    if held {
                        Verdict { held, notes: Vec::new() }
                    } else {
                        Verdict::new(false, format!("`{}` fails: {} is not {operator} {}", text(e), show(l), show(r)))
                    }
                }
            }
        }
        TExpr::Between { arg, low, high } => match (number(arg, f), number(low, f), number(high, f)) {
            (Ok(Num::Value(x)), Ok(Num::Value(lo)), Ok(Num::Value(hi))) if lo <= x && x <= hi => {
                Verdict { held: true, notes: Vec::new() }
            }
            (Ok(Num::Value(x)), Ok(Num::Value(lo)), Ok(Num::Value(hi))) => Verdict::new(
                false,
                format!("`{}` fails: {} is not between {} and {}", text(e), show(x), show(lo), show(hi)),
            ),
            (Err(why), _, _) | (_, Err(why), _) | (_, _, Err(why)) => Verdict::new(false, why),
            _ => Verdict::new(true, format!("`{}` holds: first deployment", text(e))),
        },
        TExpr::Unary { operator, arg, .. } if operator == "not" => {
            let inner = evaluate(arg, f);
            if inner.held {
                Verdict::new(false, format!("`{}` holds", text(arg)))
            } else {
                Verdict { held: true, notes: Vec::new() }
            }
        }
        TExpr::Approved if f.approvers.is_empty() => Verdict::new(
            false,
            format!("waits for `mlpc approve {} {} --stage {} --by NAME`", f.name, f.version, f.stage),
        ),
        TExpr::Approved => Verdict::new(true, format!("approved by {}", f.approvers.join(", "))),
        TExpr::Literal { value: serde_json::Value::Bool(b), .. } => Verdict { held: *b, notes: Vec::new() },
        other => Verdict::new(false, format!("`{}` is not a condition a promotion rule can check", text(other))),
    }
}

fn comparison(operator: &str) -> Option<fn(f64, f64) -> bool> {
    Some(match operator {
        ">=" => |a, b| a >= b,
        ">" => |a, b| a > b,
        "<=" => |a, b| a <= b,
        "<" => |a, b| a < b,
        "==" => |a, b| a == b,
        "!=" => |a, b| a != b,
        _ => return None,
    })
}

fn number(e: &TExpr, f: &Facts) -> Result<Num, String> {
    Ok(match e {
        TExpr::Literal { value, .. } => Num::Value(value.as_f64().ok_or_else(|| format!("`{value}` is not a number"))?),
        TExpr::Metric { name, stage: None } => {
            Num::Value(*f.metrics.get(name).ok_or_else(|| format!("version {} has no metric `{name}`", f.version))?)
        }
        TExpr::Metric { name, stage: Some(stage) } => match f.holders.get(stage) {
            None => Num::NoHolder(stage.clone()),
            Some((v, metrics)) => Num::Value(
                *metrics.get(name).ok_or_else(|| format!("version {v} (in {stage}) has no metric `{name}`"))?,
            ),
        },
        TExpr::Unary { operator, arg, .. } if operator == "-" => match number(arg, f)? {
            Num::Value(x) => Num::Value(-x),
            none => none,
        },
        TExpr::Binary { operator, lhs, rhs, .. } if matches!(operator.as_str(), "+" | "-" | "*" | "/") => {
            match (number(lhs, f)?, number(rhs, f)?) {
                (Num::Value(_), Num::Value(b)) if operator == "/" && b == 0.0 => {
                    return Err(format!("`{}` divides by zero", text(e)))
                }
                (Num::Value(a), Num::Value(b)) => Num::Value(match operator.as_str() {
                    "+" => a + b,
                    "-" => a - b,
                    "*" => a * b,
                    _ => a / b,
                }),
                (none @ Num::NoHolder(_), _) | (_, none @ Num::NoHolder(_)) => none,
            }
        }
        other => return Err(format!("`{}` is not a number", text(other))),
    })
}

/// A number as people read it: at most four decimals, no trailing zeros.
pub(crate) fn show(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

fn precedence(operator: &str) -> u8 {
    match operator {
        "or" => 1,
        "and" => 2,
        "+" | "-" => 4,
        "*" | "/" => 5,
        _ => 3,
    }
}

/// The expression as it would be written in the pipeline.
pub(crate) fn text(e: &TExpr) -> String {
    match e {
        TExpr::Metric { name, stage: None } => name.clone(),
        TExpr::Metric { name, stage: Some(s) } => format!("{s}.{name}"),
        TExpr::Approved => "approved".into(),
        TExpr::Literal { value: serde_json::Value::Number(n), .. } => show(n.as_f64().unwrap_or(f64::NAN)),
        TExpr::Literal { value, .. } => value.to_string(),
        TExpr::Unary { operator, arg, .. } if operator == "not" => format!("not {}", operand(arg, 6, false)),
        TExpr::Unary { operator, arg, .. } => format!("{operator}{}", operand(arg, 6, false)),
        TExpr::Binary { operator, lhs, rhs, .. } => {
            let p = precedence(operator);
            format!("{} {operator} {}", operand(lhs, p, false), operand(rhs, p, true))
        }
        TExpr::Between { arg, low, high } => format!("{} between {} and {}", text(arg), text(low), text(high)),
        TExpr::Column { name, .. }
        | TExpr::Table { name }
        | TExpr::ServingMetric { name, .. }
        | TExpr::DriftTest { name } => name.clone(),
        TExpr::Feature { view, name, .. } => format!("{view}.{name}"),
        TExpr::Lookup { table, column, .. } | TExpr::Related { table, column, .. } => format!("{table}.{column}"),
        TExpr::Call { func, args, .. } => call(func, args),
        TExpr::Aggregate { func, args, window_ms: None, .. } => call(func, args),
        TExpr::Aggregate { func, args, window_ms: Some(ms), .. } => {
            format!("{} over {}", call(func, args), duration(*ms))
        }
        TExpr::List { items } => format!("[{}]", items.iter().map(text).collect::<Vec<_>>().join(", ")),
    }
}

fn call(func: &str, args: &[TExpr]) -> String {
    format!("{func}({})", args.iter().map(text).collect::<Vec<_>>().join(", "))
}

/// Milliseconds in the largest unit that divides them: `90d`, `30m`, `250ms`.
fn duration(ms: u64) -> String {
    let units = [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)];
    match units.iter().find(|(_, size)| ms > 0 && ms % size == 0) {
        Some((unit, size)) => format!("{}{unit}", ms / size),
        None => format!("{ms}ms"),
    }
}

/// An operand, parenthesized when its operator binds less tightly than its parent's
/// (or as tightly, on the right: operators group to the left).
fn operand(e: &TExpr, parent: u8, right: bool) -> String {
    match e {
        TExpr::Binary { operator, .. }
            if precedence(operator) < parent || (right && precedence(operator) == parent) =>
        {
            format!("({})", text(e))
        }
        _ => text(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlpc_compiler::types::Type;

    fn metric(name: &str, stage: Option<&str>) -> TExpr {
        TExpr::Metric { name: name.into(), stage: stage.map(str::to_string) }
    }
    fn lit(x: f64) -> TExpr {
        TExpr::lit(serde_json::json!(x), Type::Float)
    }
    fn bin(operator: &str, lhs: TExpr, rhs: TExpr) -> TExpr {
        TExpr::Binary { operator: operator.into(), lhs: Box::new(lhs), rhs: Box::new(rhs), ty: Type::Bool }
    }
    /// `auc >= production.auc - 0.01 and approved`, the churn example's production rule.
    fn production_rule() -> TExpr {
        bin(
            "and",
            bin(">=", metric("auc", None), bin("-", metric("auc", Some("production")), lit(0.01))),
            TExpr::Approved,
        )
    }
    fn facts<'a>(metrics: &'a BTreeMap<String, f64>, holders: &'a Holders, approvers: &'a [String]) -> Facts<'a> {
        Facts { name: "churn", version: 2, stage: "production", metrics, holders, approvers }
    }
    fn metrics(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn renders_rules_as_written() {
        assert_eq!(text(&production_rule()), "auc >= production.auc - 0.01 and approved");
        let e = bin("-", metric("a", None), bin("-", metric("b", None), lit(1.0)));
        assert_eq!(text(&e), "a - (b - 1)");
        assert_eq!(
            text(&bin("and", bin("or", TExpr::Approved, TExpr::Approved), TExpr::Approved)),
            "(approved or approved) and approved"
        );
    }

    #[test]
    fn compares_with_the_production_version() {
        let mine = metrics(&[("auc", 0.82)]);
        let holders = BTreeMap::from([("production".to_string(), (1, metrics(&[("auc", 0.84)])))]);
        let approvers = ["alice".to_string()];
        let v = evaluate(&production_rule(), &facts(&mine, &holders, &approvers));
        assert!(!v.held);
        assert_eq!(v.notes, ["`auc >= production.auc - 0.01` fails: 0.82 is not >= 0.83"]);

        let mine = metrics(&[("auc", 0.835)]);
        let v = evaluate(&production_rule(), &facts(&mine, &holders, &approvers));
        assert_eq!(v, Verdict { held: true, notes: vec!["approved by alice".into()] });
    }

    #[test]
    fn first_deployment_holds_and_says_so() {
        let mine = metrics(&[("auc", 0.5)]);
        let v = evaluate(&production_rule(), &facts(&mine, &BTreeMap::new(), &[]));
        assert!(!v.held, "still waits for the approval");
        assert_eq!(v.notes, ["waits for `mlpc approve churn 2 --stage production --by NAME`"]);
        let v = evaluate(&production_rule(), &facts(&mine, &BTreeMap::new(), &["bob".to_string()]));
        assert!(v.held);
        assert!(v.notes[0].contains("no version is in production yet (first deployment)"), "{:?}", v.notes);
    }

    #[test]
    fn a_missing_metric_fails_by_name() {
        let rule = bin("and", bin(">=", metric("auc", None), lit(0.8)), bin(">=", metric("f1", None), lit(0.6)));
        let v = evaluate(&rule, &facts(&metrics(&[("auc", 0.9)]), &BTreeMap::new(), &[]));
        assert_eq!(v, Verdict { held: false, notes: vec!["version 2 has no metric `f1`".into()] });
    }

    #[test]
    fn or_and_not() {
        let m = metrics(&[("auc", 0.7)]);
        let rule = bin("or", bin(">=", metric("auc", None), lit(0.8)), TExpr::Approved);
        let v = evaluate(&rule, &facts(&m, &BTreeMap::new(), &[]));
        assert_eq!(v.notes.len(), 2, "both failed sides: {:?}", v.notes);
        let not = TExpr::Unary { operator: "not".into(), arg: Box::new(rule), ty: Type::Bool };
        assert!(evaluate(&not, &facts(&m, &BTreeMap::new(), &[])).held);
    }
}
