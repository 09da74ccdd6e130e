//! Raw columns as the runtime reads them, the label, and the dense matrix learners see.

/// How a raw column enters the model, which is also its ONNX input type:
/// `Int` and `Float` → float (NaN for null), `Bool` → bool, `Category` → string (`""` for
/// null); each `[N, 1]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputType {
    Int,
    Float,
    Bool,
    Category,
}

impl InputType {
    pub fn name(self) -> &'static str {
        match self {
            InputType::Int => "int",
            InputType::Float => "float",
            InputType::Bool => "bool",
            InputType::Category => "category",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// Numbers (ints and bools exactly); NaN is a null.
    Number(Vec<f64>),
    /// Category labels; `None` is a null.
    Category(Vec<Option<String>>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Number(v) => v.len(),
            Values::Category(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub ty: InputType,
    pub values: Values,
}

/// Named columns of equal length.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frame {
    pub columns: Vec<Column>,
}

impl Frame {
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.values.len())
    }
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
    /// The rows at `idx`, in that order (for folds and samples).
    pub fn take(&self, idx: &[usize]) -> Frame {
        let columns = self
            .columns
            .iter()
            .map(|c| Column {
                name: c.name.clone(),
                ty: c.ty,
                values: match &c.values {
                    Values::Number(v) => Values::Number(idx.iter().map(|&i| v[i]).collect()),
                    Values::Category(v) => Values::Category(idx.iter().map(|&i| v[i].clone()).collect()),
                },
            })
            .collect();
        Frame { columns }
    }
}

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
