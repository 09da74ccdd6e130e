//! A loaded model version: its artifact checked against the registry's sha256, its ONNX
//! Runtime sessions behind a batching queue, and how its outputs read as predictions.

use crate::batcher::{Batcher, Batching, Scored};
use mlpc_train::scorer::{Output, Port, Scorer, TensorElementType};
use mlpc_train::Frame;
use prometheus_client::metrics::histogram::Histogram;
use prost::Message;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;

/// What a model predicts, from its outputs.
#[derive(Clone, Debug, PartialEq)]
pub enum Task {
    /// A `probabilities` output, one column per class (named by the model's `mlpc.classes`).
    Classes(Vec<String>),
    /// A `value` output.
    Values,
    /// Anything else: each output is reported as it is.
    Raw,
}

pub struct Loaded {
    pub name: String,
    pub version: i64,
    pub sha256: String,
    pub inputs: Vec<Port>,
    pub outputs: Vec<Port>,
    pub task: Task,
    sessions: Batcher,
}

/// Why a version was not loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The artifact's bytes do not hash to the registry's sha256.
    Integrity(String),
    Other(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Integrity(m) | LoadError::Other(m) => f.write_str(m),
        }
    }
}

impl Loaded {
    /// Reads the artifact, checks it against `sha256`, and opens its sessions, which record
    /// the rows of each call in `calls`.
    pub fn load(
        name: &str,
        version: i64,
        path: &Path,
        sha256: &str,
        (batching, calls): (Batching, Histogram),
    ) -> Result<Loaded, LoadError> {
        let bytes = std::fs::read(path).map_err(|e| {
            LoadError::Other(format!("cannot read version {version} of `{name}` at {}: {e}", path.display()))
        })?;
        let actual = format!("{:x}", Sha256::digest(&bytes));
        if actual != sha256 {
            return Err(LoadError::Integrity(format!(
                "version {version} of `{name}` is refused: its artifact {} has sha256 {actual}, but the registry recorded {sha256}",
                path.display()
            )));
        }
        let sessions = (0..batching.sessions.max(1))
            .map(|_| Scorer::load(&bytes, 1))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| LoadError::Other(format!("version {version} of `{name}`: {e}")))?;
        let (inputs, outputs) = (sessions[0].inputs.clone(), sessions[0].outputs.clone());
        let task = task(&outputs, &bytes);
        let sessions = Batcher::start(&format!("{name} v{version}"), sessions, batching, calls)
            .map_err(|e| LoadError::Other(format!("version {version} of `{name}`: cannot start its sessions: {e}")))?;
        Ok(Loaded { name: name.into(), version, sha256: sha256.into(), inputs, outputs, task, sessions })
    }

    /// A version with no sessions, for tests of what reads only its name and version.
    #[cfg(test)]
    pub fn unscored(name: &str, version: i64) -> Loaded {
        Loaded {
            name: name.into(),
            version,
            sha256: String::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            task: Task::Raw,
            sessions: Batcher::start(name, Vec::new(), Batching::default(), Histogram::new([1.0]))
                .expect("no threads to start"),
        }
    }

    /// Scores a frame, batched with what else is queued for this version.
    pub async fn score(&self, frame: Frame) -> Scored {
        self.sessions.score(frame).await
    }

    /// [`Loaded::score`] for a thread that may block.
    pub fn score_blocking(&self, frame: Frame) -> Scored {
        self.sessions.score_blocking(frame)
    }

    /// One prediction per row: label and probabilities per class, or the value.
    pub fn predictions(&self, outputs: &[(String, Output)], rows: usize) -> Vec<Value> {
        let numbers = |name: &str| {
            outputs.iter().find_map(|(n, o)| match o {
                Output::Numbers { data, .. } if n == name => Some(data.as_slice()),
                _ => None,
            })
        };
        match (&self.task, numbers("probabilities"), numbers("value")) {
            (Task::Classes(classes), Some(p), _) if p.len() == rows * classes.len() => p
                .chunks(classes.len())
                .map(|row| {
                    let best = row.iter().enumerate().fold(0, |b, (i, x)| if *x > row[b] { i } else { b });
                    let probabilities: serde_json::Map<String, Value> =
                        classes.iter().zip(row).map(|(c, x)| (c.clone(), json!(x))).collect();
                    json!({"label": classes[best], "probabilities": probabilities})
                })
                .collect(),
            (Task::Values, _, Some(v)) if v.len() == rows => v.iter().map(|x| json!({"value": x})).collect(),
            _ => (0..rows)
                .map(|i| {
                    let row: serde_json::Map<String, Value> =
                        outputs.iter().map(|(n, o)| (n.clone(), row_of(o, i, rows))).collect();
                    Value::Object(row)
                })
                .collect(),
        }
    }
}

/// Row `i` of an output with `rows` rows.
fn row_of(o: &Output, i: usize, rows: usize) -> Value {
    fn slice<T: Clone + Into<Value>>(data: &[T], i: usize, rows: usize) -> Value {
        let width = data.len().checked_div(rows).unwrap_or(0);
        match width {
            1 => data[i].clone().into(),
            w => Value::Array(data[i * w..(i + 1) * w].iter().cloned().map(Into::into).collect()),
        }
    }
    match o {
        Output::Numbers { data, .. } => slice(data, i, rows),
        Output::Strings { data, .. } => slice(data, i, rows),
    }
}

/// Classifiers have `probabilities` (classes from the `mlpc.classes` metadata, else
/// numbered); regressors `value`.
fn task(outputs: &[Port], bytes: &[u8]) -> Task {
    if let Some(p) = outputs.iter().find(|p| p.name == "probabilities") {
        let named = mlpc_train::onnx::ModelProto::decode(bytes).ok().and_then(|m| {
            m.metadata_props
                .into_iter()
                .find(|e| e.key == "mlpc.classes")
                .map(|e| e.value.split(',').map(String::from).collect())
        });
        let width = p.shape.last().copied().unwrap_or(-1);
        return match named {
            Some(classes) => Task::Classes(classes),
            None if width > 0 => Task::Classes((0..width).map(|i| i.to_string()).collect()),
            None => Task::Raw,
        };
    }
    if outputs.iter().any(|p| p.name == "value") {
        return Task::Values;
    }
    Task::Raw
}

/// The Open Inference Protocol's name for an element type.
pub fn datatype(ty: TensorElementType) -> &'static str {
    use TensorElementType as T;
    match ty {
        T::Float32 => "FP32",
        T::Float64 => "FP64",
        T::Float16 => "FP16",
        T::Int64 => "INT64",
        T::Int32 => "INT32",
        T::Int16 => "INT16",
        T::Int8 => "INT8",
        T::Uint64 => "UINT64",
        T::Uint32 => "UINT32",
        T::Uint16 => "UINT16",
        T::Uint8 => "UINT8",
        T::Bool => "BOOL",
        T::String => "BYTES",
        _ => "UNDEFINED",
    }
}
