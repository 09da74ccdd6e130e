//! Model and evaluation nodes. A model comes from a built-in algorithm (trained by
//! mlpc-train on the train split), an ONNX file, or an external command; whichever, its
//! artifact is one ONNX file whose inputs are checked against the declared ones.
//! Evaluation scores that artifact through ONNX Runtime, so what is measured is what is served.

use crate::frames;
use crate::node_io::{Failure, Inputs, Produced};
use mlpc_plan::{DataRef, EvaluateDef, ModelDef, Node, Trainer, Type};
use mlpc_train::scorer::{self, Scorer, TensorElementType};
use mlpc_train::{Device, Params, Spec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The split a model trains on or an evaluation scores.
fn split_node(data: &DataRef) -> Result<String, String> {
    match data.split {
        Some(_) => Ok(data.node_id()),
        None => {
            Err(format!("`{}` is a whole dataset; name one of its splits, e.g. `{}.train`", data.dataset, data.dataset))
        }
    }
}

/// The label column a model predicts.
fn label(def: &ModelDef) -> Result<&str, String> {
    def.output.label.as_deref().ok_or_else(|| "the model's training data has no label".to_string())
}

/// Where ONNX Runtime is loaded from: `$MLPC_LIB_DIR`, else where scripts/setup put it.
pub fn ort_ready() -> Result<(), String> {
    let default_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.deps/lib");
    scorer::init(&scorer::library_path(&default_dir)).map_err(String::from)
}

/// The file a model node reads itself (an `onnx("…")` model), relative to the pipeline.
pub fn model_file(def: &ModelDef, base_dir: &Path) -> Option<PathBuf> {
    match &def.trainer {
        Trainer::Onnx { path } => Some(base_dir.join(path)),
        _ => None,
    }
}

/// The declared type of each column of a node's schema.
fn types(node: &Node) -> BTreeMap<&str, Type> {
    node.schema.iter().map(|c| (c.name.as_str(), c.ty)).collect()
}

pub fn model(node: &Node, def: &ModelDef, inputs: &Inputs) -> Result<Produced, Failure> {
    let declared = types(node);
    let columns: Vec<(String, Type)> = def.inputs.iter().map(|c| (c.clone(), declared[c.as_str()])).collect();
    let out = inputs.tmp_file(&node.id, "model", "onnx");
    let mut p = Produced::default();
    let mut cv_note = String::new();
    let started = Instant::now();
    match &def.trainer {
        Trainer::Algorithm { algorithm, params } => {
            let split = split_node(def.train.as_ref().ok_or_else(|| "a trained model needs `train`".to_string())?)?;
            let label = label(def)?;
            let label_type = inputs
                .nodes
                .get(&split)
                .and_then(|n| types(n).get(label).copied())
                .ok_or_else(|| format!("the label `{label}` is not a column of `{split}`"))?;
            let mut read = columns.clone();
            read.push((label.to_string(), label_type));
            let frame = frames::read(&inputs.artifact(&split, "data")?, &read)?;
            let device = match def.device {
                mlpc_plan::Device::Auto => Device::Auto,
                mlpc_plan::Device::Cpu => Device::Cpu,
                mlpc_plan::Device::Cuda => Device::Cuda,
            };
            let params = Params(params.clone().into_iter().collect());
            let label = label.to_string();
            let spec = Spec { algorithm, params: &params, inputs: &def.inputs, label: &label, device };
            let fit_started = Instant::now();
            let model = mlpc_train::train(&spec, &frame).map_err(|e| format!("model `{}`: {e}", node.name))?;
            p.metrics.insert("fit_seconds".into(), fit_started.elapsed().as_secs_f64());
            if let Some(k) = def.cv.map(|k| k as usize).filter(|k| *k > 1) {
                let names: Vec<String> = match model.task {
                    mlpc_train::Task::Classification { ref classes } if classes.len() == 2 => {
                        ["auc", "accuracy", "log_loss"]
                    }
                    mlpc_train::Task::Classification { .. } => ["accuracy", "f1", "log_loss"],
                    mlpc_train::Task::Regression => ["rmse", "mae", "r2"],
                }
                .map(String::from)
                .to_vec();
                let seed = params.0.get("seed").and_then(|s| s.as_u64()).unwrap_or(42);
                let cv = mlpc_train::cv::cross_validate(&spec, &frame, k, &names, seed)
                    .map_err(|e| format!("model `{}`: cross-validation: {e}", node.name))?;
                for m in &cv {
                    p.metrics.insert(format!("cv_{}_mean", m.name), m.mean);
                    p.metrics.insert(format!("cv_{}_std", m.name), m.std);
                }
                if let Some(m) = cv.first() {
                    cv_note = format!("; {k}-fold cv {} {:.3} ± {:.3}", m.name, m.mean, m.std);
                }
            }
            let bytes = model.to_onnx(&node.name, node.doc.as_deref().unwrap_or_default());
            std::fs::write(&out, bytes).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            for (k, v) in params.0 {
                p.params.insert(k, v.to_string());
            }
            p.params.insert("algorithm".into(), algorithm.clone());
            p.params.insert("device".into(), model.device.into());
            p.metrics.insert("train_rows".into(), frame.rows() as f64);
            p.message = format!(
                "{algorithm} on {} rows, {} ({:.1} s){cv_note}",
                frame.rows(),
                model.device,
                started.elapsed().as_secs_f64()
            );
        }
        Trainer::Onnx { path } => {
            let from = inputs.base_dir.join(path);
            if from.exists() && !from.is_file() {
                return Err(Failure {
                    message: format!("model `{}`: {} is not a regular file", node.name, from.display()),
                });
            }
            std::fs::copy(&from, &out).map_err(|e| {
                format!(
                    "model `{}`: cannot read {}: {e} (paths are relative to the .mlp file)",
                    node.name,
                    from.display()
                )
            })?;
            p.message = format!("from {path}");
        }
        Trainer::Command { command, env } => {
            let split = split_node(def.train.as_ref().ok_or_else(|| "a command model needs `train`".to_string())?)?;
            let train = inputs.artifact(&split, "data")?;
            run_command(node, command, env, &train, &out, inputs.base_dir)?;
            p.message = format!("trained by `{}`", command.split_whitespace().next().unwrap_or_default());
        }
    }
    check_inputs(node, &out, &columns)?;
    p.files.push(("model".into(), out));
    Ok(p)
}

/// The variables every command gets from mlpc's environment, when set: where programs
/// are, the home folder, the locale and the temporary folder.
fn kept_variable(name: &str) -> bool {
    matches!(name, "PATH" | "HOME" | "LANG" | "TMPDIR") || name.starts_with("LC_")
}

/// The environment of an external command: the kept variables plus those the program
/// names with `env = [...]`; nothing else of mlpc's (an `MLPC_ADMIN_TOKEN` under the
/// daemon, cloud credentials) reaches it.
fn command_env(named: &[String]) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    std::env::vars_os()
        .filter(|(k, _)| k.to_str().is_some_and(|k| kept_variable(k) || named.iter().any(|n| n == k)))
        .filter(|(k, _)| k != "MLPC_ADMIN_TOKEN")
        .collect()
}

/// The folder a command runs in: the pipeline's folder, absolute (a program given by a
/// bare file name has the empty path as its folder).
fn command_dir(dir: &Path) -> Result<PathBuf, String> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    std::fs::canonicalize(dir).map_err(|e| format!("cannot use the pipeline's folder {}: {e}", dir.display()))
}

/// Runs an external trainer with `{train}` and `{model}` substituted, in the pipeline's
/// folder, with a scrubbed environment ([`command_env`]); retried twice on failure (with
/// a pause), as flaky infrastructure often is.
fn run_command(node: &Node, command: &str, env: &[String], train: &Path, out: &Path, dir: &Path) -> Result<(), String> {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let quoted = |p: &Path| format!("'{}'", absolute(p).to_string_lossy().replace('\'', r"'\''"));
    let line = command.replace("{train}", &quoted(train)).replace("{model}", &quoted(out));
    let dir = command_dir(dir).map_err(|e| format!("model `{}`: {e}", node.name))?;
    let vars = command_env(env);
    let mut last = String::new();
    for attempt in 1..=3 {
        let result = std::process::Command::new("sh")
            .arg("-c")
            .arg(&line)
            .current_dir(&dir)
            .env_clear()
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .output();
        match result {
            Ok(o) if o.status.success() && out.exists() => return Ok(()),
            Ok(o) if o.status.success() => {
                return Err(format!("model `{}`: the command succeeded but wrote no model to {{model}}", node.name))
            }
            Ok(o) => {
                let stderr = String::from_utf8_lossy(&o.stderr);
                let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
                last = format!(
                    "{} (attempt {attempt} of 3):\n    {}",
                    o.status,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n    ")
                );
            }
            Err(e) => return Err(format!("model `{}`: cannot start `sh`: {e}", node.name)),
        }
        if attempt < 3 {
            std::thread::sleep(std::time::Duration::from_millis(500 * attempt));
        }
    }
    Err(format!("model `{}`: the training command failed: {last}", node.name))
}

/// Whether an ONNX input of this element type can take a column of the declared type.
fn accepts(ty: Type, onnx: TensorElementType) -> bool {
    use TensorElementType as T;
    match frames::input_type(ty) {
        Some(mlpc_train::InputType::Int) => matches!(onnx, T::Float32 | T::Float64 | T::Int64 | T::Int32),
        Some(mlpc_train::InputType::Float) => matches!(onnx, T::Float32 | T::Float64),
        Some(mlpc_train::InputType::Bool) => matches!(onnx, T::Bool | T::Float32 | T::Float64 | T::Int64),
        Some(mlpc_train::InputType::Category) => onnx == T::String,
        None => false,
    }
}

/// Loads the artifact and checks its inputs against the declared ones, reporting every
/// mismatch (name and type) at once.
fn check_inputs(node: &Node, path: &Path, declared: &[(String, Type)]) -> Result<(), String> {
    ort_ready()?;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let scorer = Scorer::load(&bytes, 1).map_err(|e| format!("model `{}`: {e}", node.name))?;
    let mut problems = Vec::new();
    for (name, ty) in declared {
        match scorer.inputs.iter().find(|p| &p.name == name) {
            None => problems.push(format!("  input `{name}` ({ty}) is declared, but the model has no such input")),
            Some(p) if !accepts(*ty, p.ty) => {
                problems.push(format!("  input `{name}`: declared {ty}, the model takes {:?}", p.ty))
            }
            Some(_) => {}
        }
    }
    for p in &scorer.inputs {
        if !declared.iter().any(|(n, _)| n == &p.name) {
            problems.push(format!("  the model's input `{}` ({:?}) is not among the declared `inputs`", p.name, p.ty));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "model `{}`: the ONNX model does not match its declared inputs:\n{}\n  fix `inputs` in the model block, or export the model with these inputs",
        node.name,
        problems.join("\n")
    ))
}

/// Scores the evaluation split with the model's ONNX artifact and computes the declared
/// metrics, overall and per slice.
pub fn evaluate(node: &Node, def: &EvaluateDef, inputs: &Inputs) -> Result<Produced, Failure> {
    let model_id = format!("model:{}", def.model);
    let model_node = inputs.nodes.get(&model_id).ok_or_else(|| format!("`{model_id}` is not an input"))?;
    let mlpc_plan::NodeDef::Model(model_def) = &model_node.def else {
        return Err(format!("`{model_id}` is not a model node").into());
    };
    let label_name = label(model_def)?.to_string();
    let split = split_node(&def.data)?;
    let data_types = types(inputs.nodes.get(&split).ok_or_else(|| format!("`{split}` is not an input"))?);
    let column = |name: &String| {
        data_types
            .get(name.as_str())
            .map(|t| (name.clone(), *t))
            .ok_or_else(|| format!("`{name}` is not a column of `{split}`"))
    };
    let mut read: Vec<(String, Type)> = model_def.inputs.iter().map(column).collect::<Result<_, _>>()?;
    for extra in std::iter::once(&label_name).chain(&def.slices) {
        if !read.iter().any(|(n, _)| n == extra) {
            read.push(column(extra)?);
        }
    }
    let frame = frames::read(&inputs.artifact(&split, "data")?, &read)?;
    let label = frame.column(&label_name).expect("the label was read");
    let truth = mlpc_train::Target::from_column(label).map_err(|e| format!("evaluate `{}`: {e}", node.name))?;

    let bytes = std::fs::read(inputs.artifact(&model_id, "model")?).map_err(|e| e.to_string())?;
    let mut scorer = scorer(&bytes)?;
    let outputs = scorer.score(&frame).map_err(|e| format!("evaluate `{}`: {e}", node.name))?;
    let classes = match &truth {
        mlpc_train::Target::Classes { classes, .. } => Some(classes.as_slice()),
        mlpc_train::Target::Values(_) => None,
    };
    let pred = predictions(outputs, classes, frame.rows()).map_err(|e| format!("evaluate `{}`: {e}", node.name))?;

    let mut p = Produced::default();
    let mut shown = Vec::new();
    for m in &def.metrics {
        let v = mlpc_train::metrics::compute(m, &truth, &pred).map_err(|e| format!("evaluate `{}`: {e}", node.name))?;
        p.metrics.insert(m.clone(), v);
        shown.push(format!("{m} {v:.3}"));
    }
    for s in &def.slices {
        let values = match &frame.column(s).expect("slice columns were read").values {
            mlpc_train::Values::Category(v) => v.clone(),
            mlpc_train::Values::Number(v) => v.iter().map(|x| (!x.is_nan()).then(|| x.to_string())).collect(),
        };
        let slices = mlpc_train::metrics::by_slice(&def.metrics, &truth, &pred, &values)
            .map_err(|e| format!("evaluate `{}`: {e}", node.name))?;
        for slice in slices {
            let prefix = format!("slice:{s}={}", slice.slice.as_deref().unwrap_or("null"));
            p.metrics.insert(format!("{prefix}:rows"), slice.rows as f64);
            for (m, v) in slice.metrics {
                if let Ok(v) = v {
                    p.metrics.insert(format!("{prefix}:{m}"), v);
                }
            }
        }
    }
    p.metrics.insert("rows".into(), frame.rows() as f64);
    p.message = format!("{} on {} rows", shown.join(", "), frame.rows());
    Ok(p)
}

/// An ONNX Runtime session on a model, with every core for its operators.
pub(crate) fn scorer(bytes: &[u8]) -> Result<Scorer, String> {
    ort_ready()?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    Scorer::load(bytes, threads).map_err(String::from)
}

/// The model's outputs as predictions: `probabilities` (or the one `[rows, classes]`
/// float output) when classifying into `classes`, `value` (or the one numeric output) when
/// regressing (`None`).
pub(crate) fn predictions(
    outputs: Vec<(String, scorer::Output)>,
    classes: Option<&[String]>,
    rows: usize,
) -> Result<mlpc_train::Predictions, String> {
    use mlpc_train::{model::argmax, Predictions};
    use scorer::Output;
    let numbers = |want: usize| {
        let mut fits: Vec<(String, Vec<f32>)> = outputs
            .iter()
            .filter_map(|(n, o)| match o {
                Output::Numbers { data, .. } if data.len() == rows * want => Some((n.clone(), data.clone())),
                _ => None,
            })
            .collect();
        let named = fits.iter().position(|(n, _)| n == "probabilities" || n == "value");
        match (named, fits.len()) {
            (Some(i), _) => Ok(fits.swap_remove(i).1),
            (None, 1) => Ok(fits.remove(0).1),
            _ => {
                let names: Vec<&str> = outputs.iter().map(|(n, _)| n.as_str()).collect();
                Err(format!(
                    "cannot tell which output holds the predictions ({want} per row) among: {}; name it `probabilities` or `value`",
                    names.join(", ")
                ))
            }
        }
    };
    Ok(match classes {
        Some(classes) => {
            let scores = numbers(classes.len())?;
            let labels = scores.chunks(classes.len()).map(|row| classes[argmax(row)].clone()).collect();
            Predictions { labels, scores, width: classes.len() }
        }
        None => Predictions { labels: Vec::new(), scores: numbers(1)?, width: 1 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use TensorElementType as T;

    #[test]
    fn commands_get_the_kept_variables_and_the_named_ones_only() {
        for kept in ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR"] {
            assert!(kept_variable(kept), "{kept}");
        }
        for dropped in ["MLPC_ADMIN_TOKEN", "AWS_SECRET_ACCESS_KEY", "LD_PRELOAD", "PATHS", "XLC_ALL"] {
            assert!(!kept_variable(dropped), "{dropped}");
        }
        let path = std::env::var_os("PATH").is_some();
        let env = command_env(&["MLPC_ADMIN_TOKEN".into()]);
        assert!(env.iter().all(|(k, _)| k != "MLPC_ADMIN_TOKEN"), "never the admin token, even named");
        assert_eq!(env.iter().any(|(k, _)| k == "PATH"), path);
    }

    #[test]
    fn a_bare_file_name_runs_its_command_in_the_current_folder() {
        assert_eq!(command_dir(Path::new("")).unwrap(), std::env::current_dir().unwrap().canonicalize().unwrap());
        assert!(command_dir(Path::new("/no/such/folder")).unwrap_err().contains("/no/such/folder"));
    }

    #[test]
    fn declared_types_accept_the_onnx_inputs_that_can_hold_them() {
        assert!(accepts(Type::Int, T::Float32) && accepts(Type::Int, T::Int64));
        assert!(accepts(Type::Float, T::Float64) && !accepts(Type::Float, T::Int64));
        assert!(accepts(Type::Bool, T::Bool) && !accepts(Type::Bool, T::String));
        assert!(accepts(Type::Category, T::String) && !accepts(Type::Category, T::Float32));
        assert!(!accepts(Type::Timestamp, T::Float32));
    }
}
