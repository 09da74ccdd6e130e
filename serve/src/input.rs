//! Request data as named columns of JSON values, checked against a model's inputs and
//! turned into the frame its scorer takes.

use crate::error::ApiError;
use mlpc_train::scorer::{Port, TensorElementType};
use mlpc_train::{Column, Frame, InputType, Values};
use serde_json::{Map, Value};

/// Named columns of equal length, in the order the request gave them.
#[derive(Clone, Debug, Default)]
pub struct Columns {
    pub names: Vec<String>,
    pub values: Vec<Vec<Value>>,
    pub rows: usize,
    /// The values came as text (a CSV body): strings are read as the number or bool their
    /// input takes.
    pub text: bool,
}

impl Columns {
    /// Columns from one object per row; every row must have the same keys.
    pub fn from_records(records: &[Value]) -> Result<Columns, ApiError> {
        let mut c = Columns { rows: records.len(), ..Default::default() };
        for (i, record) in records.iter().enumerate() {
            let Value::Object(record) = record else {
                return Err(ApiError::bad(format!(
                    "row {}: expected an object of column → value, found {}",
                    i + 1,
                    kind(record)
                )));
            };
            if i == 0 {
                c.names = record.keys().cloned().collect();
                c.values = vec![Vec::with_capacity(records.len()); c.names.len()];
            }
            for (name, column) in c.names.iter().zip(&mut c.values) {
                let v =
                    record.get(name).ok_or_else(|| ApiError::bad(format!("row {} has no column `{name}`", i + 1)))?;
                column.push(v.clone());
            }
            // Every name of row 1 is there, so a longer row has another: found by a set, as
            // rows may have hundreds of thousands of keys.
            if record.len() > c.names.len() {
                let known: std::collections::HashSet<&str> = c.names.iter().map(String::as_str).collect();
                if let Some(extra) = record.keys().find(|k| !known.contains(k.as_str())) {
                    return Err(ApiError::bad(format!("row {} has column `{extra}`, which row 1 does not", i + 1)));
                }
            }
        }
        Ok(c)
    }

    /// Columns from names and row-major rows (`dataframe_split`).
    pub fn from_split(names: &[Value], rows: &[Value]) -> Result<Columns, ApiError> {
        let names: Vec<String> = names
            .iter()
            .map(|n| {
                n.as_str()
                    .map(String::from)
                    .ok_or_else(|| ApiError::bad(format!("column names must be strings, found {n}")))
            })
            .collect::<Result<_, _>>()?;
        let mut values = vec![Vec::with_capacity(rows.len()); names.len()];
        for (i, row) in rows.iter().enumerate() {
            let row = row.as_array().filter(|r| r.len() == names.len()).ok_or_else(|| {
                ApiError::bad(format!("row {} must be a list of {} values, one per column", i + 1, names.len()))
            })?;
            for (column, v) in values.iter_mut().zip(row) {
                column.push(v.clone());
            }
        }
        Ok(Columns { names, values, rows: rows.len(), text: false })
    }

    /// Columns from CSV text: the header row names the columns, an empty field is a missing
    /// value, the others are read as their input's type in `to_frame`.
    pub fn from_csv(body: &[u8]) -> Result<Columns, ApiError> {
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(body);
        let names: Vec<String> = reader
            .headers()
            .map_err(|e| ApiError::bad(format!("malformed CSV: {e}")))?
            .iter()
            .map(String::from)
            .collect();
        if names.is_empty() || names.iter().all(String::is_empty) {
            return Err(ApiError::bad("the CSV body has no header row: its first line names the columns"));
        }
        let mut values = vec![Vec::new(); names.len()];
        let mut rows = 0;
        for record in reader.records() {
            // The csv crate checks that every record has as many fields as the header.
            let record = record.map_err(|e| ApiError::bad(format!("malformed CSV: {e}")))?;
            for (column, field) in values.iter_mut().zip(record.iter()) {
                column.push(if field.is_empty() { Value::Null } else { Value::String(field.into()) });
            }
            rows += 1;
        }
        Ok(Columns { names, values, rows, text: true })
    }

    /// Columns from an object of column → list of values (or one value: one row).
    pub fn from_object(object: &Map<String, Value>) -> Result<Columns, ApiError> {
        let mut c = Columns::default();
        for (i, (name, v)) in object.iter().enumerate() {
            let column = match v {
                Value::Array(a) => a.clone(),
                one => vec![one.clone()],
            };
            if i == 0 {
                c.rows = column.len();
            } else if column.len() != c.rows {
                return Err(ApiError::bad(format!(
                    "column `{name}` has {} values, the others {}",
                    column.len(),
                    c.rows
                )));
            }
            c.names.push(name.clone());
            c.values.push(column);
        }
        Ok(c)
    }

    pub fn push(&mut self, name: String, values: Vec<Value>) {
        self.names.push(name);
        self.values.push(values);
    }

    pub fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Row `i` as an object.
    pub fn record(&self, i: usize) -> Value {
        Value::Object(self.names.iter().zip(&self.values).map(|(n, v)| (n.clone(), v[i].clone())).collect())
    }

    /// The frame a model with these inputs takes: every input present, nothing else,
    /// each value of a type the input can hold; `ints` names the inputs the program declares
    /// `int` (whatever tensor type carries them: whole numbers within ±2^53 only).
    pub fn to_frame(&self, inputs: &[Port], ints: &[String]) -> Result<Frame, ApiError> {
        let missing: Vec<&str> =
            inputs.iter().map(|p| p.name.as_str()).filter(|n| self.position(n).is_none()).collect();
        let extra: Vec<&str> =
            self.names.iter().map(String::as_str).filter(|n| !inputs.iter().any(|p| p.name == *n)).collect();
        if !missing.is_empty() || !extra.is_empty() {
            let mut problems = Vec::new();
            if !missing.is_empty() {
                problems.push(format!("missing column(s) {}", quoted(&missing)));
            }
            if !extra.is_empty() {
                problems.push(format!("unknown column(s) {}", quoted(&extra)));
            }
            let takes: Vec<&str> = inputs.iter().map(|p| p.name.as_str()).collect();
            return Err(ApiError::bad(format!("{}; the model takes {}", problems.join(" and "), quoted(&takes))));
        }
        if self.rows == 0 {
            return Err(ApiError::bad("the request has no rows"));
        }
        let columns = inputs
            .iter()
            .map(|p| {
                let values = &self.values[self.position(&p.name).expect("checked above")];
                let int = ints.contains(&p.name);
                if self.text {
                    column(p, &values.iter().map(|v| from_text(p.ty, v)).collect::<Vec<_>>(), int)
                } else {
                    column(p, values, int)
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Frame { columns })
    }
}

/// A CSV field as the JSON value its input takes: a number for numeric inputs, `true` or
/// `false` (any case) for bools; what does not read as one stays a string and is refused
/// as the wrong type.
fn from_text(ty: TensorElementType, v: &Value) -> Value {
    use TensorElementType as T;
    let Value::String(s) = v else { return v.clone() };
    match ty {
        T::Float32 | T::Float64 | T::Int64 | T::Int32 => {
            serde_json::from_str::<serde_json::Number>(s.trim()).map_or_else(|_| v.clone(), Value::Number)
        }
        T::Bool if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        T::Bool if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        _ => v.clone(),
    }
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// What kind of JSON value this is, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The largest whole number a float holds exactly, and so the bound of an `int` input (ints
/// travel to the model as floats).
const EXACT: f64 = 9_007_199_254_740_992.0;

/// A value for an `int` input: a whole number within ±2^53 (written `3` or `3.0`).
fn whole(name: &str, i: usize, v: &Value) -> Result<f64, ApiError> {
    let x = match v {
        Value::Number(n) => n.as_i64().map(|i| i as f64).or_else(|| n.as_f64()).unwrap_or(f64::INFINITY),
        _ => {
            return Err(ApiError::bad(format!(
                "column `{name}`, row {}: expected a whole number, found {} {v}",
                i + 1,
                kind(v)
            )))
        }
    };
    let beyond = match v.as_i64() {
        Some(i) => i.unsigned_abs() > 1 << 53,
        None => x.is_nan() || x.abs() > EXACT,
    };
    if beyond {
        return Err(ApiError::bad(format!(
            "column `{name}`, row {}: {v} is beyond ±2^53 (9007199254740992): ints travel to the model as floats, which cannot hold it exactly",
            i + 1
        )));
    }
    if x.fract() != 0.0 {
        return Err(ApiError::bad(format!("column `{name}`, row {}: expected a whole number, found {v}", i + 1)));
    }
    Ok(x)
}

/// A number checked against the range of its input's tensor type: FP32 holds at most
/// ±3.4028235e38 (a larger value would be scored as an infinity), INT32 ±2^31.
fn within(port: &Port, i: usize, x: f64) -> Result<f64, ApiError> {
    let (lo, hi, range, ty) = match port.ty {
        TensorElementType::Float32 => (f64::from(f32::MIN), f64::from(f32::MAX), "±3.4028235e38", "FP32"),
        TensorElementType::Int32 => (f64::from(i32::MIN), f64::from(i32::MAX), "-2147483648..=2147483647", "INT32"),
        _ => return Ok(x),
    };
    if x.is_nan() || (lo..=hi).contains(&x) {
        Ok(x)
    } else {
        Err(ApiError::bad(format!(
            "column `{}`, row {}: {x:e} is beyond the range of the model's input, {ty} ({range}): send a value within it",
            port.name,
            i + 1
        )))
    }
}

/// One input's values, typed as the model's input: floats take numbers (null: missing),
/// integers whole numbers, bools bools, strings strings without NUL (null: missing). An
/// input the program declares `int` takes whole numbers within ±2^53 whatever its tensor type.
fn column(port: &Port, values: &[Value], int: bool) -> Result<Column, ApiError> {
    use TensorElementType as T;
    let name = &port.name;
    let wrong = |i: usize, v: &Value, want: &str| {
        let nan = matches!(v.as_str(), Some(s) if ["nan", "inf", "infinity", "-inf", "-infinity"].contains(&s.to_ascii_lowercase().as_str()));
        let hint = if nan { "; NaN and infinities are not allowed: send null for a missing value" } else { "" };
        ApiError::bad(format!("column `{name}`, row {}: expected {want}, found {} {v}{hint}", i + 1, kind(v)))
    };
    let (ty, values) = match port.ty {
        T::Float32 | T::Float64 => {
            let v = values.iter().enumerate().map(|(i, v)| match v {
                Value::Null => Ok(f64::NAN),
                v if int && v.is_number() => whole(name, i, v),
                v => v.as_f64().ok_or_else(|| wrong(i, v, "a number")),
            });
            let v = v.enumerate().map(|(i, x)| within(port, i, x?));
            (InputType::Float, Values::Number(v.collect::<Result<_, _>>()?))
        }
        T::Int64 | T::Int32 => {
            let v = values.iter().enumerate().map(|(i, v)| match v {
                Value::Number(_) => within(port, i, whole(name, i, v)?),
                _ => Err(wrong(i, v, "a whole number (this input cannot be missing)")),
            });
            (InputType::Int, Values::Number(v.collect::<Result<_, _>>()?))
        }
        T::Bool => {
            let v = values.iter().enumerate().map(|(i, v)| match v {
                Value::Bool(b) => Ok(f64::from(u8::from(*b))),
                v => Err(wrong(i, v, "true or false (this input cannot be missing)")),
            });
            (InputType::Bool, Values::Number(v.collect::<Result<_, _>>()?))
        }
        T::String => {
            let v = values.iter().enumerate().map(|(i, v)| match v {
                Value::Null => Ok(None),
                Value::String(s) if s.contains('\0') => Err(ApiError::bad(format!(
                    "column `{name}`, row {}: a category cannot hold the NUL character (\\u0000): remove it",
                    i + 1
                ))),
                Value::String(s) => Ok(Some(s.clone())),
                v => Err(wrong(i, v, "a string")),
            });
            (InputType::Category, Values::Category(v.collect::<Result<_, _>>()?))
        }
        other => {
            return Err(ApiError::internal(format!("the model's input `{name}` is {other:?}, which mlpc cannot feed")))
        }
    };
    Ok(Column { name: name.clone(), ty, values })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ports() -> Vec<Port> {
        vec![
            Port { name: "spend".into(), ty: TensorElementType::Float32, shape: vec![-1, 1] },
            Port { name: "plan".into(), ty: TensorElementType::String, shape: vec![-1, 1] },
        ]
    }

    #[test]
    fn records_split_and_objects_agree() {
        let a = Columns::from_records(&[json!({"spend": 1.5, "plan": "basic"}), json!({"spend": null, "plan": "pro"})])
            .unwrap();
        let b = Columns::from_split(&[json!("spend"), json!("plan")], &[json!([1.5, "basic"]), json!([null, "pro"])])
            .unwrap();
        let c =
            Columns::from_object(json!({"spend": [1.5, null], "plan": ["basic", "pro"]}).as_object().unwrap()).unwrap();
        let frames: Vec<Frame> = [a, b, c].iter().map(|c| c.to_frame(&ports(), &[]).unwrap()).collect();
        assert_eq!(frames[0].rows(), 2);
        assert!(frames.windows(2).all(|w| format!("{:?}", w[0]) == format!("{:?}", w[1])));
    }

    #[test]
    fn bad_input_names_the_problem() {
        let msg = |c: Result<Columns, ApiError>| match c.and_then(|c| c.to_frame(&ports(), &[]).map(|_| ())) {
            Err(e) => e.message,
            Ok(()) => panic!("accepted"),
        };
        assert_eq!(
            msg(Columns::from_records(&[json!({"spend": 1, "region": "eu"})])),
            "missing column(s) `plan` and unknown column(s) `region`; the model takes `spend`, `plan`"
        );
        assert!(msg(Columns::from_records(&[json!({"spend": "NaN", "plan": "x"})]))
            .contains("NaN and infinities are not allowed"));
        assert!(msg(Columns::from_records(&[json!({"spend": 1, "plan": 3})]))
            .contains("column `plan`, row 1: expected a string"));
        assert!(msg(Columns::from_records(&[json!(1)])).contains("expected an object"));
        assert!(msg(Columns::from_records(&[json!({"spend": 1, "plan": "a"}), json!({"spend": 1})]))
            .contains("row 2 has no column `plan`"));
        assert!(
            msg(Columns::from_split(&[json!("spend")], &[json!([1, 2])])).contains("row 1 must be a list of 1 values")
        );
    }

    #[test]
    fn a_nul_in_a_category_is_bad_input() {
        let c = Columns::from_records(&[json!({"spend": 1, "plan": "basic\u{0}"})]).unwrap();
        let e = c.to_frame(&ports(), &[]).unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        assert!(e.message.contains("column `plan`, row 1: a category cannot hold the NUL character"), "{}", e.message);
    }

    #[test]
    fn an_int_input_takes_whole_numbers_within_2_pow_53() {
        let ints = ["spend".to_string()];
        let frame = |v: &str| {
            let record: Value = serde_json::from_str(&format!("{{\"spend\": {v}, \"plan\": \"a\"}}")).unwrap();
            Columns::from_records(&[record]).unwrap().to_frame(&ports(), &ints).map_err(|e| e.message)
        };
        for ok in ["3", "3.0", "-3", "9007199254740992", "-9007199254740992", "null"] {
            assert!(frame(ok).is_ok(), "{ok}: {:?}", frame(ok).err());
        }
        assert!(frame("1.5").unwrap_err().contains("expected a whole number, found 1.5"));
        for big in ["9007199254740993", "-9007199254740993", "1180591620717411303424", "1e300", "18446744073709551615"]
        {
            assert!(frame(big).unwrap_err().contains("beyond ±2^53"), "{big}");
        }
        assert!(frame("\"3\"").unwrap_err().contains("expected a number, found a string"));
    }

    #[test]
    fn a_csv_body_reads_as_its_inputs_types_and_an_empty_field_is_missing() {
        let c = Columns::from_csv(b"plan,spend\nbasic,1.5\n\"pro, annual\",\n").unwrap();
        let frame = c.to_frame(&ports(), &[]).unwrap();
        assert_eq!(frame.rows(), 2);
        let json = Columns::from_records(&[
            json!({"spend": 1.5, "plan": "basic"}),
            json!({"spend": null, "plan": "pro, annual"}),
        ])
        .unwrap()
        .to_frame(&ports(), &[])
        .unwrap();
        assert_eq!(format!("{frame:?}"), format!("{json:?}"));
        let bad = Columns::from_csv(b"plan,spend\nbasic,lots\n").unwrap().to_frame(&ports(), &[]).unwrap_err();
        assert!(bad.message.contains("column `spend`, row 1: expected a number, found a string"), "{}", bad.message);
        let ragged = Columns::from_csv(b"plan,spend\nbasic\n").unwrap_err();
        assert!(ragged.message.starts_with("malformed CSV"), "{}", ragged.message);
    }

    #[test]
    fn a_value_beyond_the_inputs_type_is_bad_input() {
        let e =
            Columns::from_records(&[json!({"spend": 1e39, "plan": "a"})]).unwrap().to_frame(&ports(), &[]).unwrap_err();
        assert!(
            e.message.contains("column `spend`, row 1: 1e39 is beyond the range of the model's input, FP32"),
            "{}",
            e.message
        );
        assert!(Columns::from_records(&[json!({"spend": 3.0e38, "plan": "a"})])
            .unwrap()
            .to_frame(&ports(), &[])
            .is_ok());
    }
}
