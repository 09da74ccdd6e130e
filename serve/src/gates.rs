//! A canary gate (`promote when …`, `rollback when …`): its typed expression evaluated on a
//! window's live figures, and the figures it read, for the reason a decision records.

use crate::live_metrics::Live;
use mlpc_compiler::plan::TExpr;
use serde::Deserialize;

/// A gate as the plan's serve node holds it.
#[derive(Clone, Debug, Deserialize)]
pub struct Gate {
    /// As written, e.g. `error_rate > 2% or p99_latency > 200ms`.
    pub text: String,
    pub expr: TExpr,
}

impl Gate {
    /// Whether the gate holds on these figures; an error for what a gate cannot read.
    pub fn holds(&self, live: &Live) -> Result<bool, String> {
        truth(&self.expr, live).map_err(|e| format!("gate `{}`: {e}", self.text))
    }

    /// The figures the gate reads, e.g. `error_rate = 12.5%, p99_latency = 3.20ms`.
    pub fn measured(&self, live: &Live) -> String {
        let mut names = Vec::new();
        metrics(&self.expr, &mut names);
        names
            .iter()
            .filter_map(|n| live.get(n).map(|v| format!("{n} = {}", shown(n, v))))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn shown(metric: &str, v: f64) -> String {
    match metric {
        "request_count" => format!("{v}"),
        m if m.ends_with("_rate") => format!("{:.2}%", v * 100.0),
        _ => format!("{v:.2}ms"),
    }
}

fn metrics<'a>(e: &'a TExpr, out: &mut Vec<&'a str>) {
    match e {
        TExpr::ServingMetric { name, .. } if !out.contains(&name.as_str()) => out.push(name),
        TExpr::Binary { lhs, rhs, .. } => {
            metrics(lhs, out);
            metrics(rhs, out);
        }
        TExpr::Unary { arg, .. } => metrics(arg, out),
        _ => {}
    }
}

fn truth(e: &TExpr, live: &Live) -> Result<bool, String> {
    match e {
        TExpr::Binary { operator, lhs, rhs, .. } if operator == "and" => Ok(truth(lhs, live)? && truth(rhs, live)?),
        TExpr::Binary { operator, lhs, rhs, .. } if operator == "or" => Ok(truth(lhs, live)? || truth(rhs, live)?),
        TExpr::Unary { operator, arg, .. } if operator == "not" => Ok(!truth(arg, live)?),
        TExpr::Binary { operator, lhs, rhs, .. } => {
            let (a, b) = (number(lhs, live)?, number(rhs, live)?);
            Ok(match operator.as_str() {
                "<" => a < b,
                "<=" => a <= b,
                ">" => a > b,
                ">=" => a >= b,
                "==" => a == b,
                "!=" => a != b,
                other => return Err(format!("`{other}` is not a comparison")),
            })
        }
        TExpr::Literal { value, .. } => value.as_bool().ok_or_else(|| format!("{value} is not true or false")),
        _ => Err("only serving metrics, numbers, comparisons, and, or and not can be read here".into()),
    }
}

fn number(e: &TExpr, live: &Live) -> Result<f64, String> {
    match e {
        TExpr::ServingMetric { name, .. } => live.get(name).ok_or_else(|| format!("`{name}` is not measured")),
        TExpr::Literal { value, .. } => value.as_f64().ok_or_else(|| format!("{value} is not a number")),
        TExpr::Unary { operator, arg, .. } if operator == "-" => Ok(-number(arg, live)?),
        _ => Err("a comparison here takes serving metrics and numbers".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gate(text: &str, expr: serde_json::Value) -> Gate {
        Gate { text: text.into(), expr: serde_json::from_value(expr).unwrap() }
    }

    fn cmp(metric: &str, op: &str, value: f64) -> serde_json::Value {
        json!({"op": "binary", "operator": op, "type": "bool",
            "lhs": {"op": "serving_metric", "name": metric, "type": "percent"},
            "rhs": {"op": "literal", "value": value, "type": "percent"}})
    }

    #[test]
    fn reads_serving_metrics() {
        let g = gate(
            "error_rate > 2% or p99_latency > 200ms",
            json!({"op": "binary", "operator": "or", "type": "bool",
                "lhs": cmp("error_rate", ">", 0.02), "rhs": cmp("p99_latency", ">", 200.0)}),
        );
        let mut live = Live { request_count: 10, p99_latency: 3.0, ..Live::default() };
        assert_eq!(g.holds(&live), Ok(false));
        live.error_rate = 0.5;
        assert_eq!(g.holds(&live), Ok(true));
        assert_eq!(g.measured(&live), "error_rate = 50.00%, p99_latency = 3.00ms");
    }
}
