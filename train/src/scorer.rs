//! Scoring through ONNX Runtime: an ONNX model's own inputs, fed from a frame's columns
//! by name. Evaluation scores through this, so what is measured is what is served.

use crate::frame::{Frame, Values};
use ort::session::Session;
pub use ort::value::TensorElementType;
use ort::value::{Tensor, ValueType};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static ENV: OnceLock<Result<ort::environment::Environment, ScoreError>> = OnceLock::new();

/// Why a model cannot be loaded or scored.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ScoreError {
    #[error(
        "ONNX Runtime is not at {0}: run scripts/setup, or set MLPC_LIB_DIR to the folder holding libonnxruntime.so.1"
    )]
    LibraryMissing(PathBuf),
    #[error("cannot load ONNX Runtime from {path}: {why}")]
    LibraryUnusable { path: PathBuf, why: String },
    #[error("ONNX Runtime is not loaded yet")]
    NotLoaded,
    #[error("cannot configure ONNX Runtime: {0}")]
    Configure(String),
    #[error("not a model ONNX Runtime can load: {0}")]
    NotAModel(String),
    #[error("the data has no column `{0}`")]
    MissingColumn(String),
    #[error("column `{column}` is null in row {row}, but the model takes int64")]
    NullInteger { column: String, row: usize },
    #[error("column `{column}` ({found}) cannot feed the model's `{column}` input of type {takes}")]
    Mismatch { column: String, found: &'static str, takes: String },
    #[error("cannot build the `{input}` input: {why}")]
    Input { input: String, why: String },
    #[error("ONNX Runtime failed: {0}")]
    Run(String),
    #[error("output `{0}` is neither a number nor a string tensor")]
    Output(String),
}

/// For callers that report errors as text.
impl From<ScoreError> for String {
    fn from(e: ScoreError) -> String {
        e.to_string()
    }
}

/// Where ONNX Runtime's library is looked for: `$MLPC_LIB_DIR`, else `.deps/lib` beside
/// the running binary's project (set up by `scripts/setup`), else the loader's search path.
pub fn library_path(default_dir: &Path) -> PathBuf {
    let dir = std::env::var_os("MLPC_LIB_DIR").map(PathBuf::from).unwrap_or_else(|| default_dir.to_path_buf());
    dir.join("libonnxruntime.so.1")
}

/// Loads ONNX Runtime once per process; later calls return the first outcome.
pub fn init(library: &Path) -> Result<(), ScoreError> {
    ENV.get_or_init(|| {
        if !library.exists() {
            return Err(ScoreError::LibraryMissing(library.to_path_buf()));
        }
        ort::init_from(library)
            .map_err(|e| ScoreError::LibraryUnusable { path: library.to_path_buf(), why: e.to_string() })?
            .build()
            .map_err(|e| ScoreError::Configure(e.to_string()))
    })
    .as_ref()
    .map(|_| ())
    .map_err(Clone::clone)
}

/// One input or output of a model: its name, element type and shape (-1: free).
#[derive(Clone, Debug, PartialEq)]
pub struct Port {
    pub name: String,
    pub ty: TensorElementType,
    pub shape: Vec<i64>,
}

/// A loaded model.
pub struct Scorer {
    session: Session,
    pub inputs: Vec<Port>,
    pub outputs: Vec<Port>,
}

/// An output, read back.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    Numbers { shape: Vec<i64>, data: Vec<f32> },
    Strings { shape: Vec<i64>, data: Vec<String> },
}

fn ports(outlets: &[ort::value::Outlet]) -> Vec<Port> {
    outlets
        .iter()
        .map(|o| match o.dtype() {
            ValueType::Tensor { ty, shape, .. } => Port { name: o.name().into(), ty: *ty, shape: shape.to_vec() },
            _ => Port { name: o.name().into(), ty: TensorElementType::Undefined, shape: Vec::new() },
        })
        .collect()
}

impl Scorer {
    /// Loads a model (call [`init`] first); `threads` caps ONNX Runtime's intra-op pool.
    pub fn load(bytes: &[u8], threads: usize) -> Result<Scorer, ScoreError> {
        let env = match ENV.get() {
            Some(Ok(env)) => env,
            Some(Err(e)) => return Err(e.clone()),
            None => return Err(ScoreError::NotLoaded),
        };
        let configure = |e: String| ScoreError::Configure(e);
        let session = Session::builder(env)
            .map_err(|e| configure(e.to_string()))?
            .with_intra_threads(threads.max(1))
            .map_err(|e| configure(e.to_string()))?
            .commit_from_memory(bytes)
            .map_err(|e| ScoreError::NotAModel(e.to_string()))?;
        let (inputs, outputs) = (ports(session.inputs()), ports(session.outputs()));
        Ok(Scorer { session, inputs, outputs })
    }

    /// Runs the model on every row of `frame`, feeding each input from the column of
    /// its name as `[rows, 1]`.
    pub fn score(&mut self, frame: &Frame) -> Result<Vec<(String, Output)>, ScoreError> {
        let rows = frame.rows();
        let mut feed: Vec<(String, ort::session::SessionInputValue)> = Vec::new();
        for port in &self.inputs {
            let column = frame.column(&port.name).ok_or_else(|| ScoreError::MissingColumn(port.name.clone()))?;
            let shape = [rows as i64, 1];
            let value = match (&column.values, port.ty) {
                (Values::Number(v), TensorElementType::Float32) => {
                    Tensor::from_array((shape, v.iter().map(|&x| x as f32).collect::<Vec<_>>())).map(|t| t.upcast())
                }
                (Values::Number(v), TensorElementType::Float64) => {
                    Tensor::from_array((shape, v.clone())).map(|t| t.upcast())
                }
                (Values::Number(v), TensorElementType::Int64) => {
                    if let Some(i) = v.iter().position(|x| x.is_nan()) {
                        return Err(ScoreError::NullInteger { column: port.name.clone(), row: i + 1 });
                    }
                    Tensor::from_array((shape, v.iter().map(|&x| x as i64).collect::<Vec<_>>())).map(|t| t.upcast())
                }
                (Values::Number(v), TensorElementType::Bool) => {
                    Tensor::from_array((shape, v.iter().map(|&x| x != 0.0).collect::<Vec<_>>())).map(|t| t.upcast())
                }
                (Values::Category(v), TensorElementType::String) => Tensor::from_string_array((
                    shape,
                    v.iter().map(|x| x.clone().unwrap_or_default()).collect::<Vec<String>>().as_slice(),
                ))
                .map(|t| t.upcast()),
                (_, ty) => {
                    return Err(ScoreError::Mismatch {
                        column: port.name.clone(),
                        found: column.ty.name(),
                        takes: format!("{ty:?}"),
                    })
                }
            }
            .map_err(|e| ScoreError::Input { input: port.name.clone(), why: e.to_string() })?;
            feed.push((port.name.clone(), value.into()));
        }
        let outputs = self.session.run(feed).map_err(|e| ScoreError::Run(e.to_string()))?;
        let mut read = Vec::new();
        for (name, value) in outputs.iter() {
            let out = if let Ok((shape, data)) = value.try_extract_tensor::<f32>() {
                Output::Numbers { shape: shape.to_vec(), data: data.to_vec() }
            } else if let Ok((shape, data)) = value.try_extract_tensor::<f64>() {
                Output::Numbers { shape: shape.to_vec(), data: data.iter().map(|&x| x as f32).collect() }
            } else if let Ok((shape, data)) = value.try_extract_tensor::<i64>() {
                Output::Numbers { shape: shape.to_vec(), data: data.iter().map(|&x| x as f32).collect() }
            } else if let Ok((shape, data)) = value.try_extract_strings() {
                Output::Strings { shape: shape.to_vec(), data }
            } else {
                return Err(ScoreError::Output(name.to_string()));
            };
            read.push((name.to_string(), out));
        }
        Ok(read)
    }
}
