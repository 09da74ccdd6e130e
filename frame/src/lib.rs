//! Frames: named columns of raw values, as the runtime reads them from Parquet and as
//! models, monitors and the server take them. No dependencies, so that drift statistics
//! share them with training without depending on it.

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
