//! `features` views: feature declarations, their expressions, and cycles among them.

use super::*;
use crate::ast::Marker;
use crate::check::expr::{Ctx, Deps, Val};
use crate::types::Type;
use mlpc_plan::TExpr;
use std::collections::BTreeSet;

impl Checker<'_> {
    pub(in crate::check) fn features_head(
        &mut self,
        file: FileId,
        item: &Item,
        name: &Ident,
        entity: &Ident,
        body: &Body,
    ) {
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

    pub(in crate::check) fn features_body(&mut self, file: FileId, name: &Ident, body: &Body) {
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
    pub(in crate::check) fn feature_cycles(&mut self) {
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
    pub(in crate::check) fn view_cycles(&mut self) {
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
