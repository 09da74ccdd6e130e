//! `monitor` blocks: schedule, window, reference data and alert rules.

use super::*;
use crate::ast::{Action, StrLit};
use crate::check::expr::{Ctx, Deps};
use mlpc_plan::TExpr;

impl Checker<'_> {
    pub(in crate::check) fn monitor(
        &mut self,
        file: FileId,
        item: &Item,
        name: &Ident,
        registered: &StrLit,
        body: Option<&Body>,
    ) {
        let model = self.registered_model(file, registered);
        let task = model.as_ref().and_then(|m| m.task);
        let inputs = model.as_ref().map(|m| m.inputs.clone()).unwrap_or_default();
        let mut alerts = Vec::new();
        let keys = self.keys(file, body, "a `monitor` block", block_keys("monitor"), |c, s| match &s.kind {
            StmtKind::Alert { cond, action } => {
                let mut deps = Deps::default();
                let (v, t) = c.expr(file, cond, Ctx::Alert { task, inputs: &inputs }, &mut deps);
                c.condition(file, cond, &v);
                let action = match action {
                    Some(Action::Retrain { model }) => {
                        let external =
                            c.a.models
                                .iter()
                                .any(|m| m.name == model.name && matches!(m.trainer, Trainer::Onnx { .. }));
                        if external {
                            c.err(
                                Code::E0019,
                                file,
                                model.span,
                                format!("`{}` is an external ONNX model: mlpc cannot retrain it", model.name),
                                "not trainable here",
                                "retrain a model built with a stdlib algorithm or `command(…)`, or drop `then retrain`",
                            );
                            None
                        } else {
                            c.lookup(file, model, "model").then(|| AlertAction::Retrain { model: model.name.clone() })
                        }
                    }
                    Some(Action::Rollback { .. }) => Some(AlertAction::Rollback),
                    None => None,
                };
                alerts.push(AlertDef { rule: Rule { text: c.text(file, cond.span).to_string(), expr: t }, action });
            }
            _ => c.misplaced(file, s, "a `monitor` block", "`every`, `window`, `reference` and `alert when …` rules"),
        });
        let every = match keys.get("every") {
            Some(e) => self.duration_value(file, e, "every").unwrap_or(0),
            None => {
                self.missing(file, name.span, "a monitor", "every", "every = 1h");
                0
            }
        };
        let window = match keys.get("window") {
            Some(e) => self.duration_value(file, e, "window").unwrap_or(0),
            None => {
                self.missing(file, name.span, "a monitor", "window", "window = 24h");
                0
            }
        };
        if let (Some(we), Some(ee)) = (keys.get("window"), keys.get("every")) {
            if window > 0 && every > 0 && window < every {
                let (w, ev) = (self.text(file, we.span).to_string(), self.text(file, ee.span).to_string());
                self.diags.push(
                    Diagnostic::new(
                        Code::W0003,
                        file,
                        we.span,
                        format!(
                            "`window = {w}` is shorter than `every = {ev}`: requests served in the gap between one check's window and the next check are never looked at"
                        ),
                    )
                    .label(format!("each check sees only the last {w}"))
                    .secondary(file, ee.span, format!("checks run every {ev}"))
                    .help(format!("make the window at least as long as the interval (`window = {ev}`), or check more often")),
                );
            }
        }
        let reference = match keys.get("reference") {
            Some(e) => self.data_ref(file, e, "reference"),
            None => model.as_ref().and_then(|m| m.train.clone()),
        };
        let drift = alerts.iter().any(|a| uses_drift(&a.rule.expr));
        if drift && reference.is_none() && keys.get("reference").is_none() && model.is_some() {
            let example = format!("reference = {}", self.example_dataset(Some(0)));
            self.missing(file, name.span, "a monitor of a model with no training data", "reference", &example);
        }
        if model.is_some() && self.serve_info(&registered.value).is_none() {
            self.err(
                Code::E0016,
                file,
                registered.span,
                format!("nothing serves `{}`, so there is no traffic to monitor", registered.value),
                "not served",
                format!("add `serve \"{}\" {{ … }}`", registered.value),
            );
        }
        if alerts.is_empty() {
            self.missing(file, name.span, "a monitor", "alert when", "alert when drift_share() > 30%");
        }
        self.a.monitors.push(MonitorInfo {
            name: name.name.clone(),
            site: self.site(file, name.span, item),
            registered: registered.value.clone(),
            model: model.map(|m| m.name),
            every_ms: every,
            window_ms: window,
            reference,
            alerts,
        });
    }
}

/// Whether a condition reads a drift statistic.
fn uses_drift(e: &TExpr) -> bool {
    match e {
        TExpr::Call { func, args, .. } => func.starts_with("drift") || args.iter().any(uses_drift),
        TExpr::Binary { lhs, rhs, .. } => uses_drift(lhs) || uses_drift(rhs),
        TExpr::Unary { arg, .. } => uses_drift(arg),
        TExpr::Between { arg, low, high } => uses_drift(arg) || uses_drift(low) || uses_drift(high),
        _ => false,
    }
}
