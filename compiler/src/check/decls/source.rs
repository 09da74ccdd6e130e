//! `source` declarations: columns, markers, the reader call, and `references` between
//! sources.

use super::*;
use crate::ast::{Call, Marker, StdKind};
use crate::stdlib::ParamType;
use crate::types::Type;

impl Checker<'_> {
    pub(in crate::check) fn source(&mut self, file: FileId, item: &Item, name: &Ident, reader: &Call, body: &Body) {
        let (format, path, options) = self.reader(file, reader).unwrap_or_default();
        let mut columns: Vec<Column> = Vec::new();
        for stmt in &body.stmts {
            let StmtKind::Typed { name: col, ty, markers, value } = &stmt.kind else {
                self.misplaced(file, stmt, "a `source` block", "column declarations like `id: int key`");
                continue;
            };
            if let Some(v) = value {
                self.err(
                    Code::E0015,
                    file,
                    v.span,
                    "a source column has no value: its values come from the data",
                    "remove this",
                    "computed columns belong in a `features` block",
                );
            }
            let ty = self.column_type(file, ty);
            let mut column = Column {
                name: col.name.clone(),
                ty,
                key: false,
                time: false,
                references: None,
                view: None,
                site: Site { file, span: col.span, doc: stmt.doc.clone() },
            };
            for m in markers {
                match m {
                    Marker::Key { .. } => column.key = true,
                    Marker::Time { span } => {
                        if !ty.is_temporal() {
                            self.err(
                                Code::E0004,
                                file,
                                *span,
                                format!("a `time` column must be a date or timestamp, `{}` is `{ty}`", col.name),
                                "not a time type",
                                "declare it as `timestamp` or `date`",
                            );
                        } else if let Some(prev) = columns.iter().find(|c| c.time) {
                            let prev = prev.site.span;
                            self.diags.push(
                                Diagnostic::new(Code::E0003, file, *span, "a source has one `time` column")
                                    .label("second time column")
                                    .secondary(file, prev, "first time column")
                                    .help("keep `time` on the column that says when each row was true"),
                            );
                        } else {
                            column.time = true;
                        }
                    }
                    Marker::References { target } => {
                        if target.parts.len() != 2 {
                            self.err(
                                Code::E0002,
                                file,
                                target.span,
                                "`references` names `table.column`",
                                "expected `table.column`",
                                "e.g. `references customers.customer_id`",
                            );
                        } else {
                            column.references = Some(ColumnRef {
                                table: target.parts[0].name.clone(),
                                column: target.parts[1].name.clone(),
                                span: target.span,
                            });
                        }
                    }
                }
            }
            if let Some(prev) = columns.iter().find(|c| c.name == col.name) {
                let prev = prev.site.span;
                self.diags.push(
                    Diagnostic::new(Code::E0003, file, col.span, format!("column `{}` is declared twice", col.name))
                        .label("again here")
                        .secondary(file, prev, "first here")
                        .help("remove or rename one"),
                );
                continue;
            }
            columns.push(column);
        }
        if columns.is_empty() && !body.stmts.iter().any(|s| matches!(s.kind, StmtKind::Error { .. })) {
            self.err(
                Code::E0016,
                file,
                body.span,
                "a `source` declares at least one column",
                "no columns",
                "declare the columns the data has, e.g. `id: int key`",
            );
        }
        self.push_source(SourceInfo {
            name: name.name.clone(),
            site: self.site(file, name.span, item),
            format,
            path,
            options,
            columns,
        });
    }

    /// `csv("path", delimiter = ";")`: the reader, its path and its options.
    fn reader(
        &mut self,
        file: FileId,
        c: &Call,
    ) -> Option<(String, String, serde_json::Map<String, serde_json::Value>)> {
        let Some(entry) = self.std.lookup(StdKind::Reader, &c.func.name) else {
            let names: Vec<&str> = self.std.names(StdKind::Reader).collect();
            self.unknown(file, c.func.span, "reader", &c.func.name, names);
            return None;
        };
        self.a.references.push(Reference {
            file,
            span: c.func.span,
            target: Target::Std { kind: StdKind::Reader, name: c.func.name.clone() },
        });
        let mut path = None;
        let mut options = serde_json::Map::new();
        for (i, a) in c.args.iter().enumerate() {
            let pname = match &a.name {
                Some(n) => n.name.clone(),
                None if i == 0 => "path".to_string(),
                None => {
                    self.err(
                        Code::E0017,
                        file,
                        a.value.span,
                        "reader options are named",
                        "unnamed option",
                        format!("signature: {}", entry.signature()),
                    );
                    continue;
                }
            };
            let Some(param) = entry.param(&pname) else {
                let names: Vec<&str> = entry.params.iter().map(|p| p.name.as_str()).collect();
                self.unknown(
                    file,
                    a.name.as_ref().map_or(a.value.span, |n| n.span),
                    &format!("option of `{}`", entry.name),
                    &pname,
                    names,
                );
                continue;
            };
            let value = match (&a.value.kind, param.ty) {
                (ExprKind::Str { value }, ParamType::Exact(Type::String)) => serde_json::json!(value),
                (ExprKind::Bool { value }, ParamType::Exact(Type::Bool)) => serde_json::json!(value),
                _ => {
                    self.mismatch(
                        file,
                        &a.value,
                        format!("`{pname}` takes a `{}` literal", param.ty.name()),
                        "wrong kind of value",
                    );
                    continue;
                }
            };
            if pname == "path" {
                path = value.as_str().map(str::to_string);
            } else {
                options.insert(pname, value);
            }
        }
        for p in entry.params.iter().filter(|p| p.default.is_none()) {
            if p.name != "path" && !options.contains_key(&p.name) {
                self.err(
                    Code::E0017,
                    file,
                    c.span,
                    format!("`{}` needs `{}`", entry.name, p.name),
                    "missing option",
                    format!("signature: {}", entry.signature()),
                );
            }
        }
        let Some(path) = path else {
            self.err(
                Code::E0017,
                file,
                c.span,
                format!("`{}` needs a path", entry.name),
                "no path",
                format!("e.g. `{}(\"data/table.{}\")`", entry.name, entry.name),
            );
            return None;
        };
        if entry.name == "duckdb" && path.contains(['*', '?', '[']) {
            let span = c.args.iter().find(|a| a.name.is_none()).map_or(c.span, |a| a.value.span);
            self.err(
                Code::E0019,
                file,
                span,
                "a `duckdb` source reads one database file, not a glob",
                "a glob",
                "name the file; globs are for `csv` and `parquet` sources",
            );
        }
        Some((entry.name.clone(), path, options))
    }

    pub(super) fn column_type(&mut self, file: FileId, ty: &Ident) -> Type {
        match Type::from_name(&ty.name).filter(|t| Type::COLUMN_TYPES.contains(t)) {
            Some(t) => t,
            None => {
                self.unknown(file, ty.span, "type", &ty.name, Type::COLUMN_TYPES.iter().map(|t| t.name()));
                Type::Unknown
            }
        }
    }

    /// Resolves every `references table.column` once all sources are known.
    pub(in crate::check) fn references(&mut self) {
        let mut found = Vec::new();
        for (si, s) in self.a.sources.iter().enumerate() {
            for (ci, c) in s.columns.iter().enumerate() {
                if let Some(r) = &c.references {
                    found.push((si, ci, s.name.clone(), c.clone(), r.clone()));
                }
            }
        }
        for (si, ci, table, col, r) in found {
            let file = col.site.file;
            let span = r.span;
            let target = self
                .source_info(&r.table)
                .map(|s| (s.column(&r.column).cloned(), s.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>()));
            let ok = match target {
                None => {
                    let names: Vec<String> =
                        self.names.iter().filter(|(_, v)| v.0 == "source").map(|(n, _)| n.clone()).collect();
                    self.unknown(file, span, "source", &r.table, names.iter().map(String::as_str));
                    false
                }
                Some((None, names)) => {
                    self.unknown(
                        file,
                        span,
                        &format!("column of `{}`", r.table),
                        &r.column,
                        names.iter().map(String::as_str),
                    );
                    false
                }
                Some((Some(tc), _)) => {
                    self.used.insert(("source", r.table.clone()));
                    self.a.references.push(Reference {
                        file,
                        span,
                        target: Target::Column { table: r.table.clone(), column: r.column.clone() },
                    });
                    if !tc.ty.accepts(col.ty) && !col.ty.accepts(tc.ty) {
                        self.err(
                            Code::E0004,
                            file,
                            span,
                            format!(
                                "`{table}.{}` is `{}` but `{}.{}` is `{}`",
                                col.name, col.ty, r.table, r.column, tc.ty
                            ),
                            "types differ",
                            "a reference joins on equal values: give both columns one type",
                        );
                        false
                    } else if !tc.key {
                        self.err(
                            Code::E0005,
                            file,
                            span,
                            format!("`{}.{}` is not a key", r.table, r.column),
                            "references must point at a key",
                            format!("mark `{}` as `key` in `{}`", r.column, r.table),
                        );
                        false
                    } else {
                        true
                    }
                }
            };
            if !ok {
                self.a.sources[si].columns[ci].references = None;
            }
        }
    }
}
