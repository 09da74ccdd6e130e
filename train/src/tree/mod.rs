//! Tree ensembles on the CPU: histogram gradient boosting and random forests, grown by one
//! builder over binned features and exported as ONNX tree ensembles whose leaves agree
//! exactly with in-process prediction.

mod bins;
mod ensemble;
mod export;
mod forest;
mod gbdt;
mod grow;

pub use forest::fit as fit_forest;
pub use gbdt::fit as fit_gbdt;

use crate::frame::{Matrix, Target};
use crate::params::Params;
use crate::Device;

/// Trees train on the CPU: `cuda` is refused, `auto` means the CPU.
fn cpu_only(algorithm: &str, device: Device) -> Result<(), String> {
    match device {
        Device::Cuda => Err(format!("{algorithm} has no CUDA implementation; use device = cpu or auto")),
        Device::Cpu | Device::Auto => Ok(()),
    }
}

/// The most trees (or boosting rounds) an ensemble may have.
const MAX_TREES: usize = 100_000;

/// A count parameter that must be at least `least`.
fn at_least(params: &Params, name: &str, least: usize) -> Result<usize, String> {
    let n = params.count(name)?;
    if n < least {
        return Err(format!("parameter `{name}` must be at least {least}, not {n}"));
    }
    Ok(n)
}

/// The `trees` parameter: 1 to [`MAX_TREES`].
fn tree_count(params: &Params) -> Result<usize, String> {
    let n = at_least(params, "trees", 1)?;
    if n > MAX_TREES {
        return Err(format!("parameter `trees` must be at most {MAX_TREES}, not {n}"));
    }
    Ok(n)
}

/// Rows the trainers can use: some, as many as labels, row ids that fit `u32`, and at
/// least two classes when classifying.
fn check_data(x: &Matrix, y: &Target) -> Result<(), String> {
    if x.rows == 0 {
        return Err("there are no training rows".into());
    }
    if y.len() != x.rows {
        return Err(format!("{} feature rows but {} labels", x.rows, y.len()));
    }
    if x.rows > u32::MAX as usize {
        return Err(format!("{} rows are more than trees can train on ({})", x.rows, u32::MAX));
    }
    if let Target::Classes { classes, .. } = y {
        if classes.len() < 2 {
            return Err(format!(
                "the label has a single class ({}); classification needs at least two",
                classes.first().map_or("none", String::as_str)
            ));
        }
    }
    Ok(())
}
