//! Conditions — a monitor's alerts, a canary's gates — as typed expressions evaluated over
//! what was measured. A value that could not be measured (too few rows, no labels) is
//! unknown, and so is a condition that depends on it; `and`/`or` follow three-valued logic.

use mlpc_compiler::plan::TExpr;

/// What was measured, asked for by name.
pub trait Facts {
    /// The score of `column` under `test`; `None` when the window is too small.
    fn drift(&mut self, column: &str, test: &str) -> Result<Option<f64>, String>;
    /// The share of input columns that drift under their default tests.
    fn drift_share(&mut self) -> Result<Option<f64>, String>;
    /// A model metric from the labels sent back; `None` without enough of them.
    fn metric(&mut self, name: &str) -> Result<Option<f64>, String>;
    /// A serving metric of the window (`p99_latency` in ms); `None` when not measured.
    fn serving_metric(&mut self, name: &str) -> Result<Option<f64>, String>;
}

/// The condition's truth, `None` when unknown.
pub fn holds(e: &TExpr, f: &mut dyn Facts) -> Result<Option<bool>, String> {
    match e {
        TExpr::Binary { operator, lhs, rhs, .. } if operator == "and" || operator == "or" => {
            let (a, b) = (holds(lhs, f)?, holds(rhs, f)?);
            let and = operator == "and";
            Ok(match (a, b) {
                (Some(x), Some(y)) => Some(if and { x && y } else { x || y }),
                // false and unknown = false; true or unknown = true.
                (Some(x), None) | (None, Some(x)) if x != and => Some(x),
                _ => None,
            })
        }
        TExpr::Binary { operator, lhs, rhs, .. } => {
            let (Some(a), Some(b)) = (number(lhs, f)?, number(rhs, f)?) else { return Ok(None) };
            Ok(Some(match operator.as_str() {
                "<" => a < b,
                "<=" => a <= b,
                ">" => a > b,
                ">=" => a >= b,
                "==" => a == b,
                "!=" => a != b,
                other => return Err(format!("`{other}` is not a comparison a condition can evaluate")),
            }))
        }
        TExpr::Between { arg, low, high } => match (number(arg, f)?, number(low, f)?, number(high, f)?) {
            (Some(x), Some(lo), Some(hi)) => Ok(Some(lo <= x && x <= hi)),
            _ => Ok(None),
        },
        TExpr::Unary { operator, arg, .. } if operator == "not" => Ok(holds(arg, f)?.map(|b| !b)),
        TExpr::Literal { value: serde_json::Value::Bool(b), .. } => Ok(Some(*b)),
        other => Err(format!("`{}` is not a condition", describe(other))),
    }
}

fn number(e: &TExpr, f: &mut dyn Facts) -> Result<Option<f64>, String> {
    match e {
        TExpr::Literal { value, .. } => value.as_f64().map(Some).ok_or_else(|| format!("`{value}` is not a number")),
        TExpr::Call { func, .. } if func == "drift_share" => f.drift_share(),
        TExpr::Call { func, args, .. } if func == "drift" => match &args[..] {
            [TExpr::Column { name, .. }, TExpr::DriftTest { name: test }] => f.drift(name, test),
            _ => Err("`drift` takes a column and a drift test: drift(monthly_spend, psi)".into()),
        },
        TExpr::Metric { name, stage: None } => f.metric(name),
        TExpr::Metric { name, stage: Some(stage) } => Err(format!(
            "`{stage}.{name}` reads a registry stage, which a condition here does not; compare `{name}` itself"
        )),
        TExpr::ServingMetric { name, .. } => f.serving_metric(name),
        TExpr::Unary { operator, arg, .. } if operator == "-" => Ok(number(arg, f)?.map(|x| -x)),
        TExpr::Binary { operator, lhs, rhs, .. } => {
            let (Some(a), Some(b)) = (number(lhs, f)?, number(rhs, f)?) else { return Ok(None) };
            Ok(Some(match operator.as_str() {
                "+" => a + b,
                "-" => a - b,
                "*" => a * b,
                "/" if b != 0.0 => a / b,
                "/" => return Ok(None),
                other => return Err(format!("`{other}` is not arithmetic a condition can evaluate")),
            }))
        }
        other => Err(format!("`{}` is not a number a condition can measure", describe(other))),
    }
}

fn describe(e: &TExpr) -> String {
    serde_json::to_value(e)
        .ok()
        .and_then(|v| v.get("op").and_then(|o| o.as_str()).map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed {
        share: Option<f64>,
    }

    impl Facts for Fixed {
        fn drift(&mut self, _: &str, test: &str) -> Result<Option<f64>, String> {
            Ok((test == "psi").then_some(0.3))
        }
        fn drift_share(&mut self) -> Result<Option<f64>, String> {
            Ok(self.share)
        }
        fn metric(&mut self, _: &str) -> Result<Option<f64>, String> {
            Ok(None)
        }
        fn serving_metric(&mut self, _: &str) -> Result<Option<f64>, String> {
            Ok(Some(12.0))
        }
    }

    fn parse(v: serde_json::Value) -> TExpr {
        serde_json::from_value(v).unwrap()
    }

    fn cmp(lhs: serde_json::Value, op: &str, value: f64) -> serde_json::Value {
        serde_json::json!({"op": "binary", "operator": op, "type": "bool", "lhs": lhs,
            "rhs": {"op": "literal", "type": "float", "value": value}})
    }

    #[test]
    fn drift_and_unknowns() {
        let drift = serde_json::json!({"op": "call", "func": "drift", "type": "float", "args": [
            {"op": "column", "name": "spend", "type": "float"}, {"op": "drift_test", "name": "psi"}]});
        let share = serde_json::json!({"op": "call", "func": "drift_share", "type": "percent", "args": []});
        let auc = serde_json::json!({"op": "metric", "name": "auc", "stage": null});
        let f = &mut Fixed { share: None };
        assert_eq!(holds(&parse(cmp(drift.clone(), ">", 0.2)), f).unwrap(), Some(true));
        assert_eq!(holds(&parse(cmp(share.clone(), ">", 0.3)), f).unwrap(), None);
        let or = serde_json::json!({"op": "binary", "operator": "or", "type": "bool",
            "lhs": cmp(auc.clone(), "<", 0.7), "rhs": cmp(drift, ">", 0.2)});
        assert_eq!(holds(&parse(or), f).unwrap(), Some(true));
        let and = serde_json::json!({"op": "binary", "operator": "and", "type": "bool",
            "lhs": cmp(auc, "<", 0.7), "rhs": cmp(share.clone(), ">", 0.9)});
        assert_eq!(holds(&parse(and), &mut Fixed { share: Some(0.5) }).unwrap(), Some(false));
        assert_eq!(holds(&parse(cmp(share, ">", 0.3)), &mut Fixed { share: Some(0.5) }).unwrap(), Some(true));
    }
}
