//! Model training for mlpc: a frame of raw columns in, a [`Model`] out — learned
//! preprocessing plus a learner — that predicts in process and exports itself, with its
//! preprocessing, as one ONNX graph. No IO: the runtime reads data and writes artifacts.

mod cuda;
pub mod cv;
pub mod frame;
mod linear;
pub mod metrics;
mod mlp;
pub mod model;
pub mod onnx;
pub mod params;
pub mod prep;
pub mod scorer;
mod tree;

pub use frame::{Column, Frame, InputType, Matrix, Target, Values};
pub use model::{Learned, Model, Predictions, Task};
pub use params::Params;
pub use prep::{Encoding, Prep};

/// What a trainer's `fit` returns: the learner and where it ran (`cpu` or `cuda`).
pub struct Fitted {
    pub learner: Box<dyn Learned>,
    pub device: &'static str,
}

/// An algorithm's training function over encoded features.
pub type Fit = fn(&Matrix, &Target, &Params, Device) -> Result<Fitted, String>;

/// The encoding and training function of each built-in algorithm (names as in
/// `stdlib/algorithms.mlp`).
fn fitter(algorithm: &str) -> Option<(Encoding, Fit)> {
    match algorithm {
        "logistic_regression" => Some((Encoding::Scaled, linear::fit_logistic)),
        "linear_regression" => Some((Encoding::Scaled, linear::fit_linear)),
        "mlp" => Some((Encoding::Scaled, mlp::fit_mlp)),
        "gradient_boosting" => Some((Encoding::Raw, tree::fit_gbdt)),
        "random_forest" => Some((Encoding::Raw, tree::fit_forest)),
        _ => None,
    }
}

/// What to train: an algorithm with its parameters, on `inputs`, to predict `label`.
pub struct Spec<'a> {
    pub algorithm: &'a str,
    pub params: &'a Params,
    pub inputs: &'a [String],
    pub label: &'a str,
    pub device: Device,
}

/// Trains a model on every row of `frame`.
pub fn train(spec: &Spec, frame: &Frame) -> Result<Model, String> {
    let (encoding, fit) =
        fitter(spec.algorithm).ok_or_else(|| format!("no built-in algorithm `{}`", spec.algorithm))?;
    let label = frame.column(spec.label).ok_or_else(|| format!("label `{}` is missing from the data", spec.label))?;
    let target = Target::from_column(label)?;
    if target.is_empty() {
        return Err("there are no training rows".into());
    }
    let prep = Prep::fit(frame, spec.inputs, encoding)?;
    let x = prep.transform(frame)?;
    let fitted = fit(&x, &target, spec.params, spec.device)?;
    let task = match target {
        Target::Classes { classes, .. } => Task::Classification { classes },
        Target::Values(_) => Task::Regression,
    };
    Ok(Model {
        algorithm: spec.algorithm.to_string(),
        label: spec.label.to_string(),
        prep,
        task,
        learner: fitted.learner,
        device: fitted.device,
    })
}

/// The name of the GPU that `device = cuda` or `auto` trains on, or why there is none.
pub fn gpu() -> Result<String, String> {
    cuda::device_name()
}

/// Where training runs. `Auto` takes CUDA when a GPU is usable, else the CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Cpu,
    Cuda,
    Auto,
}

impl Device {
    pub fn from_name(name: &str) -> Option<Device> {
        match name {
            "cpu" => Some(Device::Cpu),
            "cuda" => Some(Device::Cuda),
            "auto" => Some(Device::Auto),
            _ => None,
        }
    }
}
