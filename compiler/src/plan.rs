//! The compiled form: a typed DAG of nodes, serialized as a versioned JSON plan. The
//! runtime executes this, never syntax.

use crate::check::{Analysis, Column, DataRef};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::Sources;
use crate::types::Type;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// The plan format version; bumped on any incompatible change.
pub const PLAN_VERSION: u32 = 1;

/// A typed expression, with every name resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum TExpr {
    /// A column of the row's own table.
    Column {
        name: String,
        #[serde(rename = "type")]
        ty: Type,
    },
    Feature {
        view: String,
        name: String,
        #[serde(rename = "type")]
        ty: Type,
    },
    Table {
        name: String,
    },
    /// A column of a parent table, one row per entity row, reached along `join` (the
    /// entity references the parent). `as_of`: the parent row current at the entity's time.
    Lookup {
        table: String,
        column: String,
        join: Vec<JoinStep>,
        as_of: bool,
        #[serde(rename = "type")]
        ty: Type,
    },
    /// A column of a related table (only inside an aggregation).
    Related {
        table: String,
        column: String,
        #[serde(rename = "type")]
        ty: Type,
    },
    /// An aggregation over `table`, joined to the entity along `join`, optionally over
    /// the window before each entity row's time.
    Aggregate {
        func: String,
        table: String,
        args: Vec<TExpr>,
        join: Vec<JoinStep>,
        window_ms: Option<u64>,
        #[serde(rename = "type")]
        ty: Type,
    },
    Call {
        func: String,
        args: Vec<TExpr>,
        #[serde(rename = "type")]
        ty: Type,
    },
    Unary {
        operator: String,
        arg: Box<TExpr>,
        #[serde(rename = "type")]
        ty: Type,
    },
    Binary {
        operator: String,
        lhs: Box<TExpr>,
        rhs: Box<TExpr>,
        #[serde(rename = "type")]
        ty: Type,
    },
    Between {
        arg: Box<TExpr>,
        low: Box<TExpr>,
        high: Box<TExpr>,
    },
    /// A literal; percentages are fractions (1% → 0.01), durations milliseconds.
    Literal {
        value: serde_json::Value,
        #[serde(rename = "type")]
        ty: Type,
    },
    List {
        items: Vec<TExpr>,
    },
    /// A model metric; `stage` reads the version currently at that stage.
    Metric {
        name: String,
        stage: Option<String>,
    },
    ServingMetric {
        name: String,
        #[serde(rename = "type")]
        ty: Type,
    },
    DriftTest {
        name: String,
    },
    /// Whether a person approved the version (`mlpc approve`).
    Approved,
}

impl TExpr {
    pub fn lit(value: serde_json::Value, ty: Type) -> TExpr {
        TExpr::Literal { value, ty }
    }
}

/// One hop of a key path: `from_table.from_column` references `to_table.to_column`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinStep {
    pub from_table: String,
    pub from_column: String,
    pub to_table: String,
    pub to_column: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// The target reads what the source produces.
    Data,
    /// The source may start the target (`retrain`, `rollback`); may close a loop.
    Trigger,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Node {
    pub id: String,
    pub kind: &'static str,
    pub name: String,
    /// Ids of the nodes this one reads (data edges in), sorted.
    pub inputs: Vec<String>,
    /// The columns this node produces.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schema: Vec<Column>,
    /// Everything the runtime needs to execute the node.
    pub def: serde_json::Value,
    /// sha256 of the normalized definition (kind, name, def, schema): formatting,
    /// comments and docs do not change it.
    pub hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
    pub location: Location,
}

#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub version: u32,
    pub mlpc_version: &'static str,
    pub pipeline: Option<crate::check::PipelineInfo>,
    /// Nodes in a topological order of the data edges, ties broken by id.
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

impl Plan {
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plans serialize")
    }
}

struct Builder<'a> {
    sources: &'a Sources,
    nodes: BTreeMap<String, Node>,
    /// Where each node is declared, for diagnostics about the graph.
    sites: BTreeMap<String, (crate::source::FileId, crate::source::Span)>,
    edges: BTreeSet<Edge>,
}

impl Builder<'_> {
    fn add(
        &mut self,
        id: String,
        kind: &'static str,
        name: &str,
        site: &crate::check::Site,
        schema: Vec<Column>,
        def: serde_json::Value,
    ) -> String {
        let normalized = serde_json::json!({ "kind": kind, "name": name, "def": def, "schema": schema });
        let hash = format!("{:x}", Sha256::digest(normalized.to_string().as_bytes()));
        let file = self.sources.get(site.file);
        let location = Location { file: file.path.clone(), line: file.line_col(site.span.start).line };
        self.sites.insert(id.clone(), (site.file, site.span));
        self.nodes.insert(
            id.clone(),
            Node {
                id: id.clone(),
                kind,
                name: name.to_string(),
                inputs: Vec::new(),
                schema,
                def,
                hash,
                doc: site.doc.clone(),
                location,
            },
        );
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

fn data_id(d: &DataRef) -> String {
    match &d.split {
        Some(s) => format!("split:{}.{s}", d.dataset),
        None => format!("dataset:{}", d.dataset),
    }
}

fn json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("plan parts serialize")
}

/// Lowers a checked program. Fails only on a cycle in the data flow.
pub fn lower(sources: &Sources, a: &Analysis) -> Result<Plan, Box<Diagnostic>> {
    let mut b = Builder { sources, nodes: BTreeMap::new(), sites: BTreeMap::new(), edges: BTreeSet::new() };
    for s in &a.sources {
        b.add(
            format!("source:{}", s.name),
            "source",
            &s.name,
            &s.site,
            s.columns.clone(),
            serde_json::json!({ "format": s.format, "path": s.path, "options": s.options }),
        );
    }
    for c in &a.checks {
        let id = b.add(
            format!("check:{}", c.source),
            "check",
            &c.source,
            &c.site,
            Vec::new(),
            serde_json::json!({ "source": c.source, "expectations": c.expectations, "on_fail": c.on_fail }),
        );
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
            entity.map(|s| s.columns.iter().filter(|c| c.key || c.time).cloned().collect()).unwrap_or_default();
        schema.extend(v.features.iter().map(|f| f.column(&v.name)));
        let id = b.add(
            format!("features:{}", v.name),
            "features",
            &v.name,
            &v.site,
            schema,
            serde_json::json!({ "entity": v.entity, "ttl_ms": v.ttl_ms, "tables": v.tables, "features": v.features }),
        );
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
        let id = b.add(
            format!("dataset:{}", d.name),
            "dataset",
            &d.name,
            &d.site,
            d.columns.clone(),
            serde_json::json!({ "base": d.base, "views": d.views, "label": d.label, "task": d.task }),
        );
        gate(&mut b, &d.base, &id);
        for v in &d.views {
            b.edge(&format!("features:{v}"), &id);
        }
        if let Some(split) = &d.split {
            for (part, share) in &split.parts {
                let sid = b.add(format!("split:{}.{part}", d.name), "split", &format!("{}.{part}", d.name), &d.site, d.columns.clone(), serde_json::json!({ "dataset": d.name, "part": part, "share": share, "method": split.method, "seed": split.seed, "parts": split.parts }));
                b.edge(&id, &sid);
            }
        }
    }
    for m in &a.models {
        let output = match m.task {
            Some(crate::types::Task::Classification) => {
                serde_json::json!({ "label": m.label, "outputs": ["label", "probabilities"] })
            }
            _ => serde_json::json!({ "label": m.label, "outputs": ["value"] }),
        };
        let inputs: Vec<&str> = m.inputs.iter().map(|c| c.name.as_str()).collect();
        let id = b.add(format!("model:{}", m.name), "model", &m.name, &m.site, m.inputs.clone(), serde_json::json!({ "trainer": m.trainer, "train": m.train, "dataset": m.dataset, "task": m.task, "inputs": inputs, "output": output, "device": m.device, "cv": m.cv }));
        match &m.train {
            Some(t) => b.edge(&data_id(t), &id),
            None => {
                if let Some(d) = &m.dataset {
                    b.edge(&format!("dataset:{d}"), &id);
                }
            }
        }
    }
    for e in &a.evaluations {
        let id = b.add(
            format!("evaluate:{}", e.id()),
            "evaluate",
            &e.id(),
            &e.site,
            Vec::new(),
            serde_json::json!({ "model": e.model, "data": e.data, "metrics": e.metrics, "slices": e.slices }),
        );
        b.edge(&format!("model:{}", e.model), &id);
        b.edge(&data_id(&e.data), &id);
    }
    for r in &a.registrations {
        let id = b.add(
            format!("register:{}", r.registered),
            "register",
            &r.registered,
            &r.site,
            Vec::new(),
            serde_json::json!({ "model": r.model, "rules": r.rules }),
        );
        b.edge(&format!("model:{}", r.model), &id);
        for e in a.evaluations.iter().filter(|e| e.model == r.model) {
            b.edge(&format!("evaluate:{}", e.id()), &id);
        }
    }
    for s in &a.serves {
        let id = b.add(format!("serve:{}", s.registered), "serve", &s.registered, &s.site, Vec::new(), json(s));
        b.edge(&format!("register:{}", s.registered), &id);
        if let Some(v) = &s.features {
            b.edge(&format!("features:{v}"), &id);
        }
    }
    for m in &a.monitors {
        let id = b.add(format!("monitor:{}", m.name), "monitor", &m.name, &m.site, Vec::new(), json(m));
        let serve = format!("serve:{}", m.registered);
        if b.nodes.contains_key(&serve) {
            b.edge(&serve, &id);
        } else {
            b.edge(&format!("register:{}", m.registered), &id);
        }
        if let Some(r) = &m.reference {
            b.edge(&data_id(r), &id);
        }
        for alert in &m.alerts {
            match &alert.action {
                Some(crate::check::AlertAction::Retrain { model }) => {
                    b.trigger(&id, &format!("model:{model}"), "retrain")
                }
                Some(crate::check::AlertAction::Rollback) => b.trigger(&id, &serve, "rollback"),
                None => {}
            }
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
        mlpc_version: env!("CARGO_PKG_VERSION"),
        pipeline: a.pipeline.clone(),
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

impl Plan {
    /// One line per node: order, id, inputs, short hash.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if let Some(p) = &self.pipeline {
            out.push_str(&format!("pipeline {}", p.name));
            if let Some(s) = &p.schedule {
                out.push_str(&format!(" (schedule \"{s}\")"));
            }
            out.push('\n');
        }
        for (i, n) in self.nodes.iter().enumerate() {
            out.push_str(&format!("{:>3}. {:<40} {}", i + 1, n.id, &n.hash[..12]));
            if !n.inputs.is_empty() {
                out.push_str(&format!("  <- {}", n.inputs.join(", ")));
            }
            out.push('\n');
        }
        for e in self.edges.iter().filter(|e| e.kind == EdgeKind::Trigger) {
            out.push_str(&format!("     trigger {} -> {} ({})\n", e.from, e.to, e.action.as_deref().unwrap_or("")));
        }
        out
    }

    /// Graphviz: data edges solid, triggers dashed.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph pipeline {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n");
        for n in &self.nodes {
            out.push_str(&format!("  \"{}\" [label=\"{}\\n{}\"];\n", n.id, n.kind, n.name.replace('"', "\\\"")));
        }
        for e in &self.edges {
            let style = match e.kind {
                EdgeKind::Data => String::new(),
                EdgeKind::Trigger => format!(" [style=dashed, label=\"{}\"]", e.action.as_deref().unwrap_or("")),
            };
            out.push_str(&format!("  \"{}\" -> \"{}\"{style};\n", e.from, e.to));
        }
        out.push_str("}\n");
        out
    }

    /// Mermaid flowchart: data edges solid, triggers dotted.
    pub fn to_mermaid(&self) -> String {
        let ids: BTreeMap<&str, String> =
            self.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), format!("n{i}"))).collect();
        let mut out = String::from("flowchart LR\n");
        for n in &self.nodes {
            out.push_str(&format!("  {}[\"{}: {}\"]\n", ids[n.id.as_str()], n.kind, n.name.replace('"', "#quot;")));
        }
        for e in &self.edges {
            match e.kind {
                EdgeKind::Data => out.push_str(&format!("  {} --> {}\n", ids[e.from.as_str()], ids[e.to.as_str()])),
                EdgeKind::Trigger => out.push_str(&format!(
                    "  {} -. {} .-> {}\n",
                    ids[e.from.as_str()],
                    e.action.as_deref().unwrap_or(""),
                    ids[e.to.as_str()]
                )),
            }
        }
        out
    }
}
