//! What learners see of a frame: the label as a target and the encoded matrix. The raw
//! columns are `mlpc-frame`'s.

pub use mlpc_frame::{Column, Frame, InputType, Values};

/// What a model learns to predict.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// Class indexes into `classes` (sorted; a bool label has classes `false`, `true`).
    Classes {
        classes: Vec<String>,
        y: Vec<u32>,
    },
    Values(Vec<f64>),
}

impl Target {
    /// The label column as a target: bool and category labels classify, numbers regress.
    /// Rows with a null label are an error: there is nothing to learn from them.
    pub fn from_column(c: &Column) -> Result<Target, String> {
        let null =
            |i: usize| format!("label `{}` is null in row {}; drop or fill those rows before training", c.name, i + 1);
        match (&c.ty, &c.values) {
            (InputType::Bool, Values::Number(v)) => {
                let y = v
                    .iter()
                    .enumerate()
                    .map(|(i, x)| if x.is_nan() { Err(null(i)) } else { Ok(u32::from(*x != 0.0)) })
                    .collect::<Result<_, _>>()?;
                Ok(Target::Classes { classes: vec!["false".into(), "true".into()], y })
            }
            (InputType::Category, Values::Category(v)) => {
                let mut classes: Vec<String> = v.iter().flatten().cloned().collect();
                classes.sort();
                classes.dedup();
                let y = v
                    .iter()
                    .enumerate()
                    .map(|(i, x)| match x {
                        Some(x) => Ok(classes.binary_search(x).expect("every label is a class") as u32),
                        None => Err(null(i)),
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Target::Classes { classes, y })
            }
            (_, Values::Number(v)) => match v.iter().position(|x| x.is_nan()) {
                Some(i) => Err(null(i)),
                None => Ok(Target::Values(v.clone())),
            },
            (_, Values::Category(_)) => Err(format!("label `{}` is neither a number, a bool nor a category", c.name)),
        }
    }
    pub fn len(&self) -> usize {
        match self {
            Target::Classes { y, .. } => y.len(),
            Target::Values(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn take(&self, idx: &[usize]) -> Target {
        match self {
            Target::Classes { classes, y } => {
                Target::Classes { classes: classes.clone(), y: idx.iter().map(|&i| y[i]).collect() }
            }
            Target::Values(v) => Target::Values(idx.iter().map(|&i| v[i]).collect()),
        }
    }
}

/// Encoded features, row-major `rows × cols` f32: exactly what the exported ONNX graph
/// computes before its learner, so in-process and ONNX predictions agree.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f32>,
    /// A name per column (`plan=basic` for a one-hot column).
    pub names: Vec<String>,
}

impl Matrix {
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
    pub fn get(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.cols + j]
    }
}
