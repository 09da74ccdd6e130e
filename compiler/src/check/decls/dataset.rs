//! `dataset` declarations: base source, feature views, label and split.

use super::*;
use crate::ast::StdKind;
use crate::types::{Task, Type};

impl Checker<'_> {
    pub(in crate::check) fn dataset(
        &mut self,
        file: FileId,
        item: &Item,
        name: &Ident,
        base: &Ident,
        views: &[Ident],
        body: Option<&Body>,
    ) {
        if self.names.get(&name.name).is_some_and(|(k, f, s)| *k != "dataset" || *f != file || *s != name.span) {
            return;
        }
        let base_ok = self.lookup(file, base, "source");
        let errors_before = self.diags.len();
        let mut columns: Vec<Column> = self.source_info(&base.name).map(|s| s.columns.clone()).unwrap_or_default();
        let mut view_names = Vec::new();
        for v in views {
            if !self.lookup(file, v, "features") {
                continue;
            }
            let Some(info) = self.view_info(&v.name).cloned() else { continue };
            if base_ok && info.entity != base.name {
                self.diags.push(
                    Diagnostic::new(
                        Code::E0005,
                        file,
                        v.span,
                        format!(
                            "feature view `{}` is computed per `{}`, but this dataset has one row per `{}`",
                            v.name, info.entity, base.name
                        ),
                    )
                    .label("another entity")
                    .secondary(info.site.file, info.site.span, format!("declared `on {}`", info.entity))
                    .help(format!("use views declared `on {}`", base.name)),
                );
                continue;
            }
            for f in &info.features {
                if columns.iter().any(|c| c.name == f.name) {
                    self.err(
                        Code::E0003,
                        file,
                        v.span,
                        format!("`{}` from `{}` clashes with a column of the same name", f.name, v.name),
                        "two columns named alike",
                        "rename one of them",
                    );
                    continue;
                }
                columns.push(f.column(&v.name));
            }
            view_names.push(v.name.clone());
        }
        let keys = self.keys(file, body, "a `dataset` block", block_keys("dataset"), |c, s| {
            c.misplaced(file, s, "a `dataset` block", "`label` and `split`")
        });
        let mut label = None;
        let mut task = None;
        match keys.get("label") {
            Some(e) => {
                match &e.kind {
                    ExprKind::Path(p) if p.parts.len() == 1 => {
                        let l = &p.parts[0];
                        match columns.iter().find(|c| c.name == l.name) {
                            Some(c) => {
                                self.a.references.push(Reference {
                                    file,
                                    span: l.span,
                                    target: match &c.view {
                                        Some(v) => Target::Feature { view: v.clone(), name: c.name.clone() },
                                        None => Target::Column { table: base.name.clone(), column: c.name.clone() },
                                    },
                                });
                                task = Task::for_label(c.ty);
                                if task.is_none() && c.ty != Type::Unknown {
                                    self.err(Code::E0004, file, e.span, format!("a `{}` label has no task", c.ty), "not a label type", "a bool or category label trains a classifier, an int or float label a regressor");
                                }
                                label = Some(l.name.clone());
                            }
                            None if base_ok => {
                                let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
                                self.unknown(file, l.span, &format!("column of `{}`", name.name), &l.name, names);
                            }
                            None => {}
                        }
                    }
                    _ => self.err(
                        Code::E0004,
                        file,
                        e.span,
                        "`label` names one column",
                        "not a column name",
                        "write e.g. `label = churned`",
                    ),
                }
            }
            None => self.missing(file, name.span, "a dataset", "label", "label = churned"),
        }
        let split = keys.get("split").and_then(|e| self.split(file, e, base, base_ok));
        if !base_ok || self.quiet_missing || self.diags.len() > errors_before {
            self.poisoned.insert(name.name.clone());
        }
        self.push_dataset(DatasetInfo {
            name: name.name.clone(),
            site: self.site(file, name.span, item),
            base: base.name.clone(),
            views: view_names,
            label,
            task,
            split,
            columns,
        });
    }

    fn split(&mut self, file: FileId, e: &Expr, base: &Ident, base_ok: bool) -> Option<SplitInfo> {
        let ExprKind::Call(c) = &e.kind else {
            self.err(
                Code::E0004,
                file,
                e.span,
                "`split` takes a splitter call",
                "not a split",
                "write e.g. `split = random(train = 80%, test = 20%, seed = 42)`",
            );
            return None;
        };
        let Some(entry) = self.std.lookup(StdKind::Splitter, &c.func.name) else {
            let names: Vec<&str> = self.std.names(StdKind::Splitter).collect();
            self.unknown(file, c.func.span, "splitter", &c.func.name, names);
            return None;
        };
        self.a.references.push(Reference {
            file,
            span: c.func.span,
            target: Target::Std { kind: StdKind::Splitter, name: c.func.name.clone() },
        });
        let mut parts = Vec::new();
        let mut bad_share = false;
        let mut seed = entry.param("seed").and_then(|p| p.default.as_ref()).and_then(|d| d.parse().ok());
        for a in &c.args {
            let Some(n) = &a.name else {
                bad_share = true;
                self.err(
                    Code::E0017,
                    file,
                    a.value.span,
                    "split shares are named",
                    "unnamed share",
                    "write e.g. `train = 80%`",
                );
                continue;
            };
            match &a.value.kind {
                ExprKind::Percent { value, .. } => {
                    if parts.iter().any(|(p, _)| p == &n.name) {
                        bad_share = true;
                        self.err(
                            Code::E0003,
                            file,
                            n.span,
                            format!("split `{}` is named twice", n.name),
                            "again here",
                            "give each split its own name",
                        );
                    } else if *value <= 0.0 || *value > 100.0 {
                        bad_share = true;
                        self.err(
                            Code::E0019,
                            file,
                            a.value.span,
                            "a split share must be above 0% and at most 100%",
                            "out of range",
                            "use a share such as `20%`",
                        );
                    } else {
                        parts.push((n.name.clone(), value / 100.0));
                    }
                }
                _ if entry.param(&n.name).is_some() => {
                    if let Some(v) = self.int_value(file, &a.value, &n.name, 0) {
                        seed = Some(v);
                    }
                }
                _ => self.err(
                    Code::E0004,
                    file,
                    a.value.span,
                    format!("`{}` is neither a share nor a parameter of `{}`", n.name, entry.name),
                    "expected a percentage",
                    format!("shares are percentages (`{} = 20%`); {} takes: {}", n.name, entry.name, entry.signature()),
                ),
            }
        }
        let total: f64 = parts.iter().map(|(_, v)| v).sum();
        if !parts.is_empty() && !bad_share && (total - 1.0).abs() > 1e-9 {
            self.err(
                Code::E0019,
                file,
                c.span,
                format!("split shares add up to {}%, not 100%", (total * 1e4).round() / 100.0),
                "shares must cover every row once",
                "adjust the shares so they add up to 100%",
            );
        }
        if parts.is_empty() && !bad_share {
            self.missing(file, c.span, "a split", "a share", "train = 80%, test = 20%");
        }
        if entry.name == "time" && base_ok {
            let has_time = self.source_info(&base.name).is_some_and(|s| s.time_column().is_some());
            if !has_time {
                self.err(
                    Code::E0007,
                    file,
                    c.span,
                    format!("a time split orders rows by time, but `{}` has no `time` column", base.name),
                    "nothing to order by",
                    format!("mark the column of `{}` that says when each row was true with `time`", base.name),
                );
            }
        }
        Some(SplitInfo {
            method: entry.name.clone(),
            seed: if entry.param("seed").is_some() { seed } else { None },
            parts,
        })
    }

    /// A dataset of this program to show in a help line: the first one declared (with its
    /// split number `split` when it has one), else `DATASET`.
    pub(in crate::check) fn example_dataset(&self, split: Option<usize>) -> String {
        match self.a.datasets.first() {
            Some(d) => match (split, d.split.as_ref().and_then(|sp| split.and_then(|i| sp.parts.get(i)))) {
                (Some(_), Some((part, _))) => format!("{}.{part}", d.name),
                _ => d.name.clone(),
            },
            None if split.is_some() => "DATASET.SPLIT".to_string(),
            None => "DATASET".to_string(),
        }
    }
}
