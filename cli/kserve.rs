//! `mlpc export kserve`: for each `serve` block, the Triton repository of the version its
//! stage holds in the registry (and of the version it replaced, while a canary runs),
//! written under `--artifacts`, and its InferenceService on stdout: a canary as far as
//! `mlpc daemon --kserve` recorded it (its step, promoted, rolled back), so exporting again
//! never undoes what the gate driver did.

use crate::run::state_dir;
use mlpc::args::{KserveArgs, KserveMode};
use mlpc::commands::{compiled, emit, fail};
use mlpc_export::kserve::{self, Mode, Progress, Traffic};
use mlpc_export::triton;
use mlpc_plan::{NodeDef, ServeDef};
use mlpc_runtime::{registry, Store};
use mlpc_serve::Phase;
use std::path::Path;

pub fn kserve(a: &KserveArgs) -> u8 {
    let c = match compiled(&a.file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let plan = c.plan.as_ref().expect("compiled() returns plans");
    let pipeline = plan.pipeline.as_ref().map_or("pipeline", |p| p.name.as_str());
    let options = kserve::Options {
        storage_uri: a.storage_uri.clone(),
        mode: match a.mode {
            KserveMode::Serverless => Mode::Serverless,
            KserveMode::Raw => Mode::RawDeployment,
        },
        namespace: a.namespace.clone(),
    };
    let state = state_dir(&a.file, a.state.as_deref());
    let store = match Store::open_read_only(&state) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let mut docs = Vec::new();
    for node in &plan.nodes {
        let NodeDef::Serve(serve) = &node.def else { continue };
        match service(&store, &state, pipeline, serve, a, &options) {
            Ok(doc) => docs.push(doc),
            Err(e) => return fail(format!("serve \"{}\": {e}", serve.registered)),
        }
    }
    if docs.is_empty() {
        return fail(format!("{} has no `serve` block: there is nothing to export to KServe", a.file));
    }
    emit(&docs.join("---\n"));
    0
}

/// One serve block's repositories, written, and its InferenceService as YAML.
fn service(
    store: &Store,
    state: &Path,
    pipeline: &str,
    serve: &ServeDef,
    a: &KserveArgs,
    o: &kserve::Options,
) -> Result<String, String> {
    let at = registry::at_stage(store, &serve.registered, &serve.stage).map_err(|e| e.to_string())?;
    // A rollback's move back is no release: the version it restores serves alone.
    let previous = registry::last_move(store, &serve.registered, &serve.stage)
        .map_err(|e| e.to_string())?
        .filter(|m| m.kind != "rollback")
        .and_then(|m| m.from);
    let progress = mlpc_serve::canary_state(state, &serve.registered)
        .filter(|r| Some(r.stable) == previous && r.candidate == at.version)
        .and_then(|r| match r.phase {
            Phase::Running => Some(Progress::Step(r.step)),
            Phase::Promoted => Some(Progress::Promoted),
            Phase::RolledBack => Some(Progress::RolledBack),
            Phase::Superseded => None,
        });
    let traffic = Traffic::released(serve, at.version, previous, progress);
    let name = kserve::service_name(&serve.registered);
    for version in std::iter::once(traffic.stable).chain(traffic.candidate.map(|(v, _)| v)) {
        let root = Path::new(&a.artifacts).join(&name).join(format!("v{version}"));
        repository(store, serve, version, &root, &name, a.max_batch)?;
        eprintln!("wrote the Triton repository of {} version {version} to {}", serve.registered, root.display());
    }
    let isvc = kserve::inference_service(pipeline, serve, traffic, o)?;
    eprintln!("requests to {name} go to /v2/models/{name}/infer (Open Inference Protocol v2)");
    Ok(format!(
        "# Requests: POST /v2/models/{name}/infer (Open Inference Protocol v2, Triton's model `{name}`).\n{}",
        mlpc_export::to_yaml(&[isvc])
    ))
}

/// `config.pbtxt` from the version's ONNX graph, and the model, under `root`.
fn repository(
    store: &Store,
    serve: &ServeDef,
    version: i64,
    root: &Path,
    name: &str,
    max_batch: u32,
) -> Result<(), String> {
    let v = registry::version(store, &serve.registered, version).map_err(|e| e.to_string())?;
    let file = store.artifact(&v.artifact_sha256, "onnx")?;
    let bytes =
        std::fs::read(&file).map_err(|e| format!("cannot read version {version}'s model {}: {e}", file.display()))?;
    let (inputs, outputs) = mlpc_train::onnx::signature(&bytes)?;
    let tensors = |t: Vec<mlpc_train::onnx::TensorInfo>| -> Vec<triton::Tensor> {
        t.into_iter().map(|t| triton::Tensor { name: t.name, elem_type: t.elem_type, shape: t.shape }).collect()
    };
    let config = triton::config(name, &tensors(inputs), &tensors(outputs), max_batch)?;
    let (config_path, model_path) = triton::paths(name, version);
    for (path, data) in [(config_path, config.into_bytes()), (model_path, bytes)] {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("repository files are in folders"))
            .and_then(|()| std::fs::write(&path, data))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}
