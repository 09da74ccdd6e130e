//! Preprocessing learned from the training rows and exported inside the model: null
//! imputation (mean), standardization, and category encoding with unseen categories
//! handled (all-zero one-hot, or code -1).

use crate::frame::{Frame, InputType, Matrix, Values};
use crate::onnx::{attr, dtype, Graph, ML};

/// How features are encoded for a learner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Numbers standardized, categories one-hot (linear models, mlp).
    Scaled,
    /// Numbers as they are, categories as sorted codes (trees).
    Raw,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NumberStep {
    pub column: String,
    pub ty: InputType,
    /// Replaces nulls: the training mean.
    pub fill: f32,
    /// Standardization `(x - offset) * scale`; 0 and 1 under `Raw`.
    pub offset: f32,
    pub scale: f32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CategoryStep {
    pub column: String,
    /// The categories seen in training, sorted; anything else (null included) is unseen.
    pub categories: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Prep {
    pub encoding: Encoding,
    /// The model's raw inputs, in declaration order.
    pub inputs: Vec<(String, InputType)>,
    pub numbers: Vec<NumberStep>,
    pub categories: Vec<CategoryStep>,
}

fn numbers<'a>(frame: &'a Frame, name: &str) -> Result<&'a [f64], String> {
    match frame.column(name).map(|c| &c.values) {
        Some(Values::Number(v)) => Ok(v),
        Some(Values::Category(_)) => Err(format!("input `{name}` should be a number but holds categories")),
        None => Err(format!("input `{name}` is missing from the data")),
    }
}

fn labels<'a>(frame: &'a Frame, name: &str) -> Result<&'a [Option<String>], String> {
    match frame.column(name).map(|c| &c.values) {
        Some(Values::Category(v)) => Ok(v),
        Some(Values::Number(_)) => Err(format!("input `{name}` should be a category but holds numbers")),
        None => Err(format!("input `{name}` is missing from the data")),
    }
}

impl Prep {
    /// Learns the preprocessing of `inputs` from the training frame.
    pub fn fit(frame: &Frame, inputs: &[String], encoding: Encoding) -> Result<Prep, String> {
        let mut prep = Prep { encoding, inputs: Vec::new(), numbers: Vec::new(), categories: Vec::new() };
        for name in inputs {
            let column = frame.column(name).ok_or_else(|| format!("input `{name}` is missing from the data"))?;
            prep.inputs.push((name.clone(), column.ty));
            if column.ty == InputType::Category {
                let mut categories: Vec<String> = labels(frame, name)?.iter().flatten().cloned().collect();
                categories.sort();
                categories.dedup();
                prep.categories.push(CategoryStep { column: name.clone(), categories });
                continue;
            }
            let seen: Vec<f64> =
                numbers(frame, name)?.iter().map(|&x| x as f32 as f64).filter(|x| !x.is_nan()).collect();
            let n = seen.len().max(1) as f64;
            let mean = seen.iter().sum::<f64>() / n;
            let std = (seen.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt();
            let (offset, scale) = match encoding {
                Encoding::Scaled if std > 0.0 => (mean as f32, (1.0 / std) as f32),
                _ if encoding == Encoding::Scaled => (mean as f32, 1.0),
                _ => (0.0, 1.0),
            };
            prep.numbers.push(NumberStep { column: name.clone(), ty: column.ty, fill: mean as f32, offset, scale });
        }
        Ok(prep)
    }

    /// Feature names, in matrix column order: numbers, then each category's encoding.
    pub fn feature_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.numbers.iter().map(|s| s.column.clone()).collect();
        for c in &self.categories {
            match self.encoding {
                Encoding::Scaled => names.extend(c.categories.iter().map(|k| format!("{}={k}", c.column))),
                Encoding::Raw => names.push(c.column.clone()),
            }
        }
        names
    }

    /// Encodes a frame exactly as the exported graph does (f32 arithmetic, same order).
    pub fn transform(&self, frame: &Frame) -> Result<Matrix, String> {
        let names = self.feature_names();
        let (rows, cols) = (frame.rows(), names.len());
        let mut data = vec![0f32; rows * cols];
        for (j, s) in self.numbers.iter().enumerate() {
            let v = numbers(frame, &s.column)?;
            for (i, &x) in v.iter().enumerate() {
                let x = x as f32;
                let x = if x.is_nan() { s.fill } else { x };
                data[i * cols + j] = if self.encoding == Encoding::Scaled { (x - s.offset) * s.scale } else { x };
            }
        }
        let mut j = self.numbers.len();
        for c in &self.categories {
            let v = labels(frame, &c.column)?;
            for (i, x) in v.iter().enumerate() {
                let code = x.as_ref().and_then(|x| c.categories.binary_search(x).ok());
                match self.encoding {
                    Encoding::Scaled => {
                        if let Some(k) = code {
                            data[i * cols + j + k] = 1.0;
                        }
                    }
                    Encoding::Raw => data[i * cols + j] = code.map_or(-1.0, |k| k as f32),
                }
            }
            j += match self.encoding {
                Encoding::Scaled => c.categories.len(),
                Encoding::Raw => 1,
            };
        }
        Ok(Matrix { rows, cols, data, names })
    }

    /// Adds the raw inputs and the preprocessing to `g`; returns the name of the
    /// `[N, features]` float tensor the learner reads.
    pub fn export(&self, g: &mut Graph) -> String {
        for (name, ty) in &self.inputs {
            // Ints travel as float, so a null (NaN) can be sent and imputed like any number's.
            let elem = match ty {
                InputType::Int | InputType::Float => dtype::FLOAT,
                InputType::Bool => dtype::BOOL,
                InputType::Category => dtype::STRING,
            };
            g.input(name, elem, &[None, Some(1)]);
        }
        let mut parts = Vec::new();
        if !self.numbers.is_empty() {
            let cast: Vec<String> = self
                .numbers
                .iter()
                .map(|s| match s.ty {
                    InputType::Int | InputType::Float => s.column.clone(),
                    _ => g.node("Cast", "", &[&s.column], vec![attr::int("to", dtype::FLOAT as i64)]),
                })
                .collect();
            let refs: Vec<&str> = cast.iter().map(String::as_str).collect();
            let joined =
                if refs.len() == 1 { cast[0].clone() } else { g.node("Concat", "", &refs, vec![attr::int("axis", 1)]) };
            let filled = g.node(
                "Imputer",
                ML,
                &[&joined],
                vec![
                    attr::floats("imputed_value_floats", self.numbers.iter().map(|s| s.fill).collect()),
                    attr::float("replaced_value_float", f32::NAN),
                ],
            );
            parts.push(match self.encoding {
                Encoding::Scaled => g.node(
                    "Scaler",
                    ML,
                    &[&filled],
                    vec![
                        attr::floats("offset", self.numbers.iter().map(|s| s.offset).collect()),
                        attr::floats("scale", self.numbers.iter().map(|s| s.scale).collect()),
                    ],
                ),
                Encoding::Raw => filled,
            });
        }
        for c in &self.categories {
            parts.push(match self.encoding {
                Encoding::Scaled => {
                    let hot = g.node(
                        "OneHotEncoder",
                        ML,
                        &[&c.column],
                        vec![attr::strings("cats_strings", &c.categories), attr::int("zeros", 1)],
                    );
                    let shape = g.const_i64(&[2], vec![-1, c.categories.len() as i64]);
                    g.node("Reshape", "", &[&hot, &shape], vec![])
                }
                Encoding::Raw => g.node(
                    "LabelEncoder",
                    ML,
                    &[&c.column],
                    vec![
                        attr::strings("keys_strings", &c.categories),
                        attr::floats("values_floats", (0..c.categories.len()).map(|k| k as f32).collect()),
                        attr::float("default_float", -1.0),
                    ],
                ),
            });
        }
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        if refs.len() == 1 {
            parts.remove(0)
        } else {
            g.node("Concat", "", &refs, vec![attr::int("axis", 1)])
        }
    }
}
