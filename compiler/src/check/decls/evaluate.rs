//! `evaluate` blocks and metric names.

use super::*;
use crate::ast::{Path, StdKind};
use crate::types::Task;

impl Checker<'_> {
    pub(in crate::check) fn evaluate(
        &mut self,
        file: FileId,
        item: &Item,
        model: &Ident,
        data: &Path,
        body: Option<&Body>,
    ) {
        let model_ok = self.lookup(file, model, "model");
        let written = DataRef { dataset: data.parts[0].name.clone(), split: data.parts.get(1).map(|s| s.name.clone()) };
        let data = self.path_data_ref(file, data);
        let info = self.model_info(&model.name).cloned();
        let ds = data.as_ref().and_then(|d| self.dataset_info(&d.dataset)).cloned();
        let mut slices = Vec::new();
        let keys = self.keys(file, body, "an `evaluate` block", block_keys("evaluate"), |c, s| match &s.kind {
            StmtKind::Slice { columns } => {
                for col in columns {
                    match &ds {
                        Some(d) if d.column(&col.name).is_none() => {
                            let names: Vec<&str> = d.columns.iter().map(|c| c.name.as_str()).collect();
                            c.unknown(file, col.span, &format!("column of `{}`", d.name), &col.name, names);
                        }
                        _ => slices.push(col.name.clone()),
                    }
                }
            }
            _ => c.misplaced(file, s, "an `evaluate` block", "`metrics` and `slice by`"),
        });
        let header = item.span.start_end(self.text(file, item.span).find('{').unwrap_or(item.span.len()));
        if let (Some(m), Some(d)) = (&info, ds.as_ref().filter(|d| !self.poisoned.contains(&d.name))) {
            for input in &m.inputs {
                if d.column(&input.name).is_none() {
                    self.err(
                        Code::E0002,
                        file,
                        header,
                        format!("`{}` lacks the model input `{}`", d.name, input.name),
                        "cannot score this data",
                        format!("evaluate on data that has every input of `{}`", m.name),
                    );
                    break;
                }
            }
            if d.label.is_none() {
                self.err(
                    Code::E0016,
                    file,
                    header,
                    format!("`{}` has no label to score against", d.name),
                    "no label",
                    "add `label = …` to the dataset",
                );
            }
        }
        let task = info.as_ref().and_then(|m| m.task);
        let mut metrics = Vec::new();
        match keys.get("metrics") {
            Some(Expr { kind: ExprKind::List { items }, .. }) => {
                for it in items {
                    match &it.kind {
                        ExprKind::Path(p) if p.parts.len() == 1 => {
                            if self.metric_name(file, &p.parts[0], task, &[]) {
                                metrics.push(p.parts[0].name.clone());
                            }
                        }
                        _ => self.err(
                            Code::E0004,
                            file,
                            it.span,
                            "`metrics` lists metric names",
                            "not a metric name",
                            "write e.g. `metrics = [auc, f1]`",
                        ),
                    }
                }
            }
            Some(e) => self.err(
                Code::E0004,
                file,
                e.span,
                "`metrics` takes a list",
                "not a list",
                "write e.g. `metrics = [auc, f1]`",
            ),
            None => self.missing(file, model.span, "an `evaluate` block", "metrics", "metrics = [auc, f1]"),
        }
        if !model_ok {
            return;
        }
        let data = data.unwrap_or(written);
        self.push_evaluation(EvalInfo {
            model: model.name.clone(),
            site: self.site(file, model.span, item),
            data,
            metrics,
            slices,
        });
    }

    /// A metric name: declared in the stdlib (else E0002, offering `also` too) and valid
    /// for the model's task (else E0008).
    pub(in crate::check) fn metric_name(&mut self, file: FileId, m: &Ident, task: Option<Task>, also: &[&str]) -> bool {
        let Some(entry) = self.std.lookup(StdKind::Metric, &m.name) else {
            let mut names: Vec<&str> = self.std.names(StdKind::Metric).collect();
            names.extend(also);
            self.unknown(file, m.span, "metric", &m.name, names);
            return false;
        };
        self.a.references.push(Reference {
            file,
            span: m.span,
            target: Target::Std { kind: StdKind::Metric, name: m.name.clone() },
        });
        if let Some(task) = task.filter(|t| !entry.applies_to(*t)) {
            let valid: Vec<&str> = self
                .std
                .entries()
                .filter(|e| e.kind == StdKind::Metric && e.applies_to(task))
                .map(|e| e.name.as_str())
                .collect();
            self.err(
                Code::E0008,
                file,
                m.span,
                format!("`{}` does not apply to {} models", m.name, task.name()),
                format!("a {} metric", entry.tasks.iter().map(|t| t.name()).collect::<Vec<_>>().join("/")),
                format!("{} metrics: {}", task.name(), valid.join(", ")),
            );
            return false;
        }
        true
    }
}
