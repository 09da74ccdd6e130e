//! Lowering: a checked program's `Analysis` becomes a [`Plan`] — one typed node per
//! declaration and per split, data and trigger edges, hashes, a topological order. The plan's
//! types live in `mlpc-plan`, which everything downstream reads.

use crate::ast::StdKind;
use crate::check::{self, Analysis};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::Sources;
use crate::stdlib::Stdlib;
pub use mlpc_plan::*;
use petgraph::graph::{DiGraph, NodeIndex};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

struct Builder<'a> {
    sources: &'a Sources,
    nodes: BTreeMap<String, Node>,
    /// Where each node is declared, for diagnostics about the graph.
    sites: BTreeMap<String, (crate::source::FileId, crate::source::Span)>,
    edges: BTreeSet<Edge>,
}

impl Builder<'_> {
    fn add(&mut self, id: String, name: &str, site: &check::Site, schema: Vec<Column>, def: NodeDef) -> String {
        let normalized = serde_json::json!({ "node": def, "name": name, "schema": schema });
        let hash = format!("{:x}", Sha256::digest(normalized.to_string().as_bytes()));
        let file = self.sources.get(site.file);
        let location = Location { file: file.path.clone(), line: file.line_col(site.span.start).line };
        self.sites.insert(id.clone(), (site.file, site.span));
        let node = Node {
            id: id.clone(),
            name: name.to_string(),
            inputs: Vec::new(),
            schema,
            def,
            hash,
            doc: site.doc.clone(),
            location,
        };
        self.nodes.insert(id.clone(), node);
        id
    }
    fn edge(&mut self, from: &str, to: &str) {
        if self.nodes.contains_key(from) && self.nodes.contains_key(to) && from != to {
            self.edges.insert(Edge { from: from.into(), to: to.into(), kind: EdgeKind::Data, action: None });
        }
    }
    fn trigger(&mut self, from: &str, to: &str, action: &str) {
        if self.nodes.contains_key(from) && self.nodes.contains_key(to) {
            self.edges.insert(Edge {
                from: from.into(),
                to: to.into(),
                kind: EdgeKind::Trigger,
                action: Some(action.into()),
            });
        }
    }
}

/// A column as the plan carries it: without where it was written.
fn column(c: &check::Column) -> Column {
    Column {
        name: c.name.clone(),
        ty: c.ty,
        key: c.key,
        time: c.time,
        references: c.references.as_ref().map(|r| ColumnRef { table: r.table.clone(), column: r.column.clone() }),
        view: c.view.clone(),
    }
}

fn columns(cs: &[check::Column]) -> Vec<Column> {
    cs.iter().map(column).collect()
}

/// A reader's options with the stdlib's defaults filled in, so the runtime applies none.
fn reader_options(
    format: &str,
    written: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut options = written.clone();
    if let Some(entry) = Stdlib::get().lookup(StdKind::Reader, format) {
        for p in entry.params.iter().filter(|p| p.name != "path") {
            if let (Some(d), false) = (&p.default, options.contains_key(&p.name)) {
                options.insert(p.name.clone(), serde_json::from_str(d).unwrap_or_else(|_| serde_json::json!(d)));
            }
        }
    }
    options
}

/// The stdlib's drift tests, as a monitor counts drifted columns by them.
fn drift_tests() -> Vec<DriftTestDef> {
    Stdlib::get()
        .entries()
        .filter(|e| e.kind == StdKind::DriftTest)
        .filter_map(|e| {
            Some(DriftTestDef { name: e.name.clone(), threshold: e.threshold?, drift_when_below: e.drift_when_below })
        })
        .collect()
}

/// Lowers a checked program. Fails only on a cycle in the data flow.
pub fn lower(sources: &Sources, a: &Analysis) -> Result<Plan, Box<Diagnostic>> {
    let mut b = Builder { sources, nodes: BTreeMap::new(), sites: BTreeMap::new(), edges: BTreeSet::new() };
    for s in &a.sources {
        let def = SourceDef {
            format: s.format.clone(),
            path: s.path.clone(),
            options: reader_options(&s.format, &s.options),
        };
        b.add(format!("source:{}", s.name), &s.name, &s.site, columns(&s.columns), NodeDef::Source(def));
    }
    for c in &a.checks {
        let on_fail = if c.on_fail == "warn" { OnFail::Warn } else { OnFail::Stop };
        let def = CheckDef { source: c.source.clone(), expectations: c.expectations.clone(), on_fail };
        let id = b.add(format!("check:{}", c.source), &c.source, &c.site, Vec::new(), NodeDef::Check(def));
        b.edge(&format!("source:{}", c.source), &id);
    }
    // What reads a source waits for its checks: a failed `on_fail = stop` check stops it.
    let gate = |b: &mut Builder, source: &str, to: &str| {
        b.edge(&format!("source:{source}"), to);
        b.edge(&format!("check:{source}"), to);
    };
    for v in &a.views {
        let entity = a.sources.iter().find(|s| s.name == v.entity);
        let mut schema: Vec<Column> =
            entity.map(|s| s.columns.iter().filter(|c| c.key || c.time).map(column).collect()).unwrap_or_default();
        schema.extend(v.features.iter().map(|f| column(&f.column(&v.name))));
        let features =
            v.features.iter().map(|f| FeatureDef { name: f.name.clone(), ty: f.ty, expr: f.expr.clone() }).collect();
        let def = FeaturesDef { entity: v.entity.clone(), ttl_ms: v.ttl_ms, tables: v.tables.clone(), features };
        let id = b.add(format!("features:{}", v.name), &v.name, &v.site, schema, NodeDef::Features(def));
        gate(&mut b, &v.entity, &id);
        for t in &v.tables {
            gate(&mut b, t, &id);
        }
    }
    for v in &a.views {
        for f in &v.features {
            for (other, _) in &f.features {
                if other != &v.name {
                    b.edge(&format!("features:{other}"), &format!("features:{}", v.name));
                }
            }
        }
    }
    for d in &a.datasets {
        let def = DatasetDef { base: d.base.clone(), views: d.views.clone(), label: d.label.clone(), task: d.task };
        let id = b.add(format!("dataset:{}", d.name), &d.name, &d.site, columns(&d.columns), NodeDef::Dataset(def));
        gate(&mut b, &d.base, &id);
        for v in &d.views {
            b.edge(&format!("features:{v}"), &id);
        }
        if let Some(split) = &d.split {
            for (part, share) in &split.parts {
                let def = SplitDef {
                    dataset: d.name.clone(),
                    part: part.clone(),
                    share: *share,
                    method: split.method.clone(),
                    seed: split.seed,
                    parts: split.parts.clone(),
                };
                let name = format!("{}.{part}", d.name);
                let sid = b.add(format!("split:{name}"), &name, &d.site, columns(&d.columns), NodeDef::Split(def));
                b.edge(&id, &sid);
            }
        }
    }
    for m in &a.models {
        let outputs: &[&str] = match m.task {
            Some(Task::Classification) => &["label", "probabilities"],
            _ => &["value"],
        };
        let def = ModelDef {
            trainer: m.trainer.clone(),
            train: m.train.clone(),
            dataset: m.dataset.clone(),
            task: m.task,
            inputs: m.inputs.iter().map(|c| c.name.clone()).collect(),
            output: ModelOutput { label: m.label.clone(), outputs: outputs.iter().map(|o| o.to_string()).collect() },
            device: match m.device.as_str() {
                "cpu" => Device::Cpu,
                "cuda" => Device::Cuda,
                _ => Device::Auto,
            },
            cv: m.cv,
        };
        let id = b.add(format!("model:{}", m.name), &m.name, &m.site, columns(&m.inputs), NodeDef::Model(def));
        match &m.train {
            Some(t) => b.edge(&t.node_id(), &id),
            None => {
                if let Some(d) = &m.dataset {
                    b.edge(&format!("dataset:{d}"), &id);
                }
            }
        }
    }
    for e in &a.evaluations {
        let def = EvaluateDef {
            model: e.model.clone(),
            data: e.data.clone(),
            metrics: e.metrics.clone(),
            slices: e.slices.clone(),
        };
        let id = b.add(format!("evaluate:{}", e.id()), &e.id(), &e.site, Vec::new(), NodeDef::Evaluate(def));
        b.edge(&format!("model:{}", e.model), &id);
        b.edge(&e.data.node_id(), &id);
    }
    for r in &a.registrations {
        let def = RegisterDef { model: r.model.clone(), rules: r.rules.clone() };
        let id =
            b.add(format!("register:{}", r.registered), &r.registered, &r.site, Vec::new(), NodeDef::Register(def));
        b.edge(&format!("model:{}", r.model), &id);
        for e in a.evaluations.iter().filter(|e| e.model == r.model) {
            b.edge(&format!("evaluate:{}", e.id()), &id);
        }
    }
    for s in &a.serves {
        let def = ServeDef {
            registered: s.registered.clone(),
            model: s.model.clone().unwrap_or_default(),
            stage: s.stage.clone(),
            features: s.features.clone(),
            shadow: s.shadow.clone(),
            fallback: if s.fallback.as_deref() == Some("previous") { Fallback::Previous } else { Fallback::None },
            canary: s.canary.clone(),
        };
        let id =
            b.add(format!("serve:{}", s.registered), &s.registered, &s.site, Vec::new(), NodeDef::Serve(Box::new(def)));
        b.edge(&format!("register:{}", s.registered), &id);
        if let Some(v) = &s.features {
            b.edge(&format!("features:{v}"), &id);
        }
    }
    for m in &a.monitors {
        let def = MonitorDef {
            name: m.name.clone(),
            registered: m.registered.clone(),
            model: m.model.clone().unwrap_or_default(),
            every_ms: m.every_ms,
            window_ms: m.window_ms,
            reference: m.reference.clone().unwrap_or(DataRef { dataset: String::new(), split: None }),
            alerts: m.alerts.clone(),
            drift_tests: drift_tests(),
        };
        let id = b.add(format!("monitor:{}", m.name), &m.name, &m.site, Vec::new(), NodeDef::Monitor(def));
        let serve = format!("serve:{}", m.registered);
        if b.nodes.contains_key(&serve) {
            b.edge(&serve, &id);
        } else {
            b.edge(&format!("register:{}", m.registered), &id);
        }
        if let Some(r) = &m.reference {
            b.edge(&r.node_id(), &id);
        }
        for alert in &m.alerts {
            match &alert.action {
                Some(AlertAction::Retrain { model }) => b.trigger(&id, &format!("model:{model}"), "retrain"),
                Some(AlertAction::Rollback) => b.trigger(&id, &serve, "rollback"),
                None => {}
            }
        }
    }
    for s in &a.scores {
        let def = ScoreDef {
            registered: s.registered.clone(),
            model: s.model.clone(),
            stage: s.stage.clone(),
            input: s.input.clone(),
            keys: s.keys.clone(),
            time: s.time.clone(),
            inputs: columns(&s.inputs),
            task: s.task,
            output: s.output.clone(),
        };
        let id = b.add(format!("score:{}", s.name), &s.name, &s.site, Vec::new(), NodeDef::Score(def));
        // After registering, so that a version the run promotes is the one that scores.
        b.edge(&format!("register:{}", s.registered), &id);
        b.edge(&s.input, &id);
        for view in s.inputs.iter().filter_map(|c| c.view.as_ref()).collect::<BTreeSet<_>>() {
            b.edge(&format!("features:{view}"), &id);
        }
    }
    let order = topological(&b)?;
    let mut nodes: Vec<Node> = Vec::with_capacity(order.len());
    for id in order {
        let mut n = b.nodes.remove(&id).expect("ordered ids exist");
        n.inputs = b.edges.iter().filter(|e| e.kind == EdgeKind::Data && e.to == id).map(|e| e.from.clone()).collect();
        nodes.push(n);
    }
    Ok(Plan {
        version: PLAN_VERSION,
        mlpc_version: env!("CARGO_PKG_VERSION").to_string(),
        pipeline: a.pipeline.as_ref().map(|p| Pipeline {
            name: p.name.clone(),
            owner: p.owner.clone(),
            schedule: p.schedule.clone(),
            doc: p.site.doc.clone(),
        }),
        nodes,
        edges: b.edges.into_iter().collect(),
    })
}

/// Kahn's algorithm over data edges, smallest id first; a cycle becomes E0014.
fn topological(b: &Builder) -> Result<Vec<String>, Box<Diagnostic>> {
    let mut g = DiGraph::<&str, ()>::new();
    let idx: BTreeMap<&str, NodeIndex> = b.nodes.keys().map(|k| (k.as_str(), g.add_node(k.as_str()))).collect();
    for e in b.edges.iter().filter(|e| e.kind == EdgeKind::Data) {
        g.add_edge(idx[e.from.as_str()], idx[e.to.as_str()], ());
    }
    let mut indegree: BTreeMap<&str, usize> = b.nodes.keys().map(|k| (k.as_str(), 0)).collect();
    for e in g.edge_indices() {
        let (_, to) = g.edge_endpoints(e).expect("edge exists");
        *indegree.get_mut(g[to]).expect("node exists") += 1;
    }
    let mut ready: BTreeSet<&str> = indegree.iter().filter(|(_, d)| **d == 0).map(|(k, _)| *k).collect();
    let mut order = Vec::new();
    while let Some(next) = ready.pop_first() {
        order.push(next.to_string());
        for n in g.neighbors(idx[next]) {
            let d = indegree.get_mut(g[n]).expect("node exists");
            *d -= 1;
            if *d == 0 {
                ready.insert(g[n]);
            }
        }
    }
    if order.len() == b.nodes.len() {
        return Ok(order);
    }
    let stuck = petgraph::algo::tarjan_scc(&g).into_iter().find(|c| c.len() > 1).unwrap_or_default();
    let names: Vec<&str> = stuck.iter().rev().map(|n| g[*n]).collect();
    let (file, span) = names.first().and_then(|n| b.sites.get(*n)).copied().unwrap_or_default();
    let mut d = Diagnostic::new(
        Code::E0014,
        file,
        span,
        format!("the data flow has a cycle: {} → {}", names.join(" → "), names.first().unwrap_or(&"")),
    )
    .label("part of the cycle")
    .help("a node cannot read its own output; use `then retrain` to loop back instead");
    for pair in names.windows(2) {
        if let Some((f, s)) = b.sites.get(pair[1]) {
            d = d.secondary(*f, *s, format!("reads `{}`", pair[0]));
        }
    }
    Err(Box::new(d))
}
