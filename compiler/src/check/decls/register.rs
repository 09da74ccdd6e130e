//! `register` blocks: promotion rules, and rules judged on training data (E0024).

use super::*;
use crate::ast::StrLit;
use crate::check::expr::{Ctx, Deps};
use mlpc_plan::TExpr;
use std::collections::BTreeSet;

impl Checker<'_> {
    pub(in crate::check) fn register(
        &mut self,
        file: FileId,
        item: &Item,
        model: &Ident,
        registered: &StrLit,
        body: Option<&Body>,
    ) {
        let model_ok = self.lookup(file, model, "model");
        if registered.value.trim().is_empty() {
            self.err(
                Code::E0019,
                file,
                registered.span,
                "a registered name cannot be empty",
                "empty",
                "name it, e.g. `\"churn-predictor\"`",
            );
        }
        let task = self.model_info(&model.name).and_then(|m| m.task);
        let mut rules = Vec::new();
        for stmt in body.iter().flat_map(|b| &b.stmts) {
            match &stmt.kind {
                StmtKind::Promote { stage: Some(stage), cond } => {
                    if !STAGES.contains(&stage.name.as_str()) {
                        if stage.name == "archived" {
                            self.err(
                                Code::E0019,
                                file,
                                stage.span,
                                "versions are archived when replaced, not promoted there",
                                "not a promotion target",
                                "promote to `staging` or `production`",
                            );
                        } else {
                            self.unknown(file, stage.span, "stage", &stage.name, STAGES.iter().copied());
                        }
                        continue;
                    }
                    if !model_ok {
                        continue;
                    }
                    let mut deps = Deps::default();
                    let errors_before = self.diags.iter().filter(|d| d.is_error()).count();
                    let (v, t) = self.expr(file, cond, Ctx::Promotion { model: &model.name, task }, &mut deps);
                    self.condition(file, cond, &v);
                    if self.diags.iter().filter(|d| d.is_error()).count() == errors_before {
                        self.judged_on_training_data(file, cond, &model.name, &t);
                    }
                    rules.push(PromotionRule {
                        stage: stage.name.clone(),
                        rule: Rule { text: self.text(file, cond.span).to_string(), expr: t },
                    });
                }
                StmtKind::Promote { stage: None, .. } => {
                    self.err(
                        Code::E0016,
                        file,
                        stmt.span.start_end("promote".len()),
                        "a promotion rule names its stage",
                        "to which stage?",
                        "write `promote to staging when …` or `promote to production when …`",
                    );
                }
                StmtKind::Error { .. } => {}
                _ => self.misplaced(file, stmt, "a `register` block", "`promote to STAGE when …` rules"),
            }
        }
        if !model_ok {
            return;
        }
        self.a.registrations.push(RegisterInfo {
            registered: registered.value.clone(),
            site: self.site(file, registered.span, item),
            model: model.name.clone(),
            rules,
        });
    }

    /// E0024: a promotion rule whose every metric is computed on rows the model was
    /// trained on (its training split, or any part of a dataset it trains on whole).
    /// A rule that also reads held-out metrics, or an evaluation on the training data that
    /// no rule reads, is fine.
    fn judged_on_training_data(&mut self, file: FileId, cond: &Expr, model: &str, rule: &TExpr) {
        let Some(train) = self.model_info(model).and_then(|m| m.train.clone()) else { return };
        let mut names = BTreeSet::new();
        metrics_read(rule, &mut names);
        if names.is_empty() {
            return;
        }
        let mut on_train: Vec<(String, EvalInfo)> = Vec::new();
        for name in &names {
            let Some(e) = self.evaluations_of(model).find(|e| e.metrics.contains(name)) else { return };
            let inside = e.data.dataset == train.dataset && (train.split.is_none() || e.data.split == train.split);
            if !inside {
                return;
            }
            on_train.push((name.clone(), e.clone()));
        }
        let listed: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        let verb = if names.len() == 1 { "is" } else { "are" };
        let on = on_train[0].1.data.text();
        let message = match &train.split {
            Some(_) => format!(
                "this rule judges `{model}` on the rows it was trained on: {} {verb} computed on `{on}`, its training split",
                listed.join(", ")
            ),
            None => format!(
                "this rule judges `{model}` on the rows it was trained on: {} {verb} computed on `{on}`, and `{model}` trains on all of `{}`",
                listed.join(", "),
                train.dataset
            ),
        };
        let mut d = Diagnostic::new(Code::E0024, file, cond.span, message).label("reads only training-data metrics");
        let mut seen = BTreeSet::new();
        for (_, e) in &on_train {
            if seen.insert(e.data.text()) {
                d = d.secondary(e.site.file, e.site.span, format!("evaluated on `{}`", e.data.text()));
            }
        }
        let splits: Vec<String> = self
            .dataset_info(&train.dataset)
            .and_then(|ds| ds.split.as_ref())
            .map(|sp| sp.parts.iter().map(|(n, _)| n.clone()).collect())
            .unwrap_or_default();
        let metrics = names.iter().cloned().collect::<Vec<_>>().join(", ");
        let ds = &train.dataset;
        d = match (&train.split, splits.as_slice()) {
            (Some(t), _) if splits.iter().any(|n| n != t) => {
                let held = splits.iter().find(|n| *n != t).cloned().unwrap_or_default();
                d.help(format!(
                    "evaluate `{model}` on held-out data, e.g. `evaluate {model} on {ds}.{held} {{ metrics = [{metrics}] }}`, and keep the training evaluation for reports only"
                ))
            }
            (None, [first, second, ..]) => d.help(format!(
                "train `{model}` on one split (`train = {ds}.{first}`) and evaluate it on another (`{ds}.{second}`)"
            )),
            _ => d.help(format!(
                "split `{ds}` (`split = random(train = 80%, test = 20%)`), train on `{ds}.train` and evaluate on `{ds}.test`"
            )),
        };
        self.diags.push(d);
    }
}

/// The model metrics a rule reads (`auc`, `production.auc`).
fn metrics_read(e: &TExpr, out: &mut BTreeSet<String>) {
    match e {
        TExpr::Metric { name, .. } => {
            out.insert(name.clone());
        }
        TExpr::Call { args, .. } | TExpr::Aggregate { args, .. } => args.iter().for_each(|a| metrics_read(a, out)),
        TExpr::List { items } => items.iter().for_each(|a| metrics_read(a, out)),
        TExpr::Binary { lhs, rhs, .. } => {
            metrics_read(lhs, out);
            metrics_read(rhs, out);
        }
        TExpr::Unary { arg, .. } => metrics_read(arg, out),
        TExpr::Between { arg, low, high } => {
            metrics_read(arg, out);
            metrics_read(low, out);
            metrics_read(high, out);
        }
        _ => {}
    }
}
