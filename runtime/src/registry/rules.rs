//! Promotion rules: the plan's condition evaluator over what the registry knows — a
//! version's metrics, the metrics of the versions holding stages, and approvals — with, in
//! words, why a rule holds or not.

use mlpc_plan::eval::{self, EvalError, Reading};
use mlpc_plan::TExpr;
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

/// Evaluates a promotion rule: it holds only when known to hold.
pub(crate) fn evaluate(e: &TExpr, f: &Facts) -> Verdict {
    match eval::evaluate(e, &mut Registry(f)) {
        Ok(v) => Verdict { held: v.value == Some(true), notes: v.notes },
        Err(e) => Verdict { held: false, notes: vec![e.to_string()] },
    }
}

struct Registry<'a>(&'a Facts<'a>);

impl eval::Facts for Registry<'_> {
    fn read(&mut self, leaf: &TExpr) -> Result<Reading, EvalError> {
        let f = self.0;
        match leaf {
            TExpr::Metric { name, stage: None } => f
                .metrics
                .get(name)
                .map(|v| Reading::Value(*v))
                .ok_or_else(|| EvalError::Missing(format!("version {} has no metric `{name}`", f.version))),
            TExpr::Metric { name, stage: Some(stage) } => match f.holders.get(stage) {
                None => Ok(Reading::Vacuous(format!("no version is in {stage} yet (first deployment)"))),
                Some((v, metrics)) => metrics
                    .get(name)
                    .map(|x| Reading::Value(*x))
                    .ok_or_else(|| EvalError::Missing(format!("version {v} (in {stage}) has no metric `{name}`"))),
            },
            other => Err(EvalError::NotHere(format!("`{other}` (a promotion rule reads model metrics)"))),
        }
    }
    fn approved(&mut self) -> Result<(bool, String), EvalError> {
        let f = self.0;
        Ok(match f.approvers {
            [] => (false, format!("waits for `mlpc approve {} {} --stage {} --by NAME`", f.name, f.version, f.stage)),
            by => (true, format!("approved by {}", by.join(", "))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlpc_plan::{BinaryOp, Type, UnaryOp};

    fn metric(name: &str, stage: Option<&str>) -> TExpr {
        TExpr::Metric { name: name.into(), stage: stage.map(str::to_string) }
    }
    fn lit(x: f64) -> TExpr {
        TExpr::lit(serde_json::json!(x), Type::Float)
    }
    fn bin(operator: &str, lhs: TExpr, rhs: TExpr) -> TExpr {
        let operator: BinaryOp = serde_json::from_value(serde_json::json!(operator)).unwrap();
        TExpr::Binary { operator, lhs: Box::new(lhs), rhs: Box::new(rhs), ty: Type::Bool }
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
        let not = TExpr::Unary { operator: UnaryOp::Not, arg: Box::new(rule), ty: Type::Bool };
        assert!(evaluate(&not, &facts(&m, &BTreeMap::new(), &[])).held);
    }
}
