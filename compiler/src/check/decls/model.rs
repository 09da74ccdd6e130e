//! `model` declarations: the trainer, training data and inputs (label leakage included).

use super::*;
use crate::ast::{Call, Path, StdKind};
use std::collections::BTreeSet;

impl Checker<'_> {
    pub(in crate::check) fn model(
        &mut self,
        file: FileId,
        item: &Item,
        name: &Ident,
        algo: &Call,
        body: Option<&Body>,
    ) {
        if self.names.get(&name.name).is_some_and(|(k, f, s)| *k != "model" || *f != file || *s != name.span) {
            return;
        }
        let keys = self.keys(file, body, "a `model` block", block_keys("model"), |c, s| {
            c.misplaced(file, s, "a `model` block", "`train`, `inputs`, `device`, `cv` and `schema`")
        });
        let external = matches!(algo.func.name.as_str(), "onnx" | "command");
        let trainer = match algo.func.name.as_str() {
            "onnx" => self.single_string(file, algo).map(|path| Trainer::Onnx { path }),
            "command" => self.command(file, algo),
            _ => self.algorithm(file, algo),
        };
        let train = keys.get("train").and_then(|e| self.data_ref(file, e, "train"));
        let is_onnx = matches!(trainer, Some(Trainer::Onnx { .. })) || algo.func.name == "onnx";
        if is_onnx {
            if let Some(s) = keys.spans.get("train") {
                self.err(
                    Code::E0015,
                    file,
                    *s,
                    "an `onnx` model was trained elsewhere and takes no `train`",
                    "not used",
                    "name the dataset its inputs come from with `schema = DATASET`",
                );
            }
        } else if let Some(s) = keys.spans.get("schema") {
            self.err(
                Code::E0015,
                file,
                *s,
                "`schema` is for `onnx` models; this model learns its schema from `train`",
                "not used",
                "remove `schema`",
            );
        }
        if external {
            if let Some(s) = keys.spans.get("cv") {
                self.err(
                    Code::E0015,
                    file,
                    *s,
                    "`cv` needs a built-in algorithm; mlpc cannot refit an external model",
                    "not used",
                    "remove `cv`",
                );
            }
        }
        let dataset = if is_onnx {
            match keys.get("schema") {
                Some(e) => self.data_ref(file, e, "schema").map(|d| d.dataset),
                None => {
                    let example = format!("schema = {}", self.example_dataset(None));
                    self.missing(file, name.span, "an `onnx` model", "schema", &example);
                    None
                }
            }
        } else {
            if keys.get("train").is_none() {
                let example = format!("train = {}", self.example_dataset(Some(0)));
                self.missing(file, name.span, "a model", "train", &example);
            }
            train.as_ref().map(|t| t.dataset.clone())
        };
        let ds = dataset.as_ref().and_then(|d| self.dataset_info(d)).cloned();
        let task = ds.as_ref().and_then(|d| d.task);
        if let (Some(Trainer::Algorithm { algorithm, .. }), Some(task)) = (&trainer, task) {
            let entry = self.std.lookup(StdKind::Algorithm, algorithm).expect("resolved above");
            if !entry.applies_to(task) {
                let fits: Vec<&str> = self
                    .std
                    .entries()
                    .filter(|e| e.kind == StdKind::Algorithm && e.applies_to(task))
                    .map(|e| e.name.as_str())
                    .collect();
                self.err(
                    Code::E0008,
                    file,
                    algo.func.span,
                    format!("`{algorithm}` does not fit a {} label", task.name()),
                    format!("a {} algorithm", entry.tasks.iter().map(|t| t.name()).collect::<Vec<_>>().join("/")),
                    format!("{} algorithms: {}", task.name(), fits.join(", ")),
                );
            }
        }
        let inputs = match keys.get("inputs") {
            Some(e) => ds.as_ref().map(|d| self.inputs(file, e, d)).unwrap_or_default(),
            None => {
                self.missing(file, name.span, "a model", "inputs", "inputs = [monthly_spend, plan]");
                Vec::new()
            }
        };
        if let (Some(Trainer::Command { command, .. }), Some(e)) =
            (&trainer, algo.args.iter().find(|a| a.name.is_none()))
        {
            self.placeholders(file, &e.value, command, train.is_some());
        }
        let device = keys
            .get("device")
            .and_then(|e| self.word(file, e, "device", &["auto", "cpu", "cuda"]))
            .unwrap_or_else(|| "auto".into());
        let cv = keys.get("cv").and_then(|e| self.int_value(file, e, "cv", 2)).map(|v| v.min(u32::MAX as i64) as u32);
        let Some(trainer) = trainer else { return };
        self.push_model(ModelInfo {
            name: name.name.clone(),
            site: self.site(file, name.span, item),
            trainer,
            train,
            dataset,
            label: ds.as_ref().and_then(|d| d.label.clone()),
            task,
            inputs,
            device,
            cv,
        });
    }

    /// `view + [column, …]` → the input columns, with label leakage reported.
    fn inputs(&mut self, file: FileId, e: &Expr, ds: &DatasetInfo) -> Vec<Column> {
        let mut terms = Vec::new();
        flatten_sum(e, &mut terms);
        let mut out: Vec<Column> = Vec::new();
        for t in terms {
            let paths: Vec<&Expr> = match &t.kind {
                ExprKind::List { items } => items.iter().collect(),
                _ => vec![t],
            };
            for p in paths {
                let ExprKind::Path(Path { parts, span }) = &p.kind else {
                    self.err(
                        Code::E0004,
                        file,
                        p.span,
                        "inputs are columns and feature views",
                        "not a column",
                        "write e.g. `inputs = customer_features + [plan, region]`",
                    );
                    continue;
                };
                let id = &parts[0];
                if parts.len() == 1 && ds.views.contains(&id.name) {
                    self.lookup(file, id, "features");
                    for c in ds.columns.iter().filter(|c| c.view.as_deref() == Some(&id.name)) {
                        self.input(file, *span, c, ds, &mut out);
                    }
                    continue;
                }
                let col_name = &parts.last().expect("paths are non-empty").name;
                let owner_ok = match parts.len() {
                    1 => true,
                    2 => id.name == ds.base || ds.views.contains(&id.name),
                    _ => false,
                };
                if !owner_ok {
                    let mut owners: Vec<&str> = vec![ds.base.as_str()];
                    owners.extend(ds.views.iter().map(String::as_str));
                    self.unknown(file, id.span, &format!("table of `{}`", ds.name), &id.name, owners);
                    continue;
                }
                let column = ds
                    .column(col_name)
                    .filter(|c| parts.len() == 1 || c.view.as_deref().unwrap_or(&ds.base) == id.name);
                match column {
                    Some(c) => {
                        self.a.references.push(Reference {
                            file,
                            span: parts.last().unwrap().span,
                            target: match &c.view {
                                Some(v) => Target::Feature { view: v.clone(), name: c.name.clone() },
                                None => Target::Column { table: ds.base.clone(), column: c.name.clone() },
                            },
                        });
                        self.input(file, *span, c, ds, &mut out);
                    }
                    None if self.poisoned.contains(&ds.name) => {}
                    None => {
                        let mut names: Vec<&str> = ds.columns.iter().map(|c| c.name.as_str()).collect();
                        names.extend(ds.views.iter().map(String::as_str));
                        let span = parts.last().map_or(*span, |p| p.span);
                        self.unknown(file, span, &format!("column of `{}`", ds.name), col_name, names);
                    }
                }
            }
        }
        out
    }

    fn input(&mut self, file: FileId, span: Span, c: &Column, ds: &DatasetInfo, out: &mut Vec<Column>) {
        if out.iter().any(|x| x.name == c.name) {
            self.err(
                Code::E0003,
                file,
                span,
                format!("input `{}` is listed twice", c.name),
                "already an input",
                "list each input once",
            );
            return;
        }
        if let Some(label) = &ds.label {
            let leak = if &c.name == label {
                Some(format!("`{label}` is the label"))
            } else if let Some(view) = &c.view {
                self.feature_reads(view, &c.name)
                    .contains(label)
                    .then(|| format!("feature `{view}.{}` is computed from the label `{label}`", c.name))
            } else {
                None
            };
            if let Some(why) = leak {
                self.diags.push(
                    Diagnostic::new(Code::E0006, file, span, format!("label leakage: {why}"))
                        .label("the model would see the answer it must predict")
                        .secondary(c.site.file, c.site.span, "declared here")
                        .help(format!("remove it from `inputs`; features must not read `{label}`")),
                );
                return;
            }
        }
        out.push(c.clone());
    }

    /// Entity columns a feature reads, through the features it reads.
    fn feature_reads(&self, view: &str, name: &str) -> BTreeSet<String> {
        let mut cols = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut todo = vec![(view.to_string(), name.to_string())];
        while let Some(key) = todo.pop() {
            if !seen.insert(key.clone()) {
                continue;
            }
            if let Some(f) = self.view_info(&key.0).and_then(|v| v.feature(&key.1)) {
                cols.extend(f.columns.iter().cloned());
                todo.extend(f.features.iter().cloned());
            }
        }
        cols
    }
}

/// `a + b + [c]` → [a, b, [c]].
fn flatten_sum<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match &e.kind {
        ExprKind::Binary { op: crate::ast::BinOp::Add, lhs, rhs } => {
            flatten_sum(lhs, out);
            flatten_sum(rhs, out);
        }
        _ => out.push(e),
    }
}
