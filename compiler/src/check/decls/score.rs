//! `score` blocks: a registered model at a stage scores a table in batches. The input must
//! carry the model's entity key; each model input is a column of it or a feature filled
//! point-in-time from its view (E0025 otherwise).

use super::*;
use crate::ast::{Path, StrLit};

/// What a score job reads: the plan node, its name as written, its columns.
struct Input {
    node: String,
    name: String,
    columns: Vec<Column>,
}

impl Checker<'_> {
    pub(in crate::check) fn score(
        &mut self,
        file: FileId,
        item: &Item,
        name: &Ident,
        registered: &StrLit,
        body: Option<&Body>,
    ) {
        let model = self.registered_model(file, registered);
        let keys = self.keys(file, body, "a `score` block", block_keys("score"), |c, s| {
            c.misplaced(file, s, "a `score` block", "`stage`, `input` and `output`")
        });
        let stage =
            keys.get("stage").and_then(|e| self.word(file, e, "stage", STAGES)).unwrap_or_else(|| "production".into());
        let output = match keys.get("output") {
            Some(e) => self.score_output(file, e),
            None => {
                self.missing(file, name.span, "a score job", "output", "output = \"scores.parquet\"");
                None
            }
        };
        let input = match keys.get("input") {
            Some(e) => self.score_input(file, e),
            None => {
                self.missing(file, name.span, "a score job", "input", "input = customers");
                None
            }
        };
        let (Some(model), Some(input), Some(output)) = (model, input, output) else { return };
        let span = keys.get("input").map_or(name.span, |e| e.span);
        let Some((keys, time, inputs)) = self.score_columns(file, span, &model, &input) else { return };
        self.a.scores.push(ScoreInfo {
            name: name.name.clone(),
            site: self.site(file, name.span, item),
            registered: registered.value.clone(),
            model: model.name.clone(),
            stage,
            input: input.node,
            keys,
            time,
            inputs,
            task: model.task,
            output,
        });
    }

    /// `output = "….parquet"`, a path no other score job writes.
    fn score_output(&mut self, file: FileId, e: &Expr) -> Option<String> {
        let path = self.string_value(file, e, "output")?;
        if !path.ends_with(".parquet") || path == ".parquet" {
            self.err(
                Code::E0019,
                file,
                e.span,
                format!("`output` is a Parquet file name, not `{path}`"),
                "not a .parquet file",
                "write e.g. `output = \"scores/churn.parquet\"`",
            );
            return None;
        }
        if let Some(other) = self.a.scores.iter().find(|s| s.output == path) {
            let (f, s) = (other.site.file, other.site.span);
            self.diags.push(
                Diagnostic::new(Code::E0003, file, e.span, format!("`{path}` is written by two score jobs"))
                    .label("written again here")
                    .secondary(f, s, "this score job writes it too")
                    .help("give each score job its own output file"),
            );
            return None;
        }
        Some(path)
    }

    /// `input = SOURCE | VIEW | DATASET | DATASET.SPLIT`, resolved to its node and columns.
    fn score_input(&mut self, file: FileId, e: &Expr) -> Option<Input> {
        let ExprKind::Path(p) = &e.kind else {
            self.err(
                Code::E0004,
                file,
                e.span,
                "`input` names a source, a feature view or a dataset",
                "not a table",
                "write e.g. `input = customers`",
            );
            return None;
        };
        let first = &p.parts[0];
        match self.names.get(&first.name).map(|(k, _, _)| *k) {
            Some("dataset") => self.dataset_input(file, p),
            Some(kind @ ("source" | "features")) if p.parts.len() == 1 => {
                if !self.lookup(file, first, kind) {
                    return None;
                }
                let columns = if kind == "source" {
                    self.source_info(&first.name)?.columns.clone()
                } else {
                    let view = self.view_info(&first.name)?;
                    let entity = self.source_info(&view.entity)?;
                    let mut columns: Vec<Column> = entity.columns.iter().filter(|c| c.key || c.time).cloned().collect();
                    columns.extend(view.features.iter().map(|f| f.column(&view.name)));
                    columns
                };
                Some(Input { node: format!("{kind}:{}", first.name), name: first.name.clone(), columns })
            }
            Some("source" | "features") => {
                self.too_many_parts(file, p, "a source or a feature view", "name the table alone");
                None
            }
            Some(kind) => {
                let (kind, f, s) = (kind, self.names[&first.name].1, self.names[&first.name].2);
                self.diags.push(
                    Diagnostic::new(
                        Code::E0002,
                        file,
                        first.span,
                        format!("`{}` is {}, not a table to score", first.name, a_kind(kind)),
                    )
                    .label("expected a source, a feature view or a dataset")
                    .secondary(f, s, format!("`{}` is declared here", first.name))
                    .help("name the rows to score: a source, a feature view, a dataset or one of its splits"),
                );
                None
            }
            None => {
                let candidates: Vec<String> = self
                    .names
                    .iter()
                    .filter(|(_, v)| matches!(v.0, "source" | "features" | "dataset"))
                    .map(|(n, _)| n.clone())
                    .collect();
                self.unknown(file, first.span, "table", &first.name, candidates.iter().map(String::as_str));
                None
            }
        }
    }

    fn dataset_input(&mut self, file: FileId, p: &Path) -> Option<Input> {
        let data = self.path_data_ref(file, p)?;
        let columns = self.dataset_info(&data.dataset)?.columns.clone();
        Some(Input { node: data.node_id(), name: data.text(), columns })
    }

    /// The entity's keys and time, and the model's inputs (marked with the view that fills
    /// those the input lacks); `None` after reporting what the input cannot give.
    fn score_columns(
        &mut self,
        file: FileId,
        span: Span,
        model: &ModelInfo,
        input: &Input,
    ) -> Option<(Vec<String>, Option<String>, Vec<Column>)> {
        let entity = model.dataset.as_ref().and_then(|d| self.dataset_info(d)).map(|d| d.base.clone())?;
        let entity = self.source_info(&entity)?.clone();
        let keys: Vec<String> = entity.columns.iter().filter(|c| c.key).map(|c| c.name.clone()).collect();
        let time = entity.time_column().map(|c| c.name.clone());
        let has = |name: &str| input.columns.iter().find(|c| c.name == name);
        let mut problems: Vec<(String, String)> = Vec::new();
        for k in keys.iter().filter(|k| has(k).is_none()) {
            problems.push((
                format!(
                    "`{}` lacks `{k}`, the key of `{}` that each prediction is written with",
                    input.name, entity.name
                ),
                format!("score rows that carry `{k}`"),
            ));
        }
        let mut inputs = Vec::new();
        for col in &model.inputs {
            match (has(&col.name), &col.view) {
                (Some(found), _) => {
                    if !col.ty.accepts(found.ty) {
                        self.err(
                            Code::E0004,
                            file,
                            span,
                            format!(
                                "`{}.{}` is {}, but `{}` takes {}",
                                input.name, col.name, found.ty, model.name, col.ty
                            ),
                            "cannot feed the model",
                            format!("score rows whose `{}` is {}", col.name, col.ty),
                        );
                        return None;
                    }
                    inputs.push(Column { view: None, ..col.clone() });
                }
                (None, Some(view)) => match time.as_ref().filter(|t| has(t).is_none()) {
                    Some(t) => problems.push((
                        format!(
                            "`{}` lacks `{}`, and without `{t}` it cannot be filled point-in-time from `{view}`",
                            input.name, col.name
                        ),
                        format!("score rows that carry `{t}`, the time of `{}`", entity.name),
                    )),
                    None => inputs.push(col.clone()),
                },
                (None, None) => problems.push((
                    format!("`{}` lacks the model input `{}`, and no feature view computes it", input.name, col.name),
                    format!("score rows that carry `{}`", col.name),
                )),
            }
        }
        if problems.is_empty() {
            return Some((keys, time, inputs));
        }
        for (message, help) in problems {
            self.diags.push(
                Diagnostic::new(Code::E0025, file, span, message)
                    .label(format!("cannot be scored by `{}`", model.name))
                    .secondary(model.site.file, model.site.span, "the model is declared here")
                    .help(help),
            );
        }
        None
    }
}
