//! A canary gate (`promote when …`, `rollback when …`): its typed expression evaluated on a
//! window's live figures, and the figures it read, for the reason a decision records.

use crate::live_metrics::Live;
use mlpc_plan::eval::{self, EvalError, Reading};
use mlpc_plan::{Rule, TExpr};
use serde::Deserialize;

/// A gate as the plan's serve node holds it.
#[derive(Clone, Debug, Deserialize)]
pub struct Gate {
    /// As written, e.g. `error_rate > 2% or p99_latency > 200ms`.
    pub text: String,
    pub expr: TExpr,
}

impl From<Rule> for Gate {
    fn from(r: Rule) -> Gate {
        Gate { text: r.text, expr: r.expr }
    }
}

impl Gate {
    /// Whether the gate holds on these figures; an error for what a gate cannot read.
    pub fn holds(&self, live: &Live) -> Result<bool, String> {
        match eval::evaluate(&self.expr, &mut Serving(live)) {
            Ok(v) => v.value.ok_or_else(|| format!("gate `{}`: {v}", self.text)),
            Err(e) => Err(format!("gate `{}`: {e}", self.text)),
        }
    }

    /// The serving metrics the gate reads, in order of appearance.
    pub fn metrics(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for e in self.expr.walk() {
            if let TExpr::ServingMetric { name, .. } = e {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
        }
        names
    }

    /// The figures the gate reads, e.g. `error_rate = 12.5%, p99_latency = 3.20ms`.
    pub fn measured(&self, live: &Live) -> String {
        self.metrics()
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

/// A window's live figures, as a condition reads them: serving metrics only.
struct Serving<'a>(&'a Live);

impl eval::Facts for Serving<'_> {
    fn read(&mut self, leaf: &TExpr) -> Result<Reading, EvalError> {
        match leaf {
            TExpr::ServingMetric { name, .. } => Ok(match self.0.get(name) {
                Some(v) => Reading::Value(v),
                None => Reading::Unknown(format!("`{name}` is not measured")),
            }),
            other => Err(EvalError::NotHere(format!("`{other}` (a canary gate reads serving metrics)"))),
        }
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
