//! One checking function per declaration kind.

use super::expr::{Ctx, Deps, Val};
use super::*;
use crate::ast::{Action, Call, Marker, Path, StdKind, StrLit};
use crate::plan::TExpr;
use crate::stdlib::ParamType;
use crate::types::{Task, Type};
use std::collections::BTreeSet;

const STAGES: &[&str] = &["staging", "production"];

impl Checker<'_> {
    fn site(&self, file: FileId, span: Span, item: &Item) -> Site {
        Site { file, span, doc: item.doc.clone() }
    }

    pub(super) fn pipeline(&mut self, file: FileId, item: &Item, name: &Ident, body: Option<&Body>) {
        let keys = self.keys(file, body, "a `pipeline` block", block_keys("pipeline"), |c, s| {
            c.misplaced(file, s, "a `pipeline` block", "`owner` and `schedule`")
        });
        let owner = keys.get("owner").and_then(|e| self.string_value(file, e, "owner"));
        let schedule = keys.get("schedule").and_then(|e| {
            let s = self.string_value(file, e, "schedule")?;
            let fields = s.split_whitespace().count();
            let problem = if fields != 5 && !s.trim_start().starts_with('@') {
                Some(format!("it has {fields} field{}, not 5", if fields == 1 { "" } else { "s" }))
            } else {
                cron_field_problem(&s).or_else(|| {
                    croner::Cron::new(&s).parse().err().map(|e| {
                        let why = e.to_string();
                        let why = why.trim_start_matches("Component error: ").trim_end_matches('.');
                        let mut chars = why.chars();
                        chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
                    })
                })
            };
            match problem {
                None => Some(s),
                Some(why) => {
                    self.err(
                        Code::E0013,
                        file,
                        e.span,
                        format!("`{s}` is not a valid cron schedule: {why}"),
                        "invalid cron expression",
                        "use five fields: minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\" for 02:00 daily",
                    );
                    None
                }
            }
        });
        self.a.pipeline =
            Some(PipelineInfo { name: name.name.clone(), site: self.site(file, name.span, item), owner, schedule });
    }

    pub(super) fn source(&mut self, file: FileId, item: &Item, name: &Ident, reader: &Call, body: &Body) {
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

    fn column_type(&mut self, file: FileId, ty: &Ident) -> Type {
        match Type::from_name(&ty.name).filter(|t| Type::COLUMN_TYPES.contains(t)) {
            Some(t) => t,
            None => {
                self.unknown(file, ty.span, "type", &ty.name, Type::COLUMN_TYPES.iter().map(|t| t.name()));
                Type::Unknown
            }
        }
    }

    /// Resolves every `references table.column` once all sources are known.
    pub(super) fn references(&mut self) {
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

    pub(super) fn check_block(&mut self, file: FileId, item: &Item, target: &Ident, body: &Body) {
        if !self.lookup(file, target, "source") {
            return;
        }
        let mut expectations = Vec::new();
        let keys = self.keys(file, Some(body), "a `check` block", block_keys("check"), |c, s| {
            if let StmtKind::Expect { expr } = &s.kind {
                let mut deps = Deps::default();
                let (v, t) = c.expr(file, expr, Ctx::Check { table: &target.name }, &mut deps);
                if let Val::Scalar(ty) = v {
                    if !Type::Bool.accepts(ty) {
                        c.mismatch(
                            file,
                            expr,
                            format!("an expectation must be a condition, this is `{ty}`"),
                            "not true or false",
                        );
                    }
                }
                let text = c.text(file, expr.span).to_string();
                expectations.push(Expectation { text, level: if deps.row_columns { "row" } else { "table" }, expr: t });
            } else {
                c.misplaced(file, s, "a `check` block", "`expect` lines and `on_fail`");
            }
        });
        let on_fail = keys
            .get("on_fail")
            .and_then(|e| self.word(file, e, "on_fail", &["stop", "warn"]))
            .unwrap_or_else(|| "stop".into());
        if expectations.is_empty() && !body.stmts.iter().any(|s| matches!(s.kind, StmtKind::Error { .. })) {
            self.missing(file, body.span, "a `check`", "expect", "expect row_count() > 0");
        }
        self.a.checks.push(CheckInfo {
            source: target.name.clone(),
            site: self.site(file, target.span, item),
            expectations,
            on_fail,
        });
    }

    pub(super) fn features_head(&mut self, file: FileId, item: &Item, name: &Ident, entity: &Ident, body: &Body) {
        if self.names.get(&name.name).is_some_and(|(k, f, s)| *k != "features" || *f != file || *s != name.span) {
            return;
        }
        let entity_ok = self.lookup(file, entity, "source");
        let entity_cols: Vec<String> = self
            .a
            .sources
            .iter()
            .find(|s| s.name == entity.name)
            .map(|s| s.columns.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default();
        let mut features: Vec<FeatureInfo> = Vec::new();
        let mut ttl = None;
        for stmt in &body.stmts {
            match &stmt.kind {
                StmtKind::Typed { name: f, ty, markers, value } => {
                    if let Some(m) = markers.first() {
                        let span = match m {
                            Marker::Key { span } | Marker::Time { span } => *span,
                            Marker::References { target } => target.span,
                        };
                        self.err(
                            Code::E0015,
                            file,
                            span,
                            "markers belong on source columns",
                            "not allowed on a feature",
                            "remove the marker",
                        );
                    }
                    if value.is_none() {
                        self.missing(
                            file,
                            stmt.span,
                            "a feature",
                            "= expression",
                            &format!("{}: {} = …", f.name, ty.name),
                        );
                    }
                    let ty = self.column_type(file, ty);
                    if let Some(prev) = features.iter().find(|x| x.name == f.name) {
                        let prev = prev.site.span;
                        self.diags.push(
                            Diagnostic::new(
                                Code::E0003,
                                file,
                                f.span,
                                format!("feature `{}` is declared twice", f.name),
                            )
                            .label("again here")
                            .secondary(file, prev, "first here")
                            .help("remove or rename one"),
                        );
                        continue;
                    }
                    if entity_ok && entity_cols.contains(&f.name) {
                        self.err(
                            Code::E0003,
                            file,
                            f.span,
                            format!("feature `{}` has the name of a column of `{}`", f.name, entity.name),
                            "clashes with a column",
                            "give the feature its own name",
                        );
                        continue;
                    }
                    features.push(FeatureInfo {
                        name: f.name.clone(),
                        ty,
                        expr: TExpr::lit(serde_json::Value::Null, Type::Unknown),
                        site: Site { file, span: f.span, doc: stmt.doc.clone() },
                        columns: BTreeSet::new(),
                        features: BTreeSet::new(),
                    });
                }
                StmtKind::Assign { name: k, value } if block_keys("features").contains(&k.name.as_str()) => {
                    ttl = self.duration_value(file, value, "ttl")
                }
                StmtKind::Assign { name: k, .. } => {
                    let d = Diagnostic::new(
                        Code::E0015,
                        file,
                        k.span,
                        format!("`{}` is not a key of a `features` block", k.name),
                    )
                    .label("unknown key");
                    self.diags.push(
                        match crate::diagnostic::suggest(&k.name, block_keys("features").iter().copied()) {
                            Some(best) => d.help(format!("did you mean `{best}`?")).fix(
                                format!("replace with `{best}`"),
                                k.span,
                                best,
                            ),
                            None => {
                                d.help("a `features` block takes `ttl` and features like `name: type = expression`")
                            }
                        },
                    );
                }
                StmtKind::Error { .. } => {}
                _ => self.misplaced(
                    file,
                    stmt,
                    "a `features` block",
                    "`ttl` and features like `name: type = expression`",
                ),
            }
        }
        self.push_view(ViewInfo {
            name: name.name.clone(),
            site: self.site(file, name.span, item),
            entity: entity.name.clone(),
            ttl_ms: ttl,
            features,
            tables: BTreeSet::new(),
        });
    }

    pub(super) fn features_body(&mut self, file: FileId, name: &Ident, body: &Body) {
        let this = |v: &ViewInfo| v.site.span == name.span && v.site.file == file;
        let Some(vi) = self.index.views.get(&name.name).copied().filter(|i| this(&self.a.views[*i])) else {
            return;
        };
        let entity = self.a.views[vi].entity.clone();
        if self.source_info(&entity).is_none() {
            return;
        }
        for stmt in &body.stmts {
            let StmtKind::Typed { name: f, value: Some(value), .. } = &stmt.kind else { continue };
            let Some(fi) = self.a.views[vi].features.iter().position(|x| x.name == f.name && x.site.span == f.span)
            else {
                continue;
            };
            let mut deps = Deps::default();
            let (v, t) = self.expr(file, value, Ctx::Feature { view: &name.name, entity: &entity }, &mut deps);
            let declared = self.a.views[vi].features[fi].ty;
            match v {
                Val::Scalar(found) if !declared.accepts(found) => {
                    self.diags.push(
                        Diagnostic::new(
                            Code::E0004,
                            file,
                            value.span,
                            format!("feature `{}` is declared `{declared}` but computes `{found}`", f.name),
                        )
                        .label(format!("this is `{found}`"))
                        .help(format!("declare it as `{found}`, or convert the value")),
                    );
                }
                Val::Table(t) => self.err(
                    Code::E0004,
                    file,
                    value.span,
                    format!("the table `{t}` is not a value"),
                    "a whole table",
                    format!("aggregate it, e.g. `count({t})`"),
                ),
                _ => {}
            }
            let view = &mut self.a.views[vi];
            view.tables.extend(deps.tables.iter().cloned());
            let feat = &mut view.features[fi];
            feat.expr = t;
            feat.columns = deps.columns;
            feat.features = deps.features;
        }
    }

    /// Features that depend on themselves, directly or through others.
    pub(super) fn feature_cycles(&mut self) {
        use petgraph::graph::DiGraph;
        let mut g = DiGraph::<(String, String), ()>::new();
        let mut idx = HashMap::new();
        for v in &self.a.views {
            for f in &v.features {
                idx.insert((v.name.clone(), f.name.clone()), g.add_node((v.name.clone(), f.name.clone())));
            }
        }
        for v in &self.a.views {
            for f in &v.features {
                for dep in &f.features {
                    if let (Some(a), Some(b)) = (idx.get(dep), idx.get(&(v.name.clone(), f.name.clone()))) {
                        g.add_edge(*a, *b, ());
                    }
                }
            }
        }
        for mut scc in petgraph::algo::tarjan_scc(&g) {
            let self_loop = scc.len() == 1 && g.contains_edge(scc[0], scc[0]);
            if scc.len() < 2 && !self_loop {
                continue;
            }
            scc.sort_by_key(|n| g[*n].clone());
            let names: Vec<String> = cycle_order(&g, &scc).iter().map(|n| format!("{}.{}", g[*n].0, g[*n].1)).collect();
            let sites: Vec<Site> = scc
                .iter()
                .filter_map(|n| {
                    let (v, f) = &g[*n];
                    self.view_info(v)?.feature(f).map(|f| f.site.clone())
                })
                .collect();
            let Some(first) = sites.first() else { continue };
            let mut d = Diagnostic::new(
                Code::E0014,
                first.file,
                first.span,
                format!("features depend on each other in a cycle: {} → {}", names.join(" → "), names[0]),
            )
            .label("this feature is part of the cycle")
            .help("break the cycle: compute one of these features from source columns only");
            for s in &sites[1..] {
                d = d.secondary(s.file, s.span, "also in the cycle");
            }
            self.diags.push(d);
        }
    }

    /// Feature views that read each other's features in a cycle (each feature may still
    /// be computable, but views materialize as units, one after another).
    pub(super) fn view_cycles(&mut self) {
        use petgraph::graph::DiGraph;
        let mut g = DiGraph::<String, ()>::new();
        let idx: HashMap<String, _> =
            self.a.views.iter().map(|v| (v.name.clone(), g.add_node(v.name.clone()))).collect();
        for v in &self.a.views {
            let readers: BTreeSet<&String> =
                v.features.iter().flat_map(|f| f.features.iter().map(|(view, _)| view)).collect();
            for other in readers.into_iter().filter(|o| **o != v.name) {
                if let (Some(a), Some(b)) = (idx.get(other), idx.get(&v.name)) {
                    g.update_edge(*a, *b, ());
                }
            }
        }
        for mut scc in petgraph::algo::tarjan_scc(&g) {
            if scc.len() < 2 {
                continue;
            }
            scc.sort_by_key(|n| g[*n].clone());
            let names: Vec<String> = cycle_order(&g, &scc).iter().map(|n| g[*n].clone()).collect();
            let sites: Vec<Site> = names.iter().filter_map(|n| self.view_info(n)).map(|v| v.site.clone()).collect();
            let Some(first) = sites.first() else { continue };
            let mut d = Diagnostic::new(
                Code::E0014,
                first.file,
                first.span,
                format!("feature views read each other in a cycle: {} → {}", names.join(" → "), names[0]),
            )
            .label("part of the cycle")
            .help("views are computed one after another: move the shared features into one view");
            for (s, prev) in sites[1..].iter().zip(&names) {
                d = d.secondary(s.file, s.span, format!("reads `{prev}`"));
            }
            self.diags.push(d);
        }
    }

    pub(super) fn dataset(
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
    pub(super) fn example_dataset(&self, split: Option<usize>) -> String {
        match self.a.datasets.first() {
            Some(d) => match (split, d.split.as_ref().and_then(|sp| split.and_then(|i| sp.parts.get(i)))) {
                (Some(_), Some((part, _))) => format!("{}.{part}", d.name),
                _ => d.name.clone(),
            },
            None if split.is_some() => "DATASET.SPLIT".to_string(),
            None => "DATASET".to_string(),
        }
    }

    pub(super) fn model(&mut self, file: FileId, item: &Item, name: &Ident, algo: &Call, body: Option<&Body>) {
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

    fn single_string(&mut self, file: FileId, c: &Call) -> Option<String> {
        match c.args.as_slice() {
            [a] if a.name.is_none() => match &a.value.kind {
                ExprKind::Str { value } => Some(value.clone()),
                _ => {
                    self.mismatch(file, &a.value, format!("`{}` takes a string", c.func.name), "not a string");
                    None
                }
            },
            _ => {
                let example = if c.func.name == "onnx" {
                    "onnx(\"models/churn.onnx\")"
                } else {
                    "command(\"python train.py --train {train} --out {model}\")"
                };
                self.err(
                    Code::E0017,
                    file,
                    c.span,
                    format!("`{}` takes one string", c.func.name),
                    "wrong arguments",
                    format!("e.g. `{example}`"),
                );
                None
            }
        }
    }

    /// `command("LINE", env = ["VAR", …])`: the command line, and the environment variables
    /// passed to it beside the few every command gets (`PATH`, `HOME`, locale, `TMPDIR`).
    fn command(&mut self, file: FileId, c: &Call) -> Option<Trainer> {
        let mut env = Vec::new();
        let mut env_span: Option<Span> = None;
        for (n, a) in c.args.iter().filter_map(|a| a.name.as_ref().map(|n| (n, a))) {
            if n.name != "env" {
                self.unknown(file, n.span, "option of `command`", &n.name, ["env"]);
                continue;
            }
            if let Some(first) = env_span {
                self.diags.push(
                    Diagnostic::new(Code::E0003, file, n.span, "`env` is given twice")
                        .label("again")
                        .secondary(file, first, "first given here")
                        .help("list every variable in one `env = [...]`"),
                );
                continue;
            }
            env_span = Some(n.span);
            if let Some(names) = self.env_names(file, &a.value) {
                env = names;
            }
        }
        let line = c.args.iter().filter(|a| a.name.is_none()).cloned().collect();
        let call = Call { args: line, ..c.clone() };
        self.single_string(file, &call).map(|command| Trainer::Command { command, env })
    }

    /// The variable names of `env = [...]`: string literals that are environment variable
    /// names, each once, never the admin token.
    fn env_names(&mut self, file: FileId, e: &Expr) -> Option<Vec<String>> {
        let ExprKind::List { items } = &e.kind else {
            self.mismatch(file, e, "`env` takes a list of variable names".into(), "not a list");
            return None;
        };
        let mut names: Vec<String> = Vec::new();
        for item in items {
            let ExprKind::Str { value } = &item.kind else {
                self.mismatch(file, item, "`env` lists variable names as strings".into(), "not a string");
                continue;
            };
            let valid = value.chars().next().is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_')
                && value.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
            if !valid {
                self.err(
                    Code::E0019,
                    file,
                    item.span,
                    format!("`{value}` is not an environment variable name"),
                    "not a name",
                    "a name is letters, digits and `_`, not starting with a digit: `env = [\"AWS_PROFILE\"]`",
                );
            } else if value == "MLPC_ADMIN_TOKEN" {
                self.err(
                    Code::E0019,
                    file,
                    item.span,
                    "`MLPC_ADMIN_TOKEN` is never passed to a command",
                    "refused",
                    "the admin token guards the daemon's admin API; a training command has no use for it",
                );
            } else if names.contains(value) {
                self.err(
                    Code::E0003,
                    file,
                    item.span,
                    format!("`{value}` is listed twice"),
                    "again",
                    "list each variable once",
                );
            } else {
                names.push(value.clone());
            }
        }
        Some(names)
    }

    fn placeholders(&mut self, file: FileId, e: &Expr, command: &str, has_train: bool) {
        let mut rest = command;
        let mut seen = BTreeSet::new();
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else { break };
            let word = &rest[open + 1..open + close];
            if !["train", "model"].contains(&word) {
                self.err(Code::E0019, file, e.span, format!("unknown placeholder `{{{word}}}`"), "not substituted", "placeholders are `{train}` (the training split, as Parquet) and `{model}` (where to write the ONNX file)");
            }
            seen.insert(word.to_string());
            rest = &rest[open + close + 1..];
        }
        if !seen.contains("model") {
            self.err(
                Code::E0019,
                file,
                e.span,
                "the command never learns where to write the model",
                "no `{model}`",
                "add `{model}` where the command takes its output path",
            );
        }
        if seen.contains("train") && !has_train {
            self.err(
                Code::E0016,
                file,
                e.span,
                "`{train}` needs a `train` key",
                "nothing to substitute",
                "add `train = DATASET.SPLIT` to the block",
            );
        }
    }

    fn algorithm(&mut self, file: FileId, c: &Call) -> Option<Trainer> {
        let Some(entry) = self.std.lookup(StdKind::Algorithm, &c.func.name) else {
            let mut names: Vec<&str> = self.std.names(StdKind::Algorithm).collect();
            names.extend(["onnx", "command"]);
            self.unknown(file, c.func.span, "algorithm", &c.func.name, names);
            return None;
        };
        self.a.references.push(Reference {
            file,
            span: c.func.span,
            target: Target::Std { kind: StdKind::Algorithm, name: c.func.name.clone() },
        });
        let mut params = serde_json::Map::new();
        for p in &entry.params {
            if let Some(d) = &p.default {
                params.insert(p.name.clone(), serde_json::from_str(d).unwrap_or(serde_json::json!(d)));
            }
        }
        for a in &c.args {
            let Some(n) = &a.name else {
                self.err(
                    Code::E0017,
                    file,
                    a.value.span,
                    "algorithm parameters are named",
                    "unnamed parameter",
                    format!("signature: {}", entry.signature()),
                );
                continue;
            };
            let Some(p) = entry.param(&n.name) else {
                let names: Vec<&str> = entry.params.iter().map(|p| p.name.as_str()).collect();
                self.unknown(file, n.span, &format!("parameter of `{}`", entry.name), &n.name, names);
                continue;
            };
            let value = match (&a.value.kind, p.ty, number(&a.value)) {
                (_, ParamType::Exact(Type::Int), Some((value, true))) => Some(serde_json::json!(value as i64)),
                (_, ParamType::Exact(Type::Float), Some((value, _))) => Some(serde_json::json!(value)),
                (ExprKind::Bool { value }, ParamType::Exact(Type::Bool), _) => Some(serde_json::json!(value)),
                (ExprKind::Str { value }, ParamType::Exact(Type::String), _) => Some(serde_json::json!(value)),
                (ExprKind::List { items }, ParamType::Exact(Type::List), _) => {
                    let ints: Option<Vec<i64>> = items
                        .iter()
                        .map(|i| match &i.kind {
                            ExprKind::Number { value, integer: true, .. } => Some(*value as i64),
                            _ => None,
                        })
                        .collect();
                    if ints.is_none() {
                        self.mismatch(
                            file,
                            &a.value,
                            format!("`{}` takes a list of whole numbers", n.name),
                            "not all whole numbers",
                        );
                    }
                    ints.map(|v| serde_json::json!(v))
                }
                _ => {
                    self.mismatch(
                        file,
                        &a.value,
                        format!("`{}` takes a `{}`", n.name, p.ty.name()),
                        "wrong kind of value",
                    );
                    None
                }
            };
            if let Some(v) = value {
                self.in_range(file, &entry.name, p, &a.value, &v);
                params.insert(n.name.clone(), v);
            }
        }
        Some(Trainer::Algorithm { algorithm: entry.name.clone(), params })
    }

    /// A parameter's value (each item of a list) against the range its stdlib
    /// declaration gives with `expect NAME …` (E0022).
    fn in_range(&mut self, file: FileId, algorithm: &str, p: &crate::stdlib::Param, e: &Expr, v: &serde_json::Value) {
        if p.range.is_empty() {
            return;
        }
        let values: Vec<(f64, Span)> = match (v, &e.kind) {
            (serde_json::Value::Array(vs), ExprKind::List { items }) => {
                vs.iter().zip(items).filter_map(|(v, i)| Some((v.as_f64()?, i.span))).collect()
            }
            _ => v.as_f64().map(|x| (x, e.span)).into_iter().collect(),
        };
        let list = matches!(v, serde_json::Value::Array(_));
        for (x, span) in values {
            if p.range.contains(x) {
                continue;
            }
            let what = if list { format!("each item of `{}`", p.name) } else { format!("`{}`", p.name) };
            let example = p.default.as_deref().unwrap_or("the default");
            self.err(
                Code::E0022,
                file,
                span,
                format!("{what} must be {}, not {x}", p.range.describe()),
                format!("must be {}", p.range.describe()),
                format!(
                    "`{algorithm}` declares `{}` {} (stdlib/algorithms.mlp); its default is {example}",
                    p.name,
                    p.range.describe()
                ),
            );
            break;
        }
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

    pub(super) fn evaluate(&mut self, file: FileId, item: &Item, model: &Ident, data: &Path, body: Option<&Body>) {
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
    pub(super) fn metric_name(&mut self, file: FileId, m: &Ident, task: Option<Task>, also: &[&str]) -> bool {
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

    pub(super) fn register(
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

    fn condition(&mut self, file: FileId, cond: &Expr, v: &Val) {
        if let Val::Scalar(ty) = v {
            if !Type::Bool.accepts(*ty) {
                self.mismatch(
                    file,
                    cond,
                    format!("a condition must be true or false, this is `{ty}`"),
                    "not a condition",
                );
            }
        }
    }

    /// The model behind a registered name.
    fn registered_model(&mut self, file: FileId, name: &StrLit) -> Option<ModelInfo> {
        match self.registered.get(&name.value) {
            Some((model, _, _)) => {
                let model = model.clone();
                self.a.references.push(Reference {
                    file,
                    span: name.span,
                    target: Target::Registered { name: name.value.clone() },
                });
                self.model_info(&model).cloned()
            }
            None => {
                let names: Vec<String> = self.registered.keys().cloned().collect();
                self.unknown(file, name.span, "registered model", &name.value, names.iter().map(String::as_str));
                None
            }
        }
    }

    pub(super) fn serve(&mut self, file: FileId, item: &Item, registered: &StrLit, body: Option<&Body>) {
        if let Some(prev) = self.serve_info(&registered.value) {
            let (f, s) = (prev.site.file, prev.site.span);
            self.diags.push(
                Diagnostic::new(Code::E0003, file, registered.span, format!("`{}` is served twice", registered.value))
                    .label("served again here")
                    .secondary(f, s, "first served here")
                    .help("serve each registered model once; put the canary, shadow and fallback in that one block"),
            );
            return;
        }
        let model = self.registered_model(file, registered);
        let mut canary: Option<(Span, CanaryInfo)> = None;
        let keys = self.keys(file, body, "a `serve` block", block_keys("serve"), |c, s| match &s.kind {
            StmtKind::Block { name, body } if name.name == "canary" => {
                if let Some((prev, _)) = &canary {
                    let prev = *prev;
                    c.diags.push(
                        Diagnostic::new(Code::E0003, file, name.span, "a serve block has one canary")
                            .label("second canary")
                            .secondary(file, prev, "first canary")
                            .help("merge the two blocks"),
                    );
                } else {
                    canary = c.canary(file, name, body).map(|ci| (name.span, ci));
                }
            }
            _ => c.misplaced(
                file,
                s,
                "a `serve` block",
                "`stage`, `features`, `shadow`, `fallback` and a `canary { … }` block",
            ),
        });
        let stage =
            keys.get("stage").and_then(|e| self.word(file, e, "stage", STAGES)).unwrap_or_else(|| "production".into());
        let shadow = keys.get("shadow").and_then(|e| self.word(file, e, "shadow", STAGES));
        if shadow.as_deref() == Some(stage.as_str()) {
            self.err(
                Code::E0019,
                file,
                keys.get("shadow").map_or(item.span, |e| e.span),
                "the shadow is the stage being served",
                "same stage",
                "shadow the other stage, or remove `shadow`",
            );
        }
        let fallback = keys.get("fallback").and_then(|e| self.word(file, e, "fallback", &["previous", "none"]));
        let features = keys.get("features").and_then(|e| {
            let ExprKind::Path(p) = &e.kind else {
                self.err(
                    Code::E0004,
                    file,
                    e.span,
                    "`features` names a feature view",
                    "not a view",
                    "write e.g. `features = customer_features`",
                );
                return None;
            };
            if p.parts.len() != 1 || !self.lookup(file, &p.parts[0], "features") {
                return None;
            }
            let view = p.parts[0].name.clone();
            if let Some(m) = &model {
                if !m.inputs.iter().any(|c| c.view.as_deref() == Some(&view)) {
                    self.err(
                        Code::E0004,
                        file,
                        e.span,
                        format!("`{}` takes no feature from `{view}`", m.name),
                        "nothing to look up",
                        format!("name a view among the inputs of `{}`, or remove `features`", m.name),
                    );
                    return None;
                }
            }
            Some(view)
        });
        self.push_serve(ServeInfo {
            registered: registered.value.clone(),
            site: self.site(file, registered.span, item),
            model: model.map(|m| m.name),
            stage,
            features,
            shadow,
            fallback,
            canary: canary.map(|(_, c)| c),
        });
    }

    fn canary(&mut self, file: FileId, name: &Ident, body: &Body) -> Option<CanaryInfo> {
        let mut promote = None;
        let mut rollback = None;
        let keys = self.keys(file, Some(body), "a `canary` block", block_keys("canary"), |c, s| {
            let (slot, cond) = match &s.kind {
                StmtKind::Promote { stage: None, cond } => (&mut promote, cond),
                StmtKind::Rollback { cond } => (&mut rollback, cond),
                _ => {
                    return c.misplaced(
                        file,
                        s,
                        "a `canary` block",
                        "`steps`, `interval`, `min_requests`, `promote when …` and `rollback when …`",
                    )
                }
            };
            let mut deps = Deps::default();
            let (v, t) = c.expr(file, cond, Ctx::Canary, &mut deps);
            c.condition(file, cond, &v);
            if slot.is_some() {
                c.err(
                    Code::E0003,
                    file,
                    s.span,
                    "this gate is set twice",
                    "again here",
                    "join the conditions with `and` / `or`",
                );
            }
            *slot = Some(Rule { text: c.text(file, cond.span).to_string(), expr: t });
        });
        let steps = match keys.get("steps") {
            Some(e) => self.steps(file, e),
            None => {
                self.missing(file, name.span, "a canary", "steps", "steps = [10%, 50%, 100%]");
                Vec::new()
            }
        };
        let interval = match keys.get("interval") {
            Some(e) => self.duration_value(file, e, "interval").unwrap_or(0),
            None => {
                self.missing(file, name.span, "a canary", "interval", "interval = 30m");
                0
            }
        };
        let min_requests =
            keys.get("min_requests").and_then(|e| self.int_value(file, e, "min_requests", 1)).unwrap_or(100) as u64;
        if promote.is_none() && rollback.is_none() {
            self.missing(
                file,
                name.span,
                "a canary",
                "promote when",
                "promote when p99_latency < 50ms and error_rate < 1%",
            );
        }
        Some(CanaryInfo { steps, interval_ms: interval, min_requests, promote, rollback })
    }

    fn steps(&mut self, file: FileId, e: &Expr) -> Vec<f64> {
        let ExprKind::List { items } = &e.kind else {
            self.err(
                Code::E0004,
                file,
                e.span,
                "`steps` takes a list of percentages",
                "not a list",
                "write e.g. `steps = [10%, 50%, 100%]`",
            );
            return Vec::new();
        };
        let mut out: Vec<f64> = Vec::new();
        for it in items {
            let ExprKind::Percent { value, .. } = &it.kind else {
                self.err(
                    Code::E0004,
                    file,
                    it.span,
                    "a traffic step is a percentage",
                    "not a percentage",
                    "write e.g. `10%`",
                );
                continue;
            };
            if *value <= 0.0 || *value > 100.0 {
                self.err(
                    Code::E0012,
                    file,
                    it.span,
                    format!("a traffic step must be above 0% and at most 100%, not {value}%"),
                    "out of range",
                    "use shares such as `[10%, 50%, 100%]`",
                );
                continue;
            }
            if let Some(prev) = out.last() {
                if value / 100.0 <= *prev {
                    self.err(
                        Code::E0012,
                        file,
                        it.span,
                        format!("traffic steps must increase: {value}% follows {}%", prev * 100.0),
                        "not above the step before",
                        "order the steps from the smallest share to the largest",
                    );
                    continue;
                }
            }
            out.push(value / 100.0);
        }
        if out.is_empty() && items.is_empty() {
            self.err(
                Code::E0012,
                file,
                e.span,
                "a canary needs at least one traffic step",
                "empty",
                "write e.g. `steps = [10%, 50%, 100%]`",
            );
        }
        out
    }

    pub(super) fn monitor(
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
                alerts.push(AlertInfo { rule: Rule { text: c.text(file, cond.span).to_string(), expr: t }, action });
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

/// Which field of a five-field cron schedule holds a number outside its range, or a
/// zero step: `the hour field is 25, outside 0–23`. `None` when every number fits
/// (names such as `MON` or `JAN` and croner's `L`, `W`, `#` are left to croner).
fn cron_field_problem(s: &str) -> Option<String> {
    const FIELDS: [(&str, u64, u64); 5] =
        [("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12), ("day-of-week", 0, 7)];
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return None;
    }
    for (field, (name, low, high)) in fields.iter().zip(FIELDS) {
        for part in field.split(',') {
            let (values, step) = match part.split_once('/') {
                Some((v, st)) => (v, Some(st)),
                None => (part, None),
            };
            if let Some(step) = step.and_then(|st| st.parse::<u64>().ok()) {
                if step == 0 {
                    return Some(format!("the {name} field `{field}` steps by 0; a step is at least 1"));
                }
            }
            for value in values.split('-') {
                let value = value.split('#').next().unwrap_or(value).trim_end_matches(['L', 'W', 'l', 'w']);
                let Ok(n) = value.parse::<u64>() else { continue };
                if n < low || n > high {
                    return Some(format!("the {name} field is {n}, outside {low}–{high}"));
                }
            }
        }
    }
    None
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

/// The nodes of a strongly connected component in the order the cycle visits them.
fn cycle_order<N>(
    g: &petgraph::graph::DiGraph<N, ()>,
    scc: &[petgraph::graph::NodeIndex],
) -> Vec<petgraph::graph::NodeIndex> {
    let mut order = vec![scc[0]];
    let mut current = scc[0];
    while order.len() < scc.len() {
        let next = g.neighbors(current).find(|n| scc.contains(n) && !order.contains(n));
        match next {
            Some(n) => {
                order.push(n);
                current = n;
            }
            None => break,
        }
    }
    order
}
