//! The plan: what `mlpc` compiles a program into and everything downstream executes — the
//! runtime, the server, the daemon, and a workflow engine running one node. Typed nodes
//! ([`NodeDef`]), the expression IR ([`TExpr`]) with its one evaluator ([`eval`]) and SQL
//! printer ([`sql`]), and a format version checked on read. Depends on no other mlpc crate.

pub mod defs;
pub mod eval;
pub mod expr;
pub mod sql;
pub mod types;
mod views;

pub use defs::*;
pub use expr::{BinaryOp, JoinStep, TExpr, UnaryOp};
pub use types::{Task, Type};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The plan format version; bumped on any incompatible change.
pub const PLAN_VERSION: u32 = 2;

/// A plan that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("not a plan: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error(
        "this plan is format {found}, written by mlpc {by}; this mlpc ({ours}) reads format {PLAN_VERSION}: \
         upgrade mlpc to run it"
    )]
    Newer { found: u32, by: String, ours: &'static str },
    #[error(
        "this plan is format {found}, written by mlpc {by}; this mlpc ({ours}) reads format {PLAN_VERSION}: \
         compile the program again (`mlpc plan FILE --format json`)"
    )]
    Older { found: u32, by: String, ours: &'static str },
}

/// A compiled program.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    /// The plan format: [`PLAN_VERSION`] of the mlpc that wrote it.
    pub version: u32,
    /// The mlpc that compiled it.
    pub mlpc_version: String,
    pub pipeline: Option<Pipeline>,
    /// Nodes in a topological order of the data edges, ties broken by id.
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// The `pipeline` block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Pipeline {
    pub name: String,
    pub owner: Option<String>,
    /// A cron expression: when `mlpc daemon` runs the pipeline.
    pub schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
}

/// One unit of work.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Node {
    /// `KIND:NAME`, e.g. `model:churn_model`.
    pub id: String,
    pub name: String,
    /// Ids of the nodes this one reads (data edges in), sorted.
    pub inputs: Vec<String>,
    /// The columns this node produces (a model: the columns it reads).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema: Vec<Column>,
    /// Everything the runtime needs to execute the node: `kind` and `def`.
    #[serde(flatten)]
    pub def: NodeDef,
    /// sha256 of the normalized definition (kind, name, def, schema): formatting,
    /// comments and docs do not change it.
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
    pub location: Location,
}

impl Node {
    pub fn kind(&self) -> &'static str {
        self.def.kind()
    }
}

/// Where a node is declared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Location {
    pub file: String,
    pub line: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// The target reads what the source produces.
    Data,
    /// The source may start the target (`retrain`, `rollback`); may close a loop.
    Trigger,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    /// What a trigger edge does: `retrain` or `rollback`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

impl Plan {
    /// Reads a plan, refusing one of another format version with what to do about it.
    pub fn from_json(text: &str) -> Result<Plan, PlanError> {
        #[derive(Deserialize)]
        struct Header {
            version: u32,
            #[serde(default)]
            mlpc_version: String,
        }
        let header: Header = serde_json::from_str(text)?;
        let ours = env!("CARGO_PKG_VERSION");
        let by = if header.mlpc_version.is_empty() { "unknown".into() } else { header.mlpc_version };
        match header.version {
            v if v > PLAN_VERSION => Err(PlanError::Newer { found: v, by, ours }),
            v if v < PLAN_VERSION => Err(PlanError::Older { found: v, by, ours }),
            _ => Ok(serde_json::from_str(text)?),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plans serialize")
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The model node `model:NAME`, with its definition.
    pub fn model(&self, name: &str) -> Result<(&Node, &ModelDef), String> {
        let id = format!("model:{name}");
        match self.node(&id).map(|n| (n, &n.def)) {
            Some((n, NodeDef::Model(m))) => Ok((n, m)),
            _ => Err(format!("the plan has no `{id}`")),
        }
    }

    /// The features node `features:NAME`, with its definition.
    pub fn features(&self, name: &str) -> Result<(&Node, &FeaturesDef), String> {
        let id = format!("features:{name}");
        match self.node(&id).map(|n| (n, &n.def)) {
            Some((n, NodeDef::Features(f))) => Ok((n, f)),
            _ => Err(format!("the plan has no `{id}`")),
        }
    }

    /// The plan's JSON Schema (draft 2020-12), generated from these types.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Plan)).expect("schemas serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(version: u32) -> String {
        serde_json::json!({"version": version, "mlpc_version": "9.9.9", "pipeline": null, "nodes": [], "edges": []})
            .to_string()
    }

    #[test]
    fn the_version_is_checked_on_read() {
        assert!(Plan::from_json(&plan(PLAN_VERSION)).is_ok());
        let newer = Plan::from_json(&plan(PLAN_VERSION + 1)).unwrap_err().to_string();
        assert!(newer.contains("written by mlpc 9.9.9") && newer.contains("upgrade mlpc"), "{newer}");
        let older = Plan::from_json(&plan(1)).unwrap_err().to_string();
        assert!(older.contains("compile the program again"), "{older}");
        assert!(matches!(Plan::from_json("{\"nodes\": []}"), Err(PlanError::Malformed(_))));
    }

    #[test]
    fn nodes_round_trip_with_kind_and_def() {
        let node = Node {
            id: "source:s".into(),
            name: "s".into(),
            inputs: vec![],
            schema: vec![Column {
                name: "id".into(),
                ty: Type::Int,
                key: true,
                time: false,
                references: None,
                view: None,
            }],
            def: NodeDef::Source(SourceDef { format: "csv".into(), path: "s.csv".into(), options: Default::default() }),
            hash: "0".into(),
            doc: None,
            location: Location { file: "p.mlp".into(), line: 1 },
        };
        let v = serde_json::to_value(&node).unwrap();
        assert_eq!(v["kind"], "source");
        assert_eq!(v["def"]["path"], "s.csv");
        assert_eq!(serde_json::from_value::<Node>(v).unwrap(), node);
        let bad = serde_json::json!({"id": "x:y", "name": "y", "inputs": [], "kind": "teleport", "def": {},
            "hash": "0", "location": {"file": "p", "line": 1}});
        assert!(serde_json::from_value::<Node>(bad).is_err());
    }
}
