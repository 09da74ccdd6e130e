//! Register nodes: the evaluated model becomes a version of its registered name (with
//! its artifact's sha256, the plan hash, its data's hashes, params and metrics), then the
//! promotion rules run and move the stages they allow.

use crate::node_io::{Failure, Inputs, Produced};
use crate::registry::{self, NewVersion};
use crate::store::Store;
use mlpc_plan::{Node, NodeDef, RegisterDef, Trainer};
use mlpc_train::onnx::ModelProto;
use prost::Message;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What a register node needs beyond its inputs: the state folder and the run it is part of.
pub struct RunContext {
    pub state_dir: PathBuf,
    pub run_id: i64,
    pub plan_hash: String,
    pub pipeline_file: String,
    pub base_dir: PathBuf,
    /// Source node id → sha256 of the data file it read.
    pub data_hashes: BTreeMap<String, String>,
    /// Input node id → the cache key its artifacts were made under.
    pub input_keys: BTreeMap<String, String>,
    /// The plan being run (JSON), kept with each version it registers.
    pub plan: String,
}

/// The metrics a node recorded under a cache key.
fn cached_metrics(store: &Store, node: &str, key: &str) -> BTreeMap<String, f64> {
    store
        .db
        .query_row("SELECT metrics FROM cache WHERE node_id = ? AND cache_key = ?", crate::db::args![node, key], |r| {
            r.get::<String>(0)
        })
        .ok()
        .and_then(|m| serde_json::from_str(&m).ok())
        .unwrap_or_default()
}

pub fn register(node: &Node, def: &RegisterDef, inputs: &Inputs, ctx: &RunContext) -> Result<Produced, Failure> {
    let model_id = format!("model:{}", def.model);
    let artifact = inputs.artifact(&model_id, "model")?;
    let sha = artifact.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
    let bytes = std::fs::read(&artifact).map_err(|e| format!("cannot read {}: {e}", artifact.display()))?;
    let onnx =
        ModelProto::decode(bytes.as_slice()).map_err(|e| format!("{}: not an ONNX model: {e}", artifact.display()))?;
    let meta = |k: &str| onnx.metadata_props.iter().find(|p| p.key == k).map(|p| p.value.clone());
    let model_node = inputs.nodes.get(&model_id).ok_or_else(|| format!("`{model_id}` is not an input"))?;
    let NodeDef::Model(model) = &model_node.def else {
        return Err(format!("`{model_id}` is not a model node").into());
    };
    let (kind, params) = match &model.trainer {
        Trainer::Algorithm { params, .. } => ("algorithm", params.clone().into_iter().collect()),
        Trainer::Onnx { .. } => ("onnx", BTreeMap::new()),
        Trainer::Command { .. } => ("command", BTreeMap::new()),
    };
    let git_commit = registry::git_commit(&ctx.base_dir);
    // The store, for as long as registering takes.
    let store = Store::open(&ctx.state_dir).map_err(String::from)?;
    let mut metrics = BTreeMap::new();
    for id in &node.inputs {
        let key = ctx.input_keys.get(id).map(String::as_str).unwrap_or_default();
        metrics.extend(cached_metrics(&store, id, key));
    }
    let version = NewVersion {
        name: node.name.clone(),
        run_id: ctx.run_id,
        model_node: model_id.clone(),
        artifact_sha256: sha,
        plan_hash: ctx.plan_hash.clone(),
        pipeline_file: std::path::absolute(&ctx.pipeline_file)
            .map_or_else(|_| ctx.pipeline_file.clone(), |p| p.to_string_lossy().into_owned()),
        data_hashes: ctx.data_hashes.clone(),
        params,
        metrics,
        algorithm: meta("mlpc.algorithm").unwrap_or_else(|| kind.into()),
        device: meta("mlpc.device").unwrap_or_else(|| "external".into()),
        rules: def.rules.iter().map(|r| serde_json::to_value(r).expect("rules serialize")).collect(),
        git_commit,
        plan: ctx.plan.clone(),
    };
    let number = registry::register(&store, &version).map_err(|e| format!("register `{}`: {e}", node.name))?;
    crate::stop_point::reached("register:registered");
    let outcomes = registry::apply_rules(&store, &node.name, number, &format!("run {}", ctx.run_id))
        .map_err(|e| format!("register `{}`: {e}", node.name))?;
    drop(store);
    let mut p = Produced::default();
    p.metrics.insert("version".into(), number as f64);
    let said: Vec<String> = outcomes
        .iter()
        .map(|o| if o.moved { format!("{} ← v{number}", o.stage) } else { format!("{}: {}", o.stage, o.reason) })
        .collect();
    p.message = format!("{} v{number}; {}", node.name, said.join("; "));
    Ok(p)
}
